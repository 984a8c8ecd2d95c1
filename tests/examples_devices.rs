//! pyzmq's device example (part L of docs/EXAMPLES.md) run as a process,
//! with deadlines, on free ports: the relay through the thread device
//! delivers every producer's messages, in each producer's order, and ends
//! with the original's lines; in the interop environment, producers of the
//! original (plain pyzmq, tests/peers/devices.py) feed our device. The
//! early example's queue server answers several clients at once through
//! its worker threads, each client getting its own request back, and a
//! pyzmq client too.

use std::time::Duration;

use tx0mq_test_support::net::tcp;
use tx0mq_test_support::process::{examples_are_fresh, Proc};
use tx0mq_test_support::python_or_skip;

/// How long any one step may take on a loaded machine.
const STEP: Duration = Duration::from_secs(30);

/// The examples these tests run.
const EXAMPLES: [&str; 3] = ["device", "device_server", "device_client"];

fn fresh() {
    examples_are_fresh("examples_devices", &EXAMPLES);
}

/// Waits for `proc` to exit successfully and returns all it printed.
fn finish(proc: &mut Proc) -> Vec<String> {
    proc.succeeds(STEP)
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
    let (in_url, out_url) = (tcp(), tcp());
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
    assert_eq!(
        out[..3],
        ["Consuming", "Producing 0", "Producing 1"],
        "{out:#?}"
    );
    for ident in ["0", "1"] {
        let times = messages_of(&out, ident);
        assert_eq!(times.len(), 5, "producer {ident}'s five messages: {out:#?}");
        let seconds: Vec<u64> = times
            .iter()
            .map(|t| t.parse().expect("whole seconds"))
            .collect();
        assert!(
            seconds.windows(2).all(|w| w[0] <= w[1]),
            "in order: {out:#?}"
        );
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
    let (in_url, out_url) = (tcp(), tcp());
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

/// Starts `device_server` on a free port with `workers` workers sleeping
/// `delay_ms`; returns it and its endpoint once it has printed its line.
fn server(workers: &str, delay_ms: &str) -> (Proc, String) {
    let frontend = tcp();
    let mut server = Proc::spawn(
        "device_server",
        &[
            "--frontend",
            &frontend,
            "--workers",
            workers,
            "--delay-ms",
            delay_ms,
        ],
    );
    let line = server.line(STEP);
    assert!(line.starts_with("Server "), "{line}");
    (server, frontend)
}

#[test]
fn device_server_answers_each_client_with_its_own_request_through_the_workers() {
    fresh();
    let (mut server, frontend) = server("3", "200");
    let mut clients: Vec<Proc> = (0..3)
        .map(|_| Proc::spawn("device_client", &["--server", &frontend, "--requests", "3"]))
        .collect();
    for client in &mut clients {
        let out = finish(client);
        assert_eq!(out.len(), 4, "{out:#?}");
        let pid = out[0].strip_prefix("Client ").expect("Client PID");
        assert_eq!(pid, client.id().to_string());
        for line in &out[1..] {
            let (seconds, reply) = line.split_once(' ').expect("SECONDS REPLY");
            assert_eq!(reply, pid, "its own request back: {out:#?}");
            let seconds: f64 = seconds.parse().expect("a float");
            assert!(seconds >= 0.19, "the worker's sleep: {out:#?}");
        }
    }
    server.kill();
}

#[test]
fn interop_a_pyzmq_client_through_our_device_server() {
    let python = python_or_skip!("interop_a_pyzmq_client_through_our_device_server");
    fresh();
    let (mut server, frontend) = server("2", "50");
    let mut client = python.run_peer(
        "devices.py",
        &["client", "--url", &frontend, "--count", "3"],
    );
    let out = finish(&mut client);
    assert_eq!(
        out.last().map(String::as_str),
        Some("client done"),
        "{out:#?}"
    );
    let pid = client.id().to_string();
    assert_eq!(
        out.iter()
            .filter(|l| l.ends_with(&format!(" {pid}")))
            .count(),
        3,
        "{out:#?}"
    );
    server.kill();
}
