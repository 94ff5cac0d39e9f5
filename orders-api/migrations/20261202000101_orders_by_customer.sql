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
