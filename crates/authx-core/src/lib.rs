#![doc = include_str!("../README.md")]

pub mod captcha;
pub mod clock;
pub mod config;
pub mod cookie;
pub mod error;
pub mod limit;
pub mod mail;
#[cfg(feature = "openapi")]
pub mod openapi;
pub mod password;
pub mod policy;
pub mod random;
mod request;
pub mod routes;
mod secret;
mod service;
pub mod social;
pub mod store;
pub mod token;
pub mod two_factor;

pub use config::{AuthBuilder, AuthConfig, ConfigError};
pub use error::AuthError;
pub use request::{AuthRequest, AuthResponse};
pub use routes::{ROUTES, Route, RouteName, RouterKind, Routers};
pub use secret::Secret;
pub use service::{Auth, JanitorReport};
pub use token::Claims;

#[cfg(test)]
mod tests {
    /// No `http::` or `cookie::` type (nor a web framework's) crosses the public API: every
    /// `pub` line of the crate's sources is checked.
    #[test]
    fn public_api_names_no_framework_types() {
        fn visit(dir: &std::path::Path, out: &mut Vec<(String, String)>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    visit(&path, out);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    for line in text.lines() {
                        let line = line.trim_start();
                        if line.starts_with("pub ") || line.starts_with("pub(crate) use") {
                            out.push((path.display().to_string(), line.to_owned()));
                        }
                    }
                }
            }
        }
        let mut lines = Vec::new();
        visit(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut lines,
        );
        assert!(lines.len() > 100, "the scan found the sources");
        for (file, line) in lines {
            for banned in ["http::", "cookie::", "axum", "actix", "rocket", "hyper::"] {
                assert!(
                    !line.contains(banned),
                    "{file}: public item names {banned}: {line}"
                );
            }
        }
    }
}
