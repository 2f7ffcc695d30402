//! Delivery against mailin-embedded, an SMTP server (STARTTLS, AUTH PLAIN/LOGIN) that runs on
//! a thread of the test process, so nothing has to be installed for these tests to run.

use std::net::{IpAddr, SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use mailin_embedded::response::{AUTH_OK, INTERNAL_ERROR, INVALID_CREDENTIALS, NO_MAILBOX, OK};
use mailin_embedded::{AuthMechanism, Handler, Response, Server, SslConfig};

use super::*;

const SENDER: &str = r#""Example Site" <noreply@example.com>"#;
const LINK: &str =
    "http://localhost:8000/confirm?token=q8Yy3xW0b1sV4kN6mZr7uT2aP9cD5eF0gH1iJ3kL5mN";
const USER: &str = "mailer";
const PASSWORD: &str = "correct horse battery staple";

/// mailin-embedded brings rustls' aws-lc-rs provider next to lettre's ring: pick one.
fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A self-signed certificate for 127.0.0.1 and localhost, written to a temporary directory.
struct TestCert {
    _dir: tempfile::TempDir,
    cert_path: PathBuf,
    key_path: PathBuf,
    cert_der: Vec<u8>,
    key_der: Vec<u8>,
}

impl TestCert {
    fn generate() -> Self {
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
struct Received {
    envelope_from: String,
    envelope_to: Vec<String>,
    authenticated_as: Option<String>,
    data: Vec<u8>,
}

impl Received {
    fn text(&self) -> String {
        String::from_utf8(self.data.clone()).expect("message is UTF-8")
    }
}

type Inbox = Arc<Mutex<Vec<Received>>>;

/// Records each message; refuses recipients `nobody@...` for good and `busy@...` for now.
#[derive(Clone, Default)]
struct Recorder {
    inbox: Inbox,
    authenticated_as: Option<String>,
    current: Received,
}

impl Recorder {
    fn login(&mut self, user: &str, password: &str) -> Response {
        if user == USER && password == PASSWORD {
            self.authenticated_as = Some(user.to_owned());
            AUTH_OK
        } else {
            INVALID_CREDENTIALS
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
        let message = std::mem::take(&mut self.current);
        self.inbox.lock().expect("inbox lock").push(message);
        OK
    }

    fn auth_plain(&mut self, _authorization_id: &str, user: &str, password: &str) -> Response {
        self.login(user, password)
    }

    fn auth_login(&mut self, user: &str, password: &str) -> Response {
        self.login(user, password)
    }
}

/// Starts an SMTP server on 127.0.0.1 with an ephemeral port. With a certificate it offers
/// STARTTLS, and AUTH (only once TLS is on) with the given mechanisms. The server thread lives
/// until the test process ends.
fn start_smtp_server(cert: Option<&TestCert>, auth: &[AuthMechanism]) -> (SocketAddr, Inbox) {
    install_crypto_provider();
    let recorder = Recorder::default();
    let inbox = Arc::clone(&recorder.inbox);
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind SMTP listener");
    let addr = listener.local_addr().expect("listener address");
    let mut server = Server::new(recorder);
    server.with_name("smtp.test").with_tcp_listener(listener);
    if let Some(cert) = cert {
        server
            .with_ssl(SslConfig::SelfSigned {
                cert_path: cert.cert_path.display().to_string(),
                key_path: cert.key_path.display().to_string(),
            })
            .expect("server TLS configuration");
    }
    for mechanism in auth {
        server.with_auth(mechanism.clone());
    }
    std::thread::spawn(move || {
        let _ = server.serve();
    });
    (addr, inbox)
}

/// Puts implicit TLS in front of a plain SMTP server (mailin-embedded only does STARTTLS).
async fn start_implicit_tls_front(upstream: SocketAddr, cert: &TestCert) -> SocketAddr {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    install_crypto_provider();
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(cert.cert_der.clone())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.key_der.clone())),
        )
        .expect("front TLS configuration");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind TLS front");
    let addr = listener.local_addr().expect("front address");
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut plain) = tokio::net::TcpStream::connect(upstream).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    addr
}

fn settings(addr: SocketAddr, tls: SmtpTls) -> SmtpSettings {
    let mut settings = SmtpSettings::new(addr.ip().to_string());
    settings.port = Some(addr.port());
    settings.tls = tls;
    settings.timeout = Duration::from_secs(20);
    settings
}

fn with_credentials(mut settings: SmtpSettings, password: &str) -> SmtpSettings {
    settings.username = Some(USER.to_owned());
    settings.password = Some(Secret::new(password));
    settings
}

fn confirmation_mail(to: &str) -> Mail {
    Mail {
        to: to.to_owned(),
        subject: "Confirm email".to_owned(),
        text: format!("Welcome to Example Site!\n\nConfirm your email:\n{LINK}\n\nThanks"),
        html: format!(
            "<p>Welcome to Example Site!</p><p><a href=\"{LINK}\">Confirm your email</a></p>"
        ),
    }
}

async fn deliver(settings: SmtpSettings, to: &str) -> Result<(), MailError> {
    let mailer = SmtpMailer::new(settings).expect("valid settings");
    mailer.deliver(SENDER, &confirmation_mail(to)).await
}

fn single_message(inbox: &Inbox) -> Received {
    let inbox = inbox.lock().expect("inbox lock");
    assert_eq!(inbox.len(), 1, "expected one message, got {}", inbox.len());
    inbox[0].clone()
}

// ---- a small MIME reader, enough to check what lettre wrote ----

/// Header names (lower case) and values, in order.
type Headers = Vec<(String, String)>;
/// Each part's Content-Type and decoded body.
type Parts = Vec<(String, String)>;

/// Splits a header block (unfolding continuation lines) and the body at the first blank line.
fn split_headers(entity: &str) -> (Headers, &str) {
    let (head, body) = entity
        .split_once("\r\n\r\n")
        .expect("headers end with a blank line");
    let mut headers = Headers::new();
    for line in head.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            let last = headers.last_mut().expect("continuation after a header");
            last.1.push(' ');
            last.1.push_str(line.trim());
        } else {
            let (name, value) = line.split_once(':').expect("header has a colon");
            headers.push((name.to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    (headers, body)
}

fn header<'h>(headers: &'h [(String, String)], name: &str) -> &'h str {
    headers.iter().find(|(n, _)| n == name).map_or_else(
        || panic!("no {name} header in {headers:?}"),
        |(_, v)| v.as_str(),
    )
}

fn boundary(content_type: &str) -> String {
    let start = content_type
        .find("boundary=")
        .expect("multipart has a boundary")
        + "boundary=".len();
    let rest = &content_type[start..];
    let end = rest.find(';').unwrap_or(rest.len());
    rest[..end].trim().trim_matches('"').to_owned()
}

fn decode_quoted_printable(body: &str) -> String {
    let mut out = Vec::new();
    let bytes = body.replace("=\r\n", "").into_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).expect("ascii escape");
            out.push(u8::from_str_radix(hex, 16).expect("hex escape"));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).expect("decoded part is UTF-8")
}

/// The decoded body of a part, by its Content-Transfer-Encoding.
fn decode_part(headers: &[(String, String)], body: &str) -> String {
    match header(headers, "content-transfer-encoding")
        .to_ascii_lowercase()
        .as_str()
    {
        "7bit" | "8bit" => body.to_owned(),
        "quoted-printable" => decode_quoted_printable(body),
        "base64" => {
            let compact: String = body.split_whitespace().collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(compact)
                .expect("valid base64");
            String::from_utf8(bytes).expect("decoded part is UTF-8")
        }
        other => panic!("unexpected transfer encoding {other}"),
    }
}

/// The content types and decoded bodies of the parts of a `multipart/alternative` message.
fn alternative_parts(message: &str) -> (Headers, Parts) {
    let (headers, body) = split_headers(message);
    let content_type = header(&headers, "content-type");
    assert!(
        content_type.starts_with("multipart/alternative"),
        "Content-Type is {content_type}"
    );
    let delimiter = format!("--{}", boundary(content_type));
    let parts = body
        .split(delimiter.as_str())
        .skip(1)
        .filter(|part| !part.starts_with("--"))
        .map(|part| {
            let part = part.strip_prefix("\r\n").unwrap_or(part);
            let (part_headers, part_body) = split_headers(part);
            let part_body = part_body.strip_suffix("\r\n").unwrap_or(part_body);
            (
                header(&part_headers, "content-type").to_owned(),
                decode_part(&part_headers, part_body),
            )
        })
        .collect();
    (headers, parts)
}

// ---- settings ----

#[test]
fn tls_mode_parses_case_insensitively_and_names_its_port() {
    assert_eq!("none".parse::<SmtpTls>(), Ok(SmtpTls::None));
    assert_eq!(" StartTLS ".parse::<SmtpTls>(), Ok(SmtpTls::StartTls));
    assert_eq!("TLS".parse::<SmtpTls>(), Ok(SmtpTls::Tls));
    assert!("ssl".parse::<SmtpTls>().is_err());
    let port_by_mistake = "465".parse::<SmtpTls>().expect_err("a port is not a mode");
    assert!(
        port_by_mistake.to_string().contains("port"),
        "{port_by_mistake}"
    );
    for mode in [SmtpTls::None, SmtpTls::StartTls, SmtpTls::Tls] {
        assert_eq!(mode.to_string().parse::<SmtpTls>(), Ok(mode));
    }

    let mut settings = SmtpSettings::new("smtp.example.com");
    assert_eq!((settings.tls, settings.port()), (SmtpTls::StartTls, 587));
    settings.tls = SmtpTls::None;
    assert_eq!(settings.port(), 25);
    settings.tls = SmtpTls::Tls;
    assert_eq!(settings.port(), 465);
    settings.port = Some(2525);
    assert_eq!(settings.port(), 2525);
}

#[test]
fn unusable_settings_are_refused_at_start() {
    install_crypto_provider();
    let invalid = |settings: SmtpSettings| SmtpMailer::new(settings).expect_err("invalid");

    assert!(matches!(
        invalid(SmtpSettings::new(" ")),
        SmtpSettingsError::EmptyHost
    ));

    let mut only_user = SmtpSettings::new("localhost");
    only_user.username = Some(USER.to_owned());
    assert!(matches!(
        invalid(only_user),
        SmtpSettingsError::IncompleteCredentials
    ));

    let mut zero = SmtpSettings::new("localhost");
    zero.timeout = Duration::ZERO;
    assert!(matches!(invalid(zero), SmtpSettingsError::ZeroTimeout));

    let dir = tempfile::tempdir().expect("temporary directory");
    let mut missing = SmtpSettings::new("localhost");
    missing.ca_file = Some(dir.path().join("missing.pem"));
    assert!(matches!(
        invalid(missing),
        SmtpSettingsError::CaFileUnreadable { .. }
    ));

    let not_pem = dir.path().join("not.pem");
    std::fs::write(&not_pem, "not a certificate\n").expect("write file");
    let mut garbage = SmtpSettings::new("localhost");
    garbage.ca_file = Some(not_pem);
    assert!(matches!(
        invalid(garbage),
        SmtpSettingsError::CaFileInvalid { .. }
    ));
}

#[test]
fn debug_output_never_shows_the_password() {
    install_crypto_provider();
    let settings = with_credentials(SmtpSettings::new("localhost"), PASSWORD);
    assert!(!format!("{settings:?}").contains(PASSWORD));
    let mailer = SmtpMailer::new(settings).expect("valid settings");
    assert!(!format!("{mailer:?}").contains(PASSWORD));
}

// ---- delivery ----

#[tokio::test]
async fn plain_delivery_sends_both_parts_with_the_link() {
    let (addr, inbox) = start_smtp_server(None, &[]);
    deliver(settings(addr, SmtpTls::None), "ada@example.org")
        .await
        .expect("delivered");

    let received = single_message(&inbox);
    assert_eq!(received.envelope_from, "noreply@example.com");
    assert_eq!(received.envelope_to, ["ada@example.org"]);

    let message = received.text();
    let (headers, parts) = alternative_parts(&message);
    let from = header(&headers, "from");
    assert!(
        from.contains("Example Site") && from.ends_with("<noreply@example.com>"),
        "From: {from}"
    );
    assert_eq!(header(&headers, "to"), "ada@example.org");
    assert_eq!(header(&headers, "subject"), "Confirm email");
    let message_id = header(&headers, "message-id");
    assert!(
        message_id.starts_with('<') && message_id.ends_with("@example.com>"),
        "Message-ID: {message_id}"
    );

    assert_eq!(parts.len(), 2, "{parts:?}");
    let (text_type, text) = &parts[0];
    let (html_type, html) = &parts[1];
    assert!(text_type.starts_with("text/plain"), "{text_type}");
    assert!(html_type.starts_with("text/html"), "{html_type}");
    assert!(
        text.lines().any(|line| line == LINK),
        "no line with the link alone in {text:?}"
    );
    assert!(html.contains(&format!("href=\"{LINK}\"")), "{html}");
}

#[tokio::test]
async fn starttls_trusts_a_self_signed_certificate_from_ca_file() {
    let cert = TestCert::generate();
    let (addr, inbox) = start_smtp_server(Some(&cert), &[]);
    let mut settings = settings(addr, SmtpTls::StartTls);
    settings.ca_file = Some(cert.cert_path.clone());

    deliver(settings, "ada@example.org")
        .await
        .expect("delivered");
    let message = single_message(&inbox).text();
    assert!(message.contains("Subject: Confirm email\r\n"), "{message}");
}

#[tokio::test]
async fn starttls_refuses_an_untrusted_certificate() {
    let cert = TestCert::generate();
    let (addr, inbox) = start_smtp_server(Some(&cert), &[]);

    let error = deliver(settings(addr, SmtpTls::StartTls), "ada@example.org")
        .await
        .expect_err("certificate is not trusted");
    assert!(matches!(error, MailError::Transient(_)), "{error:?}");
    assert!(inbox.lock().expect("inbox lock").is_empty());
}

#[tokio::test]
async fn starttls_is_required_when_asked_for() {
    // A server without STARTTLS: never fall back to plain text.
    let (addr, inbox) = start_smtp_server(None, &[]);
    let error = deliver(settings(addr, SmtpTls::StartTls), "ada@example.org")
        .await
        .expect_err("no STARTTLS offered");
    assert!(!matches!(error, MailError::Timeout(_)), "{error:?}");
    assert!(inbox.lock().expect("inbox lock").is_empty());
}

#[tokio::test]
async fn implicit_tls_delivers() {
    let cert = TestCert::generate();
    let (upstream, inbox) = start_smtp_server(None, &[]);
    let front = start_implicit_tls_front(upstream, &cert).await;
    let mut settings = settings(front, SmtpTls::Tls);
    settings.ca_file = Some(cert.cert_path.clone());

    deliver(settings, "ada@example.org")
        .await
        .expect("delivered");
    assert_eq!(single_message(&inbox).envelope_to, ["ada@example.org"]);
}

#[tokio::test]
async fn auth_plain_with_the_right_password_delivers() {
    let cert = TestCert::generate();
    let (addr, inbox) = start_smtp_server(Some(&cert), &[AuthMechanism::Plain]);
    let mut settings = with_credentials(settings(addr, SmtpTls::StartTls), PASSWORD);
    settings.ca_file = Some(cert.cert_path.clone());

    deliver(settings, "ada@example.org")
        .await
        .expect("delivered");
    assert_eq!(
        single_message(&inbox).authenticated_as.as_deref(),
        Some(USER)
    );
}

#[tokio::test]
async fn auth_login_with_the_right_password_delivers() {
    let cert = TestCert::generate();
    let (addr, inbox) = start_smtp_server(Some(&cert), &[AuthMechanism::Login]);
    let mut settings = with_credentials(settings(addr, SmtpTls::StartTls), PASSWORD);
    settings.ca_file = Some(cert.cert_path.clone());

    deliver(settings, "ada@example.org")
        .await
        .expect("delivered");
    assert_eq!(
        single_message(&inbox).authenticated_as.as_deref(),
        Some(USER)
    );
}

#[tokio::test]
async fn auth_with_a_wrong_password_is_permanent() {
    let cert = TestCert::generate();
    let (addr, inbox) =
        start_smtp_server(Some(&cert), &[AuthMechanism::Plain, AuthMechanism::Login]);
    let mut settings = with_credentials(settings(addr, SmtpTls::StartTls), "wrong password");
    settings.ca_file = Some(cert.cert_path.clone());

    let error = deliver(settings, "ada@example.org")
        .await
        .expect_err("wrong password");
    assert!(matches!(error, MailError::Permanent(_)), "{error:?}");
    assert!(inbox.lock().expect("inbox lock").is_empty());
}

#[tokio::test]
async fn refused_recipients_are_permanent_or_transient_by_reply_code() {
    let (addr, inbox) = start_smtp_server(None, &[]);

    let error = deliver(settings(addr, SmtpTls::None), "nobody@example.org")
        .await
        .expect_err("550");
    assert!(matches!(error, MailError::Permanent(_)), "{error:?}");

    let error = deliver(settings(addr, SmtpTls::None), "busy@example.org")
        .await
        .expect_err("451");
    assert!(matches!(error, MailError::Transient(_)), "{error:?}");

    assert!(inbox.lock().expect("inbox lock").is_empty());
}

#[tokio::test]
async fn invalid_addresses_are_permanent_without_connecting() {
    // Nothing listens on this address: a connection attempt would be Transient.
    let addr = SocketAddr::new(IpAddr::from([127, 0, 0, 1]), unused_port());
    let mailer = SmtpMailer::new(settings(addr, SmtpTls::None)).expect("valid settings");

    let error = mailer
        .deliver(SENDER, &confirmation_mail("not an address"))
        .await
        .expect_err("bad recipient");
    assert!(matches!(error, MailError::Permanent(_)), "{error:?}");

    let error = mailer
        .deliver("no sender here", &confirmation_mail("ada@example.org"))
        .await
        .expect_err("bad sender");
    assert!(matches!(error, MailError::Permanent(_)), "{error:?}");
}

fn unused_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address").port()
    // Dropped here: the port is closed, so connecting to it is refused.
}

#[tokio::test]
async fn server_down_is_transient() {
    let addr = SocketAddr::new(IpAddr::from([127, 0, 0, 1]), unused_port());
    let error = deliver(settings(addr, SmtpTls::None), "ada@example.org")
        .await
        .expect_err("connection refused");
    assert!(matches!(error, MailError::Transient(_)), "{error:?}");
}

#[tokio::test]
async fn a_server_that_never_greets_times_out() {
    // Accepts connections and keeps them open without a word.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });

    let mut settings = settings(addr, SmtpTls::None);
    settings.timeout = Duration::from_secs(1);
    // The outer bound only turns a hang (the bug this test is for) into a failure.
    let error = tokio::time::timeout(
        Duration::from_secs(30),
        deliver(settings, "ada@example.org"),
    )
    .await
    .expect("the delivery attempt must end by itself")
    .expect_err("no greeting");
    assert!(
        matches!(error, MailError::Timeout(t) if t == Duration::from_secs(1)),
        "{error:?}"
    );
    silent.abort();
}
