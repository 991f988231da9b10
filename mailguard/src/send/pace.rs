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
            // Times are stored in whole seconds: a message stamped `at` went
            // out before `at + 1`, so counting it as that recent never lets
            // the window through early.
            recent.extend(sent.into_iter().filter_map(|(at,)| {
                let ago = Duration::from_secs(u64::try_from(now - at - 1).unwrap_or(0));
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

    /// A store whose outbox holds, for `org`, two messages sent 50 s ago,
    /// plus rows the window must not count: older, not sent, another org.
    async fn store_with_earlier_sends(org: &str) -> (Store, Option<tempfile::TempDir>) {
        let (url, guard) =
            custodia_engine::testkit::scratch_database(custodia_engine::Backend::Sqlite).await;
        let store = Store::init(&url)
            .await
            .expect("store")
            .with_vault(std::sync::Arc::new(custodia_engine::Vault::ephemeral()));
        let now = Utc::now().timestamp();
        let rows = [
            (org, "a@x.example", "sent", now - 50),
            (org, "b@x.example", "sent", now - 50),
            (org, "c@x.example", "sent", now - 600),
            (org, "d@x.example", "pending", now - 5),
            (org, "e@x.example", "failed", now - 5),
            ("other-org", "f@x.example", "sent", now - 5),
        ];
        for (i, (org, address, state, at)) in rows.into_iter().enumerate() {
            sqlx::query("INSERT INTO campaigns (org, id, body, created_at) VALUES ($1, 'c', '', 0) ON CONFLICT DO NOTHING")
                .bind(org)
                .execute(store.pool())
                .await
                .expect("campaign");
            sqlx::query("INSERT INTO outbox (org, campaign, address, position, state, updated_at) VALUES ($1, 'c', $2, $3, $4, $5)")
                .bind(org)
                .bind(address)
                .bind(i64::try_from(i).expect("small"))
                .bind(state)
                .bind(at)
                .execute(store.pool())
                .await
                .expect("outbox row");
        }
        (store, guard)
    }

    #[tokio::test]
    async fn messages_sent_earlier_in_the_window_are_read_from_the_outbox_and_count_against_it() {
        let org = OrgSlug::new("bufete-ruiz").expect("slug");
        let (store, _guard) = store_with_earlier_sends(org.as_str()).await;
        let config = SendConfig {
            rate_per_second: 1_000,
            window: Some(RateWindow {
                max: 3,
                span: Duration::from_secs(60),
            }),
            smtp_url: String::new(),
            public_url: String::new(),
            concurrency: 1,
            max_error_rate: 1.0,
            dkim: None,
            wait_for_schedule: false,
            robinson_max_age_days: 90,
        };
        let mut pace = Pace::new(&store, &org, &config).await.expect("pace");
        assert_eq!(
            pace.recent.len(),
            2,
            "only this org's sent messages within the window"
        );
        // From here on, time is simulated (the database read above was real).
        tokio::time::pause();
        let start = Instant::now();
        pace.wait().await;
        assert_eq!(
            (Instant::now() - start).as_secs(),
            0,
            "one more fits the cap of 3"
        );
        pace.wait().await;
        // The next waits until the two sent 50 s ago (stamped in whole
        // seconds, so up to 51 s ago) surely left the 60 s window.
        let waited = (Instant::now() - start).as_secs();
        assert!((10..=11).contains(&waited), "waited {waited} s");
    }
}
