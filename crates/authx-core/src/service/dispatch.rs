//! [`Auth::serve`]: every request of every adapter goes through here. The route is resolved
//! once, its CSRF rule and guard checked, then its flow runs.

use crate::cookie::TokenCookie;
use crate::error::AuthError;
use crate::request::{AuthRequest, AuthResponse};
use crate::routes::{self, Guard, RouteName, Routers};
use crate::store::{User, UserId};
use crate::token::{Claims, TokenKind};

use super::Auth;

/// Who is calling, as the route's guard established it.
pub(crate) enum Caller {
    /// No credential was required.
    Anonymous,
    /// The holder of a valid access token of a live session.
    User(Claims),
    /// An admin, as read from storage just now.
    Admin(Claims, User),
}

impl Caller {
    /// The access token's claims; the guard of every route that asks for them required them.
    pub(crate) fn claims(self) -> Result<Claims, AuthError> {
        match self {
            Self::User(claims) | Self::Admin(claims, _) => Ok(claims),
            Self::Anonymous => Err(AuthError::NotAuthenticated),
        }
    }

    /// The admin, as read from storage; the guard of every admin route required one.
    pub(crate) fn admin(&self) -> Result<&User, AuthError> {
        match self {
            Self::Admin(_, admin) => Ok(admin),
            Self::User(_) => Err(AuthError::Forbidden),
            Self::Anonymous => Err(AuthError::NotAuthenticated),
        }
    }
}

impl Auth {
    /// Serves `req` with the routers `mounted` at its prefix (`Routers::main()` for
    /// `router(auth)`), of those the configuration enables. Adapters call this for every
    /// request under the prefix, whatever its method or path: unknown paths answer `404`,
    /// known paths with another method `405`, both in the contract's JSON. Never panics on
    /// input; every failure is an error answer.
    pub async fn serve(&self, mounted: Routers, req: AuthRequest) -> AuthResponse {
        let routers = mounted.and(self.inner.config.routers);
        match self.serve_inner(routers, req).await {
            Ok(response) => response,
            Err(e) => AuthResponse::from_error(&e),
        }
    }

    async fn serve_inner(
        &self,
        routers: Routers,
        mut req: AuthRequest,
    ) -> Result<AuthResponse, AuthError> {
        // Before anything reads them: a header block this big is an attack or a broken client.
        if req.header_bytes() > crate::config::HEADER_LIMIT {
            return Err(AuthError::HeadersTooLarge);
        }
        let found = routes::lookup(routers, req.method(), req.path())?;
        req.param = found.param;
        let route = found.route;
        self.check_csrf(route.csrf, &req)?;
        let caller = match route.guard {
            Guard::None | Guard::Challenge => Caller::Anonymous,
            Guard::AccessToken => Caller::User(self.authenticate(&req).await?),
            Guard::Admin => {
                let (claims, admin) = self.authenticate_admin_user(&req).await?;
                Caller::Admin(claims, admin)
            }
        };
        let req = &req;
        match route.route {
            RouteName::Register => self.register(req).await,
            RouteName::Login => self.login(req).await,
            RouteName::Logout => self.logout(req).await,
            RouteName::Token => Self::token(&caller.claims()?),
            RouteName::RefreshAccessToken => self.refresh(req).await,
            RouteName::GetEmailConfirmationStatus => {
                self.confirmation_status(caller.claims()?).await
            }
            RouteName::RequestEmailConfirmation => {
                self.request_confirmation(caller.claims()?).await
            }
            RouteName::ConfirmEmail => self.confirm_email(req).await,
            RouteName::ChangeUsername => self.change_username(req, caller.claims()?).await,
            RouteName::Jwks => self.jwks(),
            RouteName::ListSessions => self.list_sessions(caller.claims()?).await,
            RouteName::RevokeSession => self.revoke_session(req, caller.claims()?).await,
            RouteName::RevokeOtherSessions => self.revoke_other_sessions(caller.claims()?).await,
            RouteName::LogoutAll => self.logout_all(caller.claims()?).await,
            RouteName::GetBlacklist => self.get_blacklist().await,
            RouteName::ToggleBlacklist => self.toggle_blacklist(req, caller.admin()?).await,
            RouteName::Kick => self.kick(req, caller.admin()?).await,
            RouteName::GetBlackout => self.get_blackout().await,
            RouteName::SetBlackout => self.set_blackout(caller.admin()?).await,
            RouteName::DeleteBlackout => self.delete_blackout(caller.admin()?).await,
            RouteName::GetIdByUsername => self.id_by_username(req).await,
            RouteName::GetPermissions => self.get_permissions(req).await,
            RouteName::UpdatePermissions => self.update_permissions(req, caller.admin()?).await,
            RouteName::GetUser => self.get_user(req).await,
            RouteName::Search => self.search(req).await,
            RouteName::ForgotPassword => self.forgot_password(req).await,
            RouteName::PasswordStatus => self.password_status(caller.claims()?).await,
            RouteName::PasswordSet => self.set_password(req, caller.claims()?).await,
            RouteName::PasswordChange => self.change_password(req, caller.claims()?).await,
            RouteName::PasswordReset => self.reset_password(req).await,
            RouteName::TwoFactorStatus => self.two_factor_status(caller.claims()?).await,
            RouteName::TotpEnroll => self.totp_enroll(req, caller.claims()?).await,
            RouteName::TotpConfirm => self.totp_confirm(req, caller.claims()?).await,
            RouteName::RecoveryCodes => self.regenerate_recovery_codes(req, caller.claims()?).await,
            RouteName::TwoFactorDisable => self.two_factor_disable(req, caller.claims()?).await,
            RouteName::LoginSecondFactor => self.login_second_factor(req).await,
            #[cfg(feature = "openapi")]
            RouteName::OpenApi => self.openapi_answer(routers, req.prefix()),
            // Without the generator the OpenAPI router is never enabled (see `Settings`).
            #[cfg(not(feature = "openapi"))]
            RouteName::OpenApi => Err(AuthError::NotFound),
            RouteName::SocialLogin => self.social_login(req).await,
            RouteName::SocialCallback => self.social_callback(req).await,
        }
    }

    /// Authenticates a request by its access token: the `Authorization: Bearer` header first,
    /// else the access cookie; the token's session must be live (not ended by logout, "log out
    /// everywhere", a ban, ...). For the host application's own handlers (the adapters'
    /// `AuthUser` extractors call it).
    pub async fn authenticate(&self, req: &AuthRequest) -> Result<Claims, AuthError> {
        let token = match req.bearer() {
            Some(token) => token.to_owned(),
            None => self
                .inner
                .cookies
                .read(req.header_values("cookie"), TokenCookie::Access)
                .ok_or(AuthError::NotAuthenticated)?,
        };
        let now = self.now();
        let claims = self.inner.tokens.decode(&token, TokenKind::Access, now)?;
        self.check_session_live(&claims, now).await?;
        Ok(claims)
    }

    /// Authenticates a request like [`authenticate`](Self::authenticate) and requires the
    /// `admin` permission **in storage** (never a possibly stale token): `401` without a valid
    /// token, `403 Forbidden` for anyone else. The adapters' `AdminUser` extractors and the
    /// admin routes use this one rule.
    pub async fn authenticate_admin(&self, req: &AuthRequest) -> Result<Claims, AuthError> {
        Ok(self.authenticate_admin_user(req).await?.0)
    }

    async fn authenticate_admin_user(
        &self,
        req: &AuthRequest,
    ) -> Result<(Claims, User), AuthError> {
        let claims = self.authenticate(req).await?;
        let admin = self
            .admin_in_storage(claims.id)
            .await?
            .ok_or(AuthError::Forbidden)?;
        Ok((claims, admin))
    }

    /// The one admin rule: user `id` as stored, if it holds `admin` and no ban is in force on
    /// it. Read on every admin request, never from a possibly stale token.
    pub(crate) async fn admin_in_storage(&self, id: UserId) -> Result<Option<User>, AuthError> {
        match self.inner.repo.users().user_by_id(id).await? {
            Some(user) if user.is_admin() => self.unbanned(user).await,
            _ => Ok(None),
        }
    }

    /// The user behind an access token; a token whose user is gone is an invalid token.
    pub(crate) async fn user_of(&self, claims: &Claims) -> Result<User, AuthError> {
        self.inner
            .repo
            .users()
            .user_by_id(claims.id)
            .await?
            .ok_or(AuthError::InvalidToken)
    }
}
