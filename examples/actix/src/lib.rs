//! The actix-web example application: [`configure`] registers it in an `App`, [`server`]
//! makes the `HttpServer` with the examples' server limits (see `authx-example-common`).
//! `main.rs` reads the environment and runs it; tests start the same server.

use std::future::Future;
use std::pin::Pin;

use actix_web::body::BoxBody;
use actix_web::dev::Service as _;
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{App, HttpResponse, HttpServer, web};
use authx::actix::AuthUser;
use authx::config::{HEADER_LIMIT, header_block_len};
use authx::{Auth, AuthError, AuthResponse};
use authx_example_common::ServerLimits;
use authx_example_frontend::FrontendConfig;

/// The demo front end (`/`, the mail links' landing pages, its assets); anything else is the
/// contract's JSON `404`.
async fn frontend(
    req: actix_web::HttpRequest,
    body: web::Bytes,
    config: web::Data<FrontendConfig>,
) -> HttpResponse {
    let Some(reply) =
        authx_example_frontend::respond(req.method().as_str(), req.path(), &body, &config)
    else {
        return error_response(&AuthError::NotFound);
    };
    let mut response =
        HttpResponse::build(StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK));
    for (name, value) in reply.headers {
        response.insert_header((name, value));
    }
    response.body(reply.body.into_owned())
}

/// A route of the application, protected by the `AuthUser` extractor.
async fn me(AuthUser(claims): AuthUser) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(serde_json::json!({ "id": claims.id, "username": claims.username }).to_string())
}

/// The contract's JSON answer for `error`.
fn error_response(error: &AuthError) -> HttpResponse {
    let answer = AuthResponse::from_error(error);
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = HttpResponse::with_body(status, answer.body).map_into_boxed_body();
    for (name, value) in answer.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            response.headers_mut().append(name, value);
        }
    }
    response
}

async fn method_not_allowed() -> HttpResponse {
    error_response(&AuthError::MethodNotAllowed)
}

/// The application's routes, authx at `/api/users` and social login at `/auth`, the demo
/// front end at `/`, and the contract's JSON for every other path (`404`) and method (`405`).
pub fn configure(auth: Auth) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        // The extractors of the application's own routes find `Auth` here.
        cfg.app_data(web::Data::new(auth.clone()))
            .app_data(web::Data::new(FrontendConfig::examples(
                auth.social_providers(),
            )))
            .service(
                web::resource("/me")
                    .route(web::get().to(me))
                    .route(web::head().to(me))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(authx::actix::scope("/api/users", auth.clone()))
            .service(authx::actix::social_scope("/auth", auth))
            .default_service(web::to(frontend));
    }
}

/// Whether the header block is over [`HEADER_LIMIT`], measured as authx measures it.
fn headers_too_large(req: &ServiceRequest) -> bool {
    header_block_len(
        req.headers()
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_bytes())),
    ) > HEADER_LIMIT
}

type Answer = Pin<Box<dyn Future<Output = Result<ServiceResponse<BoxBody>, actix_web::Error>>>>;

/// The example's `HttpServer` on `listener`, with the examples' limits: a request head must
/// arrive within `limits.header_read_timeout` (actix's `client_request_timeout`, which answers
/// `408` and closes), and actix's head buffer is its own 128 KiB. Keep-alive is off: actix-web
/// 4 applies `client_request_timeout` to the first request of a connection only, and lets the
/// head of a later one on a kept-alive connection arrive as slowly as it likes. Signals are
/// left to the caller.
pub fn server(
    auth: Auth,
    listener: std::net::TcpListener,
    limits: ServerLimits,
) -> std::io::Result<Server> {
    Ok(HttpServer::new(move || {
        App::new()
            // A header block over the limit is refused on every path, before any handler
            // runs (authx's routes refuse it too; this covers the application's own).
            .wrap_fn(|req, service| -> Answer {
                if headers_too_large(&req) {
                    let refused = req.into_response(error_response(&AuthError::HeadersTooLarge));
                    Box::pin(async move { Ok(refused) })
                } else {
                    let call = service.call(req);
                    Box::pin(async move { call.await.map(ServiceResponse::map_into_boxed_body) })
                }
            })
            .configure(configure(auth.clone()))
    })
    .client_request_timeout(limits.header_read_timeout)
    .keep_alive(actix_web::http::KeepAlive::Disabled)
    .disable_signals()
    .listen(listener)?
    .run())
}
