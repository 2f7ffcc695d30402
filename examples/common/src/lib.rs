//! What the three example applications (axum, actix-web, rocket) share, so that they answer
//! alike from outside: their server limits, the contract's JSON for what lies outside authx's
//! prefix, and a clear message when they cannot start.
//!
//! # Server limits, the same in the three examples
//!
//! | what | limit | answer |
//! |---|---|---|
//! | header block ([`authx::config::header_block_len`]) | over 32 KiB ([`HEADER_LIMIT`]) | `431` JSON, code `headers_too_large`, on every path |
//! | request head (request line and headers), the server's own buffer | over 128 KiB ([`HEAD_CAP`]) | the server's bare `431` (no body: the application never sees the request), connection closed |
//! | time for a request head to arrive (the first on a connection, or the next on a kept-alive one) | 10 s ([`HEADER_READ_TIMEOUT`]) | `408` (no body), connection closed |
//! | a body that cannot be read as sent (broken chunked encoding) | | `400` JSON, code `invalid_body` (the adapters, under authx's prefix) |
//!
//! The axum and rocket examples serve HTTP/1 with [`serve_http1`], a hyper server with these
//! limits, since neither framework's own server lets an application set them (axum's
//! `serve` takes no hyper settings; rocket 0.5 sets no header timeout at all). The actix-web
//! example sets actix's own `client_request_timeout`, and turns keep-alive off: actix-web 4
//! bounds only the first request head of a connection, and the head of a later request on a
//! kept-alive connection could trickle in for ever (its head buffer is fixed at 128 KiB).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use authx::config::{HEADER_LIMIT, header_block_len};
use authx::{AuthError, AuthResponse};
use bytes::Bytes;
use http_body_util::{Either, Full};
use hyper::body::Incoming;
use hyper::service::Service;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

/// How long a connection may take to send a request head: 10 s.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The server's buffer for one request head: 128 KiB (actix-web's, which it does not let an
/// application change; the hyper server of the other examples is set to the same).
pub const HEAD_CAP: usize = 128 * 1024;

/// The limits an example's server applies, before any handler runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// Time for a request head to arrive, the first or the next on a kept-alive connection;
    /// then the connection is closed. Default [`HEADER_READ_TIMEOUT`].
    pub header_read_timeout: Duration,
    /// The largest request head the server reads (hyper's `max_header_size`); a bigger one is
    /// refused with a bare `431`. Default [`HEAD_CAP`].
    pub head_cap: usize,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: HEADER_READ_TIMEOUT,
            head_cap: HEAD_CAP,
        }
    }
}

/// The body of every answer the examples make themselves.
pub type JsonBody = Full<Bytes>;

/// The core's answer as an `http` response, headers verbatim and in order.
pub fn json_response(answer: AuthResponse) -> http::Response<JsonBody> {
    let mut response = http::Response::new(Full::new(Bytes::from(answer.body)));
    *response.status_mut() = http::StatusCode::from_u16(answer.status)
        .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    for (name, value) in answer.headers {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            http::HeaderValue::from_str(&value),
        ) {
            headers.append(name, value);
        }
    }
    response
}

/// The contract's JSON answer for `error`.
pub fn error_response(error: &AuthError) -> http::Response<JsonBody> {
    json_response(AuthResponse::from_error(error))
}

/// Whether a header block is over [`HEADER_LIMIT`], measured as authx measures it.
pub fn headers_too_large(headers: &http::HeaderMap) -> bool {
    header_block_len(
        headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_bytes())),
    ) > HEADER_LIMIT
}

/// Serves HTTP/1 on `listener` with `limits` until `shutdown` resolves, then lets open
/// connections finish their requests (at most 10 s).
///
/// Each connection gets the service `service_for(peer)` makes, behind a check of the header
/// block: over [`HEADER_LIMIT`] the answer is `431` JSON and the service is not called.
pub async fn serve_http1<F, S, B>(
    listener: TcpListener,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()>,
    service_for: F,
) where
    F: Fn(SocketAddr) -> S,
    S: Service<http::Request<Incoming>, Response = http::Response<B>, Error = Infallible>
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_header_size(limits.head_cap)
        .keep_alive(true);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, say: wait rather than spin.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        // hyper closes a connection whose head did not arrive in time without a word; actix
        // answers `408` first. A second handle on the socket lets this server answer alike.
        let Ok((stream, spare)) = with_spare_handle(stream) else {
            continue;
        };
        let service = service_for(peer);
        let guarded = hyper::service::service_fn(move |request: http::Request<Incoming>| {
            let answer = if headers_too_large(request.headers()) {
                Err(error_response(&AuthError::HeadersTooLarge))
            } else {
                Ok(service.call(request))
            };
            async move {
                Ok::<_, Infallible>(match answer {
                    Ok(call) => match call.await {
                        Ok(response) => response.map(Either::Left),
                        Err(never) => match never {},
                    },
                    Err(refused) => refused.map(Either::Right),
                })
            }
        });
        let connection = graceful.watch(builder.serve_connection(TokioIo::new(stream), guarded));
        tokio::spawn(async move {
            match connection.await {
                Err(e) if e.is_timeout() => request_timeout(&spare),
                // A connection closed by a limit or by its client is no error of the server's.
                Err(e) => tracing::debug!(error = %e, "connection ended"),
                Ok(()) => {}
            }
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(Duration::from_secs(10), graceful.shutdown()).await;
}

/// The stream, and a second handle on its socket, kept for [`request_timeout`].
fn with_spare_handle(
    stream: tokio::net::TcpStream,
) -> std::io::Result<(tokio::net::TcpStream, std::net::TcpStream)> {
    let stream = stream.into_std()?;
    let spare = stream.try_clone()?;
    Ok((tokio::net::TcpStream::from_std(stream)?, spare))
}

/// Answers `408 Request Timeout` on a connection whose request head did not arrive in time
/// (hyper has given the connection up), as actix-web does, then closes it. Best effort: the
/// socket is non-blocking, and a head half-sent may make the close a reset.
fn request_timeout(spare: &std::net::TcpStream) {
    use std::io::Write as _;
    let mut socket = spare;
    let _ = socket.write_all(
        b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
    );
    let _ = spare.shutdown(std::net::Shutdown::Both);
}

/// Prints why the application cannot start, each cause on a line of its own, and exits with
/// status 1.
pub fn exit_on_error(error: &(dyn std::error::Error + 'static)) -> ! {
    eprintln!("cannot start: {error}");
    let mut cause = error.source();
    while let Some(error) = cause {
        eprintln!("  because: {error}");
        cause = error.source();
    }
    std::process::exit(1)
}

/// Resolves on Ctrl-C (or never, if the signal cannot be listened for).
pub async fn ctrl_c() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}
