//! The token cookies, rendered once here into `Set-Cookie` values that adapters copy verbatim.

use cookie::Cookie;

use crate::config::ConfigError;

/// The `SameSite` attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SameSite {
    /// `SameSite=Strict`.
    Strict,
    /// `SameSite=Lax` (the default).
    #[default]
    Lax,
    /// `SameSite=None` (requires `Secure`, so not in debug mode).
    None,
}

/// Cookie names and attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieSettings {
    /// Name of the access-token cookie (default `access_token`).
    pub access_name: String,
    /// Name of the refresh-token cookie (default `refresh_token`).
    pub refresh_name: String,
    /// `Domain` attribute; none by default (host-only cookies).
    pub domain: Option<String>,
    /// `Path` of the access cookie (default `/`).
    pub path: String,
    /// `Path` of the refresh cookie; defaults to [`path`](Self::path). Scope it to the
    /// router's prefix (e.g. `/api/users/token`) so the refresh token travels only to refresh
    /// and logout... as long as both live under it.
    pub refresh_path: Option<String>,
    /// `SameSite` attribute (default `Lax`).
    pub same_site: SameSite,
    /// Prefix the names with `__Host-` (requires `Secure`, `Path=/`, no `Domain`).
    pub host_prefix: bool,
    /// Name of the readable double-submit CSRF cookie (default `csrf_token`).
    pub csrf_name: String,
    /// Name of the second-factor challenge cookie (default `authx_2fa`): HttpOnly, set by a
    /// login that needs a second factor, read by `POST /login/2fa`.
    pub challenge_name: String,
}

impl Default for CookieSettings {
    fn default() -> Self {
        Self {
            access_name: "access_token".into(),
            refresh_name: "refresh_token".into(),
            domain: None,
            path: "/".into(),
            refresh_path: None,
            same_site: SameSite::Lax,
            host_prefix: false,
            csrf_name: "csrf_token".into(),
            challenge_name: "authx_2fa".into(),
        }
    }
}

/// Which token cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenCookie {
    /// The access-token cookie.
    Access,
    /// The refresh-token cookie.
    Refresh,
    /// The double-submit CSRF cookie (readable by scripts).
    Csrf,
    /// The second-factor challenge cookie.
    Challenge,
}

/// Renders and reads the token cookies for one configuration.
#[derive(Debug, Clone)]
pub(crate) struct CookieJar {
    settings: CookieSettings,
    secure: bool,
    access_name: String,
    refresh_name: String,
    csrf_name: String,
    challenge_name: String,
}

impl CookieJar {
    pub(crate) fn new(settings: CookieSettings, secure: bool) -> Result<Self, ConfigError> {
        let prefix = if settings.host_prefix { "__Host-" } else { "" };
        if settings.host_prefix
            && (!secure
                || settings.domain.is_some()
                || settings.path != "/"
                || settings.refresh_path.as_deref().is_some_and(|p| p != "/"))
        {
            return Err(ConfigError::Invalid(
                "the __Host- cookie prefix needs Secure (debug off), Path=/ and no Domain".into(),
            ));
        }
        if settings.same_site == SameSite::None && !secure {
            return Err(ConfigError::Invalid(
                "SameSite=None cookies need Secure: turn debug off".into(),
            ));
        }
        for name in [
            &settings.access_name,
            &settings.refresh_name,
            &settings.csrf_name,
            &settings.challenge_name,
        ] {
            check_cookie_name(name)?;
        }
        let names = [
            &settings.access_name,
            &settings.refresh_name,
            &settings.csrf_name,
            &settings.challenge_name,
        ];
        if (1..names.len()).any(|i| names[..i].contains(&names[i])) {
            return Err(ConfigError::Invalid(
                "the access, refresh, CSRF and challenge cookies need different names".into(),
            ));
        }
        Ok(Self {
            access_name: format!("{prefix}{}", settings.access_name),
            refresh_name: format!("{prefix}{}", settings.refresh_name),
            csrf_name: format!("{prefix}{}", settings.csrf_name),
            challenge_name: format!("{prefix}{}", settings.challenge_name),
            settings,
            secure,
        })
    }

    pub(crate) fn name(&self, which: TokenCookie) -> &str {
        match which {
            TokenCookie::Access => &self.access_name,
            TokenCookie::Refresh => &self.refresh_name,
            TokenCookie::Csrf => &self.csrf_name,
            TokenCookie::Challenge => &self.challenge_name,
        }
    }

    fn base<'a>(&'a self, which: TokenCookie, value: &'a str) -> Cookie<'a> {
        let path = match which {
            TokenCookie::Access | TokenCookie::Csrf | TokenCookie::Challenge => {
                self.settings.path.as_str()
            }
            TokenCookie::Refresh => self
                .settings
                .refresh_path
                .as_deref()
                .unwrap_or(&self.settings.path),
        };
        let mut cookie = Cookie::build((self.name(which), value))
            .http_only(which != TokenCookie::Csrf)
            .same_site(match self.settings.same_site {
                SameSite::Strict => cookie::SameSite::Strict,
                SameSite::Lax => cookie::SameSite::Lax,
                SameSite::None => cookie::SameSite::None,
            })
            .path(path)
            .secure(self.secure)
            .build();
        if let Some(domain) = &self.settings.domain {
            cookie.set_domain(domain.as_str());
        }
        cookie
    }

    /// `Set-Cookie` value of a social sign-in's state cookie (CONTRACT 9.6): HttpOnly,
    /// `SameSite=Lax` (the callback is a top-level cross-site GET), `Secure` unless debug,
    /// host-only, scoped to the callback's `path`; `max_age` 0 deletes it.
    pub(crate) fn sign_in(&self, name: &str, value: &str, path: &str, max_age: i64) -> String {
        let mut cookie = Cookie::build((name, value))
            .http_only(true)
            .same_site(cookie::SameSite::Lax)
            .path(path)
            .secure(self.secure)
            .max_age(cookie::time::Duration::seconds(max_age))
            .build();
        if max_age == 0 {
            cookie.set_expires(cookie::time::OffsetDateTime::UNIX_EPOCH);
        }
        cookie.to_string()
    }

    /// The value of cookie `name` in the request's `Cookie` headers, if present and non-empty.
    pub(crate) fn read_named<'h>(
        headers: impl IntoIterator<Item = &'h str>,
        name: &str,
    ) -> Option<String> {
        headers
            .into_iter()
            .flat_map(Cookie::split_parse)
            .filter_map(Result::ok)
            .find(|c| c.name() == name)
            .map(|c| c.value().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// `Set-Cookie` value that stores `value` for `max_age` seconds.
    pub(crate) fn set(&self, which: TokenCookie, value: &str, max_age: i64) -> String {
        let mut cookie = self.base(which, value);
        cookie.set_max_age(cookie::time::Duration::seconds(max_age));
        cookie.to_string()
    }

    /// `Set-Cookie` value that makes browsers drop the cookie: the same name, path, domain and
    /// flags as when set, `Max-Age=0` and an `Expires` in the past.
    pub(crate) fn removal(&self, which: TokenCookie) -> String {
        let mut cookie = self.base(which, "");
        cookie.set_max_age(cookie::time::Duration::ZERO);
        cookie.set_expires(cookie::time::OffsetDateTime::UNIX_EPOCH);
        cookie.to_string()
    }

    /// The value of cookie `which` in the request's `Cookie` headers, if present and non-empty.
    pub(crate) fn read<'h>(
        &self,
        headers: impl IntoIterator<Item = &'h str>,
        which: TokenCookie,
    ) -> Option<String> {
        Self::read_named(headers, self.name(which))
    }
}

/// A cookie name is a non-empty RFC 6265 token.
pub(crate) fn check_cookie_name(name: &str) -> Result<(), ConfigError> {
    let valid = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if valid {
        Ok(())
    } else {
        Err(ConfigError::Invalid(format!(
            "invalid cookie name {name:?}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jar(secure: bool) -> CookieJar {
        CookieJar::new(CookieSettings::default(), secure).unwrap()
    }

    #[test]
    fn set_cookie_has_every_attribute() {
        assert_eq!(
            jar(false).set(TokenCookie::Access, "abc.def", 900),
            "access_token=abc.def; HttpOnly; SameSite=Lax; Path=/; Max-Age=900"
        );
        assert_eq!(
            jar(true).set(TokenCookie::Refresh, "x", 1_209_600),
            "refresh_token=x; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=1209600"
        );
    }

    #[test]
    fn removal_matches_the_set_cookie_and_expires_in_the_past() {
        assert_eq!(
            jar(true).removal(TokenCookie::Access),
            "access_token=; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT"
        );
    }

    #[test]
    fn scoped_refresh_cookie_and_domain() {
        let settings = CookieSettings {
            domain: Some("example.com".into()),
            refresh_path: Some("/api/users/token".into()),
            ..CookieSettings::default()
        };
        let jar = CookieJar::new(settings, true).unwrap();
        let c = jar.set(TokenCookie::Refresh, "r", 10);
        assert!(c.contains("Path=/api/users/token"), "{c}");
        assert!(c.contains("Domain=example.com"), "{c}");
    }

    #[test]
    fn host_prefix_rules() {
        let settings = CookieSettings {
            host_prefix: true,
            ..CookieSettings::default()
        };
        assert!(CookieJar::new(settings.clone(), false).is_err());
        let jar = CookieJar::new(settings, true).unwrap();
        assert!(
            jar.set(TokenCookie::Access, "v", 1)
                .starts_with("__Host-access_token=v;")
        );
    }

    #[test]
    fn reads_cookies_from_several_headers() {
        let jar = jar(false);
        let headers = ["a=1; access_token=tok", "refresh_token=ref"];
        assert_eq!(
            jar.read(headers, TokenCookie::Access).as_deref(),
            Some("tok")
        );
        assert_eq!(
            jar.read(headers, TokenCookie::Refresh).as_deref(),
            Some("ref")
        );
        assert_eq!(jar.read(["access_token="], TokenCookie::Access), None);
    }
}
