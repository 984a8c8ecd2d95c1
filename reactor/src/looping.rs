//! [`LoopingCall`]: call a function every interval (Twisted's `task.LoopingCall`).

use std::cell::RefCell;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::time::Duration;

use crate::callback::CallbackResult;
use crate::deferred::{Deferred, Failure};
use crate::error::{Error, Result};
use crate::reactor::{Ctx, Reactor, WeakReactor};
use crate::timer::DelayedCall;

type LoopFn<S> = Box<dyn FnMut(&mut Ctx<'_, S>, u64) -> std::result::Result<(), Failure>>;

struct LoopState<S: 'static> {
    /// `None` while the function runs.
    f: Option<LoopFn<S>>,
    interval: Duration,
    start_time: Duration,
    run_at_start: bool,
    last_time: Option<Duration>,
    running: bool,
    call: Option<DelayedCall>,
    deferred: Option<Deferred<()>>,
}

/// Calls a function every `interval` on the reactor (Twisted's `LoopingCall`).
///
/// Calls are aligned to the start time: a loop started at `t` with interval
/// `i` runs at `t + i`, `t + 2i`, ... If the reactor was busy and intervals
/// were missed, the next call makes up for none of them; a loop made with
/// [`with_count`](Self::with_count) learns how many intervals passed
/// (Twisted's `LoopingCall.withCount`).
///
/// If the function returns `Err` (or panics), the loop stops and the
/// `Deferred` returned by [`start`](Self::start) fails with that error;
/// [`stop`](Self::stop) makes it succeed.
///
/// ```
/// use std::time::Duration;
/// use tx0mq_reactor::{LoopingCall, Reactor};
///
/// let reactor = Reactor::builder().state(Vec::new()).fake_clock().build()?;
/// let lc = LoopingCall::with_count(&reactor, |cx, missed| {
///     let now = cx.reactor.seconds();
///     cx.state.push((now, missed));
/// });
/// lc.start(Duration::from_secs(1), false)?;
/// reactor.advance(Duration::from_secs(1))?;
/// reactor.advance(Duration::from_millis(3500))?; // late: 3 intervals went by
/// lc.stop()?;
/// let calls = reactor.access_state(|v| v.clone())?;
/// assert_eq!(calls, [(Duration::from_secs(1), 1), (Duration::from_millis(4500), 3)]);
/// # Ok::<(), tx0mq_reactor::Error>(())
/// ```
pub struct LoopingCall<S: 'static = ()> {
    state: Rc<RefCell<LoopState<S>>>,
    reactor: WeakReactor<S>,
}

impl<S: 'static> Clone for LoopingCall<S> {
    fn clone(&self) -> Self {
        LoopingCall {
            state: self.state.clone(),
            reactor: self.reactor.clone(),
        }
    }
}

impl<S: 'static> fmt::Debug for LoopingCall<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.state.try_borrow() {
            Ok(st) => f
                .debug_struct("LoopingCall")
                .field("running", &st.running)
                .field("interval", &st.interval)
                .finish(),
            Err(_) => f.write_str("LoopingCall { (calling) }"),
        }
    }
}

impl<S: 'static> LoopingCall<S> {
    /// A loop that calls `f` (not started yet).
    pub fn new<F, R>(reactor: &Reactor<S>, mut f: F) -> Self
    where
        F: FnMut(&mut Ctx<'_, S>) -> R + 'static,
        R: CallbackResult,
    {
        Self::with_count(reactor, move |cx, _| f(cx))
    }

    /// A loop that calls `f` with the number of intervals since its last call:
    /// 1 when on time, more when the reactor was late.
    pub fn with_count<F, R>(reactor: &Reactor<S>, mut f: F) -> Self
    where
        F: FnMut(&mut Ctx<'_, S>, u64) -> R + 'static,
        R: CallbackResult,
    {
        let f: LoopFn<S> = Box::new(move |cx, count| {
            f(cx, count)
                .into_callback_result()
                .map_err(Failure::from_boxed)
        });
        LoopingCall {
            state: Rc::new(RefCell::new(LoopState {
                f: Some(f),
                interval: Duration::ZERO,
                start_time: Duration::ZERO,
                run_at_start: false,
                last_time: None,
                running: false,
                call: None,
                deferred: None,
            })),
            reactor: reactor.downgrade(),
        }
    }

    /// Starts calling every `interval`; with `now`, the first call is on the
    /// next pass of the reactor rather than one interval from now. (Twisted
    /// calls it inside `start`; here it waits for the reactor, so it can be
    /// handed the state.) The returned Deferred fires with `()` on
    /// [`stop`](Self::stop), or fails with the function's error.
    ///
    /// # Errors
    ///
    /// [`Error::LoopAlreadyRunning`] if it is running; [`Error::ReactorGone`]
    /// if its reactor was dropped.
    pub fn start(&self, interval: Duration, now: bool) -> Result<Deferred<()>> {
        let reactor = self.reactor.upgrade().ok_or(Error::ReactorGone)?;
        let deferred = Deferred::new();
        {
            let mut st = self
                .state
                .try_borrow_mut()
                .map_err(|_| Error::LoopAlreadyRunning)?;
            if st.running {
                return Err(Error::LoopAlreadyRunning);
            }
            st.running = true;
            st.interval = interval;
            st.start_time = reactor.seconds();
            st.run_at_start = now;
            st.last_time = None;
            st.deferred = Some(deferred.clone());
        }
        if now {
            self.schedule(&reactor, Duration::ZERO);
        } else {
            self.schedule_next(&reactor);
        }
        Ok(deferred)
    }

    /// Stops the loop and fires the Deferred that `start` returned. Safe to call
    /// from inside the loop's own function.
    ///
    /// # Errors
    ///
    /// [`Error::NotRunning`] if the loop is not running.
    pub fn stop(&self) -> Result<()> {
        let (call, deferred) = {
            let mut st = self.state.borrow_mut();
            if !st.running {
                return Err(Error::NotRunning);
            }
            st.running = false;
            (st.call.take(), st.deferred.take())
        };
        if let Some(call) = call {
            let _ = call.cancel();
        }
        if let Some(deferred) = deferred {
            let _ = deferred.callback(());
        }
        Ok(())
    }

    /// True between `start` and `stop` (or a failure).
    pub fn running(&self) -> bool {
        self.state.borrow().running
    }

    /// The interval it was last started with.
    pub fn interval(&self) -> Duration {
        self.state.borrow().interval
    }

    fn schedule(&self, reactor: &Reactor<S>, delay: Duration) {
        let this = self.clone();
        let call = reactor.call_later(delay, move |cx| this.fire(cx));
        self.state.borrow_mut().call = Some(call);
    }

    /// Schedules the call at the next interval boundary after now.
    fn schedule_next(&self, reactor: &Reactor<S>) {
        let (interval, start) = {
            let st = self.state.borrow();
            (st.interval, st.start_time)
        };
        let delay = if interval.is_zero() {
            Duration::ZERO
        } else {
            let running_for = reactor.seconds().saturating_sub(start).as_nanos();
            let step = interval.as_nanos();
            nanos(step - running_for % step)
        };
        self.schedule(reactor, delay);
    }

    fn fire(&self, cx: &mut Ctx<'_, S>) {
        let now = cx.reactor.seconds();
        let taken = {
            let mut st = self.state.borrow_mut();
            st.call = None;
            if !st.running {
                return;
            }
            let count = st.count_at(now);
            if count == 0 {
                None
            } else {
                st.last_time = Some(now);
                st.f.take().map(|f| (f, count))
            }
        };
        let Some((mut f, count)) = taken else {
            self.schedule_next(cx.reactor);
            return;
        };
        let outcome = match catch_unwind(AssertUnwindSafe(|| f(cx, count))) {
            Ok(result) => result,
            Err(_) => Err(Failure::msg("the LoopingCall's function panicked")),
        };
        let failed = {
            let mut st = self.state.borrow_mut();
            st.f = Some(f);
            match outcome {
                Ok(()) => None,
                Err(failure) if st.running => {
                    st.running = false;
                    st.deferred.take().map(|d| (d, failure))
                }
                Err(failure) => {
                    log::error!("LoopingCall failed after it was stopped: {failure}");
                    None
                }
            }
        };
        if let Some((deferred, failure)) = failed {
            let _ = deferred.errback(failure);
            return;
        }
        if self.running() && self.state.borrow().call.is_none() {
            self.schedule_next(cx.reactor);
        }
    }
}

impl<S: 'static> LoopState<S> {
    /// How many interval boundaries lie between the last call and `now`.
    fn count_at(&self, now: Duration) -> u64 {
        if self.interval.is_zero() {
            return 1;
        }
        let step = self.interval.as_nanos() as i128;
        let start = self.start_time.as_nanos() as i128;
        let last = match self.last_time {
            Some(t) => t.as_nanos() as i128,
            None if self.run_at_start => start - step,
            None => start,
        };
        let interval_of = |t: i128| (t - start).div_euclid(step);
        let count = interval_of(now.as_nanos() as i128) - interval_of(last);
        u64::try_from(count).unwrap_or(0)
    }
}

fn nanos(n: u128) -> Duration {
    Duration::from_nanos(u64::try_from(n).unwrap_or(u64::MAX))
}
