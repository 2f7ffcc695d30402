//! What is printed: the machine, each run, the markdown table, and the targets of issues 6
//! and 17 (the sizes side by side, the search, the janitor, what authx adds to each framework).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::scenario::{Scenario, Settings};
use crate::{Adapter, Db, Row, procfs};

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

/// `total` (a count or a time over the window) per answered request of the scenario (for the
/// flood, per request of either kind); `None` without a total or with nothing answered.
fn per_answered_request(row: &Row, total: Option<f64>) -> Option<f64> {
    let mut answered = row.measured.requests.answered();
    if let Some(flood) = &row.measured.flood {
        answered += flood.steady.answered();
    }
    total.filter(|_| answered > 0).map(|t| t / answered as f64)
}

/// Server CPU milliseconds per answered request of the scenario.
fn server_cpu_ms_per_request(row: &Row) -> Option<f64> {
    per_answered_request(row, row.measured.server_cpu.map(|c| 1000.0 * c))
}

/// How many times the server's threads were scheduled to run per answered request (counted
/// as [`server_cpu_ms_per_request`] counts requests): on these machines each wake-up of a
/// sleeping thread costs more CPU than most of a small route's own work, so this is where
/// frameworks that hop between threads differently part.
fn server_runs_per_request(row: &Row) -> Option<f64> {
    per_answered_request(row, row.measured.server_runs.map(|runs| runs as f64))
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
pub(crate) fn run(row: &Row, settings: &Settings, rounds: usize) {
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
    let connections = match row.measured.paced {
        Some(rate) => format!(
            "{connections} paced at {rate:.1}/s in all ({} of the window's requests left over an interval late)",
            row.measured.late
        ),
        None => connections,
    };
    let round = if rounds > 1 {
        format!(" (round {} of {rounds})", row.round)
    } else {
        String::new()
    };
    println!(
        "\n{} / {} / {}{round}: {connections}, {} s measured after {} s warm-up, {} users and sessions seeded",
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
        "  server (child process) peak RSS {} MiB (VmHWM); CPU in the window: server {} cores ({} ms/request, its threads run {} times/request), client {} cores, machine {} idle, {} stolen; load average before {}",
        mib(row.server_peak_rss_kib),
        fmt_opt(cores(row.measured.server_cpu, row), 2),
        fmt_opt(server_cpu_ms_per_request(row), 3),
        fmt_opt(server_runs_per_request(row), 2),
        fmt_opt(cores(row.measured.client_cpu, row), 2),
        percent(row.measured.machine.map(|m| m.idle)),
        percent(row.measured.machine.map(|m| m.steal)),
        fmt_opt(row.load_before, 2),
    );
}

/// The markdown table of every run (with a `round` column when there was more than one).
pub(crate) fn table(rows: &[Row], rounds: usize) {
    let (round_head, round_rule) = if rounds > 1 {
        (" round |", "---:|")
    } else {
        ("", "")
    };
    println!(
        "\n| adapter | db | users | scenario |{round_head} req/s | p50 ms | p99 ms | statuses | server peak RSS MiB | server CPU | client CPU | notes |"
    );
    println!("|---|---|---:|---|{round_rule}---:|---:|---:|---|---:|---:|---:|---|");
    for row in rows {
        let mut requests = row.measured.requests.clone();
        let scenario = if row.scenario == Scenario::Flood {
            "flood (GET /confirm)"
        } else {
            row.scenario.name()
        };
        let round = if rounds > 1 {
            format!(" {} |", row.round)
        } else {
            String::new()
        };
        println!(
            "| {} | {} | {} | {} |{round} {:.1} | {} | {} | {} | {} | {} | {} | {} |",
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

/// The runs of one (adapter, backend, size, scenario): one per round, in round order.
struct Group<'a> {
    adapter: Adapter,
    db: Db,
    size: u64,
    scenario: Scenario,
    rounds: Vec<&'a Row>,
}

impl Group<'_> {
    /// `adapter/db/size/scenario`.
    fn who(&self) -> String {
        format!(
            "{}/{}/{}/{}",
            self.adapter.name(),
            self.db.name(),
            self.size,
            self.scenario.name()
        )
    }

    /// A figure of each round (the rounds without one left out), over the rounds.
    fn over_rounds(&self, figure: impl Fn(&Row) -> Option<f64>) -> Option<OverRounds> {
        let values: Vec<f64> = self.rounds.iter().filter_map(|row| figure(row)).collect();
        OverRounds::of(&values)
    }

    /// The rate of the scenario's expected status, over the rounds.
    fn rate(&self) -> Option<OverRounds> {
        self.over_rounds(|row| Some(rate(row, expected_status(row.scenario))))
    }

    /// Whether its requests were paced (`--rate`): their throughput is the offered rate.
    fn paced(&self) -> bool {
        self.rounds.iter().any(|row| row.measured.paced.is_some())
    }

    /// The `q` quantile of the latencies in milliseconds, over the rounds.
    fn quantile_ms(&self, q: f64) -> Option<OverRounds> {
        self.over_rounds(|row| row.measured.requests.clone().quantile_ms(q))
    }
}

/// The rows grouped by (adapter, backend, size, scenario), in the order of each group's first
/// run; each group's rows in round order.
fn groups(rows: &[Row]) -> Vec<Group<'_>> {
    let mut groups: Vec<Group<'_>> = Vec::new();
    for row in rows {
        let same = |g: &&mut Group<'_>| {
            g.adapter == row.adapter
                && g.db == row.db
                && g.size == row.size
                && g.scenario == row.scenario
        };
        if let Some(group) = groups.iter_mut().find(same) {
            group.rounds.push(row);
        } else {
            groups.push(Group {
                adapter: row.adapter,
                db: row.db,
                size: row.size,
                scenario: row.scenario,
                rounds: vec![row],
            });
        }
    }
    for group in &mut groups {
        group.rounds.sort_by_key(|row| row.round);
    }
    groups
}

/// The median of `values` (the mean of the middle two for an even count); `None` if empty.
fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some(f64::midpoint(sorted[n / 2 - 1], sorted[n / 2])),
    }
}

/// A figure over the rounds: its median and its range.
#[derive(Debug, Clone, Copy, PartialEq)]
struct OverRounds {
    median: f64,
    min: f64,
    max: f64,
    rounds: usize,
}

/// Beyond this share of its median, an adapter's own rounds disagree as much as the target
/// allows the adapters to: the line says so.
const ROUNDS_DISAGREE: f64 = 0.15;

impl OverRounds {
    fn of(values: &[f64]) -> Option<Self> {
        Some(Self {
            median: median(values)?,
            min: values.iter().copied().fold(f64::INFINITY, f64::min),
            max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            rounds: values.len(),
        })
    }

    /// The range over the rounds as a share of the median (0 for a single round).
    fn disagreement(&self) -> f64 {
        let range = self.max - self.min;
        if self.rounds < 2 || range <= 0.0 {
            0.0
        } else if self.median == 0.0 {
            f64::INFINITY
        } else {
            range / self.median.abs()
        }
    }

    /// The median as `show` writes it, then, over several rounds, the range, and whether the
    /// rounds disagree by more than [`ROUNDS_DISAGREE`].
    fn describe(&self, show: impl Fn(f64) -> String) -> String {
        let mut out = show(self.median);
        if self.rounds > 1 {
            let _ = write!(out, " (rounds {} to {}", show(self.min), show(self.max));
            let disagreement = self.disagreement();
            if disagreement > ROUNDS_DISAGREE {
                let _ = write!(out, "; rounds disagree by {:.1}%", 100.0 * disagreement);
            }
            out.push(')');
        }
        out
    }
}

/// `(max - min) / max` of the figures (0 when the largest is not positive).
fn spread(figures: &[f64]) -> f64 {
    let max = figures.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let min = figures.iter().copied().fold(f64::INFINITY, f64::min);
    if max > 0.0 { (max - min) / max } else { 0.0 }
}

/// Per backend, size and scenario: each adapter's figure over the rounds.
type ByRun<'a> = BTreeMap<(&'a str, u64, &'a str), Vec<(&'a str, OverRounds)>>;

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "MISSED" }
}

/// The most rounds of any run.
fn rounds_of(rows: &[Row]) -> usize {
    rows.iter().map(|row| row.round).max().unwrap_or(1)
}

/// Issue 6's targets, for the runs made (over several rounds, the medians of the rounds).
pub(crate) fn targets(rows: &[Row]) {
    let rounds = rounds_of(rows);
    if rounds > 1 {
        println!(
            "\nTargets (issue 6; each figure the median of its {rounds} rounds, peak RSS the highest):"
        );
    } else {
        println!("\nTargets (issue 6):");
    }
    let groups = groups(rows);
    if groups.iter().any(Group::paced) {
        println!(
            "(paced runs, --rate: their throughput is the rate offered, so the throughput targets are left to closed-loop runs, and the sizes are compared by p50)"
        );
    }
    for group in &groups {
        let who = format!(
            "{}/{}/{}",
            group.adapter.name(),
            group.db.name(),
            group.size
        );
        let median_of =
            |figure: &dyn Fn(&Row) -> Option<f64>| group.over_rounds(figure).map(|o| o.median);
        if group.paced() {
            // A throughput target means nothing at an offered rate.
            continue;
        }
        match group.scenario {
            Scenario::Login => {
                let share = median_of(&|row| Some(rate(row, 200) / raw_rate(row)?));
                let raw = median_of(&raw_rate);
                let done = median_of(&|row| Some(rate(row, 200)));
                if let (Some(share), Some(raw), Some(done)) = (share, raw, done) {
                    println!(
                        "- {who} login at >= 90% of the raw verify rate: {:.1}% ({done:.1}/s of {raw:.1}/s): {}",
                        100.0 * share,
                        verdict(share >= 0.9)
                    );
                }
            }
            Scenario::ConfirmStatus if group.db == Db::Sqlite => {
                let r = median_of(&|row| Some(rate(row, 200))).unwrap_or(0.0);
                println!(
                    "- {who} GET /confirm >= 10,000/s (HS256): {r:.0}/s: {}",
                    verdict(r >= 10_000.0)
                );
            }
            Scenario::Refresh => {
                let want = if group.db == Db::Sqlite {
                    3000.0
                } else {
                    1500.0
                };
                let r = median_of(&|row| Some(rate(row, 200))).unwrap_or(0.0);
                println!(
                    "- {who} refresh with rotation >= {want:.0}/s: {r:.0}/s: {}",
                    verdict(r >= want)
                );
            }
            Scenario::Flood => {
                let p99 = group.quantile_ms(0.99).map_or(f64::INFINITY, |o| o.median);
                println!(
                    "- {who} GET /confirm p99 under a login flood < 25 ms: {p99:.2} ms: {}",
                    verdict(p99 < 25.0)
                );
                let peak_mib = group
                    .rounds
                    .iter()
                    .map(|row| {
                        row.server_peak_rss_kib
                            .map_or(f64::INFINITY, |k| k as f64 / 1024.0)
                    })
                    .fold(f64::NEG_INFINITY, f64::max);
                let shed_ok = group.rounds.iter().all(|row| {
                    row.measured.flood.as_ref().is_some_and(|f| {
                        f.burst.shed_without_retry_after + f.steady.shed_without_retry_after == 0
                    })
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
    for group in groups.iter().filter(|g| !g.paced()) {
        if let Some(rate) = group.rate() {
            by_run
                .entry((group.db.name(), group.size, group.scenario.name()))
                .or_default()
                .push((group.adapter.name(), rate));
        }
    }
    for ((db, size, scenario), rates) in by_run {
        if rates.len() < 2 {
            continue;
        }
        let medians: Vec<f64> = rates.iter().map(|r| r.1.median).collect();
        let spread = spread(&medians);
        let listed: Vec<String> = rates
            .iter()
            .map(|(a, r)| format!("{a} {}", r.describe(|v| format!("{v:.1}"))))
            .collect();
        let floor = Scenario::parse(scenario).is_ok_and(|s| s.is_floor() || s == Scenario::Noop);
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
    above_the_floor(rows, &groups);
    sizes_side_by_side(&groups);
    search_and_janitor(&groups);
    added_cpu_spread(rows, &groups);
}

/// Issue 17: each scenario at the largest size against the smallest, same adapter and backend
/// (over several rounds, the medians of the rounds).
fn sizes_side_by_side(groups: &[Group<'_>]) {
    let Some(small) = groups.iter().map(|g| g.size).min() else {
        return;
    };
    let large = groups.iter().map(|g| g.size).max().unwrap_or(small);
    if large == small {
        return;
    }
    println!(
        "\nEach scenario with {large} users and sessions against {small} (issue 17: within 1.5x):"
    );
    let median = |figure: Option<OverRounds>| figure.map(|o| o.median);
    for group in groups.iter().filter(|g| g.size == large) {
        let Some(base) = groups.iter().find(|g| {
            g.size == small
                && g.adapter == group.adapter
                && g.db == group.db
                && g.scenario == group.scenario
        }) else {
            continue;
        };
        let (slow, fast) = (
            median(group.rate()).unwrap_or(0.0),
            median(base.rate()).unwrap_or(0.0),
        );
        // Paced, both sizes answer at the rate offered: what grows is the time per request.
        let ratio = if group.paced() {
            let p50 = |g: &Group<'_>| median(g.quantile_ms(0.5)).unwrap_or(f64::INFINITY);
            p50(group) / p50(base)
        } else if slow > 0.0 {
            fast / slow
        } else {
            f64::INFINITY
        };
        let floor = group.scenario.is_floor() || group.scenario == Scenario::Noop;
        println!(
            "- {}/{}/{}: {fast:.1}/s vs {slow:.1}/s ({ratio:.2}x); p50 {} vs {} ms, p99 {} vs {} ms: {}",
            group.adapter.name(),
            group.db.name(),
            group.scenario.name(),
            fmt_opt(median(base.quantile_ms(0.5)), 2),
            fmt_opt(median(group.quantile_ms(0.5)), 2),
            fmt_opt(median(base.quantile_ms(0.99)), 2),
            fmt_opt(median(group.quantile_ms(0.99)), 2),
            if floor {
                "(a framework's floor, not a target)"
            } else {
                verdict(ratio <= 1.5)
            }
        );
    }
}

/// Issue 17: the admin search's p50 at a million users or more, and request p99 while the
/// janitor runs (over several rounds, the medians of the rounds).
fn search_and_janitor(groups: &[Group<'_>]) {
    let mut lines = Vec::new();
    for group in groups {
        let who = group.who();
        if group.scenario.searches() && group.size >= 1_000_000 {
            let p50 = group.quantile_ms(0.5).map_or(f64::INFINITY, |o| o.median);
            lines.push(format!(
                "- {who}: admin search p50 < 50 ms: {p50:.2} ms: {}",
                verdict(p50 < 50.0)
            ));
        }
        if group.scenario == Scenario::Janitor {
            let p99 = group.quantile_ms(0.99).map_or(f64::INFINITY, |o| o.median);
            // What the janitor did in each round, with how many rounds did each.
            let mut during: Vec<(&str, usize)> = Vec::new();
            for row in &group.rounds {
                let what = match row.janitor {
                    Some((_, seconds)) if seconds >= row.measured.window => {
                        "the janitor ran throughout"
                    }
                    Some(_) => "the janitor finished within the window",
                    None => "the janitor did not report",
                };
                match during.iter_mut().find(|(w, _)| *w == what) {
                    Some((_, n)) => *n += 1,
                    None => during.push((what, 1)),
                }
            }
            let during = if during.len() == 1 {
                during[0].0.to_owned()
            } else {
                let kinds: Vec<String> = during
                    .iter()
                    .map(|(what, n)| format!("{what} in {n} rounds"))
                    .collect();
                kinds.join(", ")
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

/// Server CPU per request of the framework's own floor route: same adapter, backend, size
/// and round; `bare-post` for a scenario that sends a body when it was run, else `bare`.
fn floor_ms(rows: &[Row], row: &Row) -> Option<f64> {
    floor_of(rows, row).and_then(server_cpu_ms_per_request)
}

/// The floor run `row` is measured above, of the same adapter, backend, size and round: its
/// own floor ([`Scenario::floor`]) if that was run, else `bare`.
fn floor_of<'r>(rows: &'r [Row], row: &Row) -> Option<&'r Row> {
    run_of(rows, row, row.scenario.floor()).or_else(|| run_of(rows, row, Scenario::Bare))
}

/// The run of `scenario` of the same adapter, backend, size and round as `row`.
fn run_of<'r>(rows: &'r [Row], row: &Row, scenario: Scenario) -> Option<&'r Row> {
    rows.iter().find(|r| {
        r.scenario == scenario
            && r.adapter == row.adapter
            && r.db == row.db
            && r.size == row.size
            && r.round == row.round
    })
}

/// The `bare-db` run of the same adapter, backend, size and round as `row`, for a scenario
/// that waits on the database ([`Scenario::db_floor`]), when that floor was run.
fn db_floor_of<'r>(rows: &'r [Row], row: &Row) -> Option<&'r Row> {
    run_of(rows, row, row.scenario.db_floor()?)
}

/// Server CPU per request above [`db_floor_of`].
fn added_above_db_ms(rows: &[Row], row: &Row) -> Option<f64> {
    Some(server_cpu_ms_per_request(row)? - server_cpu_ms_per_request(db_floor_of(rows, row)?)?)
}

/// Server CPU per request above [`floor_ms`] (the same round's floor), or `None` without a
/// `bare` row in that round.
fn added_cpu_ms(rows: &[Row], row: &Row) -> Option<f64> {
    Some(server_cpu_ms_per_request(row)? - floor_ms(rows, row)?)
}

/// What authx adds to a group, over its rounds: each round's scenario minus that round's floor.
fn added_over_rounds(rows: &[Row], group: &Group<'_>) -> Option<OverRounds> {
    group.over_rounds(|row| added_cpu_ms(rows, row))
}

fn micros(ms: f64) -> String {
    format!("{:.1} µs", 1000.0 * ms)
}

/// Issue 17: what authx adds above each framework's floor, within 15% across the adapters;
/// over several rounds, the medians' spread, each median with its range over the rounds.
/// Then the same above `bare-db` where it was run: what authx adds beyond one wait on the
/// database, the frameworks' own cost of waiting (a hop between threads or runtimes) taken
/// out.
fn added_cpu_spread(rows: &[Row], groups: &[Group<'_>]) {
    let rounds = rounds_of(rows);
    let medians = if rounds > 1 {
        format!(
            ", median of {rounds} rounds (each round's scenario minus that round's floor), its range over the rounds, the spread of the medians"
        )
    } else {
        String::new()
    };
    spread_of_added(
        rows,
        groups,
        |row| added_cpu_ms(rows, row),
        &format!(
            "What authx adds above each framework's floor, per request (issue 17: within 15%){medians}:"
        ),
    );
    spread_of_added(
        rows,
        groups,
        |row| added_above_db_ms(rows, row),
        &format!(
            "What authx adds above a route of each framework's own that waits on the database once (bare-db), per request{medians}:"
        ),
    );
}

/// One block of [`added_cpu_spread`]: each scenario's added CPU per adapter (`added`, per
/// run) and their spread, under `heading`.
fn spread_of_added(
    rows: &[Row],
    groups: &[Group<'_>],
    added: impl Fn(&Row) -> Option<f64>,
    heading: &str,
) {
    let mut by_run: ByRun<'_> = BTreeMap::new();
    for group in groups {
        if group.scenario.is_floor() || group.scenario == Scenario::Flood {
            continue;
        }
        if let Some(added) = group.over_rounds(&added) {
            by_run
                .entry((group.db.name(), group.size, group.scenario.name()))
                .or_default()
                .push((group.adapter.name(), added));
        }
    }
    let lines: Vec<String> = by_run
        .into_iter()
        .filter(|(_, added)| added.len() >= 2)
        .flat_map(|((db, size, scenario), added)| {
            let medians: Vec<f64> = added.iter().map(|a| a.1.median).collect();
            let spread = spread(&medians);
            let listed: Vec<String> = added
                .iter()
                .map(|(a, over)| format!("{a} {}", over.describe(micros)))
                .collect();
            let background = if scenario == Scenario::ForgotPassword.name() {
                background_share(groups, db, size)
            } else {
                String::new()
            };
            let line = format!(
                "- {db}/{size}/{scenario}: {} (spread {:.1}%): {}{background}",
                listed.join(", "),
                100.0 * spread,
                verdict(spread <= 0.15)
            );
            let per_reset = (scenario == Scenario::ForgotPassword.name())
                .then(|| per_reset(rows, groups, db, size))
                .flatten();
            std::iter::once(line).chain(per_reset)
        })
        .collect();
    if !lines.is_empty() {
        println!("\n{heading}");
        for line in lines {
            println!("{line}");
        }
    }
}

/// For `forgot-password`: what authx adds per reset done, the added CPU of all its requests
/// over its `200`s (median of the rounds). Past the queue's bound the requests turned away
/// cost next to nothing and the resets carry nearly all of the work, so an adapter whose
/// background got more of the cores looks dearer per request for doing more; per reset, the
/// adapters do the same work. Only where the store runs in the server's process (SQLite):
/// on PostgreSQL and MariaDB a reset's queries cost the database's processes, not the
/// server's, and the server's CPU per reset is no common figure.
fn per_reset(rows: &[Row], groups: &[Group<'_>], db: &str, size: u64) -> Option<String> {
    if db != Db::Sqlite.name() {
        return None;
    }
    let per: Vec<(&str, OverRounds)> = groups
        .iter()
        .filter(|g| g.scenario == Scenario::ForgotPassword && g.db.name() == db && g.size == size)
        .filter_map(|g| {
            let over = g.over_rounds(|row| {
                let resets = row.measured.requests.count(200);
                let answered = row.measured.requests.answered();
                let added = added_cpu_ms(rows, row)?;
                (resets > 0).then(|| added * answered as f64 / resets as f64)
            })?;
            Some((g.adapter.name(), over))
        })
        .collect();
    if per.len() < 2 {
        return None;
    }
    let medians: Vec<f64> = per.iter().map(|(_, over)| over.median).collect();
    let spread = spread(&medians);
    let listed: Vec<String> = per
        .iter()
        .map(|(a, over)| format!("{a} {}", over.describe(micros)))
        .collect();
    Some(format!(
        "- {db}/{size}/forgot-password per reset done: {} (spread {:.1}%): {}",
        listed.join(", "),
        100.0 * spread,
        verdict(spread <= 0.15)
    ))
}

/// For `forgot-password`: its `200`s per 1,000 answered requests, per adapter (median of the
/// rounds). Each `200` is a reset the background task did (a lookup, a token and a mail
/// written), whose CPU is in the server's and so in the CPU per request: an adapter whose
/// background got more of the cores did more of that work per request, not a dearer request.
fn background_share(groups: &[Group<'_>], db: &str, size: u64) -> String {
    let shares: Vec<String> = groups
        .iter()
        .filter(|g| g.scenario == Scenario::ForgotPassword && g.db.name() == db && g.size == size)
        .filter_map(|g| {
            let share = g.over_rounds(|row| {
                let answered = row.measured.requests.answered();
                (answered > 0)
                    .then(|| 1000.0 * row.measured.requests.count(200) as f64 / answered as f64)
            })?;
            Some(format!("{} {:.1}", g.adapter.name(), share.median))
        })
        .collect();
    format!(
        "; background resets per 1,000 requests (their CPU is in the figure): {}",
        shares.join(", ")
    )
}

/// Server CPU per request above the framework's own `bare` route, for every adapter and
/// database with a `bare` row in this invocation: what authx adds in each framework (over
/// several rounds, the medians).
fn above_the_floor(rows: &[Row], groups: &[Group<'_>]) {
    let mut lines = Vec::new();
    for group in groups {
        if group.scenario.is_floor() || group.scenario == Scenario::Flood {
            continue;
        }
        let cpu = group.over_rounds(server_cpu_ms_per_request);
        let floor = group.over_rounds(|row| floor_ms(rows, row));
        let added = added_over_rounds(rows, group);
        let (Some(cpu), Some(floor), Some(added)) = (cpu, floor, added) else {
            continue;
        };
        let route = floor_of(rows, group.rounds[0]).map_or("bare", |r| r.scenario.name());
        // Thread runs per request, the scenario's and its floor's (medians of the rounds).
        let runs = group.over_rounds(server_runs_per_request);
        let floor_runs =
            group.over_rounds(|row| floor_of(rows, row).and_then(server_runs_per_request));
        let runs = match (runs, floor_runs) {
            (Some(runs), Some(floor)) => format!(
                "; its threads run {:.2} times per request, the floor {:.2}",
                runs.median, floor.median
            ),
            _ => String::new(),
        };
        // The second floor, for a scenario that waits on the database.
        let db =
            group.over_rounds(|row| db_floor_of(rows, row).and_then(server_cpu_ms_per_request));
        let db_runs =
            group.over_rounds(|row| db_floor_of(rows, row).and_then(server_runs_per_request));
        let above_db = group.over_rounds(|row| added_above_db_ms(rows, row));
        let runs = match (db, above_db) {
            (Some(db), Some(above)) => format!(
                "{runs}; the bare-db route {}{}, authx adds {} above it",
                micros(db.median),
                db_runs.map_or(String::new(), |r| format!(
                    " (its threads run {:.2} times)",
                    r.median
                )),
                micros(above.median)
            ),
            _ => runs,
        };
        if added.rounds > 1 {
            lines.push(format!(
                "- {}: {} per request, the framework's {route} route {}, authx adds {} (medians of {} rounds){runs}",
                group.who(),
                micros(cpu.median),
                micros(floor.median),
                added.describe(micros),
                added.rounds
            ));
        } else {
            lines.push(format!(
                "- {}: {} per request = {} of the framework's {route} route + {}{runs}",
                group.who(),
                micros(cpu.median),
                micros(floor.median),
                micros(added.median)
            ));
        }
    }
    if !lines.is_empty() {
        println!("\nServer CPU per request above each framework's own floor route:");
        for line in lines {
            println!("{line}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Measured;
    use crate::stats::Recorder;

    /// A run of `round` that answered 1,000 requests with `server_cpu_us` µs of server CPU each.
    fn row(adapter: Adapter, scenario: Scenario, round: usize, server_cpu_us: f64) -> Row {
        let mut requests = Recorder::default();
        requests.statuses.insert(expected_status(scenario), 1000);
        Row {
            round,
            adapter,
            db: Db::Sqlite,
            scenario,
            measured: Measured {
                requests,
                window: 1.0,
                server_cpu: Some(server_cpu_us * 1000.0 / 1e6),
                ..Measured::default()
            },
            raw: None,
            size: 1000,
            server_peak_rss_kib: None,
            load_before: None,
            janitor: None,
        }
    }

    #[test]
    fn thread_runs_are_counted_per_answered_request() {
        let mut r = row(Adapter::Rocket, Scenario::Sessions, 1, 150.0);
        assert_eq!(server_runs_per_request(&r), None);
        r.measured.server_runs = Some(4100);
        assert_eq!(server_runs_per_request(&r), Some(4.1));
        // Nothing answered: no figure rather than a division by zero.
        r.measured.requests = Recorder::default();
        assert_eq!(server_runs_per_request(&r), None);
    }

    /// A forgot-password run of `round` whose 1,000 answers are `ok` `200`s and `503`s.
    fn forgot(adapter: Adapter, round: usize, server_cpu_us: f64, ok: u64) -> Row {
        let mut r = row(adapter, Scenario::ForgotPassword, round, server_cpu_us);
        r.measured.requests.statuses.insert(503, 1000 - ok);
        r.measured.requests.statuses.insert(200, ok);
        r
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn median_of_odd_even_and_no_values() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[7.0]), Some(7.0));
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[10.0, 1.0, 2.0, 30.0, 3.0]), Some(3.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[-1.0, 5.0]), Some(2.0));
    }

    #[test]
    fn over_rounds_range_and_disagreement() {
        let over = OverRounds::of(&[10.0, 12.0, 11.0]).unwrap();
        assert_eq!(
            over,
            OverRounds {
                median: 11.0,
                min: 10.0,
                max: 12.0,
                rounds: 3
            }
        );
        assert!(close(over.disagreement(), 2.0 / 11.0));
        let shown = over.describe(|v| format!("{v:.0}"));
        assert_eq!(shown, "11 (rounds 10 to 12; rounds disagree by 18.2%)");
        let steady = OverRounds::of(&[100.0, 101.0, 99.0]).unwrap();
        assert_eq!(
            steady.describe(|v| format!("{v:.0}")),
            "100 (rounds 99 to 101)"
        );
        let one = OverRounds::of(&[5.0]).unwrap();
        assert!(close(one.disagreement(), 0.0));
        assert_eq!(one.describe(|v| format!("{v:.0}")), "5");
        assert!(OverRounds::of(&[]).is_none());
    }

    #[test]
    fn spread_of_the_figures() {
        assert!(close(spread(&[10.0, 8.0, 9.0]), 0.2));
        assert!(close(spread(&[5.0, 5.0]), 0.0));
        assert!(close(spread(&[-1.0, -2.0]), 0.0));
    }

    #[test]
    fn rounds_group_by_adapter_backend_size_and_scenario() {
        let rows = vec![
            row(Adapter::Axum, Scenario::Bare, 1, 10.0),
            row(Adapter::Actix, Scenario::Bare, 1, 12.0),
            row(Adapter::Axum, Scenario::ConfirmStatus, 1, 60.0),
            row(Adapter::Actix, Scenario::Bare, 2, 13.0),
            row(Adapter::Axum, Scenario::Bare, 2, 11.0),
            row(Adapter::Axum, Scenario::ConfirmStatus, 2, 70.0),
        ];
        let groups = groups(&rows);
        let keys: Vec<(Adapter, Scenario, Vec<usize>)> = groups
            .iter()
            .map(|g| {
                (
                    g.adapter,
                    g.scenario,
                    g.rounds.iter().map(|r| r.round).collect(),
                )
            })
            .collect();
        assert_eq!(
            keys,
            vec![
                (Adapter::Axum, Scenario::Bare, vec![1, 2]),
                (Adapter::Actix, Scenario::Bare, vec![1, 2]),
                (Adapter::Axum, Scenario::ConfirmStatus, vec![1, 2]),
            ]
        );
        // The actix floor's rounds, in round order: 12 then 13 µs.
        let cpu: Vec<f64> = groups[1]
            .rounds
            .iter()
            .filter_map(|r| server_cpu_ms_per_request(r))
            .collect();
        assert!(close(cpu[0], 0.012) && close(cpu[1], 0.013));
    }

    #[test]
    fn added_cpu_subtracts_the_same_rounds_floor() {
        // The floor moves between rounds (10, then 20, then 12 µs), and so does the scenario
        // (30, 45, 40): per round it adds 20, 25 and 28 µs, median 25. The floor of another
        // round, or the medians' difference (40 - 12 = 28), would give another figure.
        let rows = vec![
            row(Adapter::Axum, Scenario::Bare, 1, 10.0),
            row(Adapter::Axum, Scenario::ForgotPassword, 1, 30.0),
            row(Adapter::Axum, Scenario::Bare, 2, 20.0),
            row(Adapter::Axum, Scenario::ForgotPassword, 2, 45.0),
            row(Adapter::Axum, Scenario::Bare, 3, 12.0),
            row(Adapter::Axum, Scenario::ForgotPassword, 3, 40.0),
            // Another adapter's floor must not be taken.
            row(Adapter::Rocket, Scenario::Bare, 1, 1.0),
        ];
        let per_round: Vec<f64> = rows
            .iter()
            .filter(|r| r.scenario == Scenario::ForgotPassword)
            .map(|r| 1000.0 * added_cpu_ms(&rows, r).unwrap())
            .collect();
        assert!(close(per_round[0], 20.0) && close(per_round[1], 25.0));
        assert!(close(per_round[2], 28.0));
        let groups = groups(&rows);
        let scenario = groups
            .iter()
            .find(|g| g.scenario == Scenario::ForgotPassword)
            .unwrap();
        let added = added_over_rounds(&rows, scenario).unwrap();
        assert!(close(1000.0 * added.median, 25.0));
        assert!(close(1000.0 * added.min, 20.0) && close(1000.0 * added.max, 28.0));
        assert_eq!(added.rounds, 3);
        // A round without its floor adds nothing.
        let rocket_only = vec![
            row(Adapter::Rocket, Scenario::Bare, 1, 1.0),
            row(Adapter::Rocket, Scenario::ForgotPassword, 2, 9.0),
        ];
        assert_eq!(added_cpu_ms(&rocket_only, &rocket_only[1]), None);
    }

    #[test]
    fn added_above_the_db_floor_takes_that_rounds_bare_db() {
        // GET /confirm 130 µs, bare 20 µs, bare-db 70 µs: 110 above bare, 60 above bare-db.
        let rows = vec![
            row(Adapter::Rocket, Scenario::Bare, 1, 20.0),
            row(Adapter::Rocket, Scenario::BareDb, 1, 70.0),
            row(Adapter::Rocket, Scenario::ConfirmStatus, 1, 130.0),
            // Another round's bare-db must not be taken.
            row(Adapter::Rocket, Scenario::BareDb, 2, 10.0),
            row(Adapter::Rocket, Scenario::ForgotPassword, 1, 90.0),
        ];
        assert!(close(
            1000.0 * added_cpu_ms(&rows, &rows[2]).unwrap(),
            110.0
        ));
        assert!(close(
            1000.0 * added_above_db_ms(&rows, &rows[2]).unwrap(),
            60.0
        ));
        // A scenario with a body has no second floor; bare-db is measured above bare.
        assert_eq!(added_above_db_ms(&rows, &rows[4]), None);
        assert_eq!(added_above_db_ms(&rows, &rows[1]), None);
        assert!(close(1000.0 * added_cpu_ms(&rows, &rows[1]).unwrap(), 50.0));
        // Without a bare-db in that round, no figure.
        let other_round = row(Adapter::Rocket, Scenario::ConfirmStatus, 3, 130.0);
        assert_eq!(added_above_db_ms(&rows, &other_round), None);
    }

    #[test]
    fn forgot_password_background_share_is_the_rounds_median() {
        let rows = vec![
            forgot(Adapter::Actix, 1, 20.0, 10),
            forgot(Adapter::Actix, 2, 20.0, 30),
            forgot(Adapter::Actix, 3, 20.0, 20),
        ];
        let groups = groups(&rows);
        let line = background_share(&groups, "sqlite", 1000);
        assert!(line.ends_with(": actix 20.0"), "{line}");
    }

    #[test]
    fn a_scenario_with_a_body_is_measured_above_the_post_floor_when_run() {
        let rows = vec![
            row(Adapter::Rocket, Scenario::Bare, 1, 30.0),
            row(Adapter::Rocket, Scenario::BarePost, 1, 40.0),
            row(Adapter::Rocket, Scenario::ForgotPassword, 1, 70.0),
            row(Adapter::Rocket, Scenario::ConfirmStatus, 1, 90.0),
            // Round 2 has no `bare-post`: its forgot-password falls back to `bare`.
            row(Adapter::Rocket, Scenario::Bare, 2, 30.0),
            row(Adapter::Rocket, Scenario::ForgotPassword, 2, 70.0),
        ];
        let added = |i: usize| 1000.0 * added_cpu_ms(&rows, &rows[i]).unwrap();
        assert!(close(added(2), 30.0), "above bare-post");
        assert!(close(added(3), 60.0), "a GET above bare");
        assert!(close(added(5), 40.0), "no bare-post in its round");
        let floor = |i: usize| floor_of(&rows, &rows[i]).map(|r| r.scenario);
        assert_eq!(floor(2), Some(Scenario::BarePost));
        assert_eq!(floor(5), Some(Scenario::Bare));
    }

    #[test]
    fn forgot_password_per_reset_divides_the_added_cpu_among_the_resets() {
        // axum adds 20 µs per request with 20 resets per 1,000, actix 40 µs with 40: the same
        // 1,000 µs per reset.
        let rows = vec![
            row(Adapter::Axum, Scenario::Bare, 1, 10.0),
            forgot(Adapter::Axum, 1, 30.0, 20),
            row(Adapter::Actix, Scenario::Bare, 1, 12.0),
            forgot(Adapter::Actix, 1, 52.0, 40),
        ];
        let groups = groups(&rows);
        let line = per_reset(&rows, &groups, "sqlite", 1000).unwrap();
        assert_eq!(
            line,
            "- sqlite/1000/forgot-password per reset done: axum 1000.0 µs, actix 1000.0 µs \
             (spread 0.0%): met"
        );
        // Without a reset done there is nothing to divide.
        let none = vec![
            row(Adapter::Axum, Scenario::Bare, 1, 10.0),
            forgot(Adapter::Axum, 1, 30.0, 0),
        ];
        let none_groups = super::groups(&none);
        assert_eq!(per_reset(&none, &none_groups, "sqlite", 1000), None);
    }
}
