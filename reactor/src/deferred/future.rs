//! Awaiting a [`Deferred`]: its [`Future`] implementation, [`sleep`], and
//! [`Deferred::with_timeout`].
//!
//! The semantics are described in the [parent module's docs](super)
//! ("Awaiting"). Implementation: each awaiting handle owns an
//! [`AwaitSlot`]; its first pending poll appends a chain entry that moves
//! the result into the slot and then wakes the waker stored there.

use std::cell::RefCell;
use std::future::Future;
use std::mem;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use super::{consumed, defer_later, Deferred, Failure, Next, Take};
use crate::Reactor;

/// Where an awaiting handle's result lands, shared by the handle and its
/// chain entry.
pub(super) type AwaitSlot<T> = Rc<RefCell<Awaited<T>>>;

/// The state of one awaiting handle.
pub(super) enum Awaited<T> {
    /// The entry is in the chain; wake this when it runs.
    Waiting(Option<Waker>),
    /// The chain reached the entry: the result, for the next poll.
    Delivered(Result<T, Failure>),
    /// The handle took the result.
    Taken,
}

/// Awaiting a Deferred yields its result; see the [module docs](super)
/// ("Awaiting").
///
/// ```
/// use std::time::Duration;
/// use tx0mq_reactor::deferred::{defer_later, Deferred};
/// use tx0mq_reactor::Reactor;
///
/// let reactor = Reactor::builder().fake_clock().build()?;
/// let later: Deferred<u32> = defer_later(&reactor, Duration::from_secs(1), || Ok(20));
/// let doubled = reactor.spawn(async move {
///     let n = later.await?;
///     Ok::<_, tx0mq_reactor::Failure>(n * 2)
/// });
/// reactor.advance(Duration::from_secs(1))?;
/// assert!(doubled.called());
/// # doubled.add_callback(|n| { assert_eq!(n, 40); Ok(n) });
/// # Ok::<(), tx0mq_reactor::Error>(())
/// ```
impl<T: 'static> Future for Deferred<T> {
    type Output = Result<T, Failure>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let slot = match &this.awaiting {
            Some(slot) => Rc::clone(slot),
            None => {
                match this.take_ready() {
                    Take::Taken(result) => return Poll::Ready(result),
                    Take::AlreadyConsumed => return Poll::Ready(Err(consumed())),
                    Take::NotReady => {}
                }
                let slot: AwaitSlot<T> = Rc::new(RefCell::new(Awaited::Waiting(None)));
                this.awaiting = Some(Rc::clone(&slot));
                let entry_slot = Rc::clone(&slot);
                this.push(Box::new(move |result| {
                    deliver(&entry_slot, result);
                    Next::Consumed
                }));
                slot
            }
        };
        let (poll, old_waker) = {
            let mut awaited = slot.borrow_mut();
            match mem::replace(&mut *awaited, Awaited::Taken) {
                Awaited::Delivered(result) => (Poll::Ready(result), None),
                Awaited::Waiting(old) => {
                    let keep = matches!(&old, Some(w) if w.will_wake(cx.waker()));
                    if keep {
                        *awaited = Awaited::Waiting(old);
                        (Poll::Pending, None)
                    } else {
                        *awaited = Awaited::Waiting(Some(cx.waker().clone()));
                        (Poll::Pending, old)
                    }
                }
                Awaited::Taken => (Poll::Ready(Err(consumed())), None),
            }
        };
        drop(old_waker); // outside the borrow: a foreign waker's drop is foreign code
        if poll.is_ready() {
            this.awaiting = None;
        }
        poll
    }
}

/// The chain reached an awaiting handle's entry: store the result, then wake.
fn deliver<T>(slot: &AwaitSlot<T>, result: Result<T, Failure>) {
    let previous = mem::replace(&mut *slot.borrow_mut(), Awaited::Delivered(result));
    if let Awaited::Waiting(Some(waker)) = previous {
        waker.wake();
    }
}

impl<T: 'static> Drop for Deferred<T> {
    /// Cancels the Deferred if this handle is being awaited and has no
    /// result yet (see the [module docs](super)); otherwise does nothing.
    fn drop(&mut self) {
        let Some(slot) = self.awaiting.take() else {
            return;
        };
        let waiting = matches!(slot.try_borrow().as_deref(), Ok(Awaited::Waiting(_)));
        drop(slot);
        if waiting {
            self.cancel();
        }
    }
}

impl<T: 'static> Deferred<T> {
    /// [`add_timeout`](Deferred::add_timeout), taking and returning the
    /// Deferred, for use in an `.await` expression: fails with
    /// [`Error::TimedOut`](crate::Error::TimedOut) if no result arrives within
    /// `timeout`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tx0mq_reactor::deferred::Deferred;
    /// use tx0mq_reactor::{Error, Reactor};
    ///
    /// let reactor = Reactor::builder().fake_clock().build()?;
    /// let never: Deferred<()> = Deferred::new();
    /// let r = reactor.clone();
    /// let outcome = reactor.spawn(async move {
    ///     match never.with_timeout(&r, Duration::from_secs(5)).await {
    ///         Err(f) if matches!(f.downcast_ref(), Some(Error::TimedOut(_))) => Ok("gave up"),
    ///         other => other.map(|()| "answered"),
    ///     }
    /// });
    /// reactor.advance(Duration::from_secs(5))?;
    /// assert!(outcome.called());
    /// # outcome.add_callback(|s| { assert_eq!(s, "gave up"); Ok(s) });
    /// # Ok::<(), Error>(())
    /// ```
    #[must_use = "the Deferred carries the outcome; await it or add callbacks"]
    pub fn with_timeout<S: 'static>(self, reactor: &Reactor<S>, timeout: Duration) -> Self {
        self.add_timeout(reactor, timeout);
        self
    }
}

/// A Deferred that fires with `()` after `duration` (asyncio's `sleep`;
/// Twisted's `deferLater(reactor, duration)`), to be awaited.
///
/// Dropping the awaiting future (cancelling the task, say) cancels the
/// timer.
///
/// ```
/// use std::time::Duration;
/// use tx0mq_reactor::deferred::sleep;
/// use tx0mq_reactor::Reactor;
///
/// let reactor = Reactor::builder().fake_clock().build()?;
/// let r = reactor.clone();
/// let done = reactor.spawn(async move {
///     sleep(&r, Duration::from_secs(3)).await?;
///     Ok::<_, tx0mq_reactor::Failure>(r.seconds())
/// });
/// reactor.advance(Duration::from_secs(2))?;
/// assert!(!done.called());
/// reactor.advance(Duration::from_secs(1))?;
/// assert!(done.called());
/// # done.add_callback(|t| Ok(t));
/// # Ok::<(), tx0mq_reactor::Error>(())
/// ```
pub fn sleep<S: 'static>(reactor: &Reactor<S>, duration: Duration) -> Deferred<()> {
    defer_later(reactor, duration, || Ok(()))
}
