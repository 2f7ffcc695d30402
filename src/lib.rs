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
//! | `env` | [`env`](mod@env): configuration from the environment, as the examples use it (enables `redis`) |
//! | `openapi` (default) | [`openapi()`]: the OpenAPI 3.1 document, also served at `{prefix}/openapi.json` |
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

/// The OpenAPI 3.1 document of what `router(auth)` serves under `prefix` (`/api/users`): the
/// same document as its `GET {prefix}/openapi.json`, for an application to merge into its own
/// (`utoipa`'s [`OpenApi::merge`](utoipa::openapi::OpenApi::merge); use the re-exported
/// [`utoipa`] so the versions agree). See `docs/openapi.md`.
#[cfg(feature = "openapi")]
pub fn openapi(auth: &Auth, prefix: &str) -> utoipa::openapi::OpenApi {
    auth.openapi(Routers::main(), prefix)
}

/// The OpenAPI generator, re-exported so an application merges documents of one version.
#[cfg(feature = "openapi")]
pub use authx_core::openapi::utoipa;

/// The Rust snippets of the README and of `docs/`, compiled as doctests so they stay true.
#[cfg(doctest)]
mod guides {
    #[doc = include_str!("../README.md")]
    mod readme {}
    #[doc = include_str!("../docs/axum.md")]
    mod axum {}
    #[doc = include_str!("../docs/actix.md")]
    mod actix {}
    #[doc = include_str!("../docs/rocket.md")]
    mod rocket {}
    #[doc = include_str!("../docs/configuration.md")]
    mod configuration {}
    #[doc = include_str!("../docs/email.md")]
    mod email {}
    #[doc = include_str!("../docs/storage.md")]
    mod storage {}
    #[doc = include_str!("../docs/openapi.md")]
    mod openapi {}
}
