//! The machine's raw argon2id verify rate with the server's parameters: the ceiling of login
//! throughput, measured in the same run so that the two can be compared.

use std::time::{Duration, Instant};

use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Block, Params, Version};
use authx::Secret;
use authx::password::{PasswordHasher, PasswordParams};

/// Upper bound of verifications per thread, whatever the duration.
const MAX_PER_THREAD: u64 = 100_000;

/// The raw rate, and what one verification costs in CPU time: on a machine shared with other
/// work, the wall-clock rate moves with their load, the CPU cost much less.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawRate {
    pub(crate) per_second: f64,
    pub(crate) cpu_ms_per_verify: Option<f64>,
}

/// Verifications per second with `PasswordParams::OWASP`, one `spawn_blocking` loop per core,
/// for `seconds`, with nothing else of the benchmark running. Each loop computes the hash in
/// one memory block it reuses, as authx's hashing threads do: the bare cost of argon2id, with
/// no allocation (which `PasswordVerifier::verify_password` adds, 19 MiB zeroed per call).
pub(crate) async fn verify_rate(seconds: f64) -> Result<RawRate, String> {
    let owasp = PasswordParams::OWASP;
    let phc = PasswordHasher::new(owasp, 1, 0)
        .map_err(|e| e.to_string())?
        .hash(Secret::new(crate::server::PASSWORD))
        .await
        .map_err(|e| e.to_string())?;
    let params =
        Params::new(owasp.m_cost, owasp.t_cost, owasp.p_cost, None).map_err(|e| e.to_string())?;
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let cpu_before = crate::procfs::cpu_seconds(None);
    let started = Instant::now();
    let until = started + Duration::from_secs_f64(seconds);
    let mut loops = Vec::with_capacity(cores);
    for _ in 0..cores {
        let phc = phc.clone();
        let params = params.clone();
        loops.push(tokio::task::spawn_blocking(move || {
            let parsed = PasswordHash::new(&phc).map_err(|e| e.to_string())?;
            let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
                return Err("the reference hash has no salt or output".to_owned());
            };
            let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
            let mut blocks = vec![Block::new(); params.block_count()];
            let mut out = vec![0_u8; expected.len()];
            let mut done = 0_u64;
            while Instant::now() < until && done < MAX_PER_THREAD {
                argon2
                    .hash_password_into_with_memory(
                        crate::server::PASSWORD.as_bytes(),
                        &salt,
                        &mut out,
                        &mut blocks,
                    )
                    .map_err(|e| e.to_string())?;
                if out != expected.as_bytes() {
                    return Err("the raw verification did not match".to_owned());
                }
                done += 1;
            }
            Ok::<u64, String>(done)
        }));
    }
    let mut total = 0;
    for handle in loops {
        total += handle.await.map_err(|e| e.to_string())??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = crate::procfs::cpu_seconds(None)
        .zip(cpu_before)
        .map(|(after, before)| after - before);
    Ok(RawRate {
        per_second: total as f64 / elapsed,
        cpu_ms_per_verify: cpu.filter(|_| total > 0).map(|c| 1000.0 * c / total as f64),
    })
}
