//! A siteverify endpoint (the protocol of reCAPTCHA, hCaptcha and Turnstile) on 127.0.0.1 that
//! records each request and answers as told, or not at all.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// What the endpoint does with a request; can change while it runs.
#[derive(Debug, Clone)]
pub enum Behaviour {
    /// Answers with this HTTP status and JSON body.
    Answer(u16, &'static str),
    /// Reads the request and never answers.
    Silent,
}

impl Behaviour {
    /// `200 {"success": true}`.
    pub const ACCEPT: Self = Self::Answer(200, r#"{"success": true}"#);
    /// `200 {"success": false, "error-codes": ["invalid-input-response"]}`.
    pub const REFUSE: Self = Self::Answer(
        200,
        r#"{"success": false, "error-codes": ["invalid-input-response"]}"#,
    );
}

/// One request as the endpoint received it.
#[derive(Debug, Clone)]
pub struct VerifyRequest {
    /// E.g. `POST /siteverify HTTP/1.1`.
    pub request_line: String,
    /// The `Content-Type` header.
    pub content_type: String,
    /// The form fields, decoded, in order.
    pub fields: Vec<(String, String)>,
}

impl VerifyRequest {
    /// The value of form field `name`.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A running endpoint; it stops when dropped.
#[derive(Debug)]
pub struct SiteVerifyServer {
    url: String,
    behaviour: Arc<Mutex<Behaviour>>,
    requests: Arc<Mutex<Vec<VerifyRequest>>>,
    task: tokio::task::JoinHandle<()>,
}

impl SiteVerifyServer {
    /// Starts on an ephemeral port of 127.0.0.1.
    pub async fn start(behaviour: Behaviour) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        Self::start_on(listener, behaviour)
    }

    /// Starts on `listener` (e.g. from [`ReservedPort::listen_async`](crate::ReservedPort::listen_async)).
    pub fn start_on(listener: TcpListener, behaviour: Behaviour) -> Self {
        let addr = listener.local_addr().expect("address");
        let behaviour = Arc::new(Mutex::new(behaviour));
        let requests = Arc::default();
        let (now, seen) = (Arc::clone(&behaviour), Arc::clone(&requests));
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let behaviour = now.lock().expect("lock").clone();
                tokio::spawn(serve(stream, behaviour, Arc::clone(&seen)));
            }
        });
        Self {
            url: format!("http://{addr}/siteverify"),
            behaviour,
            requests,
            task,
        }
    }

    /// `http://127.0.0.1:port/siteverify`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Changes what the endpoint does with the next connections.
    pub fn set_behaviour(&self, behaviour: Behaviour) {
        *self.behaviour.lock().expect("lock") = behaviour;
    }

    /// Every request so far, oldest first.
    pub fn requests(&self) -> Vec<VerifyRequest> {
        self.requests.lock().expect("lock").clone()
    }
}

impl Drop for SiteVerifyServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(mut stream: TcpStream, behaviour: Behaviour, seen: Arc<Mutex<Vec<VerifyRequest>>>) {
    let mut buf = Vec::new();
    let mut chunk = [0_u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let header = |name: &str| {
        head.lines()
            .find_map(|line| {
                let (n, v) = line.split_once(':')?;
                n.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
            })
            .unwrap_or_default()
    };
    let length: usize = header("content-length").parse().unwrap_or(0);
    while buf.len() < head_end + length {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let body = String::from_utf8_lossy(&buf[head_end..head_end + length]).into_owned();
    seen.lock().expect("lock").push(VerifyRequest {
        request_line: head.lines().next().unwrap_or_default().to_owned(),
        content_type: header("content-type"),
        fields: parse_form(&body),
    });
    match behaviour {
        Behaviour::Answer(status, body) => {
            let reply = format!(
                "HTTP/1.1 {status} Whatever\r\nContent-Type: application/json\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(reply.as_bytes()).await;
            let _ = stream.shutdown().await;
        }
        Behaviour::Silent => {
            // Keep the connection open, silent, until the client gives up.
            let _ = stream.read(&mut chunk).await;
        }
    }
}

/// Decodes `application/x-www-form-urlencoded`.
fn parse_form(body: &str) -> Vec<(String, String)> {
    fn decode(s: &str) -> String {
        let bytes = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < bytes.len() => {
                    let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).expect("ascii");
                    out.push(u8::from_str_radix(hex, 16).expect("hex escape"));
                    i += 2;
                }
                other => out.push(other),
            }
            i += 1;
        }
        String::from_utf8(out).expect("UTF-8 field")
    }
    body.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(name), decode(value))
        })
        .collect()
}
