//! `POST /login`, throttled per client IP and per account (the account lockout every password
//! check shares, see [`password_check`](super::password_check)).

use crate::Secret;
use crate::error::AuthError;
use crate::request::{AuthRequest, AuthResponse, Fields};
use crate::store::Rehash;

use super::Auth;
use super::password_check::Account;
use super::two_factor::SignIn;

impl Auth {
    pub(crate) async fn login(&self, req: &AuthRequest) -> Result<AuthResponse, AuthError> {
        let inner = &self.inner;
        let now = self.now();

        // Throttled first: a blocked request never reaches the password check.
        self.throttle(
            &format!("login:ip:{}", self.client_network(req)),
            inner.config.limits.login_per_ip,
        )
        .await?;

        let fields = Fields::of(req)?;
        // Emails in their stored form: a Unicode-equivalent spelling is the same account.
        let login = &inner.config.policy.login(fields.string("login")?);
        let password = fields.string("password")?;

        let user = if login.contains('@') {
            inner.repo.users().user_by_email(login).await?
        } else {
            inner.repo.users().user_by_username(login).await?
        };
        let account = match &user {
            Some(user) => Account::User(user),
            None => Account::Unknown(login),
        };
        let verified = self.check_password(account, password).await?;
        let found = user.is_some();
        let Some(user) = user.filter(|_| verified.matches) else {
            return Err(if found || inner.config.hide_user_existence {
                AuthError::InvalidCredentials
            } else {
                AuthError::UserNotFound
            });
        };
        // A ban past its expiry is lifted here.
        let Some(user) = self.unbanned(user).await? else {
            return Err(AuthError::UserBanned);
        };
        let rehash = match (&user.password_hash, verified.needs_rehash) {
            (Some(verified), true) => Some(Rehash {
                verified: verified.clone(),
                new_hash: inner.passwords.hash(Secret::new(password)).await?,
            }),
            _ => None,
        };
        inner
            .repo
            .users()
            .record_login(user.id, now, rehash)
            .await?;
        match self.sign_in(&user, req).await? {
            SignIn::Session(response) => {
                self.clear_lockout(user.id).await?;
                Ok(response)
            }
            // The lockout is cleared only once the second factor is through: a right password
            // alone must not reset the count of wrong codes.
            SignIn::Challenge(challenge) => Ok(challenge.response()),
        }
    }
}
