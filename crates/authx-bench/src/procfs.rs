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
