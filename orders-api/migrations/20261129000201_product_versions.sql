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
