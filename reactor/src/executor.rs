//! Coroutines on the reactor: [`Reactor::spawn`], [`ensure_deferred`],
//! [`Deferred::from_future`] and [`gather_futures`].
//!
//! A single-threaded executor lives inside the reactor. Spawned futures run
//! on the reactor thread, so they need not be `Send`; each one is driven
//! until it completes, and its output fires the [`Deferred`] that `spawn`
//! returned (Twisted's `ensureDeferred`).
//!
//! # How wake-ups reach the reactor
//!
//! A task's first poll happens inside `spawn`, as Twisted's `ensureDeferred`
//! starts its coroutine at once; later polls happen in the reactor's pass.
//! Tasks live in a slab; each slot carries a generation, so a stale waker can
//! never reach a later task that reuses the slot. A task's [`Waker`] (std's,
//! built safely from an `Arc` with [`std::task::Wake`], hence `Send + Sync`)
//! pushes the task's id onto one mutex-protected ready queue, at most once
//! until the task is polled again (an atomic flag deduplicates). The reactor
//! drains that queue in one step of each pass, after thread calls, timers
//! and ready sources, and polls the tasks that were queued when the step
//! began; tasks woken meanwhile wait for the next pass. A non-empty queue
//! makes the next poll non-blocking.
//!
//! A waker called on the reactor thread needs nothing more: the reactor is
//! not blocked, and it looks at the queue before it next polls. A waker
//! called from another thread that finds the queue empty also wakes the
//! reactor's one `mio::Waker` (the one [`call_from_thread`] uses), so a
//! reactor blocked in the kernel returns at once.
//!
//! # What it costs when unused
//!
//! The executor is created by the first `spawn`. Until then the reactor's
//! pass pays two checks of an empty `OnceCell` (one to run tasks, one when
//! computing the poll timeout): no lock, no allocation, no syscall.
//!
//! # Cancellation, errors and panics
//!
//! Cancelling the returned Deferred drops the future (at once, or right after
//! its current poll if it cancels itself). The Deferred then fails with
//! [`Error::Cancelled`], as any cancelled Deferred. An `Err` returned by the
//! future goes down the Deferred's errback path. A panic while polling the
//! future is always caught, whatever [`ReactorBuilder::catch_panics`] says:
//! the task ends and its Deferred fails with [`Error::Panicked`]. As for any
//! Deferred, a failure nobody handles is logged when the last handle goes.
//! The reactor keeps running in every case.
//!
//! # State
//!
//! Futures get no [`Ctx`](crate::Ctx), but they are polled outside every
//! reactor callback, so the state is free: a task that holds a [`Reactor`]
//! may use [`Reactor::access_state`] or [`Reactor::with_ctx`]. A task that
//! holds a `Reactor` keeps it alive until the task ends, as a timer's closure
//! does.
//!
//! [`call_from_thread`]: crate::ThreadHandle::call_from_thread
//! [`ReactorBuilder::catch_panics`]: crate::ReactorBuilder::catch_panics
//! [`Waker`]: std::task::Waker
//! [`Error::Cancelled`]: crate::Error::Cancelled
//! [`Error::Panicked`]: crate::Error::Panicked

use std::future::Future;

use crate::deferred::{gather_results, Deferred};
use crate::reactor::Reactor;

pub use crate::task::TaskOutput;

impl<T: 'static> Deferred<T> {
    /// A Deferred for the outcome of `future`, run on `reactor`: the same as
    /// [`reactor.spawn(future)`](Reactor::spawn).
    pub fn from_future<S, F>(reactor: &Reactor<S>, future: F) -> Self
    where
        S: 'static,
        F: Future + 'static,
        F::Output: TaskOutput<Value = T>,
    {
        reactor.spawn(future)
    }
}

/// Runs `future` on `reactor` and returns a Deferred for its outcome
/// (Twisted's `ensureDeferred`): the same as [`Reactor::spawn`].
///
/// ```
/// use tx0mq_reactor::deferred::{succeed, Deferred};
/// use tx0mq_reactor::{ensure_deferred, Failure, Reactor};
///
/// let reactor = Reactor::builder().fake_clock().build()?;
/// let d: Deferred<usize> = ensure_deferred(&reactor, async {
///     let word = succeed("four").await?;
///     Ok::<_, Failure>(word.len())
/// });
/// reactor.iterate(std::time::Duration::ZERO)?;
/// assert!(d.called());
/// # d.add_callback(|n| Ok(n));
/// # Ok::<(), tx0mq_reactor::Error>(())
/// ```
pub fn ensure_deferred<S, F>(
    reactor: &Reactor<S>,
    future: F,
) -> Deferred<<F::Output as TaskOutput>::Value>
where
    S: 'static,
    F: Future + 'static,
    F::Output: TaskOutput,
{
    reactor.spawn(future)
}

/// Runs every future on `reactor` and gathers their values, in input order,
/// or the first failure ([`gather_results`] over spawned futures; Twisted's
/// `gatherResults([ensureDeferred(c) for c in coros])`).
///
/// As with `gather_results`, the first failure fails the result with a
/// [`FirstError`](crate::deferred::FirstError) and the other tasks carry on;
/// cancelling the result cancels (drops) the tasks that have not finished.
///
/// ```
/// use std::time::Duration;
/// use tx0mq_reactor::deferred::sleep;
/// use tx0mq_reactor::{gather_futures, Failure, Reactor};
///
/// let reactor = Reactor::builder().fake_clock().build()?;
/// let jobs = (1..=3u64).map(|n| {
///     let r = reactor.clone();
///     async move {
///         sleep(&r, Duration::from_secs(n)).await?;
///         Ok::<_, Failure>(n * 10)
///     }
/// });
/// let all = gather_futures(&reactor, jobs);
/// reactor.advance(Duration::from_secs(3))?;
/// assert!(all.called());
/// # all.add_callback(|v| { assert_eq!(v, [10, 20, 30]); Ok(v) });
/// # Ok::<(), tx0mq_reactor::Error>(())
/// ```
pub fn gather_futures<S, I, F>(
    reactor: &Reactor<S>,
    futures: I,
) -> Deferred<Vec<<F::Output as TaskOutput>::Value>>
where
    S: 'static,
    I: IntoIterator<Item = F>,
    F: Future + 'static,
    F::Output: TaskOutput,
{
    gather_results(futures.into_iter().map(|f| reactor.spawn(f)).collect())
}
