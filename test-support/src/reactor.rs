//! Reactors for tests, and running them with a deadline.
//!
//! A test reactor leaves signals alone (the test harness owns the process)
//! and lets a panic in a callback unwind out of `run`, `iterate` or
//! `advance` (`catch_panics(false)`): a failed `assert!` inside a callback
//! fails its test at once, with its own message, instead of being logged
//! while the test waits for its deadline. Tests of the catch-and-log policy
//! itself use [`catching_reactor`].
//!
//! Every wait here has a deadline and fails the test with a message naming
//! what it waited for; nothing sleeps to synchronise.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tx0mq_reactor::{Deferred, DelayedCall, Reactor, ReactorBuilder};

use crate::deferred::outcome;

/// How long a single wait ([`iterate_until`], [`iterate_until_cond`]...) may take
/// before the test fails. Generous: tests run in parallel on small, loaded
/// machines.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// How much longer than its deadline [`run_with_deadline`] lets a reactor
/// run before a [`Timebomb`] aborts the process.
const TIMEBOMB_GRACE: Duration = Duration::from_secs(60);

/// A builder for a test reactor: no signal handling, panics in callbacks
/// re-raised. Add state, a fake clock or other options, then `build`.
pub fn builder() -> ReactorBuilder<()> {
    Reactor::builder().handle_signals(false).catch_panics(false)
}

/// A real-clock test reactor with `state`.
pub fn reactor<S: 'static>(state: S) -> Reactor<S> {
    builder()
        .state(state)
        .build()
        .expect("build a test reactor")
}

/// A test reactor with `state` whose clock moves only on `advance`
/// (Twisted's `task.Clock`); its sources still do real I/O on `iterate`.
pub fn fake_clock_reactor<S: 'static>(state: S) -> Reactor<S> {
    builder()
        .state(state)
        .fake_clock()
        .build()
        .expect("build a fake-clock test reactor")
}

/// A real-clock reactor with `state` that catches, logs and survives a panic
/// in a callback, as in production: for tests of that policy.
pub fn catching_reactor<S: 'static>(state: S) -> Reactor<S> {
    Reactor::builder()
        .state(state)
        .handle_signals(false)
        .build()
        .expect("build a reactor")
}

/// A reactor timer that stops the reactor after a time limit and remembers
/// that it did. Cancelled when dropped.
pub struct Watchdog {
    fired: Rc<Cell<bool>>,
    call: DelayedCall,
}

impl Watchdog {
    /// Whether the limit passed (and the watchdog stopped the reactor).
    pub fn fired(&self) -> bool {
        self.fired.get()
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        if self.call.active() {
            let _ = self.call.cancel();
        }
    }
}

/// Arms a [`Watchdog`]: `reactor` is stopped after `limit`.
pub fn watchdog<S: 'static>(reactor: &Reactor<S>, limit: Duration) -> Watchdog {
    let fired = Rc::new(Cell::new(false));
    let flag = fired.clone();
    let call = reactor.call_later(limit, move |cx| {
        flag.set(true);
        cx.reactor.stop()
    });
    Watchdog { fired, call }
}

/// Aborts the whole test process if it is not dropped within its limit: the
/// last resort when a reactor is stuck inside a callback or the kernel,
/// where its own timers can never run. Dropping it disarms it.
pub struct Timebomb {
    _disarm: mpsc::Sender<()>,
}

impl Timebomb {
    /// Arms a timebomb that aborts after `limit`, saying `what` was stuck.
    pub fn arm(what: &str, limit: Duration) -> Timebomb {
        let (tx, rx) = mpsc::channel::<()>();
        let what = what.to_string();
        std::thread::spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(limit) {
                eprintln!(
                    "TIMEBOMB: {what} still running after {limit:?}: the reactor is stuck \
                     inside a callback or in the kernel; aborting the test process"
                );
                std::process::abort();
            }
        });
        Timebomb { _disarm: tx }
    }
}

/// Runs `reactor` until a callback stops it and returns how long it ran. If
/// `limit` passes first, the test fails naming `what`, with `progress`
/// (evaluated on the state) in the message. A [`Timebomb`] aborts the
/// process if the reactor is stuck for a minute past `limit`.
pub fn run_with_deadline<S: 'static>(
    reactor: &Reactor<S>,
    limit: Duration,
    what: &str,
    progress: impl FnOnce(&mut S) -> String,
) -> Duration {
    let watchdog = watchdog(reactor, limit);
    let _bomb = Timebomb::arm(what, limit + TIMEBOMB_GRACE);
    let started = Instant::now();
    reactor.run().expect("run the reactor");
    let elapsed = started.elapsed();
    if watchdog.fired() {
        let progress = reactor.access_state(progress).expect("the state after run");
        panic!("{what}: not finished after {limit:?}: {progress}");
    }
    elapsed
}

/// Runs `reactor` until a callback stops it; fails the test naming `what`
/// if that takes longer than `limit`.
pub fn run_with_watchdog<S: 'static>(reactor: &Reactor<S>, limit: Duration, what: &str) {
    run_with_deadline(reactor, limit, what, |_| "the watchdog stopped it".into());
}

/// Iterates `reactor` until `done(state)` holds; fails naming `what` after
/// [`DEADLINE`].
pub fn iterate_until<S: 'static>(
    reactor: &Reactor<S>,
    what: &str,
    mut done: impl FnMut(&mut S) -> bool,
) {
    iterate_until_cond(reactor, what, || {
        reactor.access_state(&mut done).expect("the state is free")
    });
}

/// Iterates `reactor` until `done()` holds (a condition outside the
/// reactor's state, or one that reads it with `access_state`: a Deferred's
/// outcome, captured logs...); fails naming `what` after [`DEADLINE`].
pub fn iterate_until_cond<S: 'static>(
    reactor: &Reactor<S>,
    what: &str,
    mut done: impl FnMut() -> bool,
) {
    let deadline = Instant::now() + DEADLINE;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "timed out after {DEADLINE:?} waiting for {what}"
        );
        reactor
            .iterate(Duration::from_millis(10))
            .expect("iterate the reactor");
    }
}

/// Iterates `reactor` until `d` fires and returns its value; fails the test
/// on a failure, or naming `what` after [`DEADLINE`]. Ends `d`'s chain.
pub fn wait_for<S: 'static, T: 'static>(reactor: &Reactor<S>, d: &Deferred<T>, what: &str) -> T {
    let slot = outcome(d);
    iterate_until_cond(reactor, what, || slot.borrow().is_some());
    take(&slot, what)
}

fn take<T>(slot: &RefCell<Option<Result<T, tx0mq_reactor::Failure>>>, what: &str) -> T {
    match slot.borrow_mut().take() {
        Some(Ok(value)) => value,
        Some(Err(failure)) => panic!("{what}: failed with {failure:#}"),
        None => unreachable!("iterate_until_cond returned before the outcome"),
    }
}

/// A few passes without waiting: lets work that is already pending run.
pub fn settle<S: 'static>(reactor: &Reactor<S>) {
    for _ in 0..5 {
        reactor
            .iterate(Duration::ZERO)
            .expect("iterate the reactor");
    }
}

/// A reactor on a fake clock, without signal handling, that re-raises
/// panics in callbacks (see [`crate::reactor`]).
pub fn fake_reactor() -> Reactor {
    fake_clock_reactor(())
}

/// The text of a caught panic (`catch_unwind`'s payload): a test that
/// expects a panic asserts on what it said.
pub fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(text) => *text,
        Err(payload) => payload
            .downcast::<&str>()
            .map(|s| s.to_string())
            .unwrap_or_default(),
    }
}
