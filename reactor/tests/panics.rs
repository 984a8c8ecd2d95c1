//! A panic in user code is the user's bug, never the reactor's: it must not
//! wedge a Deferred. Each test states the behaviour it guards.

use std::cell::{Cell, RefCell};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::time::Duration;

use tx0mq_reactor::{Deferred, Error, Failure, Phase, Reactor, SystemEvent};
use tx0mq_test_support::process::Proc;
use tx0mq_test_support::reactor::watchdog;

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

// A panic that unwinds out of the reactor (`catch_panics(false)`, as the
// test reactors are built) leaves the reactor whole: its flags, its signal
// handling, its callbacks and its queues are as if the callback had returned.

/// Runs `f`, which must panic; the panic is caught.
fn unwinds<R>(what: &str, f: impl FnOnce() -> R) {
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    assert!(outcome.is_err(), "{what}: expected a panic to unwind out");
}

/// Panics with `message`: a callback's body that returns `()`.
fn boom(message: &str) {
    panic!("{message}");
}

/// After a callback's panic unwound out of `run`, the reactor is not
/// running nor stopping, and runs again.
#[test]
fn run_runs_again_after_a_panic_unwound_out_of_it() {
    let r = tx0mq_test_support::reactor::reactor(());
    r.call_later(Duration::ZERO, |cx| {
        cx.reactor.stop().unwrap();
        boom("boom in a timer");
    });
    unwinds("run", || r.run());
    assert!(!r.running(), "still marked running after the panic");
    assert!(!r.is_stopping(), "still marked stopping after the panic");
    let ran = Rc::new(Cell::new(false));
    let flag = ran.clone();
    r.call_later(Duration::ZERO, move |cx| {
        flag.set(true);
        cx.reactor.stop()
    });
    let _watchdog = watchdog(&r, Duration::from_secs(10));
    let second = r.run();
    assert!(second.is_ok(), "the second run: {second:?}");
    assert!(ran.get());
    // And iterate too.
    r.call_later(Duration::ZERO, |_| boom("boom in iterate"));
    unwinds("iterate", || r.iterate(Duration::ZERO));
    assert!(r.iterate(Duration::ZERO).is_ok());
}

/// The signal tests' child: the test binary re-run on one test with
/// `TX0MQ_PANIC_CHILD` set.
fn panic_child_mode() -> Option<String> {
    std::env::var("TX0MQ_PANIC_CHILD").ok()
}

fn say(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// A panic that unwound out of a signal-handling `run` gives SIGINT back its
/// default action, as a `run` that returned does: the process dies on it.
#[test]
fn after_a_panic_unwound_out_of_run_sigint_kills_the_process_again() {
    use std::os::unix::process::ExitStatusExt;
    const TEST: &str = "after_a_panic_unwound_out_of_run_sigint_kills_the_process_again";
    if panic_child_mode().is_some() {
        let r = Reactor::builder()
            .handle_signals(true)
            .catch_panics(false)
            .build()
            .unwrap();
        r.call_later(Duration::from_millis(1), |_| boom("boom with signals on"));
        r.call_later(Duration::from_secs(20), |cx| cx.reactor.stop());
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| r.run()));
        say(if outcome.is_err() {
            "run unwound"
        } else {
            "run returned"
        });
        say("waiting outside the reactor");
        std::thread::sleep(Duration::from_secs(20));
        say("still alive");
        std::process::exit(0);
    }
    let mut command = std::process::Command::new(std::env::current_exe().unwrap());
    command
        .args(["--exact", TEST, "--nocapture", "--test-threads=1"])
        .env("TX0MQ_PANIC_CHILD", "1");
    let mut child = Proc::start(format!("{TEST} (child)"), command);
    child.expect_containing("run unwound", Duration::from_secs(10));
    child.expect_containing("waiting outside the reactor", Duration::from_secs(10));
    child.signal("-INT");
    let status = child.wait_timeout(Duration::from_secs(5));
    let status = match status {
        Some(status) => status,
        None => {
            child.kill();
            panic!("SIGINT did not kill the process within 5 s: its default action is still off")
        }
    };
    assert_eq!(status.signal(), Some(2), "{status:?}");
}

/// Sets its flag when dropped.
struct DropFlag(Rc<Cell<bool>>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

/// `run_until_complete` whose `run` a panic unwound out of cancels its
/// future, which would otherwise stop a later `run`.
#[test]
fn run_until_complete_cancels_its_future_when_a_panic_unwinds() {
    let r = tx0mq_test_support::reactor::reactor(());
    let dropped = Rc::new(Cell::new(false));
    let guard = DropFlag(dropped.clone());
    let pending: Deferred<()> = Deferred::new();
    let awaited = pending.clone();
    r.call_later(Duration::from_millis(1), |_| boom("boom beside the future"));
    unwinds("run_until_complete", || {
        r.run_until_complete(async move {
            let _guard = guard;
            awaited.await
        })
    });
    assert_eq!(r.pending_tasks(), 0, "the future outlived its run");
    assert!(dropped.get(), "the future was not dropped");
    drop(pending);
}

type Calls = Rc<RefCell<Vec<&'static str>>>;

fn calls(c: &Calls) -> Vec<&'static str> {
    c.borrow().clone()
}

/// Two sockets' ends: the source side and the peer that makes it readable.
fn pair() -> (UnixStream, UnixStream) {
    let (a, b) = UnixStream::pair().unwrap();
    a.set_nonblocking(true).unwrap();
    (a, b)
}

/// A woken source whose handler panics keeps its handler, and the sources
/// woken after it in the same pass run on the next one.
#[test]
fn a_panicking_source_keeps_its_handler_and_the_other_ready_sources_still_run() {
    let r = tx0mq_test_support::reactor::reactor(());
    let seen: Calls = Rc::default();
    let (a, _pa) = pair();
    let (b, _pb) = pair();
    let (c, _pc) = pair();
    let log = seen.clone();
    let armed = Rc::new(Cell::new(true));
    let bomb = armed.clone();
    let sb = r
        .add_source(b.as_raw_fd(), move |_, _| {
            log.borrow_mut().push("b");
            if bomb.replace(false) {
                panic!("boom in source b");
            }
        })
        .unwrap();
    let log = seen.clone();
    let sa = r
        .add_source(a.as_raw_fd(), move |_, _| log.borrow_mut().push("a"))
        .unwrap();
    let log = seen.clone();
    let sc = r
        .add_source(c.as_raw_fd(), move |_, _| log.borrow_mut().push("c"))
        .unwrap();
    // Let the registrations' first edges (if any) pass.
    tx0mq_test_support::reactor::settle(&r);
    seen.borrow_mut().clear();
    for id in [sb, sa, sc] {
        r.wake_source(id);
    }
    unwinds("iterate", || r.iterate(Duration::ZERO));
    assert_eq!(calls(&seen), ["b"]);
    tx0mq_test_support::reactor::settle(&r);
    assert_eq!(
        calls(&seen),
        ["b", "a", "c"],
        "the sources woken after the panicking one did not run"
    );
    // Nothing is left marked as queued, and b still has its handler.
    for id in [sb, sa, sc] {
        r.wake_source(id);
    }
    tx0mq_test_support::reactor::settle(&r);
    assert_eq!(calls(&seen), ["b", "a", "c", "b", "a", "c"]);
    for id in [sa, sb, sc] {
        assert!(r.remove_source(id));
    }
}

/// Edge-triggered sources reported by the same poll: the one dispatched
/// after a panicking one is not lost (its edge would not come again).
#[test]
fn a_source_reported_with_a_panicking_one_is_dispatched_on_a_later_pass() {
    let r = tx0mq_test_support::reactor::reactor(());
    let seen: Calls = Rc::default();
    let (a, mut pa) = pair();
    let (b, mut pb) = pair();
    // Each handler panics on its first call; the poll reports both, in an
    // order the kernel picks, so whichever runs first panics first.
    let mut ids = Vec::new();
    for (name, sock) in [("a", &a), ("b", &b)] {
        let log = seen.clone();
        let armed = Cell::new(true);
        ids.push(
            r.add_source(sock.as_raw_fd(), move |_, _| {
                log.borrow_mut().push(name);
                if armed.replace(false) {
                    panic!("boom in source {name}");
                }
            })
            .unwrap(),
        );
    }
    tx0mq_test_support::reactor::settle(&r);
    seen.borrow_mut().clear();
    pa.write_all(b"x").unwrap();
    pb.write_all(b"x").unwrap();
    unwinds("the first iterate", || r.iterate(Duration::from_secs(5)));
    assert_eq!(calls(&seen).len(), 1, "{:?}", calls(&seen));
    // The other one's edge: dispatched on the next pass (where it panics too).
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| r.iterate(Duration::ZERO)));
    let mut got = calls(&seen);
    got.sort_unstable();
    assert_eq!(got, ["a", "b"], "the second source's event was lost");
    // Both still have their handlers.
    for &id in &ids {
        r.wake_source(id);
    }
    tx0mq_test_support::reactor::settle(&r);
    assert_eq!(calls(&seen).len(), 4, "{:?}", calls(&seen));
    for id in ids {
        assert!(r.remove_source(id));
    }
}

/// A reader that panics (reading nothing) keeps its slot and, level-
/// triggered, is called again while its data waits.
#[test]
fn a_panicking_reader_keeps_its_slot_and_is_called_again() {
    let r = tx0mq_test_support::reactor::reactor(());
    let seen: Calls = Rc::default();
    let (mut rx, mut tx) = pair();
    let fd = rx.as_raw_fd();
    let log = seen.clone();
    let armed = Cell::new(true);
    r.add_reader(fd, move |cx| {
        log.borrow_mut().push("reader");
        if armed.replace(false) {
            panic!("boom in a reader");
        }
        let mut buf = [0u8; 8];
        let _ = rx.read(&mut buf);
        cx.reactor.remove_reader(fd);
    })
    .unwrap();
    tx.write_all(b"data").unwrap();
    unwinds("iterate", || r.iterate(Duration::from_secs(5)));
    assert_eq!(calls(&seen), ["reader"]);
    assert_eq!(r.get_readers(), [fd]);
    tx0mq_test_support::reactor::settle(&r);
    assert_eq!(
        calls(&seen),
        ["reader", "reader"],
        "the reader was not called again after its panic"
    );
    assert!(r.get_readers().is_empty());
}

/// Likewise a writer.
#[test]
fn a_panicking_writer_keeps_its_slot_and_is_called_again() {
    let r = tx0mq_test_support::reactor::reactor(());
    let seen: Calls = Rc::default();
    let (sock, _peer) = pair();
    let fd = sock.as_raw_fd();
    let log = seen.clone();
    let armed = Cell::new(true);
    r.add_writer(fd, move |cx| {
        log.borrow_mut().push("writer");
        if armed.replace(false) {
            panic!("boom in a writer");
        }
        cx.reactor.remove_writer(fd);
    })
    .unwrap();
    unwinds("iterate", || r.iterate(Duration::from_secs(5)));
    tx0mq_test_support::reactor::settle(&r);
    assert_eq!(
        calls(&seen),
        ["writer", "writer"],
        "the writer was not called again after its panic"
    );
    assert!(r.get_writers().is_empty());
    drop(sock);
}

/// Thread calls queued behind a panicking one run on the next pass, in order.
#[test]
fn thread_calls_queued_behind_a_panicking_one_still_run() {
    let r = tx0mq_test_support::reactor::reactor(Vec::<&'static str>::new());
    let handle = r.thread_handle();
    std::thread::spawn(move || {
        handle.call_from_thread(|_| boom("boom in a thread call"))?;
        handle.call_from_thread(|cx| cx.state.push("second"))?;
        handle.call_from_thread(|cx| cx.state.push("third"))
    })
    .join()
    .unwrap()
    .unwrap();
    unwinds("iterate", || r.iterate(Duration::ZERO));
    tx0mq_test_support::reactor::settle(&r);
    assert_eq!(r.access_state(|s| s.clone()).unwrap(), ["second", "third"]);
}

/// A system event trigger that panics stays registered; the
/// `call_when_running` calls behind a panicking one wait for the next run.
#[test]
fn a_panicking_trigger_stays_and_when_running_calls_behind_a_panic_wait() {
    let r = tx0mq_test_support::reactor::reactor(Vec::<&'static str>::new());
    let armed = Cell::new(true);
    r.add_system_event_trigger(Phase::During, SystemEvent::Startup, move |cx| {
        cx.state.push("trigger");
        if armed.replace(false) {
            panic!("boom in a trigger");
        }
    });
    unwinds("the first run", || r.run());
    r.call_when_running(|_| boom("boom in call_when_running"));
    r.call_when_running(|cx| cx.state.push("when running"));
    unwinds("the second run", || r.run());
    r.call_when_running(|cx| cx.reactor.stop());
    let _watchdog = watchdog(&r, Duration::from_secs(10));
    assert!(r.run().is_ok());
    assert_eq!(
        r.access_state(|s| s.clone()).unwrap(),
        ["trigger", "trigger", "trigger", "when running"],
        "the trigger ran once a run, and the call behind the panicking one ran"
    );
}

/// Due timers behind a panicking one run on the next pass.
#[test]
fn timers_due_behind_a_panicking_one_still_run() {
    let r = tx0mq_test_support::reactor::fake_clock_reactor(Vec::<&'static str>::new());
    r.call_later(Duration::from_secs(1), |_| boom("boom in a timer"));
    r.call_later(Duration::from_secs(1), |cx| cx.state.push("second"));
    unwinds("advance", || r.advance(Duration::from_secs(1)));
    r.advance(Duration::ZERO).unwrap();
    assert_eq!(r.access_state(|s| s.clone()).unwrap(), ["second"]);
}
