//! What one connection saw, merged into what a run saw.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use crate::client::Reply;

/// Latencies are kept one by one (a 10 s run at 20,000 req/s is 800 KB) up to this many per
/// recorder; past it, statuses are still counted.
const MAX_SAMPLES: usize = 5_000_000;

/// Requests, statuses and latencies of the measured window.
#[derive(Debug, Default, Clone)]
pub(crate) struct Recorder {
    /// Latency of each answered request, in microseconds.
    latencies: Vec<u32>,
    pub(crate) statuses: BTreeMap<u16, u64>,
    /// Transport failures (refused, reset, timed out).
    pub(crate) errors: u64,
    /// `503` answers without a `Retry-After` header (the contract requires one when shedding).
    pub(crate) shed_without_retry_after: u64,
}

impl Recorder {
    pub(crate) fn record(&mut self, reply: &Reply, latency: Duration) {
        if self.latencies.len() < MAX_SAMPLES {
            self.latencies
                .push(u32::try_from(latency.as_micros()).unwrap_or(u32::MAX));
        }
        *self.statuses.entry(reply.status).or_default() += 1;
        if reply.status == 503 && !reply.headers.contains_key("retry-after") {
            self.shed_without_retry_after += 1;
        }
    }

    pub(crate) fn merge(&mut self, other: Self) {
        self.latencies.extend(other.latencies);
        for (status, n) in other.statuses {
            *self.statuses.entry(status).or_default() += n;
        }
        self.errors += other.errors;
        self.shed_without_retry_after += other.shed_without_retry_after;
    }

    pub(crate) fn answered(&self) -> u64 {
        self.statuses.values().sum()
    }

    pub(crate) fn count(&self, status: u16) -> u64 {
        self.statuses.get(&status).copied().unwrap_or(0)
    }

    /// The `q` quantile (0..=1) of the latencies, in milliseconds.
    pub(crate) fn quantile_ms(&mut self, q: f64) -> Option<f64> {
        if self.latencies.is_empty() {
            return None;
        }
        self.latencies.sort_unstable();
        let rank = ((self.latencies.len() as f64 - 1.0) * q).round() as usize;
        Some(f64::from(self.latencies[rank]) / 1000.0)
    }

    /// `200: 1234, 503: 5` (and transport errors, if any).
    pub(crate) fn status_summary(&self) -> String {
        let mut out = String::new();
        for (status, n) in &self.statuses {
            if !out.is_empty() {
                out.push_str(", ");
            }
            let _ = write!(out, "{status}: {n}");
        }
        if self.errors > 0 {
            let _ = write!(out, ", errors: {}", self.errors);
        }
        if self.shed_without_retry_after > 0 {
            let _ = write!(
                out,
                ", 503 without Retry-After: {}",
                self.shed_without_retry_after
            );
        }
        if out.is_empty() {
            out.push_str("none");
        }
        out
    }
}
