//! Timed calls: ordering, cancel/reset/delay, and their error cases. All on
//! the fake clock: no test here sleeps.

use std::time::Duration;

use tx0mq_reactor::{Error, Reactor};

type Log = Vec<u64>;

fn clock() -> Reactor<Log> {
    tx0mq_test_support::reactor::fake_clock_reactor(Log::new())
}

fn log(reactor: &Reactor<Log>) -> Log {
    reactor.access_state(|l| l.clone()).expect("state")
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[test]
fn calls_fire_in_deadline_order() {
    let r = clock();
    for (id, at) in [(3, 30), (1, 10), (2, 20)] {
        r.call_later(secs(at), move |cx| cx.state.push(id));
    }
    r.advance(secs(100)).unwrap();
    assert_eq!(log(&r), [1, 2, 3]);
}

#[test]
fn equal_deadlines_fire_in_scheduling_order() {
    let r = clock();
    for id in 0..50 {
        r.call_later(secs(1), move |cx| cx.state.push(id));
    }
    r.advance(secs(1)).unwrap();
    assert_eq!(log(&r), (0..50).collect::<Vec<_>>());
}

#[test]
fn calls_not_yet_due_do_not_fire() {
    let r = clock();
    r.call_later(secs(10), |cx| cx.state.push(1));
    r.advance(Duration::from_millis(9_999)).unwrap();
    assert!(log(&r).is_empty());
    r.advance(Duration::from_millis(1)).unwrap();
    assert_eq!(log(&r), [1]);
}

#[test]
fn a_call_scheduled_by_a_call_fires_on_a_later_pass() {
    let r = clock();
    r.call_later(Duration::ZERO, |cx| {
        cx.state.push(1);
        cx.reactor.call_later(Duration::ZERO, |cx| cx.state.push(2));
    });
    r.iterate(Duration::ZERO).unwrap();
    assert_eq!(log(&r), [1], "the inner call ran in the same pass");
    r.iterate(Duration::ZERO).unwrap();
    assert_eq!(log(&r), [1, 2]);
}

#[test]
fn advance_runs_zero_delay_calls_scheduled_by_due_calls() {
    // As Twisted's Clock: time jumps first, so a call scheduled from inside
    // is due at "now + delay" on the new time.
    let r = clock();
    r.call_later(secs(1), |cx| {
        cx.state.push(1);
        cx.reactor.call_later(Duration::ZERO, |cx| cx.state.push(2));
        cx.reactor.call_later(secs(1), |cx| cx.state.push(3));
    });
    r.advance(secs(5)).unwrap();
    assert_eq!(log(&r), [1, 2]);
    r.advance(secs(1)).unwrap();
    assert_eq!(log(&r), [1, 2, 3]);
}

#[test]
fn cancel_stops_the_call_and_a_second_cancel_is_already_cancelled() {
    let r = clock();
    let call = r.call_later(secs(1), |cx| cx.state.push(1));
    assert!(call.active());
    call.cancel().unwrap();
    assert!(!call.active());
    assert!(matches!(call.cancel(), Err(Error::AlreadyCancelled)));
    assert!(matches!(call.reset(secs(1)), Err(Error::AlreadyCancelled)));
    assert!(matches!(call.delay(secs(1)), Err(Error::AlreadyCancelled)));
    r.advance(secs(2)).unwrap();
    assert!(log(&r).is_empty());
}

#[test]
fn cancel_reset_and_delay_after_the_call_ran_are_already_called() {
    let r = clock();
    let call = r.call_later(secs(1), |cx| cx.state.push(1));
    r.advance(secs(1)).unwrap();
    assert!(!call.active());
    assert!(matches!(call.cancel(), Err(Error::AlreadyCalled)));
    assert!(matches!(call.reset(secs(1)), Err(Error::AlreadyCalled)));
    assert!(matches!(call.delay(secs(1)), Err(Error::AlreadyCalled)));
    assert_eq!(log(&r), [1]);
}

#[test]
fn a_call_cancelling_itself_gets_already_called() {
    let r = clock();
    let slot = std::rc::Rc::new(std::cell::RefCell::new(None));
    let inner = slot.clone();
    let call = r.call_later(secs(1), move |cx| {
        let me: &tx0mq_reactor::DelayedCall = &inner.borrow().clone().unwrap();
        let outcome = me.cancel();
        cx.state
            .push(matches!(outcome, Err(Error::AlreadyCalled)) as u64);
    });
    *slot.borrow_mut() = Some(call);
    r.advance(secs(1)).unwrap();
    assert_eq!(log(&r), [1]);
}

#[test]
fn reset_moves_the_deadline_from_now() {
    let r = clock();
    let call = r.call_later(secs(10), |cx| cx.state.push(1));
    r.advance(secs(4)).unwrap();
    call.reset(secs(2)).unwrap(); // now due at 6
    assert_eq!(call.get_time(), secs(6));
    r.advance(secs(1)).unwrap();
    assert!(log(&r).is_empty());
    r.advance(secs(1)).unwrap();
    assert_eq!(log(&r), [1]);
}

#[test]
fn reset_earlier_and_later_keeps_a_single_firing() {
    let r = clock();
    let call = r.call_later(secs(5), |cx| cx.state.push(1));
    call.reset(secs(1)).unwrap();
    call.reset(secs(3)).unwrap();
    r.advance(secs(2)).unwrap();
    assert!(
        log(&r).is_empty(),
        "fired at a deadline it was moved away from"
    );
    r.advance(secs(10)).unwrap();
    assert_eq!(log(&r), [1]);
}

#[test]
fn delay_adds_to_the_current_deadline() {
    let r = clock();
    let call = r.call_later(secs(5), |cx| cx.state.push(1));
    call.delay(secs(3)).unwrap();
    assert_eq!(call.get_time(), secs(8));
    r.advance(secs(7)).unwrap();
    assert!(log(&r).is_empty());
    r.advance(secs(1)).unwrap();
    assert_eq!(log(&r), [1]);
}

#[test]
fn a_reset_call_goes_behind_calls_already_due_at_the_same_time() {
    let r = clock();
    let first = r.call_later(secs(1), |cx| cx.state.push(1));
    r.call_later(secs(1), |cx| cx.state.push(2));
    first.reset(secs(1)).unwrap();
    r.advance(secs(1)).unwrap();
    assert_eq!(log(&r), [2, 1]);
}

#[test]
fn a_call_can_cancel_a_later_call_due_in_the_same_pass() {
    let r = clock();
    let victim = r.call_later(secs(1), |cx| cx.state.push(2));
    r.call_later(Duration::from_millis(500), move |cx| {
        victim.cancel().unwrap();
        cx.state.push(1);
    });
    r.advance(secs(1)).unwrap();
    assert_eq!(log(&r), [1]);
}

#[test]
fn calls_centuries_away_keep_deadline_and_scheduling_order() {
    // Deadlines past 2^64 ns (about 584 years) are kept apart from the rest;
    // their order must not change.
    let r = clock();
    let century = Duration::from_secs(100 * 365 * 24 * 3600);
    for (id, delay) in [
        (1, century * 7),
        (2, Duration::MAX),
        (3, century * 6),
        (4, secs(1)),
        (5, Duration::MAX),
        (6, century * 6),
    ] {
        r.call_later(delay, move |cx| cx.state.push(id));
    }
    r.advance(century * 6).unwrap();
    assert_eq!(log(&r), [4, 3, 6]);
    r.advance(Duration::MAX).unwrap();
    assert_eq!(log(&r), [4, 3, 6, 1, 2, 5]);
}

#[test]
fn get_time_is_the_deadline_on_the_reactor_clock() {
    let r = clock();
    r.advance(secs(3)).unwrap();
    let call = r.call_later(secs(2), |_| ());
    assert_eq!(r.seconds(), secs(3));
    assert_eq!(call.get_time(), secs(5));
}

#[test]
fn advance_on_a_real_clock_is_an_error() {
    let r = tx0mq_test_support::reactor::reactor(());
    assert!(matches!(r.advance(secs(1)), Err(Error::NotFakeClock)));
}

#[test]
fn pump_advances_step_by_step() {
    let r = clock();
    for at in [1, 2, 3] {
        r.call_later(secs(at), move |cx| {
            let now = cx.reactor.seconds().as_secs();
            cx.state.push(now)
        });
    }
    r.pump(&[secs(1), secs(1), secs(1)]).unwrap();
    assert_eq!(log(&r), [1, 2, 3]);
}

/// A small deterministic generator, so the test needs no dependency.
fn lcg(seed: &mut u64) -> u64 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    *seed >> 33
}

#[test]
fn hundred_thousand_calls_with_half_cancelled_fire_in_order() {
    let r = clock();
    let mut seed = 7;
    let mut expected = Vec::new();
    let mut calls = Vec::new();
    for id in 0..100_000u64 {
        let at = Duration::from_millis(lcg(&mut seed) % 10_000);
        calls.push(r.call_later(at, move |cx| cx.state.push(id)));
        expected.push((at, id));
    }
    for (id, call) in calls.iter().enumerate() {
        if id % 2 == 1 {
            call.cancel().unwrap();
        }
    }
    expected.retain(|(_, id)| id % 2 == 0);
    expected.sort(); // by deadline, then by scheduling order (= id)
    let started = std::time::Instant::now();
    r.advance(secs(10)).unwrap();
    let fired = log(&r);
    eprintln!(
        "100k timers, half cancelled: fired {} in {:?}",
        fired.len(),
        started.elapsed()
    );
    assert_eq!(
        fired,
        expected.into_iter().map(|(_, id)| id).collect::<Vec<_>>()
    );
}

#[test]
fn a_failing_call_is_logged_and_the_next_call_still_runs() {
    let r = clock();
    r.call_later(secs(1), |_| Err::<(), _>("this call fails"));
    r.call_later(secs(1), |cx| cx.state.push(2));
    r.advance(secs(1)).unwrap();
    assert_eq!(log(&r), [2]);
}

#[test]
fn a_panicking_call_is_caught_and_the_next_call_still_runs() {
    // The production policy, not the test reactor's.
    let r = tx0mq_test_support::reactor::builder()
        .catch_panics(true)
        .state(Log::new())
        .fake_clock()
        .build()
        .expect("reactor");
    r.call_later(secs(1), |_| -> () { panic!("this call panics") });
    r.call_later(secs(1), |cx| cx.state.push(2));
    r.advance(secs(1)).unwrap();
    assert_eq!(log(&r), [2]);
    // The reactor is still usable afterwards.
    r.call_later(secs(1), |cx| cx.state.push(3));
    r.advance(secs(1)).unwrap();
    assert_eq!(log(&r), [2, 3]);
}

#[test]
fn dropping_the_handle_does_not_cancel() {
    let r = clock();
    drop(r.call_later(secs(1), |cx| cx.state.push(1)));
    r.advance(secs(1)).unwrap();
    assert_eq!(log(&r), [1]);
}

#[test]
fn a_handle_outliving_its_reactor_says_reactor_gone() {
    let r = clock();
    let call = r.call_later(secs(1), |_| ());
    drop(r);
    assert!(matches!(call.cancel(), Err(Error::ReactorGone)));
}
