//! The executor behind [`Reactor::spawn`](crate::Reactor::spawn): a slab of
//! tasks, their wakers, and the ready queue the reactor drains once a pass.
//! The design is described in the [`executor`](crate::executor) module's docs.
//!
//! Nothing here knows the reactor: the reactor hands the executor its poll's
//! waker, and calls [`Executor::run_ready`] in its pass.

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
use crate::deferred::{Deferred, Failure};
use crate::error::Error;

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

    /// Polls the tasks queued when this was called, calling `polled` after
    /// each poll.
    fn run_ready(&self, mut polled: impl FnMut()) {
        let mut batch = self.spare.take();
        std::mem::swap(&mut *self.shared.lock(), &mut batch);
        for &id in &batch {
            if self.poll_task(id) {
                polled();
            }
        }
        batch.clear();
        self.spare.replace(batch);
    }

    /// Polls a task; returns whether it was there to poll.
    fn poll_task(&self, id: TaskId) -> bool {
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
            return false;
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
        true
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
    /// Pass step: polls the tasks woken before it began, calling `polled`
    /// after each poll.
    pub(crate) fn run_ready(&self, polled: impl FnMut()) {
        if let Some(core) = self.core.get() {
            core.run_ready(polled);
        }
    }

    /// Whether a woken task is waiting (the next poll must not block).
    pub(crate) fn has_ready(&self) -> bool {
        self.core
            .get()
            .is_some_and(|core| !core.shared.lock().is_empty())
    }

    /// How many tasks have not completed (nor been cancelled).
    pub(crate) fn len(&self) -> usize {
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

    /// Adds a task that runs `future` and fires the returned Deferred with
    /// its outcome, and gives it its first poll (see
    /// [`Reactor::spawn`](crate::Reactor::spawn)). The first spawn creates
    /// the executor, whose wakers use `poll_waker` to wake the reactor's poll
    /// from other threads.
    pub(crate) fn spawn<F>(
        &self,
        poll_waker: impl FnOnce() -> Arc<mio::Waker>,
        future: F,
    ) -> Deferred<<F::Output as TaskOutput>::Value>
    where
        F: Future + 'static,
        F::Output: TaskOutput,
    {
        let core = self.core(poll_waker);
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
}
