-- The whole database, as a fresh MySQL 8 loads it at init (docker-compose,
-- make db): every service's migrations, in version order.
-- GENERATED from */migrations/*.sql by `make schema`: do not edit; a test
-- fails when this file and the migrations disagree. Each service also applies
-- its own migrations at start; they are written to be no-ops over this file.

-- customers-api/migrations/20261128000001_create_customers.sql

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

-- orders-api/migrations/20261128000101_create_orders.sql

-- Products, orders, their items, and idempotency records.
-- IF NOT EXISTS: db/schema.sql may have created the tables already.

CREATE TABLE IF NOT EXISTS products (
    id          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    sku         VARCHAR(64)     NOT NULL,
    name        VARCHAR(200)    NOT NULL,
    price_cents BIGINT UNSIGNED NOT NULL,
    -- Unsigned: stock can never be stored below zero, whatever the code does.
    stock       INT UNSIGNED    NOT NULL,
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
    created_at   DATETIME(6)     NOT NULL,
    updated_at   DATETIME(6)     NOT NULL,
    confirmed_at DATETIME(6)     NULL,
    canceled_at  DATETIME(6)     NULL,
    PRIMARY KEY (id),
    KEY ix_orders_status_created (status, created_at),
    KEY ix_orders_created (created_at)
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

-- One row per (endpoint, key): claimed as a lease while the first request
-- runs (owner, locked_until), then holding the final answer, written in the
-- same transaction as the work.
CREATE TABLE IF NOT EXISTS idempotency_keys (
    scope           VARCHAR(64)       NOT NULL,
    idem_key        VARCHAR(255) COLLATE utf8mb4_bin NOT NULL,
    fingerprint     BINARY(32)        NOT NULL,
    owner           CHAR(36)          NULL,
    locked_until    DATETIME(6)       NULL,
    response_status SMALLINT UNSIGNED NULL,
    content_type    VARCHAR(64)       NULL,
    location        VARCHAR(255)      NULL,
    response_body   MEDIUMBLOB        NULL,
    created_at      DATETIME(6)       NOT NULL,
    PRIMARY KEY (scope, idem_key),
    KEY ix_idempotency_keys_created (created_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- orders-api/migrations/20261129000101_callers.sql

-- Orders record who asked for them (the token's `sub`), and idempotency keys
-- belong to their caller: the same key from two subjects is two requests.
-- Conditional, because db/schema.sql may have created the tables in their
-- final shape already (MySQL 8 has no ADD COLUMN IF NOT EXISTS).

SET @ddl = IF(
    (SELECT COUNT(*) FROM information_schema.columns
      WHERE table_schema = DATABASE() AND table_name = 'orders' AND column_name = 'created_by') = 0,
    'ALTER TABLE orders ADD COLUMN created_by VARCHAR(255) NOT NULL DEFAULT '''' AFTER total_cents',
    'DO 0');
PREPARE stmt FROM @ddl;
EXECUTE stmt;
DEALLOCATE PREPARE stmt;

SET @ddl = IF(
    (SELECT COUNT(*) FROM information_schema.columns
      WHERE table_schema = DATABASE() AND table_name = 'idempotency_keys' AND column_name = 'subject') = 0,
    'ALTER TABLE idempotency_keys ADD COLUMN subject VARCHAR(255) COLLATE utf8mb4_bin NOT NULL DEFAULT '''' AFTER scope, DROP PRIMARY KEY, ADD PRIMARY KEY (scope, subject, idem_key)',
    'DO 0');
PREPARE stmt FROM @ddl;
EXECUTE stmt;
DEALLOCATE PREPARE stmt;

-- orders-api/migrations/20261129000201_product_versions.sql

-- Products carry a version, bumped by every change of the row (a sale, a
-- release, a patch): their ETag, so that a write based on a stale read is
-- refused (If-Match). Conditional: db/schema.sql may have it already.

SET @ddl = IF(
    (SELECT COUNT(*) FROM information_schema.columns
      WHERE table_schema = DATABASE() AND table_name = 'products' AND column_name = 'version') = 0,
    'ALTER TABLE products ADD COLUMN version BIGINT UNSIGNED NOT NULL DEFAULT 1 AFTER stock',
    'DO 0');
PREPARE stmt FROM @ddl;
EXECUTE stmt;
DEALLOCATE PREPARE stmt;

-- orders-api/migrations/20261129000301_order_list_index.sql

-- GET /orders?status= lists newest first (ORDER BY id DESC): an index on
-- (status, id) serves the filter and the order without a sort.

SET @ddl = IF(
    (SELECT COUNT(*) FROM information_schema.statistics
      WHERE table_schema = DATABASE() AND table_name = 'orders' AND index_name = 'ix_orders_status_id') = 0,
    'CREATE INDEX ix_orders_status_id ON orders (status, id)',
    'DO 0');
PREPARE stmt FROM @ddl;
EXECUTE stmt;
DEALLOCATE PREPARE stmt;

-- customers-api/migrations/20261201000001_customer_events.sql

-- Each change of a customer leaves an event, written in the change's own
-- transaction (service_kit::events); deleted customers keep their history.

CREATE TABLE IF NOT EXISTS customer_events (
    seq             BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    customer_id     BIGINT UNSIGNED NOT NULL,
    type            VARCHAR(32)     NOT NULL,
    at              DATETIME(6)     NOT NULL,
    actor           VARCHAR(255)    NOT NULL,
    correlation_id  VARCHAR(128)    NULL,
    idempotency_key VARCHAR(255)    NULL,
    changes         TEXT            NOT NULL,
    PRIMARY KEY (seq),
    KEY ix_customer_events_subject (customer_id, seq)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- orders-api/migrations/20261201000101_events.sql

-- Each change of an order or a product leaves an event, written in the
-- change's own transaction (service_kit::events). No foreign key: the
-- history outlives nothing it describes, and appends stay one cheap insert.

CREATE TABLE IF NOT EXISTS order_events (
    seq             BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    order_id        BIGINT UNSIGNED NOT NULL,
    type            VARCHAR(32)     NOT NULL,
    at              DATETIME(6)     NOT NULL,
    actor           VARCHAR(255)    NOT NULL,
    correlation_id  VARCHAR(128)    NULL,
    idempotency_key VARCHAR(255)    NULL,
    changes         TEXT            NOT NULL,
    PRIMARY KEY (seq),
    KEY ix_order_events_subject (order_id, seq)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS product_events (
    seq             BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    product_id      BIGINT UNSIGNED NOT NULL,
    type            VARCHAR(32)     NOT NULL,
    at              DATETIME(6)     NOT NULL,
    actor           VARCHAR(255)    NOT NULL,
    correlation_id  VARCHAR(128)    NULL,
    idempotency_key VARCHAR(255)    NULL,
    changes         TEXT            NOT NULL,
    PRIMARY KEY (seq),
    KEY ix_product_events_subject (product_id, seq)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- orders-api/migrations/20261202000101_orders_by_customer.sql

-- GET /orders?customer_id= lists one customer's orders newest first: an
-- index on (customer_id, id) serves the filter and the order without a sort.

SET @ddl = IF(
    (SELECT COUNT(*) FROM information_schema.statistics
      WHERE table_schema = DATABASE() AND table_name = 'orders' AND index_name = 'ix_orders_customer_id') = 0,
    'CREATE INDEX ix_orders_customer_id ON orders (customer_id, id)',
    'DO 0');
PREPARE stmt FROM @ddl;
EXECUTE stmt;
DEALLOCATE PREPARE stmt;
