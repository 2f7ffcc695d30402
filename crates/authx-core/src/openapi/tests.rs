use super::*;
use crate::routes::{ROUTES, RouterKind};

/// The defaults of the configuration, with every optional part on.
fn everything() -> Context {
    Context {
        captcha: true,
        hide_user_existence: false,
        tokens_in_body: false,
        jwks: true,
        csrf: true,
        two_factor: true,
        password_min: 8,
        password_max: 128,
        access_cookie: "access_token".into(),
        refresh_cookie: "refresh_token".into(),
        challenge_cookie: "authx_2fa".into(),
    }
}

/// Every router but the social one, which has a prefix of its own (its `/{provider}` would
/// meet `/{id}` under one prefix).
fn all_routers() -> Routers {
    Routers::of(&RouterKind::ALL).without(RouterKind::Social)
}

fn json(doc: &OpenApi) -> serde_json::Value {
    serde_json::from_str(&doc.to_json().unwrap()).unwrap()
}

fn method_key(method: Method) -> &'static str {
    match method {
        Method::Get => "get",
        Method::Post => "post",
        Method::Put => "put",
        Method::Delete => "delete",
    }
}

#[test]
fn every_route_of_the_table_is_documented_with_its_name_method_and_path() {
    let doc = json(&document(&everything(), all_routers(), "/api/users"));
    assert_eq!(doc["openapi"], "3.1.0");
    let mut operations = 0;
    for route in ROUTES.iter().filter(|r| r.router != RouterKind::Social) {
        let path = mounted_path("/api/users", route.path);
        let op = &doc["paths"][&path][method_key(route.method)];
        assert_eq!(
            op["operationId"],
            route.name,
            "{} {path}",
            route.method.as_str()
        );
        assert_eq!(op["summary"], route.summary);
        assert!(
            op["responses"]["200"]["content"]["application/json"]["schema"].is_object(),
            "{}: no 200 schema",
            route.name
        );
        operations += 1;
    }
    let documented: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| item.as_object().unwrap().len())
        .sum();
    assert_eq!(documented, operations, "no operation outside the table");
}

#[test]
fn only_enabled_routers_and_served_routes_are_in_it() {
    let mut cx = everything();
    cx.jwks = false;
    let doc = json(&document(&cx, Routers::of(&[RouterKind::Auth]), "/u"));
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.contains_key("/u/login"));
    assert!(!paths.contains_key("/u/sessions"));
    assert!(!paths.contains_key("/u/openapi.json"));
    assert!(
        !paths.contains_key("/u/.well-known/jwks.json"),
        "HS256 serves no JWKS"
    );
    // The prefix itself is the search route; at the root it is `/`.
    let doc = json(&document(&cx, Routers::main(), ""));
    assert_eq!(doc["paths"]["/"]["get"]["operationId"], "auth:search");
    assert_eq!(doc["paths"]["/login"]["post"]["operationId"], "auth:login");
    let doc = json(&document(&cx, Routers::main(), "/api/users/"));
    assert_eq!(
        doc["paths"]["/api/users"]["get"]["operationId"],
        "auth:search"
    );
}

/// The codes a response of `status` of `name` may carry.
fn codes(doc: &serde_json::Value, path: &str, method: &str, status: u16) -> Vec<String> {
    let schema = &doc["paths"][path][method]["responses"][status.to_string()]["content"]["application/json"]
        ["schema"];
    schema["properties"]["code"]["enum"]
        .as_array()
        .unwrap_or_else(|| panic!("{method} {path} {status}: no code enum"))
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn errors_carry_their_codes_by_status() {
    let doc = json(&document(&everything(), Routers::main(), "/api/users"));
    let login = |status| codes(&doc, "/api/users/login", "post", status);
    assert_eq!(
        login(401),
        ["invalid_credentials", "second_factor_required"]
    );
    assert_eq!(login(404), ["user_not_found"]);
    assert!(login(400).contains(&"user_banned".to_owned()));
    assert!(login(400).contains(&"field_required".to_owned()));
    assert_eq!(login(429), ["too_many_requests"]);
    assert_eq!(login(403), ["cross_site_request"]);
    assert_eq!(login(503), ["service_unavailable"]);
    let second = |status| codes(&doc, "/api/users/login/2fa", "post", status);
    assert_eq!(second(401), ["invalid_challenge", "invalid_code"]);
    let kick = |status| codes(&doc, "/api/users/{id}/kick", "post", status);
    assert_eq!(kick(401), ["not_authenticated", "invalid_token"]);
    assert_eq!(kick(403), ["cross_site_request", "forbidden"]);
    assert_eq!(kick(404), ["not_found", "user_not_found"]);
    // Every code is one of the error enum's, with the status it has there.
    let known = crate::error::error_codes();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for (status, response) in op["responses"].as_object().unwrap() {
                if status == "200" {
                    continue;
                }
                for code in codes(&doc, path, method, status.parse().unwrap()) {
                    // A code may have more than one status (`invalid_code`: 400, 401 at login).
                    assert!(
                        known
                            .iter()
                            .any(|(c, s, _)| *c == code && s.to_string() == *status),
                        "{method} {path} {code} {status}"
                    );
                }
                assert!(response["description"].is_string());
            }
        }
    }
}

#[test]
fn configuration_shapes_the_answers() {
    let mut cx = everything();
    cx.hide_user_existence = true;
    cx.captcha = false;
    cx.tokens_in_body = true;
    let doc = json(&document(&cx, Routers::main(), ""));
    assert!(doc["paths"]["/login"]["post"]["responses"]["404"].is_null());
    assert!(!codes(&doc, "/register", "post", 400).contains(&"wrong_captcha".to_owned()));
    let ok = &doc["paths"]["/login"]["post"]["responses"]["200"]["content"]["application/json"]["schema"];
    assert_eq!(ok["$ref"], "#/components/schemas/Tokens");
    let doc = json(&document(&everything(), Routers::main(), ""));
    let ok = &doc["paths"]["/login"]["post"]["responses"]["200"]["content"]["application/json"]["schema"];
    assert_eq!(ok["type"], "null");
}

#[test]
fn security_schemes_and_referenced_schemas_exist() {
    let doc = json(&document(&everything(), all_routers(), ""));
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes[BEARER]["scheme"], "bearer");
    assert_eq!(schemes[ACCESS_COOKIE]["in"], "cookie");
    assert_eq!(schemes[ACCESS_COOKIE]["name"], "access_token");
    assert_eq!(schemes[REFRESH_COOKIE]["name"], "refresh_token");
    assert_eq!(
        doc["paths"]["/sessions"]["get"]["security"],
        serde_json::json!([{ BEARER: [] }, { ACCESS_COOKIE: [] }])
    );
    // Every `$ref` names a schema of the components.
    let text = doc.to_string();
    for piece in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = &piece[..piece.find('"').unwrap()];
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "no schema {name}"
        );
    }
}

#[test]
fn this_page_lists_every_route() {
    let page = include_str!("../../../../docs/openapi.md");
    for route in ROUTES {
        let row = format!(
            "| `{}` | {} | `{}` |",
            route.name,
            route.method.as_str(),
            route.path
        );
        assert!(page.contains(&row), "docs/openapi.md lacks the row {row}");
    }
}

#[test]
fn the_social_routes_answer_redirects() {
    let doc = json(&document(&everything(), Routers::social(), "/auth"));
    for (path, name) in [
        ("/auth/{provider}", "social:login"),
        ("/auth/{provider}/callback", "social:callback"),
    ] {
        let op = &doc["paths"][path]["get"];
        assert_eq!(op["operationId"], name);
        assert!(
            op["responses"]["307"]["headers"]["Location"].is_object(),
            "{name}"
        );
        assert!(op["responses"]["200"].is_null(), "{name}");
    }
}
