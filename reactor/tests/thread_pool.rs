//! The thread pool (defer_to_thread, call_in_thread, its bound and its
//! shutdown) and blocking_call_from_thread.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use tx0mq_reactor::{Error, Failure, Reactor};
use tx0mq_test_support::reactor::{builder, iterate_until_cond, reactor, wait_for};

/// How long a test waits for a thread before failing.
const DEADLINE: Duration = Duration::from_secs(10);

/// The error a Deferred failed with, once it has.
fn failure_of<T: 'static>(d: &tx0mq_reactor::Deferred<T>) -> Rc<RefCell<Option<Failure>>> {
    let slot = Rc::new(RefCell::new(None));
    let store = Rc::clone(&slot);
    d.clone().then_both(move |outcome| {
        if let Err(failure) = outcome {
            *store.borrow_mut() = Some(failure);
        }
        Ok::<(), Failure>(())
    });
    slot
}

#[test]
fn defer_to_thread_fires_on_the_reactor_thread_with_the_result() {
    let r = reactor(());
    let reactor_thread = std::thread::current().id();
    let d = r.defer_to_thread(move || (std::thread::current().id(), 6 * 7));
    let fired_on = Rc::new(RefCell::new(None));
    let seen = Rc::clone(&fired_on);
    let d = d.map(move |(worker, value)| {
        *seen.borrow_mut() = Some(std::thread::current().id());
        (worker, value)
    });
    let (worker, value) = wait_for(&r, &d, "the deferred-to-thread result");
    assert_eq!(value, 42);
    assert_ne!(
        worker, reactor_thread,
        "the function ran on the reactor thread"
    );
    assert_eq!(*fired_on.borrow(), Some(reactor_thread));
}

#[test]
fn results_of_a_one_thread_pool_arrive_in_submission_order() {
    let r = builder().thread_pool_size(1).build().expect("build");
    let order = Rc::new(RefCell::new(Vec::new()));
    let ds: Vec<_> = (0..20u32)
        .map(|i| {
            let order = Rc::clone(&order);
            r.defer_to_thread(move || i)
                .map(move |i| order.borrow_mut().push(i))
        })
        .collect();
    for d in &ds {
        wait_for(&r, d, "every result");
    }
    assert_eq!(*order.borrow(), (0..20).collect::<Vec<_>>());
}

#[test]
fn a_panic_in_a_deferred_function_fails_its_deferred_naming_it_and_the_pool_goes_on() {
    let r = builder().thread_pool_size(1).build().expect("build");
    let d = r.defer_to_thread(|| -> u32 { panic!("boom in a worker") });
    let failed = failure_of(&d);
    iterate_until_cond(&r, "the panic's failure", || failed.borrow().is_some());
    let failure = failed.borrow_mut().take().expect("failed");
    assert!(
        matches!(failure.downcast_ref::<Error>(), Some(Error::ThreadPanicked(m)) if m.contains("boom in a worker")),
        "{failure:#}"
    );
    // The one worker survived: the next function runs.
    let d = r.defer_to_thread(|| 7);
    assert_eq!(wait_for(&r, &d, "a result after the panic"), 7);
}

#[test]
fn call_in_thread_runs_the_function_and_survives_its_panic() {
    let r = builder().thread_pool_size(1).build().expect("build");
    let (tx, rx) = mpsc::channel();
    r.call_in_thread(|| panic!("fire and forget"))
        .expect("queue");
    r.call_in_thread(move || tx.send(std::thread::current().id()).expect("send"))
        .expect("queue");
    let ran_on = rx.recv_timeout(DEADLINE).expect("the second function ran");
    assert_ne!(ran_on, std::thread::current().id());
}

#[test]
fn a_pool_of_two_runs_two_at_once_and_the_third_waits() {
    let r = builder().thread_pool_size(2).build().expect("build");
    let running = Arc::new(AtomicUsize::new(0));
    let (started_tx, started) = mpsc::channel();
    let mut gates = Vec::new();
    let mut ds = Vec::new();
    for i in 0..3u32 {
        let (gate_tx, gate) = mpsc::channel::<()>();
        gates.push(gate_tx);
        let running = Arc::clone(&running);
        let started_tx = started_tx.clone();
        ds.push(r.defer_to_thread(move || {
            running.fetch_add(1, Ordering::SeqCst);
            started_tx.send(i).expect("report the start");
            gate.recv_timeout(DEADLINE)
                .expect("the test opens the gate");
            running.fetch_sub(1, Ordering::SeqCst);
            i
        }));
    }
    let first = started.recv_timeout(DEADLINE).expect("a first start");
    let second = started.recv_timeout(DEADLINE).expect("a second start");
    assert_eq!((first.min(second), first.max(second)), (0, 1));
    assert!(
        started.recv_timeout(Duration::from_millis(200)).is_err(),
        "a third function started while two ran in a pool of two"
    );
    assert_eq!(running.load(Ordering::SeqCst), 2);
    gates[0].send(()).expect("open the first gate");
    assert_eq!(started.recv_timeout(DEADLINE).expect("the third starts"), 2);
    gates[1].send(()).expect("open");
    gates[2].send(()).expect("open");
    for (i, d) in ds.iter().enumerate() {
        assert_eq!(wait_for(&r, d, "each result") as usize, i);
    }
}

#[test]
fn shutdown_joins_the_workers_and_fails_work_not_started() {
    let r = builder().thread_pool_size(1).build().expect("build");
    let (started_tx, started) = mpsc::channel();
    let finished = Arc::new(AtomicUsize::new(0));
    let done = Arc::clone(&finished);
    let running = r.defer_to_thread(move || {
        started_tx.send(()).expect("report the start");
        std::thread::sleep(Duration::from_millis(100));
        done.fetch_add(1, Ordering::SeqCst);
        "finished"
    });
    let queued = r.defer_to_thread(|| "never");
    let queued_failure = failure_of(&queued);
    let ran = Rc::new(RefCell::new(None));
    let store = Rc::clone(&ran);
    running.add_callback(move |v| {
        *store.borrow_mut() = Some(v);
        Ok::<_, Failure>(v)
    });
    r.call_when_running(move |cx| {
        started
            .recv_timeout(DEADLINE)
            .expect("the first function started");
        cx.reactor.stop()
    });
    r.run().expect("run");
    // `run` returned only after the running function finished (joined),
    // and its result was delivered.
    assert_eq!(finished.load(Ordering::SeqCst), 1);
    assert_eq!(*ran.borrow(), Some("finished"));
    let failure = queued_failure
        .borrow_mut()
        .take()
        .expect("the queued work failed");
    assert!(
        matches!(failure.downcast_ref::<Error>(), Some(Error::ShutDown)),
        "{failure:#}"
    );
    assert!(
        failure.to_string().contains("reactor shut down"),
        "{failure}"
    );
}

#[test]
fn the_pool_starts_again_after_a_shutdown() {
    let r = builder().thread_pool_size(1).build().expect("build");
    let d = r.defer_to_thread(|| 1);
    r.call_when_running(|cx| cx.reactor.stop());
    r.run().expect("run");
    let d2 = r.defer_to_thread(|| 2);
    assert_eq!(wait_for(&r, &d2, "a result from the new pool"), 2);
    drop(d);
}

#[test]
fn dropping_the_reactor_fails_work_not_started() {
    let r = builder().thread_pool_size(1).build().expect("build");
    let (gate_tx, gate) = mpsc::channel::<()>();
    let _running = r.defer_to_thread(move || gate.recv_timeout(DEADLINE).is_ok());
    let queued = r.defer_to_thread(|| ());
    let failed = failure_of(&queued);
    // Opened after the drop has emptied the queue, so that the running
    // function ends and the drop's join returns.
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        let _ = gate_tx.send(());
    });
    drop(r);
    let failure = failed.borrow_mut().take().expect("the queued work failed");
    assert!(matches!(
        failure.downcast_ref::<Error>(),
        Some(Error::ShutDown)
    ));
}

#[test]
fn suggest_thread_pool_size_sets_the_bound() {
    let r = builder().thread_pool_size(3).build().expect("build");
    assert_eq!(r.thread_pool_size(), 3);
    r.suggest_thread_pool_size(0);
    assert_eq!(r.thread_pool_size(), 1);
    assert_eq!(Reactor::new().expect("build").thread_pool_size(), 10);
}

#[test]
fn blocking_call_from_thread_returns_the_reactor_side_result() {
    let r = reactor(5u32);
    let handle = r.thread_handle();
    let worker = std::thread::spawn(move || {
        let got = handle.blocking_call_from_thread(|cx| {
            *cx.state *= 2;
            *cx.state
        });
        let _ = handle.call_from_thread(|cx| cx.reactor.stop());
        got
    });
    r.call_later(DEADLINE, |cx| cx.reactor.stop());
    r.run().expect("run");
    assert_eq!(worker.join().expect("the worker").expect("the call"), 10);
    assert_eq!(r.access_state(|n| *n).expect("state"), 10);
}

#[test]
fn blocking_call_from_a_pool_thread_reaches_the_state() {
    let r = reactor(vec![1u32]);
    let handle = r.thread_handle();
    let d = r.defer_to_thread(move || {
        handle.blocking_call_from_thread(|cx| {
            cx.state.push(2);
            cx.state.len()
        })
    });
    let len = wait_for(&r, &d, "the blocking call's result");
    assert_eq!(len.expect("the call"), 2);
}

#[test]
fn blocking_call_from_thread_reports_a_panic() {
    let r = reactor(());
    let handle = r.thread_handle();
    let d = r.defer_to_thread(move || {
        handle.blocking_call_from_thread(|_| -> u8 { panic!("reactor-side boom") })
    });
    match wait_for(&r, &d, "the blocking call's outcome") {
        Err(Error::BlockingCallPanicked(m)) => assert!(m.contains("reactor-side boom"), "{m}"),
        other => panic!("expected the panic, got {other:?}"),
    }
}

#[test]
fn blocking_call_from_the_reactor_thread_is_an_error_at_once() {
    let r = reactor(());
    let handle = r.thread_handle();
    assert!(matches!(
        handle.blocking_call_from_thread(|_| ()),
        Err(Error::OnReactorThread)
    ));
}

#[test]
fn blocking_call_to_a_stopped_reactor_is_an_error_not_a_hang() {
    let r = reactor(());
    r.call_when_running(|cx| cx.reactor.stop());
    r.run().expect("run");
    let handle = r.thread_handle();
    let worker = std::thread::spawn(move || handle.blocking_call_from_thread(|_| ()));
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || tx.send(worker.join().map_err(|_| ())));
    let outcome = rx
        .recv_timeout(DEADLINE)
        .expect("no hang")
        .expect("no panic");
    assert!(matches!(outcome, Err(Error::NotRunning)), "{outcome:?}");
}

#[test]
fn a_blocking_call_waiting_while_the_reactor_stops_returns_an_error() {
    let r = reactor(());
    let handle = r.thread_handle();
    let (started_tx, started) = mpsc::channel();
    // The function blocks on the reactor while the reactor, in shutdown,
    // joins its thread: neither may wait for the other forever.
    let d = r.defer_to_thread(move || {
        started_tx.send(()).expect("report");
        std::thread::sleep(Duration::from_millis(50));
        handle.blocking_call_from_thread(|_| ())
    });
    r.call_when_running(move |cx| {
        started
            .recv_timeout(DEADLINE)
            .expect("the function started");
        cx.reactor.stop()
    });
    let (tx, rx) = mpsc::channel();
    let result = Rc::new(RefCell::new(None));
    let store = Rc::clone(&result);
    d.add_callback(move |v| {
        *store.borrow_mut() = Some(format!("{v:?}"));
        Ok::<_, Failure>(v)
    });
    std::thread::spawn(move || {
        std::thread::sleep(DEADLINE);
        let _ = tx.send(());
    });
    r.run().expect("run");
    assert!(rx.try_recv().is_err(), "shutdown took the whole deadline");
    assert_eq!(result.borrow().as_deref(), Some("Err(NotRunning)"));
}

#[test]
fn growing_the_pool_lets_waiting_work_start() {
    let r = builder().thread_pool_size(1).build().expect("build");
    let (gate_tx, gate) = mpsc::channel::<()>();
    let (started_tx, started) = mpsc::channel();
    let first = r.defer_to_thread(move || gate.recv_timeout(DEADLINE).is_ok());
    let second = r.defer_to_thread(move || started_tx.send(()).is_ok());
    assert!(
        started.recv_timeout(Duration::from_millis(200)).is_err(),
        "the second function started in a pool of one whose thread is busy"
    );
    r.suggest_thread_pool_size(2);
    started
        .recv_timeout(DEADLINE)
        .expect("the second function started once the pool grew");
    gate_tx.send(()).expect("open the gate");
    assert!(wait_for(&r, &first, "the first result"));
    assert!(wait_for(&r, &second, "the second result"));
}
