//! JSON Web Tokens: claims, signing and strict verification with a pinned algorithm.

use std::fmt;
use std::str::FromStr;

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use crate::clock::{Millis, Timestamp};
use crate::config::ConfigError;
use crate::error::AuthError;
use crate::store::User;

/// Whether a token is an access or a refresh token (the `type` claim).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum TokenKind {
    /// Short-lived, authorises requests.
    Access,
    /// Long-lived, single use, buys a new access token.
    Refresh,
}

/// The claims of every authx token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Claims {
    /// The user id as a string.
    pub sub: String,
    /// The user id.
    pub id: i64,
    /// The username when the token was issued.
    pub username: String,
    /// The permissions when the token was issued.
    pub permissions: Vec<String>,
    /// `access` or `refresh`.
    #[serde(rename = "type")]
    pub kind: TokenKind,
    /// Issued at (seconds since the epoch).
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub iat: Timestamp,
    /// Expires at (seconds since the epoch).
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub exp: Timestamp,
    /// A random id for this token.
    pub jti: String,
    /// The login session this token belongs to.
    pub sid: String,
    /// When that session opened, in milliseconds since the epoch: cut-offs ("log out
    /// everywhere", a ban) compare with it. Tokens issued before version 2 lack it, and their
    /// `iat` stands in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>))]
    pub auth_ms: Option<Millis>,
}

impl Claims {
    /// Claims for `user` in session `sid`, opened at `opened_ms`, valid until `exp`.
    pub(crate) fn for_user(
        user: &User,
        kind: TokenKind,
        sid: &str,
        opened_ms: Millis,
        now: Timestamp,
        exp: Timestamp,
    ) -> Self {
        Self {
            sub: user.id.to_string(),
            id: user.id,
            username: user.username.clone(),
            permissions: user.permissions.clone(),
            kind,
            iat: now,
            exp,
            jti: crate::random::token(16),
            sid: sid.to_owned(),
            auth_ms: Some(opened_ms),
        }
    }

    /// When the token's session opened, to the millisecond (see [`auth_ms`](Self::auth_ms)).
    pub fn session_opened_ms(&self) -> Millis {
        self.auth_ms
            .unwrap_or_else(|| self.iat.saturating_mul(1000))
    }

    /// Whether `"admin"` is among the permissions.
    pub fn is_admin(&self) -> bool {
        self.permissions.iter().any(|p| p == "admin")
    }
}

/// A signing algorithm authx accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SigningAlgorithm {
    /// HMAC-SHA256 with a shared secret of at least 32 bytes (the default).
    #[default]
    HS256,
    /// Ed25519 (recommended asymmetric choice).
    EdDSA,
    /// ECDSA P-256 with SHA-256.
    ES256,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
}

impl SigningAlgorithm {
    fn jwt(self) -> Algorithm {
        match self {
            Self::HS256 => Algorithm::HS256,
            Self::EdDSA => Algorithm::EdDSA,
            Self::ES256 => Algorithm::ES256,
            Self::RS256 => Algorithm::RS256,
        }
    }

    /// The algorithm's JOSE name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HS256 => "HS256",
            Self::EdDSA => "EdDSA",
            Self::ES256 => "ES256",
            Self::RS256 => "RS256",
        }
    }
}

impl fmt::Display for SigningAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SigningAlgorithm {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "HS256" => Ok(Self::HS256),
            "EdDSA" => Ok(Self::EdDSA),
            "ES256" => Ok(Self::ES256),
            "RS256" => Ok(Self::RS256),
            other => Err(ConfigError::Invalid(format!(
                "unknown JWT algorithm {other:?}: expected HS256, EdDSA, ES256 or RS256"
            ))),
        }
    }
}

/// One verification key with its pinned algorithm.
#[derive(Clone)]
struct VerifyKey {
    kid: String,
    algorithm: SigningAlgorithm,
    decoding: DecodingKey,
    validation: Validation,
    public_jwk: Option<Jwk>,
}

impl VerifyKey {
    fn new(
        kid: String,
        algorithm: SigningAlgorithm,
        decoding: DecodingKey,
        public_jwk: Option<Jwk>,
    ) -> Self {
        let mut validation = Validation::new(algorithm.jwt());
        // Expiry is checked against the service's clock (injectable), below.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        let public_jwk = public_jwk.map(|mut jwk| {
            jwk.common.key_id = Some(kid.clone());
            jwk.common.public_key_use = Some(jsonwebtoken::jwk::PublicKeyUse::Signature);
            jwk
        });
        Self {
            kid,
            algorithm,
            decoding,
            validation,
            public_jwk,
        }
    }
}

/// Signs and verifies tokens: the original's `auth_backend`.
///
/// Each key has an id (`kid`, written in every token's header) and one pinned algorithm: a
/// token whose header names another algorithm (or `none`) is refused, whatever its signature.
/// Keys rotate without logging anyone out: sign with a new key and keep the old one for
/// verification with [`with_previous`](Self::with_previous) until its tokens have expired.
///
/// ```
/// use authx_core::token::JwtBackend;
/// let old = JwtBackend::hs256(b"0123456789abcdef0123456789abcdef").unwrap();
/// let new = JwtBackend::hs256(b"another secret of at least 32 bytes!").unwrap().with_previous(old);
/// assert!(JwtBackend::hs256(b"too short").is_err());
/// # let _ = new;
/// ```
#[derive(Clone)]
pub struct JwtBackend {
    encoding: EncodingKey,
    current: VerifyKey,
    previous: Vec<VerifyKey>,
    /// Seconds a token's `iat` and `nbf` may lie ahead of the verifier's clock.
    leeway: Timestamp,
}

/// How far ahead of the verifier's clock a token's `iat` (and `nbf`) may lie by default: 60 s,
/// for clocks of several instances that differ a little.
pub const DEFAULT_LEEWAY: std::time::Duration = std::time::Duration::from_mins(1);

impl fmt::Debug for JwtBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtBackend")
            .field("algorithm", &self.current.algorithm)
            .field("kid", &self.current.kid)
            .field(
                "previous",
                &self.previous.iter().map(|k| &k.kid).collect::<Vec<_>>(),
            )
            .field("leeway", &self.leeway)
            .finish_non_exhaustive()
    }
}

impl JwtBackend {
    /// HS256 with `secret`, which must be at least 32 bytes. Its default `kid` is derived from
    /// a hash of the secret.
    pub fn hs256(secret: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        let secret = secret.as_ref();
        if secret.len() < 32 {
            return Err(ConfigError::Invalid(format!(
                "the HS256 secret must be at least 32 bytes, got {}",
                secret.len()
            )));
        }
        let invalid = |e: jsonwebtoken::errors::Error| {
            ConfigError::Invalid(format!("unusable HS256 secret: {e}"))
        };
        let encoding = EncodingKey::from_secret(secret).map_err(invalid)?;
        let decoding = DecodingKey::from_secret(secret).map_err(invalid)?;
        let digest = sha2::Sha256::digest([b"authx-kid:".as_slice(), secret].concat());
        let kid = crate::random::hex(&digest[..8]);
        Ok(Self {
            encoding,
            current: VerifyKey::new(kid, SigningAlgorithm::HS256, decoding, None),
            previous: Vec::new(),
            leeway: crate::service::secs(DEFAULT_LEEWAY),
        })
    }

    /// An asymmetric algorithm with its PEM (PKCS#8) private key; the public key is derived.
    /// Its default `kid` is the key's RFC 7638 thumbprint.
    pub fn from_private_pem(algorithm: SigningAlgorithm, pem: &[u8]) -> Result<Self, ConfigError> {
        let invalid = |e: jsonwebtoken::errors::Error| {
            ConfigError::Invalid(format!("cannot read the {algorithm} private key: {e}"))
        };
        let encoding = match algorithm {
            SigningAlgorithm::HS256 => {
                return Err(ConfigError::Invalid(
                    "HS256 takes a secret, not a PEM key".into(),
                ));
            }
            SigningAlgorithm::EdDSA => EncodingKey::from_ed_pem(pem).map_err(invalid)?,
            SigningAlgorithm::ES256 => EncodingKey::from_ec_pem(pem).map_err(invalid)?,
            SigningAlgorithm::RS256 => EncodingKey::from_rsa_pem(pem).map_err(invalid)?,
        };
        let jwk = Jwk::from_encoding_key(&encoding, algorithm.jwt()).map_err(invalid)?;
        let decoding = DecodingKey::from_jwk(&jwk).map_err(invalid)?;
        let kid = jwk
            .thumbprint(jsonwebtoken::jwk::ThumbprintHash::SHA256)
            .map_err(invalid)?;
        Ok(Self {
            encoding,
            current: VerifyKey::new(kid, algorithm, decoding, Some(jwk)),
            previous: Vec::new(),
            leeway: crate::service::secs(DEFAULT_LEEWAY),
        })
    }

    /// Sets the id of the signing key (written as `kid` in every token's header).
    #[must_use]
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        let kid = kid.into();
        if let Some(jwk) = &mut self.current.public_jwk {
            jwk.common.key_id = Some(kid.clone());
        }
        self.current.kid = kid;
        self
    }

    /// Keeps `old`'s keys for verification only: tokens it signed stay valid until they expire.
    /// Remove it once they have (after the refresh lifetime) and its tokens stop working.
    #[must_use]
    pub fn with_previous(mut self, old: JwtBackend) -> Self {
        self.previous.push(old.current);
        self.previous.extend(old.previous);
        self.previous.retain(|k| k.kid != self.current.kid);
        self
    }

    /// Lets a token's `iat` and `nbf` lie up to `leeway` ahead of the verifier's clock
    /// (default [`DEFAULT_LEEWAY`]); beyond it the token is refused. The service sets it from
    /// [`Settings::token_leeway`](crate::config::Settings::token_leeway).
    #[must_use]
    pub fn with_leeway(mut self, leeway: std::time::Duration) -> Self {
        self.leeway = crate::service::secs(leeway);
        self
    }

    /// How far ahead of the verifier's clock `iat` and `nbf` may lie.
    pub fn leeway(&self) -> std::time::Duration {
        std::time::Duration::from_secs(u64::try_from(self.leeway).unwrap_or(0))
    }

    /// The pinned algorithm of the signing key.
    pub fn algorithm(&self) -> SigningAlgorithm {
        self.current.algorithm
    }

    /// The id of the signing key.
    pub fn kid(&self) -> &str {
        &self.current.kid
    }

    /// The public key of the signing key as a JWK, for asymmetric algorithms.
    pub fn public_jwk(&self) -> Option<&Jwk> {
        self.current.public_jwk.as_ref()
    }

    /// The public keys (current first, then previous ones) as a JWK set, for other services
    /// to verify tokens; `None` when no key is asymmetric.
    pub fn jwks(&self) -> Option<JwkSet> {
        let keys: Vec<Jwk> = std::iter::once(&self.current)
            .chain(&self.previous)
            .filter_map(|k| k.public_jwk.clone())
            .collect();
        (!keys.is_empty()).then_some(JwkSet { keys })
    }

    /// Signs `claims` with the current key.
    pub fn encode(&self, claims: &Claims) -> Result<String, AuthError> {
        let mut header = Header::new(self.current.algorithm.jwt());
        header.kid = Some(self.current.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).map_err(AuthError::unavailable)
    }

    /// Verifies `token` as a token of `kind` valid at `now`.
    ///
    /// Refused (as [`AuthError::InvalidToken`]): an unknown `kid`, an algorithm other than that
    /// key's, a header naming a critical extension (`crit`: none is understood, RFC 7515
    /// 4.1.11) or carrying a key or a key's address (`jwk`, `jku`, `x5u`, `x5c`: keys come
    /// from this backend only), a bad signature, a missing or malformed claim (`exp: null`
    /// included), the wrong `type`, `exp` at or before `now`, `iat` or `nbf` more than the
    /// [leeway](Self::with_leeway) after `now`, `iat` after `exp`, `sub` not matching `id`.
    pub fn decode(
        &self,
        token: &str,
        kind: TokenKind,
        now: Timestamp,
    ) -> Result<Claims, AuthError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::InvalidToken)?;
        if header.crit.is_some()
            || header.jwk.is_some()
            || header.jku.is_some()
            || header.x5u.is_some()
            || header.x5c.is_some()
        {
            return Err(AuthError::InvalidToken);
        }
        let key = match header.kid.as_deref() {
            Some(kid) => std::iter::once(&self.current)
                .chain(&self.previous)
                .find(|k| k.kid == kid)
                .ok_or(AuthError::InvalidToken)?,
            None => &self.current,
        };
        let data = jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(
            token,
            &key.decoding,
            &key.validation,
        )
        .map_err(|_| AuthError::InvalidToken)?;
        let mut payload = data.claims;
        // `nbf` is optional; present, it must be an instant.
        let not_before = match payload.remove("nbf") {
            None => None,
            Some(value) => Some(value.as_i64().ok_or(AuthError::InvalidToken)?),
        };
        let claims: Claims = serde_json::from_value(serde_json::Value::Object(payload))
            .map_err(|_| AuthError::InvalidToken)?;
        let latest_start = now.saturating_add(self.leeway);
        if claims.kind != kind
            || claims.exp <= now
            || claims.iat > claims.exp
            || claims.iat > latest_start
            || not_before.is_some_and(|nbf| nbf > latest_start)
            || claims.sub != claims.id.to_string()
        {
            return Err(AuthError::InvalidToken);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
    const NOW: Timestamp = 1_800_000_000;

    fn claims(kind: TokenKind) -> Claims {
        Claims {
            sub: "7".into(),
            id: 7,
            username: "bob".into(),
            permissions: vec![],
            kind,
            iat: NOW,
            exp: NOW + 900,
            jti: "j".into(),
            sid: "s".into(),
            auth_ms: Some(NOW * 1000),
        }
    }

    fn b64(v: &serde_json::Value) -> String {
        URL_SAFE_NO_PAD.encode(v.to_string())
    }

    /// A token with the given header and payload, HS-signed with `SECRET` by hand.
    fn forge(header: &serde_json::Value, payload: &serde_json::Value, alg: Algorithm) -> String {
        let message = format!("{}.{}", b64(header), b64(payload));
        let key = EncodingKey::from_secret(SECRET).unwrap();
        let signature = jsonwebtoken::crypto::sign(message.as_bytes(), &key, alg).unwrap();
        format!("{message}.{signature}")
    }

    fn payload() -> serde_json::Value {
        serde_json::to_value(claims(TokenKind::Access)).unwrap()
    }

    #[test]
    fn round_trip_and_type_pinning() {
        let b = JwtBackend::hs256(SECRET).unwrap();
        let access = b.encode(&claims(TokenKind::Access)).unwrap();
        assert_eq!(
            b.decode(&access, TokenKind::Access, NOW).unwrap(),
            claims(TokenKind::Access)
        );
        assert!(b.decode(&access, TokenKind::Refresh, NOW).is_err());
        let refresh = b.encode(&claims(TokenKind::Refresh)).unwrap();
        assert!(b.decode(&refresh, TokenKind::Access, NOW).is_err());
    }

    #[test]
    fn expiry_follows_the_given_clock() {
        let b = JwtBackend::hs256(SECRET).unwrap();
        let t = b.encode(&claims(TokenKind::Access)).unwrap();
        assert!(b.decode(&t, TokenKind::Access, NOW + 899).is_ok());
        assert!(b.decode(&t, TokenKind::Access, NOW + 900).is_err());
    }

    #[test]
    fn forged_tokens_are_refused() {
        let b = JwtBackend::hs256(SECRET).unwrap();
        // The hand-made signer is right: a well-formed HS256 token passes.
        let good = forge(
            &serde_json::json!({"alg": "HS256", "typ": "JWT"}),
            &payload(),
            Algorithm::HS256,
        );
        assert!(b.decode(&good, TokenKind::Access, NOW).is_ok());
        // alg: none, with and without a signature.
        let none = format!(
            "{}.{}.",
            b64(&serde_json::json!({"alg": "none"})),
            b64(&payload())
        );
        assert!(b.decode(&none, TokenKind::Access, NOW).is_err());
        // Another HMAC algorithm with the same secret.
        let hs384 = forge(
            &serde_json::json!({"alg": "HS384"}),
            &payload(),
            Algorithm::HS384,
        );
        assert!(b.decode(&hs384, TokenKind::Access, NOW).is_err());
        // A bad signature.
        let mut tampered = good.clone();
        tampered.pop();
        tampered.push(if good.ends_with('A') { 'B' } else { 'A' });
        assert!(b.decode(&tampered, TokenKind::Access, NOW).is_err());
        // A payload changed after signing.
        let parts: Vec<_> = good.split('.').collect();
        let mut admin = payload();
        admin["permissions"] = serde_json::json!(["admin"]);
        let swapped = format!("{}.{}.{}", parts[0], b64(&admin), parts[2]);
        assert!(b.decode(&swapped, TokenKind::Access, NOW).is_err());
        // exp as a string, exp missing, iat missing, type missing, sub not matching id.
        let hs = serde_json::json!({"alg": "HS256"});
        for mutate in [
            |p: &mut serde_json::Value| p["exp"] = serde_json::json!((NOW + 900).to_string()),
            |p: &mut serde_json::Value| {
                p.as_object_mut().unwrap().remove("exp");
            },
            |p: &mut serde_json::Value| {
                p.as_object_mut().unwrap().remove("iat");
            },
            |p: &mut serde_json::Value| {
                p.as_object_mut().unwrap().remove("type");
            },
            |p: &mut serde_json::Value| p["type"] = serde_json::json!("ACCESS"),
            |p: &mut serde_json::Value| p["sub"] = serde_json::json!("8"),
            |p: &mut serde_json::Value| p["id"] = serde_json::json!("7"),
        ] {
            let mut p = payload();
            mutate(&mut p);
            let t = forge(&hs, &p, Algorithm::HS256);
            assert!(b.decode(&t, TokenKind::Access, NOW).is_err(), "{p}");
        }
        // Garbage.
        for junk in ["", "a.b.c", "not a token", "....", "eyJ.eyJ.x"] {
            assert!(b.decode(junk, TokenKind::Access, NOW).is_err());
        }
    }

    #[test]
    fn clock_claims_beyond_the_leeway_are_refused() {
        let b = JwtBackend::hs256(SECRET).unwrap();
        assert_eq!(b.leeway(), DEFAULT_LEEWAY);
        let hs = serde_json::json!({"alg": "HS256"});
        let with = |mutate: &dyn Fn(&mut serde_json::Value)| {
            let mut p = payload();
            mutate(&mut p);
            forge(&hs, &p, Algorithm::HS256)
        };
        // `iat` a year ahead, validly signed and not expired: refused.
        let year = 365 * 24 * 3600;
        let future = with(&|p| {
            p["iat"] = serde_json::json!(NOW + year);
            p["exp"] = serde_json::json!(NOW + year + 900);
        });
        assert!(b.decode(&future, TokenKind::Access, NOW).is_err());
        // Within the leeway (another instance's clock a little ahead): accepted; a second
        // beyond it: refused.
        for (iat, ok) in [(NOW + 60, true), (NOW + 61, false)] {
            let t = with(&|p| p["iat"] = serde_json::json!(iat));
            assert_eq!(
                b.decode(&t, TokenKind::Access, NOW).is_ok(),
                ok,
                "iat {iat}"
            );
        }
        // `nbf`, when present, the same; it must be an instant.
        for (nbf, ok) in [
            (serde_json::json!(NOW - 10), true),
            (serde_json::json!(NOW + 60), true),
            (serde_json::json!(NOW + 61), false),
            (serde_json::json!(NOW + year), false),
            (serde_json::json!((NOW - 10).to_string()), false),
            (serde_json::json!(null), false),
        ] {
            let t = with(&|p| p["nbf"] = nbf.clone());
            assert_eq!(
                b.decode(&t, TokenKind::Access, NOW).is_ok(),
                ok,
                "nbf {nbf}"
            );
        }
        // The leeway is configurable.
        let strict = JwtBackend::hs256(SECRET)
            .unwrap()
            .with_leeway(std::time::Duration::ZERO);
        let ahead = with(&|p| p["iat"] = serde_json::json!(NOW + 1));
        assert!(strict.decode(&ahead, TokenKind::Access, NOW).is_err());
        assert!(b.decode(&ahead, TokenKind::Access, NOW).is_ok());
    }

    #[test]
    fn headers_naming_extensions_or_keys_are_refused() {
        let b = JwtBackend::hs256(SECRET).unwrap();
        let p = payload();
        // Signed with the right key, but naming a critical extension nobody understands.
        for crit in [
            serde_json::json!({"alg": "HS256", "crit": ["exp"]}),
            serde_json::json!({"alg": "HS256", "crit": ["urn:example:unknown"], "urn:example:unknown": 1}),
            serde_json::json!({"alg": "HS256", "crit": []}),
        ] {
            let t = forge(&crit, &p, Algorithm::HS256);
            assert!(b.decode(&t, TokenKind::Access, NOW).is_err(), "{crit}");
        }
        // Carrying a key, or where to fetch one: keys come from the backend only, whatever
        // signed the token (here even the right key).
        let attacker = serde_json::json!({
            "kty": "oct", "k": URL_SAFE_NO_PAD.encode(b"an attacker's secret of 32 bytes!!")
        });
        for header in [
            serde_json::json!({"alg": "HS256", "jwk": attacker}),
            serde_json::json!({"alg": "HS256", "jku": "https://attacker.example/jwks.json"}),
            serde_json::json!({"alg": "HS256", "x5u": "https://attacker.example/cert.pem"}),
            serde_json::json!({"alg": "HS256", "x5c": ["MIIB"]}),
        ] {
            let t = forge(&header, &p, Algorithm::HS256);
            assert!(b.decode(&t, TokenKind::Access, NOW).is_err(), "{header}");
        }
        // `exp: null` is no expiry: refused, as a missing one is.
        let mut no_exp = payload();
        no_exp["exp"] = serde_json::Value::Null;
        let t = forge(
            &serde_json::json!({"alg": "HS256"}),
            &no_exp,
            Algorithm::HS256,
        );
        assert!(b.decode(&t, TokenKind::Access, NOW).is_err());
    }

    /// On each asymmetric backend, an HS256 token whose HMAC key is the public key's bytes
    /// (PEM, DER, the JWK's members) is refused: the algorithm is pinned per key.
    #[test]
    fn hs256_keyed_with_the_public_key_is_refused() {
        let keys: [(SigningAlgorithm, &[u8], &str); 3] = [
            (
                SigningAlgorithm::EdDSA,
                include_bytes!("../testdata/ed25519.pem"),
                include_str!("../testdata/ed25519.pub.pem"),
            ),
            (
                SigningAlgorithm::ES256,
                include_bytes!("../testdata/p256.pem"),
                include_str!("../testdata/p256.pub.pem"),
            ),
            (
                SigningAlgorithm::RS256,
                include_bytes!("../testdata/rsa2048.pem"),
                include_str!("../testdata/rsa2048.pub.pem"),
            ),
        ];
        for (alg, private, public_pem) in keys {
            let b = JwtBackend::from_private_pem(alg, private).unwrap();
            let der: String = public_pem
                .lines()
                .filter(|l| !l.starts_with("-----"))
                .collect();
            let der = base64::engine::general_purpose::STANDARD
                .decode(der)
                .unwrap();
            let jwk = serde_json::to_value(b.public_jwk().unwrap()).unwrap();
            let mut public_keys: Vec<Vec<u8>> = vec![
                public_pem.as_bytes().to_vec(),
                public_pem.trim_end().as_bytes().to_vec(),
                der,
                jwk.to_string().into_bytes(),
            ];
            for member in ["x", "n"] {
                if let Some(value) = jwk[member].as_str() {
                    public_keys.push(value.as_bytes().to_vec());
                    public_keys.push(URL_SAFE_NO_PAD.decode(value).unwrap());
                }
            }
            for key in public_keys {
                for header in [
                    serde_json::json!({"alg": "HS256", "kid": b.kid()}),
                    serde_json::json!({"alg": "HS256"}),
                ] {
                    let message = format!("{}.{}", b64(&header), b64(&payload()));
                    let signature = jsonwebtoken::crypto::sign(
                        message.as_bytes(),
                        &EncodingKey::from_secret(&key).unwrap(),
                        Algorithm::HS256,
                    )
                    .unwrap();
                    let t = format!("{message}.{signature}");
                    assert!(
                        b.decode(&t, TokenKind::Access, NOW).is_err(),
                        "{alg} with {header}"
                    );
                }
            }
            // The backend's own tokens still verify.
            let own = b.encode(&claims(TokenKind::Access)).unwrap();
            assert!(b.decode(&own, TokenKind::Access, NOW).is_ok(), "{alg}");
        }
    }

    #[test]
    fn asymmetric_keys_sign_and_verify_and_stay_pinned() {
        let keys: [(SigningAlgorithm, &[u8]); 3] = [
            (
                SigningAlgorithm::EdDSA,
                include_bytes!("../testdata/ed25519.pem"),
            ),
            (
                SigningAlgorithm::ES256,
                include_bytes!("../testdata/p256.pem"),
            ),
            (
                SigningAlgorithm::RS256,
                include_bytes!("../testdata/rsa2048.pem"),
            ),
        ];
        let hs = JwtBackend::hs256(SECRET).unwrap();
        for (alg, pem) in keys {
            let b = JwtBackend::from_private_pem(alg, pem).unwrap();
            assert!(b.public_jwk().is_some());
            let t = b.encode(&claims(TokenKind::Access)).unwrap();
            assert!(b.decode(&t, TokenKind::Access, NOW).is_ok(), "{alg}");
            assert!(hs.decode(&t, TokenKind::Access, NOW).is_err());
            let h = hs.encode(&claims(TokenKind::Access)).unwrap();
            assert!(b.decode(&h, TokenKind::Access, NOW).is_err());
        }
        assert!(JwtBackend::from_private_pem(SigningAlgorithm::EdDSA, b"junk").is_err());
        assert!(hs.jwks().is_none());
        assert!("HS512".parse::<SigningAlgorithm>().is_err());
    }
}

#[cfg(test)]
mod rotation_tests {
    use super::*;

    const NOW: Timestamp = 1_800_000_000;

    fn claims() -> Claims {
        Claims {
            sub: "1".into(),
            id: 1,
            username: "a".into(),
            permissions: vec![],
            kind: TokenKind::Access,
            iat: NOW,
            exp: NOW + 60,
            jti: "j".into(),
            sid: "s".into(),
            auth_ms: Some(NOW * 1000),
        }
    }

    #[test]
    fn previous_keys_verify_removed_keys_do_not() {
        let old = JwtBackend::hs256(b"the old secret, at least 32 bytes long").unwrap();
        let old_token = old.encode(&claims()).unwrap();
        let ed = JwtBackend::from_private_pem(
            SigningAlgorithm::EdDSA,
            include_bytes!("../testdata/ed25519.pem"),
        )
        .unwrap();
        let rotated = ed.clone().with_previous(old.clone());
        let new_token = rotated.encode(&claims()).unwrap();
        assert_eq!(
            jsonwebtoken::decode_header(&new_token)
                .unwrap()
                .kid
                .as_deref(),
            Some(rotated.kid())
        );
        assert!(rotated.decode(&old_token, TokenKind::Access, NOW).is_ok());
        assert!(rotated.decode(&new_token, TokenKind::Access, NOW).is_ok());
        // Without the old key, its tokens stop working.
        assert!(ed.decode(&old_token, TokenKind::Access, NOW).is_err());
        // The old key does not verify tokens of the new one.
        assert!(old.decode(&new_token, TokenKind::Access, NOW).is_err());
        // The JWKS lists the public key with its kid; the HS256 secret never appears.
        let jwks = rotated.jwks().unwrap();
        assert_eq!(jwks.keys.len(), 1);
        assert_eq!(jwks.keys[0].common.key_id.as_deref(), Some(rotated.kid()));
        let key = DecodingKey::from_jwk(&jwks.keys[0]).unwrap();
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.validate_exp = false;
        assert!(jsonwebtoken::decode::<Claims>(&new_token, &key, &validation).is_ok());
    }

    #[test]
    fn a_kid_naming_another_key_with_another_algorithm_is_refused() {
        let old = JwtBackend::hs256(b"the old secret, at least 32 bytes long").unwrap();
        let rotated = JwtBackend::hs256(b"the new secret, at least 32 bytes long")
            .unwrap()
            .with_previous(old.clone());
        // A token claiming the old kid but signed with the new key.
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(old.kid().to_owned());
        let forged = jsonwebtoken::encode(&header, &claims(), &rotated.encoding).unwrap();
        assert!(rotated.decode(&forged, TokenKind::Access, NOW).is_err());
        let mut unknown = Header::new(Algorithm::HS256);
        unknown.kid = Some("nope".into());
        let forged = jsonwebtoken::encode(&unknown, &claims(), &rotated.encoding).unwrap();
        assert!(rotated.decode(&forged, TokenKind::Access, NOW).is_err());
    }
}
