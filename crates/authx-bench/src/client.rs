//! The load generator's HTTP/1.1 client: one hyper connection per simulated client, kept
//! alive, with no pool, redirects, cookie store or TLS between the benchmark and the socket.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Where the auth router is mounted in the benchmark servers.
pub(crate) const PREFIX: &str = "/api/users";

/// One keep-alive connection to the server.
pub(crate) struct Conn {
    addr: SocketAddr,
    host: HeaderValue,
    sender: Option<SendRequest<Full<Bytes>>>,
}

/// One answer, body read to the end (so the connection can be reused).
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl Reply {
    /// The value of cookie `name` among the `Set-Cookie` headers.
    pub(crate) fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|c| {
                let (n, rest) = c.split_once('=')?;
                (n == name).then(|| rest.split(';').next().unwrap_or_default().to_owned())
            })
    }
}

/// What a request is: method, path (under [`PREFIX`] unless made with
/// [`at_root`](Call::at_root)), headers and JSON body.
#[derive(Clone)]
pub(crate) struct Call {
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) headers: Vec<(header::HeaderName, HeaderValue)>,
    pub(crate) body: Option<Bytes>,
}

impl Call {
    /// `GET` of `path` under [`PREFIX`].
    pub(crate) fn get(path: &str) -> Self {
        Self::at_root(Method::GET, &format!("{PREFIX}{path}"))
    }

    /// A request for `path` as it is, outside the auth router.
    pub(crate) fn at_root(method: Method, path: &str) -> Self {
        Self {
            method,
            path: path.to_owned(),
            headers: Vec::new(),
            body: None,
        }
    }

    /// `POST` to `path` under [`PREFIX`].
    pub(crate) fn post(path: &str) -> Self {
        Self {
            method: Method::POST,
            ..Self::get(path)
        }
    }

    pub(crate) fn json(mut self, value: &serde_json::Value) -> Self {
        self.body = Some(Bytes::from(value.to_string()));
        self
    }

    pub(crate) fn header(mut self, name: header::HeaderName, value: &str) -> Self {
        if let Ok(value) = HeaderValue::from_str(value) {
            self.headers.push((name, value));
        }
        self
    }
}

impl Conn {
    /// Opens a connection to `addr`.
    pub(crate) async fn open(addr: SocketAddr) -> Result<Self, String> {
        let host = HeaderValue::from_str(&addr.to_string()).map_err(|e| e.to_string())?;
        let mut conn = Self {
            addr,
            host,
            sender: None,
        };
        conn.connect().await?;
        Ok(conn)
    }

    async fn connect(&mut self) -> Result<(), String> {
        let stream = TcpStream::connect(self.addr)
            .await
            .map_err(|e| format!("connect {}: {e}", self.addr))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(async move {
            // Ends when the server closes the connection or the sender is dropped.
            let _ = connection.await;
        });
        self.sender = Some(sender);
        Ok(())
    }

    /// Sends `call` and reads the whole answer; a broken connection is reopened on the next
    /// call. Bounded by `timeout`.
    pub(crate) async fn send(&mut self, call: &Call, timeout: Duration) -> Result<Reply, String> {
        let deadline = Instant::now() + timeout;
        match tokio::time::timeout_at(deadline.into(), self.exchange(call)).await {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(e)) => {
                self.sender = None;
                Err(e)
            }
            Err(_) => {
                self.sender = None;
                Err(format!("no answer within {timeout:?}"))
            }
        }
    }

    async fn exchange(&mut self, call: &Call) -> Result<Reply, String> {
        if self.sender.as_ref().is_none_or(SendRequest::is_closed) {
            self.connect().await?;
        }
        let sender = self.sender.as_mut().ok_or("not connected")?;
        sender.ready().await.map_err(|e| e.to_string())?;
        let mut request = Request::builder()
            .method(call.method.clone())
            .uri(call.path.as_str())
            .header(header::HOST, self.host.clone());
        if call.body.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        for (name, value) in &call.headers {
            request = request.header(name, value);
        }
        let request = request
            .body(Full::new(call.body.clone().unwrap_or_default()))
            .map_err(|e| e.to_string())?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
        Ok(Reply {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
        })
    }
}
