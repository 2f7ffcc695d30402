//! authx core
pub mod captcha;
pub mod clock;
pub mod error;
pub mod mail;
mod random;
pub mod routes;
mod secret;
pub mod store;
pub use secret::Secret;
