//! An SMTP server on threads of the test process (mailin-embedded) that records every message,
//! a self-signed certificate for its STARTTLS, and a server that never greets.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use mailin_embedded::AuthMechanism;
use mailin_embedded::response::{AUTH_OK, INTERNAL_ERROR, INVALID_CREDENTIALS, NO_MAILBOX, OK};
use mailin_embedded::{Handler, Response, Server, SslConfig};

use crate::mime::Message;

/// A self-signed certificate for `127.0.0.1` and `localhost`, in PEM files of a temporary
/// directory (what `smtp_ca_file` and the server read) and in DER.
pub struct TestCert {
    _dir: tempfile::TempDir,
    /// The certificate, PEM: also the CA file a client trusts.
    pub cert_path: PathBuf,
    /// The private key, PEM.
    pub key_path: PathBuf,
    /// The certificate, DER.
    pub cert_der: Vec<u8>,
    /// The private key, PKCS#8 DER.
    pub key_der: Vec<u8>,
}

impl TestCert {
    /// Generates a fresh certificate and key.
    pub fn generate() -> Self {
        let certified = rcgen::generate_simple_self_signed(vec![
            "127.0.0.1".to_owned(),
            "localhost".to_owned(),
        ])
        .expect("generate certificate");
        let dir = tempfile::tempdir().expect("temporary directory");
        let cert_path = dir.path().join("cert.pem");
        let key_path = dir.path().join("key.pem");
        std::fs::write(&cert_path, certified.cert.pem()).expect("write certificate");
        std::fs::write(&key_path, certified.signing_key.serialize_pem()).expect("write key");
        Self {
            cert_der: certified.cert.der().to_vec(),
            key_der: certified.signing_key.serialize_der(),
            _dir: dir,
            cert_path,
            key_path,
        }
    }
}

/// One message as the server received it.
#[derive(Debug, Clone, Default)]
pub struct Received {
    /// `MAIL FROM`.
    pub envelope_from: String,
    /// `RCPT TO`, in order.
    pub envelope_to: Vec<String>,
    /// The user that authenticated on the connection, if any (the server allows AUTH only
    /// after STARTTLS, so this also proves the connection was encrypted).
    pub authenticated_as: Option<String>,
    /// The message as sent after `DATA`.
    pub data: Vec<u8>,
}

impl Received {
    /// The message text.
    pub fn text(&self) -> String {
        String::from_utf8(self.data.clone()).expect("message is UTF-8")
    }

    /// The parsed message.
    pub fn message(&self) -> Message {
        Message::parse(&self.text())
    }
}

/// The messages a server received, shared with the server's threads.
#[derive(Debug, Clone, Default)]
pub struct Inbox(Arc<Mutex<Vec<Received>>>);

impl Inbox {
    /// Every message so far, oldest first.
    pub fn messages(&self) -> Vec<Received> {
        self.0.lock().expect("inbox lock").clone()
    }

    /// How many messages arrived so far.
    pub fn len(&self) -> usize {
        self.0.lock().expect("inbox lock").len()
    }

    /// Whether nothing arrived yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The messages whose envelope names `recipient`.
    pub fn to(&self, recipient: &str) -> Vec<Received> {
        self.messages()
            .into_iter()
            .filter(|m| m.envelope_to.iter().any(|to| to == recipient))
            .collect()
    }

    /// Polls (every 20 ms, at most `within`) until at least `count` messages arrived and
    /// returns them all; panics when they do not.
    pub async fn wait_for(&self, count: usize, within: Duration) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let messages = self.messages();
            if messages.len() >= count {
                return messages;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "expected {count} messages within {within:?}, got {}",
                messages.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn push(&self, message: Received) {
        self.0.lock().expect("inbox lock").push(message);
    }
}

/// Records each message. Refuses recipients `nobody@...` for good (550) and `busy@...` for now
/// (451); accepts only the configured credentials.
#[derive(Clone, Default)]
struct Recorder {
    inbox: Inbox,
    credentials: Option<Arc<(String, String)>>,
    authenticated_as: Option<String>,
    current: Received,
}

impl Recorder {
    fn login(&mut self, user: &str, password: &str) -> Response {
        match &self.credentials {
            Some(credentials) if credentials.0 == user && credentials.1 == password => {
                self.authenticated_as = Some(user.to_owned());
                AUTH_OK
            }
            _ => INVALID_CREDENTIALS,
        }
    }
}

impl Handler for Recorder {
    fn rcpt(&mut self, to: &str) -> Response {
        if to.starts_with("nobody@") {
            NO_MAILBOX
        } else if to.starts_with("busy@") {
            INTERNAL_ERROR
        } else {
            OK
        }
    }

    fn data_start(&mut self, _domain: &str, from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.current = Received {
            envelope_from: from.to_owned(),
            envelope_to: to.to_vec(),
            authenticated_as: self.authenticated_as.clone(),
            data: Vec::new(),
        };
        OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.current.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        self.inbox.push(std::mem::take(&mut self.current));
        OK
    }

    fn auth_plain(&mut self, _authorization_id: &str, user: &str, password: &str) -> Response {
        self.login(user, password)
    }

    fn auth_login(&mut self, user: &str, password: &str) -> Response {
        self.login(user, password)
    }
}

/// A running SMTP server; its threads live until the test process ends.
#[derive(Debug, Clone)]
pub struct SmtpServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// What it received.
    pub inbox: Inbox,
}

impl SmtpServer {
    /// A plain server (no STARTTLS, no AUTH) on an ephemeral port of 127.0.0.1.
    pub fn start() -> Self {
        Self::builder().start()
    }

    /// A server to configure: STARTTLS, AUTH.
    pub fn builder() -> SmtpServerBuilder {
        SmtpServerBuilder::default()
    }
}

/// Configures an [`SmtpServer`].
#[derive(Default)]
#[must_use]
pub struct SmtpServerBuilder {
    tls: Option<(String, String)>,
    auth: Vec<AuthMechanism>,
    credentials: Option<(String, String)>,
}

impl SmtpServerBuilder {
    /// Offers STARTTLS with `cert`.
    pub fn starttls(mut self, cert: &TestCert) -> Self {
        self.tls = Some((
            cert.cert_path.display().to_string(),
            cert.key_path.display().to_string(),
        ));
        self
    }

    /// Offers AUTH with `mechanisms` (only once TLS is on), accepting `user` and `password`.
    pub fn auth(mut self, mechanisms: &[AuthMechanism], user: &str, password: &str) -> Self {
        self.auth = mechanisms.to_vec();
        self.credentials = Some((user.to_owned(), password.to_owned()));
        self
    }

    /// Starts on an ephemeral port of 127.0.0.1.
    pub fn start(self) -> SmtpServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind SMTP listener");
        self.start_on(listener)
    }

    /// Starts on `listener` (e.g. from [`ReservedPort::listen`](crate::ReservedPort::listen)).
    pub fn start_on(self, listener: TcpListener) -> SmtpServer {
        crate::install_crypto_provider();
        let addr = listener.local_addr().expect("listener address");
        let recorder = Recorder {
            credentials: self.credentials.map(Arc::new),
            ..Recorder::default()
        };
        let inbox = recorder.inbox.clone();
        let mut server = Server::new(recorder);
        server.with_name("smtp.test").with_tcp_listener(listener);
        if let Some((cert_path, key_path)) = self.tls {
            server
                .with_ssl(SslConfig::SelfSigned {
                    cert_path,
                    key_path,
                })
                .expect("server TLS configuration");
        }
        for mechanism in self.auth {
            server.with_auth(mechanism);
        }
        std::thread::spawn(move || {
            let _ = server.serve();
        });
        SmtpServer { addr, inbox }
    }
}

/// Accepts connections and keeps them open without a word: no greeting, ever.
#[derive(Debug)]
pub struct SilentServer {
    /// Where it listens.
    pub addr: SocketAddr,
    accepted: Arc<Mutex<usize>>,
    task: tokio::task::JoinHandle<()>,
}

impl SilentServer {
    /// Starts on an ephemeral port of 127.0.0.1 (call inside a runtime).
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        let accepted = Arc::new(Mutex::new(0));
        let count = Arc::clone(&accepted);
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                *count.lock().expect("lock") += 1;
                held.push(stream);
            }
        });
        Self {
            addr,
            accepted,
            task,
        }
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        *self.accepted.lock().expect("lock")
    }
}

impl Drop for SilentServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
