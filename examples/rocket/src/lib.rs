//! The rocket example application: [`app`] builds it, [`serve`] serves it with the examples'
//! server limits (see `authx-example-common`). `main.rs` reads the environment and runs both;
//! tests start the same application.
//!
//! rocket 0.5's own server reads request heads without any time limit (it sets hyper's
//! header read timeout to none) and up to hyper's 400 KiB, and takes no listener of the
//! application's, so neither can be bounded through rocket. [`serve`] therefore runs the
//! examples' HTTP/1 server (hyper, with the limits) and hands each request to the ignited
//! application through rocket's local client, which runs rocket's whole request cycle
//! (fairings, routing, guards, catchers) as its server does; the peer address is set on
//! every request, as rocket's server sets it.

use std::convert::Infallible;
use std::sync::Arc;

use authx::AuthError;
use authx::rocket::{AuthFairing, AuthUser};
use authx_example_common::{JsonBody, ServerLimits, error_response};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use rocket::http::{ContentType, Header, Method, Status};
use rocket::local::asynchronous::Client;
use rocket::{Build, Rocket};

/// The largest body the example reads (its routes need far less; authx's own take 16 KiB).
pub const BODY_CAP: usize = 1024 * 1024;

/// The demo front end (`/`, the mail links' landing pages, its assets), as a handler for every
/// path no other route takes; anything else goes on to the catchers' JSON `404`.
#[derive(Clone)]
struct Frontend(Arc<authx_example_frontend::FrontendConfig>);

#[rocket::async_trait]
impl rocket::route::Handler for Frontend {
    async fn handle<'r>(
        &self,
        req: &'r rocket::Request<'_>,
        data: rocket::Data<'r>,
    ) -> rocket::route::Outcome<'r> {
        use rocket::data::ToByteUnit as _;
        let body = match data.open(16.kibibytes()).into_bytes().await {
            Ok(bytes) => bytes.into_inner(),
            Err(_) => return rocket::route::Outcome::Error(Status::BadRequest),
        };
        let path = req.uri().path().as_str();
        let Some(reply) =
            authx_example_frontend::respond(req.method().as_str(), path, &body, &self.0)
        else {
            return rocket::route::Outcome::Error(Status::NotFound);
        };
        let mut response = rocket::Response::build();
        response.status(Status::new(reply.status));
        for (name, value) in reply.headers {
            response.raw_header(name, value);
        }
        let body = reply.body.into_owned();
        response.sized_body(body.len(), std::io::Cursor::new(body));
        rocket::route::Outcome::Success(response.finalize())
    }
}

/// The front end's routes: every path, after every other route.
fn frontend_routes(auth: &authx::Auth) -> Vec<rocket::Route> {
    let handler = Frontend(Arc::new(authx_example_frontend::FrontendConfig::examples(
        auth.social_providers(),
    )));
    [
        Method::Get,
        Method::Head,
        Method::Post,
        Method::Put,
        Method::Delete,
        Method::Patch,
    ]
    .into_iter()
    .map(|method| rocket::Route::ranked(2000, method, "/<_..>", handler.clone()))
    .collect()
}

/// A route of the application, protected by the `AuthUser` request guard.
#[rocket::get("/me")]
fn me(user: AuthUser) -> (ContentType, String) {
    let AuthUser(claims) = user;
    let body = serde_json::json!({ "id": claims.id, "username": claims.username });
    (ContentType::JSON, body.to_string())
}

/// The application: its own routes, authx at `/api/users` and social login at `/auth`, the
/// demo front end at `/`, and the contract's JSON for every error anywhere (`authx::rocket::catchers()` at `/`, which also
/// sends the guards' rejections).
pub fn app(auth: authx::Auth) -> Rocket<Build> {
    app_with(rocket::Config::figment(), auth)
}

/// [`app`] with a configuration of the caller's.
pub fn app_with(figment: impl rocket::figment::Provider, auth: authx::Auth) -> Rocket<Build> {
    let frontend = frontend_routes(&auth);
    rocket::custom(figment)
        .attach(AuthFairing::new("/api/users", auth.clone()))
        .attach(AuthFairing::social("/auth", auth))
        .mount("/", rocket::routes![me])
        .mount("/", method_not_allowed_routes(&["/me"]))
        .mount("/", frontend)
        .register("/", authx::rocket::catchers())
}

/// For each of `paths`, a route for every other method that answers `405` JSON.
fn method_not_allowed_routes(paths: &[&str]) -> Vec<rocket::Route> {
    #[derive(Clone)]
    struct MethodNotAllowed;

    #[rocket::async_trait]
    impl rocket::route::Handler for MethodNotAllowed {
        async fn handle<'r>(
            &self,
            req: &'r rocket::Request<'_>,
            _: rocket::Data<'r>,
        ) -> rocket::route::Outcome<'r> {
            rocket::route::Outcome::from(req, MethodNotAllowedAnswer)
        }
    }

    struct MethodNotAllowedAnswer;

    impl<'r> rocket::response::Responder<'r, 'static> for MethodNotAllowedAnswer {
        fn respond_to(self, _: &'r rocket::Request<'_>) -> rocket::response::Result<'static> {
            let answer = authx::AuthResponse::from_error(&AuthError::MethodNotAllowed);
            let mut response = rocket::Response::build();
            response.status(Status::new(answer.status));
            for (name, value) in answer.headers {
                response.raw_header_adjoin(name, value);
            }
            response.sized_body(answer.body.len(), std::io::Cursor::new(answer.body));
            Ok(response.finalize())
        }
    }

    let mut routes = Vec::new();
    for path in paths {
        for method in [Method::Post, Method::Put, Method::Delete, Method::Patch] {
            routes.push(rocket::Route::ranked(100, method, path, MethodNotAllowed));
        }
    }
    routes
}

/// Serves `app` on `listener` with `limits` until `shutdown` resolves (see the module
/// documentation for why not rocket's own server).
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Rocket<Build>,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()>,
) -> Result<(), rocket::Error> {
    let client = Arc::new(Client::untracked(app).await?);
    authx_example_common::serve_http1(listener, limits, shutdown, move |peer| {
        let client = client.clone();
        hyper::service::service_fn(move |request| {
            let client = client.clone();
            async move { Ok::<_, Infallible>(dispatch(&client, peer, request).await) }
        })
    })
    .await;
    Ok(())
}

/// One request through rocket: method, target, headers, peer and body as received.
async fn dispatch(
    client: &Client,
    peer: std::net::SocketAddr,
    request: http::Request<hyper::body::Incoming>,
) -> http::Response<JsonBody> {
    let (parts, body) = request.into_parts();
    let Ok(method) = parts.method.as_str().parse::<Method>() else {
        return error_response(&AuthError::MethodNotAllowed);
    };
    // A body that cannot be read as sent is answered here, as the adapters answer it.
    let body = match Limited::new(body, BODY_CAP).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            return error_response(&AuthError::PayloadTooLarge);
        }
        Err(_) => return error_response(&AuthError::malformed_body()),
    };
    let target = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path().to_owned(), |pq| pq.as_str().to_owned());
    let mut local = client.req(method, target).remote(peer).body(&body);
    for (name, value) in &parts.headers {
        if let Ok(value) = value.to_str() {
            local.add_header(Header::new(name.as_str().to_owned(), value.to_owned()));
        }
    }
    let response = local.dispatch().await;
    let status = response.status().code;
    let headers: Vec<(String, String)> = response
        .headers()
        .iter()
        .map(|h| (h.name().to_string(), h.value().to_owned()))
        .collect();
    let body = response.into_bytes().await.unwrap_or_default();
    let mut answer = http::Response::new(Full::new(Bytes::from(body)));
    *answer.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            http::HeaderValue::from_str(&value),
        ) {
            answer.headers_mut().append(name, value);
        }
    }
    answer
}
