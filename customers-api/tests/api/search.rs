use std::collections::HashSet;

use serde_json::Value;

use crate::helpers::{assert_problem, spawn_app, TestApp};

/// Inserts `n` customers straight into the table (the read path is under test).
async fn insert_customers(app: &TestApp, n: usize) {
    let mut sql =
        String::from("INSERT INTO customers (name, email, phone, created_at, updated_at) VALUES ");
    let rows: Vec<String> = (0..n)
        .map(|i| format!("('Customer {i:03}', 'c{i:03}@example.com', NULL, NOW(6), NOW(6))"))
        .collect();
    sql.push_str(&rows.join(","));
    sqlx::query(&sql)
        .execute(&app.pool)
        .await
        .expect("bulk insert");
}

async fn page(app: &TestApp, query: &str) -> (Vec<u64>, Option<String>) {
    let res = app.list_customers(query).await;
    assert_eq!(res.status(), 200, "{query}");
    let body: Value = res.json().await.expect("json");
    let ids = body["data"]
        .as_array()
        .expect("data array")
        .iter()
        .map(|c| c["id"].as_u64().expect("id"))
        .collect();
    (ids, body["next_cursor"].as_str().map(str::to_owned))
}

/// Follows `next_cursor` to the end; returns every id seen, in order.
async fn walk(app: &TestApp, base: &str, limit: u32) -> (Vec<u64>, usize) {
    let mut seen = Vec::new();
    let mut pages = 0;
    let mut cursor: Option<String> = None;
    loop {
        let mut query = format!("?limit={limit}{base}");
        if let Some(c) = &cursor {
            query.push_str(&format!("&cursor={c}"));
        }
        let (ids, next) = page(app, &query).await;
        assert!(ids.len() <= limit as usize);
        seen.extend(ids);
        pages += 1;
        match next {
            Some(next) => cursor = Some(next),
            None => break,
        }
        assert!(pages <= 1000, "the walk must end");
    }
    (seen, pages)
}

#[tokio::test]
async fn pagination_walks_250_rows_without_gaps_or_repeats() {
    let app = spawn_app().await;
    insert_customers(&app, 250).await;
    let all: Vec<u64> = sqlx::query_scalar("SELECT id FROM customers ORDER BY id")
        .fetch_all(&app.pool)
        .await
        .expect("ids");
    assert_eq!(all.len(), 250);

    for (limit, expected_pages) in [(100, 3), (7, 36), (50, 5)] {
        let (seen, pages) = walk(&app, "", limit).await;
        assert_eq!(seen, all, "limit {limit}: every row once, in order");
        assert_eq!(pages, expected_pages, "limit {limit}");
        let unique: HashSet<_> = seen.iter().collect();
        assert_eq!(unique.len(), 250);
    }

    // The default page size is 20.
    let (ids, next) = page(&app, "").await;
    assert_eq!(ids.len(), 20);
    assert!(next.is_some());
}

#[tokio::test]
async fn pages_are_stable_when_rows_are_added_or_deleted_mid_walk() {
    let app = spawn_app().await;
    insert_customers(&app, 30).await;
    let (first, cursor) = page(&app, "?limit=10").await;
    let cursor = cursor.expect("more pages");
    // A deletion behind the cursor and an insertion ahead of it.
    assert_eq!(app.delete_customer(first[0]).await.status(), 204);
    let added = app.create_customer("Late", "late@example.com").await;
    let (rest, _) = walk(&app, &format!("&cursor={cursor}"), 100).await;
    assert_eq!(rest.len(), 21, "20 remaining + 1 added");
    assert_eq!(rest.last().copied(), added["id"].as_u64());
    assert!(rest.iter().all(|id| !first.contains(id)));
}

#[tokio::test]
async fn search_matches_name_or_email_case_insensitively() {
    let app = spawn_app().await;
    let acme = app
        .create_customer("ACME Corporation", "ops@acme.com")
        .await;
    let globex = app.create_customer("Globex", "billing@globex.com").await;
    let percent = app.create_customer("100% Cotton", "sales@cotton.io").await;
    let deleted = app
        .create_customer("Acme Deleted", "old@acme-old.com")
        .await;
    app.delete_customer(deleted["id"].as_u64().expect("id"))
        .await;

    let ids = |v: &[&Value]| {
        v.iter()
            .map(|c| c["id"].as_u64().expect("id"))
            .collect::<Vec<_>>()
    };
    assert_eq!(page(&app, "?search=acme").await.0, ids(&[&acme]));
    assert_eq!(page(&app, "?search=GLOBEX.COM").await.0, ids(&[&globex]));
    assert_eq!(page(&app, "?search=corp").await.0, ids(&[&acme]));
    // Wildcards are literal: `%` finds only the name that has one.
    assert_eq!(page(&app, "?search=%25").await.0, ids(&[&percent]));
    assert_eq!(page(&app, "?search=_").await.0, Vec::<u64>::new());
    assert_eq!(page(&app, "?search=nobody").await, (vec![], None));
    // An empty search lists everyone active.
    assert_eq!(page(&app, "?search=").await.0.len(), 3);
}

#[tokio::test]
async fn search_pages_through_matches_only() {
    let app = spawn_app().await;
    insert_customers(&app, 45).await;
    // c000..c009 and c010..c019 ... `c01` matches c010..c019 only.
    let (seen, pages) = walk(&app, "&search=c01", 3).await;
    assert_eq!(seen.len(), 10);
    assert_eq!(pages, 4);
}

#[tokio::test]
async fn bad_limits_cursors_and_searches_are_400() {
    let app = spawn_app().await;
    for query in [
        "?limit=0",
        "?limit=101",
        "?limit=-1",
        "?limit=abc",
        "?limit=99999999999999999999",
    ] {
        let res = app.list_customers(query).await;
        let body: Value = res.json().await.expect("json");
        assert_eq!(body["status"], 400, "{query}: {body}");
    }
    for cursor in ["garbage", "djE6", "djI6MTA", "%00", "MTA"] {
        let res = app.list_customers(&format!("?cursor={cursor}")).await;
        assert_problem(res, 400, "invalid_cursor").await;
    }
    let long = "a".repeat(201);
    let res = app.list_customers(&format!("?search={long}")).await;
    assert_problem(res, 400, "validation_failed").await;
}
