//! Calls from other threads (what
//! [`ThreadHandle::call_from_thread`](crate::ThreadHandle::call_from_thread)
//! queues): a mutex-protected queue, and the poll's waker.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use mio::{Registry, Token, Waker};

use crate::error::{Error, Result};

/// The part of a reactor that other threads share: the calls they queued
/// (each a `T`) and the waker that makes the reactor's poll return.
pub(crate) struct ThreadQueue<T> {
    queue: Mutex<Vec<T>>,
    waker: Arc<Waker>,
    open: AtomicBool,
}

impl<T> ThreadQueue<T> {
    /// A queue whose waker is registered with `registry` under `token`.
    pub(crate) fn new(registry: &Registry, token: Token) -> Result<Self> {
        let waker =
            Waker::new(registry, token).map_err(|e| Error::io("create the reactor's waker", e))?;
        Ok(ThreadQueue {
            queue: Mutex::new(Vec::new()),
            waker: Arc::new(waker),
            open: AtomicBool::new(true),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Vec<T>> {
        // A panic while holding this lock cannot leave the Vec inconsistent.
        self.queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The calls queued so far; later ones wait for the next pass.
    pub(crate) fn take_calls(&self) -> Vec<T> {
        std::mem::take(&mut *self.lock())
    }

    /// Puts calls taken with [`take_calls`](Self::take_calls) but not run
    /// back at the front of the queue, in order, to run on the next pass
    /// (dropped if the queue is closed).
    pub(crate) fn put_back(&self, mut calls: Vec<T>) {
        let refused = {
            let mut queue = self.lock();
            if self.open.load(Ordering::SeqCst) {
                calls.append(&mut queue);
                *queue = calls;
                None
            } else {
                Some(calls)
            }
        };
        drop(refused); // outside the lock: their captures may queue calls
    }

    /// The poll's one waker, shared with the executor's task wakers.
    pub(crate) fn poll_waker(&self) -> Arc<Waker> {
        Arc::clone(&self.waker)
    }

    pub(crate) fn has_calls(&self) -> bool {
        !self.lock().is_empty()
    }

    /// Until [`close`](Self::close).
    pub(crate) fn is_open(&self) -> bool {
        self.open.load(Ordering::SeqCst)
    }

    /// Refuses further calls and drops those queued.
    pub(crate) fn close(&self) {
        self.open.store(false, Ordering::SeqCst);
        let dropped = self.take_calls();
        drop(dropped);
    }

    /// Queues a call and wakes the poll if the queue was empty.
    ///
    /// # Errors
    ///
    /// [`Error::ReactorGone`] once closed; [`Error::Io`] if the waker fails.
    pub(crate) fn push(&self, call: T) -> Result<()> {
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
