//! LoopingCall on the fake clock: schedule, alignment, missed intervals, stop, failure.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use tx0mq_reactor::{Error, LoopingCall, Reactor};

type Calls = Vec<(Duration, u64)>;

fn clock() -> Reactor<Calls> {
    tx0mq_test_support::reactor::fake_clock_reactor(Calls::new())
}

fn counting(r: &Reactor<Calls>) -> LoopingCall<Calls> {
    LoopingCall::with_count(r, |cx, count| {
        let now = cx.reactor.seconds();
        cx.state.push((now, count))
    })
}

fn calls(r: &Reactor<Calls>) -> Calls {
    r.access_state(|c| c.clone()).unwrap()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn it_calls_every_interval_after_the_first() {
    let r = clock();
    let lc = counting(&r);
    lc.start(ms(100), false).unwrap();
    assert!(lc.running());
    r.pump(&[ms(100), ms(100), ms(100)]).unwrap();
    assert_eq!(calls(&r), [(ms(100), 1), (ms(200), 1), (ms(300), 1)]);
}

#[test]
fn with_now_the_first_call_is_on_the_next_pass() {
    let r = clock();
    let lc = counting(&r);
    lc.start(ms(100), true).unwrap();
    r.advance(Duration::ZERO).unwrap();
    assert_eq!(calls(&r), [(ms(0), 1)]);
    r.advance(ms(100)).unwrap();
    assert_eq!(calls(&r), [(ms(0), 1), (ms(100), 1)]);
}

#[test]
fn missed_intervals_are_counted_and_the_schedule_stays_aligned() {
    let r = clock();
    let lc = counting(&r);
    lc.start(ms(100), false).unwrap();
    r.advance(ms(100)).unwrap();
    r.advance(ms(350)).unwrap(); // at 450: boundaries 200, 300, 400 went by
    r.advance(ms(50)).unwrap(); // at 500: back on the grid
    assert_eq!(calls(&r), [(ms(100), 1), (ms(450), 3), (ms(500), 1)]);
}

#[test]
fn stop_ends_the_loop_and_fires_the_deferred() {
    let r = clock();
    let lc = counting(&r);
    let done = lc.start(ms(10), false).unwrap();
    let fired = Rc::new(RefCell::new(false));
    let seen = fired.clone();
    done.add_callback(move |()| {
        *seen.borrow_mut() = true;
        Ok(())
    });
    r.advance(ms(10)).unwrap();
    lc.stop().unwrap();
    assert!(*fired.borrow());
    assert!(!lc.running());
    r.advance(ms(100)).unwrap();
    assert_eq!(calls(&r).len(), 1);
    assert!(matches!(lc.stop(), Err(Error::NotRunning)));
}

#[test]
fn starting_twice_is_an_error() {
    let r = clock();
    let lc = counting(&r);
    lc.start(ms(10), false).unwrap();
    assert!(matches!(
        lc.start(ms(10), false),
        Err(Error::LoopAlreadyRunning)
    ));
}

#[test]
fn the_function_can_stop_its_own_loop() {
    let r = clock();
    let slot: Rc<RefCell<Option<LoopingCall<Calls>>>> = Rc::default();
    let own = slot.clone();
    let lc = LoopingCall::new(&r, move |cx| {
        let now = cx.reactor.seconds();
        cx.state.push((now, 1));
        if cx.state.len() == 2 {
            own.borrow().as_ref().unwrap().stop().unwrap();
        }
    });
    *slot.borrow_mut() = Some(lc.clone());
    lc.start(ms(10), false).unwrap();
    r.pump(&[ms(10); 5]).unwrap();
    assert_eq!(calls(&r).len(), 2);
    assert!(!lc.running());
}

#[test]
fn a_failing_function_stops_the_loop_and_fails_the_deferred() {
    let r = clock();
    let lc = LoopingCall::new(&r, |cx| {
        cx.state.push((Duration::ZERO, 0));
        Err::<(), _>("boom")
    });
    let done = lc.start(ms(10), false).unwrap();
    let failure = Rc::new(RefCell::new(None));
    let seen = failure.clone();
    done.add_errback(move |f| {
        *seen.borrow_mut() = Some(f.to_string());
        Ok(())
    });
    r.pump(&[ms(10); 3]).unwrap();
    assert_eq!(calls(&r).len(), 1);
    assert!(!lc.running());
    assert_eq!(failure.borrow().as_deref(), Some("boom"));
}

#[test]
fn it_can_be_restarted_after_stop() {
    let r = clock();
    let lc = counting(&r);
    lc.start(ms(10), false).unwrap();
    r.advance(ms(10)).unwrap();
    lc.stop().unwrap();
    lc.start(ms(20), false).unwrap();
    r.advance(ms(20)).unwrap();
    assert_eq!(calls(&r), [(ms(10), 1), (ms(30), 1)]);
    assert_eq!(lc.interval(), ms(20));
}

#[test]
fn a_zero_interval_runs_once_per_pass() {
    let r = clock();
    let lc = counting(&r);
    lc.start(Duration::ZERO, false).unwrap();
    for _ in 0..3 {
        r.iterate(Duration::ZERO).unwrap();
    }
    assert_eq!(calls(&r).len(), 3);
    lc.stop().unwrap();
}
