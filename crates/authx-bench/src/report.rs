//! What is printed: the machine, each run, the markdown table, and the targets of issues 6
//! and 17 (the sizes side by side, the search, the janitor, what authx adds to each framework).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::scenario::{Scenario, Settings};
use crate::{Db, Row, procfs};

fn fmt_opt(value: Option<f64>, digits: usize) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:.digits$}"))
}

/// Cores, CPU model, memory, OS and kernel, as the kernel reports them.
pub(crate) fn machine() {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown", |(_, m)| m.trim());
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or_else(
            || "?".to_owned(),
            |kib| format!("{:.1} GiB", kib / 1024.0 / 1024.0),
        );
    let os = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|r| {
            r.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim_matches('"').to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    println!(
        "machine: {cores} cores ({model}), {memory}, {os}, Linux {}, load average {}",
        kernel.trim(),
        fmt_opt(procfs::load_average(), 2)
    );
}

fn rate(row: &Row, status: u16) -> f64 {
    row.measured.requests.count(status) as f64 / row.measured.window
}

fn expected_status(scenario: Scenario) -> u16 {
    match scenario {
        Scenario::Noop => 404,
        Scenario::LoginWrongPassword => 401,
        _ => 200,
    }
}

/// The raw verify rate: the mean of the measurements before and after the run.
fn raw_rate(row: &Row) -> Option<f64> {
    row.raw
        .map(|(before, after)| f64::midpoint(before.per_second, after.per_second))
}

/// CPU milliseconds per raw verification (mean of before and after).
fn raw_cpu_ms(row: &Row) -> Option<f64> {
    let (before, after) = row.raw?;
    Some(f64::midpoint(
        before.cpu_ms_per_verify?,
        after.cpu_ms_per_verify?,
    ))
}

fn cores(cpu_seconds: Option<f64>, row: &Row) -> Option<f64> {
    cpu_seconds.map(|c| c / row.measured.window)
}

/// Server CPU milliseconds per answered request of the scenario (for the flood, per request
/// of either kind).
fn server_cpu_ms_per_request(row: &Row) -> Option<f64> {
    let mut answered = row.measured.requests.answered();
    if let Some(flood) = &row.measured.flood {
        answered += flood.steady.answered();
    }
    row.measured
        .server_cpu
        .filter(|_| answered > 0)
        .map(|c| 1000.0 * c / answered as f64)
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or_else(|| "-".to_owned(), |k| format!("{:.1}", k as f64 / 1024.0))
}

fn percent(share: Option<f64>) -> String {
    share.map_or_else(|| "-".to_owned(), |s| format!("{:.1}%", 100.0 * s))
}

/// A hypervisor taking this much of the machine's time makes a run suspect.
const STEAL_WORTH_NOTING: f64 = 0.02;

fn note(row: &Row) -> String {
    let mut note = String::new();
    if let Some(machine) = row.measured.machine
        && machine.steal >= STEAL_WORTH_NOTING
    {
        let _ = write!(
            note,
            "{:.1}% of the machine's time stolen; ",
            100.0 * machine.steal
        );
    }
    if let Some(raw) = raw_rate(row) {
        let _ = write!(note, "raw argon2id verify {raw:.1}/s");
        if row.scenario != Scenario::Flood {
            let done = rate(row, expected_status(row.scenario));
            let _ = write!(note, "; {done:.1}/s = {:.1}% of it", 100.0 * done / raw);
            if let (Some(raw_ms), Some(ms)) = (raw_cpu_ms(row), server_cpu_ms_per_request(row)) {
                let _ = write!(
                    note,
                    "; CPU {ms:.1} ms/request vs {raw_ms:.1} ms/verify ({:.1}%)",
                    100.0 * raw_ms / ms
                );
            }
        }
    }
    if let Some(janitor) = janitor_note(row) {
        note.push_str(&janitor);
    }
    if let Some(flood) = &row.measured.flood {
        let mut baseline = flood.baseline.clone();
        let _ = write!(
            note,
            "; before the flood p99 {} ms",
            fmt_opt(baseline.quantile_ms(0.99), 2)
        );
        let accepted = flood.steady.count(200) as f64 / row.measured.window;
        let _ = write!(
            note,
            "; logins offered {:.0}/s, accepted {accepted:.1}/s ({}); burst of {}: {}",
            flood.offered_rate,
            flood.steady.status_summary(),
            flood.burst.answered() + flood.burst.errors,
            flood.burst.status_summary(),
        );
        if flood.not_sent > 0 {
            let _ = write!(
                note,
                "; {} due logins not sent (client saturated)",
                flood.not_sent
            );
        }
    }
    note
}

/// What the janitor did in a janitor run.
fn janitor_note(row: &Row) -> Option<String> {
    if row.scenario != Scenario::Janitor {
        return None;
    }
    Some(match row.janitor {
        Some((sessions, seconds)) => format!(
            "janitor deleted {sessions} sessions in {seconds:.2} s ({}); ",
            if seconds >= row.measured.window {
                "the whole window ran during it".to_owned()
            } else {
                format!(
                    "{:.0}% of the window",
                    100.0 * seconds / row.measured.window
                )
            }
        ),
        None => "janitor did not report (see its error above); ".to_owned(),
    })
}

/// One run, as it finishes.
pub(crate) fn run(row: &Row, settings: &Settings) {
    let mut requests = row.measured.requests.clone();
    let what = if row.scenario == Scenario::Flood {
        "GET /confirm during the flood"
    } else {
        "requests"
    };
    let connections = if row.scenario == Scenario::Flood {
        format!(
            "{} probe connections and {} flood connections",
            settings.probe_connections, settings.flood_connections
        )
    } else if row.scenario.on_probes() {
        format!("{} probe connections", settings.probe_connections)
    } else {
        format!("{} connections", settings.connections)
    };
    println!(
        "\n{} / {} / {}: {connections}, {} s measured after {} s warm-up, {} users and sessions seeded",
        row.adapter.name(),
        row.db.name(),
        row.scenario.name(),
        settings.seconds,
        settings.warmup,
        row.size
    );
    if let Some(janitor) = janitor_note(row) {
        println!("  {}", janitor.trim_end_matches("; "));
    }
    println!(
        "  {what}: {:.1}/s, p50 {} ms, p99 {} ms; statuses {}",
        requests.answered() as f64 / row.measured.window,
        fmt_opt(requests.quantile_ms(0.5), 2),
        fmt_opt(requests.quantile_ms(0.99), 2),
        requests.status_summary()
    );
    if let Some(flood) = &row.measured.flood {
        let mut baseline = flood.baseline.clone();
        println!(
            "  GET /confirm before the flood (second half of the warm-up): p50 {} ms, p99 {} ms",
            fmt_opt(baseline.quantile_ms(0.5), 2),
            fmt_opt(baseline.quantile_ms(0.99), 2),
        );
        let mut steady = flood.steady.clone();
        let mut burst = flood.burst.clone();
        println!(
            "  login flood: offered {:.1}/s; answered {:.1}/s ({}), p50 {} ms, p99 {} ms",
            flood.offered_rate,
            steady.answered() as f64 / row.measured.window,
            steady.status_summary(),
            fmt_opt(steady.quantile_ms(0.5), 1),
            fmt_opt(steady.quantile_ms(0.99), 1),
        );
        println!(
            "  burst of {} concurrent logins: {}; p50 {} ms, max {} ms",
            settings.flood_connections,
            burst.status_summary(),
            fmt_opt(burst.quantile_ms(0.5), 1),
            fmt_opt(burst.quantile_ms(1.0), 1),
        );
        if flood.not_sent > 0 {
            println!(
                "  {} due logins were not sent: every flood connection was busy",
                flood.not_sent
            );
        }
    }
    if let (Some(raw), Some((before, after))) = (raw_rate(row), row.raw) {
        print!(
            "  raw argon2id verify rate (OWASP parameters, all cores): {raw:.1}/s ({:.1} before, {:.1} after; {} CPU ms each)",
            before.per_second,
            after.per_second,
            fmt_opt(raw_cpu_ms(row), 1)
        );
        if row.scenario != Scenario::Flood {
            let done = rate(row, expected_status(row.scenario));
            print!(
                "; {} at {:.1}% of it",
                row.scenario.name(),
                100.0 * done / raw
            );
        }
        println!();
    }
    println!(
        "  server (child process) peak RSS {} MiB (VmHWM); CPU in the window: server {} cores ({} ms/request), client {} cores, machine {} idle, {} stolen; load average before {}",
        mib(row.server_peak_rss_kib),
        fmt_opt(cores(row.measured.server_cpu, row), 2),
        fmt_opt(server_cpu_ms_per_request(row), 3),
        fmt_opt(cores(row.measured.client_cpu, row), 2),
        percent(row.measured.machine.map(|m| m.idle)),
        percent(row.measured.machine.map(|m| m.steal)),
        fmt_opt(row.load_before, 2),
    );
}

/// The markdown table of every run.
pub(crate) fn table(rows: &[Row]) {
    println!(
        "\n| adapter | db | users | scenario | req/s | p50 ms | p99 ms | statuses | server peak RSS MiB | server CPU | client CPU | notes |"
    );
    println!("|---|---|---:|---|---:|---:|---:|---|---:|---:|---:|---|");
    for row in rows {
        let mut requests = row.measured.requests.clone();
        let scenario = if row.scenario == Scenario::Flood {
            "flood (GET /confirm)"
        } else {
            row.scenario.name()
        };
        println!(
            "| {} | {} | {} | {} | {:.1} | {} | {} | {} | {} | {} | {} | {} |",
            row.adapter.name(),
            row.db.name(),
            row.size,
            scenario,
            requests.answered() as f64 / row.measured.window,
            fmt_opt(requests.quantile_ms(0.5), 2),
            fmt_opt(requests.quantile_ms(0.99), 2),
            requests.status_summary(),
            mib(row.server_peak_rss_kib),
            fmt_opt(cores(row.measured.server_cpu, row), 2),
            fmt_opt(cores(row.measured.client_cpu, row), 2),
            note(row),
        );
    }
}

/// Per backend, size and scenario: each adapter's figure.
type ByRun<'a> = BTreeMap<(&'a str, u64, &'a str), Vec<(&'a str, f64)>>;

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "MISSED" }
}

/// Issue 6's targets, for the runs made.
pub(crate) fn targets(rows: &[Row]) {
    println!("\nTargets (issue 6):");
    for row in rows {
        let who = format!("{}/{}/{}", row.adapter.name(), row.db.name(), row.size);
        match row.scenario {
            Scenario::Login => {
                if let Some(raw) = raw_rate(row) {
                    let share = rate(row, 200) / raw;
                    println!(
                        "- {who} login at >= 90% of the raw verify rate: {:.1}% ({:.1}/s of {raw:.1}/s): {}",
                        100.0 * share,
                        rate(row, 200),
                        verdict(share >= 0.9)
                    );
                }
            }
            Scenario::ConfirmStatus if row.db == Db::Sqlite => {
                let r = rate(row, 200);
                println!(
                    "- {who} GET /confirm >= 10,000/s (HS256): {r:.0}/s: {}",
                    verdict(r >= 10_000.0)
                );
            }
            Scenario::Refresh => {
                let want = if row.db == Db::Sqlite { 3000.0 } else { 1500.0 };
                let r = rate(row, 200);
                println!(
                    "- {who} refresh with rotation >= {want:.0}/s: {r:.0}/s: {}",
                    verdict(r >= want)
                );
            }
            Scenario::Flood => {
                let mut confirm = row.measured.requests.clone();
                let p99 = confirm.quantile_ms(0.99).unwrap_or(f64::INFINITY);
                println!(
                    "- {who} GET /confirm p99 under a login flood < 25 ms: {p99:.2} ms: {}",
                    verdict(p99 < 25.0)
                );
                let peak_mib = row
                    .server_peak_rss_kib
                    .map_or(f64::INFINITY, |k| k as f64 / 1024.0);
                let shed_ok = row.measured.flood.as_ref().is_some_and(|f| {
                    f.burst.shed_without_retry_after + f.steady.shed_without_retry_after == 0
                });
                println!(
                    "- {who} peak RSS with 1,000 concurrent logins < 128 MiB (issue 17; 256 in issue 6): {peak_mib:.1} MiB: {}; every 503 with Retry-After: {}",
                    verdict(peak_mib < 128.0),
                    verdict(shed_ok)
                );
            }
            _ => {}
        }
    }
    let mut by_run: ByRun<'_> = BTreeMap::new();
    for row in rows {
        by_run
            .entry((row.db.name(), row.size, row.scenario.name()))
            .or_default()
            .push((row.adapter.name(), rate(row, expected_status(row.scenario))));
    }
    for ((db, size, scenario), rates) in by_run {
        if rates.len() < 2 {
            continue;
        }
        let max = rates.iter().map(|r| r.1).fold(0.0, f64::max);
        let min = rates.iter().map(|r| r.1).fold(f64::INFINITY, f64::min);
        let spread = if max > 0.0 { (max - min) / max } else { 0.0 };
        let listed: Vec<String> = rates.iter().map(|(a, r)| format!("{a} {r:.1}")).collect();
        let floor = scenario == Scenario::Bare.name() || scenario == Scenario::Noop.name();
        println!(
            "- adapters within 15% on {db}/{size}/{scenario}: {} (spread {:.1}%): {}",
            listed.join(", "),
            100.0 * spread,
            if floor {
                "(the frameworks' floor, not a target)"
            } else {
                verdict(spread <= 0.15)
            }
        );
    }
    above_the_floor(rows);
    sizes_side_by_side(rows);
    search_and_janitor(rows);
    added_cpu_spread(rows);
}

/// Issue 17: each scenario at the largest size against the smallest, same adapter and backend.
fn sizes_side_by_side(rows: &[Row]) {
    let Some(small) = rows.iter().map(|r| r.size).min() else {
        return;
    };
    let large = rows.iter().map(|r| r.size).max().unwrap_or(small);
    if large == small {
        return;
    }
    println!(
        "\nEach scenario with {large} users and sessions against {small} (issue 17: within 1.5x):"
    );
    for row in rows.iter().filter(|r| r.size == large) {
        let Some(base) = rows.iter().find(|r| {
            r.size == small
                && r.adapter == row.adapter
                && r.db == row.db
                && r.scenario == row.scenario
        }) else {
            continue;
        };
        let status = expected_status(row.scenario);
        let (slow, fast) = (rate(row, status), rate(base, status));
        let ratio = if slow > 0.0 {
            fast / slow
        } else {
            f64::INFINITY
        };
        let (mut a, mut b) = (
            base.measured.requests.clone(),
            row.measured.requests.clone(),
        );
        let floor = matches!(row.scenario, Scenario::Bare | Scenario::Noop);
        println!(
            "- {}/{}/{}: {fast:.1}/s vs {slow:.1}/s ({ratio:.2}x); p50 {} vs {} ms, p99 {} vs {} ms: {}",
            row.adapter.name(),
            row.db.name(),
            row.scenario.name(),
            fmt_opt(a.quantile_ms(0.5), 2),
            fmt_opt(b.quantile_ms(0.5), 2),
            fmt_opt(a.quantile_ms(0.99), 2),
            fmt_opt(b.quantile_ms(0.99), 2),
            if floor {
                "(no storage, not a target)"
            } else {
                verdict(ratio <= 1.5)
            }
        );
    }
}

/// Issue 17: the admin search's p50 at a million users or more, and request p99 while the
/// janitor runs.
fn search_and_janitor(rows: &[Row]) {
    let mut lines = Vec::new();
    for row in rows {
        let who = format!(
            "{}/{}/{}/{}",
            row.adapter.name(),
            row.db.name(),
            row.size,
            row.scenario.name()
        );
        let mut requests = row.measured.requests.clone();
        if row.scenario.searches() && row.size >= 1_000_000 {
            let p50 = requests.quantile_ms(0.5).unwrap_or(f64::INFINITY);
            lines.push(format!(
                "- {who}: admin search p50 < 50 ms: {p50:.2} ms: {}",
                verdict(p50 < 50.0)
            ));
        }
        if row.scenario == Scenario::Janitor {
            let p99 = requests.quantile_ms(0.99).unwrap_or(f64::INFINITY);
            let during = match row.janitor {
                Some((_, seconds)) if seconds >= row.measured.window => {
                    "the janitor ran throughout"
                }
                Some(_) => "the janitor finished within the window",
                None => "the janitor did not report",
            };
            lines.push(format!(
                "- {who}: request p99 < 25 ms while the janitor runs: {p99:.2} ms ({during}): {}",
                verdict(p99 < 25.0)
            ));
        }
    }
    if !lines.is_empty() {
        println!("\nAdmin search and janitor (issue 17):");
        for line in lines {
            println!("{line}");
        }
    }
}

/// Server CPU per request of the framework's own `bare` route, same adapter, backend and size.
fn floor_ms(rows: &[Row], row: &Row) -> Option<f64> {
    rows.iter()
        .find(|r| {
            r.scenario == Scenario::Bare
                && r.adapter == row.adapter
                && r.db == row.db
                && r.size == row.size
        })
        .and_then(server_cpu_ms_per_request)
}

/// Server CPU per request above [`floor_ms`], or `None` without a `bare` row.
fn added_cpu_ms(rows: &[Row], row: &Row) -> Option<f64> {
    Some(server_cpu_ms_per_request(row)? - floor_ms(rows, row)?)
}

/// Issue 17: what authx adds above each framework's floor, within 15% across the adapters.
fn added_cpu_spread(rows: &[Row]) {
    let mut by_run: ByRun<'_> = BTreeMap::new();
    for row in rows {
        if matches!(row.scenario, Scenario::Bare | Scenario::Flood) {
            continue;
        }
        if let Some(added) = added_cpu_ms(rows, row) {
            by_run
                .entry((row.db.name(), row.size, row.scenario.name()))
                .or_default()
                .push((row.adapter.name(), added));
        }
    }
    let lines: Vec<String> = by_run
        .into_iter()
        .filter(|(_, added)| added.len() >= 2)
        .map(|((db, size, scenario), added)| {
            let max = added.iter().map(|a| a.1).fold(f64::NEG_INFINITY, f64::max);
            let min = added.iter().map(|a| a.1).fold(f64::INFINITY, f64::min);
            let spread = if max > 0.0 { (max - min) / max } else { 0.0 };
            let listed: Vec<String> = added
                .iter()
                .map(|(a, ms)| format!("{a} {:.1} µs", 1000.0 * ms))
                .collect();
            format!(
                "- {db}/{size}/{scenario}: {} (spread {:.1}%): {}",
                listed.join(", "),
                100.0 * spread,
                verdict(spread <= 0.15)
            )
        })
        .collect();
    if !lines.is_empty() {
        println!(
            "\nWhat authx adds above each framework's floor, per request (issue 17: within 15%):"
        );
        for line in lines {
            println!("{line}");
        }
    }
}

/// Server CPU per request above the framework's own `bare` route, for every adapter and
/// database with a `bare` row in this invocation: what authx adds in each framework.
fn above_the_floor(rows: &[Row]) {
    let floor = |row: &Row| floor_ms(rows, row);
    let mut lines = Vec::new();
    for row in rows {
        if matches!(row.scenario, Scenario::Bare | Scenario::Flood) {
            continue;
        }
        if let (Some(cpu), Some(bare)) = (server_cpu_ms_per_request(row), floor(row)) {
            lines.push(format!(
                "- {}/{}/{}/{}: {:.1} µs per request = {:.1} µs of the framework's bare route + {:.1} µs",
                row.adapter.name(),
                row.db.name(),
                row.size,
                row.scenario.name(),
                1000.0 * cpu,
                1000.0 * bare,
                1000.0 * (cpu - bare)
            ));
        }
    }
    if !lines.is_empty() {
        println!("\nServer CPU per request above each framework's own bare route:");
        for line in lines {
            println!("{line}");
        }
    }
}
