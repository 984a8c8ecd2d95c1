//! Test reactors: a failed assertion in a callback fails at once; deadlines
//! fail with a message instead of hanging.

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::time::{Duration, Instant};

use tx0mq_reactor::Deferred;
use tx0mq_test_support::reactor::{
    catching_reactor, fake_clock_reactor, iterate_until, iterate_until_cond, panic_text, reactor,
    run_with_deadline, run_with_watchdog, wait_for, watchdog,
};

#[test]
fn a_failed_assertion_in_a_callback_fails_at_once_with_its_message() {
    let r = reactor(());
    r.call_later(Duration::from_millis(10), |_| {
        assert_eq!(1 + 1, 3, "arithmetic in a callback");
    });
    let started = Instant::now();
    let result = catch_unwind(AssertUnwindSafe(|| {
        run_with_watchdog(&r, Duration::from_secs(30), "the callback")
    }));
    let message = panic_text(result.expect_err("the assertion should fail the run"));
    assert!(message.contains("arithmetic in a callback"), "{message}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn a_catching_reactor_logs_the_panic_and_carries_on() {
    let r = catching_reactor(0u32);
    r.call_later(Duration::ZERO, |_| -> () { panic!("caught") });
    r.call_later(Duration::from_millis(1), |cx| {
        *cx.state += 1;
        cx.reactor.stop()
    });
    run_with_watchdog(&r, Duration::from_secs(30), "the second call");
    assert_eq!(r.access_state(|n| *n).unwrap(), 1);
}

#[test]
fn a_missed_deadline_fails_naming_what_and_the_progress() {
    let r = reactor(7u32);
    let result = catch_unwind(AssertUnwindSafe(|| {
        run_with_deadline(&r, Duration::from_millis(50), "nothing", |n| {
            format!("state is {n}")
        })
    }));
    let message = panic_text(result.expect_err("nothing stops the reactor"));
    assert!(
        message.starts_with("nothing: not finished after"),
        "{message}"
    );
    assert!(message.ends_with("state is 7"), "{message}");
}

#[test]
fn a_watchdog_stops_the_reactor_and_says_it_fired() {
    let r = reactor(());
    let late = watchdog(&r, Duration::from_secs(30));
    let bomb = watchdog(&r, Duration::from_millis(20));
    r.run().unwrap();
    assert!(bomb.fired());
    assert!(!late.fired());

    let r = fake_clock_reactor(());
    let bomb = watchdog(&r, Duration::from_secs(5));
    r.advance(Duration::from_secs(1)).unwrap();
    assert!(!bomb.fired());
}

#[test]
fn conditions_may_read_the_state() {
    let r = reactor(0u32);
    r.call_later(Duration::from_millis(5), |cx| *cx.state = 3);
    iterate_until(&r, "the state to be 3", |n| *n == 3);
    let calls = Rc::new(Cell::new(0));
    let seen = calls.clone();
    r.call_later(Duration::from_millis(5), move |_| seen.set(1));
    iterate_until_cond(&r, "the call, read outside and inside the state", || {
        calls.get() == 1 && r.access_state(|n| *n).unwrap() == 3
    });
}

#[test]
fn wait_for_returns_the_value_or_fails_with_the_failure() {
    let r = reactor(());
    let d: Deferred<u32> = Deferred::new();
    let fire = d.clone();
    r.call_later(Duration::from_millis(5), move |_| fire.callback(5));
    assert_eq!(wait_for(&r, &d, "the value"), 5);

    let d: Deferred<u32> = Deferred::new();
    d.errback(tx0mq_reactor::Failure::msg("refused")).unwrap();
    let result = catch_unwind(AssertUnwindSafe(|| wait_for(&r, &d, "a failure")));
    let message = panic_text(result.expect_err("the Deferred failed"));
    assert!(
        message.contains("a failure: failed with refused"),
        "{message}"
    );
}
