//! Black-box tests: each spawns the real app on port 0 against a fresh
//! database on the MySQL/MariaDB server of `TEST_DATABASE_URL`
//! (default `mysql://root@127.0.0.1:3306`).

mod auth;
mod bad_input;
mod concurrency;
mod customers;
mod events;
mod helpers;
mod openapi;
mod ops;
mod schema;
mod search;
