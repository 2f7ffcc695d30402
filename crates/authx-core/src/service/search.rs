//! The search router: `GET /{id}` (one user as an admin sees it) and `GET` on the prefix
//! itself (`?id=&username=&email=&p=`), both for admins only. Answers never carry a hash, a
//! secret or a token: they are built from [`UserDetails`], which holds none.

use serde::Serialize;

use crate::clock::Timestamp;
use crate::error::AuthError;
use crate::request::{AuthRequest, AuthResponse, Query};
use crate::store::{UserDetails, UserSearch};

use super::Auth;
use super::admin::target_id;

/// A user as the search router shows it, fields in the contract's order.
#[derive(Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = User))]
pub(crate) struct ShownUser<'a> {
    id: i64,
    username: &'a str,
    email: &'a str,
    active: bool,
    confirmed: bool,
    permissions: &'a [String],
    providers: &'a [String],
    has_password: bool,
    two_factor: bool,
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    created_at: Timestamp,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>))]
    last_login: Option<Timestamp>,
}

impl<'a> From<&'a UserDetails> for ShownUser<'a> {
    fn from(u: &'a UserDetails) -> Self {
        Self {
            id: u.id,
            username: &u.username,
            email: &u.email,
            active: u.active,
            confirmed: u.confirmed,
            permissions: &u.permissions,
            providers: &u.providers,
            has_password: u.has_password,
            two_factor: u.two_factor,
            created_at: u.created_at,
            last_login: u.last_login,
        }
    }
}

/// A page of search results.
#[derive(Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub(crate) struct SearchPage<'a> {
    items: Vec<ShownUser<'a>>,
    pages: u64,
    #[serde(rename = "currentPage")]
    current_page: u64,
}

impl Auth {
    /// `GET /{id}`: the user as an admin sees it; `404 User not found`.
    pub(crate) async fn get_user(&self, req: &AuthRequest) -> Result<AuthResponse, AuthError> {
        let user = self
            .inner
            .repo
            .admin()
            .user_details(target_id(req)?, self.now())
            .await?
            .ok_or(AuthError::UserNotFound)?;
        let body =
            serde_json::to_string(&ShownUser::from(&user)).map_err(AuthError::unavailable)?;
        Ok(AuthResponse::ok(body))
    }

    /// `GET ?id=&username=&email=&p=`: page `p` (from 1) of the users matching every criterion
    /// given, by id: `id` exactly, `username` and `email` as literal substrings without regard
    /// to case. A page past the end has no items.
    pub(crate) async fn search(&self, req: &AuthRequest) -> Result<AuthResponse, AuthError> {
        let query = Query::of(req);
        let id = query
            .positive("id")?
            .map(|id| i64::try_from(id).map_err(|_| AuthError::InvalidQuery("id")))
            .transpose()?;
        let page = query.positive("p")?.unwrap_or(1);
        let text = |name| {
            query
                .string(name)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let size = self.inner.config.search_page_size;
        let found = self
            .inner
            .repo
            .admin()
            .search_users(
                &UserSearch {
                    id,
                    username: text("username"),
                    email: text("email"),
                    offset: (page - 1).saturating_mul(u64::from(size)),
                    limit: size,
                },
                self.now(),
            )
            .await?;
        let body = serde_json::to_string(&SearchPage {
            items: found.users.iter().map(ShownUser::from).collect(),
            pages: found.total.div_ceil(u64::from(size)),
            current_page: page,
        })
        .map_err(AuthError::unavailable)?;
        Ok(AuthResponse::ok(body))
    }
}
