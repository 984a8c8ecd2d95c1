//! The process wrapper, on `sh` scripts: lines in order, both streams in
//! failure messages, deadlines, stdin, forwarding, kill on drop.

use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tx0mq_test_support::process::{Event, Proc};

const WAIT: Duration = Duration::from_secs(10);

fn sh(name: &str, script: &str) -> Proc {
    let mut command = Command::new("sh");
    command.args(["-c", script]);
    Proc::start(name, command)
}

/// The panic message of `f`, which must panic.
fn panic_message(f: impl FnOnce() + std::panic::UnwindSafe) -> String {
    tx0mq_test_support::reactor::panic_text(
        std::panic::catch_unwind(f).expect_err("it should have panicked"),
    )
}

#[test]
fn lines_arrive_in_order_and_the_rest_is_collected_at_exit() {
    let mut p = sh(
        "counter",
        "echo one; echo two; printf 'three\\r\\n'; printf four",
    );
    assert_eq!(p.line(WAIT), "one");
    p.expect_line("two", WAIT);
    let status = p.wait(WAIT);
    assert!(status.success());
    assert_eq!(p.seen, ["one", "two", "three", "four"]);
    assert_eq!(p.transcript(), p.seen);
    assert!(p.output_ended());
}

#[test]
fn expect_containing_and_expect_times_skip_other_lines() {
    let mut p = sh(
        "mixed",
        "echo a; echo hit; echo b; echo hit; echo 'the answer is 42'",
    );
    p.expect_times("hit", 2, WAIT);
    assert_eq!(p.expect_containing("answer", WAIT), "the answer is 42");
    assert_eq!(p.seen.len(), 5);
}

#[test]
fn a_missing_line_fails_naming_the_process_and_showing_both_streams() {
    let message = panic_message(|| {
        let mut p = sh("quiet", "echo said this; echo and that >&2; exec sleep 30");
        p.expect_line("said this", WAIT);
        p.line(Duration::from_secs(1));
    });
    assert!(message.starts_with("quiet: no line within"), "{message}");
    assert!(message.contains("said this"), "{message}");
    assert!(message.contains("and that"), "{message}");
}

#[test]
fn output_that_ends_before_the_expected_line_fails_at_once() {
    let started = Instant::now();
    let message = panic_message(|| {
        let mut p = sh("short", "echo only");
        p.expect_line("never", Duration::from_secs(30));
    });
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(message.contains("short: its output ended"), "{message}");
    assert!(message.contains("only"), "{message}");
}

#[test]
fn wait_fails_after_its_deadline_and_kills() {
    let message = panic_message(|| {
        let mut p = sh("sleeper", "echo zzz; exec sleep 30");
        p.wait(Duration::from_millis(300));
    });
    assert!(
        message.contains("sleeper: did not exit within"),
        "{message}"
    );
    assert!(message.contains("zzz"), "{message}");
}

#[test]
fn stdin_can_be_written_and_closed() {
    let mut p = sh("cat", "cat; echo done");
    p.write_stdin("hello\n");
    assert_eq!(p.line(WAIT), "hello");
    let stdin = p.stdin();
    stdin.send_line("again");
    assert_eq!(p.line(WAIT), "again");
    p.close_stdin();
    assert_eq!(p.line(WAIT), "done");
    assert!(p.wait(WAIT).success());
    assert!(stdin.write("late").is_err());
}

#[test]
fn exit_status_and_stderr_are_kept() {
    let mut p = sh("failing", "echo oops >&2; exit 3");
    assert_eq!(p.wait(WAIT).code(), Some(3));
    assert_eq!(p.stderr(), ["oops"]);
}

#[test]
fn forward_hands_on_unread_lines_then_new_ones_then_the_end() {
    let mut p = sh("talker", "echo first; echo second; read go; echo third");
    p.expect_line("first", WAIT);
    // "second" may be unread or still on its way: forwarded once either way.
    let (tx, rx) = mpsc::channel();
    p.forward(move |event| {
        let _ = tx.send(event);
    });
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), Event::Line("second".into()));
    p.stdin().send_line("go");
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), Event::Line("third".into()));
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), Event::End);
    assert_eq!(p.transcript(), ["first", "second", "third"]);
    assert_eq!(p.seen, ["first"]);
}

#[test]
fn dropping_kills_the_process() {
    let p = sh("forever", "sleep 300");
    let pid = p.id();
    drop(p);
    let alive = std::path::Path::new(&format!("/proc/{pid}")).exists();
    assert!(!alive, "process {pid} survived its Proc");
}

#[test]
fn kill_returns_the_status_and_the_output() {
    let mut p = sh("victim", "echo before; exec sleep 300");
    p.expect_line("before", WAIT);
    let status = p.kill();
    assert!(!status.success());
    assert_eq!(p.seen, ["before"]);
}
