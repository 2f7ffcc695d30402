//! Password hashing with argon2id, off the async executor and bounded in concurrency.
//!
//! Each hash holds `m_cost` KiB while it runs (19 MiB with the OWASP defaults), so hashes run
//! on `concurrency` dedicated threads (one per core by default), each owning one argon2 memory
//! block that it reuses for every hash, and at most `queue` more requests wait; beyond that the
//! request is shed with `503` and `Retry-After` rather than queued without bound.
//!
//! Owning the memory keeps the process's footprint at `concurrency` blocks. Allocating a fresh
//! 19 MiB block per hash (as `Argon2::hash_password` does) on the blocking pool left glibc's
//! heap holding hundreds of MiB after a few dozen logins: see `docs/benchmarks.md`.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, PoisonError};

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::{OnceCell, OwnedSemaphorePermit, Semaphore, oneshot};
use unicode_normalization::UnicodeNormalization as _;

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

/// A password as it is hashed and verified: its Unicode NFKC form (NIST SP 800-63B,
/// 5.1.1.2), so that one password typed on keyboards that compose characters differently
/// (`é` as one character or as `e` and a combining accent) is one password. Nothing else is
/// changed: no trimming, no case folding, no truncation.
pub fn normalize_password(password: &str) -> Cow<'_, str> {
    if password.is_ascii() {
        return Cow::Borrowed(password);
    }
    let normalized: String = password.nfkc().collect();
    if normalized == password {
        Cow::Borrowed(password)
    } else {
        Cow::Owned(normalized)
    }
}

/// The outcome of a verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    /// Whether the password matched.
    pub matches: bool,
    /// Whether the stored hash should be replaced: it used other parameters, or it was made
    /// from the password as typed before passwords were normalised.
    pub needs_rehash: bool,
}

/// Hashes and verifies passwords.
#[derive(Debug, Clone)]
pub struct PasswordHasher {
    inner: Arc<Inner>,
}

/// Work for a hashing thread, given its memory.
type Job = Box<dyn FnOnce(&mut Memory) + Send>;

#[derive(Debug)]
struct Inner {
    params: Params,
    /// Requests running or waiting; a full queue sheds.
    admitted: Arc<Semaphore>,
    /// To the hashing threads; they stop when it is dropped with the last handle.
    jobs: Mutex<Sender<Job>>,
    dummy: OnceCell<String>,
    /// argon2 verifications run so far.
    verifications: Arc<AtomicU64>,
}

/// A hashing thread's argon2 memory, allocated on its first hash and reused by every later one.
struct Memory {
    blocks: Vec<Block>,
    /// Blocks for this hasher's parameters.
    standard: usize,
}

impl Memory {
    /// Runs `f` on `count` blocks: the thread's own when they are enough, else (a stored hash
    /// with a larger `m_cost`) a block allocated for this hash only, so the footprint stays
    /// that of the configured parameters.
    fn with_blocks<T>(&mut self, count: usize, f: impl FnOnce(&mut [Block]) -> T) -> T {
        if count > self.standard {
            let mut once = vec![Block::new(); count];
            return f(&mut once);
        }
        if self.blocks.len() < self.standard {
            self.blocks = vec![Block::new(); self.standard];
        }
        f(&mut self.blocks[..count])
    }
}

/// Runs jobs until the sender side is dropped. A panicking job loses its answer (its waiter
/// gets `503`), not the thread.
fn hashing_thread(jobs: &Mutex<Receiver<Job>>, standard: usize) {
    let mut memory = Memory {
        blocks: Vec::new(),
        standard,
    };
    loop {
        // The lock is held only while idle threads wait for the next job.
        let next = jobs.lock().unwrap_or_else(PoisonError::into_inner).recv();
        let Ok(job) = next else { return };
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&mut memory)));
    }
}

impl PasswordHasher {
    /// A hasher with `params`, running at most `concurrency` hashes at once (on as many
    /// threads of its own) with `queue` more waiting.
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
        let params = params.argon2()?;
        let (sender, receiver) = mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        let standard = params.block_count();
        for _ in 0..concurrency {
            let receiver = receiver.clone();
            std::thread::Builder::new()
                .name("authx-argon2".into())
                .spawn(move || hashing_thread(&receiver, standard))
                .map_err(|e| {
                    ConfigError::Invalid(format!("cannot start a password hashing thread: {e}"))
                })?;
        }
        Ok(Self {
            inner: Arc::new(Inner {
                params,
                admitted: Arc::new(Semaphore::new(concurrency.saturating_add(queue))),
                jobs: Mutex::new(sender),
                dummy: OnceCell::new(),
                verifications: Arc::new(AtomicU64::new(0)),
            }),
        })
    }

    /// Runs `work` on a hashing thread once admitted. The admission is held until the work is
    /// done, even if the caller stops waiting, so the bound holds; work whose caller is gone
    /// before it starts is skipped.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Memory) -> T + Send + 'static,
    ) -> Result<T, AuthError> {
        let admitted: OwnedSemaphorePermit = self
            .inner
            .admitted
            .clone()
            .try_acquire_owned()
            .map_err(|_| AuthError::Unavailable {
                source: "password hashing queue is full".into(),
                retry_after: Some(1),
            })?;
        let (answer, answered) = oneshot::channel();
        let job: Job = Box::new(move |memory| {
            if answer.is_closed() {
                return;
            }
            let result = work(memory);
            // The place is given back before the answer, so a caller that hashes again as soon
            // as it has it is never shed by its own previous request.
            drop(admitted);
            let _ = answer.send(result);
        });
        self.inner
            .jobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .send(job)
            .map_err(|_| AuthError::unavailable("the password hashing threads have stopped"))?;
        answered
            .await
            .map_err(|_| AuthError::unavailable("a password hashing job failed"))
    }

    /// Hashes `password`, [normalised](normalize_password), into a PHC string with a fresh
    /// random salt.
    pub async fn hash(&self, password: Secret) -> Result<String, AuthError> {
        let params = self.inner.params.clone();
        self.run(move |memory| {
            let normalized = Secret::new(normalize_password(password.expose()));
            hash_into_phc(&params, normalized.expose().as_bytes(), memory)
        })
        .await?
        .map_err(AuthError::unavailable)
    }

    /// The argon2 verifications this hasher has run: what a password check costs, counted
    /// rather than timed (every check of one typed password does the same number, whether
    /// its user exists or not).
    pub fn verifications(&self) -> u64 {
        self.inner.verifications.load(Ordering::Relaxed)
    }

    /// Verifies `password` against `stored`; with `None` (unknown user, or no password set) a
    /// dummy hash is verified instead so the work matches, and the answer is no match.
    ///
    /// The [normalised](normalize_password) password is verified first. When that fails and
    /// the password as typed differs from it, the typed form is verified too: a hash made
    /// before passwords were normalised still matches, and asks for a rehash (of the
    /// normalised form). The dummy path does the same, so an unknown user costs what a wrong
    /// password costs.
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
        let verifications = self.inner.verifications.clone();
        self.run(move |memory| {
            let Ok(parsed) = PasswordHash::new(&phc) else {
                return Verified {
                    matches: false,
                    needs_rehash: false,
                };
            };
            let typed = password.expose();
            let normalized = Secret::new(normalize_password(typed));
            verifications.fetch_add(1, Ordering::Relaxed);
            let mut matches = verify_phc(&parsed, normalized.expose().as_bytes(), memory);
            let mut legacy = false;
            if !matches && normalized.expose() != typed {
                verifications.fetch_add(1, Ordering::Relaxed);
                matches = verify_phc(&parsed, typed.as_bytes(), memory);
                legacy = matches;
            }
            let needs_rehash = legacy
                || parsed.algorithm.as_str() != "argon2id"
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

/// argon2id v1.3 of `password` with a fresh 16-byte salt and a 32-byte output, as a PHC
/// string: what `Argon2::hash_password` makes, computed in the thread's own memory.
fn hash_into_phc(
    params: &Params,
    password: &[u8],
    memory: &mut Memory,
) -> Result<String, argon2::password_hash::Error> {
    let salt = argon2::password_hash::try_generate_salt()
        .map_err(|_| argon2::password_hash::Error::RngFailure)?;
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut out = [0_u8; Params::DEFAULT_OUTPUT_LEN];
    memory.with_blocks(params.block_count(), |blocks| {
        argon2.hash_password_into_with_memory(password, &salt, &mut out, blocks)
    })?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params)?,
        salt: Some(Salt::new(&salt)?),
        hash: Some(Output::new(&out)?),
    };
    Ok(phc.to_string())
}

/// Whether `password` matches `stored`, computed with the stored algorithm, version and
/// parameters (as `PasswordVerifier::verify_password` does), in the thread's own memory, and
/// compared in constant time.
fn verify_phc(stored: &PasswordHash, password: &[u8], memory: &mut Memory) -> bool {
    let (Some(salt), Some(expected)) = (&stored.salt, &stored.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(stored.algorithm.as_str()) else {
        return false;
    };
    let Ok(version) = stored
        .version
        .map_or(Ok(Version::default()), Version::try_from)
    else {
        return false;
    };
    let Ok(params) = Params::try_from(stored) else {
        return false;
    };
    let argon2 = Argon2::new(algorithm, version, params.clone());
    let mut out = [0_u8; Output::MAX_LENGTH];
    let Some(out) = out.get_mut(..expected.len()) else {
        return false;
    };
    let computed = memory.with_blocks(params.block_count(), |blocks| {
        argon2.hash_password_into_with_memory(password, salt, out, blocks)
    });
    // `Output`'s equality is constant-time.
    computed.is_ok() && Output::new(out).is_ok_and(|computed| &computed == expected)
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
    async fn hashes_agree_with_the_argon2_crate() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let h = fast();
        let params = PasswordParams::INSECURE_FAST_FOR_TESTS.argon2().unwrap();
        let reference = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        // Ours verifies with the crate's verifier...
        let ours = h.hash(Secret::new("pässword 1")).await.unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            reference
                .verify_password(b"p\xc3\xa4ssword 1", &parsed)
                .is_ok()
        );
        assert!(reference.verify_password(b"password 1", &parsed).is_err());
        // ...and the crate's with ours, several times on the same reused memory.
        let theirs = reference.hash_password(b"another one").unwrap().to_string();
        for (password, matches) in [
            ("another one", true),
            ("another on", false),
            ("another one", true),
        ] {
            let v = h
                .verify(Secret::new(password), Some(theirs.clone()))
                .await
                .unwrap();
            assert_eq!(v.matches, matches, "{password}");
        }
        // Garbage never matches.
        for stored in [
            "",
            "$argon2id$v=19$m=64,t=1,p=1$",
            "not a hash",
            &ours[..ours.len() - 2],
        ] {
            let v = h
                .verify(Secret::new("pässword 1"), Some(stored.to_owned()))
                .await
                .unwrap();
            assert!(!v.matches, "{stored}");
        }
    }

    #[tokio::test]
    async fn passwords_are_normalised_and_legacy_hashes_still_match() {
        use argon2::password_hash::PasswordHasher as _;
        let h = fast();
        let (nfc, nfd) = ("caf\u{e9} cr\u{e8}me", "cafe\u{301} cre\u{300}me");
        assert_eq!(normalize_password(nfd), nfc);
        assert!(matches!(normalize_password("ascii only"), Cow::Borrowed(_)));
        assert_eq!(normalize_password("\u{fb03}x"), "ffix");
        let verify = |password: &'static str, phc: String| {
            let h = h.clone();
            async move { h.verify(Secret::new(password), Some(phc)).await.unwrap() }
        };
        let matched = |needs_rehash| Verified {
            matches: true,
            needs_rehash,
        };
        // Hashed in NFKC: either spelling matches, nothing to replace.
        let phc = h.hash(Secret::new(nfd)).await.unwrap();
        assert_eq!(verify(nfc, phc.clone()).await, matched(false));
        assert_eq!(verify(nfd, phc.clone()).await, matched(false));
        // A hash of the typed NFD bytes, as made before normalisation: the typed form still
        // matches, and asks to be replaced by a hash of the normalised form.
        let params = PasswordParams::INSECURE_FAST_FOR_TESTS.argon2().unwrap();
        let legacy = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(nfd.as_bytes())
            .unwrap()
            .to_string();
        assert_eq!(verify(nfd, legacy.clone()).await, matched(true));
        // NFC typed is all there is to try: no match (the old hash knows only NFD bytes).
        assert!(!verify(nfc, legacy.clone()).await.matches);
        assert!(!verify("cafe\u{301} cre\u{300}mf", legacy).await.matches);
    }

    #[tokio::test]
    async fn an_unknown_user_costs_what_a_wrong_password_costs() {
        let h = fast();
        let stored = h.hash(Secret::new("the right password")).await.unwrap();
        // Warm the dummy hash, which is made once.
        h.verify(Secret::new("x"), None).await.unwrap();
        for typed in ["a wrong password", "cafe\u{301} wrong", "\u{fb03} wrong"] {
            let before = h.verifications();
            assert!(
                !h.verify(Secret::new(typed), Some(stored.clone()))
                    .await
                    .unwrap()
                    .matches
            );
            let wrong = h.verifications() - before;
            let before = h.verifications();
            assert!(!h.verify(Secret::new(typed), None).await.unwrap().matches);
            let unknown = h.verifications() - before;
            assert_eq!(wrong, unknown, "{typed}");
            let expected = if normalize_password(typed) == typed {
                1
            } else {
                2
            };
            assert_eq!(wrong, expected, "{typed}");
        }
    }

    #[tokio::test]
    async fn the_bound_holds_after_the_caller_gives_up() {
        let h = PasswordHasher::new(PasswordParams::INSECURE_FAST_FOR_TESTS, 1, 0).unwrap();
        let (release, held) = std::sync::mpsc::channel::<()>();
        let (started, running) = oneshot::channel::<()>();
        let waiter = tokio::spawn({
            let h = h.clone();
            async move {
                h.run(move |_| {
                    let _ = started.send(());
                    let _ = held.recv();
                })
                .await
            }
        });
        running.await.unwrap();
        // The caller stops waiting; the running hash still holds the only place.
        waiter.abort();
        let _ = waiter.await;
        let err = h.hash(Secret::new("password123")).await.unwrap_err();
        assert_eq!(err.status(), 503);
        release.send(()).unwrap();
        let mut admitted = false;
        for _ in 0..200 {
            if h.hash(Secret::new("password123")).await.is_ok() {
                admitted = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        assert!(admitted, "the place was never given back");
    }

    #[tokio::test]
    async fn back_to_back_requests_are_not_shed() {
        // One place and no queue: each request starts after the previous one has answered.
        let h = PasswordHasher::new(PasswordParams::INSECURE_FAST_FOR_TESTS, 1, 0).unwrap();
        for _ in 0..50 {
            h.hash(Secret::new("password123")).await.unwrap();
        }
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
