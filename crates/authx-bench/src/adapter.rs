//! The adapters under test, each serving the auth router alone under [`PREFIX`] on
//! `127.0.0.1:0`, as an application would mount it.

use std::net::SocketAddr;

use authx::Auth;

use crate::client::PREFIX;

/// A web framework adapter of authx.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Adapter {
    Axum,
    Actix,
    Rocket,
}

impl Adapter {
    /// Every adapter, in table order.
    pub(crate) const ALL: [Self; 3] = [Self::Axum, Self::Actix, Self::Rocket];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Axum => "axum",
            Self::Actix => "actix",
            Self::Rocket => "rocket",
        }
    }

    pub(crate) fn parse(name: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|a| a.name() == name)
            .ok_or_else(|| format!("unknown adapter {name:?}: axum, actix, rocket or all"))
    }

    /// Whether this build of the benchmark can serve it.
    pub(crate) fn available(self) -> bool {
        match self {
            Self::Axum => true,
            Self::Actix | Self::Rocket => false,
        }
    }
}

/// Starts `adapter` serving `auth`; returns its address once it accepts connections.
pub(crate) async fn start(adapter: Adapter, auth: Auth) -> Result<SocketAddr, String> {
    match adapter {
        Adapter::Axum => start_axum(auth).await,
        Adapter::Actix | Adapter::Rocket => Err(format!(
            "this build has no {} adapter",
            adapter.name()
        )),
    }
}

async fn start_axum(auth: Auth) -> Result<SocketAddr, String> {
    let app: axum::Router = axum::Router::new().nest(PREFIX, authx::axum::router(auth));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let service = app.into_make_service_with_connect_info::<SocketAddr>();
        if let Err(e) = axum::serve(listener, service).await {
            eprintln!("authx-bench: axum stopped: {e}");
        }
    });
    Ok(addr)
}
