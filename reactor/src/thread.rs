//! Calls from other threads: [`ThreadHandle::call_from_thread`].

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use mio::{Registry, Waker};

use crate::callback::CallbackResult;
use crate::error::{Error, Result};
use crate::reactor::{Ctx, Reactor, WAKER_TOKEN};

type ThreadCall<S> = Box<dyn FnOnce(&mut Ctx<'_, S>) + Send>;

/// The part of a reactor that other threads share.
pub(crate) struct ThreadShared<S: 'static> {
    queue: Mutex<Vec<ThreadCall<S>>>,
    waker: Arc<Waker>,
    open: AtomicBool,
}

impl<S: 'static> ThreadShared<S> {
    pub(crate) fn new(registry: &Registry) -> Result<Self> {
        let waker = Waker::new(registry, WAKER_TOKEN)
            .map_err(|e| Error::io("create the reactor's waker", e))?;
        Ok(ThreadShared {
            queue: Mutex::new(Vec::new()),
            waker: Arc::new(waker),
            open: AtomicBool::new(true),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Vec<ThreadCall<S>>> {
        // A panic while holding this lock cannot leave the Vec inconsistent.
        self.queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The calls queued so far; later ones wait for the next pass.
    pub(crate) fn take_calls(&self) -> Vec<ThreadCall<S>> {
        std::mem::take(&mut *self.lock())
    }

    /// The poll's one waker, shared with the executor's task wakers.
    pub(crate) fn poll_waker(&self) -> Arc<Waker> {
        Arc::clone(&self.waker)
    }

    pub(crate) fn has_calls(&self) -> bool {
        !self.lock().is_empty()
    }

    pub(crate) fn close(&self) {
        self.open.store(false, Ordering::SeqCst);
        let dropped = self.take_calls();
        drop(dropped);
    }

    fn push(&self, call: ThreadCall<S>) -> Result<()> {
        let was_empty = {
            let mut queue = self.lock();
            if !self.open.load(Ordering::SeqCst) {
                return Err(Error::ReactorGone);
            }
            let was_empty = queue.is_empty();
            queue.push(call);
            was_empty
        };
        // The reactor empties the queue at the start of a pass; only the push
        // that finds it empty needs to wake it.
        if was_empty {
            self.waker
                .wake()
                .map_err(|e| Error::io("wake the reactor", e))?;
        }
        Ok(())
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
    shared: Arc<ThreadShared<S>>,
}

impl<S: 'static> Clone for ThreadHandle<S> {
    fn clone(&self) -> Self {
        ThreadHandle {
            shared: self.shared.clone(),
        }
    }
}

impl<S: 'static> fmt::Debug for ThreadHandle<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadHandle")
            .field("open", &self.shared.open.load(Ordering::SeqCst))
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

impl<S: 'static> Reactor<S> {
    /// A handle other threads can use to queue calls onto this reactor.
    pub fn thread_handle(&self) -> ThreadHandle<S> {
        ThreadHandle {
            shared: self.inner.threads.clone(),
        }
    }
}
