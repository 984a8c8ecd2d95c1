//! run/stop, system event triggers, call_when_running, signals and idle CPU.

use std::process::Command;
use std::time::{Duration, Instant};

use tx0mq_reactor::{Error, Phase, Reactor, SystemEvent};
use tx0mq_test_support::process::Proc;

type Log = Vec<&'static str>;

fn reactor() -> Reactor<Log> {
    tx0mq_test_support::reactor::reactor(Log::new())
}

fn log(r: &Reactor<Log>) -> Log {
    r.access_state(|l| l.clone()).expect("state")
}

/// Stops the reactor after `limit`, so a broken test fails instead of hanging.
fn watchdog(r: &Reactor<Log>, limit: Duration) {
    r.call_later(limit, |cx| {
        cx.state.push("WATCHDOG");
        cx.reactor.stop()
    });
}

#[test]
fn stop_from_a_call_makes_run_return_ok() {
    let r = reactor();
    assert!(!r.running());
    r.call_later(Duration::from_millis(1), |cx| {
        cx.state.push(if cx.reactor.running() {
            "running"
        } else {
            "not running"
        });
        cx.reactor.stop()
    });
    watchdog(&r, Duration::from_secs(5));
    r.run().unwrap();
    assert!(!r.running());
    assert_eq!(log(&r), ["running"]);
}

#[test]
fn stop_when_not_running_is_an_error() {
    let r = reactor();
    assert!(matches!(r.stop(), Err(Error::NotRunning)));
}

#[test]
fn a_second_stop_is_an_error_and_shutdown_triggers_run_once() {
    let r = reactor();
    r.add_system_event_trigger(Phase::During, SystemEvent::Shutdown, |cx| {
        cx.state.push("shutdown")
    });
    r.call_later(Duration::ZERO, |cx| {
        cx.reactor.stop().unwrap();
        let second = cx.reactor.stop();
        cx.state.push(if matches!(second, Err(Error::NotRunning)) {
            "second refused"
        } else {
            "second accepted"
        });
    });
    watchdog(&r, Duration::from_secs(5));
    r.run().unwrap();
    assert_eq!(log(&r), ["second refused", "shutdown"]);
}

#[test]
fn run_from_inside_a_callback_is_already_running() {
    let r = reactor();
    r.call_later(Duration::ZERO, |cx| {
        let nested = cx.reactor.run();
        let iterated = cx.reactor.iterate(Duration::ZERO);
        if matches!(nested, Err(Error::AlreadyRunning))
            && matches!(iterated, Err(Error::AlreadyRunning))
        {
            cx.state.push("refused");
        }
        cx.reactor.stop()
    });
    watchdog(&r, Duration::from_secs(5));
    r.run().unwrap();
    assert_eq!(log(&r), ["refused"]);
}

#[test]
fn triggers_run_in_phase_order_for_startup_and_shutdown() {
    let r = reactor();
    use Phase::*;
    use SystemEvent::*;
    r.add_system_event_trigger(After, Shutdown, |cx| cx.state.push("after shutdown"));
    r.add_system_event_trigger(During, Shutdown, |cx| cx.state.push("during shutdown"));
    r.add_system_event_trigger(Before, Shutdown, |cx| cx.state.push("before shutdown"));
    r.add_system_event_trigger(After, Startup, |cx| cx.state.push("after startup"));
    r.add_system_event_trigger(During, Startup, |cx| cx.state.push("during startup"));
    r.add_system_event_trigger(Before, Startup, |cx| cx.state.push("before startup"));
    r.call_when_running(|cx| {
        cx.state.push("when running");
        cx.reactor.stop()
    });
    watchdog(&r, Duration::from_secs(5));
    r.run().unwrap();
    assert_eq!(
        log(&r),
        [
            "before startup",
            "during startup",
            "after startup",
            "when running",
            "before shutdown",
            "during shutdown",
            "after shutdown"
        ]
    );
}

#[test]
fn triggers_in_one_phase_run_in_the_order_added() {
    let r = reactor();
    for name in ["one", "two", "three"] {
        r.add_system_event_trigger(Phase::During, SystemEvent::Shutdown, move |cx| {
            cx.state.push(name)
        });
    }
    r.call_when_running(|cx| cx.reactor.stop());
    r.run().unwrap();
    assert_eq!(log(&r), ["one", "two", "three"]);
}

#[test]
fn a_removed_trigger_does_not_run() {
    let r = reactor();
    let id = r.add_system_event_trigger(Phase::During, SystemEvent::Shutdown, |cx| {
        cx.state.push("removed")
    });
    r.add_system_event_trigger(Phase::During, SystemEvent::Shutdown, |cx| {
        cx.state.push("kept")
    });
    assert!(r.remove_system_event_trigger(id));
    assert!(!r.remove_system_event_trigger(id));
    r.call_when_running(|cx| cx.reactor.stop());
    r.run().unwrap();
    assert_eq!(log(&r), ["kept"]);
}

#[test]
fn a_trigger_can_remove_itself_while_running() {
    let r = reactor();
    let id = std::rc::Rc::new(std::cell::Cell::new(None));
    let own = id.clone();
    id.set(Some(r.add_system_event_trigger(
        Phase::Before,
        SystemEvent::Shutdown,
        move |cx| {
            cx.state.push("ran");
            let removed = cx.reactor.remove_system_event_trigger(own.get().unwrap());
            cx.state.push(if removed {
                "removed itself"
            } else {
                "not found"
            });
        },
    )));
    r.call_when_running(|cx| cx.reactor.stop());
    r.run().unwrap();
    // A second run: the trigger is gone.
    r.call_when_running(|cx| cx.reactor.stop());
    r.run().unwrap();
    assert_eq!(log(&r), ["ran", "removed itself"]);
}

#[test]
fn call_when_running_while_running_runs_on_a_later_pass() {
    let r = reactor();
    r.call_when_running(|cx| {
        cx.state.push("first");
        cx.reactor.call_when_running(|cx| {
            cx.state.push("second");
            cx.reactor.stop()
        });
        cx.state.push("first done");
    });
    watchdog(&r, Duration::from_secs(5));
    r.run().unwrap();
    assert_eq!(log(&r), ["first", "first done", "second"]);
}

#[test]
fn the_reactor_can_run_again_after_it_stopped() {
    let r = reactor();
    for _ in 0..2 {
        r.call_later(Duration::ZERO, |cx| {
            cx.state.push("ran");
            cx.reactor.stop()
        });
        r.run().unwrap();
    }
    assert_eq!(log(&r), ["ran", "ran"]);
}

#[test]
fn access_state_inside_a_callback_is_refused() {
    let r = reactor();
    r.call_later(Duration::ZERO, |cx| {
        let outcome = cx.reactor.access_state(|_| ());
        cx.state
            .push(if matches!(outcome, Err(Error::AlreadyRunning)) {
                "refused"
            } else {
                "lent twice"
            });
    });
    r.iterate(Duration::ZERO).unwrap();
    assert_eq!(log(&r), ["refused"]);
}

/// CPU time this thread has used, from the scheduler's own accounting.
fn thread_cpu() -> Duration {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").expect("schedstat");
    let ns: u64 = text.split_whitespace().next().unwrap().parse().unwrap();
    Duration::from_nanos(ns)
}

#[test]
fn an_idle_reactor_blocks_in_the_kernel() {
    let r = reactor();
    r.call_later(Duration::from_secs(1), |cx| cx.reactor.stop());
    let cpu = thread_cpu();
    let wall = Instant::now();
    r.run().unwrap();
    let used = thread_cpu() - cpu;
    eprintln!("idle reactor: {:?} of CPU over {:?}", used, wall.elapsed());
    assert!(
        wall.elapsed() >= Duration::from_millis(990),
        "stopped early: {:?}",
        wall.elapsed()
    );
    assert!(
        used < Duration::from_millis(50),
        "idle reactor used {used:?} of CPU in 1 s"
    );
}

/// The signal tests run a reactor in a child process: the test binary itself,
/// re-run on one test with `TX0MQ_SIGNAL_CHILD` naming the mode. In the
/// child, the same test function plays the reactor's part.
fn child_mode() -> Option<String> {
    std::env::var("TX0MQ_SIGNAL_CHILD").ok()
}

fn say(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// The child's part: run a reactor until a signal (or, in "after-run" mode,
/// stop by itself and then wait outside the reactor).
fn run_child(mode: &str) {
    let handle = mode != "no-signals";
    let reactor = Reactor::builder().handle_signals(handle).build().unwrap();
    reactor.add_system_event_trigger(Phase::During, SystemEvent::Shutdown, |_| {
        say("shutdown trigger ran")
    });
    reactor.call_when_running(|_| say("running"));
    reactor.call_later(Duration::from_secs(20), |cx| {
        say("child watchdog");
        cx.reactor.stop()
    });
    if mode == "after-run" {
        reactor.call_later(Duration::from_millis(10), |cx| cx.reactor.stop());
    }
    reactor.run().unwrap();
    say("run returned Ok");
    if mode == "after-run" {
        say("waiting outside the reactor");
        std::thread::sleep(Duration::from_secs(20));
    }
    std::process::exit(0);
}

/// The test binary re-run as a child process, playing the reactor's part.
struct Child(Proc);

impl Child {
    fn spawn(test: &str, mode: &str) -> Child {
        let mut command = Command::new(std::env::current_exe().unwrap());
        command
            .args(["--exact", test, "--nocapture", "--test-threads=1"])
            .env("TX0MQ_SIGNAL_CHILD", mode);
        Child(Proc::start(format!("{test} ({mode} child)"), command))
    }

    /// Reads lines until `expected` (skipping the test harness's own lines).
    fn expect(&mut self, expected: &str) {
        loop {
            let line = self.0.line(Duration::from_secs(10));
            // The harness prints "test NAME ... " with no newline before our first line.
            let ours = line.trim_end().rsplit(" ... ").next().unwrap_or("");
            if ours == expected {
                return;
            }
            assert!(
                ![
                    "running",
                    "shutdown trigger ran",
                    "run returned Ok",
                    "child watchdog"
                ]
                .contains(&ours),
                "expected {expected:?}, got {line:?}"
            );
        }
    }

    fn send(&self, signal: &str) {
        self.0.signal(signal);
    }

    /// Waits for the child with a deadline, killing it if it overstays.
    fn wait(&mut self) -> std::process::ExitStatus {
        self.0.wait(Duration::from_secs(10))
    }
}

fn stops_cleanly_on(test: &str, signal: &str) {
    if let Some(mode) = child_mode() {
        return run_child(&mode);
    }
    let mut child = Child::spawn(test, "signals");
    child.expect("running");
    child.send(signal);
    child.expect("shutdown trigger ran");
    child.expect("run returned Ok");
    assert!(child.wait().success());
}

#[test]
fn sigint_stops_the_reactor_cleanly() {
    stops_cleanly_on("sigint_stops_the_reactor_cleanly", "-INT");
}

#[test]
fn sigterm_stops_the_reactor_cleanly() {
    stops_cleanly_on("sigterm_stops_the_reactor_cleanly", "-TERM");
}

#[test]
fn with_signal_handling_off_sigint_kills_the_process() {
    use std::os::unix::process::ExitStatusExt;
    if let Some(mode) = child_mode() {
        return run_child(&mode);
    }
    let mut child = Child::spawn(
        "with_signal_handling_off_sigint_kills_the_process",
        "no-signals",
    );
    child.expect("running");
    child.send("-INT");
    let status = child.wait();
    assert_eq!(status.signal(), Some(2), "{status:?}");
}

#[test]
fn after_run_returns_sigint_kills_the_process_again() {
    use std::os::unix::process::ExitStatusExt;
    if let Some(mode) = child_mode() {
        return run_child(&mode);
    }
    let mut child = Child::spawn(
        "after_run_returns_sigint_kills_the_process_again",
        "after-run",
    );
    child.expect("running");
    child.expect("shutdown trigger ran");
    child.expect("run returned Ok");
    child.expect("waiting outside the reactor");
    child.send("-INT");
    let status = child.wait();
    assert_eq!(status.signal(), Some(2), "{status:?}");
}
