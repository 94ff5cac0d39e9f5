//! Who may call what, walked from the route table itself: every operation
//! of a service's served OpenAPI document (the table its routes are
//! registered from) is called with every kind of caller, and each answer is
//! checked against the SPEC's table. A new route without a declared scope,
//! or with an extractor that checks another scope than it declares, fails.
//!
//! Targets are ids that do not exist and bodies are `{}`: a caller who gets
//! past the credential check meets a 404 or a 400, so the walk changes
//! nothing, and "allowed" reads as "neither 401 nor 403".

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::{
    app::TestApp, app::ORCHESTRATOR_TOKEN, app::SERVICE_TOKEN, claims, mint_token, Forgery,
};
use kit_identity::scope::{Role, Scope, Scopes};

/// Routes every service serves to anyone: probes, metrics, the documents.
pub const OPEN_PATHS: &[&str] = &["/health", "/ready", "/metrics", "/openapi.json"];

/// What an operation of the document asks of its caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Guard {
    /// Nothing: one of [`OPEN_PATHS`].
    Open,
    /// A user token granting this scope.
    User(Scope),
    /// One of the services' own tokens.
    Service,
}

/// One documented operation.
#[derive(Clone, Debug)]
pub struct Operation {
    pub method: Method,
    /// The path with its parameters filled with an id that does not exist.
    pub path: String,
    pub guard: Guard,
}

/// The operations of `document`, each with its one guard. Panics, naming
/// it, on an operation that declares none, several, or an unknown scope.
pub fn operations(document: &Value) -> Vec<Operation> {
    let mut ops = Vec::new();
    let paths = document["paths"]
        .as_object()
        .expect("the document has paths");
    for (template, item) in paths {
        let Some(item) = item.as_object() else {
            continue;
        };
        for (method, op) in item {
            let Ok(method) = method.to_ascii_uppercase().parse::<Method>() else {
                continue;
            };
            let name = format!("{method} {template}");
            if OPEN_PATHS.contains(&template.as_str()) {
                assert!(op.get("security").is_none(), "{name} is open to anyone");
                ops.push(Operation {
                    method,
                    path: template.clone(),
                    guard: Guard::Open,
                });
                continue;
            }
            let security = op["security"]
                .as_array()
                .unwrap_or_else(|| panic!("{name} declares no security requirement"));
            assert_eq!(security.len(), 1, "{name} must declare exactly one guard");
            let requirement = security[0].as_object().expect("a requirement object");
            let guard = match (requirement.get("bearer"), requirement.get("service_token")) {
                (Some(scopes), None) => {
                    let scopes = scopes.as_array().expect("a list of scopes");
                    assert_eq!(scopes.len(), 1, "{name} must name exactly one scope");
                    let scope = scopes[0].as_str().and_then(Scope::parse);
                    Guard::User(scope.unwrap_or_else(|| panic!("{name}: unknown scope {scopes:?}")))
                }
                (None, Some(_)) => Guard::Service,
                _ => panic!("{name}: one of `bearer` (with its scope) or `service_token`"),
            };
            let path = template
                .split('/')
                .map(|seg| {
                    if seg.starts_with('{') {
                        "987654321"
                    } else {
                        seg
                    }
                })
                .collect::<Vec<_>>()
                .join("/");
            ops.push(Operation {
                method,
                path,
                guard,
            });
        }
    }
    assert!(!ops.is_empty(), "the document lists no operation");
    ops
}

/// A token for `sub` granting exactly `scopes` (roles: `groups`).
fn token(scopes: Scopes, groups: &[&str]) -> String {
    mint_token(
        "walker",
        600,
        json!({"scope": scopes.claim(), "groups": groups}),
    )
}

async fn call(app: &TestApp, op: &Operation, bearer: Option<&str>) -> reqwest::Response {
    let mut req = app.client.request(op.method.clone(), app.url(&op.path));
    if let Some(token) = bearer {
        req = req.bearer_auth(token);
    }
    if matches!(op.method, Method::POST | Method::PUT | Method::PATCH) {
        req = req.json(&json!({}));
    }
    req.send().await.expect("the service answers")
}

fn allowed(status: StatusCode) -> bool {
    status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN
}

/// Every operation of the served document, called without a token, with
/// bad tokens, with every role, with every scope but its own and with its
/// own alone (user routes), and with each service's token and a user's
/// (service routes). Returns how many calls were checked.
pub async fn walk(app: &TestApp) -> usize {
    let document: Value = serde_json::from_str(&app.get_text("/openapi.json").await.1)
        .expect("the served document is JSON");
    let mut checked = 0;
    for op in operations(&document) {
        let mut walker = Walker {
            app,
            op: &op,
            name: format!("{} {}", op.method, op.path),
            checked: 0,
        };
        match op.guard {
            Guard::Open => {
                walker.expect("no token", None, true).await;
            }
            Guard::User(scope) => {
                walker.refuses_bad_credentials().await;
                walker.user_route(scope).await;
            }
            Guard::Service => {
                walker.refuses_bad_credentials().await;
                walker.service_route().await;
            }
        }
        checked += walker.checked;
    }
    checked
}

/// The calls of one operation.
struct Walker<'a> {
    app: &'a TestApp,
    op: &'a Operation,
    name: String,
    checked: usize,
}

impl Walker<'_> {
    /// `op` called by `who` with `bearer`: allowed through or not, as `ok`.
    async fn expect(&mut self, who: &str, bearer: Option<&str>, ok: bool) -> reqwest::Response {
        let res = call(self.app, self.op, bearer).await;
        let status = res.status();
        assert_eq!(allowed(status), ok, "{} with {who}: {status}", self.name);
        self.checked += 1;
        res
    }

    /// No token, an expired one, another audience, another issuer, a
    /// Cognito ID token, and every [`Forgery`] (another key, an unknown
    /// `kid`, the old shared secret, no `kid`, `alg: none`): 401.
    async fn refuses_bad_credentials(&mut self) {
        let mut bad = vec![
            ("no token", None),
            (
                "an expired token",
                Some(mint_token("walker", -120, json!({}))),
            ),
            (
                "a token for another audience",
                Some(mint_token("walker", 600, json!({"aud": "elsewhere"}))),
            ),
            (
                "a token from another issuer",
                Some(mint_token("walker", 600, json!({"iss": "elsewhere"}))),
            ),
            (
                "an ID token",
                Some(mint_token("walker", 600, json!({"token_use": "id"}))),
            ),
        ];
        for forgery in Forgery::ALL {
            let t = forgery.sign(&claims("walker", 600, json!({})));
            bad.push((forgery.describe(), Some(t)));
        }
        for (what, t) in bad {
            let res = self.expect(what, t.as_deref(), false).await;
            assert_eq!(res.status(), 401, "{} with {what}", self.name);
        }
    }

    /// Each role, every other scope, the scope alone, a service token.
    async fn user_route(&mut self, scope: Scope) {
        for role in Role::ALL {
            let t = token(Scopes::NONE, &[role.as_str()]);
            let ok = role.scopes().contains(scope);
            let res = self.expect(role.as_str(), Some(&t), ok).await;
            if !ok {
                assert_forbidden(res, scope, &self.name).await;
            }
        }
        let all_but = token(Scopes::all().without(scope), &[]);
        let res = self
            .expect("every other scope", Some(&all_but), false)
            .await;
        assert_forbidden(res, scope, &self.name).await;
        let only = token(Scopes::NONE.with(scope), &[]);
        self.expect(scope.as_str(), Some(&only), true).await;
        self.expect("a service token", Some(SERVICE_TOKEN), false)
            .await;
    }

    /// Each service's own token; an admin's user token is no service's.
    async fn service_route(&mut self) {
        self.expect("orders-api's token", Some(SERVICE_TOKEN), true)
            .await;
        self.expect("the orchestrator's token", Some(ORCHESTRATOR_TOKEN), true)
            .await;
        let admin = token(Scopes::all(), &["admin"]);
        self.expect("an admin's user token", Some(&admin), false)
            .await;
    }
}

async fn assert_forbidden(res: reqwest::Response, scope: Scope, name: &str) {
    assert_eq!(res.status(), 403, "{name}");
    let challenge = res
        .headers()
        .get(reqwest::header::WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        challenge.contains("insufficient_scope") && challenge.contains(scope.as_str()),
        "{name}: WWW-Authenticate names the scope: {challenge}"
    );
    let body: Value = res.json().await.expect("a problem document");
    assert_eq!(body["code"], "forbidden", "{name}");
    let detail = body["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains(scope.as_str()),
        "{name}: the detail names {scope}: {detail}"
    );
}
