-- The whole database, as a fresh MySQL 8 loads it at init (docker-compose).
-- Each service also applies its own migrations at start; they use
-- CREATE TABLE IF NOT EXISTS, so running them over this file is a no-op.
-- A test fails when this file and the migrations disagree.

-- customers-api ------------------------------------------------------------

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
