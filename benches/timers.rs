//! Timers: schedule 1,000,000 `call_later`s at random delays, cancel half,
//! fire the rest (on the fake clock), against a plain binary heap of boxed
//! closures with lazy cancellation doing the same.
//!
//!     cargo bench --bench timers [-- --quick]
//!
//! Operations per second counts every schedule, cancel and fire.

use std::cell::Cell;
use std::collections::BinaryHeap;
use std::rc::Rc;
use std::time::{Duration, Instant};

use tx0mq::Reactor;

mod common;
use common::{alternate, report, Options, Row};

fn lcg(seed: &mut u64) -> u64 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    *seed >> 33
}

fn reactor_timers(n: usize) -> f64 {
    let reactor = Reactor::builder()
        .state(0usize)
        .fake_clock()
        .handle_signals(false)
        .build()
        .expect("reactor");
    let mut seed = 1;
    let started = Instant::now();
    let mut calls = Vec::with_capacity(n);
    for _ in 0..n {
        let delay = Duration::from_micros(lcg(&mut seed) % 10_000_000);
        calls.push(reactor.call_later(delay, |cx| *cx.state += 1));
    }
    for call in calls.iter().step_by(2) {
        call.cancel().expect("cancel");
    }
    reactor.advance(Duration::from_secs(11)).expect("advance");
    let elapsed = started.elapsed();
    let fired = reactor.access_state(|n| *n).expect("state");
    assert_eq!(fired, n / 2);
    (n + n / 2 + fired) as f64 / elapsed.as_secs_f64()
}

/// The baseline: a heap of (deadline, seq) over a Vec of boxed closures,
/// cancelled by dropping the closure and skipping its entry.
fn raw_timers(n: usize) -> f64 {
    let fired = Rc::new(Cell::new(0usize));
    let mut seed = 1;
    let started = Instant::now();
    let mut heap = BinaryHeap::with_capacity(n);
    let mut slots: Vec<Option<Box<dyn FnOnce()>>> = Vec::with_capacity(n);
    for seq in 0..n {
        let delay = Duration::from_micros(lcg(&mut seed) % 10_000_000);
        let fired = fired.clone();
        slots.push(Some(Box::new(move || fired.set(fired.get() + 1))));
        heap.push(std::cmp::Reverse((delay, seq)));
    }
    for slot in slots.iter_mut().step_by(2) {
        slot.take();
    }
    while let Some(std::cmp::Reverse((_, seq))) = heap.pop() {
        if let Some(f) = slots[seq].take() {
            f();
        }
    }
    let elapsed = started.elapsed();
    assert_eq!(fired.get(), n / 2);
    (n + n / 2 + n / 2) as f64 / elapsed.as_secs_f64()
}

fn main() {
    let options = Options::from_args();
    let n = options.pick(1_000_000, 200_000);
    let (ours, raw) = alternate(options.rounds, || reactor_timers(n), || raw_timers(n));
    report(
        "Timers",
        &format!("{n} call_later, half cancelled, the rest fired; operations per second (higher is better)."),
        &[Row {
            name: "timers_schedule_cancel_fire".into(),
            reactor: ours,
            raw,
            unit: "ops/s",
        }],
    );
}
