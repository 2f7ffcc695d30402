//! The machine's raw argon2id verify rate with the server's parameters: the ceiling of login
//! throughput, measured in the same run so that the two can be compared.

use std::time::{Duration, Instant};

use argon2::password_hash::PasswordVerifier as _;
use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Params, Version};
use authx::password::{PasswordHasher, PasswordParams};
use authx::Secret;

/// Upper bound of verifications per thread, whatever the duration.
const MAX_PER_THREAD: u64 = 100_000;

/// Verifications per second with `PasswordParams::OWASP`, one `spawn_blocking` loop per core,
/// for `seconds`, with nothing else of the benchmark running.
pub(crate) async fn verify_rate(seconds: f64) -> Result<f64, String> {
    let owasp = PasswordParams::OWASP;
    let phc = PasswordHasher::new(owasp, 1, 0)
        .map_err(|e| e.to_string())?
        .hash(Secret::new(crate::server::PASSWORD))
        .await
        .map_err(|e| e.to_string())?;
    let params =
        Params::new(owasp.m_cost, owasp.t_cost, owasp.p_cost, None).map_err(|e| e.to_string())?;
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let started = Instant::now();
    let until = started + Duration::from_secs_f64(seconds);
    let mut loops = Vec::with_capacity(cores);
    for _ in 0..cores {
        let phc = phc.clone();
        let params = params.clone();
        loops.push(tokio::task::spawn_blocking(move || {
            let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
            let parsed = PasswordHash::new(&phc).map_err(|e| e.to_string())?;
            let mut done = 0_u64;
            while Instant::now() < until && done < MAX_PER_THREAD {
                argon2
                    .verify_password(crate::server::PASSWORD.as_bytes(), &parsed)
                    .map_err(|e| e.to_string())?;
                done += 1;
            }
            Ok::<u64, String>(done)
        }));
    }
    let mut total = 0;
    for handle in loops {
        total += handle.await.map_err(|e| e.to_string())??;
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
}
