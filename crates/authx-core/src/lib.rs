//! authx core
pub mod clock;
pub mod error;
pub mod mail;
pub mod routes;
pub mod store;
mod random;
mod secret;
pub use secret::Secret;
