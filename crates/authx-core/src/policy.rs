//! Validation of emails, usernames and passwords (contract section 3).

use email_address::{EmailAddress, Options};

use crate::error::AuthError;

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
    /// Trims, checks and normalises an email: the domain is lower-cased, the local part kept.
    pub fn email(&self, raw: &str) -> Result<String, AuthError> {
        let email = raw.trim();
        if email.is_empty() || email.chars().count() > MAX_EMAIL_LEN {
            return Err(AuthError::InvalidEmail);
        }
        let options = Options::default()
            .without_display_text()
            .without_domain_literal()
            .with_required_tld();
        let parsed = EmailAddress::parse_with_options(email, options)
            .map_err(|_| AuthError::InvalidEmail)?;
        Ok(format!(
            "{}@{}",
            parsed.local_part(),
            parsed.domain().to_lowercase()
        ))
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
    /// account's username and email.
    pub fn new_password(
        &self,
        password1: &str,
        password2: &str,
        username: &str,
        email: &str,
    ) -> Result<(), AuthError> {
        let len = password1.chars().count();
        if len < self.password_min || len > self.password_max {
            return Err(AuthError::PasswordLength {
                min: self.password_min,
                max: self.password_max,
            });
        }
        if password1 != password2 {
            return Err(AuthError::PasswordMismatch);
        }
        let lowered = password1.to_lowercase();
        if lowered == username.to_lowercase() || lowered == email.to_lowercase() {
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
    }
}
