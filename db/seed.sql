-- Sample data for development and demos. Loaded after schema.sql.

INSERT INTO customers (id, name, email, phone, created_at, updated_at) VALUES
    (1, 'ACME',   'ops@acme.com',       '+51987654321', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6)),
    (2, 'Globex', 'contact@globex.com', '+14155550100', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6));
