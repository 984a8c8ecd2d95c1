//! pyzmq's device example (part L of docs/EXAMPLES.md) run as a process,
//! with deadlines, on free ports: the relay through the thread device
//! delivers every producer's messages, in each producer's order, and ends
//! with the original's lines; in the interop environment, producers of the
//! original (plain pyzmq, tests/peers/devices.py) feed our device.

use std::time::Duration;

use tx0mq_test_support::net::free_port;
use tx0mq_test_support::process::{examples_are_fresh, Proc};
use tx0mq_test_support::python_or_skip;

/// How long any one step may take on a loaded machine.
const STEP: Duration = Duration::from_secs(30);

/// The examples these tests run.
const EXAMPLES: [&str; 1] = ["device"];

fn fresh() {
    examples_are_fresh("examples_devices", &EXAMPLES);
}

fn local() -> String {
    format!("tcp://127.0.0.1:{}", free_port())
}

/// Waits for `proc` to exit successfully and returns all it printed.
fn finish(proc: &mut Proc) -> Vec<String> {
    let status = proc.wait(STEP);
    assert!(
        status.success(),
        "{} failed: {status:?}; output: {:#?}\n{}",
        proc.name,
        proc.seen,
        proc.diagnostics()
    );
    proc.seen.clone()
}

/// The messages of producer `ident` among `lines`, as (ident, seconds).
fn messages_of<'a>(lines: &'a [String], ident: &str) -> Vec<&'a str> {
    lines
        .iter()
        .filter_map(|l| l.strip_prefix(&format!("{ident}: ")))
        .collect()
}

#[test]
fn device_relays_every_message_of_both_producers_and_ends_as_the_original() {
    fresh();
    let (in_url, out_url) = (local(), local());
    let mut device = Proc::spawn(
        "device",
        &[
            "--in-url",
            &in_url,
            "--out-url",
            &out_url,
            "--messages",
            "5",
            "--interval-ms",
            "100",
        ],
    );
    let out = finish(&mut device);
    assert_eq!(out[..3], ["Consuming", "Producing 0", "Producing 1"], "{out:#?}");
    for ident in ["0", "1"] {
        let times = messages_of(&out, ident);
        assert_eq!(times.len(), 5, "producer {ident}'s five messages: {out:#?}");
        let seconds: Vec<u64> = times
            .iter()
            .map(|t| t.parse().expect("whole seconds"))
            .collect();
        assert!(seconds.windows(2).all(|w| w[0] <= w[1]), "in order: {out:#?}");
        assert!(out.contains(&format!("Producer {ident} done")), "{out:#?}");
    }
    let consumer_done = out.iter().position(|l| l == "Consumer done");
    let terminated = out.iter().position(|l| l == "proxy terminated");
    assert!(
        matches!((consumer_done, terminated), (Some(c), Some(t)) if c < t),
        "Consumer done, then proxy terminated: {out:#?}"
    );
    assert_eq!(out.len(), 3 + 10 + 2 + 2, "nothing else: {out:#?}");
}

#[test]
fn device_refuses_a_bad_endpoint_naming_it() {
    fresh();
    let mut device = Proc::spawn("device", &["--in-url", "nonsense://x", "--messages", "1"]);
    let status = device.wait(STEP);
    assert_eq!(status.code(), Some(1), "{}", device.diagnostics());
    assert!(
        device.diagnostics().contains("nonsense://x"),
        "{}",
        device.diagnostics()
    );
}

#[test]
fn interop_pyzmq_producers_feed_our_device() {
    let python = python_or_skip!("interop_pyzmq_producers_feed_our_device");
    fresh();
    let (in_url, out_url) = (local(), local());
    // Our producers send nothing; the consumer waits for the Python ones.
    let mut device = Proc::spawn(
        "device",
        &[
            "--in-url",
            &in_url,
            "--out-url",
            &out_url,
            "--producers",
            "0",
            "--consume",
            "6",
        ],
    );
    device.expect_line("Consuming", STEP);
    let mut producers: Vec<Proc> = ["7", "8"]
        .iter()
        .map(|ident| {
            python.run_peer(
                "devices.py",
                &[
                    "producer",
                    "--url",
                    &in_url,
                    "--ident",
                    ident,
                    "--count",
                    "3",
                    "--interval-ms",
                    "100",
                ],
            )
        })
        .collect();
    let out = finish(&mut device);
    for producer in &mut producers {
        finish(producer);
    }
    for ident in ["7", "8"] {
        assert_eq!(messages_of(&out, ident).len(), 3, "{out:#?}");
    }
    assert!(out.ends_with(&["Consumer done".to_string(), "proxy terminated".to_string()]));
}
