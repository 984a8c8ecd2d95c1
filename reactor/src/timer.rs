//! Timed calls: the queue the reactor pops due calls from, and the
//! user-facing [`DelayedCall`] handle.
//!
//! The queue knows nothing of the reactor: it holds each call as an
//! `Rc<TimerNode<C>>`, a call's status, deadline and slab key followed by its
//! closure in one allocation, where `C` is whatever trait object the reactor
//! makes of the closure; the queue reads only the fields before it. A
//! [`DelayedCall`] holds the same node as a [`TimerMeta`] and reaches its
//! reactor through [`TimerOps`].
//!
//! Cancelling is O(1): the call's closure is dropped at once and its heap
//! entry is left behind as stale, to be skipped when it surfaces or removed by
//! a compaction once stale entries outnumber live ones.
//!
//! The queue is a 4-ary min-heap of 16-byte entries (deadline in nanoseconds,
//! sequence number, slab key, packed in one `u128`) over a slab that holds each
//! pending call next to the sequence number of its one live entry. A 4-ary heap
//! has half the levels of a binary one and the four children compared at each
//! level lie side by side, so a pop from a large queue touches fewer cache
//! lines; whether an entry is stale is read from the slab, without touching the
//! call itself.

use std::any::Any;
use std::cell::Cell;
use std::fmt;
use std::rc::{Rc, Weak};
use std::time::Duration;

use slab::Slab;

use crate::error::{Error, Result};

/// Where a timed call is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    Pending,
    Called,
    Cancelled,
}

/// One timed call: what a [`DelayedCall`] handle and the queue share about
/// it, and its closure `F` last, in one allocation.
///
/// `F` is a [`TimerFn`] when the node is made and is unsized to a trait
/// object afterwards: `dyn Any` in the handle ([`TimerMeta`]), the reactor's
/// own trait in the queue. The fields before `F` are read in place, without
/// a call through the trait object. The deadline is kept as seconds and
/// nanoseconds apart, so that the fields pack into 21 bytes: with a closure
/// that captures nothing a node is 24 bytes.
pub(crate) struct TimerNode<F: ?Sized> {
    status: Cell<Status>,
    /// The deadline's whole seconds.
    secs: Cell<u64>,
    /// The deadline's nanoseconds past `secs` (below one second).
    nanos: Cell<u32>,
    /// Where the call is kept in the queue's slab while pending
    /// (`usize::MAX`, no key, until it is scheduled).
    key: Cell<usize>,
    f: F,
}

/// A timed call seen without its closure: what a `DelayedCall` handle holds.
pub(crate) type TimerMeta = TimerNode<dyn Any>;

/// A closure that runs at most once.
pub(crate) struct TimerFn<F>(Cell<Option<F>>);

impl<F> TimerFn<F> {
    /// Takes the closure out, to run or to drop it; `None` the second time.
    #[inline]
    pub(crate) fn take(&self) -> Option<F> {
        self.0.take()
    }
}

impl<F> TimerNode<TimerFn<F>> {
    /// A pending call due at `deadline`, for [`TimerQueue::schedule`].
    #[inline]
    pub(crate) fn new(deadline: Duration, f: F) -> Self {
        TimerNode {
            status: Cell::new(Status::Pending),
            secs: Cell::new(deadline.as_secs()),
            nanos: Cell::new(deadline.subsec_nanos()),
            key: Cell::new(usize::MAX),
            f: TimerFn(Cell::new(Some(f))),
        }
    }
}

impl<F: ?Sized> TimerNode<F> {
    /// The call's closure.
    #[inline]
    pub(crate) fn closure(&self) -> &F {
        &self.f
    }

    /// When the call is (or was) due.
    #[inline]
    fn deadline(&self) -> Duration {
        // Exact: `nanos` is below one second.
        Duration::from_secs(self.secs.get())
            .saturating_add(Duration::from_nanos(u64::from(self.nanos.get())))
    }

    /// [`deadline`](Self::deadline) in nanoseconds, saturating after 584
    /// years.
    #[inline]
    pub(crate) fn deadline_nanos(&self) -> u64 {
        self.secs
            .get()
            .saturating_mul(1_000_000_000)
            .saturating_add(u64::from(self.nanos.get()))
    }

    #[inline]
    fn set_deadline(&self, deadline: Duration) {
        self.secs.set(deadline.as_secs());
        self.nanos.set(deadline.subsec_nanos());
    }
}

/// A min-heap with four children per node, over small `Copy` entries.
///
/// Node `i`'s children are `4i + 1 ..= 4i + 4`: half the depth of a binary
/// heap, and the children compared at each level are adjacent in memory.
#[derive(Debug)]
struct QuadHeap<T> {
    items: Vec<T>,
}

impl<T: Copy + Ord> QuadHeap<T> {
    fn new() -> Self {
        QuadHeap { items: Vec::new() }
    }

    fn len(&self) -> usize {
        self.items.len()
    }

    fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The least entry.
    fn peek(&self) -> Option<T> {
        self.items.first().copied()
    }

    fn push(&mut self, item: T) {
        let at = self.items.len();
        self.items.push(item);
        self.sift_up(at, item);
    }

    /// Removes and returns the least entry.
    fn pop(&mut self) -> Option<T> {
        let last = self.items.pop()?;
        let Some(&top) = self.items.first() else {
            return Some(last);
        };
        // Move the hole at the root down to a leaf along the least children,
        // then put `last` there and sift it up: it came from the bottom, so it
        // rarely rises far, and the way down spends no comparison on it.
        let hole = self.hole_to_leaf(0);
        self.sift_up(hole, last);
        Some(top)
    }

    /// Keeps only the entries `keep` accepts, then restores the heap order
    /// (in linear time).
    fn retain(&mut self, keep: impl FnMut(&T) -> bool) {
        self.items.retain(keep);
        let len = self.items.len();
        if len > 1 {
            for at in (0..=(len - 2) / 4).rev() {
                self.sift_down(at);
            }
        }
    }

    fn clear(&mut self) {
        self.items.clear();
    }

    /// Every entry, in no particular order.
    fn iter(&self) -> impl Iterator<Item = &T> {
        self.items.iter()
    }

    /// Writes `item` at `at` (in bounds wherever it is called).
    #[inline]
    fn put(&mut self, at: usize, item: T) {
        if let Some(slot) = self.items.get_mut(at) {
            *slot = item;
        }
    }

    /// Places `item` at `at` or above it, moving greater ancestors down.
    #[inline]
    fn sift_up(&mut self, mut at: usize, item: T) {
        while at > 0 {
            let parent = (at - 1) / 4;
            let Some(&above) = self.items.get(parent) else {
                break;
            };
            if item >= above {
                break;
            }
            self.put(at, above);
            at = parent;
        }
        self.put(at, item);
    }

    /// Moves the entry at `at` down while a child is less than it.
    fn sift_down(&mut self, mut at: usize) {
        let Some(&item) = self.items.get(at) else {
            return;
        };
        while let Some((child, below)) = self.least_child(at) {
            if below >= item {
                break;
            }
            self.put(at, below);
            at = child;
        }
        self.put(at, item);
    }

    /// Fills the hole at `at` from its least child, and so on down to a leaf;
    /// returns where the hole ends up.
    #[inline]
    fn hole_to_leaf(&mut self, mut at: usize) -> usize {
        while let Some((child, below)) = self.least_child(at) {
            self.put(at, below);
            at = child;
        }
        at
    }

    /// The least child of `at` and its index, if `at` has children.
    #[inline]
    fn least_child(&self, at: usize) -> Option<(usize, T)> {
        // `at` indexes the Vec, so for entries of 4 bytes or more this cannot
        // wrap; if it did, `get` would find nothing rather than panic.
        let first = at.wrapping_mul(4).wrapping_add(1);
        if let Some(&[a, b, c, d]) = self.items.get(first..first.wrapping_add(4)) {
            // All four children: two independent comparisons, then one.
            let (i, x) = if b < a { (1, b) } else { (0, a) };
            let (j, y) = if d < c { (3, d) } else { (2, c) };
            return Some(if y < x {
                (first + j, y)
            } else {
                (first + i, x)
            });
        }
        let rest = self.items.get(first..)?;
        let mut least = (first, *rest.first()?);
        for (i, &x) in rest.iter().enumerate().skip(1) {
            if x < least.1 {
                least = (first + i, x);
            }
        }
        Some(least)
    }
}

/// A heap entry: deadline in nanoseconds on the reactor clock (below 2^64 ns,
/// about 584 years), sequence number and slab key (below 2^32), packed as
/// `deadline << 64 | seq << 32 | key`. Ordering the integer orders entries by
/// deadline, then by sequence number, so that equal deadlines come out in
/// scheduling order; the key never decides, sequence numbers being unique.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Entry(u128);

impl Entry {
    #[inline]
    fn new(at: u64, seq: u32, key: u32) -> Self {
        Entry((u128::from(at) << 64) | (u128::from(seq) << 32) | u128::from(key))
    }

    #[inline]
    fn at(self) -> u64 {
        (self.0 >> 64) as u64
    }

    #[inline]
    fn seq(self) -> u32 {
        (self.0 >> 32) as u32
    }

    #[inline]
    fn key(self) -> usize {
        self.0 as u32 as usize
    }
}

/// A heap entry that does not fit [`Entry`]: a deadline 2^64 ns or more away
/// from the clock's origin, or a slab key of 2^32 or more. Rare; kept in a
/// heap of its own, which the hot paths look at only when it is not empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct FarEntry {
    at: Duration,
    seq: u32,
    key: usize,
}

/// The earliest live entry, from whichever heap holds it.
#[derive(Clone, Copy)]
enum Top {
    Near(Entry),
    Far(FarEntry),
}

impl Top {
    fn seq(self) -> u32 {
        match self {
            Top::Near(e) => e.seq(),
            Top::Far(e) => e.seq,
        }
    }

    fn key(self) -> usize {
        match self {
            Top::Near(e) => e.key(),
            Top::Far(e) => e.key,
        }
    }

    fn deadline(self) -> Duration {
        match self {
            Top::Near(e) => Duration::from_nanos(e.at()),
            Top::Far(e) => e.at,
        }
    }
}

/// `d` in whole nanoseconds, if that fits in a `u64`.
#[inline]
fn nanos(d: Duration) -> Option<u64> {
    d.as_secs()
        .checked_mul(1_000_000_000)?
        .checked_add(u64::from(d.subsec_nanos()))
}

/// A pending call in the slab, with the sequence number of its live entry.
struct Slot<C: ?Sized> {
    seq: u32,
    call: Rc<TimerNode<C>>,
}

/// Stale entries tolerated before a compaction is considered.
const COMPACT_MIN_STALE: usize = 64;

/// The reactor's timer queue: heaps of `(deadline, sequence, key)` entries
/// over a slab of pending calls, each an `Rc<TimerNode<C>>`. An entry is live while the
/// slab holds a call at its key with the entry's sequence number.
///
/// Sequence numbers are 32 bits. When they run out, the live entries are
/// renumbered from zero in their order, which keeps every comparison the
/// queue makes (between entries, and against the pass limit) unchanged.
pub(crate) struct TimerQueue<C: ?Sized> {
    heap: QuadHeap<Entry>,
    far: QuadHeap<FarEntry>,
    calls: Slab<Slot<C>>,
    stale: usize,
    next_seq: u32,
    /// Calls numbered from here on were scheduled during the current pass.
    pass_limit: u32,
    /// `next_seq` at which the live entries are renumbered (lowered by tests).
    seq_ceiling: u32,
}

impl<C: ?Sized> TimerQueue<C> {
    pub(crate) fn new() -> Self {
        TimerQueue {
            heap: QuadHeap::new(),
            far: QuadHeap::new(),
            calls: Slab::new(),
            stale: 0,
            next_seq: 0,
            pass_limit: 0,
            seq_ceiling: u32::MAX,
        }
    }

    fn take_seq(&mut self) -> u32 {
        if self.next_seq >= self.seq_ceiling {
            self.renumber();
        }
        let seq = self.next_seq;
        // Saturates only with 2^32 calls pending at once, more than memory holds.
        self.next_seq = self.next_seq.saturating_add(1);
        seq
    }

    /// Renumbers the live entries `0..live` in sequence order, drops the
    /// stale ones, and maps the pass limit along.
    #[cold]
    fn renumber(&mut self) {
        let calls = &self.calls;
        let mut live: Vec<(u32, usize, Duration)> = self
            .heap
            .iter()
            .map(|&e| Top::Near(e))
            .chain(self.far.iter().map(|&e| Top::Far(e)))
            .filter(|top| Self::is_live(calls, top.key(), top.seq()))
            .map(|top| (top.seq(), top.key(), top.deadline()))
            .collect();
        live.sort_unstable_by_key(|&(seq, _, _)| seq);
        let limit = self.pass_limit;
        let below = live.partition_point(|&(seq, _, _)| seq < limit);
        self.pass_limit = u32::try_from(below).unwrap_or(u32::MAX);
        self.heap.clear();
        self.far.clear();
        self.stale = 0;
        self.next_seq = 0;
        for (_, key, deadline) in live {
            let seq = self.next_seq;
            self.next_seq = self.next_seq.saturating_add(1);
            if let Some(slot) = self.calls.get_mut(key) {
                slot.seq = seq;
            }
            self.push(deadline, seq, key);
        }
    }

    #[inline]
    fn is_live(calls: &Slab<Slot<C>>, key: usize, seq: u32) -> bool {
        calls.get(key).is_some_and(|slot| slot.seq == seq)
    }

    /// Starts a pass: calls scheduled from now on wait for a later pass.
    pub(crate) fn begin_pass(&mut self) {
        self.pass_limit = self.next_seq;
    }

    #[inline]
    fn push(&mut self, deadline: Duration, seq: u32, key: usize) {
        match (nanos(deadline), u32::try_from(key)) {
            (Some(at), Ok(key)) => self.heap.push(Entry::new(at, seq, key)),
            _ => self.far.push(FarEntry {
                at: deadline,
                seq,
                key,
            }),
        }
    }

    /// Schedules a new call (a [`TimerNode`]) at the deadline it was made with.
    #[inline]
    pub(crate) fn schedule(&mut self, call: Rc<TimerNode<C>>) {
        let seq = self.take_seq();
        let deadline = call.deadline();
        let entry = self.calls.vacant_entry();
        let key = entry.key();
        call.key.set(key);
        entry.insert(Slot { seq, call });
        self.push(deadline, seq, key);
    }

    /// Marks a pending call cancelled and hands it back; the caller discards
    /// its closure once no borrow of the queue is held.
    #[inline]
    pub(crate) fn cancel(&mut self, meta: &TimerMeta) -> Result<Option<Rc<TimerNode<C>>>> {
        check_pending(meta)?;
        meta.status.set(Status::Cancelled);
        let slot = self.calls.try_remove(meta.key.get());
        self.note_stale();
        Ok(slot.map(|slot| slot.call))
    }

    /// Moves a pending call to a new deadline. Its old heap entry turns stale.
    pub(crate) fn reschedule(&mut self, meta: &TimerMeta, deadline: Duration) -> Result<()> {
        check_pending(meta)?;
        let key = meta.key.get();
        let seq = self.take_seq();
        if let Some(slot) = self.calls.get_mut(key) {
            slot.seq = seq;
        }
        meta.set_deadline(deadline);
        self.push(deadline, seq, key);
        self.note_stale();
        Ok(())
    }

    #[inline]
    fn note_stale(&mut self) {
        self.stale += 1;
        if self.stale >= COMPACT_MIN_STALE && self.stale * 2 > self.heap.len() + self.far.len() {
            let calls = &self.calls;
            self.heap.retain(|e| Self::is_live(calls, e.key(), e.seq()));
            self.far.retain(|e| Self::is_live(calls, e.key, e.seq));
            self.stale = 0;
        }
    }

    /// Drops stale entries from the top of the heaps and returns the earliest
    /// live entry.
    #[inline]
    fn skim(&mut self) -> Option<Top> {
        let near = loop {
            let Some(e) = self.heap.peek() else {
                break None;
            };
            if Self::is_live(&self.calls, e.key(), e.seq()) {
                break Some(e);
            }
            self.heap.pop();
            self.stale = self.stale.saturating_sub(1);
        };
        if self.far.is_empty() {
            return near.map(Top::Near);
        }
        self.skim_far(near)
    }

    /// `skim` for the far heap, when it has entries.
    #[cold]
    fn skim_far(&mut self, near: Option<Entry>) -> Option<Top> {
        let far = loop {
            let Some(e) = self.far.peek() else {
                break None;
            };
            if Self::is_live(&self.calls, e.key, e.seq) {
                break Some(e);
            }
            self.far.pop();
            self.stale = self.stale.saturating_sub(1);
        };
        match (near, far) {
            (Some(n), Some(f)) => {
                let near_first = (Duration::from_nanos(n.at()), n.seq()) < (f.at, f.seq);
                Some(if near_first {
                    Top::Near(n)
                } else {
                    Top::Far(f)
                })
            }
            (Some(n), None) => Some(Top::Near(n)),
            (None, f) => f.map(Top::Far),
        }
    }

    /// Takes the next call that is due at `now` and was scheduled before the
    /// pass began (see [`begin_pass`](Self::begin_pass)), marking it called.
    pub(crate) fn pop_due(&mut self, now: Duration) -> Option<Rc<TimerNode<C>>> {
        let top = self.skim()?;
        let due = match top {
            // A `now` past 2^64 ns is later than every near deadline.
            Top::Near(e) => nanos(now).is_none_or(|now| e.at() <= now),
            Top::Far(e) => e.at <= now,
        };
        if !due || top.seq() >= self.pass_limit {
            return None;
        }
        if let Top::Near(_) = top {
            self.heap.pop();
        } else {
            self.far.pop();
        }
        let call = self.calls.try_remove(top.key())?.call;
        call.status.set(Status::Called);
        Some(call)
    }

    /// The earliest live deadline.
    pub(crate) fn next_deadline(&mut self) -> Option<Duration> {
        self.skim().map(Top::deadline)
    }

    /// Empties the queue and hands back every pending call, marked
    /// cancelled: for a reactor that is going away, which discards their
    /// closures once no borrow of the queue is held.
    pub(crate) fn drain(&mut self) -> Vec<Rc<TimerNode<C>>> {
        self.heap.clear();
        self.far.clear();
        self.stale = 0;
        let calls: Vec<Rc<TimerNode<C>>> = self.calls.drain().map(|slot| slot.call).collect();
        for call in &calls {
            call.status.set(Status::Cancelled);
        }
        calls
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
/// not cancel the call; dropping the reactor does (its closure is dropped
/// with the reactor, and the handles' methods return
/// [`Error::ReactorGone`]).
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
    call: Rc<TimerMeta>,
    ops: Weak<dyn TimerOps>,
}

impl DelayedCall {
    /// A handle to `call`, whose reactor is `ops`.
    pub(crate) fn new(call: Rc<TimerMeta>, ops: Weak<dyn TimerOps>) -> Self {
        DelayedCall { call, ops }
    }

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
        self.ops()?.cancel_timer(&self.call)
    }

    /// Reschedules the call to run `delay` from now (Twisted's `reset`).
    ///
    /// # Errors
    ///
    /// As for [`cancel`](Self::cancel).
    pub fn reset(&self, delay: Duration) -> Result<()> {
        let ops = self.ops()?;
        let deadline = ops.now().saturating_add(delay);
        ops.reschedule_timer(&self.call, deadline)
    }

    /// Pushes the call `by` later than it is now due (Twisted's `delay`).
    ///
    /// # Errors
    ///
    /// As for [`cancel`](Self::cancel).
    pub fn delay(&self, by: Duration) -> Result<()> {
        let deadline = self.call.deadline().saturating_add(by);
        self.ops()?.reschedule_timer(&self.call, deadline)
    }

    /// True until the call has run or been cancelled.
    pub fn active(&self) -> bool {
        self.call.status.get() == Status::Pending
    }

    /// When the call is (or was) due, on the reactor's clock
    /// (see [`Reactor::seconds`](crate::Reactor::seconds)).
    pub fn get_time(&self) -> Duration {
        self.call.deadline()
    }
}

impl fmt::Debug for DelayedCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DelayedCall")
            .field("time", &self.call.deadline())
            .field("status", &self.call.status.get())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BinaryHeap;

    fn lcg(seed: &mut u64) -> u64 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        *seed >> 33
    }

    fn drain<T: Copy + Ord>(heap: &mut QuadHeap<T>) -> Vec<T> {
        std::iter::from_fn(|| heap.pop()).collect()
    }

    #[test]
    fn quad_heap_pops_in_order_at_every_size() {
        // Sizes 0..70 cover every way the last group of children can be cut short.
        let mut seed = 1;
        for n in (0..70).chain([1_000, 10_007]) {
            let mut heap = QuadHeap::new();
            let mut items: Vec<u64> = (0..n).map(|_| lcg(&mut seed) % 50).collect();
            for &x in &items {
                heap.push(x);
            }
            assert_eq!(heap.len(), items.len());
            items.sort_unstable();
            assert_eq!(drain(&mut heap), items, "n = {n}");
            assert!(heap.is_empty());
            assert_eq!(heap.pop(), None);
        }
    }

    #[test]
    fn quad_heap_agrees_with_binary_heap_under_mixed_pushes_and_pops() {
        let mut seed = 3;
        let mut heap = QuadHeap::new();
        let mut model = BinaryHeap::new();
        for _ in 0..50_000 {
            if lcg(&mut seed) % 3 == 0 {
                assert_eq!(heap.pop(), model.pop().map(|std::cmp::Reverse(x)| x));
            } else {
                let x = lcg(&mut seed) % 1_000;
                heap.push(x);
                model.push(std::cmp::Reverse(x));
            }
            assert_eq!(heap.peek(), model.peek().map(|r| r.0));
        }
    }

    #[test]
    fn quad_heap_retain_keeps_order() {
        let mut seed = 5;
        for n in [0, 1, 2, 5, 6, 21, 22, 1_000] {
            let mut heap = QuadHeap::new();
            let items: Vec<u64> = (0..n).map(|_| lcg(&mut seed) % 10_000).collect();
            for &x in &items {
                heap.push(x);
            }
            heap.retain(|x| x % 3 != 0);
            let mut kept: Vec<u64> = items.into_iter().filter(|x| x % 3 != 0).collect();
            kept.sort_unstable();
            assert_eq!(drain(&mut heap), kept, "n = {n}");
        }
    }

    #[test]
    fn entries_order_by_deadline_then_sequence_never_by_key() {
        let e = Entry::new;
        assert!(e(1, 9, 0) < e(2, 0, 0));
        assert!(e(5, 1, 7) < e(5, 2, 0));
        assert!(e(u64::MAX - 1, u32::MAX, u32::MAX) < e(u64::MAX, 0, 0));
        let x = e(u64::MAX, u32::MAX, u32::MAX);
        assert_eq!(
            (x.at(), x.seq(), x.key()),
            (u64::MAX, u32::MAX, u32::MAX as usize)
        );
        let y = e(12_345, 678, 90);
        assert_eq!((y.at(), y.seq(), y.key()), (12_345, 678, 90));
    }

    #[test]
    fn a_node_packs_its_fields_and_keeps_the_deadline_exact() {
        // With a closure that captures nothing, 24 bytes: 40 with the Rc's
        // counts, the smallest allocation that holds them.
        assert_eq!(std::mem::size_of::<TimerNode<TimerFn<()>>>(), 24);
        let node = TimerNode::new(Duration::MAX, ());
        assert_eq!(node.deadline(), Duration::MAX);
        for d in [
            Duration::ZERO,
            Duration::new(3, 999_999_999),
            Duration::new(u64::MAX, 1),
        ] {
            node.set_deadline(d);
            assert_eq!(node.deadline(), d);
        }
        assert_eq!(node.closure().take(), Some(()));
        assert_eq!(node.closure().take(), None);
    }

    #[test]
    fn nanos_is_exact_and_refuses_what_does_not_fit() {
        assert_eq!(nanos(Duration::new(3, 7)), Some(3_000_000_007));
        let top = Duration::from_nanos(u64::MAX);
        assert_eq!(nanos(top), Some(u64::MAX));
        assert_eq!(nanos(top + Duration::from_nanos(1)), None);
        assert_eq!(nanos(Duration::MAX), None);
    }

    type Handle = Rc<TimerMeta>;

    fn queue() -> TimerQueue<dyn Any> {
        TimerQueue::new()
    }

    fn at(q: &mut TimerQueue<dyn Any>, deadline: Duration) -> Handle {
        let call: Handle = Rc::new(TimerNode::new(deadline, ()));
        q.schedule(call.clone());
        call
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Which of `handles` each due call is, in the order they come out.
    fn fire_order(q: &mut TimerQueue<dyn Any>, now: Duration, handles: &[Handle]) -> Vec<usize> {
        q.begin_pass();
        std::iter::from_fn(|| q.pop_due(now))
            .map(|call| {
                let ptr = Rc::as_ptr(&call).cast::<()>();
                handles
                    .iter()
                    .position(|h| Rc::as_ptr(h).cast::<()>() == ptr)
                    .unwrap_or(usize::MAX)
            })
            .collect()
    }

    #[test]
    fn equal_deadlines_come_out_first_scheduled_first() {
        let mut q = queue();
        let hs: Vec<Handle> = [3, 1, 3, 1, 2, 3]
            .iter()
            .map(|&t| at(&mut q, ms(t)))
            .collect();
        assert_eq!(fire_order(&mut q, ms(3), &hs), [1, 3, 4, 0, 2, 5]);
        assert!(hs.iter().all(|h| h.status.get() == Status::Called));
        assert_eq!(q.len(), 0);
    }

    #[test]
    fn cancelled_and_moved_calls_leave_stale_entries_that_are_skipped() {
        let mut q = queue();
        let hs: Vec<Handle> = (0..6).map(|i| at(&mut q, ms(10 + i))).collect();
        assert!(q.cancel(&hs[0]).is_ok_and(|c| c.is_some()));
        assert!(q.cancel(&hs[3]).is_ok());
        assert!(matches!(q.cancel(&hs[3]), Err(Error::AlreadyCancelled)));
        // 1 moves behind everything, 5 in front of everything; 2 moves twice.
        assert!(q.reschedule(&hs[1], ms(100)).is_ok());
        assert!(q.reschedule(&hs[5], ms(1)).is_ok());
        assert!(q.reschedule(&hs[2], ms(50)).is_ok());
        assert!(q.reschedule(&hs[2], ms(14)).is_ok());
        assert_eq!(q.next_deadline(), Some(ms(1)));
        assert_eq!(fire_order(&mut q, ms(20), &hs), [5, 4, 2]);
        assert_eq!(q.next_deadline(), Some(ms(100)));
        assert_eq!(fire_order(&mut q, ms(100), &hs), [1]);
        assert_eq!(q.next_deadline(), None);
        assert!(q.heap.is_empty() && q.far.is_empty());
    }

    #[test]
    fn a_reset_call_goes_behind_calls_already_at_its_new_deadline() {
        let mut q = queue();
        let hs = vec![at(&mut q, ms(5)), at(&mut q, ms(7)), at(&mut q, ms(7))];
        assert!(q.reschedule(&hs[0], ms(7)).is_ok());
        assert_eq!(fire_order(&mut q, ms(7), &hs), [1, 2, 0]);
    }

    #[test]
    fn compaction_drops_stale_entries_and_keeps_the_order() {
        let mut q = queue();
        let mut seed = 11;
        let hs: Vec<Handle> = (0..1_000)
            .map(|_| at(&mut q, ms(lcg(&mut seed) % 100)))
            .collect();
        for (i, h) in hs.iter().enumerate() {
            if i % 10 != 0 {
                assert!(q.cancel(h).is_ok());
            }
        }
        // 900 cancels among 1000 entries: compactions ran, and what is left
        // holds fewer stale entries than live ones (with some slack).
        assert_eq!(q.len(), 100);
        assert!(
            q.heap.len() < 2 * 100 + COMPACT_MIN_STALE,
            "{}",
            q.heap.len()
        );
        assert_eq!(q.stale + 100, q.heap.len());
        let mut expected: Vec<usize> = (0..1_000).step_by(10).collect();
        expected.sort_by_key(|&i| (hs[i].deadline(), i));
        assert_eq!(fire_order(&mut q, ms(100), &hs), expected);
    }

    #[test]
    fn deadlines_beyond_u64_nanoseconds_come_last_in_their_own_order() {
        let mut q = queue();
        let far = Duration::from_nanos(u64::MAX);
        let hs = vec![
            at(&mut q, Duration::MAX),
            at(&mut q, far + ms(2)),
            at(&mut q, far),
            at(&mut q, ms(1)),
            at(&mut q, far + ms(2)),
            at(&mut q, Duration::MAX),
        ];
        assert!(q.cancel(&hs[4]).is_ok());
        assert_eq!(q.far.len(), 4);
        assert_eq!(fire_order(&mut q, far, &hs), [3, 2]);
        assert_eq!(q.next_deadline(), Some(far + ms(2)));
        // A clock past 2^64 ns is past every near deadline too.
        let mut hs = hs;
        hs.push(at(&mut q, ms(5)));
        assert_eq!(fire_order(&mut q, Duration::MAX, &hs), [6, 1, 0, 5]);
    }

    #[test]
    fn far_entries_merge_with_near_ones_by_deadline_then_sequence() {
        // Entries land in the far heap for a key that does not fit 32 bits,
        // whatever their deadline; stand in for that by moving some there.
        let mut q = queue();
        let times = [4, 2, 4, 1, 3, 2, 4];
        let hs: Vec<Handle> = times.iter().map(|&t| at(&mut q, ms(t))).collect();
        let moved: Vec<Entry> = q
            .heap
            .iter()
            .copied()
            .filter(|e| e.seq() % 2 == 1)
            .collect();
        q.heap.retain(|e| e.seq() % 2 == 0);
        for e in moved {
            q.far.push(FarEntry {
                at: Duration::from_nanos(e.at()),
                seq: e.seq(),
                key: e.key(),
            });
        }
        assert!(!q.far.is_empty());
        assert_eq!(fire_order(&mut q, ms(4), &hs), [3, 1, 5, 4, 0, 2, 6]);
    }

    #[test]
    fn running_out_of_sequence_numbers_renumbers_and_keeps_the_order() {
        let mut q = queue();
        q.seq_ceiling = 16;
        let mut seed = 9;
        let mut hs: Vec<Handle> = Vec::new();
        // When each call was last scheduled or moved, counted here rather
        // than read from the queue.
        let mut stamps: Vec<u64> = Vec::new();
        let mut clock = 0u64;
        // Many more schedules and moves than 16 numbers, with at most 8
        // pending calls at once.
        for round in 0..200u64 {
            let live: Vec<usize> = (0..hs.len())
                .filter(|&i| hs[i].status.get() == Status::Pending)
                .collect();
            if live.len() >= 8 {
                let victim = live[(lcg(&mut seed) as usize) % live.len()];
                assert!(q.cancel(&hs[victim]).is_ok());
            }
            if round % 2 == 1 {
                if let Some(&moved) = live.last() {
                    if hs[moved].status.get() == Status::Pending {
                        let deadline = ms(lcg(&mut seed) % 4);
                        assert!(q.reschedule(&hs[moved], deadline).is_ok());
                        clock += 1;
                        stamps[moved] = clock;
                    }
                }
            }
            hs.push(at(&mut q, ms(lcg(&mut seed) % 4)));
            clock += 1;
            stamps.push(clock);
            assert!(q.next_seq <= 16);
        }
        let mut pending: Vec<(Duration, u64, usize)> = (0..hs.len())
            .filter(|&i| hs[i].status.get() == Status::Pending)
            .map(|i| (hs[i].deadline(), stamps[i], i))
            .collect();
        assert_eq!(pending.len(), q.len());
        pending.sort_unstable();
        let expected: Vec<usize> = pending.iter().map(|&(_, _, i)| i).collect();
        assert_eq!(fire_order(&mut q, ms(4), &hs), expected);
    }

    #[test]
    fn drain_hands_back_every_pending_call_marked_cancelled() {
        let mut q = queue();
        let far = Duration::from_nanos(u64::MAX) + ms(1);
        let hs: Vec<Handle> = [ms(1), ms(2), far, ms(3)]
            .into_iter()
            .map(|t| at(&mut q, t))
            .collect();
        assert!(q.cancel(&hs[1]).is_ok());
        let drained = q.drain();
        assert_eq!(drained.len(), 3);
        assert!(hs.iter().all(|h| h.status.get() == Status::Cancelled));
        assert_eq!(q.len(), 0);
        assert_eq!(q.next_deadline(), None);
        // The queue works on afterwards.
        let h = at(&mut q, ms(4));
        assert_eq!(fire_order(&mut q, ms(4), &[h]), [0]);
    }

    #[test]
    fn renumbering_mid_pass_keeps_new_calls_out_of_the_pass() {
        let mut q = queue();
        q.seq_ceiling = 8;
        let mut hs: Vec<Handle> = (0..5).map(|_| at(&mut q, ms(1))).collect();
        assert!(q.cancel(&hs[1]).is_ok());
        q.begin_pass();
        let mut order = Vec::new();
        // The first due call schedules six more (due by the next pass): the
        // numbers run out and are renumbered, and none of the six joins this
        // pass.
        while let Some(call) = q.pop_due(ms(2)) {
            if order.is_empty() {
                for _ in 0..6 {
                    hs.push(at(&mut q, ms(2)));
                }
            }
            let ptr = Rc::as_ptr(&call).cast::<()>();
            order.push(hs.iter().position(|h| Rc::as_ptr(h).cast::<()>() == ptr));
        }
        assert_eq!(order, [Some(0), Some(2), Some(3), Some(4)]);
        assert_eq!(fire_order(&mut q, ms(2), &hs), [5, 6, 7, 8, 9, 10]);
    }
}
