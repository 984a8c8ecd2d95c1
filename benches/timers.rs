//! Timers: schedule 1,000,000 `call_later`s at random delays, cancel half,
//! fire the rest (on the fake clock), against a plain binary heap of boxed
//! closures with lazy cancellation doing the same.
//!
//!     cargo bench --bench timers [-- --quick]
//!
//! Both rows come from the same runs; each run's phases are timed separately:
//!
//! - `timers_schedule_cancel`: the schedule of n calls plus the cancel of
//!   half of them (the clock stops right after the cancel loop), counting
//!   n + n/2 operations.
//! - `timers_schedule_cancel_fire`: that plus firing the remaining n/2,
//!   counting every schedule, cancel and fire.
//!
//! Every run fires the rest and checks the fired count, so neither side can
//! skip work. Teardown (dropping handles, heap and slots) is not timed. Each
//! phase is its own non-inlined function, so that under
//! `valgrind --tool=callgrind` the inclusive cost of `reactor_schedule_cancel`,
//! `reactor_fire`, `raw_schedule_cancel` and `raw_fire` gives each phase's
//! instruction count.
//!
//! The schedule and cancel phase allocates about 70 MB (raw) to 140 MB
//! (reactor) per run, so its wall-clock figure depends on glibc's malloc:
//! when the previous round's memory was handed back to the kernel (its trim
//! and mmap thresholds adapt as the process runs), first-touch page faults
//! dominate the phase, on either side. To compare code rather than allocator
//! state, fix the thresholds:
//!
//!     GLIBC_TUNABLES=glibc.malloc.trim_threshold=4294967295:glibc.malloc.mmap_threshold=33554432 \
//!         cargo bench --bench timers

use std::cell::Cell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::rc::Rc;
use std::time::{Duration, Instant};

use tx0mq::{DelayedCall, Reactor};

mod common;
use common::{alternate, median, report, Options, Row};

fn lcg(seed: &mut u64) -> u64 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    *seed >> 33
}

/// One run's phase times.
struct Phases {
    schedule_cancel: Duration,
    fire: Duration,
}

impl Phases {
    /// Operations per second of schedule + cancel alone.
    fn schedule_cancel_rate(&self, n: usize) -> f64 {
        (n + n / 2) as f64 / self.schedule_cancel.as_secs_f64()
    }

    /// Operations per second of schedule + cancel + fire.
    fn whole_rate(&self, n: usize) -> f64 {
        (n + n / 2 + n / 2) as f64 / (self.schedule_cancel + self.fire).as_secs_f64()
    }
}

#[inline(never)]
fn reactor_schedule_cancel(reactor: &Reactor<usize>, n: usize) -> Vec<DelayedCall> {
    let mut seed = 1;
    let mut calls = Vec::with_capacity(n);
    for _ in 0..n {
        let delay = Duration::from_micros(lcg(&mut seed) % 10_000_000);
        calls.push(reactor.call_later(delay, |cx| *cx.state += 1));
    }
    for call in calls.iter().step_by(2) {
        call.cancel().expect("cancel");
    }
    calls
}

#[inline(never)]
fn reactor_fire(reactor: &Reactor<usize>) {
    reactor.advance(Duration::from_secs(11)).expect("advance");
}

fn reactor_timers(n: usize) -> Phases {
    let reactor = Reactor::builder()
        .state(0usize)
        .fake_clock()
        .handle_signals(false)
        .build()
        .expect("reactor");
    let started = Instant::now();
    let calls = reactor_schedule_cancel(&reactor, n);
    let cancelled = Instant::now();
    reactor_fire(&reactor);
    let fired_at = Instant::now();
    let fired = reactor.access_state(|n| *n).expect("state");
    assert_eq!(fired, n / 2);
    drop(calls);
    Phases {
        schedule_cancel: cancelled - started,
        fire: fired_at - cancelled,
    }
}

type Slots = Vec<Option<Box<dyn FnOnce()>>>;

/// The baseline's schedule and cancel: a heap of (deadline, seq) over a Vec
/// of boxed closures; cancelling drops the closure, its entry stays.
#[inline(never)]
fn raw_schedule_cancel(
    n: usize,
    fired: &Rc<Cell<usize>>,
) -> (BinaryHeap<Reverse<(Duration, usize)>>, Slots) {
    let mut seed = 1;
    let mut heap = BinaryHeap::with_capacity(n);
    let mut slots: Slots = Vec::with_capacity(n);
    for seq in 0..n {
        let delay = Duration::from_micros(lcg(&mut seed) % 10_000_000);
        let fired = fired.clone();
        slots.push(Some(Box::new(move || fired.set(fired.get() + 1))));
        heap.push(Reverse((delay, seq)));
    }
    for slot in slots.iter_mut().step_by(2) {
        slot.take();
    }
    (heap, slots)
}

/// The baseline's fire: pop every entry, skipping cancelled ones.
#[inline(never)]
fn raw_fire(heap: &mut BinaryHeap<Reverse<(Duration, usize)>>, slots: &mut Slots) {
    while let Some(Reverse((_, seq))) = heap.pop() {
        if let Some(f) = slots[seq].take() {
            f();
        }
    }
}

fn raw_timers(n: usize) -> Phases {
    let fired = Rc::new(Cell::new(0usize));
    let started = Instant::now();
    let (mut heap, mut slots) = raw_schedule_cancel(n, &fired);
    let cancelled = Instant::now();
    raw_fire(&mut heap, &mut slots);
    let fired_at = Instant::now();
    assert_eq!(fired.get(), n / 2);
    drop((heap, slots));
    Phases {
        schedule_cancel: cancelled - started,
        fire: fired_at - cancelled,
    }
}

fn main() {
    let options = Options::from_args();
    let n = options.pick(1_000_000, 200_000);
    // `alternate` takes one figure per run; the other phase's figure is kept
    // on the side, from the very same runs.
    let mut ours_sc = Vec::new();
    let mut raw_sc = Vec::new();
    let (ours, raw) = alternate(
        options.rounds,
        || {
            let phases = reactor_timers(n);
            ours_sc.push(phases.schedule_cancel_rate(n));
            phases.whole_rate(n)
        },
        || {
            let phases = raw_timers(n);
            raw_sc.push(phases.schedule_cancel_rate(n));
            phases.whole_rate(n)
        },
    );
    let rows = [
        Row {
            name: "timers_schedule_cancel".into(),
            reactor: median(&mut ours_sc),
            raw: median(&mut raw_sc),
            unit: "ops/s",
        },
        Row {
            name: "timers_schedule_cancel_fire".into(),
            reactor: ours,
            raw,
            unit: "ops/s",
        },
    ];
    let rows: Vec<Row> = rows
        .into_iter()
        .filter(|row| options.wants(&row.name))
        .collect();
    report(
        "Timers",
        &format!(
            "{n} call_later, half cancelled, the rest fired; operations per second (higher is better). \
             schedule_cancel times the schedule and cancel phases alone; \
             schedule_cancel_fire adds firing the rest."
        ),
        &rows,
    );
}
