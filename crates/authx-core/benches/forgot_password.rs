//! Does the time of a `POST /forgot_password` answer tell whether the address has an account?
//!
//! Requests for five kinds of address (an active account, no account, an account without a
//! password, a banned account, an account over its reset-mail limit) are interleaved in a
//! random order, round after round, through `Auth::serve` on a SQLite file, while the
//! background task does what differs between them (the lookup, the limit, the token and its
//! mail). Each request is timed on its own; the table gives each kind's median, 10th and 90th
//! percentiles and its median against the known address's.
//!
//! ```sh
//! cargo bench -p authx-core --bench forgot_password            # 2,000 rounds
//! cargo bench -p authx-core --bench forgot_password -- 10000   # more
//! ```
//!
//! An account and a social-only account get a mail each time, so each round uses fresh ones
//! (the per-account limit would turn them into the over-limit kind). `docs/benchmarks.md`
//! has figures.

#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::missing_panics_doc,
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use authx_core::clock::{Clock as _, SystemClock};
use authx_core::config::Hashing;
use authx_core::limit::Limits;
use authx_core::mail::{Mail, MailError, Mailer};
use authx_core::password::PasswordParams;
use authx_core::store::{NewUser, Repo as _};
use authx_core::token::JwtBackend;
use authx_core::{Auth, AuthRequest, Routers};

const PEER: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const WARMUP: usize = 200;
/// Between rounds, so the background task keeps up as it would with real clients (the per-IP
/// limit allows ten requests a minute).
const PAUSE: Duration = Duration::from_millis(2);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Known,
    Unknown,
    SocialOnly,
    Banned,
    OverLimit,
}

const KINDS: [Kind; 5] = [
    Kind::Known,
    Kind::Unknown,
    Kind::SocialOnly,
    Kind::Banned,
    Kind::OverLimit,
];

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Self::Known => "known",
            Self::Unknown => "unknown",
            Self::SocialOnly => "social-only",
            Self::Banned => "banned",
            Self::OverLimit => "over its limit",
        }
    }

    /// The address of this kind in round `round`. All have the same length: checking the
    /// syntax takes longer for a longer address, which tells nothing the sender does not know.
    fn email(self, round: usize) -> String {
        match self {
            Self::Known => format!("known{round:06}@example.com"),
            Self::Unknown => format!("nobdy{round:06}@example.com"),
            Self::SocialOnly => format!("socia{round:06}@example.com"),
            Self::Banned => "bannd000000@example.com".to_owned(),
            Self::OverLimit => "limit000000@example.com".to_owned(),
        }
    }
}

/// The outbox is not delivered here; mail only has to be queued.
struct NoMail;

#[async_trait]
impl Mailer for NoMail {
    async fn deliver(&self, _from: &str, _mail: &Mail) -> Result<(), MailError> {
        Ok(())
    }
}

/// xorshift64*: a fixed-seed order, the same every run.
struct Shuffle(u64);

impl Shuffle {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn order(&mut self) -> [Kind; 5] {
        let mut kinds = KINDS;
        for i in (1..kinds.len()).rev() {
            kinds.swap(i, (self.next() % (i as u64 + 1)) as usize);
        }
        kinds
    }
}

fn forgot(email: &str) -> AuthRequest {
    AuthRequest::new(PEER)
        .header("content-type", b"application/json")
        .body(
            serde_json::json!({ "email": email })
                .to_string()
                .into_bytes(),
        )
        .at("POST", "/api/users", "/forgot_password", None)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i].as_secs_f64() * 1e6
}

async fn user(store: &authx_sqlx::SqliteStore, email: &str, name: &str, password: bool) {
    store
        .users()
        .create_user(
            NewUser {
                email: email.to_owned(),
                username: name.to_owned(),
                password_hash: password.then(|| "$argon2id$v=19$m=64,t=1,p=1$not-used".into()),
                confirmed: true,
                created_at: SystemClock.now(),
            },
            None,
        )
        .await
        .unwrap();
}

fn main() {
    let rounds: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(2000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run(rounds));
}

async fn run(rounds: usize) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("forgot.db").display());
    let store = authx_sqlx::SqliteStore::connect(&url).await.unwrap();
    let total = WARMUP + rounds;
    for round in 0..total {
        user(
            &store,
            &Kind::Known.email(round),
            &format!("k{round}"),
            true,
        )
        .await;
        let social = Kind::SocialOnly.email(round);
        user(&store, &social, &format!("s{round}"), false).await;
    }
    user(&store, &Kind::Banned.email(0), "banned", true).await;
    user(&store, &Kind::OverLimit.email(0), "limited", true).await;
    sqlx::query("UPDATE users SET active = FALSE WHERE username = 'banned'")
        .execute(store.pool())
        .await
        .unwrap();

    let mut limits = Limits::default();
    // Every request comes from one address.
    limits.forgot_password_per_ip.max = 0;
    let auth = Auth::builder()
        .repo(Arc::new(store.clone()))
        .auth_backend(JwtBackend::hs256(b"benchmark-secret-of-at-least-32-bytes!").unwrap())
        .base_url("http://localhost:8000")
        .limits(limits)
        .hashing(Hashing {
            params: PasswordParams::INSECURE_FAST_FOR_TESTS,
            concurrency: 1,
            queue: 16,
        })
        .mailer(Arc::new(NoMail))
        .mail_worker(false)
        .configure(|s| {
            s.janitor.enabled = false;
            s.forgot_password_queue = 1 << 16;
        })
        .build()
        .unwrap();
    // The limited account uses up its two mails first.
    for _ in 0..2 {
        let r = auth
            .serve(Routers::main(), forgot(&Kind::OverLimit.email(0)))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }

    let mut times: Vec<Vec<Duration>> = vec![Vec::with_capacity(rounds); KINDS.len()];
    let mut shuffle = Shuffle(0x9e37_79b9_7f4a_7c15);
    for round in 0..total {
        for kind in shuffle.order() {
            let req = forgot(&kind.email(round));
            let started = Instant::now();
            let r = auth.serve(Routers::main(), req).await;
            let took = started.elapsed();
            assert_eq!((r.status, r.body.as_str()), (200, "null"), "{kind:?}");
            if round >= WARMUP {
                times[kind as usize].push(took);
            }
        }
        tokio::time::sleep(PAUSE).await;
    }
    // Let the background task finish (bounded), to report what it did.
    let expected = i64::try_from(2 * total + 2).unwrap();
    let mut queued = 0;
    for _ in 0..300 {
        queued = sqlx::query_scalar(
            "SELECT COUNT(*) FROM mail_outbox WHERE subject = 'Forgot password'",
        )
        .fetch_one(store.pool())
        .await
        .unwrap();
        if queued >= expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    println!(
        "POST /forgot_password through Auth::serve on SQLite: {rounds} rounds after {WARMUP} of \
         warm-up, the five kinds in a random order each round"
    );
    println!(
        "{:<16} {:>11} {:>9} {:>9} {:>16}",
        "address", "median (µs)", "p10", "p90", "median vs known"
    );
    for times in &mut times {
        times.sort_unstable();
    }
    let known = percentile(&times[Kind::Known as usize], 0.5);
    for kind in KINDS {
        let sorted = &times[kind as usize];
        let median = percentile(sorted, 0.5);
        println!(
            "{:<16} {:>11.1} {:>9.1} {:>9.1} {:>+15.1}%",
            kind.name(),
            median,
            percentile(sorted, 0.1),
            percentile(sorted, 0.9),
            (median / known - 1.0) * 100.0
        );
    }
    println!(
        "reset mails queued by the background task: {queued} (one per known and social-only \
         request: {expected})"
    );
}
