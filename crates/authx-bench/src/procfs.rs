//! What the kernel says about a process: peak resident memory and CPU time, from `/proc`.

/// Clock ticks per second of `/proc/<pid>/stat` (`USER_HZ`, 100 on every Linux architecture
/// the project builds for).
const TICKS_PER_SECOND: f64 = 100.0;

fn status_path(pid: Option<u32>) -> String {
    pid.map_or_else(|| "/proc/self".to_owned(), |pid| format!("/proc/{pid}"))
}

/// Peak resident set size (`VmHWM`) of process `pid` (`None`: this process), in KiB.
pub(crate) fn peak_rss_kib(pid: Option<u32>) -> Option<u64> {
    let status = std::fs::read_to_string(format!("{}/status", status_path(pid))).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

/// User plus system CPU time of process `pid` (`None`: this process), all threads, in seconds.
pub(crate) fn cpu_seconds(pid: Option<u32>) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("{}/stat", status_path(pid))).ok()?;
    // Fields after the command name (which may hold spaces) start at field 3, `state`;
    // `utime` and `stime` are fields 14 and 15.
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / TICKS_PER_SECOND)
}

/// CPU time of each thread of process `pid` (`None`: this process) so far, in nanoseconds,
/// and how many times the scheduler ran it, from `/proc/<pid>/task/<tid>/schedstat` (the
/// scheduler's own counts: time exact to the nanosecond, where `stat`'s is in ticks of 10
/// ms; the third field the timeslices run, one per wake-up of a thread that had slept, or
/// per preemption). `None` where the kernel keeps no schedstat.
#[derive(Debug, Clone, Default)]
pub(crate) struct ThreadTimes(std::collections::HashMap<u32, (u64, u64)>);

/// Each thread's CPU time so far.
pub(crate) fn thread_times(pid: Option<u32>) -> Option<ThreadTimes> {
    let mut times = std::collections::HashMap::new();
    for entry in std::fs::read_dir(format!("{}/task", status_path(pid))).ok()? {
        let entry = entry.ok()?;
        let Some(tid) = entry.file_name().to_str().and_then(|t| t.parse().ok()) else {
            continue;
        };
        // A thread that ended between the listing and the read has no time to add.
        let Ok(schedstat) = std::fs::read_to_string(entry.path().join("schedstat")) else {
            continue;
        };
        let mut fields = schedstat.split_whitespace();
        let ns: u64 = fields.next()?.parse().ok()?;
        let slices: u64 = fields.nth(1)?.parse().ok()?;
        times.insert(tid, (ns, slices));
    }
    Some(ThreadTimes(times))
}

impl ThreadTimes {
    /// CPU seconds spent since `before`: each thread's time since then, a thread started
    /// since with all of its time. A thread that ended in between loses what it spent in
    /// the interval (the threads of a server under load live for the whole run).
    pub(crate) fn since(&self, before: &Self) -> f64 {
        self.each_since(before, |(ns, _)| ns) as f64 / 1e9
    }

    /// Timeslices run since `before`, counted as [`Self::since`] counts time: how many times
    /// the threads were woken (or preempted) to run, each a context switch.
    pub(crate) fn runs_since(&self, before: &Self) -> u64 {
        self.each_since(before, |(_, slices)| slices)
    }

    fn each_since(&self, before: &Self, field: impl Fn((u64, u64)) -> u64) -> u64 {
        self.0
            .iter()
            .map(|(tid, now)| {
                let then = before.0.get(tid).map_or(0, |b| field(*b));
                field(*now).saturating_sub(then)
            })
            .sum()
    }
}

/// The one-minute load average: how busy the machine was besides this benchmark.
pub(crate) fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The machine's CPU time so far, from the `cpu` line of `/proc/stat`, in clock ticks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MachineTicks {
    /// Every state.
    total: u64,
    /// Idle and waiting for I/O.
    idle: u64,
    /// Taken by the hypervisor for other guests while this one wanted to run.
    steal: u64,
}

/// The machine's CPU time so far.
pub(crate) fn machine_ticks() -> Option<MachineTicks> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    // user nice system idle iowait irq softirq steal guest guest_nice; guest time is already
    // counted in user and nice.
    let total = fields.iter().take(8).sum();
    Some(MachineTicks {
        total,
        idle: fields.get(3)? + fields.get(4)?,
        steal: *fields.get(7)?,
    })
}

/// How the machine's CPU time went between two readings.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct MachineShare {
    /// Share of the time idle.
    pub(crate) idle: f64,
    /// Share of the time stolen by the hypervisor.
    pub(crate) steal: f64,
}

impl MachineTicks {
    /// The shares of idle and stolen time since `before`.
    pub(crate) fn since(self, before: Self) -> Option<MachineShare> {
        let total = self.total.checked_sub(before.total).filter(|t| *t > 0)? as f64;
        Some(MachineShare {
            idle: self.idle.saturating_sub(before.idle) as f64 / total,
            steal: self.steal.saturating_sub(before.steal) as f64 / total,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// About `ms` milliseconds of CPU on the calling thread.
    fn spin(ms: u64) {
        let until = std::time::Instant::now() + std::time::Duration::from_millis(ms);
        while std::time::Instant::now() < until {
            std::hint::black_box(0_u64);
        }
    }

    #[test]
    fn thread_times_count_this_thread_and_a_new_one() {
        let before = thread_times(None).expect("schedstat");
        spin(20);
        // A thread started after `before`, kept alive until `after` is read.
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let (spun_tx, spun_rx) = std::sync::mpsc::channel::<()>();
        let other = std::thread::spawn(move || {
            spin(30);
            spun_tx.send(()).unwrap();
            done_rx.recv().ok();
        });
        spun_rx.recv().unwrap();
        let after = thread_times(None).expect("schedstat");
        done_tx.send(()).unwrap();
        other.join().unwrap();
        // Wall-clock spins get less CPU on a busy machine: bounds loose enough for that,
        // tight enough that a misread count (zero, ticks, microseconds) fails.
        let spent = after.since(&before);
        assert!(
            (0.02..2.0).contains(&spent),
            "20 ms here and 30 ms on a new thread: {spent}"
        );
        let new: Vec<u64> = after
            .0
            .iter()
            .filter(|(tid, _)| !before.0.contains_key(tid))
            .map(|(_, (ns, _))| *ns)
            .collect();
        assert!(
            new.iter().any(|ns| *ns >= 10_000_000),
            "the new thread: {new:?}"
        );
        assert!(after.since(&after) == 0.0);
        // Each thread ran at least once; a count of some other field (time, or a wait in
        // nanoseconds) would be millions.
        let runs = after.runs_since(&before);
        assert!((1..100_000).contains(&runs), "timeslices run: {runs}");
        assert_eq!(after.runs_since(&after), 0);
    }
}
