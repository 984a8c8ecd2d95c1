//! Timed calls: the queue the reactor pops due calls from, and the
//! user-facing [`DelayedCall`] handle.
//!
//! Cancelling is O(1): the call's closure is dropped at once and its heap
//! entry is left behind as stale, to be skipped when it surfaces or removed by
//! a compaction once stale entries outnumber live ones.

use std::cell::Cell;
use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::fmt;
use std::rc::{Rc, Weak};
use std::time::Duration;

use slab::Slab;

use crate::error::{Error, Result};
use crate::reactor::Callback;

/// Where a timed call is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    Pending,
    Called,
    Cancelled,
}

/// What a `DelayedCall` handle and the queue share about one call.
pub(crate) struct TimerMeta {
    pub(crate) status: Cell<Status>,
    pub(crate) deadline: Cell<Duration>,
    /// The sequence number of the call's one live heap entry.
    pub(crate) seq: Cell<u64>,
    /// Where the closure is kept in the queue's slab.
    pub(crate) key: usize,
}

struct HeapEntry {
    deadline: Duration,
    seq: u64,
    meta: Rc<TimerMeta>,
}

impl HeapEntry {
    fn is_live(&self) -> bool {
        self.meta.status.get() == Status::Pending && self.meta.seq.get() == self.seq
    }
}

impl PartialEq for HeapEntry {
    fn eq(&self, other: &Self) -> bool {
        self.deadline == other.deadline && self.seq == other.seq
    }
}
impl Eq for HeapEntry {}
impl PartialOrd for HeapEntry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for HeapEntry {
    /// Reversed, so that `BinaryHeap` (a max-heap) pops the earliest deadline,
    /// and among equal deadlines the one scheduled first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.deadline, other.seq).cmp(&(self.deadline, self.seq))
    }
}

/// Stale entries tolerated before a compaction is considered.
const COMPACT_MIN_STALE: usize = 64;

/// The reactor's timer queue.
pub(crate) struct TimerQueue<S: 'static> {
    heap: BinaryHeap<HeapEntry>,
    callbacks: Slab<Callback<S>>,
    stale: usize,
    next_seq: u64,
}

impl<S: 'static> TimerQueue<S> {
    pub(crate) fn new() -> Self {
        TimerQueue {
            heap: BinaryHeap::new(),
            callbacks: Slab::new(),
            stale: 0,
            next_seq: 0,
        }
    }

    fn take_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    /// The sequence number the next scheduled call will get. Calls scheduled
    /// during a pass have a number at least this, so the pass leaves them alone.
    pub(crate) fn seq_limit(&self) -> u64 {
        self.next_seq
    }

    pub(crate) fn schedule(&mut self, deadline: Duration, callback: Callback<S>) -> Rc<TimerMeta> {
        let seq = self.take_seq();
        let key = self.callbacks.insert(callback);
        let meta = Rc::new(TimerMeta {
            status: Cell::new(Status::Pending),
            deadline: Cell::new(deadline),
            seq: Cell::new(seq),
            key,
        });
        self.heap.push(HeapEntry {
            deadline,
            seq,
            meta: meta.clone(),
        });
        meta
    }

    /// Marks a pending call cancelled and hands back its closure, which the
    /// caller drops once no borrow of the queue is held.
    pub(crate) fn cancel(&mut self, meta: &TimerMeta) -> Result<Option<Callback<S>>> {
        check_pending(meta)?;
        meta.status.set(Status::Cancelled);
        self.note_stale();
        Ok(self.callbacks.try_remove(meta.key))
    }

    /// Moves a pending call to a new deadline. Its old heap entry turns stale.
    pub(crate) fn reschedule(&mut self, meta: &Rc<TimerMeta>, deadline: Duration) -> Result<()> {
        check_pending(meta)?;
        let seq = self.take_seq();
        meta.seq.set(seq);
        meta.deadline.set(deadline);
        self.heap.push(HeapEntry {
            deadline,
            seq,
            meta: meta.clone(),
        });
        self.note_stale();
        Ok(())
    }

    fn note_stale(&mut self) {
        self.stale += 1;
        if self.stale >= COMPACT_MIN_STALE && self.stale * 2 > self.heap.len() {
            self.heap.retain(HeapEntry::is_live);
            self.stale = 0;
        }
    }

    /// Drops stale entries from the top of the heap.
    fn skim(&mut self) {
        while let Some(top) = self.heap.peek() {
            if top.is_live() {
                return;
            }
            self.heap.pop();
            self.stale = self.stale.saturating_sub(1);
        }
    }

    /// Takes the next call that is due at `now` and was scheduled before the
    /// pass began (`seq < limit`), marking it called.
    pub(crate) fn pop_due(&mut self, now: Duration, limit: u64) -> Option<Callback<S>> {
        loop {
            self.skim();
            let top = self.heap.peek()?;
            if top.deadline > now || top.seq >= limit {
                return None;
            }
            let entry = self.heap.pop()?;
            entry.meta.status.set(Status::Called);
            if let Some(callback) = self.callbacks.try_remove(entry.meta.key) {
                return Some(callback);
            }
        }
    }

    /// The earliest live deadline.
    pub(crate) fn next_deadline(&mut self) -> Option<Duration> {
        self.skim();
        self.heap.peek().map(|e| e.deadline)
    }

    /// Live calls waiting.
    pub(crate) fn len(&self) -> usize {
        self.callbacks.len()
    }
}

fn check_pending(meta: &TimerMeta) -> Result<()> {
    match meta.status.get() {
        Status::Pending => Ok(()),
        Status::Called => Err(Error::AlreadyCalled),
        Status::Cancelled => Err(Error::AlreadyCancelled),
    }
}

/// What a [`DelayedCall`] asks of its reactor, with the reactor's state type erased.
pub(crate) trait TimerOps {
    fn cancel_timer(&self, meta: &TimerMeta) -> Result<()>;
    fn reschedule_timer(&self, meta: &Rc<TimerMeta>, deadline: Duration) -> Result<()>;
    fn now(&self) -> Duration;
}

/// A call scheduled with [`Reactor::call_later`](crate::Reactor::call_later),
/// like Twisted's `IDelayedCall`.
///
/// Cloning gives another handle to the same call. Dropping every handle does
/// not cancel the call.
///
/// ```
/// use std::time::Duration;
/// use tx0mq_reactor::{Error, Reactor};
///
/// let reactor = Reactor::builder().fake_clock().build()?;
/// let call = reactor.call_later(Duration::from_secs(5), |_| println!("too late"));
/// assert!(call.active());
/// call.delay(Duration::from_secs(1))?; // now due at 6 s
/// call.cancel()?;
/// assert!(matches!(call.cancel(), Err(Error::AlreadyCancelled)));
/// # Ok::<(), Error>(())
/// ```
#[derive(Clone)]
pub struct DelayedCall {
    pub(crate) meta: Rc<TimerMeta>,
    pub(crate) ops: Weak<dyn TimerOps>,
}

impl DelayedCall {
    fn ops(&self) -> Result<Rc<dyn TimerOps>> {
        self.ops.upgrade().ok_or(Error::ReactorGone)
    }

    /// Cancels the call; its closure is dropped at once.
    ///
    /// # Errors
    ///
    /// [`Error::AlreadyCalled`] or [`Error::AlreadyCancelled`] if the call is
    /// no longer pending, [`Error::ReactorGone`] if its reactor was dropped.
    pub fn cancel(&self) -> Result<()> {
        self.ops()?.cancel_timer(&self.meta)
    }

    /// Reschedules the call to run `delay` from now (Twisted's `reset`).
    ///
    /// # Errors
    ///
    /// As for [`cancel`](Self::cancel).
    pub fn reset(&self, delay: Duration) -> Result<()> {
        let ops = self.ops()?;
        let deadline = ops.now().saturating_add(delay);
        ops.reschedule_timer(&self.meta, deadline)
    }

    /// Pushes the call `by` later than it is now due (Twisted's `delay`).
    ///
    /// # Errors
    ///
    /// As for [`cancel`](Self::cancel).
    pub fn delay(&self, by: Duration) -> Result<()> {
        let deadline = self.meta.deadline.get().saturating_add(by);
        self.ops()?.reschedule_timer(&self.meta, deadline)
    }

    /// True until the call has run or been cancelled.
    pub fn active(&self) -> bool {
        self.meta.status.get() == Status::Pending
    }

    /// When the call is (or was) due, on the reactor's clock
    /// (see [`Reactor::seconds`](crate::Reactor::seconds)).
    pub fn get_time(&self) -> Duration {
        self.meta.deadline.get()
    }
}

impl fmt::Debug for DelayedCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DelayedCall")
            .field("time", &self.meta.deadline.get())
            .field("status", &self.meta.status.get())
            .finish()
    }
}
