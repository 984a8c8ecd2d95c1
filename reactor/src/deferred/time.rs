//! Deferreds on the reactor's clock: [`defer_later`] and
//! [`Deferred::add_timeout`].

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use super::{Deferred, IntoStep};
use crate::error::Error;
use crate::{DelayedCall, Reactor};

/// A Deferred that fires with the outcome of `f`, called `delay` from now
/// (Twisted's `task.deferLater`).
///
/// `f` runs from a reactor timer but, like every Deferred step, gets no
/// reactor context: capture what it needs. It returns anything a step may
/// return (a `Result<T, Failure>`, a `Deferred<T>` to wait for, a
/// [`Step`](super::Step)). Cancelling the Deferred before the timer runs
/// cancels the timer, so `f` never runs, and fails the Deferred with
/// [`Error::Cancelled`](crate::Error::Cancelled).
///
/// ```
/// use std::time::Duration;
/// use tx0mq_reactor::deferred::defer_later;
/// use tx0mq_reactor::Reactor;
///
/// let reactor = Reactor::builder().fake_clock().build()?;
/// let d = defer_later(&reactor, Duration::from_secs(2), || Ok("done"));
/// reactor.advance(Duration::from_secs(1))?;
/// assert!(!d.called());
/// reactor.advance(Duration::from_secs(1))?;
/// assert!(d.called());
/// # d.add_callback(|v| Ok(v));
/// # Ok::<(), tx0mq_reactor::Error>(())
/// ```
pub fn defer_later<S, T, R>(
    reactor: &Reactor<S>,
    delay: Duration,
    f: impl FnOnce() -> R + 'static,
) -> Deferred<T>
where
    S: 'static,
    T: 'static,
    R: IntoStep<T>,
{
    let timer: Rc<Cell<Option<DelayedCall>>> = Rc::default();
    let slot = Rc::clone(&timer);
    let d = Deferred::with_canceller(move |_| {
        if let Some(call) = slot.take() {
            // Fails only if the reactor is gone, when nothing is left to stop.
            let _ = call.cancel();
        }
    });
    let target = d.clone();
    timer.set(Some(reactor.call_later(delay, move |_| {
        // Cannot fail: a cancel before this point would have cancelled the timer.
        let _ = target.fire(f().into_step());
    })));
    d
}

impl<T: 'static> Deferred<T> {
    /// Fails the Deferred with [`Error::TimedOut`] if it has no result
    /// `timeout` from now (Twisted's `addTimeout`).
    ///
    /// When the time is up the Deferred is [cancelled](Deferred::cancel)
    /// (its canceller runs, or the Deferred it is paused on is cancelled),
    /// and a [`Cancelled`](Error::Cancelled) failure that comes out of that
    /// is turned into `TimedOut(timeout)` at this point of the chain; other
    /// outcomes pass unchanged. If the Deferred gets its result first, the
    /// timer is cancelled when the chain reaches this point.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tx0mq_reactor::deferred::Deferred;
    /// use tx0mq_reactor::{Error, Reactor};
    ///
    /// let reactor = Reactor::builder().fake_clock().build()?;
    /// let reply: Deferred<String> = Deferred::new();
    /// reply
    ///     .add_timeout(&reactor, Duration::from_secs(5))
    ///     .add_errback(|f| match f.downcast_ref::<Error>() {
    ///         Some(Error::TimedOut(_)) => Ok("no answer".to_string()),
    ///         _ => Err(f),
    ///     });
    /// reactor.advance(Duration::from_secs(5))?;
    /// assert!(reply.called());
    /// assert!(reply.callback("too late".into()).is_ok()); // ignored once, after a cancel
    /// # Ok::<(), Error>(())
    /// ```
    pub fn add_timeout<S: 'static>(&self, reactor: &Reactor<S>, timeout: Duration) -> &Self {
        let timed_out = Rc::new(Cell::new(false));
        let flag = Rc::clone(&timed_out);
        let target = self.clone();
        let timer = reactor.call_later(timeout, move |_| {
            flag.set(true);
            target.cancel();
        });
        self.add_both(move |result| {
            if timer.active() {
                // Fails only if the reactor is gone, when nothing is left to stop.
                let _ = timer.cancel();
            }
            match result {
                Err(failure) if timed_out.get() && failure.is_cancelled() => {
                    Err(Error::TimedOut(timeout).into())
                }
                other => other,
            }
        })
    }
}
