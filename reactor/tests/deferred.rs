//! Behaviour of `Deferred`, `DeferredList`, `gather_results`, `defer_later`
//! and `add_timeout`: one behaviour per test, named for it.
//!
//! Nothing here sleeps: timed tests use the reactor's fake clock.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use tx0mq_reactor::deferred::{
    defer_later, fail, gather_results, succeed, Deferred, DeferredList, Failure, FirstError,
    ListResult, Step,
};
use tx0mq_reactor::Error;

// ---------------------------------------------------------------- helpers

type Log = Rc<RefCell<Vec<String>>>;

fn new_log() -> Log {
    Rc::new(RefCell::new(Vec::new()))
}

fn entries(log: &Log) -> Vec<String> {
    log.borrow().clone()
}

use tx0mq_test_support::deferred::{failure, is_error, success};
use tx0mq_test_support::reactor::fake_reactor;

use tx0mq_test_support::log as capture;

// ---------------------------------------------------------------- the chain

/// Callbacks run in the order they were added, each getting the previous result.
#[test]
fn callbacks_run_in_order_each_getting_the_previous_result() {
    let log = new_log();
    let d = Deferred::new();
    for step in 0..3 {
        let log = Rc::clone(&log);
        d.add_callback(move |n: i32| {
            log.borrow_mut().push(format!("step {step} got {n}"));
            Ok(n * 10)
        });
    }
    d.callback(1).unwrap();
    assert_eq!(
        entries(&log),
        ["step 0 got 1", "step 1 got 10", "step 2 got 100"]
    );
    assert_eq!(success(&d), 1000);
}

/// A failure skips callbacks and goes to the next errback.
#[test]
fn errback_path_skips_callbacks() {
    let log = new_log();
    let d: Deferred<i32> = Deferred::new();
    let (a, b) = (Rc::clone(&log), Rc::clone(&log));
    d.add_callback(move |n| {
        a.borrow_mut().push("callback".into());
        Ok(n)
    })
    .add_errback(move |f| {
        b.borrow_mut().push(format!("errback {f}"));
        Err(f)
    });
    d.errback(Failure::msg("boom")).unwrap();
    assert_eq!(entries(&log), ["errback boom"]);
    assert_eq!(failure(&d).to_string(), "boom");
}

/// A value skips errbacks and goes to the next callback.
#[test]
fn callback_path_skips_errbacks() {
    let log = new_log();
    let d: Deferred<i32> = Deferred::new();
    let (a, b) = (Rc::clone(&log), Rc::clone(&log));
    d.add_errback(move |f| {
        a.borrow_mut().push("errback".into());
        Err(f)
    })
    .add_callback(move |n| {
        b.borrow_mut().push(format!("callback {n}"));
        Ok(n)
    });
    d.callback(7).unwrap();
    assert_eq!(entries(&log), ["callback 7"]);
}

/// An errback that returns a value puts the chain back on the callback path.
#[test]
fn errback_returning_a_value_recovers() {
    let d: Deferred<i32> = Deferred::new();
    d.add_errback(|f| if f.is_cancelled() { Ok(-1) } else { Err(f) })
        .add_callback(|n| Ok(n * 2));
    d.errback(Error::Cancelled).unwrap();
    assert_eq!(success(&d), -2);
}

/// A callback that returns `Err` switches the chain to the errback path.
#[test]
fn callback_returning_err_switches_to_errbacks() {
    let d: Deferred<String> = Deferred::new();
    let ran_after = Rc::new(Cell::new(false));
    let flag = Rc::clone(&ran_after);
    d.add_callback(|s| Ok(s.parse::<i32>()?.to_string()))
        .add_callback(move |s| {
            flag.set(true);
            Ok(s)
        });
    d.callback("not a number".into()).unwrap();
    assert!(!ran_after.get());
    assert!(failure(&d).is::<std::num::ParseIntError>());
}

/// `add_callbacks` runs exactly one of its pair: the errback does not see the
/// callback's own failure.
#[test]
fn add_callbacks_runs_one_of_the_pair() {
    let log = new_log();
    let d: Deferred<i32> = Deferred::new();
    let (a, b) = (Rc::clone(&log), Rc::clone(&log));
    d.add_callbacks(
        move |_| {
            a.borrow_mut().push("callback".into());
            Err(Failure::msg("from callback"))
        },
        move |f| {
            b.borrow_mut().push("errback".into());
            Err(f)
        },
    );
    d.callback(1).unwrap();
    assert_eq!(entries(&log), ["callback"]);
    assert_eq!(failure(&d).to_string(), "from callback");
}

/// `add_both` sees values and failures alike.
#[test]
fn add_both_sees_both_paths() {
    let ok: Deferred<i32> = Deferred::new();
    let bad: Deferred<i32> = Deferred::new();
    for d in [&ok, &bad] {
        d.add_both(|r| Ok(if r.is_ok() { 1 } else { 2 }));
    }
    ok.callback(0).unwrap();
    bad.errback(Failure::msg("x")).unwrap();
    assert_eq!(success(&ok), 1);
    assert_eq!(success(&bad), 2);
}

/// A second `callback` or `errback` returns `Err(AlreadyCalled)`, and the
/// first result stands.
#[test]
fn firing_twice_is_already_called() {
    let d: Deferred<i32> = Deferred::new();
    d.callback(1).unwrap();
    assert!(matches!(d.callback(2), Err(Error::AlreadyCalled)));
    assert!(matches!(
        d.errback(Failure::msg("late")),
        Err(Error::AlreadyCalled)
    ));
    assert_eq!(success(&d), 1);

    let e: Deferred<i32> = Deferred::new();
    e.errback(Failure::msg("first")).unwrap();
    assert!(matches!(e.callback(2), Err(Error::AlreadyCalled)));
    assert!(matches!(
        e.errback(Failure::msg("second")),
        Err(Error::AlreadyCalled)
    ));
    assert_eq!(failure(&e).to_string(), "first");
}

/// Callbacks added after the Deferred fired run at once.
#[test]
fn callbacks_added_after_firing_run_at_once() {
    let d = succeed(3);
    let seen = Rc::new(Cell::new(0));
    let store = Rc::clone(&seen);
    d.add_callback(move |n| {
        store.set(n);
        Ok(n)
    });
    assert_eq!(seen.get(), 3);
    let f: Deferred<i32> = fail(Failure::msg("already failed"));
    f.add_errback(|_| Ok(0));
    assert_eq!(success(&f), 0);
}

/// A callback that returns an unfired Deferred pauses the chain; the chain
/// resumes with that Deferred's result when it fires.
#[test]
fn returned_unfired_deferred_pauses_the_chain_until_it_fires() {
    let inner: Deferred<i32> = Deferred::new();
    let d: Deferred<i32> = Deferred::new();
    let wait_for = inner.clone();
    let after = Rc::new(Cell::new(None));
    let store = Rc::clone(&after);
    d.add_callback(move |_| wait_for).add_callback(move |n| {
        store.set(Some(n));
        Ok(n + 1)
    });
    d.callback(1).unwrap();
    assert!(d.is_paused());
    assert_eq!(after.get(), None);
    // Steps added while paused wait too.
    d.add_callback(|n| Ok(n * 10));
    inner.callback(5).unwrap();
    assert!(!d.is_paused());
    assert_eq!(after.get(), Some(5));
    assert_eq!(success(&d), 60);
}

/// A failure of the awaited Deferred continues the outer chain on the errback path.
#[test]
fn returned_deferred_failure_goes_down_the_outer_errbacks() {
    let inner: Deferred<i32> = Deferred::new();
    let d = succeed(1);
    let wait_for = inner.clone();
    d.add_callback(move |_| wait_for);
    inner.errback(Failure::msg("inner broke")).unwrap();
    assert_eq!(failure(&d).to_string(), "inner broke");
}

/// A callback that returns an already-fired Deferred continues with its
/// result at once, without pausing.
#[test]
fn returned_fired_deferred_result_is_used_at_once() {
    let d = succeed(1);
    d.add_callback(|n| succeed(n + 41));
    assert!(!d.is_paused());
    assert_eq!(success(&d), 42);
}

/// Long chains of Deferreds waiting on Deferreds resume without recursing.
#[test]
fn deep_chain_of_waiting_deferreds_resumes() {
    let innermost: Deferred<u64> = Deferred::new();
    let mut current = innermost.clone();
    for _ in 0..100_000 {
        let outer = succeed(0);
        let wait_for = current;
        outer.add_callback(move |_| wait_for);
        current = outer;
    }
    current.add_callback(|n| Ok(n + 1));
    innermost.callback(1).unwrap();
    assert_eq!(success(&current), 2);
}

// ---------------------------------------------------------------- cancel

/// `cancel` on an unfired Deferred calls its canceller with it.
#[test]
fn cancel_calls_the_canceller() {
    let calls = Rc::new(Cell::new(0));
    let count = Rc::clone(&calls);
    let d: Deferred<i32> = Deferred::with_canceller(move |d| {
        count.set(count.get() + 1);
        assert!(!d.called());
    });
    d.cancel();
    assert_eq!(calls.get(), 1);
    assert!(failure(&d).is_cancelled());
}

/// A canceller may fire the Deferred itself; then no `Cancelled` is added.
#[test]
fn canceller_may_fire_the_deferred() {
    let d: Deferred<i32> = Deferred::with_canceller(|d| {
        d.errback(Failure::msg("stopped by canceller")).unwrap();
    });
    d.cancel();
    assert_eq!(failure(&d).to_string(), "stopped by canceller");
}

/// `cancel` with no canceller fails the Deferred with `Cancelled`.
#[test]
fn cancel_without_canceller_fails_with_cancelled() {
    let d: Deferred<i32> = Deferred::new();
    d.cancel();
    assert!(d.called());
    assert!(is_error(&failure(&d), |e| matches!(e, Error::Cancelled)));
}

/// `cancel` after the Deferred fired (and is not paused) does nothing.
#[test]
fn cancel_after_fire_is_a_no_op() {
    let canceller_ran = Rc::new(Cell::new(false));
    let flag = Rc::clone(&canceller_ran);
    let d: Deferred<i32> = Deferred::with_canceller(move |_| flag.set(true));
    d.callback(4).unwrap();
    d.cancel();
    assert!(!canceller_ran.get());
    assert_eq!(success(&d), 4);
}

/// `cancel` on a Deferred paused on a returned Deferred cancels that one, and
/// its `Cancelled` flows down the outer chain.
#[test]
fn cancel_while_paused_cancels_the_inner_deferred() {
    let inner_cancelled = Rc::new(Cell::new(false));
    let flag = Rc::clone(&inner_cancelled);
    let inner: Deferred<i32> = Deferred::with_canceller(move |_| flag.set(true));
    let d = succeed(1);
    let wait_for = inner.clone();
    d.add_callback(move |_| wait_for);
    assert!(d.is_paused());
    d.cancel();
    assert!(inner_cancelled.get());
    assert!(failure(&d).is_cancelled());
}

/// After a cancel, the producer's first late `callback` is accepted and
/// ignored; a second one is `AlreadyCalled`.
#[test]
fn late_callback_after_cancel_is_accepted_once() {
    let d: Deferred<i32> = Deferred::new();
    d.cancel();
    assert!(d.callback(1).is_ok());
    assert!(matches!(d.callback(2), Err(Error::AlreadyCalled)));
    assert!(failure(&d).is_cancelled());

    let e: Deferred<i32> = Deferred::new();
    e.cancel();
    assert!(e.errback(Failure::msg("late")).is_ok());
    assert!(failure(&e).is_cancelled());
}

// ---------------------------------------------------------------- reentrancy

/// A callback may add callbacks to its own Deferred; they run in the same
/// pass, after the steps already queued.
#[test]
fn callback_may_add_callbacks_to_its_own_deferred() {
    let log = new_log();
    let d: Deferred<i32> = Deferred::new();
    let me = d.clone();
    let (a, b, c) = (Rc::clone(&log), Rc::clone(&log), Rc::clone(&log));
    d.add_callback(move |n| {
        a.borrow_mut().push(format!("first {n}"));
        me.add_callback(move |n| {
            c.borrow_mut().push(format!("added {n}"));
            Ok(n + 100)
        });
        Ok(n + 1)
    })
    .add_callback(move |n| {
        b.borrow_mut().push(format!("second {n}"));
        Ok(n + 10)
    });
    d.callback(0).unwrap();
    assert_eq!(entries(&log), ["first 0", "second 1", "added 11"]);
    assert_eq!(success(&d), 111);
}

/// A callback that fires or cancels its own Deferred gets `AlreadyCalled` /
/// a no-op, not a panic.
#[test]
fn callback_firing_its_own_deferred_gets_already_called() {
    let d: Deferred<i32> = Deferred::new();
    let me = d.clone();
    let answer = Rc::new(RefCell::new(None));
    let store = Rc::clone(&answer);
    d.add_callback(move |n| {
        *store.borrow_mut() = Some(me.callback(n + 1));
        me.cancel();
        let _ = me.called();
        Ok(n)
    });
    d.callback(1).unwrap();
    assert!(matches!(
        answer.borrow_mut().take(),
        Some(Err(Error::AlreadyCalled))
    ));
    assert_eq!(success(&d), 1);
}

/// A callback may fire another Deferred whose callbacks add steps to the
/// first; they run in the first chain's current pass.
#[test]
fn callback_firing_another_deferred_that_adds_back_to_the_first() {
    let log = new_log();
    let first: Deferred<i32> = Deferred::new();
    let second: Deferred<i32> = Deferred::new();
    let back = first.clone();
    let l = Rc::clone(&log);
    second.add_callback(move |n| {
        let l = Rc::clone(&l);
        back.add_callback(move |m| {
            l.borrow_mut().push(format!("added by second: {m}"));
            Ok(m + n)
        });
        Ok(n)
    });
    let trigger = second.clone();
    let l = Rc::clone(&log);
    first.add_callback(move |n| {
        trigger.callback(10).unwrap();
        l.borrow_mut().push(format!("first done with {n}"));
        Ok(n)
    });
    first.callback(1).unwrap();
    assert_eq!(entries(&log), ["first done with 1", "added by second: 1"]);
    assert_eq!(success(&first), 11);
    assert_eq!(success(&second), 10);
}

/// A Deferred's callback may fire a second Deferred whose callback returns
/// the first (still running) one: the second pauses, and resumes with the
/// first one's final result when its chain finishes.
#[test]
fn chain_waiting_on_the_deferred_that_fired_it() {
    let a: Deferred<i32> = Deferred::new();
    let b: Deferred<i32> = Deferred::new();
    let fire_b = b.clone();
    a.add_callback(move |n| {
        fire_b.callback(n).unwrap();
        Ok(n + 1)
    });
    let wait_for_a = a.clone();
    b.add_callback(move |_| wait_for_a);
    a.add_callback(|n| Ok(n * 100));
    a.callback(1).unwrap();
    // `a` was consumed by `b`'s chain; `b` carries its final result.
    assert_eq!(success(&b), 200);
}

/// A step that returns its own Deferred fails the chain instead of hanging.
#[test]
fn step_returning_its_own_deferred_fails() {
    let d: Deferred<i32> = Deferred::new();
    let me = d.clone();
    d.add_callback(move |_| me);
    d.callback(1).unwrap();
    assert!(!d.is_paused());
    assert!(failure(&d).to_string().contains("cannot wait for itself"));
}

// ---------------------------------------------------------------- unhandled failures

/// A failure nobody handled is logged when the last handle is dropped.
#[test]
fn unhandled_failure_is_logged_when_dropped() {
    let errors = capture::errors_during(|| {
        let d: Deferred<i32> = Deferred::new();
        let other_handle = d.clone();
        d.errback(Failure::msg("nobody listens")).unwrap();
        drop(d);
        assert!(capture::errors_during(|| {}).is_empty());
        drop(other_handle);
    });
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("Unhandled error in Deferred: nobody listens"));
}

/// A failure an errback consumed is not logged.
#[test]
fn handled_failure_is_not_logged() {
    let errors = capture::errors_during(|| {
        let d: Deferred<i32> = Deferred::new();
        d.add_errback(|_| Ok(0));
        d.errback(Failure::msg("handled")).unwrap();
        let unfired: Deferred<i32> = Deferred::new();
        drop(unfired);
        drop(succeed(1));
        drop(d);
    });
    assert!(errors.is_empty(), "{errors:?}");
}

/// A failure that moved into another chain is that chain's to handle.
#[test]
fn failure_moved_into_outer_chain_is_logged_once() {
    let errors = capture::errors_during(|| {
        let inner: Deferred<i32> = Deferred::new();
        let outer = succeed(1);
        let wait_for = inner.clone();
        outer.add_callback(move |_| wait_for);
        inner.errback(Failure::msg("moved")).unwrap();
        drop(inner);
        drop(outer);
    });
    assert_eq!(errors.len(), 1, "{errors:?}");
}

// ---------------------------------------------------------------- typed steps

/// `then` changes the value type.
#[test]
fn then_changes_the_value_type() {
    let d: Deferred<&str> = Deferred::new();
    let lengths: Deferred<usize> = d.clone().then(|s| Ok(s.len()));
    let doubled: Deferred<String> = lengths.clone().map(|n| "x".repeat(n * 2));
    d.callback("abc").unwrap();
    assert_eq!(success(&doubled), "xxxxxx");
}

/// `then` passes a failure to the new Deferred without calling its closure.
#[test]
fn then_passes_failures_through() {
    let d: Deferred<i32> = Deferred::new();
    let called = Rc::new(Cell::new(false));
    let flag = Rc::clone(&called);
    let next: Deferred<String> = d.clone().then(move |n| {
        flag.set(true);
        Ok(n.to_string())
    });
    d.errback(Failure::msg("upstream")).unwrap();
    assert!(!called.get());
    assert_eq!(failure(&next).to_string(), "upstream");
}

/// `then` may return a Deferred of the new type to wait for, and cancelling
/// the new Deferred cancels the one it waits on.
#[test]
fn then_waits_on_a_returned_deferred_and_cancel_reaches_it() {
    let inner_cancelled = Rc::new(Cell::new(false));
    let flag = Rc::clone(&inner_cancelled);
    let inner: Deferred<String> = Deferred::with_canceller(move |_| flag.set(true));
    let wait_for = inner.clone();
    let next: Deferred<String> = succeed(1).then(move |_| wait_for);
    assert!(next.is_paused());
    next.cancel();
    assert!(inner_cancelled.get());
    assert!(failure(&next).is_cancelled());
}

/// Cancelling the Deferred made by `then` cancels the one it came from.
#[test]
fn cancelling_then_result_cancels_the_source() {
    let source_cancelled = Rc::new(Cell::new(false));
    let flag = Rc::clone(&source_cancelled);
    let source: Deferred<i32> = Deferred::with_canceller(move |_| flag.set(true));
    let next = source.clone().map(|n| n + 1);
    next.cancel();
    assert!(source_cancelled.get());
    assert!(failure(&next).is_cancelled());
    // The producer's late result is accepted once and dropped.
    assert!(source.callback(1).is_ok());
}

/// `map_err` replaces a failure and leaves values alone.
#[test]
fn map_err_replaces_the_failure() {
    let d: Deferred<i32> = fail(Failure::msg("low"));
    d.map_err(|f| Failure::msg(format!("high: {f}")));
    assert_eq!(failure(&d).to_string(), "high: low");
    let ok = succeed(1);
    ok.map_err(|_| Failure::msg("unused"));
    assert_eq!(success(&ok), 1);
}

/// Steps after the point where a Deferred was consumed get a "consumed"
/// failure instead of a value: callbacks are skipped (and the failure is
/// logged), a second `then` gives a failing Deferred.
#[test]
fn steps_after_a_deferred_was_consumed_get_a_consumed_failure() {
    let d = succeed(1);
    let next = d.clone().map(|n| n + 1);
    let ran = Rc::new(Cell::new(false));
    let flag = Rc::clone(&ran);
    let errors = capture::errors_during(|| {
        d.add_callback(move |n| {
            flag.set(true);
            Ok(n)
        });
    });
    assert!(!ran.get());
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("already moved into another chain"));
    let second = d.clone().map(|n| n + 2);
    assert!(failure(&second)
        .to_string()
        .contains("already moved into another chain"));
    assert_eq!(success(&next), 2);
}

/// Two chains waiting on the same Deferred: the first gets its result, the
/// second a "consumed" failure (it does not hang).
#[test]
fn second_chain_waiting_on_the_same_deferred_gets_a_consumed_failure() {
    let shared: Deferred<i32> = Deferred::new();
    let (w1, w2) = (shared.clone(), shared.clone());
    let first = succeed(0);
    first.add_callback(move |_| w1);
    let second = succeed(0);
    second.add_callback(move |_| w2);
    assert!(first.is_paused() && second.is_paused());
    shared.callback(5).unwrap();
    assert_eq!(success(&first), 5);
    assert!(failure(&second)
        .to_string()
        .contains("already moved into another chain"));
}

// ---------------------------------------------------------------- DeferredList

/// By default the list fires once all members fired, with every outcome in
/// input order.
#[test]
fn deferred_list_fires_with_all_outcomes_in_input_order() {
    let (a, b, c) = (Deferred::new(), Deferred::new(), Deferred::new());
    let list = DeferredList::new(vec![a.clone(), b.clone(), c.clone()])
        .consume_errors(true)
        .build();
    c.callback(3).unwrap();
    b.errback(Failure::msg("b failed")).unwrap();
    assert!(!list.called());
    a.callback(1).unwrap();
    let all = success(&list).into_all().expect("an All result");
    assert_eq!(all.len(), 3);
    assert_eq!(*all[0].as_ref().unwrap(), 1);
    assert_eq!(all[1].as_ref().unwrap_err().to_string(), "b failed");
    assert_eq!(*all[2].as_ref().unwrap(), 3);
}

/// An empty list fires at once with no outcomes.
#[test]
fn empty_deferred_list_fires_at_once() {
    let list = DeferredList::<i32>::new(Vec::new()).build();
    assert!(success(&list).into_all().unwrap().is_empty());
}

/// `fire_on_one_callback` fires with the first success and its index.
#[test]
fn deferred_list_fire_on_one_callback() {
    let (a, b) = (Deferred::new(), Deferred::new());
    let list = DeferredList::new(vec![a.clone(), b.clone()])
        .fire_on_one_callback(true)
        .consume_errors(true)
        .build();
    a.errback(Failure::msg("a failed")).unwrap();
    assert!(!list.called());
    b.callback("b").unwrap();
    match success(&list) {
        ListResult::First { index, value } => assert_eq!((index, value), (1, "b")),
        other => panic!("expected First, got {other:?}"),
    }
}

/// `fire_on_one_callback` when every member fails: the list fires with all
/// the failures.
#[test]
fn deferred_list_fire_on_one_callback_all_failing() {
    let a: Deferred<i32> = Deferred::new();
    let list = DeferredList::new(vec![a.clone()])
        .fire_on_one_callback(true)
        .consume_errors(true)
        .build();
    a.errback(Failure::msg("no")).unwrap();
    let all = success(&list).into_all().unwrap();
    assert!(all[0].is_err());
}

/// `fire_on_one_errback` fails with a `FirstError` naming the first failure.
#[test]
fn deferred_list_fire_on_one_errback() {
    let (a, b) = (Deferred::<i32>::new(), Deferred::new());
    let list = DeferredList::new(vec![a.clone(), b.clone()])
        .fire_on_one_errback(true)
        .consume_errors(true)
        .build();
    a.callback(1).unwrap();
    b.errback(Failure::msg("b failed")).unwrap();
    let f = failure(&list);
    let first = f.downcast_ref::<FirstError>().expect("a FirstError");
    assert_eq!(first.index, 1);
    assert_eq!(first.failure.to_string(), "b failed");
}

/// Without `consume_errors` a member's failure stays in its own chain (and
/// is logged if nothing handles it there); with it, it does not.
#[test]
fn deferred_list_consume_errors_decides_who_owns_member_failures() {
    for consume in [false, true] {
        let errors = capture::errors_during(|| {
            let a: Deferred<i32> = Deferred::new();
            let list = DeferredList::new(vec![a.clone()])
                .consume_errors(consume)
                .build();
            a.errback(Failure::msg("member failure")).unwrap();
            let all = success(&list).into_all().unwrap();
            assert!(all[0].is_err());
            drop(a);
        });
        if consume {
            assert!(errors.is_empty(), "{errors:?}");
        } else {
            assert_eq!(errors.len(), 1, "{errors:?}");
            assert!(errors[0].contains("member failure"));
        }
    }
}

/// Cancelling a list cancels its unfired members; by default it then fires
/// with their `Cancelled` failures.
#[test]
fn cancelling_deferred_list_cancels_unfired_members() {
    let cancelled = Rc::new(Cell::new(0));
    let count = Rc::clone(&cancelled);
    let a: Deferred<i32> = Deferred::with_canceller(move |_| count.set(count.get() + 1));
    let b = succeed(2);
    let list = DeferredList::new(vec![a.clone(), b])
        .consume_errors(true)
        .build();
    list.cancel();
    assert_eq!(cancelled.get(), 1);
    let all = success(&list).into_all().unwrap();
    assert!(all[0].as_ref().unwrap_err().is_cancelled());
    assert_eq!(*all[1].as_ref().unwrap(), 2);
}

// ---------------------------------------------------------------- gather_results

/// `gather_results` fires with every value in input order.
#[test]
fn gather_results_collects_values_in_input_order() {
    let (a, b) = (Deferred::new(), Deferred::new());
    let all = gather_results(vec![a.clone(), succeed(2), b.clone()]);
    b.callback(3).unwrap();
    assert!(!all.called());
    a.callback(1).unwrap();
    assert_eq!(success(&all), [1, 2, 3]);
}

/// `gather_results` fails with the first failure, wrapped with its index.
#[test]
fn gather_results_fails_with_the_first_failure() {
    let (a, b) = (Deferred::<i32>::new(), Deferred::new());
    let all = gather_results(vec![a.clone(), b.clone()]);
    b.errback(Error::Cancelled).unwrap();
    assert!(all.called());
    let f = failure(&all);
    let first = f.downcast_ref::<FirstError>().expect("a FirstError");
    assert_eq!(first.index, 1);
    assert!(first.failure.is_cancelled());
    // The other member finishing later changes nothing and logs nothing.
    let errors = capture::errors_during(|| {
        a.errback(Failure::msg("late")).unwrap();
        drop(a);
    });
    assert!(errors.is_empty(), "{errors:?}");
}

/// Cancelling `gather_results` cancels the members that have not fired.
#[test]
fn cancelling_gather_results_cancels_unfired_members() {
    let cancelled = Rc::new(RefCell::new(Vec::new()));
    let member = |name: &'static str| {
        let log = Rc::clone(&cancelled);
        Deferred::<i32>::with_canceller(move |_| log.borrow_mut().push(name))
    };
    let (a, b) = (member("a"), member("b"));
    let fired = member("fired");
    fired.callback(0).unwrap();
    let all = gather_results(vec![a.clone(), fired, b.clone()]);
    all.cancel();
    assert_eq!(*cancelled.borrow(), ["a", "b"]);
    let f = failure(&all);
    let first = f.downcast_ref::<FirstError>().expect("a FirstError");
    assert_eq!(first.index, 0);
    assert!(first.failure.is_cancelled());
}

// ---------------------------------------------------------------- the reactor's clock

/// `defer_later` fires with the closure's outcome once the delay has passed.
#[test]
fn defer_later_fires_after_the_delay() {
    let reactor = fake_reactor();
    let d = defer_later(&reactor, Duration::from_secs(3), || Ok(7));
    reactor.advance(Duration::from_secs(2)).unwrap();
    assert!(!d.called());
    reactor.advance(Duration::from_secs(1)).unwrap();
    assert_eq!(success(&d), 7);
}

/// `defer_later`'s closure may fail, or return a Deferred to wait for.
#[test]
fn defer_later_closure_outcomes_flow_into_the_deferred() {
    let reactor = fake_reactor();
    let failing: Deferred<i32> = defer_later(&reactor, Duration::ZERO, || {
        Err(Failure::msg("late failure"))
    });
    let inner = Deferred::new();
    let wait_for = inner.clone();
    let waiting: Deferred<i32> =
        defer_later(&reactor, Duration::ZERO, move || Step::Wait(wait_for));
    reactor.advance(Duration::ZERO).unwrap();
    assert_eq!(failure(&failing).to_string(), "late failure");
    assert!(waiting.is_paused());
    inner.callback(9).unwrap();
    assert_eq!(success(&waiting), 9);
}

/// Cancelling a `defer_later` Deferred cancels its timer: the closure never
/// runs and the Deferred fails with `Cancelled`.
#[test]
fn cancelling_defer_later_cancels_the_timer() {
    let reactor = fake_reactor();
    let ran = Rc::new(Cell::new(false));
    let flag = Rc::clone(&ran);
    let d = defer_later(&reactor, Duration::from_secs(1), move || {
        flag.set(true);
        Ok(())
    });
    d.cancel();
    assert!(failure(&d).is_cancelled());
    reactor.advance(Duration::from_secs(2)).unwrap();
    assert!(!ran.get());
}

/// `add_timeout`: no result in time → the Deferred is cancelled and fails
/// with `TimedOut(timeout)`.
#[test]
fn add_timeout_fails_with_timed_out() {
    let reactor = fake_reactor();
    let canceller_ran = Rc::new(Cell::new(false));
    let flag = Rc::clone(&canceller_ran);
    let d: Deferred<i32> = Deferred::with_canceller(move |_| flag.set(true));
    d.add_timeout(&reactor, Duration::from_secs(5));
    reactor.advance(Duration::from_secs(4)).unwrap();
    assert!(!d.called());
    reactor.advance(Duration::from_secs(1)).unwrap();
    assert!(canceller_ran.get());
    let f = failure(&d);
    assert!(
        is_error(
            &f,
            |e| matches!(e, Error::TimedOut(t) if *t == Duration::from_secs(5))
        ),
        "{f:?}"
    );
    // The producer's late answer is accepted once and dropped.
    assert!(d.callback(1).is_ok());
}

/// `add_timeout` on a chain paused on another Deferred cancels that one when
/// the time is up.
#[test]
fn add_timeout_while_paused_cancels_the_awaited_deferred() {
    let reactor = fake_reactor();
    let inner: Deferred<i32> = Deferred::new();
    let wait_for = inner.clone();
    let d = succeed(1);
    d.add_callback(move |_| wait_for);
    d.add_timeout(&reactor, Duration::from_secs(1));
    reactor.advance(Duration::from_secs(1)).unwrap();
    assert!(inner.called());
    assert!(is_error(&failure(&d), |e| matches!(e, Error::TimedOut(_))));
}

/// `add_timeout`: a result before the timeout cancels the timer, so the
/// timeout never cancels anything later.
#[test]
fn add_timeout_result_first_cancels_the_timer() {
    let reactor = fake_reactor();
    let d: Deferred<i32> = Deferred::new();
    d.add_timeout(&reactor, Duration::from_secs(5));
    // After the timeout step the chain pauses on `never`: a timer still armed
    // would cancel `never` through `d`.
    let never: Deferred<i32> = Deferred::new();
    let wait_for = never.clone();
    d.add_callback(move |_| wait_for);
    d.callback(1).unwrap();
    assert!(d.is_paused());
    reactor.advance(Duration::from_secs(10)).unwrap();
    assert!(!never.called());
    never.callback(2).unwrap();
    assert_eq!(success(&d), 2);
}
