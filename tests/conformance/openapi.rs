//! The OpenAPI document (CONTRACT 9.8): the same from every adapter, every route of the table in
//! it with its name, method and path as mounted, and what `authx::openapi()` returns.

use serde_json::Value;

use crate::support::{Adapter, Backend, Options, TestServer, start_axum};

fn method_key(method: authx::routes::Method) -> String {
    method.as_str().to_ascii_lowercase()
}

/// Every route of the table but the JWKS (asymmetric keys only) is in `doc` under `prefix`.
fn assert_every_route(doc: &Value, prefix: &str, jwks: bool) {
    assert_eq!(doc["openapi"], "3.1.0");
    for route in authx::ROUTES {
        let path = if prefix.is_empty() && route.path.is_empty() {
            "/".to_owned()
        } else {
            format!("{prefix}{}", route.path)
        };
        let op = &doc["paths"][&path][method_key(route.method)];
        if route.name == "auth:jwks" && !jwks {
            assert!(op.is_null(), "HS256 serves no JWKS");
            continue;
        }
        assert_eq!(op["operationId"], route.name, "{path}");
    }
}

pub async fn the_document_is_the_same_in_every_adapter() {
    let mut documents = Vec::new();
    for adapter in Adapter::ALL {
        let server = TestServer::start(adapter, Backend::Sqlite, Options::default())
            .await
            .unwrap();
        let reply = server.client().get("/openapi.json").await;
        assert_eq!(reply.status, 200, "{adapter:?}");
        assert_eq!(reply.header("content-type"), Some("application/json"));
        assert_every_route(&reply.body, "/api/users", false);
        // What an application merges into its own document is what the route serves.
        let merged = authx::openapi(&server.auth, "/api/users")
            .to_json()
            .unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(&merged).unwrap(),
            reply.body,
            "{adapter:?}"
        );
        documents.push((adapter, reply.body));
    }
    let (_, first) = &documents[0];
    for (adapter, doc) in &documents[1..] {
        assert_eq!(doc, first, "{adapter:?} serves another document");
    }
}

pub async fn the_document_follows_the_mounting_and_the_configuration() {
    // Asymmetric keys: the JWKS route is served, and documented.
    let server = TestServer::start(
        Adapter::Actix,
        Backend::Sqlite,
        Options {
            eddsa: true,
            tokens_in_body: true,
            ..Options::default()
        },
    )
    .await
    .unwrap();
    let doc = server.client().get("/openapi.json").await.body;
    assert_every_route(&doc, "/api/users", true);
    let refresh = &doc["paths"]["/api/users/token/refresh"]["post"]["responses"]["200"];
    assert_eq!(
        refresh["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/Tokens"
    );
    // Another prefix: the paths carry it.
    let (addr, _running) = start_axum(server.auth.clone(), "/accounts").await;
    let doc: Value = server
        .http
        .get(format!("http://{addr}/accounts/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_every_route(&doc, "/accounts", true);
    assert!(
        doc["paths"]
            .as_object()
            .unwrap()
            .keys()
            .all(|p| p.starts_with("/accounts")),
        "{:?}",
        doc["paths"].as_object().unwrap().keys().collect::<Vec<_>>()
    );
}
