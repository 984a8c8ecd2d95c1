//! Rate-limited warnings, so a hostile peer cannot flood the log.

use std::time::{Duration, Instant};

/// How many warnings of one kind a connection logs one by one before it
/// starts counting them instead.
pub(crate) const WARN_BURST: u32 = 10;

/// After the first burst, at most one summary per this interval.
pub(crate) const WARN_INTERVAL: Duration = Duration::from_secs(10);

/// Counts the warnings of one kind on one connection: the first
/// [`WARN_BURST`] are logged in full, then one summary line with the count
/// per [`WARN_INTERVAL`] (written when the next warning comes after the
/// interval, or by [`finish`](Self::finish)).
#[derive(Debug, Default)]
pub(crate) struct WarnLimit {
    logged: u32,
    suppressed: u64,
    since: Option<Instant>,
}

impl WarnLimit {
    /// Logs `message()` as a warning from `who()`, or counts it. `what`
    /// names the kind in the summary ("malformed messages dropped"). A
    /// counted warning costs no formatting: a flooding peer pays for none.
    pub(crate) fn warn(
        &mut self,
        who: impl Fn() -> String,
        what: &str,
        message: impl FnOnce() -> String,
    ) {
        if self.logged < WARN_BURST {
            self.logged += 1;
            let who = who();
            log::warn!("{who}: {}", message());
            if self.logged == WARN_BURST {
                log::warn!(
                    "{who}: further {what} are counted, with one summary every {} s",
                    WARN_INTERVAL.as_secs()
                );
                self.since = Some(Instant::now());
            }
            return;
        }
        self.suppressed += 1;
        let now = Instant::now();
        if self
            .since
            .is_none_or(|since| now.duration_since(since) >= WARN_INTERVAL)
        {
            self.finish(who, what);
            self.since = Some(now);
        }
    }

    /// Writes the summary of what was counted since the last one, if anything.
    pub(crate) fn finish(&mut self, who: impl Fn() -> String, what: &str) {
        if self.suppressed > 0 {
            log::warn!(
                "{}: {} more {what} (not logged one by one)",
                who(),
                self.suppressed
            );
            self.suppressed = 0;
        }
    }
}
