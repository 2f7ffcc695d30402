//! The scenarios: what each connection sends, closed-loop (the next request leaves when the
//! answer to the previous one is in), except the login flood, which is open-loop, and every
//! scenario but the flood and the janitor under `--rate`, paced at a fixed rate.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hyper::header;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::client::{Call, Conn, Reply};
use crate::server::{PASSWORD, user};
use crate::stats::Recorder;

/// Upper bound of requests per connection in one run, whatever the duration.
const MAX_REQUESTS_PER_CONNECTION: u64 = 10_000_000;
/// Wrong passwords per seeded user: one fewer than the lockout threshold (5), so that every
/// attempt reaches the password check.
pub(crate) const WRONG_ATTEMPTS_PER_USER: u64 = 4;

/// One benchmark scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scenario {
    /// `GET` of an unknown path under the prefix: the adapter's `404`, no service work. The
    /// ceiling of the client and HTTP stack on this machine.
    Noop,
    /// `GET /bare`, a route of the framework's own beside the auth router, answering a fixed
    /// small JSON body: the framework's floor, without authx.
    Bare,
    /// `POST /bare` with a small JSON body, which the route reads whole as bytes and answers
    /// as `bare` does: the floor of the scenarios that send a body (the framework's own cost
    /// of reading one is no part of what authx adds).
    BarePost,
    /// `GET /bare-db`, a route of the framework's own that awaits one `SELECT 1` through the
    /// store's pool before it answers as `bare` does: what the framework and sqlx cost a
    /// handler that waits on the database once, without authx (a second floor, for the
    /// routes that wait on it).
    BareDb,
    Register,
    Login,
    LoginWrongPassword,
    ConfirmStatus,
    Token,
    Refresh,
    Flood,
    /// `GET /sessions` with a bearer access token.
    Sessions,
    /// The admin search by username: the seven digits of one user (one match, any size).
    SearchUsername,
    /// The admin search by email: `<seven digits>@exa` (one match).
    SearchEmail,
    /// The admin search by a two-digit username substring: too short for a trigram; many
    /// matches at any size.
    SearchShort,
    /// `POST /forgot_password` for a seeded address, round robin.
    ForgotPassword,
    /// The probe connections refresh (each its own session) while the janitor deletes every
    /// seeded session (all expired in this run's copy).
    Janitor,
}

impl Scenario {
    pub(crate) const ALL: [Self; 17] = [
        Self::Bare,
        Self::BarePost,
        Self::BareDb,
        Self::Noop,
        Self::Register,
        Self::Login,
        Self::LoginWrongPassword,
        Self::ConfirmStatus,
        Self::Token,
        Self::Refresh,
        Self::Sessions,
        Self::SearchUsername,
        Self::SearchEmail,
        Self::SearchShort,
        Self::ForgotPassword,
        Self::Janitor,
        Self::Flood,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Noop => "noop",
            Self::Bare => "bare",
            Self::BarePost => "bare-post",
            Self::BareDb => "bare-db",
            Self::Register => "register",
            Self::Login => "login",
            Self::LoginWrongPassword => "login-wrong-password",
            Self::ConfirmStatus => "confirm-status",
            Self::Token => "token",
            Self::Refresh => "refresh",
            Self::Flood => "flood",
            Self::Sessions => "sessions",
            Self::SearchUsername => "search-username",
            Self::SearchEmail => "search-email",
            Self::SearchShort => "search-short",
            Self::ForgotPassword => "forgot-password",
            Self::Janitor => "janitor",
        }
    }

    pub(crate) fn parse(name: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|s| s.name() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|s| s.name()).collect();
                format!("unknown scenario {name:?}: {} or all", names.join(", "))
            })
    }

    /// Whether its throughput is bound by argon2id (the raw verify rate is measured for it).
    pub(crate) fn hashes(self) -> bool {
        matches!(
            self,
            Self::Register | Self::Login | Self::LoginWrongPassword | Self::Flood
        )
    }

    /// Whether it runs on the probe connections (the others run on `--connections`): the
    /// flood's and the janitor's measured requests, and the admin search (a few admins at a
    /// time, not 64: at 64 its latency would be its own queue).
    pub(crate) fn on_probes(self) -> bool {
        matches!(
            self,
            Self::Flood
                | Self::Janitor
                | Self::SearchUsername
                | Self::SearchEmail
                | Self::SearchShort
        )
    }

    /// Whether it is a framework's floor (no authx).
    pub(crate) fn is_floor(self) -> bool {
        matches!(self, Self::Bare | Self::BarePost | Self::BareDb)
    }

    /// The second floor its added CPU is also taken above, `bare-db`, for the scenarios
    /// without a body that wait on the database: what authx adds beyond what the framework
    /// and the pool cost a handler that waits on it once.
    pub(crate) fn db_floor(self) -> Option<Self> {
        match self {
            Self::ConfirmStatus
            | Self::Token
            | Self::Refresh
            | Self::Sessions
            | Self::SearchUsername
            | Self::SearchEmail
            | Self::SearchShort => Some(Self::BareDb),
            _ => None,
        }
    }

    /// The floor its added CPU is taken above: `bare-post` for the scenarios that send a JSON
    /// body, `bare` for the others.
    pub(crate) fn floor(self) -> Self {
        match self {
            Self::BarePost
            | Self::Register
            | Self::Login
            | Self::LoginWrongPassword
            | Self::ForgotPassword => Self::BarePost,
            _ => Self::Bare,
        }
    }

    /// Whether it is an admin search.
    pub(crate) fn searches(self) -> bool {
        matches!(
            self,
            Self::SearchUsername | Self::SearchEmail | Self::SearchShort
        )
    }
}

/// How hard and how long.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) connections: usize,
    pub(crate) seconds: f64,
    pub(crate) warmup: f64,
    pub(crate) flood_connections: usize,
    pub(crate) flood_factor: f64,
    /// Connections sending `GET /confirm` during the flood (closed loop).
    pub(crate) probe_connections: usize,
    /// Bound on one request.
    pub(crate) timeout: Duration,
    /// Requests per second offered, open loop, spread evenly over the connections (`None`:
    /// closed loop). The hashing scenarios are offered at most half the raw verify rate; the
    /// flood and the janitor keep their own loads.
    pub(crate) rate: Option<f64>,
}

impl Settings {
    /// The rate `scenario` is offered, if paced.
    pub(crate) fn paced_rate(&self, scenario: Scenario, verify_rate: Option<f64>) -> Option<f64> {
        if matches!(scenario, Scenario::Flood | Scenario::Janitor) {
            return None;
        }
        let rate = self.rate?;
        Some(match verify_rate {
            Some(verify) if scenario.hashes() => rate.min(verify / 2.0),
            _ => rate,
        })
    }
}

/// What a run measured.
#[derive(Debug, Default)]
pub(crate) struct Measured {
    /// The scenario's requests in the measured window (for the flood: the `GET /confirm`s).
    pub(crate) requests: Recorder,
    pub(crate) window: f64,
    /// The rate offered, when paced (`--rate`): the throughput is then this rate, and what
    /// the run measures is the cost of each request.
    pub(crate) paced: Option<f64>,
    /// Paced requests sent more than one interval after they were due (each connection
    /// waits for its answer before sending the next).
    pub(crate) late: u64,
    pub(crate) flood: Option<Flood>,
    /// CPU time of the server process and of this one during the measured window, in seconds.
    pub(crate) server_cpu: Option<f64>,
    pub(crate) client_cpu: Option<f64>,
    /// How many times the server's threads were scheduled to run in the window (each a
    /// wake-up or a preemption, a context switch): [`crate::procfs::ThreadTimes::runs_since`].
    pub(crate) server_runs: Option<u64>,
    /// How the whole machine's CPU time went in the measured window: idle, and stolen by the
    /// hypervisor for other guests (which neither process's CPU time shows).
    pub(crate) machine: Option<crate::procfs::MachineShare>,
}

/// The login side of the flood.
#[derive(Debug, Default)]
pub(crate) struct Flood {
    /// Logins per second offered (open loop).
    pub(crate) offered_rate: f64,
    /// The first login of every flood connection, all sent at once.
    pub(crate) burst: Recorder,
    /// The logins that followed at the offered rate.
    pub(crate) steady: Recorder,
    /// Logins due but not sent because every flood connection was waiting for an answer.
    pub(crate) not_sent: u64,
    /// The `GET /confirm`s of the second half of the warm-up, before the flood.
    pub(crate) baseline: Recorder,
}

/// What one connection sends next, and what it keeps from the answer.
enum Driver {
    Noop,
    Bare,
    BarePost,
    BareDb,
    Register {
        conn: usize,
        n: u64,
    },
    Login {
        next: u64,
        step: u64,
        users: u64,
    },
    WrongPassword {
        counter: Arc<AtomicU64>,
        users: u64,
    },
    Fixed(Call),
    Refresh {
        token: String,
    },
    Search {
        scenario: Scenario,
        next: u64,
        step: u64,
        users: u64,
        bearer: String,
    },
    Forgot {
        next: u64,
        step: u64,
        users: u64,
    },
}

fn login_call(i: u64, password: &str) -> Call {
    let (username, _) = user(i);
    Call::post("/login").json(&serde_json::json!({ "login": username, "password": password }))
}

impl Driver {
    fn call(&mut self) -> Call {
        match self {
            Self::Noop => Call::get("/no/such/route"),
            Self::Bare => Call::at_root(hyper::Method::GET, crate::adapter::BARE_PATH),
            Self::BareDb => Call::at_root(hyper::Method::GET, crate::adapter::BARE_DB_PATH),
            // As long as a forgot-password body.
            Self::BarePost => Call::at_root(hyper::Method::POST, crate::adapter::BARE_PATH)
                .json(&serde_json::json!({ "email": "u0000042@example.com" })),
            Self::Register { conn, n } => {
                *n += 1;
                let name = format!("r{conn}n{n}");
                Call::post("/register").json(&serde_json::json!({
                    "email": format!("{name}@example.com"),
                    "username": name,
                    "password1": PASSWORD,
                    "password2": PASSWORD,
                }))
            }
            Self::Login { next, step, users } => {
                let i = *next % *users;
                *next += *step;
                login_call(i, PASSWORD)
            }
            Self::WrongPassword { counter, users } => {
                // Past WRONG_ATTEMPTS_PER_USER * users attempts accounts lock (429): the
                // benchmark seeds enough users for the run that this does not happen.
                let i = counter.fetch_add(1, Ordering::Relaxed) / WRONG_ATTEMPTS_PER_USER;
                login_call(i % *users, "not the password")
            }
            Self::Fixed(call) => call.clone(),
            Self::Search {
                scenario,
                next,
                step,
                users,
                bearer,
            } => {
                let i = *next % *users;
                *next += *step;
                let query = match scenario {
                    Scenario::SearchEmail => format!("?email={i:07}@exa"),
                    Scenario::SearchShort => format!("?username={:02}", 10 + i % 90),
                    _ => format!("?username={i:07}"),
                };
                Call::get(&query).header(header::AUTHORIZATION, bearer)
            }
            Self::Forgot { next, step, users } => {
                let (_, email) = user(*next % *users);
                *next += *step;
                Call::post("/forgot_password").json(&serde_json::json!({ "email": email }))
            }
            Self::Refresh { token } => Call::post("/token/refresh")
                .header(header::COOKIE, &format!("refresh_token={token}")),
        }
    }

    fn observe(&mut self, reply: &Reply) {
        if let Self::Refresh { token } = self
            && reply.status == 200
            && let Some(next) = reply.cookie("refresh_token")
        {
            *token = next;
        }
    }
}

/// Logs in as user `i` on `conn`, waiting out `503` shedding (bounded); returns the access
/// and refresh tokens.
async fn log_in(conn: &mut Conn, i: u64, timeout: Duration) -> Result<(String, String), String> {
    for _ in 0..60 {
        let reply = conn.send(&login_call(i, PASSWORD), timeout).await?;
        match reply.status {
            200 => {
                let access = reply.cookie("access_token").ok_or("no access cookie")?;
                let refresh = reply.cookie("refresh_token").ok_or("no refresh cookie")?;
                return Ok((access, refresh));
            }
            503 => {
                let wait = reply
                    .headers
                    .get(header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok()?.parse().ok())
                    .unwrap_or(1);
                tokio::time::sleep(Duration::from_secs(wait)).await;
            }
            other => {
                return Err(format!(
                    "setup login of user {i}: {other} {}",
                    String::from_utf8_lossy(&reply.body)
                ));
            }
        }
    }
    Err(format!("setup login of user {i}: shed for a minute"))
}

/// A connection and, if it logged in, its access and refresh tokens.
type Opened = (Conn, Option<(String, String)>);

/// Who a connection logs in as, if anyone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Login {
    No,
    /// Connection `i` as user `i`.
    Own,
    /// Every connection as user 0, the admin (a session each).
    Admin,
}

/// Opens `count` connections, logged in as `login` says.
async fn open(
    addr: SocketAddr,
    count: usize,
    login: Login,
    timeout: Duration,
) -> Result<Vec<Opened>, String> {
    let mut tasks = JoinSet::new();
    for i in 0..count {
        tasks.spawn(async move {
            let mut conn = Conn::open(addr).await?;
            let tokens = match login {
                Login::No => None,
                Login::Own => Some(log_in(&mut conn, i as u64, timeout).await?),
                Login::Admin => Some(log_in(&mut conn, 0, timeout).await?),
            };
            Ok::<_, String>((i, conn, tokens))
        });
    }
    let mut conns: Vec<Option<Opened>> = (0..count).map(|_| None).collect();
    while let Some(joined) = tasks.join_next().await {
        let (i, conn, tokens) = joined.map_err(|e| e.to_string())??;
        conns[i] = Some((conn, tokens));
    }
    Ok(conns.into_iter().flatten().collect())
}

/// When a connection sends its next request.
#[derive(Debug, Clone, Copy)]
enum Pace {
    /// As soon as the answer to the previous one is in.
    Closed,
    /// The `k`-th at `first + k * every` (or at once, when the answer came later).
    Every { first: Instant, every: Duration },
}

/// What one connection saw: from `measure_from` on, from `baseline_from` to `measure_from`,
/// and how many paced requests of the measured window left late.
type Seen = (Recorder, Recorder, u64);

/// Runs one connection until `until`; returns what it saw.
async fn connection_loop(
    mut conn: Conn,
    mut driver: Driver,
    pace: Pace,
    (baseline_from, measure_from, until): (Instant, Instant, Instant),
    timeout: Duration,
) -> Seen {
    let mut recorder = Recorder::default();
    let mut baseline = Recorder::default();
    let mut late = 0;
    for k in 0..MAX_REQUESTS_PER_CONNECTION {
        if let Pace::Every { first, every } = pace {
            let due = first + every.mul_f64(k as f64);
            if due >= until {
                break;
            }
            let now = Instant::now();
            if due > now {
                tokio::time::sleep_until(due.into()).await;
            } else if now - due > every && due >= measure_from {
                late += 1;
            }
        }
        let started = Instant::now();
        if started >= until {
            break;
        }
        let call = driver.call();
        if let Ok(reply) = conn.send(&call, timeout).await {
            driver.observe(&reply);
            if started >= measure_from {
                recorder.record(&reply, started.elapsed());
            } else if started >= baseline_from {
                baseline.record(&reply, started.elapsed());
            }
        } else {
            if started >= measure_from {
                recorder.errors += 1;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    (recorder, baseline, late)
}

/// Runs `scenario` against the server at `addr` with `users` seeded users; `verify_rate` (the
/// raw argon2id rate) sets the flood's login rate; `at_measure` is called when the measured
/// window opens (the janitor scenario starts the janitor then).
pub(crate) async fn run(
    scenario: Scenario,
    addr: SocketAddr,
    users: u64,
    settings: &Settings,
    verify_rate: Option<f64>,
    server_pid: u32,
    at_measure: Option<&mut (dyn FnMut() + '_)>,
) -> Result<Measured, String> {
    let n = if scenario.on_probes() {
        settings.probe_connections
    } else {
        settings.connections
    };
    let timeout = settings.timeout;
    let login = match scenario {
        Scenario::ConfirmStatus
        | Scenario::Token
        | Scenario::Refresh
        | Scenario::Flood
        | Scenario::Sessions
        | Scenario::Janitor => Login::Own,
        s if s.searches() => Login::Admin,
        _ => Login::No,
    };
    let conns = open(addr, n, login, timeout).await?;
    let wrong_counter = Arc::new(AtomicU64::new(0));
    let drivers = conns.into_iter().enumerate().map(|(i, (conn, tokens))| {
        let access = tokens.as_ref().map(|(a, _)| a.clone()).unwrap_or_default();
        let bearer = format!("Bearer {access}");
        let driver = match scenario {
            Scenario::Noop => Driver::Noop,
            Scenario::Bare => Driver::Bare,
            Scenario::BarePost => Driver::BarePost,
            Scenario::BareDb => Driver::BareDb,
            Scenario::Register => Driver::Register { conn: i, n: 0 },
            Scenario::Login => Driver::Login {
                next: i as u64,
                step: n as u64,
                users,
            },
            Scenario::LoginWrongPassword => Driver::WrongPassword {
                counter: wrong_counter.clone(),
                users,
            },
            Scenario::ConfirmStatus | Scenario::Flood => {
                Driver::Fixed(Call::get("/confirm").header(header::AUTHORIZATION, &bearer))
            }
            Scenario::Token => {
                Driver::Fixed(Call::post("/token").header(header::AUTHORIZATION, &bearer))
            }
            Scenario::Refresh => Driver::Refresh {
                token: tokens.map(|(_, r)| r).unwrap_or_default(),
            },
            // Writes: what a janitor batch can hold up (reads wait for no writer, in WAL
            // and in PostgreSQL alike).
            Scenario::Janitor => Driver::Refresh {
                token: tokens.map(|(_, r)| r).unwrap_or_default(),
            },
            Scenario::Sessions => {
                Driver::Fixed(Call::get("/sessions").header(header::AUTHORIZATION, &bearer))
            }
            Scenario::SearchUsername | Scenario::SearchEmail | Scenario::SearchShort => {
                // Spread over the users, a different start per connection.
                Driver::Search {
                    scenario,
                    next: (i as u64).wrapping_mul(7919),
                    step: 104_729,
                    users,
                    bearer,
                }
            }
            Scenario::ForgotPassword => Driver::Forgot {
                next: i as u64,
                step: n as u64,
                users,
            },
        };
        (conn, driver)
    });
    let drivers: Vec<(Conn, Driver)> = drivers.collect();

    // The flood's connections are opened before the clock starts.
    let flood_conns = if scenario == Scenario::Flood {
        open(addr, settings.flood_connections, Login::No, timeout).await?
    } else {
        Vec::new()
    };

    let start = Instant::now();
    let measure_from = start + Duration::from_secs_f64(settings.warmup);
    let until = measure_from + Duration::from_secs_f64(settings.seconds);
    let baseline_from = start + Duration::from_secs_f64(settings.warmup / 2.0);
    let cpu_window = tokio::spawn(async move {
        tokio::time::sleep_until(measure_from.into()).await;
        let before = (
            crate::procfs::thread_times(Some(server_pid)),
            crate::procfs::thread_times(None),
            crate::procfs::machine_ticks(),
        );
        tokio::time::sleep_until(until.into()).await;
        let after = (
            crate::procfs::thread_times(Some(server_pid)),
            crate::procfs::thread_times(None),
            crate::procfs::machine_ticks(),
        );
        let server = after.0.zip(before.0);
        (
            server.as_ref().map(|(a, b)| a.since(b)),
            server.map(|(a, b)| a.runs_since(&b)),
            after.1.zip(before.1).map(|(a, b)| a.since(&b)),
            after.2.zip(before.2).and_then(|(a, b)| a.since(b)),
        )
    });
    let paced = settings.paced_rate(scenario, verify_rate);
    let mut loops = JoinSet::new();
    for (i, (conn, driver)) in drivers.into_iter().enumerate() {
        // Each connection at `rate / n`, the connections' phases spread over one interval.
        let pace = paced.map_or(Pace::Closed, |rate| {
            let every = Duration::from_secs_f64(n as f64 / rate);
            Pace::Every {
                first: start + every.mul_f64(i as f64 / n as f64),
                every,
            }
        });
        loops.spawn(connection_loop(
            conn,
            driver,
            pace,
            (baseline_from, measure_from, until),
            timeout,
        ));
    }
    if let Some(at_measure) = at_measure {
        tokio::time::sleep_until(measure_from.into()).await;
        at_measure();
    }
    let mut flood = if scenario == Scenario::Flood {
        let rate = settings.flood_factor * verify_rate.ok_or("the flood needs the raw rate")?;
        Some(flood(flood_conns, users, rate, measure_from, until, timeout).await)
    } else {
        None
    };
    let mut requests = Recorder::default();
    let mut baseline = Recorder::default();
    let mut late = 0;
    while let Some(joined) = loops.join_next().await {
        let (measured, before, late_here) = joined.map_err(|e| e.to_string())?;
        requests.merge(measured);
        baseline.merge(before);
        late += late_here;
    }
    if let Some(flood) = &mut flood {
        flood.baseline = baseline;
    }
    let (server_cpu, server_runs, client_cpu, machine) =
        cpu_window.await.unwrap_or((None, None, None, None));
    Ok(Measured {
        requests,
        window: settings.seconds,
        paced,
        late,
        flood,
        server_cpu,
        server_runs,
        client_cpu,
        machine,
    })
}

/// Logins at `rate` per second from `from` to `until`, open loop, on the flood connections,
/// after a burst of one login on each of them at once.
async fn flood(
    conns: Vec<Opened>,
    users: u64,
    rate: f64,
    from: Instant,
    until: Instant,
    timeout: Duration,
) -> Flood {
    let tickets = Arc::new(Semaphore::new(0));
    let next_user = Arc::new(AtomicU64::new(0));
    let mut tasks = JoinSet::new();
    for (mut conn, _) in conns {
        let tickets = tickets.clone();
        let next_user = next_user.clone();
        tasks.spawn(async move {
            let mut burst = Recorder::default();
            let mut steady = Recorder::default();
            tokio::time::sleep_until(from.into()).await;
            for round in 0..MAX_REQUESTS_PER_CONNECTION {
                if round > 0 {
                    // Wait for the dispatcher's next due login, or the end.
                    let Ok(Ok(ticket)) =
                        tokio::time::timeout_at(until.into(), tickets.acquire()).await
                    else {
                        break;
                    };
                    ticket.forget();
                }
                let i = next_user.fetch_add(1, Ordering::Relaxed) % users;
                let started = Instant::now();
                let recorder = if round == 0 { &mut burst } else { &mut steady };
                match conn.send(&login_call(i, PASSWORD), timeout).await {
                    Ok(reply) => recorder.record(&reply, started.elapsed()),
                    Err(_) => recorder.errors += 1,
                }
            }
            (burst, steady)
        });
    }
    // The dispatcher: tickets at `rate` per second, checked every millisecond.
    tokio::time::sleep_until(from.into()).await;
    let mut issued = 0_u64;
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    while Instant::now() < until {
        tick.tick().await;
        let due = (from.elapsed().as_secs_f64() * rate) as u64;
        if due > issued {
            tickets.add_permits(usize::try_from(due - issued).unwrap_or(0));
            issued = due;
        }
    }
    let not_sent = tickets.available_permits() as u64;
    tickets.close();
    let mut result = Flood {
        offered_rate: rate,
        not_sent,
        ..Flood::default()
    };
    while let Some(joined) = tasks.join_next().await {
        if let Ok((burst, steady)) = joined {
            result.burst.merge(burst);
            result.steady.merge(steady);
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(rate: Option<f64>) -> Settings {
        Settings {
            connections: 64,
            seconds: 1.0,
            warmup: 0.0,
            flood_connections: 10,
            flood_factor: 4.0,
            probe_connections: 8,
            timeout: Duration::from_secs(1),
            rate,
        }
    }

    #[test]
    fn paced_rate_spares_the_flood_and_the_janitor_and_caps_hashing() {
        let closed = settings(None);
        assert_eq!(closed.paced_rate(Scenario::ConfirmStatus, None), None);
        let paced = settings(Some(500.0));
        assert_eq!(paced.paced_rate(Scenario::ConfirmStatus, None), Some(500.0));
        assert_eq!(paced.paced_rate(Scenario::BarePost, None), Some(500.0));
        assert_eq!(paced.paced_rate(Scenario::Flood, Some(100.0)), None);
        assert_eq!(paced.paced_rate(Scenario::Janitor, None), None);
        // Half the raw verify rate, so that hashing keeps up.
        assert_eq!(paced.paced_rate(Scenario::Login, Some(100.0)), Some(50.0));
        assert_eq!(paced.paced_rate(Scenario::Login, Some(2000.0)), Some(500.0));
    }
}
