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
