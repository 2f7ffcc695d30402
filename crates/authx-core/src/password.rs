//! Password hashing with argon2id, off the async executor and bounded in concurrency.
//!
//! Each hash holds `m_cost` KiB while it runs (19 MiB with the OWASP defaults), so at most
//! `concurrency` run at once (one per core by default) and at most `queue` more wait; beyond
//! that the request is shed with `503` and `Retry-After` rather than queued without bound.

use std::sync::Arc;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::{OnceCell, Semaphore};

use crate::Secret;
use crate::config::ConfigError;
use crate::error::AuthError;

/// argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordParams {
    /// Memory in KiB (OWASP: 19456).
    pub m_cost: u32,
    /// Iterations (OWASP: 2).
    pub t_cost: u32,
    /// Parallelism (OWASP: 1).
    pub p_cost: u32,
}

impl Default for PasswordParams {
    fn default() -> Self {
        Self::OWASP
    }
}

impl PasswordParams {
    /// The OWASP recommendation: m=19456 KiB, t=2, p=1.
    pub const OWASP: Self = Self {
        m_cost: 19_456,
        t_cost: 2,
        p_cost: 1,
    };

    /// Cheap parameters for tests only: never use them in production.
    pub const INSECURE_FAST_FOR_TESTS: Self = Self {
        m_cost: 64,
        t_cost: 1,
        p_cost: 1,
    };

    fn argon2(self) -> Result<Params, ConfigError> {
        Params::new(self.m_cost, self.t_cost, self.p_cost, None)
            .map_err(|e| ConfigError::Invalid(format!("invalid argon2 parameters: {e}")))
    }
}

/// The outcome of a verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    /// Whether the password matched.
    pub matches: bool,
    /// Whether the stored hash used other parameters and should be replaced.
    pub needs_rehash: bool,
}

/// Hashes and verifies passwords.
#[derive(Debug, Clone)]
pub struct PasswordHasher {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    params: Params,
    running: Semaphore,
    admitted: Semaphore,
    dummy: OnceCell<String>,
}

impl PasswordHasher {
    /// A hasher with `params`, running at most `concurrency` hashes at once with `queue` more
    /// waiting.
    pub fn new(
        params: PasswordParams,
        concurrency: usize,
        queue: usize,
    ) -> Result<Self, ConfigError> {
        if concurrency == 0 {
            return Err(ConfigError::Invalid(
                "password hashing concurrency must be at least 1".into(),
            ));
        }
        Ok(Self {
            inner: Arc::new(Inner {
                params: params.argon2()?,
                running: Semaphore::new(concurrency),
                admitted: Semaphore::new(concurrency + queue),
                dummy: OnceCell::new(),
            }),
        })
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            self.inner.params.clone(),
        )
    }

    /// Runs `work` on the blocking pool once admitted and given a slot.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(Argon2<'static>) -> T + Send + 'static,
    ) -> Result<T, AuthError> {
        let _admitted = self
            .inner
            .admitted
            .try_acquire()
            .map_err(|_| AuthError::Unavailable {
                source: "password hashing queue is full".into(),
                retry_after: Some(1),
            })?;
        let _slot = self
            .inner
            .running
            .acquire()
            .await
            .map_err(AuthError::unavailable)?;
        let argon2 = self.argon2();
        tokio::task::spawn_blocking(move || work(argon2))
            .await
            .map_err(AuthError::unavailable)
    }

    /// Hashes `password` into a PHC string with a fresh random salt.
    pub async fn hash(&self, password: Secret) -> Result<String, AuthError> {
        self.run(move |argon2| {
            argon2
                .hash_password(password.expose().as_bytes())
                .map(|h| h.to_string())
        })
        .await?
        .map_err(|e| AuthError::unavailable(e.to_string()))
    }

    /// Verifies `password` against `stored`; with `None` (unknown user, or no password set) a
    /// dummy hash is verified instead so the timing matches, and the answer is no match.
    pub async fn verify(
        &self,
        password: Secret,
        stored: Option<String>,
    ) -> Result<Verified, AuthError> {
        let (phc, real) = match stored {
            Some(phc) => (phc, true),
            None => (self.dummy_hash().await?, false),
        };
        let wanted = self.inner.params.clone();
        self.run(move |argon2| {
            let Ok(parsed) = PasswordHash::new(&phc) else {
                return Verified {
                    matches: false,
                    needs_rehash: false,
                };
            };
            let matches = argon2
                .verify_password(password.expose().as_bytes(), &parsed)
                .is_ok();
            let needs_rehash = parsed.algorithm.as_str() != "argon2id"
                || parsed.version != Some(0x13)
                || Params::try_from(&parsed).map_or(true, |p| {
                    p.m_cost() != wanted.m_cost()
                        || p.t_cost() != wanted.t_cost()
                        || p.p_cost() != wanted.p_cost()
                });
            Verified {
                matches: matches && real,
                needs_rehash: matches && real && needs_rehash,
            }
        })
        .await
    }

    async fn dummy_hash(&self) -> Result<String, AuthError> {
        self.inner
            .dummy
            .get_or_try_init(|| async {
                let password = Secret::new(crate::random::token(24));
                self.hash(password).await
            })
            .await
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fast() -> PasswordHasher {
        PasswordHasher::new(PasswordParams::INSECURE_FAST_FOR_TESTS, 2, 8).unwrap()
    }

    #[tokio::test]
    async fn hash_then_verify() {
        let h = fast();
        let phc = h
            .hash(Secret::new("correct horse ✓ battery"))
            .await
            .unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        let ok = h
            .verify(Secret::new("correct horse ✓ battery"), Some(phc.clone()))
            .await
            .unwrap();
        assert_eq!(
            ok,
            Verified {
                matches: true,
                needs_rehash: false
            }
        );
        let bad = h
            .verify(Secret::new("correct horse ✓ batter"), Some(phc))
            .await
            .unwrap();
        assert!(!bad.matches);
    }

    #[tokio::test]
    async fn unknown_user_never_matches() {
        let h = fast();
        let v = h.verify(Secret::new("anything"), None).await.unwrap();
        assert!(!v.matches);
    }

    #[tokio::test]
    async fn other_parameters_ask_for_a_rehash() {
        let old = PasswordHasher::new(
            PasswordParams {
                m_cost: 128,
                t_cost: 1,
                p_cost: 1,
            },
            1,
            1,
        )
        .unwrap();
        let phc = old.hash(Secret::new("password123")).await.unwrap();
        let v = fast()
            .verify(Secret::new("password123"), Some(phc))
            .await
            .unwrap();
        assert_eq!(
            v,
            Verified {
                matches: true,
                needs_rehash: true
            }
        );
    }

    #[tokio::test]
    async fn a_full_queue_sheds_with_503() {
        let h = PasswordHasher::new(PasswordParams::INSECURE_FAST_FOR_TESTS, 1, 0).unwrap();
        let _held = h.inner.admitted.try_acquire().unwrap();
        let err = h.hash(Secret::new("password123")).await.unwrap_err();
        assert_eq!(err.status(), 503);
        assert_eq!(err.retry_after(), Some(1));
    }
}
