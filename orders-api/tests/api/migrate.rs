//! `orders-api migrate`: both services' schema and one least-privilege
//! database user per service, made by the admin; the services then run as
//! those users with `MIGRATE_ON_START=false`.

use kit_testing::{server_url, TestDatabase};
use orders_api::{
    migrate::{self, Plan, ServiceUser, CUSTOMERS_TABLES, ORDERS_TABLES},
    seed::Seeded,
};
use serde_json::json;
use sqlx::{Connection, MySqlConnection};

use crate::helpers::{http_settings, spawn_orders};

/// A server account made for one test, dropped at its end.
struct Account {
    user: String,
    password: String,
}

impl Account {
    fn new(prefix: &str) -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string();
        Self {
            user: format!("t_{prefix}_{}", &id[..8]),
            password: format!("pw{}", uuid::Uuid::new_v4().simple()),
        }
    }

    fn url(&self, db: &TestDatabase) -> String {
        let server = server_url();
        let host = server.rsplit('@').next().unwrap_or("127.0.0.1:3306");
        format!(
            "mysql://{}:{}@{}/{}",
            self.user,
            self.password,
            host.trim_end_matches('/'),
            db.name
        )
    }

    fn service(&self, tables: &'static [&'static str]) -> ServiceUser {
        ServiceUser {
            user: self.user.clone(),
            password: self.password.clone(),
            tables,
        }
    }

    async fn drop(&self) {
        let mut root = MySqlConnection::connect(&server_url()).await.expect("root");
        sqlx::raw_sql(&format!("DROP USER IF EXISTS '{}'@'%'", self.user))
            .execute(&mut root)
            .await
            .expect("drop user");
    }
}

fn plan(db: &TestDatabase, users: Vec<ServiceUser>, seed: bool) -> Plan {
    Plan {
        admin_url: db.url.clone(),
        create_database: None,
        users,
        seed,
    }
}

/// The server's error number of `sql` run on `conn`, or `None` if it ran.
async fn refused(conn: &mut MySqlConnection, sql: &str) -> Option<String> {
    match sqlx::raw_sql(sql).execute(&mut *conn).await {
        Ok(_) => None,
        Err(e) => Some(
            e.as_database_error()
                .and_then(|d| d.code())
                .map(|c| c.into_owned())
                .unwrap_or_else(|| e.to_string()),
        ),
    }
}

#[tokio::test]
async fn each_service_user_reaches_its_own_tables_and_nothing_else() {
    let db = TestDatabase::create().await;
    let (customers, orders) = (Account::new("cu"), Account::new("or"));
    let report = migrate::run(&plan(
        &db,
        vec![
            customers.service(CUSTOMERS_TABLES),
            orders.service(ORDERS_TABLES),
        ],
        true,
    ))
    .await
    .expect("migrate runs");
    assert_eq!(report.seeded, Some(Seeded::Loaded));
    assert_eq!(
        report.users,
        vec![customers.user.clone(), orders.user.clone()]
    );

    let mut cu = MySqlConnection::connect(&customers.url(&db))
        .await
        .expect("customers user");
    assert_eq!(
        refused(&mut cu, "SELECT COUNT(*) FROM customers").await,
        None
    );
    assert_eq!(
        refused(&mut cu, "UPDATE customers SET name = name").await,
        None
    );
    for sql in [
        "SELECT COUNT(*) FROM products",
        "SELECT COUNT(*) FROM orders",
        "SELECT COUNT(*) FROM _sqlx_migrations",
        "CREATE TABLE sneaky (id INT)",
        "ALTER TABLE customers ADD COLUMN x INT",
        "DROP TABLE customers",
    ] {
        // 1142: command denied to user (1044/1045 would be other refusals).
        assert!(
            refused(&mut cu, sql).await.is_some(),
            "customers user ran {sql}"
        );
    }

    let mut or = MySqlConnection::connect(&orders.url(&db))
        .await
        .expect("orders user");
    for sql in [
        "SELECT COUNT(*) FROM products",
        "SELECT COUNT(*) FROM orders",
        "SELECT COUNT(*) FROM order_items",
        "SELECT COUNT(*) FROM idempotency_keys",
        "DELETE FROM idempotency_keys WHERE 1 = 0",
    ] {
        assert_eq!(
            refused(&mut or, sql).await,
            None,
            "orders user could not run {sql}"
        );
    }
    for sql in [
        "SELECT COUNT(*) FROM customers",
        "CREATE TABLE sneaky (id INT)",
        "ALTER TABLE products ADD COLUMN x INT",
        "DROP TABLE orders",
        "TRUNCATE TABLE orders",
    ] {
        assert!(
            refused(&mut or, sql).await.is_some(),
            "orders user ran {sql}"
        );
    }
    let _ = cu.close().await;
    let _ = or.close().await;
    customers.drop().await;
    orders.drop().await;
}

#[tokio::test]
async fn the_services_serve_a_whole_order_as_their_own_users_without_migrating() {
    let db = TestDatabase::create().await;
    let (customers, orders) = (Account::new("cu"), Account::new("or"));
    migrate::run(&plan(
        &db,
        vec![
            customers.service(CUSTOMERS_TABLES),
            orders.service(ORDERS_TABLES),
        ],
        false,
    ))
    .await
    .expect("migrate runs");

    let mut settings = http_settings(&db);
    settings.database_url = customers.url(&db);
    settings.migrate_on_start = false;
    let customers_app = customers_api::startup::build(settings)
        .await
        .expect("customers-api starts as its own user");
    let customers_base = format!("http://127.0.0.1:{}", customers_app.port());
    tokio::spawn(customers_app.run_until_stopped());
    let orders_url = orders.url(&db);
    let app = spawn_orders(db, &customers_base, |s| {
        s.http.database_url = orders_url;
        s.http.migrate_on_start = false;
    })
    .await;

    let created = app
        .client
        .post(format!("{customers_base}/customers"))
        .bearer_auth(&app.token)
        .json(&json!({"name": "ACME", "email": "buyer@acme.example"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(created.status(), 201);
    let customer = created.json::<serde_json::Value>().await.expect("json")["id"]
        .as_u64()
        .expect("id");
    let product = app.product(500, 10).await;
    let order = app.order(customer, &[(product, 3)]).await;
    assert_eq!(app.confirm(order, Some("confirm-1")).await.status(), 200);
    assert_eq!(app.cancel(order, Some("cancel-1")).await.status(), 200);
    assert_eq!(app.stock(product).await, 10);
    customers.drop().await;
    orders.drop().await;
}

#[tokio::test]
async fn a_rerun_is_harmless_and_takes_a_new_password() {
    let db = TestDatabase::create().await;
    let mut account = Account::new("cu");
    let users = |a: &Account| vec![a.service(CUSTOMERS_TABLES)];
    migrate::run(&plan(&db, users(&account), true))
        .await
        .expect("first run");
    let old_url = account.url(&db);
    account.password = format!("pw{}", uuid::Uuid::new_v4().simple());
    let again = migrate::run(&plan(&db, users(&account), true))
        .await
        .expect("second run");
    assert_eq!(again.seeded, Some(Seeded::AlreadyThere));
    assert!(
        MySqlConnection::connect(&old_url).await.is_err(),
        "the old password still works"
    );
    let mut conn = MySqlConnection::connect(&account.url(&db))
        .await
        .expect("new password");
    assert_eq!(
        refused(&mut conn, "SELECT COUNT(*) FROM customers").await,
        None
    );
    let _ = conn.close().await;
    account.drop().await;
}

#[tokio::test]
async fn each_service_owns_exactly_the_tables_its_migrations_create() {
    for (mut migrator, tables) in [
        (migrate::customers_migrator(), CUSTOMERS_TABLES),
        (migrate::orders_migrator(), ORDERS_TABLES),
    ] {
        let db = TestDatabase::create().await;
        let pool = sqlx::MySqlPool::connect(&db.url).await.expect("pool");
        kit_server::db::migrate(&pool, &mut migrator)
            .await
            .expect("migrates");
        let mut made: Vec<String> = sqlx::query_scalar(
            "SELECT CAST(table_name AS CHAR) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name <> '_sqlx_migrations'",
        )
        .fetch_all(&pool)
        .await
        .expect("tables");
        made.sort();
        let mut owned: Vec<String> = tables.iter().map(|t| t.to_string()).collect();
        owned.sort();
        assert_eq!(made, owned);
        pool.close().await;
    }
}

#[test]
fn a_user_or_password_that_is_not_plain_is_refused_without_being_repeated() {
    for (user, password) in [
        ("o'hara", "abcdefghijklmnop1234"),
        ("orders_api", "short1"),
        ("orders_api", "has'quote-and-more-than-16"),
        ("orders_api", "has space and more than 16"),
    ] {
        let err =
            ServiceUser::new(user.into(), password.into(), ORDERS_TABLES).expect_err("refused");
        assert!(!format!("{err:#}").contains(password), "{err:#}");
    }
    assert!(ServiceUser::new(
        "orders_api".into(),
        "abcdefghijklmnop1234".into(),
        ORDERS_TABLES
    )
    .is_ok());
}
