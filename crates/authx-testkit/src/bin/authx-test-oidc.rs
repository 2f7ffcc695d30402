//! The testkit's OpenID Connect provider as a program, for the browser flows: prints
//! `issuer=<url>` on a line of its own, then serves until its standard input closes (or it is
//! killed). Everyone who signs in is `AUTHX_TEST_OIDC_EMAIL` (default `ada@example.com`,
//! verified), subject `AUTHX_TEST_OIDC_SUBJECT` (default `ada-subject`). The client is
//! `authx_testkit::CLIENT_ID` / `CLIENT_SECRET`.

use std::io::Write as _;

use authx_testkit::oidc::{OidcAccount, OidcServer};
use tokio::io::AsyncReadExt as _;

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        let server = OidcServer::start().await;
        let email =
            std::env::var("AUTHX_TEST_OIDC_EMAIL").unwrap_or_else(|_| "ada@example.com".into());
        let subject =
            std::env::var("AUTHX_TEST_OIDC_SUBJECT").unwrap_or_else(|_| "ada-subject".into());
        server.sign_in_as(OidcAccount::verified(&subject, &email));
        let mut out = std::io::stdout();
        writeln!(out, "issuer={}", server.issuer()).expect("stdout");
        out.flush().expect("stdout");
        // Serves until standard input closes: the parent went away.
        let mut stdin = tokio::io::stdin();
        let mut buf = [0_u8; 64];
        while stdin.read(&mut buf).await.is_ok_and(|n| n > 0) {}
        drop(server);
    });
}
