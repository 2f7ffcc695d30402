#![doc = include_str!("../README.md")]

pub mod captcha;
pub mod clock;
pub mod config;
pub mod cookie;
pub mod error;
pub mod limit;
pub mod mail;
pub mod password;
pub mod policy;
pub mod random;
mod request;
pub mod routes;
mod secret;
mod service;
pub mod store;
pub mod token;

pub use config::{AuthBuilder, AuthConfig, ConfigError};
pub use error::AuthError;
pub use request::{AuthRequest, AuthResponse};
pub use routes::{ROUTES, Route, RouteName};
pub use secret::Secret;
pub use service::Auth;
pub use token::Claims;
