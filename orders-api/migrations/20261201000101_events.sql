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
