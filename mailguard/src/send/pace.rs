//! Pacing: a rate per second and a sliding window counted across runs.

use std::collections::VecDeque;
use std::time::Duration;

use chrono::Utc;
use custodia_engine::{OrgSlug, Store};
// Tokio's clock, so the pacing can be tested with paused time.
use tokio::time::Instant;

use super::SendConfig;
use crate::error::Result;

/// A cap per sliding window, e.g. 1,000 messages per hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateWindow {
    pub max: u32,
    pub span: Duration,
}

/// Keeps to the rate per second and the sliding window.
pub(super) struct Pace {
    period: Duration,
    next: Instant,
    window: Option<(usize, Duration)>,
    recent: VecDeque<Instant>,
}

impl Pace {
    /// Seeds the window with what the organisation sent within it, so a
    /// resumed or second campaign does not start a fresh allowance.
    pub(super) async fn new(store: &Store, org: &OrgSlug, config: &SendConfig) -> Result<Self> {
        let mut recent = VecDeque::new();
        let window = config
            .window
            .map(|w| (usize::try_from(w.max).unwrap_or(usize::MAX), w.span));
        if let Some((_, span)) = window {
            let now = Utc::now().timestamp();
            let since = now - i64::try_from(span.as_secs()).unwrap_or(i64::MAX);
            let sent: Vec<(i64,)> = sqlx::query_as(
                "SELECT updated_at FROM outbox WHERE org = $1 AND state = 'sent' AND updated_at >= $2 ORDER BY updated_at",
            )
            .bind(org.as_str())
            .bind(since)
            .fetch_all(store.pool())
            .await?;
            let instant_now = Instant::now();
            recent.extend(sent.into_iter().filter_map(|(at,)| {
                let ago = Duration::from_secs(u64::try_from(now - at).unwrap_or(0));
                instant_now.checked_sub(ago)
            }));
        }
        Ok(Self {
            period: Duration::from_secs_f64(1.0 / f64::from(config.rate_per_second.max(1))),
            next: Instant::now(),
            window,
            recent,
        })
    }

    /// Waits for the next message's turn.
    pub(super) async fn wait(&mut self) {
        let now = Instant::now();
        if self.next > now {
            tokio::time::sleep_until(self.next).await;
        } else if now - self.next > Duration::from_secs(1) {
            // After a long stall, no burst to catch up.
            self.next = now;
        }
        // Timers have millisecond grain: owing the lag, rather than
        // restarting from now, keeps high rates exact on average.
        self.next += self.period;
        let Some((max, span)) = self.window else {
            return;
        };
        loop {
            let now = Instant::now();
            while self
                .recent
                .front()
                .is_some_and(|t| now.duration_since(*t) >= span)
            {
                self.recent.pop_front();
            }
            match self.recent.front() {
                Some(oldest) if self.recent.len() >= max => {
                    tokio::time::sleep_until(*oldest + span).await;
                }
                _ => break,
            }
        }
        self.recent.push_back(Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pace(per_second: u32, window: Option<(usize, Duration)>) -> Pace {
        Pace {
            period: Duration::from_secs_f64(1.0 / f64::from(per_second)),
            next: Instant::now(),
            window,
            recent: VecDeque::new(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_sliding_window_holds_back_the_message_over_the_cap() {
        let start = Instant::now();
        let mut pace = pace(1_000, Some((3, Duration::from_secs(10))));
        let mut at = Vec::new();
        for _ in 0..7 {
            pace.wait().await;
            at.push((Instant::now() - start).as_secs());
        }
        assert_eq!(at, [0, 0, 0, 10, 10, 10, 20]);
    }

    #[tokio::test(start_paused = true)]
    async fn the_rate_per_second_spaces_messages_evenly() {
        let start = Instant::now();
        let mut pace = pace(4, None);
        for _ in 0..9 {
            pace.wait().await;
        }
        assert_eq!((Instant::now() - start).as_millis(), 2_000);
    }

    #[tokio::test(start_paused = true)]
    async fn messages_sent_earlier_in_the_window_count_against_it() {
        let start = Instant::now();
        let mut pace = pace(1_000, Some((2, Duration::from_secs(60))));
        // Two sent 50 s ago by an earlier run: the next waits 10 s.
        pace.recent.extend([start - Duration::from_secs(50); 2]);
        pace.wait().await;
        assert_eq!((Instant::now() - start).as_secs(), 10);
    }
}
