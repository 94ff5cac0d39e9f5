//! `db/schema.sql`, what a fresh MySQL loads at init (docker-compose,
//! `make db`), is generated from the services' migrations: one source of
//! truth. `make schema` rewrites it; this test fails when it is stale. (Each
//! API's own tests also load it and check that it builds the same tables as
//! its migrations.)

use std::{fs, path::Path};

const HEADER: &str = "\
-- The whole database, as a fresh MySQL 8 loads it at init (docker-compose,
-- make db): every service's migrations, in version order.
-- GENERATED from */migrations/*.sql by `make schema`: do not edit; a test
-- fails when this file and the migrations disagree. Each service also applies
-- its own migrations at start; they are written to be no-ops over this file.
";

/// Every migration of the workspace, in version order (versions are unique
/// timestamps across services), each under its path.
fn generated() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files: Vec<(String, String)> = Vec::new();
    for service in ["customers-api", "orders-api"] {
        let dir = root.join(service).join("migrations");
        for entry in fs::read_dir(&dir)
            .expect("a migrations directory")
            .flatten()
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".sql") {
                files.push((name, format!("{service}/migrations")));
            }
        }
    }
    files.sort();
    let mut out = HEADER.to_owned();
    for (name, dir) in files {
        let sql = fs::read_to_string(root.join(&dir).join(&name)).expect("a migration");
        out.push_str(&format!("\n-- {dir}/{name}\n\n{}\n", sql.trim_end()));
    }
    out
}

#[test]
fn schema_sql_is_the_migrations() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../db/schema.sql");
    let generated = generated();
    if std::env::var("UPDATE_SCHEMA").is_ok() {
        fs::write(&path, &generated).expect("write db/schema.sql");
    }
    let committed = fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "db/schema.sql is stale: run `make schema` and commit it"
    );
}
