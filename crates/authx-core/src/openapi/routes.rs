//! What each route of the table reads and answers, beyond what its row says. The match in
//! [`document`] is exhaustive: a route added to the table does not compile until it is
//! documented here (see `docs/openapi.md`, "Documenting a new route").
//!
//! The errors every route of a kind can give are added from its row (see
//! [`common_errors`](super::common_errors)): its guard, its CSRF rule, a path parameter, a
//! JSON body, the header limit and `503`. Here go the route's own.

use utoipa::PartialSchema;
use utoipa::openapi::{RefOr, Schema};

use crate::error::AuthError;
use crate::routes::RouteName;
use crate::service::answers;

use super::schemas as s;
use super::{Context, schema_ref};

/// A JSON request body.
pub(super) struct Body {
    /// Its schema.
    pub(super) schema: RefOr<Schema>,
    /// Whether the route needs one (an absent body is then `400 field_required`).
    pub(super) required: bool,
}

/// A query parameter.
pub(super) struct QueryParam {
    pub(super) name: &'static str,
    pub(super) required: bool,
    pub(super) schema: RefOr<Schema>,
    pub(super) description: &'static str,
}

/// The `200` answer.
pub(super) enum Answer {
    /// `null`.
    Null,
    /// `null`, deleting the session cookies.
    NullCookiesRemoved,
    /// A new token pair in the cookies; `null` (or `{"access"}` with `access_body`), both
    /// tokens with `tokens_in_body`.
    Tokens { access_body: bool },
    /// A JSON body of this schema.
    Json(Box<RefOr<Schema>>, &'static str),
    /// `307` to a page (`Location`), no body: the social routes, which a browser follows.
    Redirect(&'static str),
}

/// The documentation of one route.
pub(super) struct RouteDoc {
    pub(super) body: Option<Body>,
    pub(super) query: Vec<QueryParam>,
    pub(super) ok: Answer,
    /// The route's own errors (those of its kind are added from its row).
    pub(super) errors: Vec<AuthError>,
}

impl RouteDoc {
    fn answers(ok: Answer) -> Self {
        Self {
            body: None,
            query: Vec::new(),
            ok,
            errors: Vec::new(),
        }
    }

    fn json<T: utoipa::ToSchema>(description: &'static str) -> Self {
        Self::answers(Answer::Json(Box::new(schema_ref::<T>()), description))
    }

    fn body<T: utoipa::ToSchema>(mut self) -> Self {
        self.body = Some(Body {
            schema: schema_ref::<T>(),
            required: true,
        });
        self
    }

    fn optional_body<T: utoipa::ToSchema>(mut self) -> Self {
        self.body = Some(Body {
            schema: schema_ref::<T>(),
            required: false,
        });
        self
    }

    fn query<T: PartialSchema>(
        mut self,
        name: &'static str,
        required: bool,
        description: &'static str,
    ) -> Self {
        self.query.push(QueryParam {
            name,
            required,
            schema: T::schema(),
            description,
        });
        self
    }

    fn errors(mut self, errors: impl IntoIterator<Item = AuthError>) -> Self {
        self.errors.extend(errors);
        self
    }
}

/// The rules of section 3 for a username.
fn username_errors() -> [AuthError; 3] {
    [
        AuthError::UsernameLength,
        AuthError::UsernameCharacters,
        AuthError::UsernameReserved,
    ]
}

/// The rules of section 3 for a new password.
fn password_errors(cx: &Context) -> [AuthError; 3] {
    [
        cx.password_length(),
        AuthError::PasswordMismatch,
        AuthError::PasswordMatchesIdentity,
    ]
}

fn too_many() -> AuthError {
    AuthError::TooManyRequests { retry_after: 60 }
}

/// Whether the route is served at all with this configuration (the JWKS only with asymmetric
/// keys).
pub(super) fn served(route: RouteName, cx: &Context) -> bool {
    route != RouteName::Jwks || cx.jwks
}

/// The documentation of `route`.
#[allow(clippy::match_same_arms)] // one arm per route: the table reads in order
pub(super) fn document(route: RouteName, cx: &Context) -> RouteDoc {
    use AuthError as E;
    use RouteDoc as D;
    match route {
        RouteName::Register => D::answers(Answer::Tokens { access_body: false })
            .body::<s::Register>()
            .errors(cx.captcha.then_some(E::WrongCaptcha))
            .errors([E::InvalidEmail, E::EmailExists, E::UsernameExists])
            .errors(username_errors())
            .errors(password_errors(cx)),
        RouteName::Login => D::answers(Answer::Tokens { access_body: false })
            .body::<s::Login>()
            .errors([too_many(), E::InvalidCredentials, E::UserBanned])
            .errors(cx.two_factor.then_some(E::SecondFactorRequired))
            .errors((!cx.hide_user_existence).then_some(E::UserNotFound)),
        RouteName::Logout => D::answers(Answer::NullCookiesRemoved).optional_body::<s::Refresh>(),
        RouteName::Token => D::json::<crate::token::Claims>("The access token's claims"),
        RouteName::RefreshAccessToken => D::answers(Answer::Tokens { access_body: true })
            .optional_body::<s::Refresh>()
            .errors([E::NotAuthenticated, E::InvalidToken]),
        RouteName::GetEmailConfirmationStatus => {
            D::json::<s::ConfirmationStatus>("The email and whether it is confirmed")
        }
        RouteName::RequestEmailConfirmation => {
            D::answers(Answer::Null).errors([E::EmailAlreadyConfirmed, too_many()])
        }
        RouteName::ConfirmEmail => D::answers(Answer::Null).errors([E::InvalidOrExpiredToken]),
        RouteName::ChangeUsername => D::answers(Answer::Null)
            .body::<s::ChangeUsername>()
            .errors([
                E::Forbidden,
                E::UserNotFound,
                E::SameUsername,
                E::UsernameExists,
            ])
            .errors(username_errors()),
        RouteName::Jwks => D::json::<s::Jwks>("The public keys that verify the tokens"),
        RouteName::ForgotPassword => D::answers(Answer::Null)
            .body::<s::ForgotPassword>()
            .errors([E::InvalidEmail, too_many()]),
        RouteName::PasswordStatus => {
            D::json::<s::PasswordStatus>("Whether to set a first password or change it")
        }
        RouteName::PasswordSet => D::answers(Answer::Null)
            .body::<s::NewPassword>()
            .errors([E::PasswordExists])
            .errors(password_errors(cx)),
        RouteName::PasswordChange => D::answers(Answer::Tokens { access_body: false })
            .body::<s::ChangePassword>()
            .errors([E::WrongPassword, too_many()])
            .errors(password_errors(cx)),
        RouteName::PasswordReset => D::answers(Answer::Null)
            .body::<s::NewPassword>()
            .errors([E::InvalidOrExpiredToken])
            .errors(password_errors(cx)),
        RouteName::ListSessions => D::answers(Answer::Json(
            Box::new(Vec::<answers::ListedSession>::schema()),
            "One's live sessions, newest first",
        )),
        RouteName::RevokeSession => D::answers(Answer::NullCookiesRemoved).errors([E::NotFound]),
        RouteName::RevokeOtherSessions => D::answers(Answer::Null),
        RouteName::LogoutAll => D::answers(Answer::NullCookiesRemoved),
        RouteName::GetBlacklist => D::json::<answers::Blacklist<'_>>("The bans"),
        RouteName::ToggleBlacklist => D::answers(Answer::Null)
            .optional_body::<s::Ban>()
            .errors([E::SelfTarget, E::UserNotFound]),
        RouteName::Kick => D::answers(Answer::Null).errors([E::UserNotFound]),
        RouteName::GetBlackout => {
            D::json::<answers::Blackout>("The last blackout").errors([E::NotFound])
        }
        RouteName::SetBlackout | RouteName::DeleteBlackout => D::answers(Answer::Null),
        RouteName::GetIdByUsername => D::json::<s::IdOfUsername>("The user's id")
            .query::<String>("username", true, "The username, without regard to case")
            .errors([E::InvalidQuery("username"), E::UserNotFound]),
        RouteName::GetPermissions => {
            D::json::<s::Permissions>("The user's permissions").errors([E::UserNotFound])
        }
        RouteName::UpdatePermissions => D::answers(Answer::Null)
            .body::<s::UpdatePermissions>()
            .errors([
                E::WrongAction,
                E::InvalidPermission,
                E::SelfTarget,
                E::UserNotFound,
            ]),
        RouteName::GetUser => {
            D::json::<answers::ShownUser<'_>>("The user").errors([E::UserNotFound])
        }
        RouteName::Search => D::json::<answers::SearchPage<'_>>("A page of users")
            .query::<u64>("id", false, "Exactly this user id")
            .query::<String>("username", false, "A substring of the username, any case")
            .query::<String>("email", false, "A substring of the email, any case")
            .query::<u64>("p", false, "The page, from 1")
            .errors([E::InvalidQuery("p")]),
        RouteName::TwoFactorStatus => {
            D::json::<s::TwoFactorStatus>("Whether a second factor is enabled")
        }
        RouteName::TotpEnroll => D::json::<s::TotpEnrolment>("The secret and its otpauth:// URI")
            .body::<s::PasswordOnly>()
            .errors([E::WrongPassword, too_many(), E::TwoFactorEnabled]),
        RouteName::TotpConfirm => D::json::<s::RecoveryCodes>("The recovery codes, shown once")
            .body::<s::TotpCode>()
            .errors([
                E::InvalidCode { at_login: false },
                E::TwoFactorEnabled,
                E::TwoFactorNotEnabled,
            ]),
        RouteName::RecoveryCodes => D::json::<s::RecoveryCodes>("New recovery codes, shown once")
            .body::<s::PasswordAndCode>()
            .errors([
                E::WrongPassword,
                too_many(),
                E::InvalidCode { at_login: false },
                E::TwoFactorNotEnabled,
            ]),
        RouteName::TwoFactorDisable => D::answers(Answer::Null)
            .body::<s::PasswordAndCode>()
            .errors([
                E::WrongPassword,
                too_many(),
                E::InvalidCode { at_login: false },
                E::TwoFactorNotEnabled,
            ]),
        RouteName::LoginSecondFactor => D::answers(Answer::Tokens { access_body: false })
            .body::<s::SecondFactorCode>()
            .errors([
                E::InvalidChallenge,
                E::InvalidCode { at_login: true },
                too_many(),
                E::UserBanned,
            ]),
        RouteName::SocialLogin => D::answers(Answer::Redirect(
            "To the provider's authorization page; the state cookie is set",
        ))
        .query::<String>(
            "redirect",
            false,
            "Where to land after, a path starting with one /",
        )
        .errors([E::InvalidRedirect, too_many()]),
        // Every failure of the callback is a `307` to `{base_url}/login?error=<code>` too.
        RouteName::SocialCallback => D::answers(Answer::Redirect(
            "Signed in: to `redirect` under base_url, session cookies set; or to \
             `{base_url}/login?error=<code>` (invalid_state, provider_error, \
             email_unverified, user_banned, second_factor_required)",
        ))
        .query::<String>("code", false, "The provider's authorization code")
        .query::<String>("state", false, "The state of the sign-in")
        .query::<String>("error", false, "The provider's refusal"),
        RouteName::OpenApi => D::answers(Answer::Json(
            Box::new(utoipa::openapi::ObjectBuilder::new().into()),
            "This document",
        )),
    }
}
