//! The reactor's counters: how many passes and callbacks it ran, how late
//! its timers fired, and which callback held the loop longest.
//!
//! [`Counters`] lives in the reactor and is updated in place (plain `Cell`s:
//! no atomics, no allocation); [`ReactorStats`] is the copy
//! [`Reactor::stats`](crate::Reactor::stats) hands out.
//!
//! Callbacks are timed with one clock read each: the reactor keeps a mark,
//! the time the last callback ended (or the time read when a pass step
//! began, or the poll returned), and a callback's duration is the time from
//! that mark to its own end. It includes the reactor's bookkeeping between
//! the two (popping a timer, re-arming an fd), well under a microsecond.

use std::cell::Cell;
use std::fmt;
use std::time::{Duration, Instant};

/// The upper bounds of the timer-lateness histogram's buckets
/// ([`ReactorStats::timer_lateness_histogram`]): below 100 µs, below 1 ms,
/// below 10 ms, below 100 ms; the fifth bucket holds 100 ms and more.
///
/// ```
/// use std::time::Duration;
/// use tx0mq_reactor::{LATENESS_BOUNDS, LATENESS_BUCKETS};
///
/// // Which bucket a call 5 ms late falls in:
/// let late = Duration::from_millis(5);
/// let bucket = LATENESS_BOUNDS.iter().position(|&bound| late < bound);
/// assert_eq!(bucket.unwrap_or(LATENESS_BUCKETS - 1), 2);
/// ```
pub const LATENESS_BOUNDS: [Duration; 4] = [
    Duration::from_micros(100),
    Duration::from_millis(1),
    Duration::from_millis(10),
    Duration::from_millis(100),
];

/// How many buckets the timer-lateness histogram has (see
/// [`LATENESS_BOUNDS`]).
pub const LATENESS_BUCKETS: usize = LATENESS_BOUNDS.len() + 1;

/// [`LATENESS_BOUNDS`] in nanoseconds, for the comparisons.
const LATENESS_BOUNDS_NANOS: [u64; 4] = [100_000, 1_000_000, 10_000_000, 100_000_000];

/// `d` in nanoseconds, saturating after 584 years.
#[inline]
pub(crate) fn nanos(d: Duration) -> u64 {
    d.as_secs()
        .saturating_mul(1_000_000_000)
        .saturating_add(u64::from(d.subsec_nanos()))
}

/// What kind of callback the reactor ran: the label of
/// [`ReactorStats::longest_callback_kind`].
///
/// ```
/// use tx0mq_reactor::CallbackKind;
///
/// assert_eq!(CallbackKind::Fd.label(), "fd readiness");
/// assert_eq!(CallbackKind::Timer.to_string(), "timer");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CallbackKind {
    /// A timed call ([`Reactor::call_later`](crate::Reactor::call_later),
    /// a `LoopingCall`, a `call_when_running` made while running).
    Timer,
    /// A reader, writer or edge-triggered source (every ZeroMQ connection's
    /// socket is one).
    Fd,
    /// A call queued by another thread
    /// ([`ThreadHandle::call_from_thread`](crate::ThreadHandle::call_from_thread)).
    ThreadCall,
    /// One poll of a spawned future ([`Reactor::spawn`](crate::Reactor::spawn)).
    Task,
    /// A system event trigger (startup, shutdown).
    Trigger,
    /// A [`call_when_running`](crate::Reactor::call_when_running) call made
    /// before `run`.
    WhenRunning,
    /// A signal handler
    /// ([`Reactor::add_signal_handler`](crate::Reactor::add_signal_handler)).
    Signal,
}

impl CallbackKind {
    /// A short name: `"timer"`, `"fd readiness"`, `"call_from_thread"`,
    /// `"task"`, `"system event trigger"`, `"call_when_running"`,
    /// `"signal handler"`.
    ///
    /// ```
    /// use tx0mq_reactor::CallbackKind;
    ///
    /// assert_eq!(CallbackKind::ThreadCall.label(), "call_from_thread");
    /// assert_eq!(CallbackKind::Signal.label(), "signal handler");
    /// ```
    pub fn label(self) -> &'static str {
        match self {
            CallbackKind::Timer => "timer",
            CallbackKind::Fd => "fd readiness",
            CallbackKind::ThreadCall => "call_from_thread",
            CallbackKind::Task => "task",
            CallbackKind::Trigger => "system event trigger",
            CallbackKind::WhenRunning => "call_when_running",
            CallbackKind::Signal => "signal handler",
        }
    }
}

impl fmt::Display for CallbackKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// A snapshot of a reactor's counters, since it was built or since
/// [`Reactor::reset_stats`](crate::Reactor::reset_stats): what the loop
/// did, and what held it up.
///
/// Callback durations are wall-clock time (the monotonic clock), on a fake
/// clock too; timer lateness is on the reactor's own clock, so on a fake
/// clock it is exact: a call due at 1 s that fires when `advance` moves the
/// clock to 3 s was 2 s late.
///
/// ```
/// use std::time::Duration;
/// use tx0mq_reactor::{CallbackKind, Reactor};
///
/// let reactor = Reactor::builder().fake_clock().build()?;
/// reactor.call_later(Duration::from_secs(1), |_| ());
/// reactor.call_later(Duration::from_secs(3), |_| ());
/// reactor.advance(Duration::from_secs(3))?;
///
/// let stats = reactor.stats();
/// assert_eq!((stats.passes, stats.callbacks, stats.timers_fired), (1, 2, 2));
/// assert_eq!(stats.timer_lateness_max, Duration::from_secs(2));
/// assert_eq!(stats.timer_lateness_last, Duration::ZERO);
/// assert_eq!(stats.timer_lateness_histogram, [1, 0, 0, 0, 1]);
/// assert_eq!(stats.longest_callback_kind, Some(CallbackKind::Timer));
/// # Ok::<(), tx0mq_reactor::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReactorStats {
    /// Passes of the loop (each `run` pass, `iterate` and pass of `advance`).
    pub passes: u64,
    /// Callbacks run: timers, fd and source handlers, thread calls, task
    /// polls, triggers, `call_when_running` calls, signal handlers.
    pub callbacks: u64,
    /// The time spent in those callbacks, all together.
    pub callback_time: Duration,
    /// The longest any one callback ran.
    pub longest_callback: Duration,
    /// What kind of callback that was (`None` until one has run).
    pub longest_callback_kind: Option<CallbackKind>,
    /// Timed calls fired (the sum of the histogram's buckets).
    pub timers_fired: u64,
    /// How long after its deadline the last timed call fired.
    pub timer_lateness_last: Duration,
    /// The most any timed call fired after its deadline.
    pub timer_lateness_max: Duration,
    /// Timed calls by how late they fired, bucketed by [`LATENESS_BOUNDS`]:
    /// below 100 µs, 1 ms, 10 ms and 100 ms, then 100 ms or more.
    pub timer_lateness_histogram: [u64; LATENESS_BUCKETS],
}

/// The reactor's counters, updated in place.
pub(crate) struct Counters {
    passes: Cell<u64>,
    callbacks: Cell<u64>,
    /// Nanoseconds, as the sums below: cheaper to add than `Duration`s.
    callback_nanos: Cell<u64>,
    longest_nanos: Cell<u64>,
    longest_kind: Cell<Option<CallbackKind>>,
    /// When the last callback ended, or the pass step began.
    mark: Cell<Instant>,
    lateness_last_nanos: Cell<u64>,
    lateness_max_nanos: Cell<u64>,
    histogram: [Cell<u64>; LATENESS_BUCKETS],
}

impl Counters {
    pub(crate) fn new() -> Self {
        Counters {
            passes: Cell::new(0),
            callbacks: Cell::new(0),
            callback_nanos: Cell::new(0),
            longest_nanos: Cell::new(0),
            longest_kind: Cell::new(None),
            mark: Cell::new(Instant::now()),
            lateness_last_nanos: Cell::new(0),
            lateness_max_nanos: Cell::new(0),
            histogram: Default::default(),
        }
    }

    /// A pass begins.
    #[inline]
    pub(crate) fn pass(&self) {
        self.passes.set(self.passes.get() + 1);
    }

    /// Callbacks are about to run: the next one is timed from `now`.
    #[inline]
    pub(crate) fn mark(&self, now: Instant) {
        self.mark.set(now);
    }

    /// When the last callback ended (or the mark was set).
    #[inline]
    pub(crate) fn last_mark(&self) -> Instant {
        self.mark.get()
    }

    /// A callback of `kind` has just returned: counts it and its time since
    /// the mark, which moves to now.
    #[inline]
    pub(crate) fn lap(&self, kind: CallbackKind) {
        let now = Instant::now();
        let took = now.saturating_duration_since(self.mark.replace(now));
        let nanos = nanos(took);
        self.callbacks.set(self.callbacks.get() + 1);
        self.callback_nanos
            .set(self.callback_nanos.get().saturating_add(nanos));
        // Ties go to the later callback, so the first one always counts.
        if nanos >= self.longest_nanos.get() {
            self.longest_nanos.set(nanos);
            self.longest_kind.set(Some(kind));
        }
    }

    /// A timed call is about to fire, `lateness` nanoseconds after its
    /// deadline.
    #[inline]
    pub(crate) fn timer_fired(&self, lateness: u64) {
        self.lateness_last_nanos.set(lateness);
        if lateness > self.lateness_max_nanos.get() {
            self.lateness_max_nanos.set(lateness);
        }
        let bucket = LATENESS_BOUNDS_NANOS
            .iter()
            .position(|&bound| lateness < bound)
            .unwrap_or(LATENESS_BOUNDS_NANOS.len());
        let cell = &self.histogram[bucket];
        cell.set(cell.get() + 1);
    }

    pub(crate) fn snapshot(&self) -> ReactorStats {
        let histogram = std::array::from_fn(|i| self.histogram[i].get());
        ReactorStats {
            passes: self.passes.get(),
            callbacks: self.callbacks.get(),
            callback_time: Duration::from_nanos(self.callback_nanos.get()),
            longest_callback: Duration::from_nanos(self.longest_nanos.get()),
            longest_callback_kind: self.longest_kind.get(),
            timers_fired: histogram.iter().sum(),
            timer_lateness_last: Duration::from_nanos(self.lateness_last_nanos.get()),
            timer_lateness_max: Duration::from_nanos(self.lateness_max_nanos.get()),
            timer_lateness_histogram: histogram,
        }
    }

    /// Zeroes every counter (the mark stays: a callback under way is timed
    /// as before).
    pub(crate) fn reset(&self) {
        self.passes.set(0);
        self.callbacks.set(0);
        self.callback_nanos.set(0);
        self.longest_nanos.set(0);
        self.longest_kind.set(None);
        self.lateness_last_nanos.set(0);
        self.lateness_max_nanos.set(0);
        for cell in &self.histogram {
            cell.set(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lateness_falls_in_the_bucket_below_its_bound() {
        let counters = Counters::new();
        for micros in [
            0, 99, 100, 999, 1_000, 9_999, 10_000, 99_999, 100_000, 5_000_000,
        ] {
            counters.timer_fired(micros * 1_000);
        }
        let stats = counters.snapshot();
        assert_eq!(stats.timer_lateness_histogram, [2, 2, 2, 2, 2]);
        assert_eq!(stats.timers_fired, 10);
        assert_eq!(stats.timer_lateness_last, Duration::from_secs(5));
        assert_eq!(stats.timer_lateness_max, Duration::from_secs(5));
    }

    #[test]
    fn the_bounds_agree_in_nanoseconds() {
        for (bound, nanos_bound) in LATENESS_BOUNDS.iter().zip(LATENESS_BOUNDS_NANOS) {
            assert_eq!(nanos(*bound), nanos_bound);
        }
        assert_eq!(nanos(Duration::MAX), u64::MAX);
    }

    #[test]
    fn a_lap_times_from_the_mark_and_moves_it() {
        let counters = Counters::new();
        let start = Instant::now();
        let an_hour_ago = start.checked_sub(Duration::from_secs(3600));
        counters.mark(an_hour_ago.unwrap_or(start));
        counters.lap(CallbackKind::Task);
        counters.lap(CallbackKind::Timer);
        let stats = counters.snapshot();
        assert_eq!(stats.callbacks, 2);
        if an_hour_ago.is_some() {
            assert!(stats.longest_callback >= Duration::from_secs(3600));
        }
        assert_eq!(stats.longest_callback_kind, Some(CallbackKind::Task));
        assert!(counters.last_mark() >= start);
        counters.reset();
        assert_eq!(counters.snapshot(), ReactorStats::default());
    }
}
