//! A token bucket per account, so that batch calls and concurrent hosts stay under the
//! provider's limits together.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug)]
pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    bucket: Mutex<Bucket>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    refilled_at: Instant,
}

impl RateLimiter {
    /// `per_second <= 0` disables limiting.
    pub fn new(per_second: f64, burst: u32) -> RateLimiter {
        let burst = f64::from(burst.max(1));
        RateLimiter {
            per_second,
            burst,
            bucket: Mutex::new(Bucket { tokens: burst, refilled_at: Instant::now() }),
        }
    }

    /// Waits until a request may go out, and takes its token.
    pub async fn acquire(&self) {
        if self.per_second <= 0.0 {
            return;
        }
        loop {
            let wait = {
                let mut b = self.bucket.lock().unwrap_or_else(|p| p.into_inner());
                let now = Instant::now();
                let earned = now.duration_since(b.refilled_at).as_secs_f64() * self.per_second;
                b.tokens = (b.tokens + earned).min(self.burst);
                b.refilled_at = now;
                if b.tokens >= 1.0 {
                    b.tokens -= 1.0;
                    return;
                }
                Duration::from_secs_f64((1.0 - b.tokens) / self.per_second)
            };
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn burst_then_steady_rate() {
        let limiter = RateLimiter::new(10.0, 3);
        let start = Instant::now();
        for _ in 0..3 {
            limiter.acquire().await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO, "the burst goes out at once");
        for _ in 0..5 {
            limiter.acquire().await;
        }
        let elapsed = start.elapsed().as_secs_f64();
        assert!((0.49..0.52).contains(&elapsed), "5 more at 10/s take 0.5 s, took {elapsed}");
    }

    #[tokio::test(start_paused = true)]
    async fn zero_rate_means_unlimited() {
        let limiter = RateLimiter::new(0.0, 1);
        let start = Instant::now();
        for _ in 0..100 {
            limiter.acquire().await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
    }
}
