//! The hub: [`Reactor`] and its builder, the [`Ctx`] every callback gets, the
//! [`ThreadHandle`] other threads hold, and the main loop.
//!
//! The reactor's parts are self-contained structures in modules that know
//! nothing of the reactor: the timer queue (`timer.rs`), the fd table
//! (`fd.rs`), the queue of thread calls (`thread.rs`), the system event
//! triggers (`trigger.rs`), the executor (`task.rs`), the clock and the
//! signal guard. Each stores the callbacks this module gives it (closures
//! that take a `Ctx`) and hands them back to be called. This module owns the
//! parts, runs the pass, and defines every public method of `Reactor`, each a
//! thin one over the part it concerns; no other module reaches into `Inner`.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::os::fd::{AsRawFd, RawFd};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use mio::{Events, Poll, Registry, Token};
use signal_hook::consts::{SIGINT, SIGTERM};

use crate::callback::{panic_message, Batch, CallbackResult};
use crate::clock::Clock;
use crate::deferred::{Deferred, Failure};
use crate::error::{Error, Result};
use crate::fd::{FdTable, Readiness, Role, SourceId};
use crate::keyed::Keyed;
use crate::pool::{Job, ThreadPool};
use crate::signals::{self, SignalGuard, SignalHandlerId};
use crate::stats::{nanos, CallbackKind, Counters, ReactorStats};
use crate::task::{Executor, TaskOutput};
use crate::thread::ThreadQueue;
use crate::timer::{DelayedCall, TimerFn, TimerMeta, TimerNode, TimerOps, TimerQueue};
use crate::trigger::{Phase, SystemEvent, TriggerId, Triggers};

/// What every reactor callback is handed: the reactor, and the application
/// state lent to this one callback.
///
/// The state is the value given to [`ReactorBuilder::state`] (or
/// [`Reactor::with_state`]). Every callback of a reactor (timers, readers,
/// thread calls, triggers, and the ZeroMQ connections built on it) receives the
/// same `&mut S`, one callback at a time, so state shared between callbacks needs
/// no `Rc<RefCell<_>>`.
///
/// ```
/// use std::time::Duration;
/// use tx0mq_reactor::Reactor;
///
/// #[derive(Default)]
/// struct Counts { ticks: u32 }
///
/// let reactor = Reactor::builder().state(Counts::default()).fake_clock().build()?;
/// for _ in 0..3 {
///     reactor.call_later(Duration::from_secs(1), |cx| cx.state.ticks += 1);
/// }
/// reactor.advance(Duration::from_secs(1))?;
/// assert_eq!(reactor.access_state(|s| s.ticks)?, 3);
/// # Ok::<(), tx0mq_reactor::Error>(())
/// ```
pub struct Ctx<'a, S: 'static = ()> {
    /// The reactor running this callback; use it to schedule, stop, add readers...
    pub reactor: &'a Reactor<S>,
    /// The application state, lent to this callback alone.
    pub state: &'a mut S,
}

// What the reactor's parts store: callbacks that take a `Ctx`.

/// A one-shot callback, as queued by `call_when_running`.
type Callback<S> = Box<dyn FnOnce(&mut Ctx<'_, S>)>;

/// A system event trigger, called each time its event fires.
type TriggerFn<S> = Box<dyn FnMut(&mut Ctx<'_, S>)>;

/// A reader's, writer's or source's callback.
type FdCallback<S> = Box<dyn FnMut(&mut Ctx<'_, S>)>;

/// A signal handler, called on each delivery of its signal.
type SignalFn<S> = Box<dyn FnMut(&mut Ctx<'_, S>)>;

/// What a signal that arrived calls for.
#[derive(Clone, Copy, Debug)]
enum Delivery {
    /// A call of the handler with this id, for this signal.
    Handler(i32, u64),
    /// The default for SIGINT and SIGTERM with no handler: a clean stop.
    Stop(i32),
}

/// A call queued by another thread.
type ThreadCall<S> = Box<dyn FnOnce(&mut Ctx<'_, S>) + Send>;

/// How a thread-pool job ended, as the reactor thread learns it.
enum Outcome {
    /// Its value, boxed to cross threads.
    Done(Box<dyn Any + Send>),
    /// It panicked, with this message.
    Panicked(String),
    /// It was dropped unstarted at shutdown.
    ShutDown,
}

/// What fires a `defer_to_thread` Deferred with its job's outcome.
type Completion = Box<dyn FnOnce(Outcome)>;

/// Outcomes of finished jobs, posted by the workers.
type Finished = Arc<Mutex<Vec<(u64, Outcome)>>>;

/// Twisted's default thread pool size (`ThreadPool.max`).
const DEFAULT_POOL_SIZE: usize = 10;

/// What other threads may ask about the reactor: which thread it lives on,
/// and whether it has stopped (a blocking call would wait in vain).
struct Status {
    thread: ThreadId,
    stopped: AtomicBool,
}

/// The poll's tokens for the reactor's own sources: the waker of thread calls,
/// and the signal pipe. No [`SourceId`](crate::SourceId)'s token has the upper
/// half of its bits all set (see `fd.rs`), so these never name an fd.
const WAKER_TOKEN: Token = Token(usize::MAX);
const SIGNAL_TOKEN: Token = Token(usize::MAX - 1);

/// The longest the reactor blocks in one poll while a timer is pending; longer
/// waits are split into several polls.
const MAX_POLL_TIMEOUT: Duration = Duration::from_secs(3600);

/// Builds a [`Reactor`] with options: its state, a fake clock, signal handling.
///
/// ```
/// use tx0mq_reactor::Reactor;
///
/// let reactor = Reactor::builder()
///     .state(Vec::<String>::new())
///     .handle_signals(false)
///     .build()?;
/// assert!(!reactor.running());
/// # Ok::<(), tx0mq_reactor::Error>(())
/// ```
#[must_use]
pub struct ReactorBuilder<S: 'static = ()> {
    state: S,
    fake_clock: bool,
    handle_signals: bool,
    catch_panics: bool,
    events_capacity: usize,
    pool_size: usize,
}

impl ReactorBuilder<()> {
    fn new() -> Self {
        ReactorBuilder {
            state: (),
            fake_clock: false,
            handle_signals: true,
            catch_panics: true,
            events_capacity: 1024,
            pool_size: DEFAULT_POOL_SIZE,
        }
    }
}

impl<S: 'static> ReactorBuilder<S> {
    /// Sets the application state lent to every callback as `cx.state`.
    pub fn state<T: 'static>(self, state: T) -> ReactorBuilder<T> {
        ReactorBuilder {
            state,
            fake_clock: self.fake_clock,
            handle_signals: self.handle_signals,
            catch_panics: self.catch_panics,
            events_capacity: self.events_capacity,
            pool_size: self.pool_size,
        }
    }

    /// Uses a fake clock, like Twisted's `task.Clock`: time stands still until
    /// [`Reactor::advance`] moves it, so timer tests never sleep. Timers on a
    /// fake clock never make the reactor wait in the kernel.
    pub fn fake_clock(mut self) -> Self {
        self.fake_clock = true;
        self
    }

    /// Whether [`Reactor::run`] turns SIGINT and SIGTERM into a clean
    /// [`Reactor::stop`] (default `true`, as Twisted's `installSignalHandlers`).
    /// Handlers added with [`Reactor::add_signal_handler`] are called either
    /// way; one for SIGINT or SIGTERM replaces the stop.
    pub fn handle_signals(mut self, on: bool) -> Self {
        self.handle_signals = on;
        self
    }

    /// Whether a panic in a callback is caught, logged and survived (default
    /// `true`, Twisted's policy for exceptions). With `false` it unwinds out of
    /// `run`/`iterate`/`advance`, and the reactor is left as if the callback
    /// had returned, ready to run again: not running, signal handling
    /// uninstalled, the callback still registered (unless it was a one-shot
    /// call), and the work that was due with it (other ready sources and fd
    /// events, thread calls, `call_when_running` calls, due timers) still
    /// queued, for a later pass.
    pub fn catch_panics(mut self, on: bool) -> Self {
        self.catch_panics = on;
        self
    }

    /// How many readiness events one poll can return (default 1024).
    pub fn events_capacity(mut self, capacity: usize) -> Self {
        self.events_capacity = capacity.max(1);
        self
    }

    /// The most threads the reactor's thread pool runs at once (default 10,
    /// as Twisted's). The pool starts no thread before the first
    /// [`Reactor::defer_to_thread`] or [`Reactor::call_in_thread`].
    ///
    /// ```
    /// use tx0mq_reactor::Reactor;
    ///
    /// let reactor = Reactor::builder().thread_pool_size(2).build()?;
    /// assert_eq!(reactor.thread_pool_size(), 2);
    /// # Ok::<(), tx0mq_reactor::Error>(())
    /// ```
    pub fn thread_pool_size(mut self, size: usize) -> Self {
        self.pool_size = size.max(1);
        self
    }

    /// Creates the reactor.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the poller or its waker cannot be created (out of file
    /// descriptors, say).
    pub fn build(self) -> Result<Reactor<S>> {
        let poll = Poll::new().map_err(|e| Error::io("create the poller", e))?;
        let registry = poll
            .registry()
            .try_clone()
            .map_err(|e| Error::io("clone the poller's registry", e))?;
        let threads = Arc::new(ThreadQueue::new(&registry, WAKER_TOKEN)?);
        let clock = if self.fake_clock {
            Clock::Fake(Cell::new(Duration::ZERO))
        } else {
            Clock::Real(Instant::now())
        };
        Ok(Reactor {
            inner: Rc::new(Inner {
                poll: RefCell::new(poll),
                events: RefCell::new(Events::with_capacity(self.events_capacity)),
                registry,
                clock,
                timers: RefCell::new(TimerQueue::new()),
                fds: FdTable::new(),
                threads,
                triggers: Triggers::new(),
                when_running: RefCell::new(Vec::new()),
                state: RefCell::new(self.state),
                running: Cell::new(false),
                stop_requested: Cell::new(false),
                in_pass: Cell::new(0),
                handle_signals: self.handle_signals,
                catch_panics: self.catch_panics,
                executor: Executor::default(),
                kept: RefCell::new(Vec::new()),
                exit_signal: Cell::new(None),
                signals: RefCell::new(None),
                signal_handlers: Keyed::new(),
                signal_backlog: RefCell::new(Vec::new()),
                stats: Counters::new(),
                pool: RefCell::new(None),
                pool_size: Cell::new(self.pool_size),
                pool_trigger: Cell::new(false),
                pending_jobs: RefCell::new(HashMap::new()),
                next_job: Cell::new(0),
                finished: Arc::new(Mutex::new(Vec::new())),
                status: Arc::new(Status {
                    thread: std::thread::current().id(),
                    stopped: AtomicBool::new(false),
                }),
            }),
        })
    }
}

struct Inner<S: 'static> {
    poll: RefCell<Poll>,
    events: RefCell<Events>,
    registry: Registry,
    clock: Clock,
    timers: RefCell<TimerQueue<dyn Timed<S>>>,
    fds: FdTable<FdCallback<S>>,
    threads: Arc<ThreadQueue<ThreadCall<S>>>,
    triggers: Triggers<TriggerFn<S>>,
    /// `call_when_running` calls waiting for the next `run`.
    when_running: RefCell<Vec<Callback<S>>>,
    state: RefCell<S>,
    running: Cell<bool>,
    stop_requested: Cell<bool>,
    in_pass: Cell<u32>,
    handle_signals: bool,
    catch_panics: bool,
    /// Spawned futures; empty until the first `spawn`.
    executor: Executor,
    /// Values that live as long as the reactor (see `Reactor::keep_alive`).
    kept: RefCell<Vec<Box<dyn Any>>>,
    /// The signal that stopped the last `run`, if one did.
    exit_signal: Cell<Option<i32>>,
    /// The signals the `run` under way listens for; `None` outside `run`.
    /// Borrowed only briefly, never while user code runs.
    signals: RefCell<Option<SignalGuard>>,
    /// The handlers added with `add_signal_handler`, by signal.
    signal_handlers: Keyed<i32, SignalFn<S>>,
    /// Handler calls owed for signals that arrived in a `run` a panic
    /// unwound out of before they were made; made in the next `run`.
    signal_backlog: RefCell<Vec<Delivery>>,
    /// Passes, callbacks, timer lateness (see `stats.rs`).
    stats: Counters,
    /// The thread pool, from its first use until shutdown.
    pool: RefCell<Option<ThreadPool>>,
    pool_size: Cell<usize>,
    /// Whether the shutdown trigger that stops the pool is added.
    pool_trigger: Cell<bool>,
    /// The `defer_to_thread` Deferreds waiting for their job, by job id.
    pending_jobs: RefCell<HashMap<u64, Completion>>,
    next_job: Cell<u64>,
    finished: Finished,
    status: Arc<Status>,
}

impl<S: 'static> Inner<S> {
    /// Fires the Deferreds of the jobs that finished.
    fn deliver_finished(&self) {
        let finished =
            std::mem::take(&mut *self.finished.lock().unwrap_or_else(|p| p.into_inner()));
        for (id, outcome) in finished {
            self.complete(id, outcome);
        }
    }

    fn complete(&self, id: u64, outcome: Outcome) {
        let completion = self.pending_jobs.borrow_mut().remove(&id);
        if let Some(completion) = completion {
            completion(outcome); // outside the borrow: its callbacks may defer more
        }
    }

    /// Stops the pool: drops the jobs not started (failing their Deferreds
    /// with `Error::ShutDown`), joins the workers, and fires the Deferreds
    /// of the jobs that finished meanwhile. The next use starts a new pool.
    fn stop_pool(&self) {
        let pool = self.pool.borrow_mut().take();
        let Some(pool) = pool else { return };
        let dropped = pool.stop();
        self.deliver_finished();
        for id in dropped {
            self.complete(id, Outcome::ShutDown);
        }
    }
}

/// Nothing the reactor holds outlives it. The kept values go first, last
/// kept first; then every pending timed call's closure, even one a
/// `DelayedCall` handle still points to (a running `LoopingCall` holds its
/// own call's handle: without this, the two would keep each other alive);
/// then the calls queued by other threads. The fd callbacks, triggers,
/// `call_when_running` calls and tasks are owned by their parts alone and go
/// with them.
impl<S: 'static> Drop for Inner<S> {
    fn drop(&mut self) {
        let mut kept = std::mem::take(self.kept.get_mut());
        while let Some(value) = kept.pop() {
            drop(value);
        }
        let timers = self.timers.get_mut().drain();
        for call in timers {
            call.closure().discard();
        }
        self.status.stopped.store(true, Ordering::SeqCst);
        self.threads.close();
        self.stop_pool();
    }
}

/// A timed call's closure as the reactor's timer queue holds it.
trait Timed<S: 'static> {
    /// Runs the closure (once; later calls do nothing).
    fn fire(&self, cx: &mut Ctx<'_, S>);
    /// Drops the closure without running it.
    fn discard(&self);
}

impl<S: 'static, F: FnOnce(&mut Ctx<'_, S>)> Timed<S> for TimerFn<F> {
    fn fire(&self, cx: &mut Ctx<'_, S>) {
        if let Some(f) = self.take() {
            f(cx);
        }
    }

    fn discard(&self) {
        drop(self.take());
    }
}

impl<S: 'static> TimerOps for Inner<S> {
    fn cancel_timer(&self, meta: &TimerMeta) -> Result<()> {
        let call = self.timers.borrow_mut().cancel(meta)?;
        if let Some(call) = call {
            call.closure().discard(); // outside the borrow: its captures may call back in
        }
        Ok(())
    }

    fn reschedule_timer(&self, meta: &TimerMeta, deadline: Duration) -> Result<()> {
        self.timers.borrow_mut().reschedule(meta, deadline)
    }

    fn now(&self) -> Duration {
        self.clock.now()
    }
}

/// A single-threaded, Twisted-style reactor.
///
/// `Reactor` is a cheap, cloneable handle (`Rc` inside); it is neither `Send`
/// nor `Sync`. Other threads reach it through [`Reactor::thread_handle`]. `S`
/// is the application state lent to every callback (see [`Ctx`]).
///
/// ```
/// use std::time::Duration;
/// use tx0mq_reactor::Reactor;
///
/// let reactor = Reactor::new()?;
/// reactor.call_later(Duration::from_millis(10), |cx| {
///     println!("hello from the reactor");
///     cx.reactor.stop()
/// });
/// reactor.run()?;
/// # Ok::<(), tx0mq_reactor::Error>(())
/// ```
pub struct Reactor<S: 'static = ()> {
    inner: Rc<Inner<S>>,
}

impl<S: 'static> Clone for Reactor<S> {
    fn clone(&self) -> Self {
        Reactor {
            inner: self.inner.clone(),
        }
    }
}

impl<S: 'static> fmt::Debug for Reactor<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reactor")
            .field("running", &self.inner.running.get())
            .field("timers", &self.inner.timers.borrow().len())
            .field("fake_clock", &self.inner.clock.is_fake())
            .finish()
    }
}

impl Reactor<()> {
    /// A reactor with no application state, the real clock, and SIGINT/SIGTERM
    /// handling on.
    ///
    /// # Errors
    ///
    /// As for [`ReactorBuilder::build`].
    pub fn new() -> Result<Self> {
        ReactorBuilder::new().build()
    }

    /// Starts building a reactor with options.
    pub fn builder() -> ReactorBuilder<()> {
        ReactorBuilder::new()
    }
}

impl<S: 'static> Reactor<S> {
    /// A reactor whose callbacks all share `state` (see [`Ctx`]).
    ///
    /// # Errors
    ///
    /// As for [`ReactorBuilder::build`].
    pub fn with_state(state: S) -> Result<Self> {
        ReactorBuilder::new().state(state).build()
    }

    /// Whether two handles are the same reactor (`Rc::ptr_eq` for
    /// reactors): for a layer that keeps one thing per reactor.
    ///
    /// ```
    /// use tx0mq_reactor::Reactor;
    ///
    /// let reactor = Reactor::builder().handle_signals(false).build()?;
    /// let other = Reactor::builder().handle_signals(false).build()?;
    /// assert!(reactor.ptr_eq(&reactor.clone()));
    /// assert!(!reactor.ptr_eq(&other));
    /// # Ok::<(), tx0mq_reactor::Error>(())
    /// ```
    pub fn ptr_eq(&self, other: &Reactor<S>) -> bool {
        Rc::ptr_eq(&self.inner, &other.inner)
    }

    /// A weak handle, for structures the reactor itself keeps alive.
    pub fn downgrade(&self) -> WeakReactor<S> {
        WeakReactor {
            inner: Rc::downgrade(&self.inner),
        }
    }

    /// A handle other threads can use to queue calls onto this reactor.
    pub fn thread_handle(&self) -> ThreadHandle<S> {
        ThreadHandle {
            shared: self.inner.threads.clone(),
            status: self.inner.status.clone(),
        }
    }

    /// Lends the application state to `f`, outside any callback (before or
    /// after `run`, or between `iterate` calls).
    ///
    /// # Errors
    ///
    /// [`Error::AlreadyRunning`] from inside a callback, where the state is
    /// already lent out: use `cx.state` there.
    pub fn access_state<R>(&self, f: impl FnOnce(&mut S) -> R) -> Result<R> {
        let mut state = self
            .inner
            .state
            .try_borrow_mut()
            .map_err(|_| Error::AlreadyRunning)?;
        Ok(f(&mut state))
    }

    /// Calls `f` with a [`Ctx`] right now, outside the loop: for code that
    /// must call a protocol from outside any callback (shutting a connection
    /// down from `main`, say).
    ///
    /// # Errors
    ///
    /// [`Error::AlreadyRunning`] from inside a callback, where the state is
    /// lent out already; schedule the work with [`call_later`](Self::call_later)
    /// there instead.
    pub fn with_ctx<R>(&self, f: impl FnOnce(&mut Ctx<'_, S>) -> R) -> Result<R> {
        let mut state = self
            .inner
            .state
            .try_borrow_mut()
            .map_err(|_| Error::AlreadyRunning)?;
        let mut cx = Ctx {
            reactor: self,
            state: &mut state,
        };
        Ok(f(&mut cx))
    }

    /// The current time on the reactor's clock, measured from when the reactor
    /// was built (always starting at zero with a fake clock).
    pub fn seconds(&self) -> Duration {
        self.inner.clock.now()
    }

    /// Keeps `value` alive as long as the reactor, like a module-level object
    /// in a Twisted program. The ZeroMQ factory uses it so that its
    /// connections keep working when the program drops its last handle.
    /// Values are dropped with the reactor, last kept first.
    pub fn keep_alive<T: 'static>(&self, value: T) {
        self.inner.kept.borrow_mut().push(Box::new(value));
    }

    /// The signal (SIGINT = 2, SIGTERM = 15) that stopped the last
    /// [`run`](Self::run), or `None` if it was stopped by [`stop`](Self::stop)
    /// (a signal handler that calls `stop` included: see
    /// [`add_signal_handler`](Self::add_signal_handler)).
    pub fn exit_signal(&self) -> Option<i32> {
        self.inner.exit_signal.get()
    }

    /// The reactor's counters: passes of the loop, callbacks run and the
    /// time they took, the longest callback and its kind, and how late timed
    /// calls fired (see [`ReactorStats`]). Counted since the reactor was
    /// built or since [`reset_stats`](Self::reset_stats).
    ///
    /// To find what blocks the loop: a `longest_callback` of 50 ms means
    /// nothing else (no timer, no connection) ran for those 50 ms, and
    /// `timer_lateness_max` shows what that did to the timers.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tx0mq_reactor::{CallbackKind, Reactor};
    ///
    /// let reactor = Reactor::builder().handle_signals(false).build()?;
    /// reactor.call_later(Duration::ZERO, |_| std::thread::sleep(Duration::from_millis(20)));
    /// reactor.iterate(Duration::ZERO)?;
    /// let stats = reactor.stats();
    /// assert_eq!(stats.callbacks, 1);
    /// assert!(stats.longest_callback >= Duration::from_millis(20));
    /// assert_eq!(stats.longest_callback_kind, Some(CallbackKind::Timer));
    /// # Ok::<(), tx0mq_reactor::Error>(())
    /// ```
    pub fn stats(&self) -> ReactorStats {
        self.inner.stats.snapshot()
    }

    /// Zeroes the counters [`stats`](Self::stats) reads: to watch one
    /// interval at a time (the longest callback of the last minute, say).
    ///
    /// ```
    /// use tx0mq_reactor::{Reactor, ReactorStats};
    ///
    /// let reactor = Reactor::builder().handle_signals(false).build()?;
    /// reactor.iterate(std::time::Duration::ZERO)?;
    /// assert_eq!(reactor.stats().passes, 1);
    /// reactor.reset_stats();
    /// assert_eq!(reactor.stats(), ReactorStats::default());
    /// # Ok::<(), tx0mq_reactor::Error>(())
    /// ```
    pub fn reset_stats(&self) {
        self.inner.stats.reset();
    }

    /// True from [`stop`](Self::stop) until [`run`](Self::run) returns:
    /// loops that handle a batch of work can end early.
    pub fn is_stopping(&self) -> bool {
        self.inner.stop_requested.get()
    }

    /// True while [`run`](Self::run) is executing.
    pub fn running(&self) -> bool {
        self.inner.running.get()
    }

    /// Schedules `f` to run once, `delay` from now (Twisted's `callLater`).
    ///
    /// Calls due at the same time run in the order they were scheduled. A call
    /// scheduled by a callback never runs in the pass that scheduled it, even
    /// with a zero delay.
    pub fn call_later<F, R>(&self, delay: Duration, f: F) -> DelayedCall
    where
        F: FnOnce(&mut Ctx<'_, S>) -> R + 'static,
        R: CallbackResult,
    {
        let deadline = self.inner.clock.now().saturating_add(delay);
        let call = Rc::new(TimerNode::new(deadline, move |cx: &mut Ctx<'_, S>| {
            f(cx).report("timed call")
        }));
        let handle: Rc<TimerMeta> = call.clone();
        self.inner.timers.borrow_mut().schedule(call);
        let ops: Weak<dyn TimerOps> = Rc::downgrade(&self.inner) as Weak<dyn TimerOps>;
        DelayedCall::new(handle, ops)
    }

    /// Runs `f` once the reactor is running: on the next pass if it already
    /// is, else as an "after startup" trigger of the next [`run`](Self::run)
    /// (Twisted's `callWhenRunning`).
    pub fn call_when_running<F, R>(&self, f: F)
    where
        F: FnOnce(&mut Ctx<'_, S>) -> R + 'static,
        R: CallbackResult,
    {
        if self.running() {
            self.call_later(Duration::ZERO, f);
        } else {
            let callback: Callback<S> = Box::new(move |cx| f(cx).report("call_when_running"));
            self.inner.when_running.borrow_mut().push(callback);
        }
    }

    /// Asks the reactor to stop: the current pass finishes, the shutdown
    /// triggers run (before, during, after), and [`run`](Self::run) returns.
    ///
    /// # Errors
    ///
    /// [`Error::NotRunning`] if the reactor is not running, or is already stopping.
    pub fn stop(&self) -> Result<()> {
        if !self.inner.running.get() || self.inner.stop_requested.get() {
            return Err(Error::NotRunning);
        }
        self.inner.stop_requested.set(true);
        Ok(())
    }

    /// Runs the reactor until [`stop`](Self::stop) (or SIGINT/SIGTERM, unless
    /// turned off). Fires the startup triggers first and the shutdown triggers
    /// last, as Twisted does. Signal handlers
    /// ([`add_signal_handler`](Self::add_signal_handler)) are called only
    /// while `run` runs.
    ///
    /// # Errors
    ///
    /// [`Error::AlreadyRunning`] if called while running (from a callback, say)
    /// or while the state is lent out (inside [`with_ctx`](Self::with_ctx));
    /// [`Error::Io`] if polling fails or signal handlers cannot be installed.
    pub fn run(&self) -> Result<()> {
        if self.inner.running.get() || self.busy() {
            return Err(Error::AlreadyRunning);
        }
        let signals = self.listen_for_signals()?;
        self.inner.exit_signal.set(None);
        let _running = RunGuard::enter(&self.inner, signals);
        let _pass = PassGuard::enter(&self.inner.in_pass);
        self.run_loop()
    }

    /// Whether the loop cannot run now: a pass is under way (callbacks may
    /// be on the stack), or the state is lent out (to `with_ctx` or
    /// `access_state`), so every callback would have to be skipped.
    fn busy(&self) -> bool {
        self.inner.in_pass.get() > 0 || self.inner.state.try_borrow_mut().is_err()
    }

    fn run_loop(&self) -> Result<()> {
        for phase in Phase::ALL {
            self.fire_triggers(SystemEvent::Startup, phase);
        }
        let when_running = self.inner.when_running.take();
        // If one panics and unwinds out of `run`, those after it wait for
        // the next `run`.
        let give_back = |rest: Vec<Callback<S>>| {
            if let Ok(mut queue) = self.inner.when_running.try_borrow_mut() {
                let added = std::mem::replace(&mut *queue, rest);
                queue.extend(added);
            }
        };
        self.inner.stats.mark(Instant::now());
        for callback in Batch::new(when_running, give_back) {
            self.invoke(CallbackKind::WhenRunning, callback);
        }
        if !self.inner.signal_backlog.borrow().is_empty() {
            self.deliver_signals();
        }
        while !self.inner.stop_requested.get() {
            self.pass(None)?;
        }
        self.inner.status.stopped.store(true, Ordering::SeqCst);
        for phase in Phase::ALL {
            self.fire_triggers(SystemEvent::Shutdown, phase);
        }
        Ok(())
    }

    /// Runs one pass of the loop: due thread calls, due timers, ready
    /// sources and woken tasks, then polls for at most `timeout` (less if a
    /// timer is due sooner, zero if work is pending) and dispatches what the
    /// poll reports.
    /// For tests and for embedding the reactor in another loop. Does not fire
    /// startup or shutdown triggers.
    ///
    /// # Errors
    ///
    /// [`Error::AlreadyRunning`] from inside a callback or
    /// [`with_ctx`](Self::with_ctx); [`Error::Io`] if the
    /// poll fails.
    pub fn iterate(&self, timeout: Duration) -> Result<()> {
        if self.busy() {
            return Err(Error::AlreadyRunning);
        }
        self.pass(Some(timeout))
    }

    /// Moves a fake clock forward by `by` and runs everything that falls due,
    /// including calls that those calls schedule within the new time (Twisted's
    /// `Clock.advance`). Also dispatches any I/O that is ready, without waiting.
    /// Spawned tasks that those calls wake run too, until none is ready (so a
    /// task that wakes itself forever keeps `advance` from returning).
    ///
    /// # Errors
    ///
    /// [`Error::NotFakeClock`] on a real-clock reactor;
    /// [`Error::AlreadyRunning`] from inside a callback or
    /// [`with_ctx`](Self::with_ctx).
    pub fn advance(&self, by: Duration) -> Result<()> {
        if self.busy() {
            return Err(Error::AlreadyRunning);
        }
        if !self.inner.clock.advance(by) {
            return Err(Error::NotFakeClock);
        }
        loop {
            self.pass(Some(Duration::ZERO))?;
            let now = self.inner.clock.now();
            let next = self.inner.timers.borrow_mut().next_deadline();
            // Tasks woken by those calls run too, as Deferred callbacks would.
            if !matches!(next, Some(deadline) if deadline <= now)
                && !self.inner.executor.has_ready()
            {
                return Ok(());
            }
        }
    }

    /// Advances a fake clock by each step in turn (Twisted's `Clock.pump`).
    ///
    /// # Errors
    ///
    /// As for [`advance`](Self::advance).
    pub fn pump(&self, steps: &[Duration]) -> Result<()> {
        for step in steps {
            self.advance(*step)?;
        }
        Ok(())
    }

    /// One pass of the main loop.
    fn pass(&self, max_timeout: Option<Duration>) -> Result<()> {
        let _guard = PassGuard::enter(&self.inner.in_pass);

        let stats = &self.inner.stats;
        stats.pass();

        // 1. Calls queued by other threads before this pass began (those
        // after one whose panic unwinds out wait for the next pass).
        let threads = &self.inner.threads;
        let calls = threads.take_calls();
        if !calls.is_empty() {
            stats.mark(Instant::now());
        }
        for call in Batch::new(calls, |rest| threads.put_back(rest)) {
            self.invoke(CallbackKind::ThreadCall, call);
        }

        // 2. Due timers, but none scheduled during this pass. The clock read
        // that says which are due also starts the timing of the callbacks.
        let started = Instant::now();
        stats.mark(started);
        let now = self.inner.clock.at(started);
        self.inner.timers.borrow_mut().begin_pass();
        loop {
            let due = self.inner.timers.borrow_mut().pop_due(now);
            match due {
                Some(call) => {
                    // Late by the time it fires: the end of the callback
                    // before it (a fake clock's time stands still).
                    let fired_at = nanos(self.inner.clock.at(stats.last_mark()));
                    stats.timer_fired(fired_at.saturating_sub(call.deadline_nanos()));
                    self.invoke(CallbackKind::Timer, |cx| call.closure().fire(cx));
                }
                None => break,
            }
        }

        // 3. Sources still ready from the last pass (or woken since).
        self.inner
            .fds
            .run_ready(|handler| self.invoke(CallbackKind::Fd, |cx| handler(cx)));

        // 3b. Spawned futures woken before this step (by the steps above, by
        // the last pass's dispatch, or from other threads); ones woken during
        // it wait for the next pass. Nothing to do until the first `spawn`.
        self.inner
            .executor
            .run_ready(|| stats.lap(CallbackKind::Task));

        // 4. How long may the poll wait?
        let timeout = if self.inner.stop_requested.get()
            || self.inner.fds.has_ready()
            || self.inner.threads.has_calls()
            || self.inner.executor.has_ready()
        {
            Some(Duration::ZERO)
        } else {
            let timer_wait = if self.inner.clock.is_fake() {
                None
            } else {
                self.inner
                    .timers
                    .borrow_mut()
                    .next_deadline()
                    .map(|deadline| {
                        deadline
                            .saturating_sub(self.inner.clock.now())
                            .min(MAX_POLL_TIMEOUT)
                    })
            };
            match (timer_wait, max_timeout) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            }
        };

        // 5. Poll, then 6. dispatch.
        let mut ready = Vec::new();
        {
            let mut poll = self.inner.poll.borrow_mut();
            let mut events = self.inner.events.borrow_mut();
            match poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::io("poll", e)),
            }
            for event in events.iter() {
                ready.push(Readiness::of(event));
            }
        }
        if !ready.is_empty() {
            // The poll may have waited: the first callback is timed from now.
            stats.mark(Instant::now());
        }
        // Events left undispatched by a callback whose panic unwinds out are
        // not lost (see `FdTable::redeliver`; signals that arrived are owed
        // to their handlers).
        let fds = &self.inner.fds;
        let registry = &self.inner.registry;
        let redeliver = |rest: Vec<Readiness>| {
            for readiness in &rest {
                if readiness.token == SIGNAL_TOKEN {
                    self.owe_signals(self.arrived_signals());
                } else {
                    fds.redeliver(registry, readiness);
                }
            }
        };
        for readiness in Batch::new(ready, redeliver) {
            match readiness.token {
                WAKER_TOKEN => {} // thread calls run at the start of the next pass
                SIGNAL_TOKEN => self.deliver_signals(),
                _ => self
                    .inner
                    .fds
                    .dispatch(&self.inner.registry, &readiness, |callback| {
                        self.invoke(CallbackKind::Fd, |cx| callback(cx));
                    }),
            }
        }
        Ok(())
    }

    /// Calls `callback` with the reactor and its state, catching a panic if
    /// the reactor is so configured, and counts it as a callback of `kind`.
    fn invoke<F: FnOnce(&mut Ctx<'_, S>)>(&self, kind: CallbackKind, callback: F) {
        let Ok(mut state) = self.inner.state.try_borrow_mut() else {
            log::error!("a reactor callback was dispatched while the state was lent out; skipped");
            return;
        };
        let mut cx = Ctx {
            reactor: self,
            state: &mut state,
        };
        if self.inner.catch_panics {
            if let Err(payload) = catch_unwind(AssertUnwindSafe(|| callback(&mut cx))) {
                log::error!("a reactor callback panicked: {}", panic_message(&*payload));
            }
        } else {
            callback(&mut cx);
        }
        self.inner.stats.lap(kind);
    }

    /// Adds a system event trigger (Twisted's `addSystemEventTrigger`): `f`
    /// runs in the given phase every time the event fires.
    ///
    /// For `Startup` that is at the beginning of [`run`](Self::run); for
    /// `Shutdown`, after [`stop`](Self::stop), before `run` returns. Within a
    /// phase, triggers run in the order they were added.
    pub fn add_system_event_trigger<F, R>(
        &self,
        phase: Phase,
        event: SystemEvent,
        mut f: F,
    ) -> TriggerId
    where
        F: FnMut(&mut Ctx<'_, S>) -> R + 'static,
        R: CallbackResult,
    {
        self.inner.triggers.add(
            phase,
            event,
            Box::new(move |cx| f(cx).report("system event trigger")),
        )
    }

    /// Removes a trigger added with
    /// [`add_system_event_trigger`](Self::add_system_event_trigger).
    /// Returns `false` if it was not there (already removed).
    pub fn remove_system_event_trigger(&self, id: TriggerId) -> bool {
        self.inner.triggers.remove(id)
    }

    fn fire_triggers(&self, event: SystemEvent, phase: Phase) {
        self.inner.stats.mark(Instant::now());
        self.inner.triggers.fire(event, phase, |f| {
            self.invoke(CallbackKind::Trigger, |cx| f(cx))
        });
    }
}

// Signals: Twisted's SIGINT/SIGTERM handling, and handlers of the user's own
// (Python's `signal.signal(SIGHUP, f)`), run as reactor callbacks. The
// process-wide part is in `signals.rs`.
impl<S: 'static> Reactor<S> {
    /// Calls `f` on the reactor thread each time `signal` is delivered
    /// while [`run`](Self::run) runs: the equivalent of a Python
    /// `signal.signal(SIGHUP, handler)` in a Twisted program, reloading a
    /// configuration on SIGHUP, say. `signal` is the signal's number, as
    /// [`signal::SIGHUP`](crate::signal) (or `libc::SIGHUP`) spells it. Can be
    /// called at any time, from inside a callback too (the reactor listens
    /// for the signal from then on). Returns an id for
    /// [`remove_signal_handler`](Self::remove_signal_handler).
    ///
    /// ```
    /// use tx0mq_reactor::signal::SIGHUP;
    /// use tx0mq_reactor::Reactor;
    ///
    /// struct Config { reloads: u32 }
    ///
    /// let reactor = Reactor::builder().state(Config { reloads: 0 }).build()?;
    /// reactor.add_signal_handler(SIGHUP, |cx| {
    ///     cx.state.reloads += 1; // re-read the configuration here
    /// })?;
    /// reactor.call_when_running(|cx| {
    ///     // `kill -HUP <pid>` from a shell does the same.
    ///     signal_hook::low_level::raise(SIGHUP)?;
    ///     // And stop a little later.
    ///     cx.reactor.call_later(std::time::Duration::from_millis(10), |cx| cx.reactor.stop());
    ///     Ok::<(), std::io::Error>(())
    /// });
    /// reactor.run()?;
    /// assert_eq!(reactor.access_state(|config| config.reloads)?, 1);
    /// # Ok::<(), tx0mq_reactor::Error>(())
    /// ```
    ///
    /// - **When.** Handlers run in the pass after the signal arrives, like
    ///   any other event, never inside the operating system's signal
    ///   handler, so they may do anything a callback may. Deliveries of one
    ///   signal that arrive before the reactor gets to them are coalesced
    ///   into one call (the operating system itself merges a signal
    ///   that arrives while the same one is pending); when several signals
    ///   arrived, their handlers run in order of signal number. A signal
    ///   that arrives after [`stop`](Self::stop), while the shutdown
    ///   triggers run, is not delivered.
    /// - **Several handlers** for one signal all run, in the order they were
    ///   added. A handler added while one for its signal runs waits for the
    ///   next delivery; one removed meanwhile is not called.
    /// - **SIGINT and SIGTERM.** With [`ReactorBuilder::handle_signals`] on
    ///   (the default), either stops the reactor cleanly. A handler for one
    ///   of them replaces that stop: the signal calls the handler and
    ///   nothing else, and the reactor keeps running unless the handler
    ///   stops it (then [`exit_signal`](Self::exit_signal) is `None`, as for
    ///   any [`stop`](Self::stop)). Once the last handler for it is removed,
    ///   the signal stops the reactor again. With `handle_signals(false)`,
    ///   handlers are called all the same.
    /// - **Outside `run`** the reactor does not listen: a signal that no
    ///   running reactor listens for has its default action (SIGHUP, SIGUSR1
    ///   and most others terminate the process, SIGCHLD and SIGWINCH are
    ///   ignored), before the first `run`, between runs, after the last one,
    ///   and while a `run` is under way once the last handler for it is
    ///   removed. SIGPIPE, which the Rust runtime ignores, is ignored then.
    ///   Every running reactor that listens for a signal gets each delivery.
    /// - **Failures.** A handler may return `()` or a `Result`; an `Err` is
    ///   logged. A panic is caught and logged, and the handlers after it and
    ///   the loop carry on; the panicking handler stays added. With
    ///   [`ReactorBuilder::catch_panics`] off the panic unwinds out of `run`
    ///   and the calls of the handlers after it (for that delivery and any
    ///   other that arrived with it) are made at the start of the next `run`.
    ///
    /// # Errors
    ///
    /// [`Error::ForbiddenSignal`] for a signal that cannot have a handler:
    /// SIGKILL and SIGSTOP, SIGSEGV, SIGBUS, SIGFPE and SIGILL, and numbers
    /// that name no standard signal (real-time signals included).
    /// [`Error::Io`] if the reactor is running and the signal's handler
    /// cannot be installed; the handler is not added then.
    pub fn add_signal_handler<F, R>(&self, signal: i32, mut f: F) -> Result<SignalHandlerId>
    where
        F: FnMut(&mut Ctx<'_, S>) -> R + 'static,
        R: CallbackResult,
    {
        signals::check(signal)?;
        let id = self.inner.signal_handlers.add(
            signal,
            Box::new(move |cx| {
                if let Err(e) = f(cx).into_callback_result() {
                    log::error!("handler of signal {signal} failed: {e}");
                }
            }),
        );
        if let Err(e) = self.listen_for(signal) {
            self.inner.signal_handlers.remove(id);
            return Err(e);
        }
        Ok(SignalHandlerId(id))
    }

    /// Removes a handler added with
    /// [`add_signal_handler`](Self::add_signal_handler); safe from inside
    /// the handler itself. Returns `false` if it was not there (already
    /// removed).
    ///
    /// When the last handler for a signal goes, the running reactor stops
    /// listening for it: it has its default action again (unless another
    /// running reactor listens), or, for SIGINT and SIGTERM with
    /// [`ReactorBuilder::handle_signals`] on, stops the reactor again.
    ///
    /// ```
    /// use tx0mq_reactor::signal::SIGUSR1;
    /// use tx0mq_reactor::Reactor;
    ///
    /// let reactor = Reactor::builder().state(Vec::<&str>::new()).build()?;
    /// let removed = reactor.add_signal_handler(SIGUSR1, |cx| cx.state.push("removed"))?;
    /// reactor.add_signal_handler(SIGUSR1, |cx| cx.state.push("kept"))?;
    /// assert!(reactor.remove_signal_handler(removed));
    /// reactor.call_when_running(|cx| {
    ///     signal_hook::low_level::raise(SIGUSR1)?;
    ///     cx.reactor.call_later(std::time::Duration::from_millis(10), |cx| cx.reactor.stop());
    ///     Ok::<(), std::io::Error>(())
    /// });
    /// reactor.run()?;
    /// assert_eq!(reactor.access_state(|log| log.clone())?, ["kept"]);
    /// # Ok::<(), tx0mq_reactor::Error>(())
    /// ```
    pub fn remove_signal_handler(&self, id: SignalHandlerId) -> bool {
        let Some(signal) = self.inner.signal_handlers.remove(id.0) else {
            return false;
        };
        if !self.inner.signal_handlers.contains(signal) && !self.stops_on(signal) {
            if let Ok(mut guard) = self.inner.signals.try_borrow_mut() {
                if let Some(guard) = guard.as_mut() {
                    guard.unlisten(signal);
                }
            }
        }
        true
    }

    /// Whether `signal`, with no handler, stops the reactor.
    fn stops_on(&self, signal: i32) -> bool {
        self.inner.handle_signals && (signal == SIGINT || signal == SIGTERM)
    }

    /// The signal listening of a `run` about to start: SIGINT and SIGTERM
    /// if handled, and every signal that has a handler.
    fn listen_for_signals(&self) -> Result<SignalGuard> {
        let mut guard = SignalGuard::new(SIGNAL_TOKEN);
        let mut wanted = self.inner.signal_handlers.keys();
        if self.inner.handle_signals {
            wanted.extend([SIGINT, SIGTERM]);
        }
        for signal in wanted {
            guard.listen(&self.inner.registry, signal)?;
        }
        Ok(guard)
    }

    /// Starts listening for `signal` if a `run` is under way.
    fn listen_for(&self, signal: i32) -> Result<()> {
        match self.inner.signals.try_borrow_mut() {
            Ok(mut guard) => match guard.as_mut() {
                Some(guard) => guard.listen(&self.inner.registry, signal),
                None => Ok(()),
            },
            // Never borrowed while user code runs.
            Err(_) => Ok(()),
        }
    }

    /// What the signals that arrived since the last look call for: each
    /// handler of each signal, or the default stop.
    fn arrived_signals(&self) -> Vec<Delivery> {
        let arrived = match self.inner.signals.try_borrow_mut() {
            Ok(mut guard) => guard.as_mut().map(SignalGuard::drain).unwrap_or_default(),
            Err(_) => Vec::new(),
        };
        let mut deliveries = Vec::new();
        for signal in arrived {
            let handlers = self.inner.signal_handlers.ids(signal);
            if !handlers.is_empty() {
                deliveries.extend(handlers.into_iter().map(|id| Delivery::Handler(signal, id)));
            } else if self.stops_on(signal) {
                deliveries.push(Delivery::Stop(signal));
            } else {
                log::debug!("signal {signal} arrived after its last handler was removed");
            }
        }
        deliveries
    }

    /// Makes the calls owed from an earlier `run`, then those the signals
    /// that arrived call for.
    fn deliver_signals(&self) {
        let mut due = self.inner.signal_backlog.take();
        due.extend(self.arrived_signals());
        if due.is_empty() {
            return;
        }
        self.inner.stats.mark(Instant::now());
        for delivery in Batch::new(due, |rest| self.owe_signals(rest)) {
            match delivery {
                Delivery::Stop(signal) => {
                    log::info!("signal {signal} received: stopping the reactor");
                    self.inner.exit_signal.set(Some(signal));
                    let _ = self.stop(); // fails only if already stopping
                }
                Delivery::Handler(signal, id) => {
                    log::debug!("signal {signal}: calling handler {id}");
                    self.inner.signal_handlers.call(id, |f| {
                        self.invoke(CallbackKind::Signal, |cx| f(cx));
                    });
                }
            }
        }
    }

    /// Keeps the handler calls a panic that unwinds out of `run` left
    /// unmade, for the next `run`; the stops are dropped, as the run they
    /// would stop is ending.
    fn owe_signals(&self, rest: Vec<Delivery>) {
        if let Ok(mut backlog) = self.inner.signal_backlog.try_borrow_mut() {
            let later = std::mem::take(&mut *backlog);
            backlog.extend(
                rest.into_iter()
                    .filter(|delivery| matches!(delivery, Delivery::Handler(..))),
            );
            backlog.extend(later);
        }
    }
}

// Descriptors: Twisted's `IReactorFDSet`, and edge-triggered sources. The
// table, its registration with the poller and its dispatch are in `fd.rs`.
impl<S: 'static> Reactor<S> {
    /// Calls `f` whenever `fd` is readable, until
    /// [`remove_reader`](Self::remove_reader) (Twisted's `addReader`).
    /// Level-triggered: if `f` leaves data unread, it is called again on the
    /// next pass. Adding a reader for an fd that has one replaces it.
    ///
    /// The reactor does not own `fd`: remove the reader before closing it.
    ///
    /// # Errors
    ///
    /// [`Error::FdInUse`] if `fd` is registered as an edge-triggered source;
    /// [`Error::Io`] if the kernel refuses it (a regular file, say).
    pub fn add_reader<F, R>(&self, fd: impl AsRawFd, mut f: F) -> Result<()>
    where
        F: FnMut(&mut Ctx<'_, S>) -> R + 'static,
        R: CallbackResult,
    {
        self.inner.fds.add_level(
            &self.inner.registry,
            fd.as_raw_fd(),
            Role::Reader,
            Box::new(move |cx| f(cx).report("reader")),
        )
    }

    /// Calls `f` whenever `fd` is writable, until
    /// [`remove_writer`](Self::remove_writer) (Twisted's `addWriter`).
    /// Level-triggered, so a writer on a writable fd is called on every pass:
    /// remove it when there is nothing left to write.
    ///
    /// # Errors
    ///
    /// As for [`add_reader`](Self::add_reader).
    pub fn add_writer<F, R>(&self, fd: impl AsRawFd, mut f: F) -> Result<()>
    where
        F: FnMut(&mut Ctx<'_, S>) -> R + 'static,
        R: CallbackResult,
    {
        self.inner.fds.add_level(
            &self.inner.registry,
            fd.as_raw_fd(),
            Role::Writer,
            Box::new(move |cx| f(cx).report("writer")),
        )
    }

    /// Stops reading `fd`. Returns `false` if it had no reader. Safe to call
    /// from inside the reader itself.
    pub fn remove_reader(&self, fd: impl AsRawFd) -> bool {
        self.inner
            .fds
            .remove_level(&self.inner.registry, fd.as_raw_fd(), Role::Reader)
    }

    /// Stops writing `fd`. Returns `false` if it had no writer. Safe to call
    /// from inside the writer itself.
    pub fn remove_writer(&self, fd: impl AsRawFd) -> bool {
        self.inner
            .fds
            .remove_level(&self.inner.registry, fd.as_raw_fd(), Role::Writer)
    }

    /// Removes every reader and writer and returns their descriptors (Twisted's
    /// `removeAll`). Edge-triggered sources (ZeroMQ connections) are left alone:
    /// they belong to the layer that added them.
    pub fn remove_all(&self) -> Vec<RawFd> {
        self.inner.fds.remove_all_levels(&self.inner.registry)
    }

    /// The descriptors that have a reader (Twisted's `getReaders`).
    pub fn get_readers(&self) -> Vec<RawFd> {
        self.inner.fds.level_fds(Role::Reader)
    }

    /// The descriptors that have a writer (Twisted's `getWriters`).
    pub fn get_writers(&self) -> Vec<RawFd> {
        self.inner.fds.level_fds(Role::Writer)
    }

    /// Adds an edge-triggered source: `handler` is called when the kernel
    /// signals `fd` readable, and on the pass after each
    /// [`wake_source`](Self::wake_source). It gets its own [`SourceId`].
    ///
    /// This is the building block for descriptors that signal "something
    /// changed" rather than "data is waiting", such as ZeroMQ's `ZMQ_FD`: the
    /// handler checks the real state, does a bounded amount of work, and wakes
    /// itself if work remains. A woken source makes the next poll non-blocking,
    /// so no wake-up is ever lost.
    ///
    /// # Errors
    ///
    /// [`Error::FdInUse`] if `fd` already has a reader, writer or source;
    /// [`Error::Io`] if the kernel refuses it.
    pub fn add_source<F>(&self, fd: impl AsRawFd, mut handler: F) -> Result<SourceId>
    where
        F: FnMut(&mut Ctx<'_, S>, SourceId) + 'static,
    {
        let callback = |id| -> FdCallback<S> { Box::new(move |cx| handler(cx, id)) };
        self.inner
            .fds
            .add_source(&self.inner.registry, fd.as_raw_fd(), callback)
    }

    /// Puts a source on the ready list: its handler runs early in the next
    /// pass, and the poll before that pass does not block. Waking a source
    /// that is already on the list, or that was removed, does nothing.
    pub fn wake_source(&self, id: SourceId) {
        self.inner.fds.wake_source(id);
    }

    /// Removes a source and deregisters its fd (call this before closing
    /// the fd). Returns `false` if it was already gone. Safe to call from
    /// inside the source's own handler.
    pub fn remove_source(&self, id: SourceId) -> bool {
        self.inner.fds.remove_source(&self.inner.registry, id)
    }
}

// Tasks: futures run on the reactor thread. The executor is in `task.rs`.
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
    /// Deferred with [`Error::Panicked`]. See the
    /// [module docs](crate::executor) for how wake-ups reach the reactor.
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
        let threads = &self.inner.threads;
        self.inner.executor.spawn(|| threads.poll_waker(), future)
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
    ) -> Result<std::result::Result<<F::Output as TaskOutput>::Value, Failure>>
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
            // However `run` ends (returning, or a panic unwinding out of it),
            // a future that has not completed is cancelled: left behind, it
            // would stop a later `run` when it completes.
            let _cancel = OnExit::new(|| {
                if slot.borrow().is_none() {
                    done.cancel();
                }
            });
            self.run()?;
        }
        let outcome = slot.borrow_mut().take();
        Ok(outcome.unwrap_or_else(|| Err(Failure::new(Error::Cancelled))))
    }
}

// The thread pool: Twisted's `callInThread` and `threads.deferToThread`.
// The pool itself is in `pool.rs`.
impl<S: 'static> Reactor<S> {
    /// The most threads the thread pool runs at once.
    pub fn thread_pool_size(&self) -> usize {
        self.inner.pool_size.get()
    }

    /// Sets the most threads the thread pool runs at once (Twisted's
    /// `suggestThreadPoolSize`; at least 1). Growing starts threads for the
    /// work waiting at once; on shrinking, surplus threads exit after their
    /// current job.
    ///
    /// ```
    /// use tx0mq_reactor::Reactor;
    ///
    /// let reactor = Reactor::new()?;
    /// assert_eq!(reactor.thread_pool_size(), 10);
    /// reactor.suggest_thread_pool_size(4);
    /// assert_eq!(reactor.thread_pool_size(), 4);
    /// # Ok::<(), tx0mq_reactor::Error>(())
    /// ```
    pub fn suggest_thread_pool_size(&self, size: usize) {
        let size = size.max(1);
        self.inner.pool_size.set(size);
        if let Some(pool) = self.inner.pool.borrow_mut().as_mut() {
            pool.set_max(size);
        }
    }

    /// Queues `job` on the pool, starting the pool (and the shutdown trigger
    /// that stops it) on first use.
    fn submit_job(&self, id: u64, job: Job) -> Result<()> {
        if !self.inner.pool_trigger.replace(true) {
            self.inner.triggers.add(
                Phase::During,
                SystemEvent::Shutdown,
                Box::new(|cx: &mut Ctx<'_, S>| cx.reactor.inner.stop_pool()),
            );
        }
        let mut pool = self.inner.pool.borrow_mut();
        let pool = pool.get_or_insert_with(|| ThreadPool::new(self.inner.pool_size.get()));
        pool.submit(id, job)
    }

    /// Runs `f` on a thread of the reactor's pool and forgets it (Twisted's
    /// `reactor.callInThread`). A panic in `f` is caught and logged; work
    /// not started when the reactor shuts down is dropped.
    ///
    /// ```
    /// use tx0mq_reactor::Reactor;
    ///
    /// let reactor = Reactor::builder().handle_signals(false).build()?;
    /// let handle = reactor.thread_handle();
    /// reactor.call_in_thread(move || {
    ///     // Blocking work here, then back to the reactor thread:
    ///     let _ = handle.call_from_thread(|cx| cx.reactor.stop());
    /// })?;
    /// reactor.run()?;
    /// # Ok::<(), tx0mq_reactor::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the pool has no thread and cannot start one.
    pub fn call_in_thread<F>(&self, f: F) -> Result<()>
    where
        F: FnOnce() + Send + 'static,
    {
        let id = self.next_job_id();
        self.submit_job(
            id,
            Box::new(move || {
                if let Err(payload) = catch_unwind(AssertUnwindSafe(f)) {
                    log::error!(
                        "call_in_thread: the function panicked: {}",
                        panic_message(&*payload)
                    );
                }
            }),
        )
    }

    fn next_job_id(&self) -> u64 {
        let id = self.inner.next_job.get();
        self.inner.next_job.set(id.wrapping_add(1));
        id
    }

    /// Runs `f` on a thread of the reactor's pool and returns a Deferred
    /// that fires on the reactor thread with its result (Twisted's
    /// `threads.deferToThread`).
    ///
    /// The Deferred fails with [`Error::ThreadPanicked`] (naming the panic)
    /// if `f` panics, with [`Error::ShutDown`] if the reactor shuts down
    /// before `f` starts, and with [`Error::Io`] if the pool has no thread
    /// and cannot start one. At most
    /// [`thread_pool_size`](Self::thread_pool_size) functions run at once;
    /// the others wait their turn, in order.
    ///
    /// ```
    /// use tx0mq_reactor::Reactor;
    ///
    /// let reactor = Reactor::builder().handle_signals(false).build()?;
    /// let r = reactor.clone();
    /// let answer = reactor.run_until_complete(async move {
    ///     r.defer_to_thread(|| (1..=10u64).product::<u64>()).await
    /// })?;
    /// assert_eq!(answer?, 3_628_800);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn defer_to_thread<F, T>(&self, f: F) -> Deferred<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let id = self.next_job_id();
        let d = Deferred::new();
        let fire = d.clone();
        let completion: Completion = Box::new(move |outcome| {
            let fired = match outcome {
                Outcome::Done(value) => match value.downcast::<T>() {
                    Ok(value) => fire.callback(*value),
                    Err(_) => fire.errback(Error::ThreadPanicked(
                        "the result had an unexpected type".into(),
                    )),
                },
                Outcome::Panicked(message) => fire.errback(Error::ThreadPanicked(message)),
                Outcome::ShutDown => fire.errback(Error::ShutDown),
            };
            if fired.is_err() {
                log::debug!("defer_to_thread: the Deferred had already fired");
            }
        });
        self.inner.pending_jobs.borrow_mut().insert(id, completion);
        let finished = Arc::clone(&self.inner.finished);
        let handle = self.thread_handle();
        let job: Job = Box::new(move || {
            let outcome = match catch_unwind(AssertUnwindSafe(f)) {
                Ok(value) => Outcome::Done(Box::new(value)),
                Err(payload) => Outcome::Panicked(panic_message(&*payload)),
            };
            finished
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((id, outcome));
            // Fails only once the reactor is gone, and the Deferred with it.
            let _ = handle.call_from_thread(|cx| cx.reactor.inner.deliver_finished());
        });
        if let Err(e) = self.submit_job(id, job) {
            let completion = self.inner.pending_jobs.borrow_mut().remove(&id);
            drop(completion);
            if d.errback(e).is_err() {
                log::debug!("defer_to_thread: the Deferred had already fired");
            }
        }
        d
    }
}

/// A weak handle to a [`Reactor`], which does not keep it alive.
pub struct WeakReactor<S: 'static = ()> {
    inner: Weak<Inner<S>>,
}

impl<S: 'static> Clone for WeakReactor<S> {
    fn clone(&self) -> Self {
        WeakReactor {
            inner: self.inner.clone(),
        }
    }
}

impl<S: 'static> fmt::Debug for WeakReactor<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WeakReactor")
    }
}

impl<S: 'static> WeakReactor<S> {
    /// The reactor, if it still exists.
    pub fn upgrade(&self) -> Option<Reactor<S>> {
        self.inner.upgrade().map(|inner| Reactor { inner })
    }
}

/// A `Send + Sync + Clone` handle that lets any thread queue work onto a
/// reactor's thread (Twisted's `callFromThread`).
///
/// Calls run on the reactor thread, in the order each thread queued them,
/// each exactly once, at the start of the next pass. Only the calls queued
/// when a pass starts run in that pass.
///
/// ```
/// use std::time::Duration;
/// use tx0mq_reactor::Reactor;
///
/// let reactor = Reactor::builder().state(0u32).handle_signals(false).build()?;
/// let handle = reactor.thread_handle();
/// let worker = std::thread::spawn(move || {
///     handle.call_from_thread(|cx| {
///         *cx.state += 42;
///         cx.reactor.stop()
///     })
/// });
/// reactor.run()?;
/// worker.join().unwrap()?;
/// assert_eq!(reactor.access_state(|n| *n)?, 42);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ThreadHandle<S: 'static = ()> {
    shared: Arc<ThreadQueue<ThreadCall<S>>>,
    status: Arc<Status>,
}

impl<S: 'static> Clone for ThreadHandle<S> {
    fn clone(&self) -> Self {
        ThreadHandle {
            shared: self.shared.clone(),
            status: self.status.clone(),
        }
    }
}

impl<S: 'static> fmt::Debug for ThreadHandle<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadHandle")
            .field("open", &self.shared.is_open())
            .finish()
    }
}

impl<S: 'static> ThreadHandle<S> {
    /// Queues `f` to run on the reactor thread and wakes the reactor.
    ///
    /// # Errors
    ///
    /// [`Error::ReactorGone`] if the reactor was dropped (`f` is dropped, not
    /// run); [`Error::Io`] if the waker fails.
    pub fn call_from_thread<F, R>(&self, f: F) -> Result<()>
    where
        F: FnOnce(&mut Ctx<'_, S>) -> R + Send + 'static,
        R: CallbackResult,
    {
        self.shared
            .push(Box::new(move |cx| f(cx).report("call from thread")))
    }
}

impl<S: 'static> ThreadHandle<S> {
    /// Runs `f` on the reactor thread and waits for its result (Twisted's
    /// `threads.blockingCallFromThread`). For code on another thread (a
    /// [`defer_to_thread`](Reactor::defer_to_thread) function, say) that
    /// needs the reactor's state or must call a protocol.
    ///
    /// If the reactor has not been run yet, the call waits for
    /// [`run`](Reactor::run) (or an [`iterate`](Reactor::iterate)).
    ///
    /// ```
    /// use tx0mq_reactor::Reactor;
    ///
    /// let reactor = Reactor::builder().state(41u32).handle_signals(false).build()?;
    /// let handle = reactor.thread_handle();
    /// let worker = std::thread::spawn(move || {
    ///     let seen = handle.blocking_call_from_thread(|cx| {
    ///         *cx.state += 1;
    ///         *cx.state
    ///     });
    ///     let _ = handle.call_from_thread(|cx| cx.reactor.stop());
    ///     seen
    /// });
    /// reactor.run()?;
    /// assert_eq!(worker.join().map_err(|_| "the worker panicked")??, 42);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::OnReactorThread`] at once if called on the reactor's own
    /// thread; [`Error::BlockingCallPanicked`] if `f` panics;
    /// [`Error::NotRunning`] once the reactor has stopped (`f` may still run
    /// if the reactor runs again); [`Error::ReactorGone`] if the reactor is
    /// dropped; [`Error::Io`] if the waker fails.
    pub fn blocking_call_from_thread<F, T>(&self, f: F) -> Result<T>
    where
        F: FnOnce(&mut Ctx<'_, S>) -> T + Send + 'static,
        T: Send + 'static,
    {
        if std::thread::current().id() == self.status.thread {
            return Err(Error::OnReactorThread);
        }
        if self.status.stopped.load(Ordering::SeqCst) {
            return Err(Error::NotRunning);
        }
        let (reply, answer) = mpsc::sync_channel(1);
        self.shared.push(Box::new(move |cx: &mut Ctx<'_, S>| {
            let outcome = catch_unwind(AssertUnwindSafe(|| f(cx)))
                .map_err(|payload| panic_message(&*payload));
            // The caller may have given up (the reactor stopped).
            let _ = reply.send(outcome);
        }))?;
        loop {
            match answer.recv_timeout(Duration::from_millis(20)) {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(message)) => return Err(Error::BlockingCallPanicked(message)),
                Err(mpsc::RecvTimeoutError::Disconnected) => return Err(Error::ReactorGone),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if self.status.stopped.load(Ordering::SeqCst) {
                        return match answer.try_recv() {
                            Ok(Ok(value)) => Ok(value),
                            Ok(Err(message)) => Err(Error::BlockingCallPanicked(message)),
                            Err(_) => Err(Error::NotRunning),
                        };
                    }
                }
            }
        }
    }
}

/// Marks the reactor running, with its signal handling, for as long as
/// `run` runs: dropped, whether `run` returns or a panic unwinds out of it,
/// it marks the reactor neither running nor stopping and uninstalls the
/// signal handling, so that the signals it listened for get their default
/// action back (unless another running reactor listens for them) and the
/// reactor can run again.
struct RunGuard<'a, S: 'static> {
    inner: &'a Inner<S>,
}

impl<'a, S: 'static> RunGuard<'a, S> {
    fn enter(inner: &'a Inner<S>, signals: SignalGuard) -> Self {
        inner.running.set(true);
        inner.stop_requested.set(false);
        inner.status.stopped.store(false, Ordering::SeqCst);
        let replaced = inner.signals.replace(Some(signals));
        drop(replaced); // none: the last run's guard went when it ended
        RunGuard { inner }
    }
}

impl<S: 'static> Drop for RunGuard<'_, S> {
    fn drop(&mut self) {
        self.inner.running.set(false);
        self.inner.stop_requested.set(false);
        self.inner.status.stopped.store(true, Ordering::SeqCst);
        // Never borrowed while user code runs, so free here.
        let signals = match self.inner.signals.try_borrow_mut() {
            Ok(mut signals) => signals.take(),
            Err(_) => None,
        };
        if let Some(signals) = signals {
            signals.uninstall(&self.inner.registry);
        }
    }
}

/// Runs a closure when dropped: at the end of a scope, however it is left.
struct OnExit<F: FnOnce()>(Option<F>);

impl<F: FnOnce()> OnExit<F> {
    fn new(f: F) -> Self {
        OnExit(Some(f))
    }
}

impl<F: FnOnce()> Drop for OnExit<F> {
    fn drop(&mut self) {
        if let Some(f) = self.0.take() {
            f();
        }
    }
}

/// Counts how deep the reactor is in `run` or a pass, and undoes its count
/// even on unwind. Nonzero means callbacks may be on the stack, so `run`,
/// `iterate` and `advance` must refuse.
struct PassGuard<'a>(&'a Cell<u32>);

impl<'a> PassGuard<'a> {
    fn enter(depth: &'a Cell<u32>) -> Self {
        depth.set(depth.get() + 1);
        PassGuard(depth)
    }
}

impl Drop for PassGuard<'_> {
    fn drop(&mut self) {
        self.0.set(self.0.get().saturating_sub(1));
    }
}
