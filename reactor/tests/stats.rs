//! The reactor's counters (`Reactor::stats`): passes, callbacks, timer
//! lateness, the longest callback and its kind, and `reset_stats`.
//!
//! Lateness is asserted exactly, on the fake clock. Callback durations are
//! wall-clock time, so those tests make one callback sleep 50 ms and assert
//! it was timed at no less, and named for its kind.

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::time::Duration;

use tx0mq_reactor::{CallbackKind, Deferred, Reactor, ReactorStats, LATENESS_BOUNDS};
use tx0mq_test_support::reactor::{fake_clock_reactor, reactor, DEADLINE};

const NAP: Duration = Duration::from_millis(50);

fn us(micros: u64) -> Duration {
    Duration::from_micros(micros)
}

/// Each call_later that fires is one callback; all due at once, they run
/// in one pass.
#[test]
fn call_laters_are_counted_as_callbacks() {
    let reactor = fake_clock_reactor(0u32);
    for _ in 0..1000 {
        reactor.call_later(Duration::from_secs(1), |cx| *cx.state += 1);
    }
    let cancelled = reactor.call_later(Duration::from_secs(1), |cx| *cx.state += 1);
    cancelled.cancel().unwrap();
    reactor.advance(Duration::from_secs(1)).unwrap();
    assert_eq!(reactor.access_state(|n| *n).unwrap(), 1000);
    let stats = reactor.stats();
    assert_eq!(stats.passes, 1);
    assert_eq!(stats.callbacks, 1000);
    assert_eq!(stats.timers_fired, 1000);
    assert_eq!(stats.timer_lateness_histogram, [1000, 0, 0, 0, 0]);
    assert_eq!(stats.timer_lateness_max, Duration::ZERO);
    assert_eq!(stats.longest_callback_kind, Some(CallbackKind::Timer));
}

/// `iterate` is one pass; a pass with nothing to run counts no callback.
#[test]
fn each_iterate_is_one_pass() {
    let reactor = fake_clock_reactor(());
    for _ in 0..3 {
        reactor.iterate(Duration::ZERO).unwrap();
    }
    let stats = reactor.stats();
    assert_eq!((stats.passes, stats.callbacks), (3, 0));
    assert_eq!(stats.longest_callback_kind, None);
    assert_eq!(stats.callback_time, Duration::ZERO);
}

/// On the fake clock, lateness is the clock's time when the call fired less
/// its deadline: exact, bucket by bucket.
#[test]
fn timer_lateness_on_a_fake_clock_is_exact() {
    let reactor = fake_clock_reactor(());
    let second = Duration::from_secs(1);
    let mut expected = [0u64; 5];
    for (late, bucket) in [
        (us(50), 0),
        (us(500), 1),
        (us(5_000), 2),
        (us(50_000), 3),
        (us(500_000), 4),
        (us(99), 0),
        (us(100), 1),
    ] {
        reactor.call_later(second, |_| ());
        reactor.advance(second + late).unwrap();
        expected[bucket] += 1;
        let stats = reactor.stats();
        assert_eq!(stats.timer_lateness_last, late);
        assert_eq!(stats.timer_lateness_histogram, expected, "after {late:?}");
    }
    assert_eq!(reactor.stats().timer_lateness_max, us(500_000));
    assert_eq!(reactor.stats().timers_fired, 7);

    // Three calls due 1, 2 and 3 s from now, fired by one advance of 3 s:
    // 2 s, 1 s and 0 s late, in that order.
    reactor.reset_stats();
    for secs in [1, 2, 3] {
        reactor.call_later(Duration::from_secs(secs), |_| ());
    }
    reactor.advance(Duration::from_secs(3)).unwrap();
    let stats = reactor.stats();
    assert_eq!(stats.timer_lateness_last, Duration::ZERO);
    assert_eq!(stats.timer_lateness_max, Duration::from_secs(2));
    assert_eq!(stats.timer_lateness_histogram, [1, 0, 0, 0, 2]);

    // A reset call is late against its new deadline.
    reactor.reset_stats();
    let call = reactor.call_later(second, |_| ());
    reactor.advance(us(400_000)).unwrap();
    call.reset(second).unwrap(); // now due at 1.4 s
    reactor.advance(second + us(700)).unwrap();
    assert_eq!(reactor.stats().timer_lateness_last, us(700));
    assert_eq!(LATENESS_BOUNDS[0], us(100));
}

/// A timed call that sleeps 50 ms is the longest callback, labelled
/// "timer"; the quick ones around it do not displace it.
#[test]
fn a_sleeping_timer_is_the_longest_callback() {
    let reactor = reactor(());
    reactor.call_later(Duration::ZERO, |_| ());
    reactor.call_later(Duration::ZERO, |_| std::thread::sleep(NAP));
    reactor.call_later(Duration::ZERO, |_| ());
    reactor.iterate(Duration::ZERO).unwrap();
    let stats = reactor.stats();
    assert_eq!(stats.callbacks, 3);
    assert_long(&stats, CallbackKind::Timer, "timer");
}

/// The same from another thread's call.
#[test]
fn a_sleeping_thread_call_is_the_longest_callback() {
    let reactor = reactor(());
    let handle = reactor.thread_handle();
    std::thread::spawn(move || handle.call_from_thread(|_| std::thread::sleep(NAP)))
        .join()
        .unwrap()
        .unwrap();
    reactor.iterate(Duration::ZERO).unwrap();
    let stats = reactor.stats();
    assert_eq!(stats.callbacks, 1);
    assert_long(&stats, CallbackKind::ThreadCall, "call_from_thread");
}

/// The same from a reader.
#[test]
fn a_sleeping_reader_is_the_longest_callback() {
    let reactor = reactor(());
    let (mut rx, mut tx) = tx0mq_test_support::pipe().unwrap();
    let fd = rx.as_raw_fd();
    reactor
        .add_reader(fd, move |_| {
            let mut byte = [0u8; 1];
            rx.read_exact(&mut byte).unwrap();
            std::thread::sleep(NAP);
        })
        .unwrap();
    tx.write_all(b"x").unwrap();
    reactor.iterate(DEADLINE).unwrap();
    let stats = reactor.stats();
    assert_eq!(stats.callbacks, 1);
    assert_long(&stats, CallbackKind::Fd, "fd readiness");
    assert!(reactor.remove_reader(fd));
}

/// The time the poll waited for an fd is not its callback's: a reader
/// whose data comes 200 ms into the poll is timed from the poll's return.
#[test]
fn the_poll_wait_is_not_callback_time() {
    let wait = Duration::from_millis(200);
    let reactor = reactor(());
    let (mut rx, mut tx) = tx0mq_test_support::pipe().unwrap();
    let fd = rx.as_raw_fd();
    reactor
        .add_reader(fd, move |_| {
            let mut byte = [0u8; 1];
            rx.read_exact(&mut byte).unwrap();
        })
        .unwrap();
    let writer = std::thread::spawn(move || {
        std::thread::sleep(wait);
        tx.write_all(b"x").unwrap();
    });
    let started = std::time::Instant::now();
    reactor.iterate(DEADLINE).unwrap();
    assert!(
        started.elapsed() >= wait,
        "the poll returned before the write"
    );
    writer.join().unwrap();
    let stats = reactor.stats();
    assert_eq!(stats.callbacks, 1);
    assert_eq!(stats.longest_callback_kind, Some(CallbackKind::Fd));
    assert!(stats.callback_time < wait, "{stats:?}");
    assert!(reactor.remove_reader(fd));
}

/// The same from a spawned task's poll (not its first, which `spawn` makes
/// outside any callback).
#[test]
fn a_sleeping_task_is_the_longest_callback() {
    let reactor = reactor(());
    let ready: Deferred<()> = Deferred::new();
    let awaited = ready.clone();
    let done = reactor.spawn(async move {
        awaited.await?;
        std::thread::sleep(NAP);
        Ok::<(), tx0mq_reactor::Failure>(())
    });
    assert_eq!(reactor.stats().callbacks, 0);
    ready.callback(()).unwrap();
    reactor.iterate(Duration::ZERO).unwrap();
    assert!(done.called());
    let stats = reactor.stats();
    assert_eq!(stats.callbacks, 1);
    assert_long(&stats, CallbackKind::Task, "task");
}

fn assert_long(stats: &ReactorStats, kind: CallbackKind, label: &str) {
    assert!(
        stats.longest_callback >= NAP && stats.longest_callback < DEADLINE,
        "{stats:?}"
    );
    assert!(stats.callback_time >= stats.longest_callback, "{stats:?}");
    assert_eq!(stats.longest_callback_kind, Some(kind));
    assert_eq!(kind.label(), label);
}

/// `reset_stats` zeroes every counter; counting goes on from there.
#[test]
fn reset_stats_zeroes_every_counter() {
    let reactor = fake_clock_reactor(());
    reactor.call_later(Duration::from_secs(1), |_| ());
    reactor.advance(Duration::from_secs(2)).unwrap();
    let before = reactor.stats();
    assert_eq!((before.passes, before.callbacks), (1, 1));
    assert_eq!(before.timer_lateness_max, Duration::from_secs(1));
    reactor.reset_stats();
    assert_eq!(reactor.stats(), ReactorStats::default());
    reactor.iterate(Duration::ZERO).unwrap();
    assert_eq!(
        reactor.stats(),
        ReactorStats {
            passes: 1,
            ..ReactorStats::default()
        }
    );
}

/// A reactor in `run` counts its triggers and `call_when_running` calls
/// too; the stats can be read from inside a callback.
#[test]
fn run_counts_triggers_and_when_running_calls() {
    let reactor: Reactor<Option<ReactorStats>> = tx0mq_test_support::reactor::reactor(None);
    reactor.add_system_event_trigger(
        tx0mq_reactor::Phase::Before,
        tx0mq_reactor::SystemEvent::Startup,
        |_| (),
    );
    reactor.call_when_running(|cx| {
        cx.reactor.stop().unwrap();
        *cx.state = Some(cx.reactor.stats());
    });
    reactor.run().unwrap();
    let inside = reactor.access_state(|s| *s).unwrap().unwrap();
    // The trigger ran; the call_when_running call is still under way.
    assert_eq!((inside.callbacks, inside.passes), (1, 0));
    // Then: that call, and no pass (stop was asked before the first).
    let after = reactor.stats();
    assert_eq!((after.callbacks, after.passes), (2, 0));
}
