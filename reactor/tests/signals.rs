//! Signal handlers (`add_signal_handler`), each test in a child process so
//! that no signal reaches the test harness: the test binary re-runs itself
//! on one test with `TX0MQ_SIGNALS_CHILD` set, and in the child the same
//! test function plays the reactor's part, printing what happens for the
//! parent, which sends the signals and reads the lines in order.

use std::fmt::Display;
use std::os::unix::process::ExitStatusExt;
use std::process::Command;
use std::rc::Rc;
use std::time::Duration;

use signal_hook::consts::{
    SIGBUS, SIGFPE, SIGHUP, SIGILL, SIGINT, SIGKILL, SIGSEGV, SIGSTOP, SIGTERM, SIGUSR1, SIGUSR2,
};
use tx0mq_reactor::{CallbackKind, Error, Reactor};
use tx0mq_test_support::process::Proc;

const CHILD: &str = "TX0MQ_SIGNALS_CHILD";

/// Whether this process is a test's child.
fn in_child() -> bool {
    std::env::var_os(CHILD).is_some()
}

/// Marks the child's lines, to tell them from the harness's own output.
const MARK: &str = "CHILD: ";

/// Prints a line for the parent.
fn say(line: impl Display) {
    use std::io::Write;
    let mut out = std::io::stdout();
    let _ = writeln!(out, "{MARK}{line}");
    let _ = out.flush();
}

/// A reactor as a program builds one: SIGINT/SIGTERM stop it, panics in
/// callbacks are caught and logged.
fn program_reactor<S: 'static>(state: S) -> Reactor<S> {
    Reactor::builder()
        .state(state)
        .build()
        .expect("build the reactor")
}

/// The child's part, once its handlers are added: says "running" once the
/// reactor runs, runs it (for 20 s at most), then says how it stopped.
fn run_child<S: 'static>(reactor: &Reactor<S>) {
    reactor.call_when_running(|_| say("running"));
    reactor.call_later(Duration::from_secs(20), |cx| {
        say("child watchdog");
        cx.reactor.stop()
    });
    reactor.run().expect("run the reactor");
    say(format!("stopped by {:?}", reactor.exit_signal()));
}

/// Panics with `message`: a handler's body that returns `()`.
fn boom(message: &str) {
    panic!("{message}");
}

/// Ends the child: the harness must not report on it.
fn exit_child() -> ! {
    std::process::exit(0)
}

/// The test binary re-run as a child process, playing the reactor's part.
struct Child(Proc);

impl Child {
    fn spawn(test: &str) -> Child {
        let exe = std::env::current_exe().expect("the test binary's path");
        let mut command = Command::new(exe);
        command
            .args(["--exact", test, "--nocapture", "--test-threads=1"])
            .env(CHILD, "1");
        Child(Proc::start(format!("{test} (child)"), command))
    }

    /// The child's next line (skipping the harness's own).
    fn next(&mut self) -> String {
        loop {
            let line = self.0.line(Duration::from_secs(10));
            // The harness prints "test NAME ... " with no newline first.
            if let Some((_, ours)) = line.split_once(MARK) {
                return ours.to_string();
            }
        }
    }

    /// Fails unless the child's next line is `expected`.
    fn expect(&mut self, expected: &str) {
        let got = self.next();
        assert_eq!(got, expected, "\n{}", self.0.diagnostics());
    }

    /// Sends `signal`, as `kill` spells it (`"-HUP"`).
    fn send(&self, signal: &str) {
        self.0.signal(signal);
    }

    fn exits_cleanly(&mut self) {
        let status = self.0.wait(Duration::from_secs(10));
        assert!(status.success(), "{status:?}\n{}", self.0.diagnostics());
    }

    /// Fails unless the child is (or soon gets) killed by `signal`.
    fn dies_by(&mut self, signal: i32) {
        let status = self.0.wait(Duration::from_secs(10));
        assert_eq!(
            status.signal(),
            Some(signal),
            "{status:?}\n{}",
            self.0.diagnostics()
        );
    }
}

#[test]
fn a_sighup_handler_runs_on_the_reactor_thread_each_time_and_the_reactor_keeps_running() {
    const TEST: &str =
        "a_sighup_handler_runs_on_the_reactor_thread_each_time_and_the_reactor_keeps_running";
    if in_child() {
        let r = program_reactor(0u32);
        let reactor_thread = std::thread::current().id();
        r.add_signal_handler(SIGHUP, move |cx| {
            *cx.state += 1;
            // The longest callback, for the stats.
            std::thread::sleep(Duration::from_millis(30));
            let here = std::thread::current().id() == reactor_thread;
            say(format!("hup {} on the reactor thread: {here}", cx.state));
        })
        .expect("add the handler");
        run_child(&r);
        say(format!(
            "longest callback: {:?}",
            r.stats().longest_callback_kind
        ));
        exit_child();
    }
    let mut child = Child::spawn(TEST);
    child.expect("running");
    child.send("-HUP");
    child.expect("hup 1 on the reactor thread: true");
    child.send("-HUP");
    child.expect("hup 2 on the reactor thread: true");
    // Still running, and SIGTERM still stops it.
    child.send("-TERM");
    child.expect(&format!("stopped by {:?}", Some(SIGTERM)));
    child.expect(&format!(
        "longest callback: {:?}",
        Some(CallbackKind::Signal)
    ));
    child.exits_cleanly();
}

#[test]
fn handlers_for_one_signal_all_run_in_the_order_added() {
    const TEST: &str = "handlers_for_one_signal_all_run_in_the_order_added";
    if in_child() {
        let r = program_reactor(());
        for name in ["first", "second", "third"] {
            r.add_signal_handler(SIGUSR1, move |_| say(name))
                .expect("add a handler");
        }
        run_child(&r);
        exit_child();
    }
    let mut child = Child::spawn(TEST);
    child.expect("running");
    child.send("-USR1");
    child.expect("first");
    child.expect("second");
    child.expect("third");
    child.send("-TERM");
    child.expect(&format!("stopped by {:?}", Some(SIGTERM)));
    child.exits_cleanly();
}

#[test]
fn a_removed_handler_is_not_called_and_removing_it_again_is_false() {
    const TEST: &str = "a_removed_handler_is_not_called_and_removing_it_again_is_false";
    if in_child() {
        let r = program_reactor(());
        r.add_signal_handler(SIGUSR1, |_| say("kept"))
            .expect("add a handler");
        let removed = r
            .add_signal_handler(SIGUSR1, |_| say("removed"))
            .expect("add a handler");
        r.add_signal_handler(SIGUSR2, move |cx| {
            let first = cx.reactor.remove_signal_handler(removed);
            let again = cx.reactor.remove_signal_handler(removed);
            say(format!("removed: {first}, again: {again}"));
        })
        .expect("add a handler");
        run_child(&r);
        exit_child();
    }
    let mut child = Child::spawn(TEST);
    child.expect("running");
    child.send("-USR1");
    child.expect("kept");
    child.expect("removed");
    child.send("-USR2");
    child.expect("removed: true, again: false");
    child.send("-USR1");
    child.expect("kept");
    child.send("-TERM");
    child.expect(&format!("stopped by {:?}", Some(SIGTERM)));
    child.exits_cleanly();
}

#[test]
fn removing_the_last_handler_gives_the_signal_its_default_action_while_running() {
    const TEST: &str =
        "removing_the_last_handler_gives_the_signal_its_default_action_while_running";
    if in_child() {
        let r = program_reactor(());
        let id = r
            .add_signal_handler(SIGUSR1, |_| say("usr1"))
            .expect("add a handler");
        r.add_signal_handler(SIGUSR2, move |cx| {
            say(format!("removed: {}", cx.reactor.remove_signal_handler(id)));
        })
        .expect("add a handler");
        run_child(&r);
        exit_child();
    }
    let mut child = Child::spawn(TEST);
    child.expect("running");
    child.send("-USR1");
    child.expect("usr1");
    child.send("-USR2");
    child.expect("removed: true");
    child.send("-USR1");
    child.dies_by(SIGUSR1);
}

#[test]
fn sigusr1_kills_a_process_whose_reactor_has_stopped() {
    const TEST: &str = "sigusr1_kills_a_process_whose_reactor_has_stopped";
    if in_child() {
        let r = program_reactor(());
        r.add_signal_handler(SIGUSR1, |cx| {
            say("usr1");
            cx.reactor.stop()
        })
        .expect("add the handler");
        run_child(&r);
        say("waiting outside the reactor");
        std::thread::sleep(Duration::from_secs(20));
        say("still alive");
        exit_child();
    }
    let mut child = Child::spawn(TEST);
    child.expect("running");
    child.send("-USR1");
    child.expect("usr1");
    child.expect("stopped by None");
    child.expect("waiting outside the reactor");
    child.send("-USR1");
    child.dies_by(SIGUSR1);
}

/// A reactor that never ran does not listen, and one that runs listens only
/// for the signals it has handlers for (and SIGINT/SIGTERM).
#[test]
fn sigusr1_kills_a_process_whose_reactor_with_the_handler_never_ran() {
    const TEST: &str = "sigusr1_kills_a_process_whose_reactor_with_the_handler_never_ran";
    if in_child() {
        let idle = program_reactor(());
        idle.add_signal_handler(SIGUSR1, |_| say("usr1"))
            .expect("add the handler");
        let running = program_reactor(());
        running
            .add_signal_handler(SIGUSR2, |_| say("usr2"))
            .expect("add the handler");
        run_child(&running);
        exit_child();
    }
    let mut child = Child::spawn(TEST);
    child.expect("running");
    child.send("-USR2");
    child.expect("usr2");
    child.send("-USR1");
    child.dies_by(SIGUSR1);
}

/// Refused before anything is installed, so this runs in the harness itself:
/// it sends no signal, and a reactor without signal handling installs none.
#[test]
fn forbidden_signals_are_refused_with_an_error_naming_them() {
    // 35 is a real-time signal on Linux; the others name no signal.
    let refused = [
        (SIGKILL, "SIGKILL"),
        (SIGSTOP, "SIGSTOP"),
        (SIGSEGV, "SIGSEGV"),
        (SIGBUS, "SIGBUS"),
        (SIGFPE, "SIGFPE"),
        (SIGILL, "SIGILL"),
        (35, "real-time"),
        (0, "signal 0 "),
        (-1, "signal -1 "),
        (65, "signal 65 "),
        (100_000, "signal 100000 "),
    ];
    let r = Reactor::builder()
        .state(Vec::<String>::new())
        .handle_signals(false)
        .build()
        .expect("build the reactor");
    let check = |outcome: Result<_, Error>, signal: i32, named: &str| match outcome {
        Err(Error::ForbiddenSignal(s)) if s == signal => {
            let text = Error::ForbiddenSignal(s).to_string();
            assert!(
                text.contains(&format!("signal {signal}")) && text.contains(named),
                "{text}"
            );
            None
        }
        other => Some(format!("signal {signal}: {other:?}")),
    };
    for (signal, named) in refused {
        let outcome = r.add_signal_handler(signal, |_| boom("a forbidden handler ran"));
        assert_eq!(check(outcome, signal, named), None);
    }
    // From inside a callback, while running, too.
    let refused = Rc::new(refused);
    let inside = refused.clone();
    r.call_when_running(move |cx| {
        for &(signal, named) in inside.iter() {
            let outcome = cx
                .reactor
                .add_signal_handler(signal, |_| boom("a forbidden handler ran"));
            if let Some(problem) = check(outcome, signal, named) {
                cx.state.push(problem);
            }
        }
        cx.reactor.stop()
    });
    r.run().expect("run with no refused signal added");
    assert_eq!(
        r.access_state(|s| s.clone()).expect("the state"),
        Vec::<String>::new()
    );
}

#[test]
fn a_panicking_handler_does_not_stop_the_handlers_after_it_or_the_loop() {
    const TEST: &str = "a_panicking_handler_does_not_stop_the_handlers_after_it_or_the_loop";
    if in_child() {
        let r = program_reactor(());
        r.add_signal_handler(SIGHUP, |_| say("before"))
            .expect("add a handler");
        r.add_signal_handler(SIGHUP, |_| {
            say("boom");
            boom("boom in a signal handler");
        })
        .expect("add a handler");
        r.add_signal_handler(SIGHUP, |_| say("after"))
            .expect("add a handler");
        run_child(&r);
        exit_child();
    }
    let mut child = Child::spawn(TEST);
    child.expect("running");
    for _ in 0..2 {
        child.send("-HUP");
        child.expect("before");
        child.expect("boom");
        child.expect("after");
    }
    child.send("-TERM");
    child.expect(&format!("stopped by {:?}", Some(SIGTERM)));
    child.exits_cleanly();
}

/// With `catch_panics(false)` the panic unwinds out of `run`; the calls of
/// the handlers after the panicking one are owed, and made at the start of
/// the next `run`.
#[test]
fn with_catch_panics_off_the_handlers_after_a_panicking_one_run_in_the_next_run() {
    const TEST: &str =
        "with_catch_panics_off_the_handlers_after_a_panicking_one_run_in_the_next_run";
    if in_child() {
        let r = Reactor::builder()
            .state(true)
            .catch_panics(false)
            .build()
            .expect("build the reactor");
        r.add_signal_handler(SIGHUP, |cx| {
            say("first");
            if std::mem::replace(cx.state, false) {
                panic!("boom in the first handler");
            }
        })
        .expect("add a handler");
        r.add_signal_handler(SIGHUP, |_| say("second"))
            .expect("add a handler");
        r.call_when_running(|_| say("running"));
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| r.run()));
        say(if outcome.is_err() {
            "run unwound"
        } else {
            "run returned"
        });
        run_child(&r);
        exit_child();
    }
    let mut child = Child::spawn(TEST);
    child.expect("running");
    child.send("-HUP");
    child.expect("first");
    child.expect("run unwound");
    child.expect("running");
    child.expect("second");
    child.send("-HUP");
    child.expect("first");
    child.expect("second");
    child.send("-TERM");
    child.expect(&format!("stopped by {:?}", Some(SIGTERM)));
    child.exits_cleanly();
}

#[test]
fn a_sigint_handler_replaces_the_default_stop_until_it_is_removed() {
    const TEST: &str = "a_sigint_handler_replaces_the_default_stop_until_it_is_removed";
    if in_child() {
        let r = program_reactor(());
        let id = r
            .add_signal_handler(SIGINT, |_| say("sigint handled"))
            .expect("add the handler");
        r.add_signal_handler(SIGUSR1, move |cx| {
            say(format!("removed: {}", cx.reactor.remove_signal_handler(id)));
        })
        .expect("add a handler");
        run_child(&r);
        exit_child();
    }
    let mut child = Child::spawn(TEST);
    child.expect("running");
    child.send("-INT");
    child.expect("sigint handled");
    child.send("-INT");
    child.expect("sigint handled");
    child.send("-USR1");
    child.expect("removed: true");
    child.send("-INT");
    child.expect(&format!("stopped by {:?}", Some(SIGINT)));
    child.exits_cleanly();
}

#[test]
fn with_signal_handling_off_a_sigint_handler_is_still_called() {
    const TEST: &str = "with_signal_handling_off_a_sigint_handler_is_still_called";
    if in_child() {
        let r = Reactor::builder()
            .handle_signals(false)
            .build()
            .expect("build the reactor");
        r.add_signal_handler(SIGINT, |cx| {
            say("sigint handled");
            cx.reactor.stop()
        })
        .expect("add the handler");
        run_child(&r);
        exit_child();
    }
    let mut child = Child::spawn(TEST);
    child.expect("running");
    child.send("-INT");
    child.expect("sigint handled");
    child.expect("stopped by None");
    child.exits_cleanly();
}

#[test]
fn a_handler_added_while_running_is_listened_for_at_once() {
    const TEST: &str = "a_handler_added_while_running_is_listened_for_at_once";
    if in_child() {
        let r = program_reactor(());
        r.call_when_running(|cx| {
            cx.reactor
                .add_signal_handler(SIGHUP, |_| say("hup"))
                .expect("add the handler");
            say("added");
        });
        run_child(&r);
        exit_child();
    }
    let mut child = Child::spawn(TEST);
    child.expect("added");
    child.expect("running");
    child.send("-HUP");
    child.expect("hup");
    child.send("-TERM");
    child.expect(&format!("stopped by {:?}", Some(SIGTERM)));
    child.exits_cleanly();
}

/// The Rust runtime ignores SIGPIPE (so that a write to a closed pipe is an
/// error, not death): a SIGPIPE handler runs while the reactor runs, and
/// outside `run` SIGPIPE is ignored again rather than given its default
/// action.
#[test]
fn sigpipe_is_handled_while_running_and_stays_ignored_outside_run() {
    const TEST: &str = "sigpipe_is_handled_while_running_and_stays_ignored_outside_run";
    if in_child() {
        let r = program_reactor(());
        r.add_signal_handler(signal_hook::consts::SIGPIPE, |cx| {
            say("pipe");
            cx.reactor.stop()
        })
        .expect("add the handler");
        run_child(&r);
        say("waiting outside the reactor");
        std::thread::sleep(Duration::from_secs(20));
        say("still alive");
        exit_child();
    }
    let mut child = Child::spawn(TEST);
    child.expect("running");
    child.send("-PIPE");
    child.expect("pipe");
    child.expect("stopped by None");
    child.expect("waiting outside the reactor");
    // Pending together, the lower-numbered SIGPIPE (13) is delivered before
    // SIGTERM (15): had it its default action, it would be the one to kill.
    child.send("-PIPE");
    child.send("-TERM");
    child.dies_by(SIGTERM);
}
