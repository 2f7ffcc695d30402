//! The demo front end every authx example serves at `/` (CONTRACT section 10): one page of
//! plain HTML, CSS and JavaScript kept here once, with the answers each example copies into its
//! framework's response. The page calls the authx API with `fetch` and cookies.
//!
//! [`respond`] answers the front end's requests: the page at every path it handles (`/`, the
//! mail links' landing pages `/confirm` and `/reset_password`, `/login` (where social login
//! sends failures), `/signup`, `/forgot_password`), its assets, `GET /config.json` (the mount
//! prefixes and the configured social providers) and `POST /demo/qr` (the QR code of a TOTP
//! setup link, as SVG), and the interactive API page at `/docs` (Swagger UI, vendored, on the
//! auth router's `openapi.json`). Anything else is `None`: the example answers it.

use std::borrow::Cow;

/// What the page needs to know of the example.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FrontendConfig {
    /// Where the auth router is mounted (`/api/users`).
    pub api: String,
    /// Where the social router is mounted (`/auth`).
    pub social: String,
    /// The configured social providers, in the order of their buttons.
    pub providers: Vec<Provider>,
}

/// A social login provider, as the page shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Provider {
    /// Its name in the social router's paths (`github`).
    pub name: String,
    /// Its name on the button (`GitHub`).
    pub label: String,
}

impl FrontendConfig {
    /// The examples' mounting: `/api/users` and `/auth`, with `providers` as `(name, label)`
    /// (what `Auth::social_providers` lists).
    pub fn examples<I, N, L>(providers: I) -> Self
    where
        I: IntoIterator<Item = (N, L)>,
        N: Into<String>,
        L: Into<String>,
    {
        Self {
            api: "/api/users".into(),
            social: "/auth".into(),
            providers: providers
                .into_iter()
                .map(|(name, label)| Provider {
                    name: name.into(),
                    label: label.into(),
                })
                .collect(),
        }
    }
}

/// An answer to copy into a framework's response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// The headers, in order.
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: Cow<'static, [u8]>,
}

const INDEX: &str = include_str!("../assets/index.html");
const APP_JS: &str = include_str!("../assets/app.js");
const STYLE_CSS: &str = include_str!("../assets/style.css");

/// The interactive API page at `/docs`: Swagger UI (vendored from the npm package
/// `swagger-ui-dist`, see `assets/swagger-ui/README.md`) on the auth router's
/// `openapi.json`.
const DOCS_HTML: &str = include_str!("../assets/docs.html");
const DOCS_JS: &str = include_str!("../assets/docs.js");
const SWAGGER_UI_JS: &str = include_str!("../assets/swagger-ui/swagger-ui-bundle.js");
const SWAGGER_UI_CSS: &str = include_str!("../assets/swagger-ui/swagger-ui.css");

/// The API page's paths, each with its content type and body.
const DOCS: &[(&str, &str, &str)] = &[
    ("/docs", "text/html; charset=utf-8", DOCS_HTML),
    ("/docs/docs.js", "text/javascript; charset=utf-8", DOCS_JS),
    (
        "/docs/swagger-ui-bundle.js",
        "text/javascript; charset=utf-8",
        SWAGGER_UI_JS,
    ),
    (
        "/docs/swagger-ui.css",
        "text/css; charset=utf-8",
        SWAGGER_UI_CSS,
    ),
];

/// The paths that show the page; the script picks the view from the path.
const PAGES: &[&str] = &[
    "/",
    "/login",
    "/signup",
    "/forgot_password",
    "/confirm",
    "/reset_password",
];

/// Every answer of the front end carries these: the page loads nothing from elsewhere, is never
/// framed, and sends no referrer (the landing pages' URLs carry one-time tokens).
fn secure(content_type: &str, cache: &str) -> Vec<(&'static str, String)> {
    vec![
        ("Content-Type", content_type.to_owned()),
        ("Cache-Control", cache.to_owned()),
        (
            "Content-Security-Policy",
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
             connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
                .into(),
        ),
        ("X-Content-Type-Options", "nosniff".into()),
        ("Referrer-Policy", "no-referrer".into()),
    ]
}

fn ok(content_type: &str, cache: &str, body: Cow<'static, [u8]>) -> Reply {
    Reply {
        status: 200,
        headers: secure(content_type, cache),
        body,
    }
}

/// The front end's answer to `method` `path` (the path without its query), or `None` when the
/// request is not the front end's.
pub fn respond(method: &str, path: &str, body: &[u8], config: &FrontendConfig) -> Option<Reply> {
    let get = method == "GET" || method == "HEAD";
    match path {
        page if get && PAGES.contains(&page) => Some(ok(
            "text/html; charset=utf-8",
            "no-store",
            Cow::Borrowed(INDEX.as_bytes()),
        )),
        "/assets/app.js" if get => Some(ok(
            "text/javascript; charset=utf-8",
            "no-cache",
            Cow::Borrowed(APP_JS.as_bytes()),
        )),
        "/assets/style.css" if get => Some(ok(
            "text/css; charset=utf-8",
            "no-cache",
            Cow::Borrowed(STYLE_CSS.as_bytes()),
        )),
        "/config.json" if get => {
            let json = serde_json::to_vec(config).unwrap_or_default();
            Some(ok("application/json", "no-store", Cow::Owned(json)))
        }
        "/demo/qr" if method == "POST" => Some(qr(body)),
        path if get && DOCS.iter().any(|(p, _, _)| *p == path) => {
            let (_, content_type, body) = DOCS.iter().find(|(p, _, _)| *p == path)?;
            let mut reply = ok(content_type, "no-cache", Cow::Borrowed(body.as_bytes()));
            // Swagger UI sets inline styles and draws its icons as `data:` images.
            for (name, value) in &mut reply.headers {
                if *name == "Content-Security-Policy" {
                    *value = value
                        .replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
                        .replace("img-src 'self'", "img-src 'self' data:");
                }
            }
            Some(reply)
        }
        // The front end's own paths with another method.
        path if PAGES.contains(&path)
            || DOCS.iter().any(|(p, _, _)| *p == path)
            || matches!(
                path,
                "/assets/app.js" | "/assets/style.css" | "/config.json" | "/demo/qr"
            ) =>
        {
            Some(json_error(405, "Method not allowed", "method_not_allowed"))
        }
        _ => None,
    }
}

/// An error in the contract's JSON form.
fn json_error(status: u16, detail: &str, code: &str) -> Reply {
    Reply {
        status,
        headers: secure("application/json", "no-store"),
        body: Cow::Owned(
            serde_json::json!({ "detail": detail, "code": code })
                .to_string()
                .into_bytes(),
        ),
    }
}

/// Longest text drawn as a QR code: an `otpauth://` link is far shorter.
const QR_LIMIT: usize = 1024;

/// `POST /demo/qr` `{"data": "<text>"}`: the text as a QR code in SVG.
fn qr(body: &[u8]) -> Reply {
    #[derive(serde::Deserialize)]
    struct Request {
        data: String,
    }
    let error = json_error;
    let Ok(Request { data }) = serde_json::from_slice::<Request>(body) else {
        return error(
            400,
            "Request body must be {\"data\": \"...\"}",
            "invalid_body",
        );
    };
    if data.is_empty() || data.len() > QR_LIMIT {
        return error(400, "data must be 1 to 1024 bytes", "invalid_body");
    }
    match qrcode::QrCode::new(data.as_bytes()) {
        Ok(code) => {
            let svg = code
                .render::<qrcode::render::svg::Color<'_>>()
                .min_dimensions(192, 192)
                .quiet_zone(true)
                .build();
            ok("image/svg+xml", "no-store", Cow::Owned(svg.into_bytes()))
        }
        Err(_) => error(400, "data cannot be drawn as a QR code", "invalid_body"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_assets_and_config() {
        let config = FrontendConfig::examples([("github", "GitHub"), ("acme", "Acme")]);
        for path in PAGES {
            let reply = respond("GET", path, b"", &config).unwrap();
            assert_eq!(reply.status, 200);
            assert_eq!(reply.body, INDEX.as_bytes());
            assert!(
                reply
                    .headers
                    .contains(&("Referrer-Policy", "no-referrer".into()))
            );
        }
        assert_eq!(respond("POST", "/", b"", &config).unwrap().status, 405);
        assert_eq!(
            respond("GET", "/demo/qr", b"", &config).unwrap().status,
            405
        );
        assert!(respond("GET", "/elsewhere", b"", &config).is_none());
        assert!(respond("GET", "/assets/app.js", b"", &config).is_some());
        for (path, _, body) in DOCS {
            let reply = respond("GET", path, b"", &config).unwrap();
            assert_eq!(
                (reply.status, &*reply.body),
                (200, body.as_bytes()),
                "{path}"
            );
        }
        let docs = respond("GET", "/docs", b"", &config).unwrap();
        let csp = &docs
            .headers
            .iter()
            .find(|(n, _)| *n == "Content-Security-Policy")
            .unwrap()
            .1;
        assert!(
            csp.contains("script-src 'self';") && csp.contains("connect-src 'self'"),
            "{csp}"
        );
        assert_eq!(respond("POST", "/docs", b"", &config).unwrap().status, 405);
        let json = respond("GET", "/config.json", b"", &config).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&json.body).unwrap();
        assert_eq!(value["api"], "/api/users");
        assert_eq!(value["providers"][0]["label"], "GitHub");
        assert_eq!(value["providers"][1]["label"], "Acme");
    }

    #[test]
    fn qr_codes_are_svg_and_bounded() {
        let config = FrontendConfig::examples(Vec::<(String, String)>::new());
        let body = br#"{"data":"otpauth://totp/authx:ada?secret=JBSWY3DPEHPK3PXP&issuer=authx"}"#;
        let reply = respond("POST", "/demo/qr", body, &config).unwrap();
        assert_eq!(reply.status, 200);
        let svg = String::from_utf8(reply.body.into_owned()).unwrap();
        assert!(svg.contains("<svg") && !svg.contains("<script"), "{svg}");
        let long = format!(r#"{{"data":"{}"}}"#, "x".repeat(2000));
        assert_eq!(
            respond("POST", "/demo/qr", long.as_bytes(), &config)
                .unwrap()
                .status,
            400
        );
        assert_eq!(
            respond("POST", "/demo/qr", b"junk", &config)
                .unwrap()
                .status,
            400
        );
    }
}
