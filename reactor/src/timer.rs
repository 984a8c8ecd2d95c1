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
use crate::reactor::Ctx;

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
    /// Where the call is kept in the queue's slab while pending.
    key: Cell<usize>,
}

/// A timed call's state seen without its state type: what a `DelayedCall`
/// handle holds.
pub(crate) trait TimerState {
    fn meta(&self) -> &TimerMeta;
}

/// A timed call as the queue sees it: its state and its closure, in one
/// allocation.
pub(crate) trait Timed<S: 'static>: TimerState {
    /// Runs the closure (once; later calls do nothing).
    fn fire(&self, cx: &mut Ctx<'_, S>);
    /// Drops the closure without running it.
    fn discard(&self);
}

struct TimerNode<F> {
    meta: TimerMeta,
    f: Cell<Option<F>>,
}

impl<F> TimerState for TimerNode<F> {
    fn meta(&self) -> &TimerMeta {
        &self.meta
    }
}

impl<S: 'static, F: FnOnce(&mut Ctx<'_, S>) + 'static> Timed<S> for TimerNode<F> {
    fn fire(&self, cx: &mut Ctx<'_, S>) {
        if let Some(f) = self.f.take() {
            f(cx);
        }
    }

    fn discard(&self) {
        drop(self.f.take());
    }
}

struct HeapEntry {
    deadline: Duration,
    seq: u64,
    key: usize,
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

/// The reactor's timer queue: a heap of `(deadline, sequence, key)` over a
/// slab of pending calls. An entry is live while the slab holds a pending
/// call at its key whose current sequence number is the entry's.
pub(crate) struct TimerQueue<S: 'static> {
    heap: BinaryHeap<HeapEntry>,
    calls: Slab<Rc<dyn Timed<S>>>,
    stale: usize,
    next_seq: u64,
}

impl<S: 'static> TimerQueue<S> {
    pub(crate) fn new() -> Self {
        TimerQueue {
            heap: BinaryHeap::new(),
            calls: Slab::new(),
            stale: 0,
            next_seq: 0,
        }
    }

    fn take_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    fn is_live(calls: &Slab<Rc<dyn Timed<S>>>, entry: &HeapEntry) -> bool {
        calls
            .get(entry.key)
            .is_some_and(|call| call.meta().seq.get() == entry.seq)
    }

    /// The sequence number the next scheduled call will get. Calls scheduled
    /// during a pass have a number at least this, so the pass leaves them alone.
    pub(crate) fn seq_limit(&self) -> u64 {
        self.next_seq
    }

    /// Schedules `f` at `deadline`; returns the call's state for its handle.
    pub(crate) fn schedule<F>(&mut self, deadline: Duration, f: F) -> Rc<dyn TimerState>
    where
        F: FnOnce(&mut Ctx<'_, S>) + 'static,
    {
        let seq = self.take_seq();
        let entry = self.calls.vacant_entry();
        let key = entry.key();
        let node = Rc::new(TimerNode {
            meta: TimerMeta {
                status: Cell::new(Status::Pending),
                deadline: Cell::new(deadline),
                seq: Cell::new(seq),
                key: Cell::new(key),
            },
            f: Cell::new(Some(f)),
        });
        entry.insert(node.clone());
        self.heap.push(HeapEntry { deadline, seq, key });
        node
    }

    /// Marks a pending call cancelled and hands it back; the caller discards
    /// its closure once no borrow of the queue is held.
    pub(crate) fn cancel(&mut self, meta: &TimerMeta) -> Result<Option<Rc<dyn Timed<S>>>> {
        check_pending(meta)?;
        meta.status.set(Status::Cancelled);
        let call = self.calls.try_remove(meta.key.get());
        self.note_stale();
        Ok(call)
    }

    /// Moves a pending call to a new deadline. Its old heap entry turns stale.
    pub(crate) fn reschedule(&mut self, meta: &TimerMeta, deadline: Duration) -> Result<()> {
        check_pending(meta)?;
        let seq = self.take_seq();
        meta.seq.set(seq);
        meta.deadline.set(deadline);
        self.heap.push(HeapEntry {
            deadline,
            seq,
            key: meta.key.get(),
        });
        self.note_stale();
        Ok(())
    }

    fn note_stale(&mut self) {
        self.stale += 1;
        if self.stale >= COMPACT_MIN_STALE && self.stale * 2 > self.heap.len() {
            let calls = &self.calls;
            self.heap.retain(|entry| Self::is_live(calls, entry));
            self.stale = 0;
        }
    }

    /// Drops stale entries from the top of the heap.
    fn skim(&mut self) {
        while let Some(top) = self.heap.peek() {
            if Self::is_live(&self.calls, top) {
                return;
            }
            self.heap.pop();
            self.stale = self.stale.saturating_sub(1);
        }
    }

    /// Takes the next call that is due at `now` and was scheduled before the
    /// pass began (`seq < limit`), marking it called.
    pub(crate) fn pop_due(&mut self, now: Duration, limit: u64) -> Option<Rc<dyn Timed<S>>> {
        self.skim();
        let top = self.heap.peek()?;
        if top.deadline > now || top.seq >= limit {
            return None;
        }
        let entry = self.heap.pop()?;
        let call = self.calls.try_remove(entry.key)?;
        call.meta().status.set(Status::Called);
        Some(call)
    }

    /// The earliest live deadline.
    pub(crate) fn next_deadline(&mut self) -> Option<Duration> {
        self.skim();
        self.heap.peek().map(|e| e.deadline)
    }

    /// Live calls waiting.
    pub(crate) fn len(&self) -> usize {
        self.calls.len()
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
    fn reschedule_timer(&self, meta: &TimerMeta, deadline: Duration) -> Result<()>;
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
    pub(crate) call: Rc<dyn TimerState>,
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
        self.ops()?.cancel_timer(self.call.meta())
    }

    /// Reschedules the call to run `delay` from now (Twisted's `reset`).
    ///
    /// # Errors
    ///
    /// As for [`cancel`](Self::cancel).
    pub fn reset(&self, delay: Duration) -> Result<()> {
        let ops = self.ops()?;
        let deadline = ops.now().saturating_add(delay);
        ops.reschedule_timer(self.call.meta(), deadline)
    }

    /// Pushes the call `by` later than it is now due (Twisted's `delay`).
    ///
    /// # Errors
    ///
    /// As for [`cancel`](Self::cancel).
    pub fn delay(&self, by: Duration) -> Result<()> {
        let meta = self.call.meta();
        let deadline = meta.deadline.get().saturating_add(by);
        self.ops()?.reschedule_timer(meta, deadline)
    }

    /// True until the call has run or been cancelled.
    pub fn active(&self) -> bool {
        self.call.meta().status.get() == Status::Pending
    }

    /// When the call is (or was) due, on the reactor's clock
    /// (see [`Reactor::seconds`](crate::Reactor::seconds)).
    pub fn get_time(&self) -> Duration {
        self.call.meta().deadline.get()
    }
}

impl fmt::Debug for DelayedCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DelayedCall")
            .field("time", &self.call.meta().deadline.get())
            .field("status", &self.call.meta().status.get())
            .finish()
    }
}
