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
#[serde(rename_all = "lowercase")]
pub enum TokenKind {
    /// Short-lived, authorises requests.
    Access,
    /// Long-lived, single use, buys a new access token.
    Refresh,
}

/// The claims of every authx token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    pub iat: Timestamp,
    /// Expires at (seconds since the epoch).
    pub exp: Timestamp,
    /// A random id for this token.
    pub jti: String,
    /// The login session this token belongs to.
    pub sid: String,
    /// When that session opened, in milliseconds since the epoch: cut-offs ("log out
    /// everywhere", a ban) compare with it. Tokens issued before version 2 lack it, and their
    /// `iat` stands in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
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
}

impl fmt::Debug for JwtBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtBackend")
            .field("algorithm", &self.current.algorithm)
            .field("kid", &self.current.kid)
            .field(
                "previous",
                &self.previous.iter().map(|k| &k.kid).collect::<Vec<_>>(),
            )
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
    /// key's, a bad signature, a missing or malformed claim, the wrong `type`, `exp` at or
    /// before `now`, `sub` not matching `id`.
    pub fn decode(
        &self,
        token: &str,
        kind: TokenKind,
        now: Timestamp,
    ) -> Result<Claims, AuthError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::InvalidToken)?;
        let key = match header.kid.as_deref() {
            Some(kid) => std::iter::once(&self.current)
                .chain(&self.previous)
                .find(|k| k.kid == kid)
                .ok_or(AuthError::InvalidToken)?,
            None => &self.current,
        };
        let data = jsonwebtoken::decode::<Claims>(token, &key.decoding, &key.validation)
            .map_err(|_| AuthError::InvalidToken)?;
        let claims = data.claims;
        if claims.kind != kind
            || claims.exp <= now
            || claims.iat > claims.exp
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
