//! The ports of pyzmq's `examples/monitoring` run as processes, each wait
//! with a deadline, and print the lines their originals print under the
//! interop environment's pyzmq 27 (where an event's id and value print as
//! `zmq.Event` flags: `<Event.CONNECTED|CONNECT_RETRIED|LISTENING: 13>`).
//!
//! Each test gives its example free TCP ports, so they run in parallel with
//! other tests.

use std::time::Duration;

use tx0mq_test_support::net::tcp;
use tx0mq_test_support::process::Proc;

/// How long any one step may take on a loaded machine.
const STEP: Duration = Duration::from_secs(60);

/// The rule the originals print between steps.
fn rule() -> String {
    "-".repeat(40)
}

/// pyzmq 27's `EVENT_*` table, as `dir(zmq)` lists it.
const NAMES: [(&str, u32); 19] = [
    ("EVENT_ACCEPTED", 32),
    ("EVENT_ACCEPT_FAILED", 64),
    ("EVENT_ALL", 65535),
    ("EVENT_ALL_V1", 65535),
    ("EVENT_ALL_V2", 131071),
    ("EVENT_BIND_FAILED", 16),
    ("EVENT_CLOSED", 128),
    ("EVENT_CLOSE_FAILED", 256),
    ("EVENT_CONNECTED", 1),
    ("EVENT_CONNECT_DELAYED", 2),
    ("EVENT_CONNECT_RETRIED", 4),
    ("EVENT_DISCONNECTED", 512),
    ("EVENT_HANDSHAKE_FAILED_AUTH", 16384),
    ("EVENT_HANDSHAKE_FAILED_NO_DETAIL", 2048),
    ("EVENT_HANDSHAKE_FAILED_PROTOCOL", 8192),
    ("EVENT_HANDSHAKE_SUCCEEDED", 4096),
    ("EVENT_LISTENING", 8),
    ("EVENT_MONITOR_STOPPED", 1024),
    ("EVENT_PIPES_STATS", 65536),
];

/// `repr(zmq.Event(n))` for the values events carry here (below 2^15):
/// the single-bit members that make it up, in bit order.
fn flag_repr(n: u32) -> String {
    let mut bits: Vec<(u32, &str)> = NAMES
        .iter()
        .filter(|(_, v)| v.count_ones() == 1 && *v < 0x8000 && n & v != 0)
        .map(|(name, v)| (*v, name.trim_start_matches("EVENT_")))
        .collect();
    bits.sort();
    let names: Vec<&str> = bits.iter().map(|(_, name)| *name).collect();
    if names.is_empty() {
        format!("<Event: {n}>")
    } else {
        format!("<Event.{}: {n}>", names.join("|"))
    }
}

/// An event line, parsed: (event name, value, endpoint).
fn parse_event(line: &str) -> Option<(String, u32, String)> {
    let rest = line.strip_prefix("Event: {'event': <Event.")?;
    let (name, rest) = rest.split_once(": ")?;
    let (id, rest) = rest.split_once(">, 'value': ")?;
    let (value_repr, rest) = rest.split_once(", 'endpoint': b'")?;
    let (endpoint, description) = rest.split_once("', 'description': '")?;
    let value: u32 = value_repr
        .rsplit_once(": ")?
        .1
        .strip_suffix('>')?
        .parse()
        .ok()?;
    let id: u32 = id.parse().ok()?;
    // Each part as pyzmq prints it.
    let known = NAMES.iter().find(|(n, v)| *v == id && n.ends_with(name))?;
    if description != format!("{}'}}", known.0) || value_repr != flag_repr(value) {
        return None;
    }
    Some((name.to_string(), value, endpoint.to_string()))
}

fn version_line() -> String {
    let (major, minor, patch) = zmq::version();
    format!("libzmq-{major}.{minor}.{patch}")
}

/// simple_monitor walks a monitored REQ through a REP's connects,
/// disconnects and close, disables the monitor and shows that nothing
/// more is reported: its lines are the original's, events included.
#[test]
fn simple_monitor_prints_the_originals_lines() {
    let (first, second) = (tcp(), tcp());
    let mut proc = Proc::spawn(
        "simple_monitor",
        &["--first", &first, "--second", &second, "--delay-ms", "500"],
    );
    let status = proc.wait(STEP);
    assert!(status.success(), "{status:?}\n{}", proc.diagnostics());
    let out = proc.seen.clone();

    let mut header = vec![version_line(), "Event names:".to_string()];
    header.extend(NAMES.iter().map(|(n, v)| format!("{n:>21} : {v:>4}")));
    assert_eq!(out[..header.len()], header[..], "{out:#?}");

    let rest = &out[header.len()..];
    let prose: Vec<&str> = rest
        .iter()
        .filter(|l| !l.starts_with("Event: "))
        .map(String::as_str)
        .collect();
    let r = rule();
    assert_eq!(
        prose,
        [
            &r,
            "bind req",
            &r,
            "connect rep",
            &r,
            "disconnect rep",
            &r,
            "close rep",
            &r,
            "disabling event monitor",
            &r,
            "event monitor thread should now terminate",
            &r,
            "connect rep",
            "",
            "event monitor thread done!",
            &r,
            "disconnect rep",
            &r,
            "close rep",
            &r,
            "close req",
            "END",
        ],
        "{out:#?}"
    );

    let events: Vec<(String, u32, String)> = rest
        .iter()
        .filter(|l| l.starts_with("Event: "))
        .map(|l| parse_event(l).unwrap_or_else(|| panic!("not as pyzmq prints it: {l}")))
        .collect();
    // Per endpoint: bound, a peer accepted and its handshake, then gone.
    for endpoint in [&first, &second] {
        let seen: Vec<&str> = events
            .iter()
            .filter(|(_, _, at)| at == endpoint)
            .map(|(name, _, _)| name.as_str())
            .collect();
        assert_eq!(
            seen,
            [
                "LISTENING",
                "ACCEPTED",
                "HANDSHAKE_SUCCEEDED",
                "DISCONNECTED"
            ],
            "{endpoint}: {out:#?}"
        );
    }
    // The monitor's last word, after which nothing is reported.
    assert_eq!(
        events.last(),
        Some(&("MONITOR_STOPPED".to_string(), 0, String::new())),
        "{out:#?}"
    );
    assert_eq!(events.len(), 9, "{out:#?}");
    let stopped = rest
        .iter()
        .position(|l| l.contains("'description': 'EVENT_MONITOR_STOPPED'"))
        .expect("MONITOR_STOPPED");
    assert_eq!(rest[stopped + 1], "");
    assert_eq!(rest[stopped + 2], "event monitor thread done!");
}

/// zmq_monitor_class prints its header, then libzmq's connect attempts
/// while nothing listens, the connection and handshake once a publisher
/// binds, its disconnection when the publisher goes; on SIGTERM it stops,
/// and the monitor's last event, MONITOR_STOPPED, is printed before it
/// exits.
#[test]
fn zmq_monitor_class_prints_events_until_sigterm_then_monitor_stopped() {
    let endpoint = tcp();
    let mut proc = Proc::spawn("zmq_monitor_class", &["--connect", &endpoint]);
    assert_eq!(proc.line(STEP), version_line());
    assert_eq!(proc.line(STEP), "Event names:");
    for (name, value) in NAMES {
        assert_eq!(proc.line(STEP), format!("{name:21} : {value:4}"));
    }
    assert_eq!(proc.line(STEP), "");
    assert_eq!(proc.line(STEP), "");

    let event = |proc: &mut Proc, name: &str| -> (u32, String) {
        let line = proc.expect_containing(&format!("'description': 'EVENT_{name}'"), STEP);
        let (seen, value, at) =
            parse_event(&line).unwrap_or_else(|| panic!("not as pyzmq prints it: {line}"));
        assert_eq!(seen, name);
        (value, at)
    };
    // Nothing listens yet: libzmq tries, gives up the descriptor, retries.
    let (errno, at) = event(&mut proc, "CONNECT_DELAYED");
    assert_eq!(
        (errno, at.as_str()),
        (115, endpoint.as_str()),
        "EINPROGRESS"
    );
    event(&mut proc, "CONNECT_RETRIED");

    let context = zmq::Context::new();
    let publisher = context.socket(zmq::PUB).unwrap();
    publisher.set_linger(0).unwrap();
    publisher.bind(&endpoint).unwrap();
    let (fd, at) = event(&mut proc, "CONNECTED");
    assert_eq!(at, endpoint);
    assert_eq!(
        event(&mut proc, "HANDSHAKE_SUCCEEDED"),
        (0, endpoint.clone())
    );
    drop(publisher);
    assert_eq!(event(&mut proc, "DISCONNECTED"), (fd, endpoint.clone()));

    proc.signal("-TERM");
    let status = proc.wait(STEP);
    assert!(status.success(), "{status:?}\n{}", proc.diagnostics());
    let tail: Vec<&str> = proc
        .seen
        .iter()
        .rev()
        .take(3)
        .rev()
        .map(String::as_str)
        .collect();
    assert_eq!(
        tail,
        [
            "Event: {'event': <Event.MONITOR_STOPPED: 1024>, 'value': <Event: 0>, \
             'endpoint': b'', 'description': 'EVENT_MONITOR_STOPPED'}",
            "",
            "event monitor thread done!",
        ],
        "{:#?}",
        proc.seen
    );
}

/// A bad flag is a usage error (exit 2), never a panic.
#[test]
fn monitor_examples_refuse_bad_flags() {
    for (name, args) in [
        ("simple_monitor", &["--delay-ms", "soon"][..]),
        ("zmq_monitor_class", &["--bogus"][..]),
    ] {
        let mut proc = Proc::spawn(name, args);
        let status = proc.wait(STEP);
        assert_eq!(status.code(), Some(2), "{name}: {}", proc.diagnostics());
        assert!(
            !proc.stderr().iter().any(|l| l.contains("panicked")),
            "{name}: {}",
            proc.diagnostics()
        );
    }
}
