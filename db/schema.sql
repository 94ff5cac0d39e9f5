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

-- orders-api ---------------------------------------------------------------

CREATE TABLE IF NOT EXISTS products (
    id          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    sku         VARCHAR(64)     NOT NULL,
    name        VARCHAR(200)    NOT NULL,
    price_cents BIGINT UNSIGNED NOT NULL,
    -- Unsigned: stock can never be stored below zero, whatever the code does.
    stock       INT UNSIGNED    NOT NULL,
    -- Bumped by every change of the row: the product's ETag.
    version     BIGINT UNSIGNED NOT NULL DEFAULT 1,
    created_at  DATETIME(6)     NOT NULL,
    updated_at  DATETIME(6)     NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_products_sku (sku)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS orders (
    id           BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    customer_id  BIGINT UNSIGNED NOT NULL,
    status       VARCHAR(16)     NOT NULL,
    total_cents  BIGINT UNSIGNED NOT NULL,
    -- The `sub` of the user the order was made for ('' before it was recorded).
    created_by   VARCHAR(255)    NOT NULL DEFAULT '',
    created_at   DATETIME(6)     NOT NULL,
    updated_at   DATETIME(6)     NOT NULL,
    confirmed_at DATETIME(6)     NULL,
    canceled_at  DATETIME(6)     NULL,
    PRIMARY KEY (id),
    KEY ix_orders_status_created (status, created_at),
    KEY ix_orders_created (created_at),
    KEY ix_orders_status_id (status, id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS order_items (
    order_id         BIGINT UNSIGNED NOT NULL,
    product_id       BIGINT UNSIGNED NOT NULL,
    qty              INT UNSIGNED    NOT NULL,
    unit_price_cents BIGINT UNSIGNED NOT NULL,
    subtotal_cents   BIGINT UNSIGNED NOT NULL,
    PRIMARY KEY (order_id, product_id),
    KEY ix_order_items_product (product_id),
    CONSTRAINT fk_order_items_order FOREIGN KEY (order_id) REFERENCES orders (id),
    CONSTRAINT fk_order_items_product FOREIGN KEY (product_id) REFERENCES products (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- One row per (endpoint, caller, key): claimed as a lease while the first request
-- runs (owner, locked_until), then holding the final answer, written in the
-- same transaction as the work.
CREATE TABLE IF NOT EXISTS idempotency_keys (
    scope           VARCHAR(64)       NOT NULL,
    -- The caller's `sub`: keys belong to their caller.
    subject         VARCHAR(255) COLLATE utf8mb4_bin NOT NULL DEFAULT '',
    idem_key        VARCHAR(255) COLLATE utf8mb4_bin NOT NULL,
    fingerprint     BINARY(32)        NOT NULL,
    owner           CHAR(36)          NULL,
    locked_until    DATETIME(6)       NULL,
    response_status SMALLINT UNSIGNED NULL,
    content_type    VARCHAR(64)       NULL,
    location        VARCHAR(255)      NULL,
    response_body   MEDIUMBLOB        NULL,
    created_at      DATETIME(6)       NOT NULL,
    PRIMARY KEY (scope, subject, idem_key),
    KEY ix_idempotency_keys_created (created_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
