//! Servers for authx's own tests, shared by the unit tests of `authx-core` and the HTTP
//! conformance suite, so that every test talks to something that really speaks the protocol:
//!
//! - [`smtp`]: an SMTP server (mailin-embedded) that runs in the test process and records what
//!   it receives, with STARTTLS on a self-signed certificate and AUTH when asked; a server that
//!   accepts connections and never greets;
//! - [`mime`]: enough of a MIME reader to check the messages lettre writes;
//! - [`siteverify`]: a CAPTCHA siteverify endpoint (reCAPTCHA, hCaptcha, Turnstile protocol);
//! - [`oidc`]: an OpenID Connect provider (discovery, code grant with PKCE, RS256 ID tokens,
//!   JWKS, key rotation, misbehaviour on demand), and [`github`]: a GitHub-shaped API;
//! - [`ReservedPort`]: a port that refuses connections until a server is started on it;
//! - [`service_url`]: the URL of a database or cache a test needs, or a loud skip (a failure
//!   when `AUTHX_REQUIRE_SERVICES=1`, as in CI).
//!
//! Not published; nothing here is part of authx's API. Failures panic: they are test failures.
#![allow(clippy::missing_panics_doc)]

pub mod github;
pub mod mime;
mod oauth;
pub mod oidc;
pub mod siteverify;
pub mod smtp;

use std::net::SocketAddr;

pub use oauth::{AuthorizeRequest, CLIENT_ID, CLIENT_SECRET};

/// mailin-embedded brings rustls' aws-lc-rs provider next to the ring provider lettre and
/// reqwest use: with two compiled in, rustls needs a process-wide choice. Call before any TLS.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The URL in environment variable `var` (`AUTHX_TEST_POSTGRES_URL`, `AUTHX_TEST_REDIS_URL`,
/// `AUTHX_TEST_MYSQL_URL`) for a test that needs that service, or `None` after printing that the
/// test skipped. With `AUTHX_REQUIRE_SERVICES=1` a missing variable fails the test instead, so
/// CI can never pass a test by leaving its service out.
///
/// # Panics
/// When the variable is unset and `AUTHX_REQUIRE_SERVICES` is `1`.
pub fn service_url(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ if std::env::var("AUTHX_REQUIRE_SERVICES").is_ok_and(|v| v.trim() == "1") => {
            panic!("{var} is not set, and AUTHX_REQUIRE_SERVICES=1 requires the service")
        }
        _ => {
            println!("skipped: {var} not set");
            None
        }
    }
}

/// A port on 127.0.0.1 that is bound but not listening: connecting to it is refused (the
/// "server down" case) and no other process can take it, until [`listen`](Self::listen) hands
/// it to a server (the "server back up" case).
#[derive(Debug)]
pub struct ReservedPort {
    socket: socket2::Socket,
    addr: SocketAddr,
}

impl ReservedPort {
    /// Binds an ephemeral port on 127.0.0.1 without listening.
    pub fn new() -> Self {
        use socket2::{Domain, Socket, Type};
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("TCP socket");
        socket
            .bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
            .expect("bind 127.0.0.1:0");
        let addr = socket
            .local_addr()
            .expect("bound address")
            .as_socket()
            .expect("an IP address");
        Self { socket, addr }
    }

    /// The reserved address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Starts listening: from now on connections are accepted (a blocking std listener).
    pub fn listen(self) -> std::net::TcpListener {
        self.socket.listen(128).expect("listen");
        self.socket.into()
    }

    /// Starts listening, as a tokio listener (call inside a runtime).
    pub fn listen_async(self) -> tokio::net::TcpListener {
        let listener = self.listen();
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        tokio::net::TcpListener::from_std(listener).expect("tokio listener")
    }
}

impl Default for ReservedPort {
    fn default() -> Self {
        Self::new()
    }
}
