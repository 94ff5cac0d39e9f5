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
