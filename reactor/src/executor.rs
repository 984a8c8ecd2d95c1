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

use std::cell::{Cell, OnceCell, RefCell};
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::{pin, Pin};
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, ThreadId};

use slab::Slab;

use crate::callback::panic_message;
use crate::deferred::{gather_results, Deferred, Failure};
use crate::error::Error;
use crate::reactor::Reactor;

/// What a spawned future may return: `()`, or a `Result` whose error becomes
/// the Deferred's failure.
///
/// Any error type that converts into a [`Failure`] works, so `?` on
/// `std::error::Error` types works inside the future when it returns
/// `Result<T, Failure>`.
pub trait TaskOutput {
    /// The value the Deferred fires with.
    type Value: 'static;
    /// The Deferred's outcome.
    fn into_task_result(self) -> Result<Self::Value, Failure>;
}

impl TaskOutput for () {
    type Value = ();
    fn into_task_result(self) -> Result<(), Failure> {
        Ok(())
    }
}

impl<T: 'static, E: Into<Failure>> TaskOutput for Result<T, E> {
    type Value = T;
    fn into_task_result(self) -> Result<T, Failure> {
        self.map_err(Into::into)
    }
}

/// Identifies a task: its slab key and the slot's generation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct TaskId {
    key: usize,
    gen: u32,
}

/// What wakers, on any thread, share with the reactor.
struct Shared {
    ready: Mutex<Vec<TaskId>>,
    poll_waker: Arc<mio::Waker>,
    reactor_thread: ThreadId,
    open: AtomicBool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Vec<TaskId>> {
        // Pushing a Copy id cannot leave the Vec inconsistent.
        self.ready.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn schedule(&self, id: TaskId) {
        let was_empty = {
            let mut ready = self.lock();
            if !self.open.load(Ordering::Acquire) {
                return;
            }
            let was_empty = ready.is_empty();
            ready.push(id);
            was_empty
        };
        // On the reactor thread the reactor is not blocked, and checks the
        // queue before it polls. From another thread, the push that finds
        // the queue empty wakes the poll; later pushes find it non-empty
        // until the reactor drains it, so they need not.
        if was_empty && thread::current().id() != self.reactor_thread {
            if let Err(e) = self.poll_waker.wake() {
                log::error!("wake the reactor for a task: {e}");
            }
        }
    }
}

/// A task's waker.
struct TaskWaker {
    id: TaskId,
    /// On the ready queue (or finished): further wakes are no-ops.
    queued: AtomicBool,
    shared: Arc<Shared>,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.queued.swap(true, Ordering::AcqRel) {
            self.shared.schedule(self.id);
        }
    }
}

type TaskFuture = Pin<Box<dyn Future<Output = ()>>>;

struct Slot {
    gen: u32,
    /// `None` while the task is being polled.
    future: Option<TaskFuture>,
    flag: Arc<TaskWaker>,
    waker: Waker,
    /// Cancelled while being polled: drop it when the poll returns.
    cancelled: bool,
}

/// The executor proper, created by the first `spawn`.
struct ExecCore {
    tasks: RefCell<Slab<Slot>>,
    shared: Arc<Shared>,
    next_gen: Cell<u32>,
    /// The batch being run, kept to reuse its allocation.
    spare: RefCell<Vec<TaskId>>,
    /// How many first polls (made inside `spawn`) are on the stack.
    nested: Cell<u32>,
}

/// First polls made inside `spawn` nest when a future spawns another before
/// its first await; past this depth the new task waits for the next pass
/// instead, so recursive spawning cannot overflow the stack.
const MAX_NESTED: u32 = 16;

/// Decrements the nesting count, even on unwind.
struct Undo<'a>(&'a Cell<u32>);

impl Drop for Undo<'_> {
    fn drop(&mut self) {
        self.0.set(self.0.get().saturating_sub(1));
    }
}

impl Drop for ExecCore {
    fn drop(&mut self) {
        self.shared.open.store(false, Ordering::Release);
        self.shared.lock().clear();
    }
}

impl ExecCore {
    /// The id the next [`insert`](Self::insert) will use.
    fn next_id(&self) -> TaskId {
        let gen = self.next_gen.get().wrapping_add(1);
        self.next_gen.set(gen);
        TaskId {
            key: self.tasks.borrow().vacant_key(),
            gen,
        }
    }

    /// Adds a task under the id [`next_id`](Self::next_id) just gave (no
    /// other insert can come between them: no user code runs there), and
    /// gives it its first poll: at once, as Twisted's `ensureDeferred` starts
    /// a coroutine, unless spawns are already nested [`MAX_NESTED`] deep in
    /// first polls, when it is queued for the next pass instead.
    fn insert(&self, id: TaskId, future: TaskFuture) {
        let flag = Arc::new(TaskWaker {
            id,
            queued: AtomicBool::new(true),
            shared: Arc::clone(&self.shared),
        });
        let key = self.tasks.borrow_mut().insert(Slot {
            gen: id.gen,
            future: Some(future),
            waker: Waker::from(Arc::clone(&flag)),
            flag,
            cancelled: false,
        });
        debug_assert_eq!(key, id.key, "next_id and insert must agree");
        if self.nested.get() < MAX_NESTED {
            self.nested.set(self.nested.get() + 1);
            let _undo = Undo(&self.nested);
            self.poll_task(id);
        } else {
            self.shared.schedule(id);
        }
    }

    /// Polls the tasks queued when this was called.
    fn run_ready(&self) {
        let mut batch = self.spare.take();
        std::mem::swap(&mut *self.shared.lock(), &mut batch);
        for &id in &batch {
            self.poll_task(id);
        }
        batch.clear();
        self.spare.replace(batch);
    }

    fn poll_task(&self, id: TaskId) {
        let taken = {
            let mut tasks = self.tasks.borrow_mut();
            match tasks.get_mut(id.key) {
                Some(slot) if slot.gen == id.gen => {
                    // Cleared before the poll: a wake during the poll queues
                    // the task again.
                    slot.flag.queued.store(false, Ordering::Release);
                    slot.future.take().map(|f| (f, slot.waker.clone()))
                }
                _ => None,
            }
        };
        let Some((mut future, waker)) = taken else {
            return;
        };
        let mut cx = Context::from_waker(&waker);
        // The future's own panics are caught inside (they fail its
        // Deferred); this catches the Deferred's callbacks, which run when
        // the task completes.
        let done = match catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(&mut cx))) {
            Ok(poll) => poll.is_ready(),
            Err(payload) => {
                log::error!(
                    "a callback of a task's Deferred panicked: {}",
                    panic_message(&*payload)
                );
                true
            }
        };
        let leftover = {
            let mut tasks = self.tasks.borrow_mut();
            let live = matches!(tasks.get(id.key), Some(slot) if slot.gen == id.gen);
            if !live {
                Some((future, None))
            } else if done || tasks.get(id.key).is_some_and(|s| s.cancelled) {
                let slot = tasks.remove(id.key);
                slot.flag.queued.store(true, Ordering::Release);
                Some((future, Some(slot)))
            } else {
                if let Some(slot) = tasks.get_mut(id.key) {
                    slot.future = Some(future);
                }
                None
            }
        };
        drop(leftover); // outside the borrow: dropping a future runs its destructors
    }

    /// Drops a task's future (now, or after its current poll).
    fn cancel(&self, id: TaskId) {
        let removed = {
            let mut tasks = self.tasks.borrow_mut();
            let polling = match tasks.get_mut(id.key) {
                Some(slot) if slot.gen == id.gen => slot.future.is_none(),
                _ => return,
            };
            if polling {
                if let Some(slot) = tasks.get_mut(id.key) {
                    slot.cancelled = true;
                }
                None
            } else {
                let slot = tasks.remove(id.key);
                slot.flag.queued.store(true, Ordering::Release);
                Some(slot)
            }
        };
        drop(removed); // outside the borrow
    }
}

/// The reactor's executor; empty until the first `spawn`.
#[derive(Default)]
pub(crate) struct Executor {
    core: OnceCell<Rc<ExecCore>>,
}

impl Executor {
    /// Pass step: polls the tasks woken before it began.
    pub(crate) fn run_ready(&self) {
        if let Some(core) = self.core.get() {
            core.run_ready();
        }
    }

    /// Whether a woken task is waiting (the next poll must not block).
    pub(crate) fn has_ready(&self) -> bool {
        self.core
            .get()
            .is_some_and(|core| !core.shared.lock().is_empty())
    }

    fn len(&self) -> usize {
        self.core.get().map_or(0, |core| core.tasks.borrow().len())
    }

    fn core(&self, poll_waker: impl FnOnce() -> Arc<mio::Waker>) -> Rc<ExecCore> {
        Rc::clone(self.core.get_or_init(|| {
            Rc::new(ExecCore {
                tasks: RefCell::new(Slab::new()),
                shared: Arc::new(Shared {
                    ready: Mutex::new(Vec::new()),
                    poll_waker: poll_waker(),
                    reactor_thread: thread::current().id(),
                    open: AtomicBool::new(true),
                }),
                next_gen: Cell::new(0),
                spare: RefCell::new(Vec::new()),
                nested: Cell::new(0),
            })
        }))
    }
}

impl<S: 'static> Reactor<S> {
    /// Runs `future` on the reactor thread until it completes, and returns a
    /// Deferred for its outcome (Twisted's `ensureDeferred`; asyncio's
    /// `ensure_future`).
    ///
    /// The future need not be `Send`. As Twisted's `ensureDeferred` starts a
    /// coroutine, `spawn` polls it once at once: the code before its first
    /// pending `.await` runs inside `spawn`, in the caller's context (so a
    /// request it sends is on its way when `spawn` returns, and a future that
    /// never waits has fired its Deferred already). Afterwards the reactor
    /// polls it each time it is woken. (When spawns nest, each inside the
    /// first poll of the one before, more than 16 deep, the deeper ones are
    /// first polled on the next pass instead.)
    ///
    /// It may return `()` or a `Result`; an `Err` fails the Deferred.
    /// Cancelling the Deferred drops the future; a panic inside it fails the
    /// Deferred with [`Error::Panicked`]. See the [module docs](self) for
    /// how wake-ups reach the reactor.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tx0mq_reactor::deferred::sleep;
    /// use tx0mq_reactor::{Failure, Reactor};
    ///
    /// let reactor = Reactor::builder().handle_signals(false).build()?;
    /// let r = reactor.clone();
    /// reactor.spawn(async move {
    ///     sleep(&r, Duration::from_millis(10)).await?;
    ///     r.stop()?;
    ///     Ok::<(), Failure>(())
    /// });
    /// reactor.run()?;
    /// # Ok::<(), tx0mq_reactor::Error>(())
    /// ```
    pub fn spawn<F>(&self, future: F) -> Deferred<<F::Output as TaskOutput>::Value>
    where
        F: Future + 'static,
        F::Output: TaskOutput,
    {
        let core = self.inner.executor.core(|| self.inner.threads.poll_waker());
        let id = core.next_id();
        let weak: Weak<ExecCore> = Rc::downgrade(&core);
        let done = Deferred::with_canceller(move |_| {
            if let Some(core) = weak.upgrade() {
                core.cancel(id);
            }
        });
        let target = done.clone();
        core.insert(
            id,
            Box::pin(async move {
                let mut future = pin!(future);
                let outcome = std::future::poll_fn(|cx| {
                    match catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))) {
                        Ok(Poll::Pending) => Poll::Pending,
                        Ok(Poll::Ready(output)) => Poll::Ready(output.into_task_result()),
                        Err(payload) => Poll::Ready(Err(Failure::new(Error::Panicked(
                            panic_message(&*payload),
                        )))),
                    }
                })
                .await;
                // Err(AlreadyCalled) only if someone else fired the Deferred;
                // after a cancel, this late result is accepted and dropped.
                let _ = match outcome {
                    Ok(value) => target.callback(value),
                    Err(failure) => target.errback(failure),
                };
            }),
        );
        done
    }

    /// How many spawned tasks have not completed (nor been cancelled).
    pub fn pending_tasks(&self) -> usize {
        self.inner.executor.len()
    }

    /// Runs the reactor until `future` completes, and returns its outcome
    /// (asyncio's `run_until_complete`; Twisted's `task.react` without the
    /// exit). The future is [spawned](Self::spawn); when it completes, the
    /// reactor stops (shutdown triggers run, as for any stop). A future that
    /// completes inside `spawn` returns at once, without running the reactor.
    ///
    /// If the reactor stops before the future completes (a signal, another
    /// `stop`), the future is cancelled (dropped) and the outcome is the
    /// [`Error::Cancelled`] failure.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tx0mq_reactor::{sleep, Failure, Reactor};
    ///
    /// let reactor = Reactor::builder().handle_signals(false).build()?;
    /// let r = reactor.clone();
    /// let answer = reactor.run_until_complete(async move {
    ///     sleep(&r, Duration::from_millis(5)).await?;
    ///     Ok::<_, Failure>(42)
    /// })?;
    /// assert_eq!(answer?, 42);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As for [`run`](Self::run) (the outer `Result`); the future's own
    /// failure is the inner one.
    #[allow(clippy::type_complexity)]
    pub fn run_until_complete<F>(
        &self,
        future: F,
    ) -> crate::Result<Result<<F::Output as TaskOutput>::Value, Failure>>
    where
        F: Future + 'static,
        F::Output: TaskOutput,
    {
        let slot = Rc::new(RefCell::new(None));
        let store = Rc::clone(&slot);
        let stopper = self.downgrade();
        let done = self.spawn(future);
        done.clone().then_both(move |result| {
            *store.borrow_mut() = Some(result);
            if let Some(reactor) = stopper.upgrade() {
                if reactor.running() {
                    // Fails only if a stop is already under way.
                    let _ = reactor.stop();
                }
            }
            Ok(())
        });
        if slot.borrow().is_none() {
            let run = self.run();
            if slot.borrow().is_none() {
                done.cancel();
            }
            run?;
        }
        let outcome = slot.borrow_mut().take();
        Ok(outcome.unwrap_or_else(|| Err(Failure::new(Error::Cancelled))))
    }
}

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
