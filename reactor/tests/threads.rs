//! call_from_thread: exactly once, per-thread order, pass boundaries.

use std::time::Duration;

use tx0mq_reactor::Error;
use tx0mq_test_support::reactor::reactor;

#[derive(Default)]
struct Seen {
    per_thread: Vec<Vec<u32>>,
    total: usize,
}

#[test]
fn eight_threads_times_ten_thousand_calls_each_run_once_in_order() {
    const THREADS: usize = 8;
    const CALLS: u32 = 10_000;
    let r = reactor(Seen {
        per_thread: vec![Vec::new(); THREADS],
        total: 0,
    });
    r.call_later(Duration::from_secs(30), |cx| {
        cx.state.total = usize::MAX; // marks the watchdog
        cx.reactor.stop()
    });
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let handle = r.thread_handle();
            std::thread::spawn(move || {
                for i in 0..CALLS {
                    handle
                        .call_from_thread(move |cx| {
                            cx.state.per_thread[t].push(i);
                            cx.state.total += 1;
                            if cx.state.total == THREADS * CALLS as usize {
                                cx.reactor.stop().unwrap();
                            }
                        })
                        .unwrap();
                }
            })
        })
        .collect();
    let started = std::time::Instant::now();
    r.run().unwrap();
    for w in workers {
        w.join().unwrap();
    }
    eprintln!("80,000 thread calls in {:?}", started.elapsed());
    r.access_state(|seen| {
        assert_ne!(seen.total, usize::MAX, "watchdog fired");
        for (t, calls) in seen.per_thread.iter().enumerate() {
            assert_eq!(calls.len(), CALLS as usize, "thread {t}");
            assert!(
                calls.iter().copied().eq(0..CALLS),
                "thread {t}: out of order or duplicated"
            );
        }
    })
    .unwrap();
}

#[test]
fn a_call_queued_during_a_pass_waits_for_the_next_pass() {
    let r = reactor(Vec::new());
    let handle = r.thread_handle();
    let again = handle.clone();
    handle
        .call_from_thread(move |cx| {
            cx.state.push("first");
            again
                .call_from_thread(|cx| cx.state.push("second"))
                .unwrap();
        })
        .unwrap();
    r.iterate(Duration::ZERO).unwrap();
    assert_eq!(r.access_state(|l| l.clone()).unwrap(), ["first"]);
    r.iterate(Duration::ZERO).unwrap();
    assert_eq!(r.access_state(|l| l.clone()).unwrap(), ["first", "second"]);
}

#[test]
fn a_thread_call_wakes_a_blocked_reactor() {
    let r = reactor(false);
    let handle = r.thread_handle();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        handle.call_from_thread(|cx| *cx.state = true).unwrap();
    });
    // The poll blocks (nothing else is scheduled) until the thread's call
    // wakes it; the call itself runs at the start of the next pass.
    let started = std::time::Instant::now();
    r.iterate(Duration::from_secs(10)).unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the thread call did not wake the poll: {:?}",
        started.elapsed()
    );
    r.iterate(Duration::ZERO).unwrap();
    assert!(
        r.access_state(|s| *s).unwrap(),
        "the call did not run on the next pass"
    );
    t.join().unwrap();
}

#[test]
fn calling_a_dropped_reactor_is_reactor_gone() {
    let r = reactor(());
    let handle = r.thread_handle();
    drop(r);
    let outcome = std::thread::spawn(move || handle.call_from_thread(|_| ()))
        .join()
        .unwrap();
    assert!(matches!(outcome, Err(Error::ReactorGone)));
}
