-- Customers. Deleting is soft (deleted_at); an email is unique among active
-- customers only, case-insensitively, through the generated active_email key
-- (NULL once deleted, and a UNIQUE index admits any number of NULLs).
-- IF NOT EXISTS: db/schema.sql may have created the table already.
CREATE TABLE IF NOT EXISTS customers (
    id           BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    name         VARCHAR(200)    NOT NULL,
    email        VARCHAR(254)    NOT NULL,
    phone        VARCHAR(20)     NULL,
    created_at   DATETIME(6)     NOT NULL,
    updated_at   DATETIME(6)     NOT NULL,
    deleted_at   DATETIME(6)     NULL,
    active_email VARCHAR(254) GENERATED ALWAYS AS (IF(deleted_at IS NULL, LOWER(email), NULL)) STORED,
    PRIMARY KEY (id),
    UNIQUE KEY uq_customers_active_email (active_email)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
