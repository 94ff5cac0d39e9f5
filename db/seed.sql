-- Sample data for development and demos. Loaded after schema.sql.

INSERT INTO customers (id, name, email, phone, created_at, updated_at) VALUES
    (1, 'ACME',   'ops@acme.com',       '+51987654321', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6)),
    (2, 'Globex', 'contact@globex.com', '+14155550100', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6));

INSERT INTO products (id, sku, name, price_cents, stock, created_at, updated_at) VALUES
    (1, 'SKU001', 'Laptop',  129900,  10, UTC_TIMESTAMP(6), UTC_TIMESTAMP(6)),
    (2, 'SKU002', 'Mouse',     2990, 100, UTC_TIMESTAMP(6), UTC_TIMESTAMP(6)),
    (3, 'SKU003', 'Teclado',   4990,  50, UTC_TIMESTAMP(6), UTC_TIMESTAMP(6));
