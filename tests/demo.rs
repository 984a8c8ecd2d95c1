//! The README's demo runs, prints each pattern's traffic, and exits 0 by
//! itself within its 5 s budget.

use std::time::{Duration, Instant};

use tx0mq_test_support::process::Proc;

#[test]
fn the_demo_shows_every_pattern_and_exits_zero_by_itself() {
    let started = Instant::now();
    let mut demo = Proc::spawn("demo", &[]);
    let status = demo.wait(Duration::from_secs(30));
    let out = demo.seen.join("\n");
    assert!(status.success(), "demo failed: {status:?}\n{out}");
    for line in [
        "pull: b'task 1'",
        "pull: b'task 3'",
        "req: b'3 squared is 9'",
        "tagged b'weather'",
        "demo: all messages arrived, stopping",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
    assert!(
        !out.contains("sports"),
        "a message for another tag got through:\n{out}"
    );
    assert!(started.elapsed() < Duration::from_secs(30));
}
