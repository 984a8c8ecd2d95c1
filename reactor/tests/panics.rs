//! A panic in user code is the user's bug, never the reactor's: it must not
//! wedge a Deferred. Each test states the behaviour it guards.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use tx0mq_reactor::{Deferred, Error, Failure, Reactor};

/// A panicking callback becomes a Failure for the next errback (Twisted
/// turns an exception in a callback into a Failure), carrying the panic's
/// message; the chain goes on after it.
#[test]
fn a_panicking_callback_becomes_a_failure_for_the_next_errback() {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let d: Deferred<i32> = Deferred::new();
    // The issue's own example: an unwrap on None inside a callback.
    #[allow(clippy::unnecessary_literal_unwrap)]
    d.add_callback(|v| -> Result<i32, Failure> { Ok(v + None::<i32>.unwrap()) });
    let log = seen.clone();
    d.add_errback(move |f| {
        log.borrow_mut().push(format!("errback: {f}"));
        assert!(
            matches!(f.downcast_ref::<Error>(), Some(Error::CallbackPanicked(_))),
            "{f:?}"
        );
        Ok(0)
    });
    let log = seen.clone();
    d.add_callback(move |v| {
        log.borrow_mut().push(format!("then: {v}"));
        Ok(v)
    });
    let fired = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| d.callback(1)));
    assert!(fired.is_ok(), "the panic escaped callback()");
    let seen = seen.borrow();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(
        seen[0].contains("a Deferred callback panicked")
            && seen[0].contains("called `Option::unwrap()` on a `None` value"),
        "{seen:?}"
    );
    assert_eq!(seen[1], "then: 0");
}

/// After a step panicked, the Deferred still takes new callbacks (they run
/// at once with the current result) and is not stuck "running".
#[test]
fn a_deferred_whose_step_panicked_takes_new_callbacks() {
    let d: Deferred<i32> = Deferred::new();
    d.add_callback(|_| -> Result<i32, Failure> { panic!("boom") });
    let _ = d.callback(1);
    let got = Rc::new(RefCell::new(None));
    let slot = got.clone();
    d.add_both(move |r| {
        *slot.borrow_mut() = Some(r.as_ref().map_err(|f| f.to_string()).copied());
        Ok(5)
    });
    let got = got.borrow().clone();
    match got {
        Some(Err(message)) => assert!(message.contains("boom"), "{message}"),
        other => panic!("the added callback did not run with the failure: {other:?}"),
    }
}

/// A Deferred paused on another whose callback panicked resumes with the
/// failure, and a pending Deferred in the same chain can still be
/// cancelled afterwards.
#[test]
fn a_chain_paused_on_a_panicking_deferred_resumes_and_cancel_still_works() {
    let inner: Deferred<i32> = Deferred::new();
    inner.add_callback(|_| -> Result<i32, Failure> { panic!("inner boom") });
    let outer: Deferred<i32> = Deferred::new();
    let waited = inner.clone();
    outer.add_callback(move |_| waited);
    let _ = outer.callback(0);
    assert!(outer.is_paused());
    let _ = inner.callback(1);
    assert!(!outer.is_paused(), "the outer chain stayed paused");
    let failed = Rc::new(RefCell::new(String::new()));
    let slot = failed.clone();
    outer.add_errback(move |f| {
        *slot.borrow_mut() = f.to_string();
        Ok(0)
    });
    assert!(
        failed.borrow().contains("inner boom"),
        "{}",
        failed.borrow()
    );

    let pending: Deferred<i32> = Deferred::new();
    pending.add_callback(|_| -> Result<i32, Failure> { panic!("never reached") });
    pending.cancel();
    let cancelled = Rc::new(RefCell::new(false));
    let flag = cancelled.clone();
    pending.add_errback(move |f| {
        *flag.borrow_mut() = f.is::<Error>() || !f.to_string().is_empty();
        Ok(0)
    });
    assert!(*cancelled.borrow(), "cancel did not fail the chain");
}

/// A task awaiting a Deferred whose callback panics wakes with the failure
/// instead of waiting forever.
#[test]
fn a_task_awaiting_a_deferred_whose_callback_panics_wakes() {
    let reactor = Reactor::builder().handle_signals(false).build().unwrap();
    let d: Deferred<i32> = Deferred::new();
    d.add_callback(|_| -> Result<i32, Failure> { panic!("task boom") });
    let awaited = d.clone();
    let task = reactor.spawn(awaited);
    let fire = d.clone();
    reactor.call_later(Duration::ZERO, move |_| {
        let _ = fire.callback(1);
    });
    // A deadline: a wedged Deferred fails the test instead of hanging it.
    reactor.call_later(Duration::from_secs(10), |cx| {
        let _ = cx.reactor.stop();
    });
    let outcome = reactor
        .run_until_complete(task)
        .expect("the task completed before the 10 s deadline");
    match outcome {
        Err(f) => assert!(f.to_string().contains("task boom"), "{f}"),
        Ok(v) => panic!("expected the panic's failure, got {v}"),
    }
}
