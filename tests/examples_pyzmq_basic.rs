//! pyzmq's `recv_into/`, `poll/`, `pubsub/` and `heartbeat/` ports run as
//! real processes, each wait with a deadline: what each prints and does,
//! checked against what its original does. Interop: a Python heart
//! (`tests/peers/heartbeat.py`, plain pyzmq) beating for our heartbeater
//! and ours for a Python heartbeater; our pinger against a Python echo
//! device and a Python pinger against ours.
//!
//! Every test gives the examples their own free TCP ports on 127.0.0.1 (the
//! originals' fixed ports become flags), so tests run in parallel; waits
//! the originals spend sleeping are shortened by their flags.

use std::time::Duration;

use tx0mq_test_support::net::{free_ports, tcp};
use tx0mq_test_support::process::{examples_are_fresh, Proc};
use tx0mq_test_support::python_or_skip;

/// How long any one step may take on a loaded machine.
const STEP: Duration = Duration::from_secs(30);

/// The examples these tests run.
const EXAMPLES: [&str; 13] = [
    "recv_into_discard",
    "recv_into_array",
    "poll_pair",
    "poll_pubsub",
    "poll_reqrep",
    "pubsub_publisher",
    "pubsub_subscriber",
    "pubsub_topics_pub",
    "pubsub_topics_sub",
    "heartbeat_heart",
    "heartbeat_heartbeater",
    "heartbeat_ping",
    "heartbeat_pong",
];

/// Fails unless the examples are newer than their sources (the shared
/// modules `examples/heartbeat/`, `examples/poll/` and `examples/pubsub/`
/// included).
fn fresh() {
    examples_are_fresh("examples_pyzmq_basic", &EXAMPLES);
}

/// Asserts that `proc` exits 0 within a step.
fn succeeds(proc: &mut Proc) {
    proc.succeeds(STEP);
}

#[test]
fn recv_into_array_receives_into_the_array_what_was_sent() {
    fresh();
    let mut proc = Proc::spawn("recv_into_array", &["--seed", "7"]);
    succeeds(&mut proc);
    let lines = proc.transcript();
    assert_eq!(lines.len(), 12, "{lines:?}");
    assert_eq!(lines[0], "sending:");
    assert_eq!(lines[6], "received 200 bytes:");
    assert_eq!(lines[1..6], lines[7..12], "the same array both ways");
    assert!(lines[1].starts_with(" [["), "numpy's layout: {lines:?}");
    assert!(lines[5].ends_with("]]"), "numpy's layout: {lines:?}");
    // Another seed, another array: the numbers are not fixed.
    let mut other = Proc::spawn("recv_into_array", &["--seed", "8"]);
    succeeds(&mut other);
    assert_ne!(other.transcript()[1..6], lines[1..6]);
}

/// The length of each `b'...'` item of a `Received [...]` line (hex text,
/// so no escapes), the leading `'small'` excluded.
fn small_bytes(line: &str) -> usize {
    line.split(", ")
        .skip(1)
        .map(|item| item.trim_end_matches(']').len() - "b''".len())
        .sum()
}

#[test]
fn recv_into_discard_counts_large_frames_and_prints_small_ones() {
    fresh();
    let mut proc = Proc::spawn(
        "recv_into_discard",
        &["--seed", "5", "--delay-ms", "300", "--interval-ms", "30"],
    );
    succeeds(&mut proc);
    let lines = proc.transcript();
    assert_eq!(
        lines.first().map(String::as_str),
        Some("INFO:subscriber:Receiving...")
    );
    let (mut large, mut small) = (0, 0);
    for (i, line) in lines.iter().enumerate() {
        let Some(rest) = line.strip_prefix("INFO:publisher:Sending ") else {
            continue;
        };
        let Some((kind, bytes)) = rest.split_once(": ") else {
            continue; // "Sending exit"
        };
        let total: usize = bytes.trim_end_matches(" bytes").parse().unwrap();
        let payload = total - kind.len();
        let answer = &lines[i + 1];
        if kind == "large" {
            large += 1;
            assert!(
                answer.starts_with("INFO:subscriber:Discarding large message frames: ")
                    && answer.ends_with(&format!(", bytes: {payload}")),
                "every discarded byte counted: {line} / {answer}"
            );
        } else {
            small += 1;
            assert!(
                answer.starts_with("INFO:subscriber:Received ['small'"),
                "{answer}"
            );
            assert_eq!(small_bytes(answer), payload, "{line} / {answer}");
        }
    }
    assert_eq!(large + small, 10, "{lines:?}");
    assert!(large > 0 && small > 0, "seed 5 gives both kinds: {lines:?}");
    assert_eq!(
        lines[lines.len() - 4..],
        [
            "INFO:publisher:Sending exit",
            "INFO:publisher:Done",
            "INFO:subscriber:Exiting...",
            "INFO:subscriber:Done"
        ]
    );
}

#[test]
fn poll_examples_pass_every_check() {
    fresh();
    let quick = |name: &str| {
        let addr = tcp();
        Proc::spawn(
            name,
            &["--addr", &addr, "--settle-ms", "300", "--wait-ms", "300"],
        )
    };
    let mut pair = quick("poll_pair");
    let mut pubsub = quick("poll_pubsub");
    let mut reqrep = quick("poll_reqrep");
    for proc in [&mut pair, &mut pubsub, &mut reqrep] {
        succeeds(proc);
    }
    assert_eq!(
        pair.transcript(),
        ["Running polling tests for PAIR sockets...", "Finished."]
    );
    assert_eq!(
        pubsub.transcript(),
        ["Running polling tets for PUB/SUB sockets...", "Finished."]
    );
    assert!(reqrep.transcript().is_empty(), "{:?}", reqrep.transcript());
}

/// An endpoint the port cannot bind is an error naming it, exit 1 (the
/// original's traceback), not a hang or a panic.
#[test]
fn poll_pair_names_the_endpoint_it_cannot_bind() {
    fresh();
    let addr = tcp();
    // A REP already bound there: poll_pair's bind fails, naming it.
    let context = zmq::Context::new();
    let squatter = context.socket(zmq::REP).unwrap();
    squatter.bind(&addr).unwrap();
    let mut proc = Proc::spawn("poll_pair", &["--addr", &addr, "--settle-ms", "100"]);
    let status = proc.wait(STEP);
    assert_eq!(status.code(), Some(1), "{}", proc.diagnostics());
    assert!(
        proc.stderr().iter().any(|l| l.contains(&addr)),
        "the error names the endpoint: {}",
        proc.diagnostics()
    );
}

/// A TCP port whose next port is free too (the sync socket's).
fn port_pair() -> u16 {
    free_ports(2)
}

#[test]
fn pubsub_subscriber_measures_the_arrays_of_pubsub_publisher() {
    fresh();
    let endpoint = format!("tcp://127.0.0.1:{}", port_pair());
    let mut subscriber = Proc::spawn(
        "pubsub_subscriber",
        &[&endpoint, "300", "--settle-ms", "300"],
    );
    let mut publisher = Proc::spawn("pubsub_publisher", &[&endpoint, "10", "300", "--seed", "1"]);
    succeeds(&mut publisher);
    succeeds(&mut subscriber);
    assert_eq!(
        publisher.transcript(),
        [
            "Waiting for subscriber to connect...",
            "   Done.",
            "Sending arrays...",
            "   Done."
        ]
    );
    let lines = subscriber.transcript();
    assert_eq!(
        lines[..4],
        [
            "Receiving arrays...",
            "   Done.",
            "message size: 800 [B]",
            "array count: 300"
        ]
    );
    assert!(
        lines[4].starts_with("mean throughput: ") && lines[4].ends_with(" [msg/s]"),
        "{lines:?}"
    );
    assert!(
        lines[5].starts_with("mean throughput: ") && lines[5].ends_with(" [Mb/s]"),
        "{lines:?}"
    );
}

/// The topics in the order the publisher cycles them.
const ALL_TOPICS: [&str; 7] = [
    "sports.general",
    "sports.football",
    "sports.basketball",
    "stocks.general",
    "stocks.GOOG",
    "stocks.AAPL",
    "weather",
];

#[test]
fn topics_sub_receives_the_topics_it_asked_for_only() {
    fresh();
    let endpoint = tcp();
    let mut publisher = Proc::spawn(
        "pubsub_topics_pub",
        &[
            &endpoint,
            "--count",
            "200",
            "--interval-ms",
            "10",
            "--delay-ms",
            "500",
        ],
    );
    let mut subscriber = Proc::spawn(
        "pubsub_topics_sub",
        &[&endpoint, "stocks", "weather", "--count", "12"],
    );
    succeeds(&mut subscriber);
    let lines = subscriber.transcript();
    assert_eq!(
        lines[0],
        "Receiving messages on topics: ['stocks', 'weather'] ..."
    );
    assert_eq!(lines.last().map(String::as_str), Some("Done."));
    let messages = &lines[1..lines.len() - 1];
    assert_eq!(messages.len(), 12, "{lines:?}");
    for line in messages {
        let (topic, msg) = line
            .strip_prefix("   Topic: ")
            .and_then(|rest| rest.split_once(", msg:"))
            .unwrap_or_else(|| panic!("not a message line: {line:?}"));
        assert!(topic.starts_with("stocks") || topic == "weather", "{line}");
        let n: usize = msg.parse().unwrap();
        assert_eq!(ALL_TOPICS[n % 7], topic, "the counter's topic: {line}");
    }
    succeeds(&mut publisher);
    let out = publisher.transcript();
    assert_eq!(out[0], "Starting broadcast on topics:");
    assert_eq!(out[4], "");
    assert_eq!(out[5], "   Topic: sports.general, msg:0");
    assert_eq!(
        out[out.len() - 2..],
        ["Waiting for message queues to flush...", "Done."]
    );
}

/// The heartbeater's endpoints.
struct Beat {
    ping: String,
    pong: String,
}

impl Beat {
    fn new() -> Beat {
        Beat {
            ping: tcp(),
            pong: tcp(),
        }
    }

    fn heartbeater(&self) -> Proc {
        Proc::spawn(
            "heartbeat_heartbeater",
            &[
                "--ping",
                &self.ping,
                "--pong",
                &self.pong,
                "--period-ms",
                "200",
                "--beats",
                "150",
            ],
        )
    }

    fn heart(&self) -> Proc {
        Proc::spawn(
            "heartbeat_heart",
            &[
                "--ping",
                &self.ping,
                "--pong",
                &self.pong,
                "--size",
                "60",
                "--settle-ms",
                "100",
            ],
        )
    }
}

#[test]
fn heartbeater_tracks_two_hearts_and_notices_one_stopping() {
    fresh();
    let beat = Beat::new();
    let mut heartbeater = beat.heartbeater();
    let mut first = beat.heart();
    let mut second = beat.heart();
    first.expect_line("starting blocking loop", STEP);
    first.expect_containing("blocked for ", STEP);
    second.expect_line("starting blocking loop", STEP);
    heartbeater.expect_matching("two beating hearts", STEP, |l| {
        l.starts_with("2 beating hearts: {b'")
    });
    first.kill();
    heartbeater.expect_matching("a heart failing", STEP, |l| {
        l.starts_with("Heart b'") && l.ends_with("' failed :(")
    });
    heartbeater.expect_matching("one heart left", STEP, |l| {
        l.starts_with("1 beating hearts: {b'")
    });
    let news = heartbeater
        .seen
        .iter()
        .filter(|l| l.starts_with("yay, got new heart b'"))
        .count();
    assert_eq!(news, 2, "each heart is new once: {:?}", heartbeater.seen);
    second.kill();
    heartbeater.kill();
}

#[test]
fn interop_a_python_heart_beats_for_our_heartbeater() {
    let python = python_or_skip!("interop_a_python_heart_beats_for_our_heartbeater");
    fresh();
    let beat = Beat::new();
    let mut heartbeater = beat.heartbeater();
    let mut heart = python.run_peer(
        "heartbeat.py",
        &[
            "heart",
            "--ping",
            &beat.ping,
            "--pong",
            &beat.pong,
            "--seconds",
            "3",
        ],
    );
    heartbeater.expect_matching("the Python heart", STEP, |l| {
        l.starts_with("yay, got new heart b'")
    });
    heartbeater.expect_matching("it beating", STEP, |l| {
        l.starts_with("1 beating hearts: {b'")
    });
    heart.expect_line("DONE", STEP);
    succeeds(&mut heart);
    heartbeater.expect_matching("its failure", STEP, |l| l.ends_with("' failed :("));
    heartbeater.kill();
}

#[test]
fn interop_our_heart_beats_for_a_python_heartbeater() {
    let python = python_or_skip!("interop_our_heart_beats_for_a_python_heartbeater");
    fresh();
    let beat = Beat::new();
    let mut heartbeater = python.run_peer(
        "heartbeat.py",
        &[
            "heartbeater",
            "--ping",
            &beat.ping,
            "--pong",
            &beat.pong,
            "--period-ms",
            "200",
            "--beats",
            "150",
        ],
    );
    let mut heart = beat.heart();
    heartbeater.expect_matching("our heart", STEP, |l| {
        l.starts_with("yay, got new heart b'")
    });
    heartbeater.expect_matching("it beating", STEP, |l| {
        l.starts_with("1 beating hearts: {b'")
    });
    assert!(
        !heartbeater
            .seen
            .iter()
            .any(|l| l.starts_with("got bad heartbeat")),
        "our heart echoes the ping unchanged: {:?}",
        heartbeater.seen
    );
    heart.kill();
    heartbeater.expect_matching("its failure", STEP, |l| l.ends_with("' failed :("));
    heartbeater.kill();
}

/// Checks `ping 1: T ms` ... `ping n: T ms` in order.
fn assert_pings(lines: &[String], n: usize) {
    let pings: Vec<&String> = lines.iter().filter(|l| l.starts_with("ping ")).collect();
    assert_eq!(pings.len(), n, "{lines:?}");
    for (i, line) in pings.iter().enumerate() {
        let (label, time) = line.split_once(": ").unwrap();
        assert_eq!(label, format!("ping {}", i + 1));
        let ms: f64 = time.strip_suffix(" ms").unwrap().parse().unwrap();
        assert!(ms >= 0.0, "{line}");
    }
}

/// Our `heartbeat_pong` on `endpoint`, blocking 60 ms per message.
fn our_pong(endpoint: &str) -> Proc {
    Proc::spawn(
        "heartbeat_pong",
        &["--endpoint", endpoint, "--size", "60", "--settle-ms", "100"],
    )
}

/// Our `heartbeat_ping` sending `pings` pings to `endpoint`.
fn our_ping(endpoint: &str, pings: u32, seed: u32) -> Proc {
    let (pings, seed) = (pings.to_string(), seed.to_string());
    Proc::spawn(
        "heartbeat_ping",
        &[
            "--endpoint",
            endpoint,
            "--settle-ms",
            "100",
            "--pings",
            &pings,
            "--seed",
            &seed,
        ],
    )
}

#[test]
fn ping_gets_every_echo_from_pong_while_it_blocks() {
    fresh();
    let endpoint = tcp();
    let mut pong = our_pong(&endpoint);
    pong.expect_line("starting blocking loop", STEP);
    let mut ping = our_ping(&endpoint, 8, 2);
    succeeds(&mut ping);
    assert_pings(&ping.transcript(), 8);
    pong.expect_containing("blocked for ", STEP);
    pong.kill();
}

#[test]
fn interop_our_ping_against_a_python_pong_and_back() {
    let python = python_or_skip!("interop_our_ping_against_a_python_pong_and_back");
    fresh();
    let endpoint = tcp();
    let mut pong = python.run_peer(
        "heartbeat.py",
        &["pong", "--endpoint", &endpoint, "--seconds", "20"],
    );
    pong.expect_line("READY", STEP);
    let mut ping = our_ping(&endpoint, 6, 3);
    succeeds(&mut ping);
    assert_pings(&ping.transcript(), 6);
    pong.kill();

    let endpoint = tcp();
    let mut pong = our_pong(&endpoint);
    let mut ping = python.run_peer(
        "heartbeat.py",
        &["ping", "--endpoint", &endpoint, "--pings", "6"],
    );
    ping.expect_line("DONE", STEP);
    succeeds(&mut ping);
    assert_pings(&ping.transcript(), 6);
    pong.kill();
}
