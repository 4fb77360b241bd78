//! The clock live mode budgets with: this thread's CPU time where the OS keeps it precisely (Unix), so a
//! frame's budget buys the same work however loaded the machine is; wall time elsewhere.

/// Milliseconds on this thread's clock, from an arbitrary origin.
#[cfg(unix)]
pub fn now_ms() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_THREAD_CPUTIME_ID exists on every Unix we build for.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return wall_ms();
    }
    ts.tv_sec as f64 * 1000.0 + ts.tv_nsec as f64 / 1e6
}

#[cfg(not(unix))]
pub fn now_ms() -> f64 {
    wall_ms()
}

fn wall_ms() -> f64 {
    use std::sync::OnceLock;
    use std::time::Instant;
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    ORIGIN.get_or_init(Instant::now).elapsed().as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    #[test]
    fn clock_advances_with_work() {
        let t0 = super::now_ms();
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        let t1 = super::now_ms();
        assert!(t1 > t0, "{t0} -> {t1}");
    }
}
