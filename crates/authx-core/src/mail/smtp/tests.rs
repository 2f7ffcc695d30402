//! Delivery against mailin-embedded, an SMTP server (STARTTLS, AUTH PLAIN/LOGIN) that runs on
//! a thread of the test process (from `authx-testkit`), so nothing has to be installed for these
//! tests to run.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use authx_testkit::smtp::{AuthMechanism, Inbox, Received, SilentServer, SmtpServer, TestCert};
use authx_testkit::{ReservedPort, install_crypto_provider};

use super::*;

const SENDER: &str = r#""Example Site" <noreply@example.com>"#;
const LINK: &str =
    "http://localhost:8000/confirm?token=q8Yy3xW0b1sV4kN6mZr7uT2aP9cD5eF0gH1iJ3kL5mN";
const USER: &str = "mailer";
const PASSWORD: &str = "correct horse battery staple";

/// Starts an SMTP server on 127.0.0.1 with an ephemeral port. With a certificate it offers
/// STARTTLS, and AUTH (only once TLS is on) with the given mechanisms.
fn start_smtp_server(cert: Option<&TestCert>, auth: &[AuthMechanism]) -> (SocketAddr, Inbox) {
    let mut server = SmtpServer::builder();
    if let Some(cert) = cert {
        server = server.starttls(cert);
    }
    if !auth.is_empty() {
        server = server.auth(auth, USER, PASSWORD);
    }
    let server = server.start();
    (server.addr, server.inbox)
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
    let messages = inbox.messages();
    assert_eq!(
        messages.len(),
        1,
        "expected one message, got {}",
        messages.len()
    );
    messages[0].clone()
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

    let message = received.message();
    let from = message.header("from");
    assert!(
        from.contains("Example Site") && from.ends_with("<noreply@example.com>"),
        "From: {from}"
    );
    assert_eq!(message.header("to"), "ada@example.org");
    assert_eq!(message.header("subject"), "Confirm email");
    let message_id = message.header("message-id");
    assert!(
        message_id.starts_with('<') && message_id.ends_with("@example.com>"),
        "Message-ID: {message_id}"
    );

    let parts = message.alternative_parts();
    assert_eq!(parts.len(), 2, "{parts:?}");
    let (text_type, text) = (&parts[0].content_type, &parts[0].body);
    let (html_type, html) = (&parts[1].content_type, &parts[1].body);
    assert!(text_type.starts_with("text/plain"), "{text_type}");
    assert!(html_type.starts_with("text/html"), "{html_type}");
    assert!(
        text.lines().any(|line| line == LINK),
        "no line with the link alone in {text:?}"
    );
    assert!(html.contains(&format!("href=\"{LINK}\"")), "{html}");
}

#[tokio::test]
async fn display_names_with_specials_survive_as_the_config_quotes_them() {
    // `AuthBuilder::build` quotes the display name, escaping `\` and `"` in it.
    let (addr, inbox) = start_smtp_server(None, &[]);
    let mailer = SmtpMailer::new(settings(addr, SmtpTls::None)).expect("valid settings");
    let sender = r#""Smith, Jane \"JS\" <Dev>" <noreply@example.com>"#;
    mailer
        .deliver(sender, &confirmation_mail("ada@example.org"))
        .await
        .expect("delivered");

    let message = single_message(&inbox).message();
    let from = message.header("from");
    // lettre writes a name with specials as an RFC 2047 encoded word, which mail clients show
    // as the name itself.
    let (name, address) = from.rsplit_once(' ').expect("a name and an address");
    assert_eq!(address, "<noreply@example.com>", "From: {from}");
    let encoded = name
        .strip_prefix("=?utf-8?b?")
        .and_then(|n| n.strip_suffix("?="))
        .unwrap_or_else(|| panic!("an encoded word: {from}"));
    let decoded = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, encoded)
        .expect("base64");
    assert_eq!(
        String::from_utf8(decoded).expect("UTF-8"),
        r#"Smith, Jane "JS" <Dev>"#
    );
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
    assert!(inbox.is_empty());
}

#[tokio::test]
async fn starttls_is_required_when_asked_for() {
    // A server without STARTTLS: never fall back to plain text.
    let (addr, inbox) = start_smtp_server(None, &[]);
    let error = deliver(settings(addr, SmtpTls::StartTls), "ada@example.org")
        .await
        .expect_err("no STARTTLS offered");
    assert!(!matches!(error, MailError::Timeout(_)), "{error:?}");
    assert!(inbox.is_empty());
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
async fn auth_with_a_wrong_password_is_transient() {
    // A wrong password is the configuration's fault, not the mail's: it must stay queued
    // until the password is fixed, not be given up.
    let cert = TestCert::generate();
    let (addr, inbox) =
        start_smtp_server(Some(&cert), &[AuthMechanism::Plain, AuthMechanism::Login]);
    let mut settings = with_credentials(settings(addr, SmtpTls::StartTls), "wrong password");
    settings.ca_file = Some(cert.cert_path.clone());

    let error = deliver(settings, "ada@example.org")
        .await
        .expect_err("wrong password");
    assert!(matches!(error, MailError::Transient(_)), "{error:?}");
    let cause = std::error::Error::source(&error).expect("the server's reply");
    assert!(cause.to_string().contains("535"), "{cause}");
    assert!(inbox.is_empty());
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

    assert!(inbox.is_empty());
}

#[tokio::test]
async fn invalid_addresses_are_permanent_without_connecting() {
    // Nothing listens on this address: a connection attempt would be Transient.
    let down = ReservedPort::new();
    let mailer = SmtpMailer::new(settings(down.addr(), SmtpTls::None)).expect("valid settings");

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

#[tokio::test]
async fn server_down_is_transient() {
    // Bound, not listening: connections are refused.
    let down = ReservedPort::new();
    let error = deliver(settings(down.addr(), SmtpTls::None), "ada@example.org")
        .await
        .expect_err("connection refused");
    assert!(matches!(error, MailError::Transient(_)), "{error:?}");
}

#[tokio::test]
async fn a_server_that_never_greets_times_out() {
    let silent = SilentServer::start().await;
    let mut settings = settings(silent.addr, SmtpTls::None);
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
    assert_eq!(silent.accepted(), 1);
}
