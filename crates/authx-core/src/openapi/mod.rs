//! The OpenAPI 3.1 document (CONTRACT section 9.8), built with [`utoipa`] from the route table
//! ([`ROUTES`](crate::ROUTES)) and the request and answer types: every enabled route of a
//! mounting, paths as mounted, request schemas, every status with its body schema and the error
//! `code`s it can carry, and the cookie and bearer security schemes.
//!
//! Each adapter serves it at `GET {prefix}/openapi.json` (route `auth:openapi`, no adapter
//! code); [`Auth::openapi`] returns it for an application to merge into its own document:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use authx_core::{Auth, Routers, token::JwtBackend};
//! # let repo = authx_sqlx::SqliteStore::connect("sqlite::memory:").await?;
//! let auth = Auth::builder()
//!     .repo(std::sync::Arc::new(repo))
//!     .auth_backend(JwtBackend::hs256("an HS256 secret of at least 32 bytes")?)
//!     .base_url("https://example.com")
//!     .build()?;
//! let doc = auth.openapi(Routers::main(), "/api/users");
//! let login = doc.paths.get_path_item("/api/users/login").unwrap();
//! assert_eq!(login.post.as_ref().unwrap().operation_id.as_deref(), Some("auth:login"));
//! # Ok(()) }
//! ```

mod routes;
mod schemas;

use std::collections::BTreeMap;

pub use utoipa;
use utoipa::openapi::path::{
    Operation, OperationBuilder, Parameter, ParameterBuilder, ParameterIn,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, HttpMethod, InfoBuilder, OpenApi, OpenApiBuilder, Paths,
    Ref, RefOr, Required, ResponseBuilder, Schema, SecurityRequirement,
};

use crate::cookie::TokenCookie;
use crate::error::AuthError;
use crate::request::AuthResponse;
use crate::routes::{Csrf, Guard, Method, PathParam, Route, Routers};
use crate::service::Auth;

use self::routes::{Answer, RouteDoc};

/// The security scheme of the `Authorization: Bearer` access token.
pub const BEARER: &str = "bearer";
/// The security scheme of the access-token cookie.
pub const ACCESS_COOKIE: &str = "accessCookie";
/// The security scheme of the refresh-token cookie.
pub const REFRESH_COOKIE: &str = "refreshCookie";
/// The security scheme of the second-factor challenge cookie.
pub const CHALLENGE_COOKIE: &str = "challengeCookie";

/// What of the configuration changes the document.
pub(crate) struct Context {
    captcha: bool,
    hide_user_existence: bool,
    tokens_in_body: bool,
    jwks: bool,
    csrf: bool,
    two_factor: bool,
    password_min: usize,
    password_max: usize,
    access_cookie: String,
    refresh_cookie: String,
    challenge_cookie: String,
}

impl Context {
    fn of(auth: &Auth) -> Self {
        let inner = &auth.inner;
        let config = &inner.config;
        Self {
            captcha: inner.captcha.is_some(),
            hide_user_existence: config.hide_user_existence,
            tokens_in_body: config.tokens_in_body,
            jwks: inner.tokens.jwks().is_some(),
            csrf: config.csrf_check || config.csrf_double_submit,
            two_factor: inner.sealer.is_some() && inner.repo.two_factor().is_some(),
            password_min: config.policy.password_min,
            password_max: config.policy.password_max,
            access_cookie: inner.cookies.name(TokenCookie::Access).to_owned(),
            refresh_cookie: inner.cookies.name(TokenCookie::Refresh).to_owned(),
            challenge_cookie: inner.cookies.name(TokenCookie::Challenge).to_owned(),
        }
    }

    pub(crate) fn password_length(&self) -> AuthError {
        AuthError::PasswordLength {
            min: self.password_min,
            max: self.password_max,
        }
    }
}

/// A `$ref` to `T`'s schema in the components (added by [`components`]).
pub(crate) fn schema_ref<T: utoipa::ToSchema>() -> RefOr<Schema> {
    RefOr::Ref(Ref::from_schema_name(T::name()))
}

impl Auth {
    /// The OpenAPI 3.1 document of the routes of `mounted` (`Routers::main()` for
    /// `router(auth)`) that the configuration enables, with paths under `prefix` (`/api/users`,
    /// as mounted): what `GET {prefix}/openapi.json` answers.
    pub fn openapi(&self, mounted: Routers, prefix: &str) -> OpenApi {
        document(
            &Context::of(self),
            mounted.and(self.inner.config.routers),
            prefix,
        )
    }

    /// `GET /openapi.json`.
    pub(crate) fn openapi_answer(
        &self,
        routers: Routers,
        prefix: &str,
    ) -> Result<AuthResponse, AuthError> {
        let body = self
            .openapi(routers, prefix)
            .to_json()
            .map_err(AuthError::unavailable)?;
        Ok(AuthResponse::ok(body))
    }
}

/// The document of `routers` under `prefix`.
fn document(cx: &Context, routers: Routers, prefix: &str) -> OpenApi {
    let mut paths = Paths::new();
    for (path, routes) in crate::routes::paths(routers) {
        let full = mounted_path(prefix, path);
        for route in routes {
            if routes::served(route.route, cx) {
                paths.add_path_operation(
                    &full,
                    vec![http_method(route.method)],
                    operation(route, cx),
                );
            }
        }
    }
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("authx")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "Accounts, sessions and administration: the authx routes as mounted. Every \
                     error is `{\"detail\", \"code\"}`; each response lists the codes it can \
                     carry (docs/errors.md).",
                ))
                .build(),
        )
        .paths(paths)
        .components(Some(components(cx)))
        .build()
}

/// `path` (relative to the mount prefix, `""` for the prefix itself) under `prefix`.
fn mounted_path(prefix: &str, path: &str) -> String {
    let prefix = prefix.trim_end_matches('/');
    match (prefix, path) {
        ("", "") => "/".to_owned(),
        (prefix, path) => format!("{prefix}{path}"),
    }
}

fn http_method(method: Method) -> HttpMethod {
    match method {
        Method::Get => HttpMethod::Get,
        Method::Post => HttpMethod::Post,
        Method::Put => HttpMethod::Put,
        Method::Delete => HttpMethod::Delete,
    }
}

/// The errors every route of this kind can give, from its row and its documentation.
fn common_errors(route: &Route, doc: &RouteDoc, cx: &Context) -> Vec<AuthError> {
    let mut errors = vec![AuthError::HeadersTooLarge];
    if route.param != PathParam::None {
        // A parameter that does not decode (or an `{id}` that is not a decimal id).
        errors.push(AuthError::NotFound);
    }
    if cx.csrf && route.csrf != Csrf::None {
        errors.push(AuthError::CrossSiteRequest);
    }
    match route.guard {
        // The challenge's own refusal (`401 invalid_challenge`) is in the route's errors.
        Guard::None | Guard::Challenge => {}
        Guard::AccessToken => {
            errors.extend([AuthError::NotAuthenticated, AuthError::InvalidToken]);
        }
        Guard::Admin => errors.extend([
            AuthError::NotAuthenticated,
            AuthError::InvalidToken,
            AuthError::Forbidden,
        ]),
    }
    if let Some(body) = &doc.body {
        errors.extend([
            AuthError::InvalidBody("Malformed JSON".into()),
            AuthError::UnsupportedContentType,
            AuthError::PayloadTooLarge,
        ]);
        if body.required {
            errors.push(AuthError::MissingField("..."));
        }
    }
    errors.push(AuthError::unavailable("any"));
    errors
}

fn operation(route: &Route, cx: &Context) -> Operation {
    let doc = routes::document(route.route, cx);
    let mut op = OperationBuilder::new()
        .operation_id(Some(route.name))
        .summary(Some(route.summary))
        .tag(route.name.split(':').next().unwrap_or("auth"));
    if let Some(param) = path_parameter(route) {
        op = op.parameter(param);
    }
    for q in &doc.query {
        op = op.parameter(
            ParameterBuilder::new()
                .name(q.name)
                .parameter_in(ParameterIn::Query)
                .required(if q.required {
                    Required::True
                } else {
                    Required::False
                })
                .description(Some(q.description))
                .schema(Some(q.schema.clone())),
        );
    }
    if let Some(body) = &doc.body {
        op = op.request_body(Some(
            RequestBodyBuilder::new()
                .required(Some(if body.required {
                    Required::True
                } else {
                    Required::False
                }))
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(body.schema.clone()))
                        .build(),
                )
                .build(),
        ));
    }
    match route.guard {
        Guard::AccessToken | Guard::Admin => {
            op = op
                .security(SecurityRequirement::new(BEARER, Vec::<String>::new()))
                .security(SecurityRequirement::new(
                    ACCESS_COOKIE,
                    Vec::<String>::new(),
                ));
        }
        Guard::Challenge => {
            op = op.security(SecurityRequirement::new(
                CHALLENGE_COOKIE,
                Vec::<String>::new(),
            ));
        }
        Guard::None => {}
    }
    if matches!(doc.ok, Answer::Tokens { access_body: true }) {
        op = op.security(SecurityRequirement::new(
            REFRESH_COOKIE,
            Vec::<String>::new(),
        ));
    }
    op = match &doc.ok {
        Answer::Redirect(description) => op.response(
            "307",
            ResponseBuilder::new()
                .description(*description)
                .header(
                    "Location",
                    utoipa::openapi::HeaderBuilder::new()
                        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                        .build(),
                )
                .build(),
        ),
        ok => op.response("200", ok_response(ok, cx)),
    };
    let mut by_status: BTreeMap<u16, Vec<&'static str>> = BTreeMap::new();
    let mut errors = common_errors(route, &doc, cx);
    errors.extend(doc.errors);
    for error in &errors {
        let codes = by_status.entry(error.status()).or_default();
        if !codes.contains(&error.code()) {
            codes.push(error.code());
        }
    }
    for (status, codes) in by_status {
        op = op.response(status.to_string(), error_response(status, &codes));
    }
    op.build()
}

fn path_parameter(route: &Route) -> Option<Parameter> {
    let (name, schema, description): (&str, Schema, &str) = match route.param {
        PathParam::None => return None,
        PathParam::Id => (
            "id",
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                    utoipa::openapi::KnownFormat::Int64,
                )))
                .minimum(Some(0))
                .maximum(Some(i64::MAX))
                .into(),
            "A user id (decimal)",
        ),
        PathParam::Token => (
            "token",
            non_empty_string(),
            "The token from the mail's link",
        ),
        PathParam::Provider => (
            "provider",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some("^[a-z0-9_-]{1,32}$"))
                .into(),
            "A configured provider's name (`google`, `github`, ...)",
        ),
        PathParam::SessionId => (
            "session_id",
            non_empty_string(),
            "A session's public id (`GET /sessions`)",
        ),
    };
    Some(
        ParameterBuilder::new()
            .name(name)
            .parameter_in(ParameterIn::Path)
            .required(Required::True)
            .description(Some(description))
            .schema(Some(schema))
            .build(),
    )
}

fn non_empty_string() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .into()
}

fn null_schema() -> RefOr<Schema> {
    ObjectBuilder::new().schema_type(Type::Null).into()
}

fn json(schema: RefOr<Schema>) -> utoipa::openapi::Content {
    ContentBuilder::new().schema(Some(schema)).build()
}

fn ok_response(answer: &Answer, cx: &Context) -> utoipa::openapi::Response {
    let (description, schema) = match answer {
        Answer::Null => ("Done (`null`)", null_schema()),
        Answer::NullCookiesRemoved => (
            "Done (`null`); the session cookies are deleted",
            null_schema(),
        ),
        Answer::Tokens { access_body } => {
            let schema = if cx.tokens_in_body || *access_body {
                schema_ref::<schemas::Tokens>()
            } else {
                null_schema()
            };
            (
                "Done; both token cookies are set (`Cache-Control: no-store`)",
                schema,
            )
        }
        Answer::Json(schema, description) => (*description, (**schema).clone()),
        Answer::Redirect(description) => (*description, null_schema()),
    };
    ResponseBuilder::new()
        .description(description)
        .content("application/json", json(schema))
        .build()
}

/// The error body with `code` limited to `codes`.
fn error_response(status: u16, codes: &[&'static str]) -> utoipa::openapi::Response {
    let schema = ObjectBuilder::new()
        .property(
            "detail",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some("What went wrong, for humans")),
        )
        .property(
            "code",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some("A stable code to switch on (docs/errors.md)"))
                .enum_values(Some(codes.iter().copied())),
        )
        .required("detail")
        .required("code");
    let mut response = ResponseBuilder::new()
        .description(format!("`{}`", codes.join("`, `")))
        .content("application/json", json(schema.into()));
    if status == 429 {
        response = response.header(
            "Retry-After",
            utoipa::openapi::HeaderBuilder::new()
                .schema(Some(ObjectBuilder::new().schema_type(Type::Integer)))
                .description(Some("Seconds until a retry may succeed"))
                .build(),
        );
    }
    if status == 401 {
        response = response.header(
            "WWW-Authenticate",
            utoipa::openapi::HeaderBuilder::new()
                .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                .description(Some("`Bearer`"))
                .build(),
        );
    }
    response.build()
}

fn components(cx: &Context) -> utoipa::openapi::Components {
    ComponentsBuilder::new()
        .schemas_from_iter(schemas())
        .security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("The access token (read before the cookie)"))
                    .build(),
            ),
        )
        .security_scheme(
            ACCESS_COOKIE,
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                cx.access_cookie.clone(),
                "The access token's cookie, set by login".into(),
            ))),
        )
        .security_scheme(
            REFRESH_COOKIE,
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                cx.refresh_cookie.clone(),
                "The refresh token's cookie, set by login".into(),
            ))),
        )
        .security_scheme(
            CHALLENGE_COOKIE,
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                cx.challenge_cookie.clone(),
                "The second-factor challenge, set by a login that answers \
                 second_factor_required"
                    .into(),
            ))),
        )
        .build()
}

/// Every schema the operations refer to, with the schemas those refer to.
fn schemas() -> Vec<(String, RefOr<Schema>)> {
    fn add<T: utoipa::ToSchema>(out: &mut Vec<(String, RefOr<Schema>)>) {
        T::schemas(out);
        out.push((T::name().into_owned(), T::schema()));
    }
    use crate::service::answers;
    use schemas as s;
    let mut out = Vec::new();
    add::<s::Register>(&mut out);
    add::<s::Login>(&mut out);
    add::<s::Refresh>(&mut out);
    add::<s::ChangeUsername>(&mut out);
    add::<s::ForgotPassword>(&mut out);
    add::<s::NewPassword>(&mut out);
    add::<s::ChangePassword>(&mut out);
    add::<s::Ban>(&mut out);
    add::<s::UpdatePermissions>(&mut out);
    add::<s::ConfirmationStatus>(&mut out);
    add::<s::PasswordStatus>(&mut out);
    add::<s::Tokens>(&mut out);
    add::<s::IdOfUsername>(&mut out);
    add::<s::Permissions>(&mut out);
    add::<s::Jwks>(&mut out);
    add::<s::PasswordOnly>(&mut out);
    add::<s::TotpCode>(&mut out);
    add::<s::PasswordAndCode>(&mut out);
    add::<s::SecondFactorCode>(&mut out);
    add::<s::TwoFactorStatus>(&mut out);
    add::<s::TotpEnrolment>(&mut out);
    add::<s::RecoveryCodes>(&mut out);
    add::<crate::token::Claims>(&mut out);
    add::<answers::ListedSession>(&mut out);
    add::<answers::Blacklist<'_>>(&mut out);
    add::<answers::Blackout>(&mut out);
    add::<answers::ShownUser<'_>>(&mut out);
    add::<answers::SearchPage<'_>>(&mut out);
    out
}

#[cfg(test)]
mod tests;
