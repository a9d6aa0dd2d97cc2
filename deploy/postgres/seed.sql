-- The PostgreSQL source of docker-compose.yml: a small shop that Debezium captures into Kafka
-- (topics shop.public.customers and shop.public.orders), which Watershed crawls as lineage
-- column -> CDC topic field.
CREATE TABLE customers (
  id         serial PRIMARY KEY,
  email      text NOT NULL,
  full_name  text NOT NULL,
  country    text,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE orders (
  id          serial PRIMARY KEY,
  customer_id integer NOT NULL REFERENCES customers(id),
  amount      numeric(10, 2) NOT NULL,
  status      text NOT NULL DEFAULT 'new',
  created_at  timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE customers REPLICA IDENTITY FULL;
ALTER TABLE orders REPLICA IDENTITY FULL;
INSERT INTO customers (email, full_name, country) VALUES
  ('ada@example.com', 'Ada Lovelace', 'GB'),
  ('grace@example.com', 'Grace Hopper', 'US'),
  ('edsger@example.com', 'Edsger Dijkstra', 'NL');
INSERT INTO orders (customer_id, amount, status) VALUES
  (1, 42.00, 'paid'), (2, 17.50, 'new'), (3, 99.90, 'shipped');
