//! The plain request data an adapter hands to the core, and the plain response it copies back.

use std::net::IpAddr;

use serde_json::{Map, Value};

use crate::config::BODY_LIMIT;
use crate::error::AuthError;

/// What the core needs of an HTTP request. Adapters fill it from their framework's request
/// and hand it to [`Auth::serve`](crate::Auth::serve), which resolves the route.
///
/// ```
/// use authx_core::AuthRequest;
/// let req = AuthRequest::new("127.0.0.1".parse().unwrap())
///     .at("POST", "/api/users", "/login", None)
///     .header("Content-Type", b"application/json")
///     .header("X-Unrelated", b"ignored")
///     .body(br#"{"login":"bob","password":"secret123"}"#.to_vec());
/// assert_eq!(req.header_value("content-type"), Some("application/json"));
/// assert_eq!(req.header_value("x-unrelated"), None);
/// assert_eq!((req.method(), req.path()), ("POST", "/login"));
/// ```
#[derive(Debug, Clone)]
pub struct AuthRequest {
    /// The socket peer address.
    pub peer: IpAddr,
    method: String,
    prefix: String,
    path: String,
    query: Option<String>,
    /// The headers the core reads, names lower-cased, in order.
    headers: Vec<(&'static str, String)>,
    /// The size of every header given, read or not ([`header_block_len`]).
    ///
    /// [`header_block_len`]: crate::config::header_block_len
    header_bytes: usize,
    /// The path parameter of the resolved route, percent-decoded.
    pub(crate) param: Option<String>,
    /// The body bytes.
    pub body: Vec<u8>,
}

/// Headers the core reads; others are not kept.
const READ_HEADERS: &[&str] = &[
    "authorization",
    "cookie",
    "content-type",
    "origin",
    "sec-fetch-site",
    "x-forwarded-for",
    "forwarded",
    "x-csrf-token",
    "user-agent",
];

impl AuthRequest {
    /// A `GET` of the prefix itself from `peer`, with no headers or body.
    pub fn new(peer: IpAddr) -> Self {
        Self {
            peer,
            method: "GET".into(),
            prefix: String::new(),
            path: String::new(),
            query: None,
            headers: Vec::new(),
            header_bytes: 0,
            param: None,
            body: Vec::new(),
        }
    }

    /// Sets what is asked: `method` as on the wire, the `prefix` the router is mounted under
    /// (`/api/users`, as received), the `path` relative to it as received, not
    /// percent-decoded (`/login`; `""` for the prefix itself), and the raw query string.
    #[must_use]
    pub fn at(mut self, method: &str, prefix: &str, path: &str, query: Option<&str>) -> Self {
        method.clone_into(&mut self.method);
        prefix.clone_into(&mut self.prefix);
        path.clone_into(&mut self.path);
        self.query = query.map(str::to_owned);
        self
    }

    /// The method, as on the wire.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The mount prefix, as received.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The path relative to the prefix, as received.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The raw query string, if any.
    pub fn query(&self) -> Option<&str> {
        self.query.as_deref()
    }

    /// Adds a header if the core reads it (the name is matched without regard to case). Values
    /// that are not UTF-8 are dropped.
    #[must_use]
    pub fn header(mut self, name: &str, value: &[u8]) -> Self {
        self.push_header(name, value);
        self
    }

    /// Adds a header in place; see [`header`](Self::header). Every header counts towards the
    /// header block's size ([`HEADER_LIMIT`](crate::config::HEADER_LIMIT)), kept or not, so
    /// adapters give every header of the request.
    pub fn push_header(&mut self, name: &str, value: &[u8]) {
        self.header_bytes = self
            .header_bytes
            .saturating_add(crate::config::header_field_len(name.as_bytes(), value));
        if let Some(known) = READ_HEADERS.iter().find(|h| h.eq_ignore_ascii_case(name))
            && let Ok(value) = std::str::from_utf8(value)
        {
            self.headers.push((known, value.to_owned()));
        }
    }

    /// Sets the body.
    #[must_use]
    pub fn body(mut self, body: Vec<u8>) -> Self {
        self.body = body;
        self
    }

    /// The size of the header block given so far
    /// ([`header_block_len`](crate::config::header_block_len)).
    pub fn header_bytes(&self) -> usize {
        self.header_bytes
    }

    /// The first value of header `name` (lower-case).
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of header `name` (lower-case), in order.
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The bearer token of the `Authorization` header, if any.
    pub(crate) fn bearer(&self) -> Option<&str> {
        let value = self.header_value("authorization")?.trim();
        let (scheme, token) = value.split_once(' ')?;
        scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim())
            .filter(|t| !t.is_empty())
    }

    /// The body as a JSON object: `None` for an empty body, an error for anything that is not
    /// an object (or JSON sent under another content type).
    pub(crate) fn json_object(&self) -> Result<Option<Map<String, Value>>, AuthError> {
        if self.body.len() > BODY_LIMIT {
            return Err(AuthError::PayloadTooLarge);
        }
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        if let Some(content_type) = self.header_value("content-type") {
            let mime = content_type
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            if mime != "application/json"
                && !(mime.starts_with("application/") && mime.ends_with("+json"))
            {
                return Err(AuthError::UnsupportedContentType);
            }
        }
        match serde_json::from_slice::<Value>(&self.body) {
            Ok(Value::Object(map)) => Ok(Some(map)),
            Ok(_) => Err(AuthError::InvalidBody(
                "Request body must be a JSON object".into(),
            )),
            Err(e) => Err(AuthError::InvalidBody(format!("Malformed JSON: {e}"))),
        }
    }
}

/// The fields of a JSON object body, read one by one in validation order.
pub(crate) struct Fields(Option<Map<String, Value>>);

impl Fields {
    pub(crate) fn of(req: &AuthRequest) -> Result<Self, AuthError> {
        req.json_object().map(Self)
    }

    /// A required string field.
    pub(crate) fn string(&self, name: &'static str) -> Result<&str, AuthError> {
        self.optional_string(name)?
            .ok_or(AuthError::MissingField(name))
    }

    /// An optional string field (`null` counts as absent).
    pub(crate) fn optional_string(&self, name: &'static str) -> Result<Option<&str>, AuthError> {
        match self.0.as_ref().and_then(|m| m.get(name)) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(AuthError::InvalidBody(format!(
                "Field {name} must be a string"
            ))),
        }
    }

    /// An optional positive integer field (`null` counts as absent).
    pub(crate) fn optional_positive(&self, name: &'static str) -> Result<Option<u64>, AuthError> {
        match self.0.as_ref().and_then(|m| m.get(name)) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) if n.as_u64().is_some_and(|n| n > 0) => Ok(n.as_u64()),
            Some(_) => Err(AuthError::InvalidBody(format!(
                "Field {name} must be a positive integer"
            ))),
        }
    }
}

/// The query string's parameters, read by name; unknown ones are ignored.
pub(crate) struct Query(Vec<(String, String)>);

impl Query {
    pub(crate) fn of(req: &AuthRequest) -> Self {
        Self(
            url::form_urlencoded::parse(req.query().unwrap_or_default().as_bytes())
                .into_owned()
                .collect(),
        )
    }

    /// The first value of `name`, if present.
    pub(crate) fn string(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A positive integer parameter; present but not one: `400 invalid_query`.
    pub(crate) fn positive(&self, name: &'static str) -> Result<Option<u64>, AuthError> {
        self.string(name)
            .map(|raw| {
                crate::routes::parse_id(raw)
                    .and_then(|n| u64::try_from(n).ok())
                    .filter(|n| *n > 0)
                    .ok_or(AuthError::InvalidQuery(name))
            })
            .transpose()
    }
}

/// What the core answers: status, headers (in order, `Set-Cookie` possibly repeated) and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthResponse {
    /// HTTP status code.
    pub status: u16,
    /// Headers to send, in order. Names are canonical (`Content-Type`, `Set-Cookie`, ...).
    pub headers: Vec<(&'static str, String)>,
    /// The JSON body.
    pub body: String,
}

impl AuthResponse {
    /// `200` with a JSON body.
    pub(crate) fn ok(body: String) -> Self {
        Self {
            status: 200,
            headers: vec![("Content-Type", "application/json".into())],
            body,
        }
    }

    /// `200 null`.
    pub(crate) fn null() -> Self {
        Self::ok("null".into())
    }

    /// Adds a header.
    pub(crate) fn with(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }

    /// Adds `Cache-Control: no-store`, for answers that carry tokens.
    pub(crate) fn no_store(self) -> Self {
        self.with("Cache-Control", "no-store".into())
    }

    /// The `Set-Cookie` values, in order.
    pub fn set_cookies(&self) -> impl Iterator<Item = &str> {
        self.headers
            .iter()
            .filter(|(n, _)| *n == "Set-Cookie")
            .map(|(_, v)| v.as_str())
    }

    /// The error's wire form with its status and headers (`WWW-Authenticate` on 401,
    /// `Retry-After` where known). 5xx causes are logged here.
    pub fn from_error(error: &AuthError) -> Self {
        if let AuthError::Unavailable { source, .. } = error {
            tracing::error!(error = %source, cause = ?source, "authx: service unavailable");
        }
        let mut response = Self {
            status: error.status(),
            headers: vec![("Content-Type", "application/json".into())],
            body: error.to_json(),
        };
        if error.status() == 401 {
            response.headers.push(("WWW-Authenticate", "Bearer".into()));
        }
        if let Some(seconds) = error.retry_after() {
            response.headers.push(("Retry-After", seconds.to_string()));
        }
        response
    }
}

impl From<AuthError> for AuthResponse {
    fn from(error: AuthError) -> Self {
        Self::from_error(&error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(content_type: Option<&str>, body: &str) -> AuthRequest {
        let mut r = AuthRequest::new([127, 0, 0, 1].into()).body(body.as_bytes().to_vec());
        if let Some(ct) = content_type {
            r = r.header("Content-Type", ct.as_bytes());
        }
        r
    }

    #[test]
    fn bodies() {
        assert!(req(None, "").json_object().unwrap().is_none());
        assert!(
            req(Some("application/json; charset=utf-8"), "{}")
                .json_object()
                .unwrap()
                .is_some()
        );
        assert!(req(None, r#"{"a":1}"#).json_object().unwrap().is_some());
        let e = req(Some("application/json"), "[1]")
            .json_object()
            .unwrap_err();
        assert_eq!(e.detail(), "Request body must be a JSON object");
        let e = req(Some("application/json"), "{")
            .json_object()
            .unwrap_err();
        assert!(e.detail().starts_with("Malformed JSON"), "{}", e.detail());
        let e = req(Some("text/plain"), "{}").json_object().unwrap_err();
        assert_eq!(e.code(), "unsupported_content_type");
        let big = format!(r#"{{"a":"{}"}}"#, "x".repeat(BODY_LIMIT));
        assert_eq!(req(None, &big).json_object().unwrap_err().status(), 413);
    }

    #[test]
    fn fields() {
        let f = Fields::of(&req(None, r#"{"a":"x","b":5,"c":null,"extra":[1]}"#)).unwrap();
        assert_eq!(f.string("a").unwrap(), "x");
        assert_eq!(
            f.string("b").unwrap_err().detail(),
            "Field b must be a string"
        );
        assert_eq!(f.string("c").unwrap_err().detail(), "Field required: c");
        assert_eq!(f.string("d").unwrap_err().detail(), "Field required: d");
        let f = Fields::of(&req(
            None,
            r#"{"n":5,"z":0,"m":-1,"f":1.5,"s":"5","c":null}"#,
        ))
        .unwrap();
        assert_eq!(f.optional_positive("n").unwrap(), Some(5));
        assert_eq!(f.optional_positive("c").unwrap(), None);
        assert_eq!(f.optional_positive("d").unwrap(), None);
        for bad in ["z", "m", "f", "s"] {
            assert_eq!(
                f.optional_positive(bad).unwrap_err().code(),
                "invalid_body",
                "{bad}"
            );
        }
    }

    #[test]
    fn queries() {
        let at = |query| AuthRequest::new([127, 0, 0, 1].into()).at("GET", "", "", Some(query));
        let q = Query::of(&at("p=2&username=a%25b+c&p=9&x"));
        assert_eq!(q.string("username"), Some("a%b c"));
        assert_eq!(q.positive("p").unwrap(), Some(2));
        assert_eq!(q.positive("missing").unwrap(), None);
        for bad in ["p=0", "p=abc", "p=-1", "p=", "p=1.5"] {
            let e = Query::of(&at(bad)).positive("p").unwrap_err();
            assert_eq!((e.status(), e.code()), (400, "invalid_query"), "{bad}");
        }
    }

    #[test]
    fn bearer() {
        let r = AuthRequest::new([127, 0, 0, 1].into()).header("authorization", b"bearer  abc ");
        assert_eq!(r.bearer(), Some("abc"));
        let r = AuthRequest::new([127, 0, 0, 1].into()).header("authorization", b"Basic abc");
        assert_eq!(r.bearer(), None);
    }
}
