//! The adapters under test, each serving the auth router alone under [`PREFIX`] on
//! `127.0.0.1:0`, as an application would mount it.

use std::net::SocketAddr;

use authx::Auth;

use crate::client::PREFIX;

/// A route of each framework's own beside the auth router, for the `bare` scenario (`GET`)
/// and the `bare-post` one (`POST` with a body, read whole as bytes and dropped).
pub(crate) const BARE_PATH: &str = "/bare";
/// A route of each framework's own that awaits one database round trip through the store's
/// pool (`SELECT 1`) before it answers as `bare` does: the floor of the `bare-db` scenario,
/// what a framework and sqlx cost a handler that waits on the database once, without authx.
pub(crate) const BARE_DB_PATH: &str = "/bare-db";
/// What they answer, as `application/json` with `Cache-Control: no-store` (a few bytes and
/// headers, like the auth router's smallest answers).
const BARE_BODY: &str = r#"{"ok":true}"#;

/// The store's connection pool, shared with the `bare-db` route.
#[derive(Debug, Clone)]
pub(crate) enum Pool {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
    MySql(sqlx::MySqlPool),
}

impl Pool {
    /// One `SELECT 1` through the pool (a statement prepared once per connection).
    async fn round_trip(&self) -> Result<(), sqlx::Error> {
        match self {
            Self::Sqlite(pool) => sqlx::query_scalar::<_, i64>("SELECT 1")
                .fetch_one(pool)
                .await
                .map(drop),
            Self::Postgres(pool) => sqlx::query_scalar::<_, i32>("SELECT 1")
                .fetch_one(pool)
                .await
                .map(drop),
            Self::MySql(pool) => sqlx::query_scalar::<_, i64>("SELECT 1")
                .fetch_one(pool)
                .await
                .map(drop),
        }
    }
}

/// A web framework adapter of authx.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Adapter {
    Axum,
    Actix,
    Rocket,
}

impl Adapter {
    /// Every adapter, in table order.
    pub(crate) const ALL: [Self; 3] = [Self::Axum, Self::Actix, Self::Rocket];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Axum => "axum",
            Self::Actix => "actix",
            Self::Rocket => "rocket",
        }
    }

    pub(crate) fn parse(name: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|a| a.name() == name)
            .ok_or_else(|| format!("unknown adapter {name:?}: axum, actix, rocket or all"))
    }
}

/// Starts `adapter` serving `auth` (and the floors, `bare-db` through `pool`); returns its
/// address once it accepts connections.
pub(crate) async fn start(adapter: Adapter, auth: Auth, pool: Pool) -> Result<SocketAddr, String> {
    match adapter {
        Adapter::Axum => start_axum(auth, pool).await,
        Adapter::Actix => start_actix(auth, pool),
        Adapter::Rocket => start_rocket(auth, pool).await,
    }
}

/// actix-web runs its own single-threaded runtimes (one per worker, as many workers as
/// cores, its default) on threads of their own.
fn start_actix(auth: Auth, pool: Pool) -> Result<SocketAddr, String> {
    use actix_web::{App, HttpServer};
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let served = actix_web::rt::System::new().block_on(async move {
            let server = HttpServer::new(move || {
                let pool = pool.clone();
                App::new()
                    .route(
                        BARE_PATH,
                        actix_web::web::get().to(|| async { actix_bare() }),
                    )
                    .route(
                        BARE_PATH,
                        actix_web::web::post().to(|body: actix_web::web::Bytes| async move {
                            drop(body);
                            actix_bare()
                        }),
                    )
                    .route(
                        BARE_DB_PATH,
                        actix_web::web::get().to(move || {
                            let pool = pool.clone();
                            async move {
                                match pool.round_trip().await {
                                    Ok(()) => actix_bare(),
                                    Err(_) => {
                                        actix_web::HttpResponse::ServiceUnavailable().finish()
                                    }
                                }
                            }
                        }),
                    )
                    .service(authx::actix::scope(PREFIX, auth.clone()))
            })
            .disable_signals()
            .bind(("127.0.0.1", 0));
            let server = match server {
                Ok(server) => server,
                Err(e) => {
                    let _ = tx.send(Err(e.to_string()));
                    return Ok(());
                }
            };
            let _ = tx.send(Ok(server.addrs()[0]));
            server.run().await
        });
        if let Err(e) = served {
            eprintln!("authx-bench: actix stopped: {e}");
        }
    });
    rx.recv().map_err(|e| e.to_string())?
}

/// The `bare` answer in actix-web.
fn actix_bare() -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok()
        .content_type("application/json")
        .insert_header(("Cache-Control", "no-store"))
        .body(BARE_BODY)
}

/// rocket with its release defaults (as many workers as cores), logging off.
async fn start_rocket(auth: Auth, pool: Pool) -> Result<SocketAddr, String> {
    let config = rocket::Config {
        address: std::net::Ipv4Addr::LOCALHOST.into(),
        port: 0,
        log_level: rocket::config::LogLevel::Off,
        cli_colors: false,
        shutdown: rocket::config::Shutdown {
            ctrlc: false,
            signals: std::collections::HashSet::new(),
            ..rocket::config::Shutdown::default()
        },
        ..rocket::Config::release_default()
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    let tx = std::sync::Mutex::new(Some(tx));
    let rocket = rocket::custom(config)
        .attach(authx::rocket::AuthFairing::new(PREFIX, auth))
        .manage(pool)
        .mount("/", rocket::routes![bare, bare_post, bare_db])
        .attach(rocket::fairing::AdHoc::on_liftoff("port", move |rocket| {
            let config = rocket.config();
            let addr = SocketAddr::new(config.address, config.port);
            if let Some(tx) = tx.lock().ok().and_then(|mut tx| tx.take()) {
                let _ = tx.send(addr);
            }
            Box::pin(async {})
        }));
    tokio::spawn(async move {
        if let Err(e) = rocket.launch().await {
            eprintln!("authx-bench: rocket stopped: {e}");
        }
    });
    rx.await.map_err(|_| "rocket did not start".to_owned())
}

/// The `bare` answer in rocket.
#[derive(rocket::Responder)]
#[response(content_type = "json")]
struct Bare {
    body: &'static str,
    cache: rocket::http::Header<'static>,
}

/// The `bare` route in rocket.
#[rocket::get("/bare")]
fn bare() -> Bare {
    Bare {
        body: BARE_BODY,
        cache: rocket::http::Header::new("Cache-Control", "no-store"),
    }
}

/// The `bare-post` route in rocket: the body read whole (up to rocket's `bytes` limit).
#[rocket::post("/bare", data = "<body>")]
fn bare_post(body: Vec<u8>) -> Bare {
    drop(body);
    bare()
}

/// The `bare-db` route in rocket.
#[rocket::get("/bare-db")]
async fn bare_db(pool: &rocket::State<Pool>) -> Result<Bare, rocket::http::Status> {
    match pool.round_trip().await {
        Ok(()) => Ok(bare()),
        Err(_) => Err(rocket::http::Status::ServiceUnavailable),
    }
}

async fn start_axum(auth: Auth, pool: Pool) -> Result<SocketAddr, String> {
    use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
    use axum::response::IntoResponse as _;
    let bare = || {
        (
            [
                (CONTENT_TYPE, "application/json"),
                (CACHE_CONTROL, "no-store"),
            ],
            BARE_BODY,
        )
    };
    let app: axum::Router = axum::Router::new()
        .route(
            BARE_PATH,
            axum::routing::get(move || async move { bare() }).post(
                move |body: axum::body::Bytes| async move {
                    drop(body);
                    bare()
                },
            ),
        )
        .route(
            BARE_DB_PATH,
            axum::routing::get(move || async move {
                match pool.round_trip().await {
                    Ok(()) => bare().into_response(),
                    Err(_) => axum::http::StatusCode::SERVICE_UNAVAILABLE.into_response(),
                }
            }),
        )
        .nest(PREFIX, authx::axum::router(auth));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let service = app.into_make_service_with_connect_info::<SocketAddr>();
        if let Err(e) = axum::serve(listener, service).await {
            eprintln!("authx-bench: axum stopped: {e}");
        }
    });
    Ok(addr)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::client::{Call, Conn};
    use crate::server::ServerOptions;

    /// Every adapter answers both floors with the `bare` body, and `bare-db` with `503` once
    /// its pool can no longer reach the database.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_adapter_serves_the_floors() {
        for adapter in Adapter::ALL {
            let store = authx::sqlx::SqliteStore::connect("sqlite::memory:")
                .await
                .unwrap();
            let pool = Pool::Sqlite(store.pool().clone());
            let options = ServerOptions {
                adapter,
                hash_concurrency: None,
                hash_queue: None,
                sqlite_pool: None,
                pg_pool: None,
            };
            let auth = crate::server::build(Arc::new(store), &options).unwrap();
            let addr = start(adapter, auth, pool.clone()).await.unwrap();
            let mut conn = Conn::open(addr).await.unwrap();
            let get = |path| Call::at_root(hyper::Method::GET, path);
            for path in [BARE_PATH, BARE_DB_PATH] {
                let reply = conn
                    .send(&get(path), Duration::from_secs(10))
                    .await
                    .unwrap();
                assert_eq!(reply.status, 200, "{} {path}", adapter.name());
                assert_eq!(
                    reply.body,
                    BARE_BODY.as_bytes(),
                    "{} {path}",
                    adapter.name()
                );
            }
            let Pool::Sqlite(sqlite) = &pool else {
                unreachable!()
            };
            sqlite.close().await;
            let reply = conn
                .send(&get(BARE_DB_PATH), Duration::from_secs(10))
                .await
                .unwrap();
            assert_eq!(reply.status, 503, "{} with its pool closed", adapter.name());
        }
    }
}
