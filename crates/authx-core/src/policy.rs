//! Validation of emails, usernames and passwords (contract section 3).

use email_address::{EmailAddress, Options};
use unicode_normalization::UnicodeNormalization as _;

use crate::error::AuthError;
use crate::password::normalize_password;

/// Usernames nobody may take, compared without regard to case.
pub const RESERVED_USERNAMES: &[&str] = &[
    "edit",
    "notifications",
    "settings",
    "message",
    "messages",
    "change_info",
];

/// Longest email accepted (RFC 5321 path limit).
pub const MAX_EMAIL_LEN: usize = 254;

/// The validation rules in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Fewest characters in a password (default 8).
    pub password_min: usize,
    /// Most characters in a password (default 128).
    pub password_max: usize,
    /// Reserved usernames beyond [`RESERVED_USERNAMES`].
    pub extra_reserved: Vec<String>,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            password_min: 8,
            password_max: 128,
            extra_reserved: Vec::new(),
        }
    }
}

impl Policy {
    /// Trims, checks and normalises an email into the one form it is stored, compared and
    /// shown in: the local part in Unicode NFC (`josé` typed composed or decomposed is one
    /// address), the domain in its IDNA ASCII form, lower-case (UTS 46: `Bücher.example` and
    /// `xn--bcher-kva.example` are both `xn--bcher-kva.example`; a look-alike domain in
    /// another script keeps its own, visibly different, `xn--` form). At most
    /// [`MAX_EMAIL_LEN`] characters in that form.
    ///
    /// ```
    /// use authx_core::policy::Policy;
    /// let p = Policy::default();
    /// assert_eq!(p.email(" Jose\u{301}@Bücher.Example ").unwrap(), "José@xn--bcher-kva.example");
    /// assert_eq!(p.email("José@xn--bcher-kva.example").unwrap(), "José@xn--bcher-kva.example");
    /// ```
    pub fn email(&self, raw: &str) -> Result<String, AuthError> {
        let email = raw.trim();
        if email.is_empty() || email.chars().count() > MAX_EMAIL_LEN {
            return Err(AuthError::InvalidEmail);
        }
        let (local, domain) = email.rsplit_once('@').ok_or(AuthError::InvalidEmail)?;
        let local: String = local.nfc().collect();
        // Strict UTS 46: letters, digits and hyphens only (RFC 5321 domains), DNS lengths.
        let domain = idna::domain_to_ascii_strict(domain).map_err(|_| AuthError::InvalidEmail)?;
        let normalised = format!("{local}@{domain}");
        if normalised.chars().count() > MAX_EMAIL_LEN {
            return Err(AuthError::InvalidEmail);
        }
        let options = Options::default()
            .without_display_text()
            .without_domain_literal()
            .with_required_tld();
        let parsed = EmailAddress::parse_with_options(&normalised, options)
            .map_err(|_| AuthError::InvalidEmail)?;
        Ok(format!("{}@{}", parsed.local_part(), parsed.domain()))
    }

    /// The `login` of a login request as it is looked up: an email (it contains `@`) in its
    /// stored form (see [`email`](Self::email); an invalid address is kept as typed, trimmed,
    /// and matches nobody), a username trimmed.
    pub fn login(&self, raw: &str) -> String {
        let login = raw.trim();
        if login.contains('@') {
            self.email(login).unwrap_or_else(|_| login.to_owned())
        } else {
            login.to_owned()
        }
    }

    /// Trims and checks a username.
    pub fn username(&self, raw: &str) -> Result<String, AuthError> {
        let username = raw.trim();
        let len = username.chars().count();
        if !(3..=20).contains(&len) {
            return Err(AuthError::UsernameLength);
        }
        if !username
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(AuthError::UsernameCharacters);
        }
        let reserved = RESERVED_USERNAMES
            .iter()
            .copied()
            .chain(self.extra_reserved.iter().map(String::as_str))
            .any(|r| r.eq_ignore_ascii_case(username));
        if reserved {
            return Err(AuthError::UsernameReserved);
        }
        Ok(username.to_owned())
    }

    /// Checks a new password (never trimmed or truncated) against the confirmation and the
    /// account's username and email. Passwords are compared and counted in their NFKC form,
    /// the form that is hashed ([`normalize_password`]): the NFC and NFD spellings of one
    /// password are one password.
    pub fn new_password(
        &self,
        password1: &str,
        password2: &str,
        username: &str,
        email: &str,
    ) -> Result<(), AuthError> {
        let password1 = normalize_password(password1);
        let len = password1.chars().count();
        if len < self.password_min || len > self.password_max {
            return Err(AuthError::PasswordLength {
                min: self.password_min,
                max: self.password_max,
            });
        }
        if password1 != normalize_password(password2) {
            return Err(AuthError::PasswordMismatch);
        }
        let lowered = password1.to_lowercase();
        if lowered == normalize_password(username).to_lowercase()
            || lowered == normalize_password(email).to_lowercase()
        {
            return Err(AuthError::PasswordMatchesIdentity);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        let p = Policy::default();
        assert_eq!(
            p.email("  John.Doe@Example.COM ").unwrap(),
            "John.Doe@example.com"
        );
        for bad in [
            "",
            "plain",
            "a@b",
            "a@@b.com",
            "Name <a@b.com>",
            "a@[127.0.0.1]",
            "a b@c.com",
        ] {
            assert!(
                matches!(p.email(bad), Err(AuthError::InvalidEmail)),
                "{bad}"
            );
        }
        let long = format!("{}@example.com", "a".repeat(243));
        assert_eq!(long.len(), 255);
        assert!(p.email(&long).is_err());
    }

    #[test]
    fn unicode_emails_have_one_form() {
        let p = Policy::default();
        let one = |raw: &str| p.email(raw).unwrap();
        // IDNA: the Unicode and the ASCII forms of a domain, in any case, are one domain.
        let ascii = "ada@xn--bcher-kva.example";
        for raw in [
            "ada@bücher.example",
            "ada@BÜCHER.example",
            "ada@bu\u{308}cher.example",
            "ada@xn--bcher-kva.example",
            "ada@XN--BCHER-KVA.EXAMPLE",
            // Full-width letters and a full-width full stop map to the same name.
            "ada@ｂüｃｈｅｒ\u{ff0e}example",
        ] {
            assert_eq!(one(raw), ascii, "{raw}");
        }
        // The local part in NFC, its case kept.
        assert_eq!(one("jose\u{301}@example.com"), "jos\u{e9}@example.com");
        assert_eq!(one("jos\u{e9}@example.com"), "jos\u{e9}@example.com");
        assert_eq!(one("José@example.com"), "José@example.com");
        // A look-alike (Cyrillic а in the domain) is another domain, and shows as one.
        let lookalike = one("ada@ex\u{430}mple.com");
        assert_ne!(lookalike, one("ada@example.com"));
        assert!(lookalike.starts_with("ada@xn--"), "{lookalike}");
        // Invalid labels and non-LDH characters are refused.
        for bad in [
            "ada@xn--invalid-.example",
            "ada@under_score.example",
            "ada@-lead.example",
            "ada@bücher..example",
            "ada@bücher",
        ] {
            assert!(
                matches!(p.email(bad), Err(AuthError::InvalidEmail)),
                "{bad}"
            );
        }
        // Logins by email are looked up in the stored form; usernames are trimmed.
        assert_eq!(p.login(" ADA@Bücher.Example "), "ADA@xn--bcher-kva.example");
        assert_eq!(p.login(" ada "), "ada");
        assert_eq!(p.login("not an @ address"), "not an @ address");
    }

    #[test]
    fn usernames() {
        let p = Policy {
            extra_reserved: vec!["admin".into()],
            ..Policy::default()
        };
        assert_eq!(p.username("  ab_c-9 ").unwrap(), "ab_c-9");
        assert!(matches!(p.username("ab"), Err(AuthError::UsernameLength)));
        assert!(matches!(
            p.username(&"a".repeat(21)),
            Err(AuthError::UsernameLength)
        ));
        assert!(matches!(
            p.username("héllo"),
            Err(AuthError::UsernameCharacters)
        ));
        assert!(matches!(
            p.username("a b c"),
            Err(AuthError::UsernameCharacters)
        ));
        assert!(matches!(
            p.username("Settings"),
            Err(AuthError::UsernameReserved)
        ));
        assert!(matches!(
            p.username("ADMIN"),
            Err(AuthError::UsernameReserved)
        ));
    }

    #[test]
    fn passwords() {
        let p = Policy::default();
        assert!(
            p.new_password("pass word ✓", "pass word ✓", "bob", "b@c.io")
                .is_ok()
        );
        assert!(matches!(
            p.new_password("short", "short", "bob", "b@c.io"),
            Err(AuthError::PasswordLength { min: 8, max: 128 })
        ));
        let long = "x".repeat(129);
        assert!(matches!(
            p.new_password(&long, &long, "bob", "b@c.io"),
            Err(AuthError::PasswordLength { .. })
        ));
        // 128 multi-byte characters are 128 symbols, not 512.
        let wide = "é".repeat(128);
        assert!(p.new_password(&wide, &wide, "bob", "b@c.io").is_ok());
        assert!(matches!(
            p.new_password("password1", "password2", "bob", "b@c.io"),
            Err(AuthError::PasswordMismatch)
        ));
        assert!(matches!(
            p.new_password("LongUsername", "LongUsername", "longusername", "b@c.io"),
            Err(AuthError::PasswordMatchesIdentity)
        ));
        assert!(matches!(
            p.new_password("bob@mail.io", "bob@mail.io", "bob", "bob@mail.io"),
            Err(AuthError::PasswordMatchesIdentity)
        ));
        // One password in NFC and in NFD is one password; lengths count its NFKC form.
        let (nfc, nfd) = ("caf\u{e9} cr\u{e8}me", "cafe\u{301} cre\u{300}me");
        assert!(p.new_password(nfc, nfd, "bob", "b@c.io").is_ok());
        assert!(matches!(
            p.new_password(
                "\u{fb03}\u{fb03}\u{fb03}",
                "\u{fb03}\u{fb03}\u{fb03}",
                "bob",
                "b@c.io"
            ),
            Ok(())
        ));
        assert!(matches!(
            p.new_password("\u{fb03}\u{fb03}", "\u{fb03}\u{fb03}", "bob", "b@c.io"),
            Err(AuthError::PasswordLength { .. })
        ));
    }
}
