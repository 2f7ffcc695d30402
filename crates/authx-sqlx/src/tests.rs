//! The storage scenarios, written once and run against every backend by `store_tests!`.
//!
//! SQLite runs on a file in a temporary directory with a multi-connection pool. PostgreSQL runs
//! when `AUTHX_TEST_POSTGRES_URL` names a server (e.g. `postgres://postgres@127.0.0.1/postgres`):
//! each test creates a database `authx_test_<random hex>` there and drops it afterwards.

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;

use authx_core::clock::Timestamp;
use authx_core::mail::Mail;
use authx_core::store::{
    NewEmailToken, NewSession, NewUser, OutboxMail, RefreshRotation, Repo, RotationOutcome,
    StoreError, TokenPurpose, UniqueField, User,
};

const NOW: Timestamp = 1_700_000_000;
const DAY: i64 = 86_400;
const GRACE: i64 = 10;

/// A database for one test, removed when the test ends.
struct TestDb {
    repo: Arc<dyn Repo>,
    teardown: Teardown,
}

enum Teardown {
    #[cfg(feature = "sqlite")]
    Sqlite(tempfile::TempDir),
    #[cfg(feature = "postgres")]
    Postgres(postgres::Scratch),
}

impl TestDb {
    // Only PostgreSQL's teardown awaits; SQLite's removes a directory.
    #[cfg_attr(not(feature = "postgres"), allow(clippy::unused_async))]
    async fn teardown(self) {
        drop(self.repo);
        match self.teardown {
            #[cfg(feature = "sqlite")]
            Teardown::Sqlite(dir) => drop(dir),
            #[cfg(feature = "postgres")]
            Teardown::Postgres(scratch) => scratch.drop_database().await,
        }
    }
}

/// Runs `scenario` on `db`, then removes the database whether the scenario passed or not.
async fn run<F, Fut>(db: TestDb, scenario: F)
where
    F: FnOnce(Arc<dyn Repo>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let outcome = tokio::spawn(scenario(Arc::clone(&db.repo))).await;
    db.teardown().await;
    if let Err(failure) = outcome {
        std::panic::resume_unwind(failure.into_panic());
    }
}

/// Instantiates every scenario for every backend compiled in.
macro_rules! store_tests {
    ($($scenario:ident),+ $(,)?) => {
        #[cfg(feature = "sqlite")]
        mod on_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $scenario() {
                    super::run(super::sqlite::open().await, super::$scenario).await;
                }
            )+
        }

        #[cfg(feature = "postgres")]
        mod on_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $scenario() {
                    let Some(db) = super::postgres::open().await else {
                        return;
                    };
                    super::run(db, super::$scenario).await;
                }
            )+
        }
    };
}

store_tests!(
    create_user_stores_defaults_and_queues_mail,
    conflicts_roll_back_everything,
    concurrent_registrations_make_one_user,
    change_username_rules,
    concurrent_renames_make_one_winner,
    record_login_sets_time_and_rehash,
    sessions_open_and_revoke,
    rotation_outcomes,
    concurrent_rotations_rotate_once,
    confirm_email_rules,
    concurrent_confirmations_use_token_once,
    queue_email_token_is_atomic,
    outbox_claims_leases_and_retries,
    concurrent_claims_are_disjoint,
);

// ----- fixtures -----

fn mail_to(to: &str, subject: &str) -> Mail {
    Mail {
        to: to.to_owned(),
        subject: subject.to_owned(),
        text: format!("text for {to}: {subject}"),
        html: format!("<p>html for {to}: {subject}</p>"),
    }
}

fn token(hash: &str, email: &str, created_at: Timestamp, expires_at: Timestamp) -> NewEmailToken {
    NewEmailToken {
        hash: hash.to_owned(),
        purpose: TokenPurpose::ConfirmEmail,
        email: email.to_owned(),
        created_at,
        expires_at,
    }
}

/// The arguments of `create_user` for `name`: email `<name>@example.com`, token
/// `hash-<name>` valid a day, the confirmation mail.
fn registration(name: &str) -> (NewUser, NewEmailToken, Mail) {
    let email = format!("{name}@example.com");
    (
        NewUser {
            email: email.clone(),
            username: name.to_owned(),
            password_hash: format!("$argon2id$v=19$fake${name}"),
            created_at: NOW,
        },
        token(&format!("hash-{name}"), &email, NOW, NOW + DAY),
        mail_to(&email, "Confirm email"),
    )
}

async fn register(repo: &dyn Repo, name: &str) -> User {
    let (user, token, mail) = registration(name);
    repo.create_user(user, token, mail)
        .await
        .expect("registration stored")
}

fn session(sid: &str, user_id: i64, jti: &str, expires_at: Timestamp) -> NewSession {
    NewSession {
        sid: sid.to_owned(),
        user_id,
        refresh_jti: jti.to_owned(),
        created_at: NOW,
        expires_at,
    }
}

fn rotation(sid: &str, presented: &str, next: &str, now: Timestamp) -> RefreshRotation {
    RefreshRotation {
        sid: sid.to_owned(),
        presented_jti: presented.to_owned(),
        next_jti: next.to_owned(),
        now,
        next_expires_at: now + 200,
        grace_seconds: GRACE,
    }
}

async fn rotate(repo: &dyn Repo, r: RefreshRotation) -> RotationOutcome {
    repo.rotate_refresh_token(r).await.expect("rotation ran")
}

async fn claim(
    repo: &dyn Repo,
    now: Timestamp,
    lease_until: Timestamp,
    limit: u32,
) -> Vec<OutboxMail> {
    repo.claim_due_mail(now, lease_until, limit)
        .await
        .expect("claim ran")
}

async fn queue_token(repo: &dyn Repo, user: &User, token: NewEmailToken) {
    let mail = mail_to(&user.email, &format!("token {}", token.hash));
    repo.queue_email_token(user.id, token, mail)
        .await
        .expect("token queued");
}

fn ids(mails: &[OutboxMail]) -> Vec<i64> {
    mails.iter().map(|m| m.id).collect()
}

fn assert_conflict<T: std::fmt::Debug>(result: Result<T, StoreError>, field: UniqueField) {
    match result {
        Err(StoreError::Conflict(got)) => assert_eq!(got, field),
        other => panic!("expected a conflict on {field:?}, got {other:?}"),
    }
}

// ----- users -----

async fn create_user_stores_defaults_and_queues_mail(repo: Arc<dyn Repo>) {
    let (new, confirmation, mail) = registration("Alice");
    let alice = repo
        .create_user(new, confirmation, mail.clone())
        .await
        .expect("created");
    assert!(alice.id > 0);
    assert_eq!(alice.email, "Alice@example.com");
    assert_eq!(alice.username, "Alice");
    assert_eq!(
        alice.password_hash.as_deref(),
        Some("$argon2id$v=19$fake$Alice")
    );
    assert!(alice.active);
    assert!(!alice.confirmed);
    assert!(alice.permissions.is_empty());
    assert!(!alice.is_admin());
    assert_eq!(alice.created_at, NOW);
    assert_eq!(alice.last_login, None);

    let found = |u: Option<User>| u.map(|u| u.id);
    assert_eq!(
        repo.user_by_id(alice.id).await.expect("by id"),
        Some(alice.clone())
    );
    assert_eq!(
        repo.user_by_email("ALICE@EXAMPLE.COM")
            .await
            .expect("by email"),
        Some(alice.clone())
    );
    assert_eq!(
        repo.user_by_username("aLiCe").await.expect("by username"),
        Some(alice.clone())
    );
    assert_eq!(
        found(repo.user_by_id(alice.id + 1000).await.expect("by id")),
        None
    );
    assert_eq!(
        found(
            repo.user_by_email("bob@example.com")
                .await
                .expect("by email")
        ),
        None
    );
    assert_eq!(
        found(repo.user_by_username("Alic").await.expect("by username")),
        None
    );

    let bob = register(&*repo, "bob").await;
    assert_ne!(bob.id, alice.id);

    // The confirmation mail was queued with the user, due at once.
    let queued = claim(&*repo, NOW, NOW + 60, 10).await;
    assert_eq!(queued.len(), 2);
    assert_eq!(queued[0].mail, mail);
    assert_eq!(queued[0].attempts, 0);
    assert_eq!(queued[1].mail.to, "bob@example.com");
    // And the token was stored for this user.
    assert_eq!(
        repo.confirm_email("hash-Alice", NOW + 1)
            .await
            .expect("confirm"),
        Some(alice.id)
    );
}

async fn conflicts_roll_back_everything(repo: Arc<dyn Repo>) {
    let alice = register(&*repo, "alice").await;

    let (user, token, mail) = registration("carol");
    let same_email = NewUser {
        email: "ALICE@example.com".to_owned(),
        ..user
    };
    assert_conflict(
        repo.create_user(same_email, token, mail).await,
        UniqueField::Email,
    );
    let (user, token, mail) = registration("dave");
    let same_name = NewUser {
        username: "ALICE".to_owned(),
        ..user
    };
    assert_conflict(
        repo.create_user(same_name, token, mail).await,
        UniqueField::Username,
    );

    // Nothing of the refused registrations remains: no user, no token, no mail.
    assert_eq!(repo.user_by_username("carol").await.expect("lookup"), None);
    assert_eq!(
        repo.user_by_email("dave@example.com")
            .await
            .expect("lookup"),
        None
    );
    assert_eq!(
        repo.confirm_email("hash-carol", NOW + 1)
            .await
            .expect("confirm"),
        None
    );
    assert_eq!(
        repo.confirm_email("hash-dave", NOW + 1)
            .await
            .expect("confirm"),
        None
    );
    let queued = claim(&*repo, NOW, NOW + 60, 10).await;
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].mail.to, "alice@example.com");
    // The untouched user is still whole.
    assert_eq!(
        repo.user_by_id(alice.id).await.expect("lookup"),
        Some(alice)
    );
    // The same names register fine once free of conflict.
    register(&*repo, "carol").await;
}

async fn concurrent_registrations_make_one_user(repo: Arc<dyn Repo>) {
    let attempts: Vec<_> = (0..50)
        .map(|i| {
            let repo = Arc::clone(&repo);
            tokio::spawn(async move {
                let (user, token, mail) = registration(&format!("racer{i}"));
                let user = NewUser {
                    username: if i % 2 == 0 { "racer" } else { "RACER" }.to_owned(),
                    ..user
                };
                repo.create_user(user, token, mail).await
            })
        })
        .collect();
    let mut winners = Vec::new();
    for attempt in attempts {
        match attempt.await.expect("task ran") {
            Ok(user) => winners.push(user),
            Err(StoreError::Conflict(UniqueField::Username)) => {}
            Err(other) => panic!("unexpected error: {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1);
    let winner = &winners[0];
    assert_eq!(
        repo.user_by_username("Racer").await.expect("lookup"),
        Some(winner.clone())
    );
    let queued = claim(&*repo, NOW, NOW + 60, 100).await;
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].mail.to, winner.email);
}

async fn change_username_rules(repo: Arc<dyn Repo>) {
    let alice = register(&*repo, "alice").await;
    let bob = register(&*repo, "bob").await;

    assert!(
        !repo
            .change_username(alice.id + bob.id + 1000, "ghost")
            .await
            .expect("rename")
    );

    assert!(
        repo.change_username(alice.id, "alicia")
            .await
            .expect("rename")
    );
    assert_eq!(repo.user_by_username("alice").await.expect("lookup"), None);
    let renamed = repo
        .user_by_username("ALICIA")
        .await
        .expect("lookup")
        .expect("found");
    assert_eq!(
        (renamed.id, renamed.username.as_str()),
        (alice.id, "alicia")
    );

    // A change of case of one's own name is allowed, and so is the same name again.
    assert!(
        repo.change_username(alice.id, "Alicia")
            .await
            .expect("rename")
    );
    assert!(
        repo.change_username(alice.id, "Alicia")
            .await
            .expect("rename")
    );
    let renamed = repo
        .user_by_id(alice.id)
        .await
        .expect("lookup")
        .expect("found");
    assert_eq!(renamed.username, "Alicia");

    // Someone else's name, in any case, is taken.
    assert_conflict(
        repo.change_username(bob.id, "aLICIA").await,
        UniqueField::Username,
    );
    assert_eq!(repo.user_by_id(bob.id).await.expect("lookup"), Some(bob));
}

async fn concurrent_renames_make_one_winner(repo: Arc<dyn Repo>) {
    let mut users = Vec::new();
    for i in 0..50 {
        users.push(register(&*repo, &format!("user{i}")).await);
    }
    let renames: Vec<_> = users
        .iter()
        .map(|user| {
            let (repo, id) = (Arc::clone(&repo), user.id);
            tokio::spawn(async move { (id, repo.change_username(id, "winner").await) })
        })
        .collect();
    let mut winners = Vec::new();
    for rename in renames {
        match rename.await.expect("task ran") {
            (id, Ok(true)) => winners.push(id),
            (_, Err(StoreError::Conflict(UniqueField::Username))) => {}
            (id, other) => panic!("unexpected outcome for {id}: {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1);
    let winner = repo
        .user_by_username("WINNER")
        .await
        .expect("lookup")
        .expect("found");
    assert_eq!(winner.id, winners[0]);
}

async fn record_login_sets_time_and_rehash(repo: Arc<dyn Repo>) {
    let alice = register(&*repo, "alice").await;

    repo.record_login(alice.id, NOW + 10, None)
        .await
        .expect("login");
    let user = repo
        .user_by_id(alice.id)
        .await
        .expect("lookup")
        .expect("found");
    assert_eq!(user.last_login, Some(NOW + 10));
    assert_eq!(user.password_hash, alice.password_hash);

    repo.record_login(
        alice.id,
        NOW + 20,
        Some("$argon2id$v=19$rehashed".to_owned()),
    )
    .await
    .expect("login");
    let user = repo
        .user_by_id(alice.id)
        .await
        .expect("lookup")
        .expect("found");
    assert_eq!(user.last_login, Some(NOW + 20));
    assert_eq!(
        user.password_hash.as_deref(),
        Some("$argon2id$v=19$rehashed")
    );

    // An unknown user is no error.
    repo.record_login(alice.id + 1000, NOW, None)
        .await
        .expect("login");
}

// ----- sessions -----

async fn sessions_open_and_revoke(repo: Arc<dyn Repo>) {
    let alice = register(&*repo, "alice").await;
    repo.create_session(session("s1", alice.id, "r1", NOW + DAY))
        .await
        .expect("session");
    repo.create_session(session("s2", alice.id, "r2", NOW + DAY))
        .await
        .expect("session");

    assert!(!repo.session_revoked("s1").await.expect("state"));
    assert!(repo.session_revoked("unknown").await.expect("state"));

    repo.revoke_session("s1", NOW + 5).await.expect("revoke");
    repo.revoke_session("s1", NOW + 6)
        .await
        .expect("revoke again");
    repo.revoke_session("unknown", NOW + 6)
        .await
        .expect("revoke unknown");
    assert!(repo.session_revoked("s1").await.expect("state"));
    assert!(!repo.session_revoked("s2").await.expect("state"));

    // A revoked session's refresh token no longer works; the other session's does.
    assert_eq!(
        rotate(&*repo, rotation("s1", "r1", "r1b", NOW + 7)).await,
        RotationOutcome::Invalid
    );
    assert_eq!(
        rotate(&*repo, rotation("s2", "r2", "r2b", NOW + 7)).await,
        RotationOutcome::Rotated
    );

    // Foreign keys hold, and ids are unique: both failures leave nothing behind.
    let orphan = repo
        .create_session(session("s3", alice.id + 1000, "r3", NOW + DAY))
        .await;
    assert!(
        matches!(orphan, Err(StoreError::Unavailable(_))),
        "{orphan:?}"
    );
    let duplicate = repo
        .create_session(session("s2", alice.id, "r4", NOW + DAY))
        .await;
    assert!(
        matches!(duplicate, Err(StoreError::Unavailable(_))),
        "{duplicate:?}"
    );
    assert!(repo.session_revoked("s3").await.expect("state"));
    // The existing session kept its token.
    assert_eq!(
        rotate(&*repo, rotation("s2", "r4", "r4b", NOW + 8)).await,
        RotationOutcome::Invalid
    );
    assert_eq!(
        rotate(&*repo, rotation("s2", "r2b", "r2c", NOW + 8)).await,
        RotationOutcome::Rotated
    );
}

async fn rotation_outcomes(repo: Arc<dyn Repo>) {
    let alice = register(&*repo, "alice").await;
    repo.create_session(session("s1", alice.id, "r1", NOW + 1000))
        .await
        .expect("session");

    assert_eq!(
        rotate(&*repo, rotation("s1", "r1", "r2", NOW + 10)).await,
        RotationOutcome::Rotated
    );
    // Within the grace period (bounds included) the old token is refused, session kept.
    assert_eq!(
        rotate(&*repo, rotation("s1", "r1", "x1", NOW + 15)).await,
        RotationOutcome::RecentlyRotated
    );
    assert_eq!(
        rotate(&*repo, rotation("s1", "r1", "x2", NOW + 10 + GRACE)).await,
        RotationOutcome::RecentlyRotated
    );
    assert!(!repo.session_revoked("s1").await.expect("state"));

    // Unknown token, token of another session, a refused rotation's successor (never
    // stored): invalid, and the current token is not consumed.
    for (sid, presented) in [("s1", "nope"), ("s2", "r2"), ("s1", "x1")] {
        assert_eq!(
            rotate(&*repo, rotation(sid, presented, "x3", NOW + 21)).await,
            RotationOutcome::Invalid,
            "{sid}/{presented}"
        );
    }
    assert_eq!(
        rotate(&*repo, rotation("s1", "r2", "r3", NOW + 30)).await,
        RotationOutcome::Rotated
    );
    assert!(!repo.session_revoked("s1").await.expect("state"));

    // A token rotated before the grace period comes back: replay, the session is revoked.
    assert_eq!(
        rotate(&*repo, rotation("s1", "r1", "x4", NOW + 10 + GRACE + 1)).await,
        RotationOutcome::Replayed
    );
    assert!(repo.session_revoked("s1").await.expect("state"));
    // Nothing of a revoked session works again, not even its current token.
    assert_eq!(
        rotate(&*repo, rotation("s1", "r3", "x5", NOW + 32)).await,
        RotationOutcome::Invalid
    );
    assert_eq!(
        rotate(&*repo, rotation("s1", "r1", "x6", NOW + 32)).await,
        RotationOutcome::Invalid
    );

    // A session lives as long as its current token: past its first token's expiry
    // (NOW + 100), the token issued at NOW + 50 (expiring NOW + 250) still rotates.
    repo.create_session(session("s2", alice.id, "t1", NOW + 100))
        .await
        .expect("session");
    assert_eq!(
        rotate(&*repo, rotation("s2", "t1", "t2", NOW + 50)).await,
        RotationOutcome::Rotated
    );
    assert_eq!(
        rotate(&*repo, rotation("s2", "t2", "t3", NOW + 150)).await,
        RotationOutcome::Rotated
    );

    // An expired token is invalid (expiry exclusive) and does not revoke its session.
    repo.create_session(session("s3", alice.id, "u1", NOW + 100))
        .await
        .expect("session");
    assert_eq!(
        rotate(&*repo, rotation("s3", "u1", "u2", NOW + 100)).await,
        RotationOutcome::Invalid
    );
    assert!(!repo.session_revoked("s3").await.expect("state"));
}

async fn concurrent_rotations_rotate_once(repo: Arc<dyn Repo>) {
    let alice = register(&*repo, "alice").await;
    repo.create_session(session("s1", alice.id, "r0", NOW + DAY))
        .await
        .expect("session");
    let attempts: Vec<_> = (0..20)
        .map(|i| {
            let repo = Arc::clone(&repo);
            tokio::spawn(async move {
                let next = format!("next{i}");
                let outcome = rotate(&*repo, rotation("s1", "r0", &next, NOW + 1)).await;
                (next, outcome)
            })
        })
        .collect();
    let mut rotated = Vec::new();
    let mut losers = Vec::new();
    for attempt in attempts {
        match attempt.await.expect("task ran") {
            (next, RotationOutcome::Rotated) => rotated.push(next),
            (next, RotationOutcome::RecentlyRotated) => losers.push(next),
            (_, other) => panic!("unexpected outcome {other:?}"),
        }
    }
    assert_eq!(rotated.len(), 1);
    assert_eq!(losers.len(), 19);
    assert!(!repo.session_revoked("s1").await.expect("state"));
    // Only the winner's successor was stored.
    assert_eq!(
        rotate(&*repo, rotation("s1", &losers[0], "y", NOW + 2)).await,
        RotationOutcome::Invalid
    );
    assert_eq!(
        rotate(&*repo, rotation("s1", &rotated[0], "z", NOW + 2)).await,
        RotationOutcome::Rotated
    );
}

// ----- emailed tokens -----

async fn confirm_email_rules(repo: Arc<dyn Repo>) {
    let alice = register(&*repo, "alice").await;
    let bob = register(&*repo, "bob").await;
    let email = alice.email.as_str();
    queue_token(&*repo, &alice, token("second", email, NOW + 5, NOW + DAY)).await;
    queue_token(
        &*repo,
        &alice,
        token("stale", "alice.old@example.com", NOW + 5, NOW + DAY),
    )
    .await;
    queue_token(&*repo, &alice, token("short", email, NOW + 5, NOW + 10)).await;

    assert_eq!(
        repo.confirm_email("unknown", NOW + 6)
            .await
            .expect("confirm"),
        None
    );
    // Bound to an address that is no longer the user's.
    assert_eq!(
        repo.confirm_email("stale", NOW + 6).await.expect("confirm"),
        None
    );
    // Expired (expiry exclusive).
    assert_eq!(
        repo.confirm_email("short", NOW + 10)
            .await
            .expect("confirm"),
        None
    );
    let unconfirmed = repo
        .user_by_id(alice.id)
        .await
        .expect("lookup")
        .expect("found");
    assert!(!unconfirmed.confirmed);

    assert_eq!(
        repo.confirm_email("hash-alice", NOW + 6)
            .await
            .expect("confirm"),
        Some(alice.id)
    );
    let confirmed = repo
        .user_by_id(alice.id)
        .await
        .expect("lookup")
        .expect("found");
    assert!(confirmed.confirmed);
    // Single use, and every other confirmation token of the user is used up.
    assert_eq!(
        repo.confirm_email("hash-alice", NOW + 7)
            .await
            .expect("confirm"),
        None
    );
    assert_eq!(
        repo.confirm_email("second", NOW + 7)
            .await
            .expect("confirm"),
        None
    );

    // Other users are untouched.
    let bob_now = repo
        .user_by_id(bob.id)
        .await
        .expect("lookup")
        .expect("found");
    assert!(!bob_now.confirmed);
    assert_eq!(
        repo.confirm_email("hash-bob", NOW + 8)
            .await
            .expect("confirm"),
        Some(bob.id)
    );
}

async fn concurrent_confirmations_use_token_once(repo: Arc<dyn Repo>) {
    let alice = register(&*repo, "alice").await;
    let attempts: Vec<_> = (0..10)
        .map(|_| {
            let repo = Arc::clone(&repo);
            tokio::spawn(async move { repo.confirm_email("hash-alice", NOW + 1).await })
        })
        .collect();
    let mut confirmed = Vec::new();
    for attempt in attempts {
        if let Some(id) = attempt.await.expect("task ran").expect("confirm") {
            confirmed.push(id);
        }
    }
    assert_eq!(confirmed, vec![alice.id]);
}

async fn queue_email_token_is_atomic(repo: Arc<dyn Repo>) {
    let alice = register(&*repo, "alice").await;
    let first = claim(&*repo, NOW, NOW + 60, 10).await;
    assert_eq!(first.len(), 1);
    repo.mark_mail_sent(first[0].id, &first[0].claim, NOW)
        .await
        .expect("sent");

    let mail = mail_to(&alice.email, "Confirm email again");
    repo.queue_email_token(
        alice.id,
        token("again", &alice.email, NOW + 30, NOW + DAY),
        mail.clone(),
    )
    .await
    .expect("queued");
    // The mail is due when the token was made.
    assert_eq!(repo.next_mail_due().await.expect("due"), Some(NOW + 30));
    assert!(claim(&*repo, NOW + 29, NOW + 90, 10).await.is_empty());
    let queued = claim(&*repo, NOW + 30, NOW + 90, 10).await;
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].mail, mail);
    repo.mark_mail_sent(queued[0].id, &queued[0].claim, NOW + 31)
        .await
        .expect("sent");
    assert_eq!(
        repo.confirm_email("again", NOW + 31)
            .await
            .expect("confirm"),
        Some(alice.id)
    );

    // A token for no user fails whole: no mail is queued either.
    let orphan = repo
        .queue_email_token(
            alice.id + 1000,
            token("orphan", "ghost@example.com", NOW + 40, NOW + DAY),
            mail_to("ghost@example.com", "Confirm email"),
        )
        .await;
    assert!(
        matches!(orphan, Err(StoreError::Unavailable(_))),
        "{orphan:?}"
    );
    assert!(
        claim(&*repo, NOW + DAY, NOW + DAY + 60, 10)
            .await
            .is_empty()
    );
}

// ----- outbox -----

async fn outbox_claims_leases_and_retries(repo: Arc<dyn Repo>) {
    assert_eq!(repo.next_mail_due().await.expect("due"), None);
    let alice = register(&*repo, "alice").await;
    for (n, at) in [(1, NOW + 1), (2, NOW + 2)] {
        let mail = mail_to(&alice.email, &format!("mail {n}"));
        repo.queue_email_token(
            alice.id,
            token(&format!("t{n}"), &alice.email, at, at + DAY),
            mail,
        )
        .await
        .expect("queued");
    }
    assert_eq!(repo.next_mail_due().await.expect("due"), Some(NOW));
    assert!(claim(&*repo, NOW, NOW + 60, 0).await.is_empty());

    // Oldest first, up to the limit, under one claim.
    let a = claim(&*repo, NOW + 2, NOW + 60, 2).await;
    assert_eq!(a.len(), 2);
    assert_eq!(a[0].mail.subject, "Confirm email");
    assert_eq!(a[1].mail.subject, "mail 1");
    assert!(
        a.iter()
            .all(|m| m.attempts == 0 && m.claim == a[0].claim && !m.claim.is_empty())
    );
    let (m0, m1) = (a[0].id, a[1].id);
    assert_eq!(repo.next_mail_due().await.expect("due"), Some(NOW + 2));

    let b = claim(&*repo, NOW + 3, NOW + 60, 10).await;
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].mail.subject, "mail 2");
    assert_ne!(b[0].claim, a[0].claim);
    let m2 = b[0].id;
    // Everything is leased until NOW + 60, so claimable one second later.
    assert_eq!(repo.next_mail_due().await.expect("due"), Some(NOW + 61));
    assert!(claim(&*repo, NOW + 60, NOW + 120, 10).await.is_empty());

    // Only the holder of the claim can mark a mail sent or reschedule it.
    repo.mark_mail_sent(m0, &b[0].claim, NOW + 4)
        .await
        .expect("ignored");
    repo.mark_mail_sent(m0, &a[0].claim, NOW + 4)
        .await
        .expect("sent");
    repo.reschedule_mail(
        m1,
        &a[0].claim,
        NOW + 4,
        Some(NOW + 100),
        "421 try again later",
    )
    .await
    .expect("rescheduled");
    repo.reschedule_mail(m2, "not-the-claim", NOW + 4, None, "550 no such user")
        .await
        .expect("ignored");
    // The rescheduled mail lost its claim: the old holder can no longer mark it sent.
    repo.mark_mail_sent(m1, &a[0].claim, NOW + 5)
        .await
        .expect("ignored");
    assert_eq!(repo.next_mail_due().await.expect("due"), Some(NOW + 61));

    // m2's lease ran out: it is claimed again, with its attempts unchanged.
    let c = claim(&*repo, NOW + 61, NOW + 120, 10).await;
    assert_eq!(ids(&c), vec![m2]);
    assert_eq!(c[0].attempts, 0);
    let long_error = "x".repeat(10_000);
    repo.reschedule_mail(m2, &c[0].claim, NOW + 61, None, &long_error)
        .await
        .expect("given up");
    assert_eq!(repo.next_mail_due().await.expect("due"), Some(NOW + 100));
    assert!(claim(&*repo, NOW + 99, NOW + 160, 10).await.is_empty());

    // The retried mail comes back once due, with its failed attempt counted.
    let d = claim(&*repo, NOW + 100, NOW + 160, 10).await;
    assert_eq!(ids(&d), vec![m1]);
    assert_eq!(d[0].attempts, 1);
    assert_eq!(d[0].mail.subject, "mail 1");
    repo.mark_mail_sent(m1, &d[0].claim, NOW + 101)
        .await
        .expect("sent");

    // Sent and given-up mail never comes back.
    assert_eq!(repo.next_mail_due().await.expect("due"), None);
    assert!(
        claim(&*repo, NOW + DAY, NOW + DAY + 60, 10)
            .await
            .is_empty()
    );
}

async fn concurrent_claims_are_disjoint(repo: Arc<dyn Repo>) {
    let alice = register(&*repo, "alice").await;
    for n in 1..40 {
        let mail = mail_to(&alice.email, &format!("mail {n}"));
        repo.queue_email_token(
            alice.id,
            token(&format!("t{n}"), &alice.email, NOW, NOW + DAY),
            mail,
        )
        .await
        .expect("queued");
    }
    let workers: Vec<_> = (0..8)
        .map(|_| {
            let repo = Arc::clone(&repo);
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let batch = claim(&*repo, NOW + 1, NOW + 600, 3).await;
                    if batch.is_empty() {
                        return mine;
                    }
                    mine.extend(ids(&batch));
                }
            })
        })
        .collect();
    let mut all = Vec::new();
    for worker in workers {
        all.extend(worker.await.expect("task ran"));
    }
    let distinct: HashSet<i64> = all.iter().copied().collect();
    assert_eq!(all.len(), 40);
    assert_eq!(distinct.len(), 40);
}

// ----- backends -----

#[tokio::test]
async fn connect_refuses_unknown_schemes_without_leaking_the_url() {
    let err = crate::connect("mysql://user:secret@localhost/db")
        .await
        .err()
        .expect("refused");
    assert!(
        matches!(&err, crate::Error::UnsupportedScheme(s) if s == "mysql"),
        "{err:?}"
    );
    assert!(!err.to_string().contains("secret"));
}

// ----- upgrading a database of schema version 1 -----

/// Sessions as schema version 1 held them (one row per refresh token): `s1` rotated twice (`r1`
/// at NOW + 10, `r2` at NOW + 20, `r3` current), `s2` never rotated, `s3` without a current
/// token (which version 1 never wrote, but a database could hold).
const V1_SESSIONS: &str = "\
    INSERT INTO users (email, username, password_hash, created_at) \
    VALUES ('alice@example.com', 'alice', 'x', 1700000000); \
    INSERT INTO sessions (sid, user_id, created_at, expires_at) VALUES \
    ('s1', 1, 1700000000, 1700086400), ('s2', 1, 1700000000, 1700086400), \
    ('s3', 1, 1700000000, 1700086400); \
    INSERT INTO refresh_tokens (jti, sid, issued_at, expires_at, rotated_at) VALUES \
    ('r1', 's1', 1700000000, 1700086400, 1700000010), \
    ('r2', 's1', 1700000010, 1700086400, 1700000020), \
    ('r3', 's1', 1700000020, 1700086400, NULL), \
    ('q1', 's2', 1700000000, 1700086400, NULL), \
    ('o1', 's3', 1700000000, 1700086400, 1700000005);";

/// After the upgrade, [`V1_SESSIONS`] behave as they did: current tokens rotate, rotated ones
/// keep their grace period and replay detection, the session without a token is gone.
async fn v1_sessions_survive_the_upgrade(repo: &dyn Repo) {
    assert_eq!(
        rotate(repo, rotation("s1", "r2", "x1", NOW + 25)).await,
        RotationOutcome::RecentlyRotated
    );
    assert_eq!(
        rotate(repo, rotation("s1", "r3", "r4", NOW + 30)).await,
        RotationOutcome::Rotated
    );
    assert_eq!(
        rotate(repo, rotation("s2", "q1", "q2", NOW + 30)).await,
        RotationOutcome::Rotated
    );
    assert!(repo.session_revoked("s3").await.expect("state"));
    assert_eq!(
        rotate(repo, rotation("s3", "o1", "o2", NOW + 30)).await,
        RotationOutcome::Invalid
    );
    assert_eq!(
        rotate(repo, rotation("s1", "r1", "x2", NOW + 40)).await,
        RotationOutcome::Replayed
    );
    assert!(repo.session_revoked("s1").await.expect("state"));
    assert!(!repo.session_revoked("s2").await.expect("state"));
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use std::str::FromStr as _;

    use authx_core::store::UserStore;

    use super::{Teardown, TestDb, register};
    use crate::SqliteStore;

    pub(super) async fn open() -> TestDb {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!("sqlite://{}", dir.path().join("authx.db").display());
        let repo = crate::connect(&url).await.expect("sqlite opened");
        TestDb {
            repo,
            teardown: Teardown::Sqlite(dir),
        }
    }

    #[tokio::test]
    async fn connect_tunes_and_migrates_once() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!("sqlite:{}", dir.path().join("authx.db").display());
        let first = SqliteStore::connect(&url).await.expect("opened");
        register(&first, "alice").await;
        // A second open finds its migrations applied and the data there.
        let second = SqliteStore::connect(&url).await.expect("reopened");
        let alice = UserStore::user_by_username(&second, "alice")
            .await
            .expect("lookup");
        assert!(alice.is_some());

        let pool = second.pool();
        let journal_mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(pool)
            .await
            .expect("pragma");
        assert_eq!(journal_mode, "wal");
        for (pragma, expected) in [
            ("PRAGMA synchronous", 1), // NORMAL
            ("PRAGMA foreign_keys", 1),
            ("PRAGMA busy_timeout", 5000),
        ] {
            let value: i64 = sqlx::query_scalar(pragma)
                .fetch_one(pool)
                .await
                .expect("pragma");
            assert_eq!(value, expected, "{pragma}");
        }
        assert!(pool.options().get_max_connections() > 1);
        // Connections are handed out without a ping (a round trip to their thread).
        assert!(!pool.options().get_test_before_acquire());
    }

    #[tokio::test]
    async fn upgrades_a_version_1_database() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!("sqlite://{}", dir.path().join("authx.db").display());
        let options = sqlx::sqlite::SqliteConnectOptions::from_str(&url)
            .expect("url")
            .create_if_missing(true);
        let pool = sqlx::SqlitePool::connect_with(options)
            .await
            .expect("opened");
        crate::migrator(&crate::sqlite::MIGRATIONS[..1])
            .run(&pool)
            .await
            .expect("version 1");
        sqlx::raw_sql(super::V1_SESSIONS)
            .execute(&pool)
            .await
            .expect("seeded");
        pool.close().await;
        let store = SqliteStore::connect(&url).await.expect("upgraded");
        super::v1_sessions_survive_the_upgrade(&store).await;
    }

    #[tokio::test]
    async fn in_memory_database_keeps_its_data() {
        let repo = crate::connect("sqlite::memory:").await.expect("opened");
        let alice = register(&*repo, "alice").await;
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        assert_eq!(
            repo.user_by_id(alice.id).await.expect("lookup"),
            Some(alice)
        );
    }
}

#[cfg(feature = "postgres")]
mod postgres {
    use sqlx::{AssertSqlSafe, Connection as _, PgConnection};

    use authx_core::store::UserStore;

    use super::{Teardown, TestDb, register};
    use crate::PostgresStore;

    const URL_VAR: &str = "AUTHX_TEST_POSTGRES_URL";

    /// A database made for one test on the server of `AUTHX_TEST_POSTGRES_URL`.
    pub(super) struct Scratch {
        admin_url: String,
        name: String,
        store: PostgresStore,
    }

    impl Scratch {
        /// Creates the database, or `None` (saying so) when no server is configured.
        async fn create() -> Option<(Self, String)> {
            Self::create_with(|_| async {}).await
        }

        /// Creates the database and runs `prepare` on its URL before the store opens it.
        async fn create_with<F, Fut>(prepare: F) -> Option<(Self, String)>
        where
            F: FnOnce(String) -> Fut,
            Fut: std::future::Future<Output = ()>,
        {
            let Ok(admin_url) = std::env::var(URL_VAR) else {
                println!("skipped: {URL_VAR} not set");
                return None;
            };
            let name = format!("authx_test_{}", crate::sql::new_claim().expect("random"));
            let mut admin = PgConnection::connect(&admin_url)
                .await
                .expect("server reached");
            sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut admin)
                .await
                .expect("database created");
            let _ = admin.close().await;
            let url = with_database(&admin_url, &name);
            prepare(url.clone()).await;
            let store = PostgresStore::connect(&url).await.expect("postgres opened");
            Some((
                Self {
                    admin_url,
                    name,
                    store,
                },
                url,
            ))
        }

        /// Drops the database, best effort.
        pub(super) async fn drop_database(self) {
            self.store.pool().close().await;
            if let Ok(mut admin) = PgConnection::connect(&self.admin_url).await {
                let drop = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
                if let Err(err) = sqlx::raw_sql(AssertSqlSafe(drop)).execute(&mut admin).await {
                    eprintln!("could not drop {}: {err}", self.name);
                }
                let _ = admin.close().await;
            }
        }
    }

    /// `url` with its database replaced by `name`.
    fn with_database(url: &str, name: &str) -> String {
        let (base, query) = url
            .split_once('?')
            .map_or((url, None), |(b, q)| (b, Some(q)));
        let authority = base.find("://").map_or(0, |i| i + 3);
        let path = base[authority..]
            .find('/')
            .map_or(base.len(), |i| authority + i);
        let query = query.map(|q| format!("?{q}")).unwrap_or_default();
        format!("{}/{name}{query}", &base[..path])
    }

    pub(super) async fn open() -> Option<TestDb> {
        let (scratch, _) = Scratch::create().await?;
        Some(TestDb {
            repo: std::sync::Arc::new(scratch.store.clone()),
            teardown: Teardown::Postgres(scratch),
        })
    }

    #[tokio::test]
    async fn connect_by_url_migrates_once() {
        let Some((scratch, url)) = Scratch::create().await else {
            return;
        };
        // Connections are pinged only after sitting idle, not on every use.
        assert!(!scratch.store.pool().options().get_test_before_acquire());
        let url = url.replacen("postgres://", "postgresql://", 1);
        let repo = crate::connect(&url).await.expect("reopened by URL");
        let alice = register(&*repo, "alice").await;
        assert_eq!(
            UserStore::user_by_id(&scratch.store, alice.id)
                .await
                .expect("lookup"),
            Some(alice)
        );
        drop(repo);
        scratch.drop_database().await;
    }

    #[tokio::test]
    async fn upgrades_a_version_1_database() {
        let seeded = Scratch::create_with(|url| async move {
            let pool = sqlx::PgPool::connect(&url).await.expect("opened");
            crate::migrator(&crate::postgres::MIGRATIONS[..1])
                .run(&pool)
                .await
                .expect("version 1");
            sqlx::raw_sql(super::V1_SESSIONS)
                .execute(&pool)
                .await
                .expect("seeded");
            pool.close().await;
        })
        .await;
        let Some((scratch, _)) = seeded else {
            return;
        };
        super::v1_sessions_survive_the_upgrade(&scratch.store).await;
        scratch.drop_database().await;
    }

    #[test]
    fn database_is_replaced_in_urls() {
        assert_eq!(
            with_database("postgres://u@h:5432/postgres", "x"),
            "postgres://u@h:5432/x"
        );
        assert_eq!(with_database("postgres://u@h", "x"), "postgres://u@h/x");
        assert_eq!(
            with_database("postgresql://h/db?sslmode=disable", "x"),
            "postgresql://h/x?sslmode=disable"
        );
    }
}
