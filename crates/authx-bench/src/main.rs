//! The authx load benchmark.
//!
//! ```text
//! cargo run --release -p authx-bench -- --adapter axum --scenario login --connections 64 --seconds 10 [--db sqlite|postgres]
//! cargo run --release -p authx-bench -- --adapter all --scenario all --db all
//! cargo run --release -p authx-bench -- --adapter all --scenario bare,confirm-status --rounds 5
//! ```
//!
//! For each backend and each `--sizes` entry (users, and as many sessions), a database is seeded
//! once by bulk SQL (`seed`). Each run copies it (a SQLite file in a temporary directory, a
//! PostgreSQL database created from `AUTHX_BENCH_POSTGRES_URL` as a copy of the template, or
//! a MySQL/MariaDB database on `AUTHX_BENCH_MYSQL_URL` filled table by table from it; dropped
//! afterwards), starts the server as a child process of this binary (`authx-bench
//! serve`, so its peak RSS and CPU time are its own) on `127.0.0.1:0`, and drives one scenario
//! with N keep-alive HTTP/1.1 connections for T seconds after a warm-up. Hashing scenarios
//! first measure the raw argon2id verify rate of the machine with the same parameters.
//!
//! The runs are interleaved so that what is compared is measured close in time ([`schedule`]):
//! for each backend, `--rounds` rounds (1 by default, at most 20) one after the other; in each
//! round the `bare` floor first (when it is asked for), then each scenario in the order given,
//! each size in turn, and for each the adapters back to back, in the same order throughout the
//! round (so each adapter's scenario is as far in time from its own floor as every other
//! adapter's), that order rotated by one from round to round (so no adapter is always first).
//! The report lists every run; its summaries take the median over the rounds of each
//! (adapter, backend, size, scenario), and what authx adds above a framework's floor is the
//! median of each round's scenario minus that round's floor, printed with its range over the
//! rounds.
//! See `docs/benchmarks.md`.

// Measurements are counts and durations shown with a few digits: float conversions are fine.
#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

mod adapter;
mod client;
mod procfs;
mod raw_argon2;
mod report;
mod scenario;
mod seed;
mod server;
mod stats;

use std::io::BufRead as _;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub(crate) use adapter::Adapter;
use scenario::{Scenario, Settings};
use server::ServerOptions;

/// The storage backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Db {
    Sqlite,
    Postgres,
    MySql,
}

impl Db {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
            Self::MySql => "mysql",
        }
    }

    /// The variable naming the server's admin URL, for the backends that have a server.
    fn server_var(self) -> Option<&'static str> {
        match self {
            Self::Sqlite => None,
            Self::Postgres => Some(POSTGRES_VAR),
            Self::MySql => Some(MYSQL_VAR),
        }
    }
}

/// The environment variable naming a PostgreSQL server (an admin URL) for the benchmark.
pub(crate) const POSTGRES_VAR: &str = "AUTHX_BENCH_POSTGRES_URL";
/// The environment variable naming a MySQL or MariaDB server (an admin URL, `mysql://...`).
pub(crate) const MYSQL_VAR: &str = "AUTHX_BENCH_MYSQL_URL";

/// The most `--rounds` (each round is a whole matrix of runs).
const MAX_ROUNDS: usize = 20;

const USAGE: &str = "usage: authx-bench [--adapter axum|actix|rocket|all] [--scenario NAME|all] \
[--db sqlite|postgres|mysql|all] [--sizes 1000,1000000] [--rounds 1] [--connections 64] [--seconds 10] \
[--warmup 2] [--rate N] [--max-steal PERCENT] [--flood-connections 1000] [--flood-factor 4] [--probe-connections 8] [--argon2-seconds 3] [--client-threads 1] \
[--hash-concurrency N] [--hash-queue N] [--sqlite-pool N] [--pg-pool N]
scenarios: bare, bare-post, bare-db, noop, register, login, login-wrong-password, confirm-status, token, refresh,
sessions, search-username, search-email, search-short, forgot-password, janitor, flood
(--adapter and --scenario also take comma-separated lists; --sizes: users seeded, each with a
session, default 1000; --rounds 1 to 20: every run that many times, round after round, each
round running every adapter, size and scenario (the floors first); the summaries take the
median of the rounds; --rate N: each scenario offered N requests per second, open loop, instead
of closed loop, the hashing ones at most half the raw verify rate, the flood and the janitor
unchanged: to compare what each request costs, at a load the machine keeps up with;
--max-steal P: a run with more than P% of the machine stolen by the hypervisor in its window is
measured again, up to 4 times, the least stolen attempt kept)";

struct Args {
    adapters: Vec<Adapter>,
    scenarios: Vec<Scenario>,
    dbs: Vec<Db>,
    sizes: Vec<u64>,
    /// How many times each (adapter, backend, size, scenario) is measured, round after round.
    rounds: usize,
    settings: Settings,
    argon2_seconds: f64,
    client_threads: usize,
    /// A run whose window had more of the machine stolen than this share is measured again.
    max_steal: Option<f64>,
    server: ServerOptions,
}

fn value<T: std::str::FromStr>(flag: &str, raw: Option<&String>) -> Result<T, String> {
    raw.ok_or_else(|| format!("{flag} needs a value"))?
        .parse()
        .map_err(|_| format!("{flag}: invalid value"))
}

fn parse_server(args: &[String]) -> Result<ServerOptions, String> {
    let mut options = ServerOptions {
        adapter: Adapter::Axum,
        hash_concurrency: None,
        hash_queue: None,
        sqlite_pool: None,
        pg_pool: None,
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--adapter" => options.adapter = Adapter::parse(&value::<String>(flag, it.next())?)?,
            "--hash-concurrency" => options.hash_concurrency = Some(value(flag, it.next())?),
            "--hash-queue" => options.hash_queue = Some(value(flag, it.next())?),
            "--sqlite-pool" => options.sqlite_pool = Some(value(flag, it.next())?),
            "--pg-pool" => options.pg_pool = Some(value(flag, it.next())?),
            other => return Err(format!("unknown option {other}\n{USAGE}")),
        }
    }
    Ok(options)
}

/// `all`, or a comma-separated list of names, each read by `parse`.
fn selection<T: Copy>(
    raw: &str,
    all: &[T],
    parse: fn(&str) -> Result<T, String>,
) -> Result<Vec<T>, String> {
    if raw == "all" {
        return Ok(all.to_vec());
    }
    raw.split(',').map(parse).collect()
}

fn parse(args: &[String]) -> Result<Args, String> {
    let mut adapter = "axum".to_owned();
    let mut scenario = "login".to_owned();
    let mut db = "sqlite".to_owned();
    let mut sizes = "1000".to_owned();
    let mut rounds: usize = 1;
    let mut settings = Settings {
        connections: 64,
        seconds: 10.0,
        warmup: 2.0,
        flood_connections: 1000,
        flood_factor: 4.0,
        probe_connections: 8,
        timeout: Duration::from_secs(30),
        rate: None,
    };
    let mut argon2_seconds = 3.0;
    let mut client_threads = 1;
    let mut max_steal: Option<f64> = None;
    let mut server_args = Vec::new();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--adapter" => adapter = value(flag, it.next())?,
            "--scenario" => scenario = value(flag, it.next())?,
            "--db" => db = value(flag, it.next())?,
            "--sizes" => sizes = value(flag, it.next())?,
            "--rounds" => rounds = value(flag, it.next())?,
            "--connections" => settings.connections = value(flag, it.next())?,
            "--seconds" => settings.seconds = value(flag, it.next())?,
            "--warmup" => settings.warmup = value(flag, it.next())?,
            "--rate" => settings.rate = Some(value(flag, it.next())?),
            "--max-steal" => max_steal = Some(value::<f64>(flag, it.next())? / 100.0),
            "--flood-connections" => settings.flood_connections = value(flag, it.next())?,
            "--flood-factor" => settings.flood_factor = value(flag, it.next())?,
            "--probe-connections" => settings.probe_connections = value(flag, it.next())?,
            "--argon2-seconds" => argon2_seconds = value(flag, it.next())?,
            "--client-threads" => client_threads = value(flag, it.next())?,
            "--hash-concurrency" | "--hash-queue" | "--sqlite-pool" | "--pg-pool" => {
                server_args.push(flag.clone());
                server_args.push(value::<String>(flag, it.next())?);
            }
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown option {other}\n{USAGE}")),
        }
    }
    let in_range = settings.seconds > 0.0
        && settings.seconds <= 3600.0
        && (0.0..=600.0).contains(&settings.warmup)
        && (0.1..=60.0).contains(&argon2_seconds)
        && (1..=10_000).contains(&settings.connections)
        && (1..=10_000).contains(&settings.flood_connections)
        && (1..=10_000).contains(&settings.probe_connections)
        && client_threads > 0
        && settings
            .rate
            .is_none_or(|r| (1.0..=1_000_000.0).contains(&r))
        && max_steal.is_none_or(|m| (0.0..=1.0).contains(&m));
    if !in_range {
        return Err(format!("a value is out of range\n{USAGE}"));
    }
    if !(1..=MAX_ROUNDS).contains(&rounds) {
        return Err(format!("--rounds: 1 to {MAX_ROUNDS}\n{USAGE}"));
    }
    let sizes: Vec<u64> = sizes
        .split(',')
        .map(|s| s.trim().replace('_', "").parse::<u64>())
        .collect::<Result<_, _>>()
        .map_err(|_| format!("--sizes: numbers of users, comma-separated\n{USAGE}"))?;
    if sizes.iter().any(|s| !(1..=10_000_000).contains(s)) {
        return Err(format!("--sizes: 1 to 10,000,000 users\n{USAGE}"));
    }
    let adapters = selection(&adapter, &Adapter::ALL, Adapter::parse)?;
    let scenarios = selection(&scenario, &Scenario::ALL, Scenario::parse)?;
    let configured = |db: Db| db.server_var().is_none_or(|var| std::env::var(var).is_ok());
    let dbs = match db.as_str() {
        "all" => {
            let mut dbs = Vec::new();
            for db in [Db::Sqlite, Db::Postgres, Db::MySql] {
                if configured(db) {
                    dbs.push(db);
                } else if let Some(var) = db.server_var() {
                    println!("note: {var} is not set; {} skipped", db.name());
                }
            }
            dbs
        }
        name => match [Db::Sqlite, Db::Postgres, Db::MySql]
            .into_iter()
            .find(|db| db.name() == name)
        {
            Some(db) if configured(db) => vec![db],
            Some(db) => {
                return Err(format!(
                    "--db {name} needs {}",
                    db.server_var().unwrap_or_default()
                ));
            }
            None => {
                return Err(format!(
                    "unknown database {name:?}: sqlite, postgres, mysql or all"
                ));
            }
        },
    };
    let mut server = parse_server(&server_args)?;
    server.adapter = adapters[0];
    Ok(Args {
        adapters,
        scenarios,
        dbs,
        sizes,
        rounds,
        settings,
        argon2_seconds,
        client_threads,
        max_steal,
        server,
    })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = if args.first().map(String::as_str) == Some("serve") {
        parse_server(&args[1..]).and_then(|options| server::run(&options))
    } else {
        parse(&args).and_then(|args| bench(&args))
    };
    if let Err(e) = result {
        eprintln!("authx-bench: {e}");
        std::process::exit(2);
    }
}

fn bench(args: &Args) -> Result<(), String> {
    let runtime = if args.client_threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.client_threads)
            .enable_all()
            .build()
    }
    .map_err(|e| e.to_string())?;
    report::machine();
    let mut rows = Vec::new();
    for &db in &args.dbs {
        let mut templates = Vec::new();
        for &size in &args.sizes {
            templates.push((size, runtime.block_on(seed::template(db, size))?));
        }
        let mut result = Ok(());
        for planned in schedule(
            &args.adapters,
            &args.scenarios,
            templates.len(),
            args.rounds,
        ) {
            let (size, template) = &templates[planned.size];
            let measured = measure_quietly(args, planned, db, *size, |adapter, scenario| {
                runtime.block_on(run_one(args, adapter, db, scenario, *size, template))
            });
            match measured {
                Ok(mut row) => {
                    row.round = planned.round;
                    report::run(&row, &args.settings, args.rounds);
                    rows.push(row);
                }
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        for (_, template) in templates {
            runtime.block_on(template.drop_template());
        }
        result?;
    }
    report::table(&rows, args.rounds);
    report::targets(&rows);
    Ok(())
}

/// Most times a run is measured when `--max-steal` is passed.
const STEAL_ATTEMPTS: usize = 4;

/// Measures a run; with `--max-steal`, measures it again while more than that share of the
/// machine was stolen in its window (at most [`STEAL_ATTEMPTS`] times, keeping the attempt
/// with the least stolen). The janitor, whose run lasts until its clean-up ends, is measured
/// once.
fn measure_quietly(
    args: &Args,
    planned: Planned,
    db: Db,
    size: u64,
    mut run: impl FnMut(Adapter, Scenario) -> Result<Row, String>,
) -> Result<Row, String> {
    let stolen = |row: &Row| row.measured.machine.map_or(0.0, |m| m.steal);
    let mut best: Option<Row> = None;
    for attempt in 1..=STEAL_ATTEMPTS {
        let row = run(planned.adapter, planned.scenario)?;
        let this = stolen(&row);
        let over = args.max_steal.filter(|max| this > *max);
        if best.as_ref().is_none_or(|b| this < stolen(b)) {
            best = Some(row);
        }
        let Some(max) = over else { break };
        if planned.scenario == Scenario::Janitor || attempt == STEAL_ATTEMPTS {
            break;
        }
        println!(
            "note: {}/{}/{size}/{} round {}: {:.1}% of the machine stolen in the window, over --max-steal {:.1}%; measured again",
            planned.adapter.name(),
            db.name(),
            planned.scenario.name(),
            planned.round,
            100.0 * this,
            100.0 * max
        );
    }
    best.ok_or_else(|| "no attempt".to_owned())
}

/// One run of the schedule: which round, adapter, scenario, and size (an index of `--sizes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Planned {
    /// From 1.
    round: usize,
    adapter: Adapter,
    scenario: Scenario,
    size: usize,
}

/// The order of one backend's runs, chosen so that what the report compares is measured close
/// in time. Round after round (round 1 of everything, then round 2, ...); in each round the
/// `bare` floor first, if asked for (what authx adds is a scenario minus the same round's
/// floor), then the other scenarios in the order given; for each scenario each size in turn;
/// for each size the adapters back to back, so the adapters' figures of one scenario are
/// minutes closer than they would be adapter after adapter. Within a round the adapters keep
/// one order, so each adapter's scenario is as many runs after its own floor as every other
/// adapter's; from round to round that order turns by one, so that none is always first (the
/// first after another scenario, or after the copy of another size's database).
fn schedule(
    adapters: &[Adapter],
    scenarios: &[Scenario],
    sizes: usize,
    rounds: usize,
) -> Vec<Planned> {
    let ordered: Vec<Scenario> = scenarios
        .iter()
        .filter(|s| s.is_floor())
        .chain(scenarios.iter().filter(|s| !s.is_floor()))
        .copied()
        .collect();
    let mut runs = Vec::new();
    for round in 1..=rounds {
        let mut turned = adapters.to_vec();
        if !turned.is_empty() {
            let by = (round - 1) % turned.len();
            turned.rotate_left(by);
        }
        for &scenario in &ordered {
            for size in 0..sizes {
                for &adapter in &turned {
                    runs.push(Planned {
                        round,
                        adapter,
                        scenario,
                        size,
                    });
                }
            }
        }
    }
    runs
}

/// One run's figures.
pub(crate) struct Row {
    /// The round (from 1) of `--rounds`.
    pub(crate) round: usize,
    pub(crate) adapter: Adapter,
    pub(crate) db: Db,
    pub(crate) scenario: Scenario,
    pub(crate) measured: scenario::Measured,
    /// Measured before and after the run.
    pub(crate) raw: Option<(raw_argon2::RawRate, raw_argon2::RawRate)>,
    /// Users seeded (each with a session).
    pub(crate) size: u64,
    pub(crate) server_peak_rss_kib: Option<u64>,
    pub(crate) load_before: Option<f64>,
    /// The janitor scenario's clean-up: sessions deleted and seconds taken, if it finished.
    pub(crate) janitor: Option<(u64, f64)>,
}

async fn run_one(
    args: &Args,
    adapter: Adapter,
    db: Db,
    scenario: Scenario,
    size: u64,
    template: &seed::Template,
) -> Result<Row, String> {
    let settings = &args.settings;
    let load_before = procfs::load_average();
    // Measured first, with nothing else of the benchmark running (and again after the run).
    let raw_before = if scenario.hashes() {
        Some(raw_argon2::verify_rate(args.argon2_seconds).await?)
    } else {
        None
    };
    let raw_verify_rate = raw_before.map(|r| r.per_second);
    if scenario == Scenario::LoginWrongPassword {
        // Four wrong passwords per account at most (the fifth would lock it).
        let attempts =
            raw_verify_rate.unwrap_or(100.0) * 1.5 * (settings.seconds + settings.warmup + 1.0);
        let needed = (attempts as u64).div_ceil(scenario::WRONG_ATTEMPTS_PER_USER);
        if needed > size {
            println!("note: {size} users may be too few for {needed} accounts' wrong passwords");
        }
    }
    let needed = if scenario.on_probes() {
        settings.probe_connections
    } else {
        settings.connections
    } as u64;
    if needed > size {
        return Err(format!(
            "{} needs {needed} seeded users (one per connection); --sizes {size} has fewer",
            scenario.name()
        ));
    }
    let mut options = args.server.clone();
    options.adapter = adapter;
    let copy = template.copy().await?;
    if scenario == Scenario::Janitor {
        copy.expire_sessions().await?;
    }
    let result = serve_and_measure(
        &options,
        copy.url(),
        scenario,
        size,
        settings,
        raw_verify_rate,
    )
    .await;
    copy.drop_copy().await;
    let (measured, server_peak_rss_kib, janitor) = result?;
    let raw = match raw_before {
        Some(before) => Some((before, raw_argon2::verify_rate(args.argon2_seconds).await?)),
        None => None,
    };
    Ok(Row {
        round: 1,
        adapter,
        db,
        scenario,
        measured,
        raw,
        size,
        server_peak_rss_kib,
        load_before,
        janitor,
    })
}

/// What a run's server measured: the scenario's figures, its peak RSS, and the janitor's
/// clean-up (sessions, seconds) if one ran and finished.
type Served = (scenario::Measured, Option<u64>, Option<(u64, f64)>);

/// How long the janitor scenario waits, after its window, for the clean-up to finish.
const JANITOR_WAIT: Duration = Duration::from_mins(20);

async fn serve_and_measure(
    options: &ServerOptions,
    db_url: &str,
    scenario: Scenario,
    users: u64,
    settings: &Settings,
    raw_verify_rate: Option<f64>,
) -> Result<Served, String> {
    use std::io::Write as _;
    let (mut child, addr, janitor_lines) = spawn_server(options, db_url)?;
    let pid = child.id();
    let mut stdin = child.stdin.take();
    let mut start_janitor = || {
        if let Some(stdin) = stdin.as_mut() {
            let _ = writeln!(stdin, "janitor").and_then(|()| stdin.flush());
        }
    };
    let at_measure: Option<&mut (dyn FnMut() + '_)> = if scenario == Scenario::Janitor {
        Some(&mut start_janitor)
    } else {
        None
    };
    let measured = scenario::run(
        scenario,
        addr,
        users,
        settings,
        raw_verify_rate,
        pid,
        at_measure,
    )
    .await;
    let janitor = if scenario == Scenario::Janitor && measured.is_ok() {
        let line = tokio::task::spawn_blocking(move || janitor_lines.recv_timeout(JANITOR_WAIT))
            .await
            .map_err(|e| e.to_string())?;
        line.ok().and_then(|line| {
            let mut parts = line.split_whitespace();
            Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
        })
    } else {
        None
    };
    let peak = procfs::peak_rss_kib(Some(pid));
    child.stdin = stdin;
    stop_server(&mut child);
    Ok((measured?, peak, janitor))
}

/// The server, its address, and the janitor reports it prints.
fn spawn_server(
    options: &ServerOptions,
    db_url: &str,
) -> Result<(Child, SocketAddr, std::sync::mpsc::Receiver<String>), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut command = Command::new(exe);
    command
        .args(options.to_args())
        .env(server::DB_URL_VAR, db_url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = command
        .spawn()
        .map_err(|e| format!("starting the server: {e}"))?;
    let stdout = child.stdout.take().ok_or("no server stdout")?;
    let (tx, rx) = std::sync::mpsc::channel();
    let (janitor_tx, janitor_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // Reads the ready line and the janitor's reports; drains whatever else is printed.
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(addr) = line.strip_prefix(server::READY) {
                let _ = tx.send(addr.trim().parse::<SocketAddr>().map_err(|e| e.to_string()));
            } else if let Some(report) = line.strip_prefix(server::JANITOR_DONE) {
                let _ = janitor_tx.send(report.trim().to_owned());
            }
        }
    });
    match rx.recv_timeout(Duration::from_mins(5)) {
        Ok(Ok(addr)) => Ok((child, addr, janitor_rx)),
        Ok(Err(e)) => {
            stop_server(&mut child);
            Err(format!("the server printed a bad address: {e}"))
        }
        Err(_) => {
            stop_server(&mut child);
            Err("the server did not start (see its error above)".to_owned())
        }
    }
}

/// Closes the server's standard input (it exits), waiting at most 10 s before killing it.
fn stop_server(child: &mut Child) {
    drop(child.stdin.take());
    for _ in 0..100 {
        if matches!(child.try_wait(), Ok(Some(_))) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_with_too_much_stolen_is_measured_again_keeping_the_quietest() {
        let row = |scenario: Scenario, steal: f64| Row {
            round: 1,
            adapter: Adapter::Axum,
            db: Db::Sqlite,
            scenario,
            measured: scenario::Measured {
                machine: Some(procfs::MachineShare { idle: 0.5, steal }),
                ..scenario::Measured::default()
            },
            raw: None,
            size: 1000,
            server_peak_rss_kib: None,
            load_before: None,
            janitor: None,
        };
        let args = |list: &[&str]| {
            parse(&list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()).unwrap()
        };
        let planned = |scenario| Planned {
            round: 1,
            adapter: Adapter::Axum,
            scenario,
            size: 0,
        };
        let steal_of = |row: Row| row.measured.machine.unwrap().steal;
        let measure = |args: &Args, scenario, steals: &[f64]| {
            let mut steals = steals.iter();
            let mut attempts = 0;
            let kept = measure_quietly(args, planned(scenario), Db::Sqlite, 1000, |_, s| {
                attempts += 1;
                Ok(row(s, *steals.next().expect("no more attempts planned")))
            })
            .unwrap();
            (attempts, steal_of(kept))
        };
        let strict = args(&["--max-steal", "5"]);
        let bare = Scenario::Bare;
        // Quiet at once: one attempt.
        assert_eq!(measure(&strict, bare, &[0.01]), (1, 0.01));
        // Quiet at the third.
        assert_eq!(measure(&strict, bare, &[0.3, 0.2, 0.04]), (3, 0.04));
        // Never quiet: four attempts, the least stolen kept.
        assert_eq!(measure(&strict, bare, &[0.3, 0.1, 0.2, 0.4]), (4, 0.1));
        // The janitor, and any run without the option, once.
        assert_eq!(measure(&strict, Scenario::Janitor, &[0.3]), (1, 0.3));
        assert_eq!(measure(&args(&[]), bare, &[0.3]), (1, 0.3));
        assert!(parse(&["--max-steal".to_owned(), "101".to_owned()]).is_err());
    }

    #[test]
    fn rate_is_parsed_and_bounded() {
        let args = |list: &[&str]| parse(&list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>());
        let paced = args(&["--rate", "500", "--scenario", "bare"]).unwrap();
        assert_eq!(paced.settings.rate, Some(500.0));
        assert_eq!(args(&[]).unwrap().settings.rate, None);
        assert!(args(&["--rate", "0"]).is_err());
        assert!(args(&["--rate", "fast"]).is_err());
    }

    #[test]
    fn schedule_interleaves_rounds_and_adapters_floor_first() {
        let adapters = [Adapter::Axum, Adapter::Actix, Adapter::Rocket];
        let scenarios = [Scenario::ConfirmStatus, Scenario::Bare];
        let runs = schedule(&adapters, &scenarios, 2, 3);
        assert_eq!(runs.len(), 3 * 2 * 2 * 3);
        // Round after round, never a round's run after the next round's.
        assert!(runs.windows(2).all(|w| w[0].round <= w[1].round));
        for round in 1..=3 {
            let this: Vec<&Planned> = runs.iter().filter(|p| p.round == round).collect();
            assert_eq!(this.len(), 12);
            // The floor first, both sizes, then the scenario.
            let order: Vec<(Scenario, usize)> = this
                .iter()
                .step_by(3)
                .map(|p| (p.scenario, p.size))
                .collect();
            assert_eq!(
                order,
                vec![
                    (Scenario::Bare, 0),
                    (Scenario::Bare, 1),
                    (Scenario::ConfirmStatus, 0),
                    (Scenario::ConfirmStatus, 1),
                ]
            );
            // The adapters back to back, in one order for the whole round, turned by one
            // each round.
            let mut turned = adapters.to_vec();
            turned.rotate_left(round - 1);
            for chunk in this.chunks(3) {
                let who: Vec<Adapter> = chunk.iter().map(|p| p.adapter).collect();
                assert_eq!(who, turned);
                assert!(chunk.iter().all(|p| p.scenario == chunk[0].scenario));
                assert!(chunk.iter().all(|p| p.size == chunk[0].size));
            }
        }
        // Every (adapter, scenario, size) once per round.
        for adapter in adapters {
            for scenario in scenarios {
                for size in 0..2 {
                    let rounds: Vec<usize> = runs
                        .iter()
                        .filter(|p| {
                            p.adapter == adapter && p.scenario == scenario && p.size == size
                        })
                        .map(|p| p.round)
                        .collect();
                    assert_eq!(rounds, vec![1, 2, 3]);
                }
            }
        }
    }

    #[test]
    fn one_round_keeps_the_order_given() {
        let runs = schedule(
            &[Adapter::Rocket],
            &[Scenario::Login, Scenario::Token],
            1,
            1,
        );
        let order: Vec<Scenario> = runs.iter().map(|p| p.scenario).collect();
        assert_eq!(order, vec![Scenario::Login, Scenario::Token]);
        assert!(runs.iter().all(|p| p.round == 1));
    }

    #[test]
    fn rounds_are_validated() {
        let args = |rounds: &str| -> Vec<String> {
            ["--rounds", rounds]
                .iter()
                .map(|s| (*s).to_owned())
                .collect()
        };
        assert_eq!(parse(&args("3")).map(|a| a.rounds), Ok(3));
        assert!(parse(&args("0")).is_err());
        assert!(parse(&args("21")).is_err());
        assert!(parse(&args("x")).is_err());
        assert_eq!(parse(&[]).map(|a| a.rounds), Ok(1));
    }
}
