//! The operator console: one HTML page, one script and one stylesheet,
//! embedded in the binary at build time, so the Lambda and `make dev` serve
//! the same bytes. The script is written as ES modules (`console/*.js`,
//! `console/views/*.js`, each checked by the TypeScript compiler in JSDoc
//! mode) and served joined into one ([`MODULES`], [`bundle`]), so the page
//! makes one request for it, whatever the number of modules. The script and stylesheet are named by a hash of their
//! content and cached for a year; the page itself is never cached, names
//! them, carries the console's settings ([`ConsoleConfig`]) as a JSON data
//! block, and is served with a Content-Security-Policy that allows scripts
//! and styles from this origin only and calls to the configured APIs only.

use std::sync::LazyLock;

use anyhow::anyhow;
use axum::{
    body::Body,
    extract::Path,
    http::{header, HeaderMap, HeaderValue},
    response::Response,
};
use kit_identity::scope::{Role, Scope};
use kit_runtime::config::optional;
use serde::Serialize;
use sha2::{Digest, Sha256};

/// Where the console is served.
pub const PATH: &str = "/console";
/// Where its hashed assets are served.
pub const ASSET_PATH: &str = "/console/{asset}";

const PAGE: &str = include_str!("../console/index.html");
const STYLE: &str = include_str!("../console/app.css");

/// The console's modules, in the order they are joined: each one after
/// those it imports from, the router (which starts the console) last.
pub const MODULES: [(&str, &str); 11] = [
    ("util.js", include_str!("../console/util.js")),
    ("codes.js", include_str!("../console/codes.js")),
    ("state.js", include_str!("../console/state.js")),
    ("api.js", include_str!("../console/api.js")),
    ("ui.js", include_str!("../console/ui.js")),
    (
        "views/signin.js",
        include_str!("../console/views/signin.js"),
    ),
    (
        "views/customers.js",
        include_str!("../console/views/customers.js"),
    ),
    (
        "views/products.js",
        include_str!("../console/views/products.js"),
    ),
    (
        "views/orders.js",
        include_str!("../console/views/orders.js"),
    ),
    ("views/saga.js", include_str!("../console/views/saga.js")),
    ("router.js", include_str!("../console/router.js")),
];

/// The modules as one script: each one's `import` statements dropped and
/// its `export` keywords removed, joined in [`MODULES`]' order into one
/// module scope (the tests check that no two modules declare the same
/// top-level name, and that every import names an export of a module
/// listed before it).
pub fn bundle() -> String {
    let mut out = String::new();
    for (name, source) in MODULES {
        out.push_str(&format!("// ---- {name}\n"));
        let mut in_import = false;
        for line in source.lines() {
            if in_import || line.starts_with("import ") {
                in_import = !line.trim_end().ends_with(';');
                continue;
            }
            if line == "// @ts-check" {
                continue;
            }
            out.push_str(line.strip_prefix("export ").unwrap_or(line));
            out.push('\n');
        }
    }
    out
}

/// A file of the console, under its content-hashed name.
pub struct Asset {
    pub name: String,
    pub body: &'static str,
    pub content_type: &'static str,
}

/// The joined script, made once (it lives as long as the process).
static SCRIPT: LazyLock<&'static str> = LazyLock::new(|| bundle().leak());

impl Asset {
    fn hashed(stem: &str, ext: &str, body: &'static str, content_type: &'static str) -> Self {
        let digest = hex::encode(Sha256::digest(body.as_bytes()));
        Self {
            name: format!("{stem}.{}.{ext}", &digest[..16]),
            body,
            content_type,
        }
    }

    /// Its path under [`PATH`].
    pub fn path(&self) -> String {
        format!("{PATH}/{}", self.name)
    }

    /// How the page names it: relative to the page (`console/app.<hash>.js`
    /// from `<mount>/console`), so it resolves wherever the function is
    /// mounted: the root, `/lambda-url/<name>/` under `cargo lambda watch`,
    /// or an API Gateway stage.
    pub fn href(&self) -> String {
        self.path().trim_start_matches('/').to_owned()
    }
}

/// The script and the stylesheet, named by their content.
pub static ASSETS: LazyLock<[Asset; 2]> = LazyLock::new(|| {
    [
        Asset::hashed("app", "js", &SCRIPT, "text/javascript; charset=utf-8"),
        Asset::hashed("app", "css", STYLE, "text/css; charset=utf-8"),
    ]
});

/// What the console's page tells its script: where the APIs are for the
/// browser, and how to sign in.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ConsoleConfig {
    /// customers-api's base URL as the browser reaches it
    /// (`CONSOLE_CUSTOMERS_URL`; empty: this origin, as behind the HTTP API).
    pub customers_api: String,
    /// orders-api's (`CONSOLE_ORDERS_URL`; empty: this origin).
    pub orders_api: String,
    /// Sign-in through an OIDC provider (authorization code with PKCE);
    /// without one, the operator pastes a token.
    pub oidc: Option<Oidc>,
}

/// An OIDC provider's endpoints and the console's client there.
#[derive(Clone, Debug, Serialize)]
pub struct Oidc {
    /// `CONSOLE_OIDC_AUTHORIZE_URL`, e.g. Cognito's
    /// `https://<domain>.auth.<region>.amazoncognito.com/oauth2/authorize`.
    pub authorize_url: String,
    /// `CONSOLE_OIDC_TOKEN_URL` (`.../oauth2/token`).
    pub token_url: String,
    /// `CONSOLE_OIDC_CLIENT_ID`: a public client (no secret) that allows the
    /// code flow, with `<origin>/console` among its callback URLs.
    pub client_id: String,
    /// `CONSOLE_OIDC_SCOPES`, space-separated (default `openid`).
    pub scopes: String,
    /// `CONSOLE_OIDC_LOGOUT_URL` (optional; Cognito's `.../logout`).
    pub logout_url: Option<String>,
}

impl ConsoleConfig {
    /// Reads the `CONSOLE_*` variables.
    pub fn from_env() -> anyhow::Result<Self> {
        let authorize = optional_url("CONSOLE_OIDC_AUTHORIZE_URL")?;
        let token = optional_url("CONSOLE_OIDC_TOKEN_URL")?;
        let client = optional("CONSOLE_OIDC_CLIENT_ID").unwrap_or_default();
        let oidc = match (authorize.is_empty(), token.is_empty(), client.trim().is_empty()) {
            (true, true, true) => None,
            (false, false, false) => Some(Oidc {
                authorize_url: authorize,
                token_url: token,
                client_id: client.trim().to_owned(),
                scopes: optional("CONSOLE_OIDC_SCOPES").unwrap_or_else(|| "openid".into()),
                logout_url: Some(optional_url("CONSOLE_OIDC_LOGOUT_URL")?).filter(|u| !u.is_empty()),
            }),
            _ => {
                return Err(anyhow!(
                    "CONSOLE_OIDC_AUTHORIZE_URL, CONSOLE_OIDC_TOKEN_URL and CONSOLE_OIDC_CLIENT_ID go together: set all three or none"
                ))
            }
        };
        Ok(Self {
            customers_api: optional_url("CONSOLE_CUSTOMERS_URL")?,
            orders_api: optional_url("CONSOLE_ORDERS_URL")?,
            oidc,
        })
    }

    /// The Content-Security-Policy of the page: its own scripts and styles
    /// only, calls to itself, the APIs and the token endpoint only, no
    /// framing, no forms, no plugins.
    pub fn content_security_policy(&self) -> String {
        let mut connect = vec!["'self'".to_owned()];
        let oidc_token = self.oidc.as_ref().map(|o| o.token_url.as_str());
        for url in [
            Some(self.customers_api.as_str()),
            Some(self.orders_api.as_str()),
            oidc_token,
        ]
        .into_iter()
        .flatten()
        {
            if let Some(origin) = origin_of(url) {
                if !connect.contains(&origin) {
                    connect.push(origin);
                }
            }
        }
        format!(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src {}; form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
            connect.join(" ")
        )
    }
}

/// The variable `name` as a [`base_url`], or empty when unset.
fn optional_url(name: &str) -> anyhow::Result<String> {
    match optional(name) {
        None => Ok(String::new()),
        Some(raw) => base_url(raw.trim()).map_err(|e| anyhow!("{name}: {e}")),
    }
}

/// An http(s) URL with a host, without a query, fragment or trailing slash.
fn base_url(raw: &str) -> anyhow::Result<String> {
    let rest = raw
        .strip_prefix("https://")
        .or_else(|| raw.strip_prefix("http://"))
        .ok_or_else(|| anyhow!("{raw:?} is no http(s) URL"))?;
    let host = rest.split('/').next().unwrap_or_default();
    let clean = |c: char| c.is_ascii_alphanumeric() || "-._~/:[]%".contains(c);
    if host.is_empty() || !rest.chars().all(clean) {
        return Err(anyhow!(
            "{raw:?} must be http(s)://host[:port][/path], without a query"
        ));
    }
    Ok(raw.trim_end_matches('/').to_owned())
}

/// `scheme://host[:port]` of an URL that [`base_url`] accepted.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split('/').next().filter(|h| !h.is_empty())?;
    Some(format!("{scheme}://{host}"))
}

/// The page, naming the hashed assets and carrying `config`.
pub fn page(config: &ConsoleConfig) -> String {
    // The settings go into a JSON data block: `<` is escaped so that no
    // value can close the element.
    let mut settings = serde_json::to_value(config).unwrap_or_default();
    settings["roles"] = roles();
    let json = settings.to_string().replace('<', "\\u003c");
    PAGE.replace("{{app.js}}", &ASSETS[0].href())
        .replace("{{app.css}}", &ASSETS[1].href())
        .replace("{{config}}", &json)
}

/// Each role's scopes, as the services grant them ([`Role::scopes`]): the
/// console hides what a signed-in operator's roles do not allow.
fn roles() -> serde_json::Value {
    Role::ALL
        .iter()
        .map(|r| {
            let scopes: Vec<&str> = r.scopes().iter().map(Scope::as_str).collect();
            (r.as_str().to_owned(), serde_json::json!(scopes))
        })
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// The console as it is served: the page with its settings filled in, and
/// its policy, made once per cold start from [`ConsoleConfig`].
#[derive(Clone, Debug)]
pub struct Console {
    page: String,
    csp: Option<HeaderValue>,
}

impl Console {
    pub fn new(config: &ConsoleConfig) -> Self {
        Self {
            page: page(config),
            csp: HeaderValue::from_str(&config.content_security_policy()).ok(),
        }
    }
}

impl Default for Console {
    fn default() -> Self {
        Self::new(&ConsoleConfig::default())
    }
}

/// `GET /console`: the page; never cached (it names the assets of this
/// build), with the policy and the hardening headers.
pub fn serve_page(console: &Console) -> Response {
    let mut res = Response::new(Body::from(console.page.clone()));
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Some(csp) = &console.csp {
        h.insert(header::CONTENT_SECURITY_POLICY, csp.clone());
    }
    harden(h);
    res
}

/// `GET /console/{asset}`: a hashed asset, cached for a year; `None` for
/// any other name.
pub fn serve_asset(Path(name): Path<String>) -> Option<Response> {
    let asset = ASSETS.iter().find(|a| a.name == name)?;
    let mut res = Response::new(Body::from(asset.body));
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    harden(h);
    Some(res)
}

fn harden(h: &mut HeaderMap) {
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // The sign-in's `?code=` must not travel to anyone in a Referer.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assets_are_named_by_their_content_and_the_page_names_them() {
        let [js, css] = &*ASSETS;
        assert!(js.name.starts_with("app.") && js.name.ends_with(".js"));
        assert_ne!(js.name, css.name);
        let page = page(&ConsoleConfig::default());
        assert!(page.contains(&format!(r#"src="{}""#, js.href())));
        assert!(page.contains(&format!(r#"href="{}""#, css.href())));
        // Relative to the page, never to the root: the function may be
        // mounted under a prefix.
        assert!(js.href().starts_with("console/app.") && !page.contains(r#"="/console"#));
        assert!(!page.contains("{{"), "every placeholder filled");
        assert!(page.contains(r#""order-operator":["customers:read","catalog:read","orders:read","orders:write","orders:cancel"]"#));
    }

    /// Every module on disk is joined, once, after the modules it imports
    /// from; no two declare the same top-level name (they share one scope
    /// once joined); every name imported is exported where it is imported
    /// from.
    #[test]
    fn the_modules_join_into_one_script_without_clashes() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("console");
        let mut on_disk: Vec<String> = Vec::new();
        for sub in ["", "views/"] {
            for entry in std::fs::read_dir(dir.join(sub))
                .expect("console/")
                .flatten()
            {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.ends_with(".js") {
                    on_disk.push(format!("{sub}{name}"));
                }
            }
        }
        let mut listed: Vec<String> = MODULES.iter().map(|(n, _)| (*n).to_owned()).collect();
        on_disk.sort();
        listed.sort();
        assert_eq!(on_disk, listed, "every module is in MODULES");

        let declared = |source: &str| -> Vec<String> {
            source
                .lines()
                .filter_map(|l| {
                    let l = l.strip_prefix("export ").unwrap_or(l);
                    let rest = ["async function ", "function ", "const ", "let "]
                        .iter()
                        .find_map(|k| l.strip_prefix(k))?;
                    Some(
                        rest.split(|c: char| !(c.is_alphanumeric() || c == '_'))
                            .next()?
                            .to_owned(),
                    )
                })
                .collect()
        };
        let mut seen = std::collections::HashMap::new();
        for (name, source) in MODULES {
            for top in declared(source) {
                if let Some(other) = seen.insert(top.clone(), name) {
                    panic!("{top} is declared by both {other} and {name}");
                }
            }
        }
        let exported = |source: &str| -> Vec<String> {
            source
                .lines()
                .filter(|l| l.starts_with("export "))
                .flat_map(&declared)
                .collect()
        };
        for (i, (name, source)) in MODULES.iter().enumerate() {
            for line in source.lines().filter(|l| l.starts_with("import ")) {
                let (names, from) = line
                    .trim_start_matches("import {")
                    .split_once("} from ")
                    .expect("import { ... } from \"...\";");
                let from = from.trim_matches(|c| c == '"' || c == ';' || c == ' ');
                let base = std::path::Path::new(name).parent().expect("a folder");
                let target = base.join(from);
                let target = target
                    .to_string_lossy()
                    .replace("views/../", "")
                    .replace("./", "");
                let at = MODULES
                    .iter()
                    .position(|(n, _)| *n == target)
                    .unwrap_or_else(|| panic!("{name} imports {from}, which is not joined"));
                assert!(
                    at < i || *name == "router.js",
                    "{name} comes after {target}"
                );
                for wanted in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                    assert!(
                        exported(MODULES[at].1).iter().any(|e| e == wanted),
                        "{name} imports {wanted}, which {target} does not export"
                    );
                }
            }
        }
        assert!(bundle()
            .lines()
            .all(|l| !l.starts_with("import ") && !l.starts_with("export ")));
    }

    #[test]
    fn settings_cannot_close_the_data_block() {
        let config = ConsoleConfig {
            customers_api: "</script><script>alert(1)</script>".into(),
            ..ConsoleConfig::default()
        };
        let page = page(&config);
        assert!(!page.contains("</script><script>alert"));
    }

    #[test]
    fn the_policy_allows_the_apis_and_the_token_endpoint_only() {
        let config = ConsoleConfig {
            customers_api: "http://localhost:3001".into(),
            orders_api: "http://localhost:3002/base".into(),
            oidc: Some(Oidc {
                authorize_url: "https://id.example.com/oauth2/authorize".into(),
                token_url: "https://id.example.com/oauth2/token".into(),
                client_id: "c".into(),
                scopes: "openid".into(),
                logout_url: None,
            }),
        };
        let csp = config.content_security_policy();
        assert!(csp.contains(
            "connect-src 'self' http://localhost:3001 http://localhost:3002 https://id.example.com;"
        ));
        assert!(csp.contains("script-src 'self';") && !csp.contains("unsafe"));
        assert!(ConsoleConfig::default()
            .content_security_policy()
            .contains("connect-src 'self';"));
    }

    #[test]
    fn base_urls_are_checked() {
        assert_eq!(
            base_url("http://localhost:3001/").ok().as_deref(),
            Some("http://localhost:3001")
        );
        for bad in [
            "localhost:3001",
            "http://",
            "http://x/?a=1",
            "javascript:alert(1)",
            "http://a b",
        ] {
            assert!(base_url(bad).is_err(), "{bad}");
        }
    }
}
