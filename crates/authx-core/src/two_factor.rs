//! The second factor's pieces that are not a flow: the key that seals TOTP secrets at rest
//! (AES-256-GCM), RFC 6238 codes and `otpauth://` URIs (through `totp-rs`), and recovery codes.
//! The routes are in the service (`docs/two-factor.md`).

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};

use crate::config::ConfigError;

/// Digits of a TOTP code (RFC 6238 with SHA-1 and 30 s steps, what every authenticator app
/// reads from an `otpauth://` URI without parameters).
pub const TOTP_DIGITS: usize = 6;
/// Seconds per TOTP step.
pub const TOTP_STEP: i64 = 30;
/// Bytes of a new TOTP secret: 160 bits, as RFC 4226 recommends for HMAC-SHA-1.
const SECRET_BYTES: usize = 20;
/// Characters of a recovery code, written in groups of four (80 random bits).
const RECOVERY_CHARS: usize = 16;
/// The recovery codes' alphabet: digits and lower-case letters without `i`, `l`, `o`, `u`,
/// 32 symbols, so each random byte gives one without bias (`b % 32`).
const RECOVERY_ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
/// The format tag of a sealed value.
const SEALED_VERSION: &str = "v1";

/// A 32-byte key that seals TOTP secrets and second-factor challenges (AES-256-GCM). Its
/// `Debug` never shows it.
///
/// ```
/// use authx_core::two_factor::TotpKey;
/// let key = TotpKey::parse(&"ab".repeat(32)).unwrap();
/// assert_eq!(format!("{key:?}"), "TotpKey(***)");
/// assert!(TotpKey::parse("too short").is_err());
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct TotpKey([u8; 32]);

impl std::fmt::Debug for TotpKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpKey(***)")
    }
}

impl TotpKey {
    /// The key of these bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// A new random key.
    ///
    /// # Panics
    /// If the operating system has no random source, which no supported platform lacks.
    pub fn generate() -> Self {
        let mut bytes = [0_u8; 32];
        #[allow(clippy::expect_used)]
        getrandom::fill(&mut bytes).expect("the operating system's random source failed");
        Self(bytes)
    }

    /// Reads a key written as 64 hex digits or as base64 (standard or URL-safe, padded or not)
    /// of exactly 32 bytes, surrounding whitespace ignored.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let text = text.trim();
        let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            (0..32)
                .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16))
                .collect::<Result<Vec<u8>, _>>()
                .ok()
        } else {
            [STANDARD, URL_SAFE]
                .iter()
                .find_map(|engine| engine.decode(text).ok())
                .or_else(|| URL_SAFE_NO_PAD.decode(text).ok())
                .or_else(|| {
                    base64::engine::general_purpose::STANDARD_NO_PAD
                        .decode(text)
                        .ok()
                })
        };
        bytes
            .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
            .map(Self)
            .ok_or_else(|| {
                ConfigError::Invalid(
                    "the TOTP key must be 32 bytes, written as 64 hex digits or in base64".into(),
                )
            })
    }

    /// The key as 64 lower-case hex digits (how the examples keep a generated one).
    pub fn to_hex(&self) -> String {
        crate::random::hex(&self.0)
    }

    /// A short public name of the key, stored beside what it sealed so the right key opens it
    /// after a rotation: 8 hex digits of a hash of the key (it tells nothing of the key).
    fn id(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(b"authx totp key id\0");
        hasher.update(self.0);
        crate::random::hex(&hasher.finalize()[..4])
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(&self.0.into())
    }
}

/// What a sealed value is for; bound into each seal as associated data, so a value sealed for
/// one purpose (or one user) never opens as another.
#[derive(Debug, Clone, Copy)]
pub(crate) enum SealFor {
    /// The TOTP secret of this user.
    Secret(crate::store::UserId),
    /// A second-factor challenge cookie.
    Challenge,
}

impl SealFor {
    fn context(self) -> String {
        match self {
            Self::Secret(user) => format!("authx totp secret of user {user}"),
            Self::Challenge => "authx second-factor challenge".into(),
        }
    }
}

/// Seals with the current key and opens with it or any previous one (a key rotation).
#[derive(Debug, Clone)]
pub(crate) struct Sealer {
    current: TotpKey,
    previous: Vec<TotpKey>,
}

impl Sealer {
    pub(crate) fn new(current: TotpKey, previous: Vec<TotpKey>) -> Self {
        Self { current, previous }
    }

    /// `v1.<key id>.<base64url(nonce || ciphertext || tag)>`: AES-256-GCM under the current
    /// key with a random 96-bit nonce, `purpose` as associated data.
    pub(crate) fn seal(&self, plaintext: &[u8], purpose: SealFor) -> String {
        let mut nonce = [0_u8; 12];
        #[allow(clippy::expect_used)]
        getrandom::fill(&mut nonce).expect("the operating system's random source failed");
        let context = purpose.context();
        #[allow(clippy::expect_used)]
        let sealed = self
            .current
            .cipher()
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: context.as_bytes(),
                },
            )
            .expect("AES-GCM encrypts any message shorter than 64 GiB");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        format!(
            "{SEALED_VERSION}.{}.{}",
            self.current.id(),
            URL_SAFE_NO_PAD.encode(out)
        )
    }

    /// The plaintext of a value [`seal`](Self::seal) made for `purpose`, with whichever
    /// configured key made it; `None` when no key opens it (forged, altered, sealed for
    /// another purpose or user, or by a key no longer configured).
    pub(crate) fn open(&self, sealed: &str, purpose: SealFor) -> Option<Vec<u8>> {
        let mut parts = sealed.splitn(3, '.');
        let (Some(SEALED_VERSION), Some(id), Some(body)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let key = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.id() == id)?;
        let bytes = URL_SAFE_NO_PAD.decode(body).ok()?;
        if bytes.len() < 12 + 16 {
            return None;
        }
        let (nonce, ciphertext) = bytes.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().ok()?;
        let context = purpose.context();
        key.cipher()
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: context.as_bytes(),
                },
            )
            .ok()
    }

    /// Whether `sealed` was made by a previous key (and is worth sealing again with the
    /// current one).
    pub(crate) fn is_stale(&self, sealed: &str) -> bool {
        sealed.split('.').nth(1) != Some(self.current.id().as_str())
    }
}

/// A new random TOTP secret.
pub(crate) fn new_secret() -> Vec<u8> {
    let mut secret = vec![0_u8; SECRET_BYTES];
    #[allow(clippy::expect_used)]
    getrandom::fill(&mut secret).expect("the operating system's random source failed");
    secret
}

/// The RFC 6238 generator of `secret` for `username` at `site` (SHA-1, 6 digits, 30 s, one
/// step of drift either way).
fn totp(secret: &[u8], site: &str, username: &str) -> Result<totp_rs::Totp, totp_rs::TotpError> {
    // The label's separator is `:`, which neither part may hold.
    let issuer = site.replace(':', " ");
    totp_rs::Builder::new()
        .with_algorithm(totp_rs::Algorithm::SHA1)
        .with_digits(6)
        .with_step_duration(30)
        .with_skew(1)
        .with_secret(secret.to_vec())
        .with_issuer(Some(issuer.as_str()))
        .with_account_name(username.replace(':', " "))
        .build()
}

/// The base32 secret and the `otpauth://totp/<site>:<username>?secret=...&issuer=<site>` URI
/// an authenticator app enrols from.
pub(crate) fn enrolment(
    secret: &[u8],
    site: &str,
    username: &str,
) -> Result<(String, String), totp_rs::TotpError> {
    let totp = totp(secret, site, username)?;
    Ok((totp.secret().to_base32(), totp.to_url()?))
}

/// The step (`unix time / 30`) whose code `code` is at `now`, or at one step either side of it;
/// `None` for a wrong code or anything that is not 6 digits.
pub(crate) fn matching_step(secret: &[u8], code: &str, now: i64) -> Option<i64> {
    let code = code.trim();
    if code.len() != TOTP_DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = u64::try_from(now).ok()?;
    let totp = totp(secret, "authx", "user").ok()?;
    totp.check(code, now).and_then(|s| i64::try_from(s).ok())
}

/// Whether `code` reads as a TOTP code (6 digits, spaces around ignored) rather than a recovery
/// code.
pub(crate) fn looks_like_totp(code: &str) -> bool {
    let code = code.trim();
    code.len() == TOTP_DIGITS && code.bytes().all(|b| b.is_ascii_digit())
}

/// `count` new recovery codes, `xxxx-xxxx-xxxx-xxxx` (80 random bits each).
pub(crate) fn new_recovery_codes(count: usize) -> Vec<String> {
    (0..count)
        .map(|_| {
            let mut bytes = [0_u8; RECOVERY_CHARS];
            #[allow(clippy::expect_used)]
            getrandom::fill(&mut bytes).expect("the operating system's random source failed");
            let chars: Vec<char> = bytes
                .iter()
                .map(|b| char::from(RECOVERY_ALPHABET[usize::from(b % 32)]))
                .collect();
            chars
                .chunks(4)
                .map(|group| group.iter().collect::<String>())
                .collect::<Vec<_>>()
                .join("-")
        })
        .collect()
}

/// How a recovery code is stored: the SHA-256 of its one form (lower case, without dashes or
/// spaces), so `ABCD-efgh ...` as typed finds `abcdefgh...`.
pub(crate) fn recovery_code_hash(code: &str) -> String {
    let normal: String = code
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_lowercase)
        .collect();
    crate::random::sha256_hex(&format!("authx recovery code\0{normal}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer() -> Sealer {
        Sealer::new(TotpKey::from_bytes([7; 32]), Vec::new())
    }

    #[test]
    fn keys_parse_from_hex_and_base64() {
        let bytes = [0xab_u8; 32];
        let hex = crate::random::hex(&bytes);
        assert_eq!(TotpKey::parse(&hex).unwrap(), TotpKey::from_bytes(bytes));
        assert_eq!(
            TotpKey::parse(&format!(" {} ", STANDARD.encode(bytes))).unwrap(),
            TotpKey::from_bytes(bytes)
        );
        assert_eq!(
            TotpKey::parse(&URL_SAFE_NO_PAD.encode(bytes)).unwrap(),
            TotpKey::from_bytes(bytes)
        );
        assert_eq!(TotpKey::parse(&hex).unwrap().to_hex(), hex);
        for bad in ["", "abc", &"ab".repeat(31), &STANDARD.encode([1_u8; 31])] {
            assert!(TotpKey::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn seals_open_only_for_their_purpose_and_key() {
        let s = sealer();
        let sealed = s.seal(b"secret bytes", SealFor::Secret(1));
        assert!(sealed.starts_with("v1."));
        assert!(!sealed.contains("secret"));
        assert_eq!(
            s.open(&sealed, SealFor::Secret(1)).as_deref(),
            Some(&b"secret bytes"[..])
        );
        // Another user, another purpose, another key, a flipped character: nothing.
        assert_eq!(s.open(&sealed, SealFor::Secret(2)), None);
        assert_eq!(s.open(&sealed, SealFor::Challenge), None);
        let other = Sealer::new(TotpKey::from_bytes([8; 32]), Vec::new());
        assert_eq!(other.open(&sealed, SealFor::Secret(1)), None);
        let mut altered = sealed.clone().into_bytes();
        let last = altered.len() - 3;
        altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
        let altered = String::from_utf8(altered).unwrap();
        assert_eq!(s.open(&altered, SealFor::Secret(1)), None);
        // Two seals of one value differ (random nonces).
        assert_ne!(sealed, s.seal(b"secret bytes", SealFor::Secret(1)));
    }

    #[test]
    fn a_rotated_key_still_opens_old_seals() {
        let old = TotpKey::from_bytes([1; 32]);
        let sealed = Sealer::new(old.clone(), Vec::new()).seal(b"x", SealFor::Challenge);
        let rotated = Sealer::new(TotpKey::from_bytes([2; 32]), vec![old]);
        assert_eq!(
            rotated.open(&sealed, SealFor::Challenge).as_deref(),
            Some(&b"x"[..])
        );
        assert!(rotated.is_stale(&sealed));
        assert!(!rotated.is_stale(&rotated.seal(b"x", SealFor::Challenge)));
    }

    #[test]
    fn rfc_6238_sha1_vectors() {
        // RFC 6238 appendix B, truncated to 6 digits.
        let secret = b"12345678901234567890";
        for (time, code) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
        ] {
            assert_eq!(matching_step(secret, code, time), Some(time / 30), "{time}");
        }
        // One step of drift either way, not two.
        assert_eq!(
            matching_step(secret, "081804", 1_111_111_109 + 30),
            Some(37_037_036)
        );
        assert_eq!(
            matching_step(secret, "081804", 1_111_111_109 - 30),
            Some(37_037_036)
        );
        assert_eq!(matching_step(secret, "081804", 1_111_111_109 + 61), None);
        for bad in ["", "08180", "0818045", "08180a", "-81804"] {
            assert_eq!(matching_step(secret, bad, 1_111_111_109), None, "{bad}");
        }
    }

    #[test]
    fn enrolment_uri_follows_the_contract() {
        let (secret, uri) = enrolment(b"12345678901234567890", "My Site", "ada").unwrap();
        assert_eq!(secret, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        assert_eq!(
            uri,
            "otpauth://totp/My%20Site:ada?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=My%20Site"
        );
    }

    #[test]
    fn recovery_codes_are_random_and_match_as_typed() {
        let codes = new_recovery_codes(10);
        assert_eq!(codes.len(), 10);
        let mut unique = codes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 10);
        for code in &codes {
            assert_eq!(code.len(), 19, "{code}");
            assert!(!looks_like_totp(code));
        }
        let code = &codes[0];
        assert_eq!(
            recovery_code_hash(code),
            recovery_code_hash(&format!(" {} ", code.to_uppercase().replace('-', " ")))
        );
        assert_ne!(recovery_code_hash(code), recovery_code_hash(&codes[1]));
    }
}
