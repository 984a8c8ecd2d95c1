//! The reactor's notion of time: the real monotonic clock, or a fake one for tests.

use std::cell::Cell;
use std::time::{Duration, Instant};

/// Where the reactor reads the time from.
pub(crate) enum Clock {
    /// Monotonic time since the reactor was built.
    Real(Instant),
    /// Time that moves only when `Reactor::advance` says so (Twisted's `task.Clock`).
    Fake(Cell<Duration>),
}

impl Clock {
    pub(crate) fn now(&self) -> Duration {
        match self {
            Clock::Real(origin) => origin.elapsed(),
            Clock::Fake(now) => now.get(),
        }
    }

    /// The reactor time of `instant`, read from the monotonic clock: its
    /// time since the reactor was built; a fake clock's own time.
    #[inline]
    pub(crate) fn at(&self, instant: Instant) -> Duration {
        match self {
            Clock::Real(origin) => instant.saturating_duration_since(*origin),
            Clock::Fake(now) => now.get(),
        }
    }

    pub(crate) fn is_fake(&self) -> bool {
        matches!(self, Clock::Fake(_))
    }

    /// Moves a fake clock forward; returns false for the real clock.
    pub(crate) fn advance(&self, by: Duration) -> bool {
        match self {
            Clock::Real(_) => false,
            Clock::Fake(now) => {
                now.set(now.get().saturating_add(by));
                true
            }
        }
    }
}
