//! # authx
//!
//! Registration, login, logout, JWT access and refresh tokens in cookies, token refresh,
//! email confirmation and username changes, with brute-force protection, real storage and real
//! email, for axum, actix-web and rocket: the same routes, names, status codes and cookies in
//! all three.
//!
//! This facade re-exports the pieces behind features, so one dependency is enough:
//!
//! | feature | brings |
//! |---|---|
//! | `sqlite`, `postgres`, `mysql` | [`sqlx`] storage (MySQL 8, MariaDB 10.6+) |
//! | `axum` | [`axum`]: the router and extractors |
//! | `actix` | [`actix`]: the actix-web routes and extractors |
//! | `rocket` | [`rocket`]: the rocket routes, fairing, catchers and request guards |
//! | `redis` | [`redis`]: limits and the revocation cache in Redis, shared by several instances |
//! | `env` | [`env`]: configuration from the environment, as the examples use it (enables `redis`) |
//!
//! See the repository's `README.md` and `docs/` for the walk-through and the guides.

pub use authx_core::*;

/// Storage in SQLite, PostgreSQL or MySQL/MariaDB through sqlx.
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
pub use authx_sqlx as sqlx;

/// The axum adapter.
#[cfg(feature = "axum")]
pub use authx_axum as axum;

/// The actix-web adapter.
#[cfg(feature = "actix")]
pub use authx_actix as actix;

/// The rocket adapter.
#[cfg(feature = "rocket")]
pub use authx_rocket as rocket;

/// The Redis limit store: login throttling, account lockout and the session revocation cache
/// shared by several instances.
#[cfg(feature = "redis")]
pub use authx_redis as redis;

#[cfg(feature = "env")]
pub mod env;
