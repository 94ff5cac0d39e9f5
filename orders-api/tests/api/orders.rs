use kit_testing::TestDatabase;
use reqwest::Method;
use serde_json::{json, Value};
use wiremock::{matchers, Mock, MockServer, ResponseTemplate};

use crate::helpers::{assert_problem, spawn_app, spawn_orders};

#[tokio::test]
async fn an_order_reserves_stock_sums_repeated_products_and_prices_items() {
    let app = spawn_app().await;
    let customer = app.customer().await;
    let mouse = app.product(2990, 100).await;
    let pad = app.product(500, 10).await;
    let res = app
        .post_order(
            &json!({"customer_id": customer, "items": [
                {"product_id": pad, "qty": 1}, {"product_id": mouse, "qty": 2}, {"product_id": mouse, "qty": 1}]}),
            None,
        )
        .await;
    assert_eq!(res.status(), 201);
    let location = res.headers()[reqwest::header::LOCATION]
        .to_str()
        .expect("ascii")
        .to_owned();
    let order: Value = res.json().await.expect("json");
    assert_eq!(location, format!("/orders/{}", order["id"]));
    assert_eq!(order["status"], "CREATED");
    assert_eq!(order["customer_id"], customer);
    assert_eq!(order["total_cents"], 3 * 2990 + 500);
    let mut expected = vec![
        json!({"product_id": mouse, "qty": 3, "unit_price_cents": 2990, "subtotal_cents": 8970}),
        json!({"product_id": pad, "qty": 1, "unit_price_cents": 500, "subtotal_cents": 500}),
    ];
    expected.sort_by_key(|i| i["product_id"].as_u64());
    assert_eq!(order["items"], json!(expected));
    assert_eq!(order["confirmed_at"], Value::Null);
    assert_eq!((app.stock(mouse).await, app.stock(pad).await), (97, 9));

    let fetched: Value = app.get_json(&location).await;
    assert_eq!(fetched, order);
}

#[tokio::test]
async fn refused_orders_change_nothing() {
    let app = spawn_app().await;
    let customer = app.customer().await;
    let a = app.product(100, 5).await;
    let b = app.product(100, 1).await;

    let res = app.post_order(&json!({"customer_id": customer, "items": [{"product_id": a, "qty": 2}, {"product_id": b, "qty": 2}]}), None).await;
    let problem = assert_problem(res, 409, "insufficient_stock").await;
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains(&format!("product {b}"))),
        "{problem}"
    );

    let res = app.post_order(&json!({"customer_id": customer, "items": [{"product_id": a, "qty": 1}, {"product_id": 987654, "qty": 1}]}), None).await;
    assert_problem(res, 422, "product_not_found").await;

    let res = app
        .post_order(
            &json!({"customer_id": 987654, "items": [{"product_id": a, "qty": 1}]}),
            None,
        )
        .await;
    assert_problem(res, 422, "customer_not_found").await;

    for bad in [
        json!({"customer_id": customer, "items": []}),
        json!({"customer_id": customer, "items": [{"product_id": a, "qty": 0}]}),
        json!({"customer_id": customer, "items": [{"product_id": a, "qty": -1}]}),
        json!({"customer_id": customer, "items": [{"product_id": a}]}),
        json!({"customer_id": "1", "items": [{"product_id": a, "qty": 1}]}),
        json!({"customer_id": customer, "items": (0..101).map(|i| json!({"product_id": i + 1, "qty": 1})).collect::<Vec<_>>()}),
        json!({"customer_id": customer, "items": [{"product_id": a, "qty": 1, "price": 0}]}),
    ] {
        assert_problem(app.post_order(&bad, None).await, 400, "validation_failed").await;
    }
    assert_eq!((app.stock(a).await, app.stock(b).await), (5, 1));
    assert_eq!(app.order_rows().await, 0);
}

#[tokio::test]
async fn confirm_and_cancel_follow_the_state_rules() {
    let app = spawn_app().await;
    let customer = app.customer().await;
    let p = app.product(1000, 10).await;

    // Confirm needs a key.
    let o1 = app.order(customer, &[(p, 2)]).await;
    assert_problem(app.confirm(o1, None).await, 400, "idempotency_key_missing").await;
    let res = app.confirm(o1, Some("k-1")).await;
    assert_eq!(res.status(), 200);
    let confirmed: Value = res.json().await.expect("json");
    assert_eq!(confirmed["status"], "CONFIRMED");
    assert!(confirmed["confirmed_at"].is_string());
    // Already confirmed: 200, with another key too.
    let again = app.confirm(o1, Some("k-2")).await;
    assert_eq!(again.status(), 200);
    assert_eq!(
        again.json::<Value>().await.expect("json")["confirmed_at"],
        confirmed["confirmed_at"]
    );
    // Cancel within the window restores stock.
    assert_eq!(app.stock(p).await, 8);
    let res = app.cancel(o1, None).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<Value>().await.expect("json")["status"],
        "CANCELED"
    );
    assert_eq!(app.stock(p).await, 10);
    // Canceled: cancel again is a 200 that changes nothing; confirm is a 409.
    assert_eq!(app.cancel(o1, None).await.status(), 200);
    assert_eq!(app.stock(p).await, 10);
    assert_problem(app.confirm(o1, Some("k-3")).await, 409, "invalid_state").await;

    // CREATED → CANCELED.
    let o2 = app.order(customer, &[(p, 3)]).await;
    assert_eq!(app.stock(p).await, 7);
    assert_eq!(app.cancel(o2, Some("c-2")).await.status(), 200);
    assert_eq!(app.stock(p).await, 10);

    // CONFIRMED past the window: 409, and the stock stays sold.
    let o3 = app.order(customer, &[(p, 4)]).await;
    assert_eq!(app.confirm(o3, Some("k-4")).await.status(), 200);
    sqlx::query("UPDATE orders SET confirmed_at = confirmed_at - INTERVAL 601 SECOND WHERE id = ?")
        .bind(o3)
        .execute(&app.pool)
        .await
        .expect("age the confirmation");
    assert_problem(app.cancel(o3, None).await, 409, "cancel_window_expired").await;
    assert_eq!(app.stock(p).await, 6);
    assert_eq!(app.status_of(o3).await, "CONFIRMED");

    assert_problem(
        app.confirm(424242, Some("k-5")).await,
        404,
        "order_not_found",
    )
    .await;
    assert_problem(app.cancel(424242, None).await, 404, "order_not_found").await;
    assert_problem(
        app.authed(Method::GET, "/orders/424242")
            .send()
            .await
            .expect("sent"),
        404,
        "order_not_found",
    )
    .await;
}

#[tokio::test]
async fn orders_are_listed_newest_first_with_filters_and_cursors() {
    let app = spawn_app().await;
    let customer = app.customer().await;
    let p = app.product(100, 1000).await;
    let mut ids = Vec::new();
    for _ in 0..25 {
        ids.push(app.order(customer, &[(p, 1)]).await);
    }
    for id in &ids[..5] {
        assert_eq!(
            app.confirm(*id, Some(&format!("k{id}"))).await.status(),
            200
        );
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/orders?limit=7&cursor={c}"),
            None => "/orders?limit=7".to_owned(),
        };
        let page: Value = app.get_json(&path).await;
        seen.extend(
            page["data"]
                .as_array()
                .expect("data")
                .iter()
                .map(|o| o["id"].as_u64().expect("id")),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let mut newest_first = ids.clone();
    newest_first.reverse();
    assert_eq!(seen, newest_first);

    let page = app.get_json("/orders?status=CONFIRMED&limit=100").await;
    assert_eq!(page["data"].as_array().map(Vec::len), Some(5));
    assert!(page["data"][0]["items"][0]["qty"] == 1);
    let page: Value = app
        .authed(
            Method::GET,
            "/orders?from=2000-01-01T00:00:00Z&to=2000-01-02T00:00:00Z",
        )
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(page["data"], json!([]));
    // One customer's orders: the other customer's one is left out.
    let other = app.customer().await;
    let theirs = app.order(other, &[(p, 1)]).await;
    let page = app
        .get_json(&format!("/orders?customer_id={other}&limit=100"))
        .await;
    assert_eq!(page["data"][0]["id"], json!(theirs));
    assert_eq!(page["data"].as_array().map(Vec::len), Some(1));
    let page = app
        .get_json(&format!(
            "/orders?customer_id={customer}&status=CONFIRMED&limit=100"
        ))
        .await;
    assert_eq!(page["data"].as_array().map(Vec::len), Some(5));
    for bad in [
        "?customer_id=0",
        "?customer_id=9223372036854775808",
        "?customer_id=abc",
        "?status=SHIPPED",
        "?from=yesterday",
        "?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z",
        "?limit=0",
        "?cursor=zzz",
    ] {
        let res = app
            .authed(Method::GET, &format!("/orders{bad}"))
            .send()
            .await
            .expect("sent");
        assert_eq!(res.status(), 400, "{bad}");
    }
}

#[tokio::test]
async fn customers_api_failures_are_retried_then_503_and_write_nothing() {
    let customers = MockServer::start().await;
    Mock::given(matchers::method("GET"))
        .and(matchers::path("/internal/customers/1"))
        .and(matchers::header(
            "authorization",
            format!("Bearer {}", crate::helpers::SERVICE_TOKEN).as_str(),
        ))
        .respond_with(ResponseTemplate::new(503))
        .expect(3)
        .mount(&customers)
        .await;
    let app = spawn_orders(TestDatabase::create().await, &customers.uri(), |_| {}).await;
    let p = app.product(100, 5).await;
    let res = app
        .post_order(
            &json!({"customer_id": 1, "items": [{"product_id": p, "qty": 1}]}),
            Some("key-1"),
        )
        .await;
    let body = assert_problem(res, 503, "customers_unavailable").await;
    assert!(
        !body["detail"].as_str().unwrap_or_default().contains("503"),
        "no internals: {body}"
    );
    assert_eq!(app.stock(p).await, 5);
    assert_eq!(app.order_rows().await, 0);
    // The key was released: the same request may be retried.
    let leftover: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM idempotency_keys")
        .fetch_one(&app.pool)
        .await
        .expect("count");
    assert_eq!(leftover, 0);
}

#[tokio::test]
async fn customer_lookups_are_not_retried_on_404_and_carry_the_correlation_id() {
    let customers = MockServer::start().await;
    Mock::given(matchers::method("GET"))
        .and(matchers::path("/internal/customers/7"))
        .and(matchers::header(
            contracts::headers::CORRELATION_ID,
            "corr-42",
        ))
        .respond_with(ResponseTemplate::new(404))
        .expect(1)
        .mount(&customers)
        .await;
    let app = spawn_orders(TestDatabase::create().await, &customers.uri(), |_| {}).await;
    let p = app.product(100, 5).await;
    let res = app
        .authed(Method::POST, "/orders")
        .header(contracts::headers::CORRELATION_ID, "corr-42")
        .json(&json!({"customer_id": 7, "items": [{"product_id": p, "qty": 1}]}))
        .send()
        .await
        .expect("sent");
    let body = assert_problem(res, 422, "customer_not_found").await;
    assert_eq!(body["correlation_id"], "corr-42");
}

#[tokio::test]
async fn an_unreachable_customers_api_is_a_503() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!(
        "http://127.0.0.1:{}",
        closed.local_addr().expect("addr").port()
    );
    drop(closed);
    let app = spawn_orders(TestDatabase::create().await, &base, |_| {}).await;
    let p = app.product(100, 5).await;
    let res = app
        .post_order(
            &json!({"customer_id": 1, "items": [{"product_id": p, "qty": 1}]}),
            None,
        )
        .await;
    assert_problem(res, 503, "customers_unavailable").await;
    assert_eq!(app.stock(p).await, 5);
}

#[tokio::test]
async fn cancel_if_still_created_never_cancels_a_confirmed_order() {
    let app = spawn_app().await;
    let customer = app.customer().await;
    let p = app.product(100, 10).await;
    let cancel_if_created = |id: u64| {
        app.authed(Method::POST, &format!("/orders/{id}/cancel"))
            .header(reqwest::header::IF_MATCH, "\"CREATED\"")
            .header(contracts::headers::IDEMPOTENCY_KEY, format!("comp-{id}"))
            .send()
    };
    // A confirmed order stays confirmed, stock still sold: 412.
    let confirmed = app.order(customer, &[(p, 2)]).await;
    assert_eq!(app.confirm(confirmed, Some("c-1")).await.status(), 200);
    let res = cancel_if_created(confirmed).await.expect("sent");
    assert_problem(res, 412, "precondition_failed").await;
    assert_eq!(app.status_of(confirmed).await, "CONFIRMED");
    assert_eq!(app.stock(p).await, 8);
    // A created one is canceled.
    let created = app.order(customer, &[(p, 1)]).await;
    let res = cancel_if_created(created).await.expect("sent");
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()[reqwest::header::ETAG], "\"CANCELED\"");
    assert_eq!(app.stock(p).await, 8);
    // The order's ETag is its status; a malformed If-Match is a 400.
    let res = app
        .authed(Method::GET, &format!("/orders/{confirmed}"))
        .send()
        .await
        .expect("sent");
    assert_eq!(res.headers()[reqwest::header::ETAG], "\"CONFIRMED\"");
    let res = app
        .authed(Method::POST, &format!("/orders/{confirmed}/cancel"))
        .header(reqwest::header::IF_MATCH, "CONFIRMED")
        .send()
        .await
        .expect("sent");
    assert_problem(res, 400, "invalid_if_match").await;
    assert_eq!(app.status_of(confirmed).await, "CONFIRMED");
}

/// Listing follows an index in its own order: `(status, id)` with a status
/// filter, the primary key without; never a table scan or a sort.
#[tokio::test]
async fn listing_orders_uses_an_index_in_its_order() {
    use contracts::OrderStatus;
    use orders_api::plans::{list_query, OrderFilter};
    let app = spawn_app().await;
    crate::helpers::fill_orders(&app, 3000).await;
    let hour_ago = chrono::Utc::now() - chrono::Duration::hours(1);
    for (filter, key) in [
        (
            OrderFilter {
                status: Some(OrderStatus::Confirmed),
                ..OrderFilter::default()
            },
            "ix_orders_status_id",
        ),
        (
            OrderFilter {
                status: Some(OrderStatus::Created),
                ..OrderFilter::default()
            },
            "ix_orders_status_id",
        ),
        (
            OrderFilter {
                customer_id: Some(contracts::CustomerId(1)),
                ..OrderFilter::default()
            },
            "ix_orders_customer_id",
        ),
        (OrderFilter::default(), "PRIMARY"),
    ] {
        let mut q = list_query("EXPLAIN ", &filter, u64::MAX, 21);
        let plan = crate::helpers::explain(&app.pool, q.build()).await;
        assert_eq!(plan.key.as_deref(), Some(key), "{filter:?}: {plan:?}");
        assert!(!plan.extra.contains("filesort"), "{filter:?}: {plan:?}");
    }
    // With a time range too: an index, not a scan of the table.
    let filter = OrderFilter {
        status: Some(OrderStatus::Confirmed),
        from: Some(hour_ago),
        ..OrderFilter::default()
    };
    let mut q = list_query("EXPLAIN ", &filter, u64::MAX, 21);
    let plan = crate::helpers::explain(&app.pool, q.build()).await;
    assert_ne!(plan.access, "ALL", "{plan:?}");
    // And the listing itself still answers.
    let page = app.get_json("/orders?status=CONFIRMED&limit=5").await;
    assert_eq!(page["data"].as_array().map(Vec::len), Some(5));
}

/// A create that runs again after a lock conflict asks customers-api once:
/// its product stays locked through every attempt, and customers-api is
/// asked exactly once before the 503.
#[tokio::test]
async fn a_create_run_again_after_lock_conflicts_checks_the_customer_once() {
    let customers = MockServer::start().await;
    Mock::given(matchers::method("GET"))
        .and(matchers::path("/internal/customers/1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": 1, "name": "ACME", "email": "ops@acme.com", "phone": null,
            "created_at": "2026-11-29T00:00:00Z", "updated_at": "2026-11-29T00:00:00Z",
        })))
        .expect(1)
        .mount(&customers)
        .await;
    let app = spawn_orders(TestDatabase::create().await, &customers.uri(), |_| {}).await;
    let p = app.product(100, 5).await;
    let lock = app.lock_product(p).await;
    let res = app
        .post_order(
            &json!({"customer_id": 1, "items": [{"product_id": p, "qty": 1}]}),
            Some("locked"),
        )
        .await;
    assert_problem(res, 503, "database_busy").await;
    lock.rollback().await.expect("release");
    assert_eq!(app.stock(p).await, 5);
}

/// A slow customers-api holds no database connection: the customer check
/// runs before the create's transaction opens. With a pool of 2 and four
/// creates waiting on customers-api, a product read is served at once,
/// while every create is still waiting (with the check inside the
/// transaction, the two connections stayed taken until the creates ended,
/// and the read came after them).
#[tokio::test]
async fn a_slow_customers_api_pins_no_database_connection() {
    let customers = crate::helpers::slow_customers(std::time::Duration::from_millis(1500)).await;
    let app = spawn_orders(TestDatabase::create().await, &customers.uri(), |s| {
        s.http.db_max_connections = 2;
    })
    .await;
    let p = app.product(100, 50).await;
    let creates: Vec<_> = (0..4)
        .map(|i| {
            let req = app
                .authed(Method::POST, "/orders")
                .header(contracts::headers::IDEMPOTENCY_KEY, format!("slow-{i}"))
                .json(&json!({"customer_id": 1, "items": [{"product_id": p, "qty": 1}]}));
            tokio::spawn(async move { req.send().await.expect("sent").status().as_u16() })
        })
        .collect();
    // Every create is past its key's read and waiting on customers-api.
    for _ in 0..200 {
        if customers
            .received_requests()
            .await
            .unwrap_or_default()
            .len()
            >= 4
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(
        customers
            .received_requests()
            .await
            .unwrap_or_default()
            .len(),
        4
    );
    let read = app
        .authed(Method::GET, &format!("/products/{p}"))
        .send()
        .await
        .expect("sent");
    assert_eq!(read.status(), 200);
    assert!(
        creates.iter().all(|c| !c.is_finished()),
        "the read waited for the creates: they held the connections"
    );
    for c in creates {
        assert_eq!(c.await.expect("joined"), 201);
    }
    assert_eq!(app.stock(p).await, 46);
}

/// The caller's budget (`X-Request-Timeout-Ms`) is the request's deadline:
/// spent, it is a 504 before any work; unreadable, a 400; and the customer
/// check downstream gets what is left of it, not its own 7 s.
#[tokio::test]
async fn the_callers_deadline_bounds_the_request_and_travels_downstream() {
    let customers = crate::helpers::slow_customers(std::time::Duration::from_secs(5)).await;
    let app = spawn_orders(TestDatabase::create().await, &customers.uri(), |_| {}).await;
    let p = app.product(100, 5).await;
    let order = json!({"customer_id": 1, "items": [{"product_id": p, "qty": 1}]});
    let send = |budget: &str| {
        app.authed(Method::POST, "/orders")
            .header(contracts::headers::IDEMPOTENCY_KEY, "budget-1")
            .header(contracts::headers::REQUEST_TIMEOUT_MS, budget)
            .json(&order)
            .send()
    };
    assert_problem(send("0").await.expect("sent"), 504, "deadline_exceeded").await;
    assert_problem(
        send("soon").await.expect("sent"),
        400,
        "invalid_request_timeout",
    )
    .await;
    assert!(customers
        .received_requests()
        .await
        .unwrap_or_default()
        .is_empty());

    assert_problem(send("400").await.expect("sent"), 504, "deadline_exceeded").await;
    let asked = customers.received_requests().await.unwrap_or_default();
    assert_eq!(asked.len(), 1, "no retry past the deadline");
    let passed: u64 = asked[0]
        .headers
        .get(contracts::headers::REQUEST_TIMEOUT_MS)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("the budget travels downstream");
    assert!(
        passed <= 400,
        "customers-api was given {passed} ms of a 400 ms budget"
    );
    assert_eq!(app.stock(p).await, 5);
    assert_eq!(app.order_rows().await, 0);
    let keys: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM idempotency_keys")
        .fetch_one(&app.pool)
        .await
        .expect("count");
    assert_eq!(
        keys, 0,
        "a deadline is not a final answer: the key stays free"
    );
}

#[tokio::test]
async fn an_order_beyond_the_limits_is_refused_and_reserves_nothing() {
    let app = crate::helpers::spawn_app_with(|s| {
        s.limits = orders_api::config::OrderLimits {
            max_qty: 5,
            max_total_cents: 1_000,
        }
    })
    .await;
    let customer = app.customer().await;
    let cheap = app.product(100, 50).await;
    let dear = app.product(600, 50).await;
    let order = |items: Value| json!({"customer_id": customer, "items": items});

    // Six units over two lines: one more than the limit.
    let res = app
        .post_order(
            &order(json!([{"product_id": cheap, "qty": 3}, {"product_id": cheap, "qty": 3}])),
            Some("limit-qty"),
        )
        .await;
    let body = assert_problem(res, 422, "order_limit_exceeded").await;
    let detail = body["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("quantity") && detail.contains('5'),
        "{detail}"
    );
    // Two units, 1,200 cents: over the value.
    let res = app
        .post_order(&order(json!([{"product_id": dear, "qty": 2}])), None)
        .await;
    let body = assert_problem(res, 422, "order_limit_exceeded").await;
    let detail = body["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("value") && detail.contains("1000"),
        "{detail}"
    );
    assert_eq!(app.order_rows().await, 0);
    assert_eq!((app.stock(cheap).await, app.stock(dear).await), (50, 50));
    // At the limits exactly: an order.
    let res = app
        .post_order(
            &order(json!([{"product_id": cheap, "qty": 4}, {"product_id": dear, "qty": 1}])),
            None,
        )
        .await;
    assert_eq!(res.status(), 201);
    // The refusal is final for its key: replayed, as every final 422.
    let res = app
        .post_order(
            &order(json!([{"product_id": cheap, "qty": 3}, {"product_id": cheap, "qty": 3}])),
            Some("limit-qty"),
        )
        .await;
    assert_eq!(
        res.headers()[contracts::headers::IDEMPOTENT_REPLAYED],
        "true"
    );
    assert_eq!(res.status(), 422);
    let replayed: Value = res.json().await.expect("json");
    assert_eq!(replayed["code"], "order_limit_exceeded");
}
