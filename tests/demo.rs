//! The README's demo runs, prints each pattern's traffic, and exits 0 by
//! itself within its 5 s budget.

use std::process::Command;
use std::time::{Duration, Instant};

mod support;
use support::example;

#[test]
fn the_demo_shows_every_pattern_and_exits_zero_by_itself() {
    let started = Instant::now();
    let mut child = Command::new(example("demo"))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start the demo");
    let deadline = started + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the demo did not exit within 30 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut out = String::new();
    use std::io::Read;
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
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
