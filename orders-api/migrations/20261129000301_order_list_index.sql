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
