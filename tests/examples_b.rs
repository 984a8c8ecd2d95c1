//! The zguide ports of chapter 2 (second half) and chapter 3 run as real
//! processes, in the pairs and groups they belong to, each with a deadline,
//! and print what their Python originals print.
//!
//! Every test gives the examples their own endpoints (free TCP ports, or ipc
//! files in a fresh temporary directory), so the tests run in parallel with
//! each other and with other test binaries.

use std::time::{Duration, Instant};

use tx0mq_test_support::net::{free_port, tcp, TempDir};
use tx0mq_test_support::process::Proc;

/// How long any one step may take on a loaded machine.
const STEP: Duration = Duration::from_secs(60);

/// Waits for `proc` to exit successfully within `within` and returns all it printed.
fn finish(proc: &mut Proc, within: Duration) -> Vec<String> {
    proc.succeeds(within)
}

/// Runs an example to its end and returns what it printed.
fn run_to_end(name: &str, args: &[&str]) -> Vec<String> {
    let mut proc = Proc::spawn(name, args);
    finish(&mut proc, STEP)
}

/// Lines of `lines` that start with `prefix`.
fn starting_with<'a>(lines: &'a [String], prefix: &str) -> Vec<&'a str> {
    lines
        .iter()
        .filter(|l| l.starts_with(prefix))
        .map(String::as_str)
        .collect()
}

#[test]
fn mtserver_answers_hwclient_through_its_worker_threads() {
    let endpoint = tcp();
    let mut server = Proc::spawn("mtserver", &["--endpoint", &endpoint, "--work-ms", "20"]);
    let client = run_to_end("hwclient", &["--connect", &endpoint]);
    for n in 0..10 {
        let line = format!("Received reply {n} [ b'World' ]");
        assert!(client.contains(&line), "missing {line:?} in {client:#?}");
    }
    for _ in 0..10 {
        assert_eq!(server.line(STEP), "Received request: [ b'Hello' ]");
    }
}

#[test]
fn syncpub_waits_for_every_syncsub_then_each_gets_every_update() {
    let (publish, sync) = (tcp(), tcp());
    let mut publisher = Proc::spawn(
        "syncpub",
        &[
            "--subscribers",
            "3",
            "--updates",
            "100000",
            "--pub-endpoint",
            &publish,
            "--sync-endpoint",
            &sync,
        ],
    );
    let mut subscribers: Vec<Proc> = (0..3)
        .map(|_| {
            Proc::spawn(
                "syncsub",
                &["--sub-endpoint", &publish, "--sync-endpoint", &sync],
            )
        })
        .collect();
    for n in 1..=3 {
        assert_eq!(publisher.line(STEP), format!("+1 subscriber ({n}/3)"));
    }
    for subscriber in &mut subscribers {
        assert_eq!(finish(subscriber, STEP), ["Received 100000 updates"]);
    }
    finish(&mut publisher, STEP);
}

/// Reads `count` lines from `sub`, each the B message, and none other.
fn expect_only_b(sub: &mut Proc, count: usize) {
    for _ in 0..count {
        assert_eq!(sub.line(STEP), "[b'B'] b'We would like to see this'");
    }
    let seen = sub.drain();
    assert!(
        seen.iter()
            .all(|l| l == "[b'B'] b'We would like to see this'"),
        "psenvsub printed something other than the B message: {seen:#?}"
    );
}

#[test]
fn psenvsub_gets_only_the_b_envelopes_from_psenvpub() {
    let endpoint = tcp();
    let _publisher = Proc::spawn(
        "psenvpub",
        &["--endpoint", &endpoint, "--interval-ms", "50"],
    );
    let mut sub = Proc::spawn("psenvsub", &["--endpoint", &endpoint]);
    expect_only_b(&mut sub, 5);
}

#[test]
fn wuproxy_forwards_a_publisher_to_its_subscribers() {
    let (upstream, public) = (tcp(), tcp());
    let _publisher = Proc::spawn(
        "psenvpub",
        &["--endpoint", &upstream, "--interval-ms", "50"],
    );
    let _proxy = Proc::spawn("wuproxy", &["--frontend", &upstream, "--backend", &public]);
    let mut sub = Proc::spawn("psenvsub", &["--endpoint", &public]);
    expect_only_b(&mut sub, 5);
}

#[test]
fn identity_dumps_a_generated_identity_then_a_chosen_one() {
    let out = run_to_end("identity", &[]);
    let rule = "-".repeat(40);
    assert_eq!(out.len(), 8, "{out:#?}");
    assert_eq!(out[0], rule);
    assert!(
        out[1].starts_with("[005] "),
        "a 5-byte generated identity: {out:#?}"
    );
    assert_eq!(
        out[2..],
        [
            "[000] ",
            "[039] ROUTER uses a generated 5 byte identity",
            rule.as_str(),
            "[005] PEER2",
            "[000] ",
            "[040] ROUTER socket uses REQ's socket identity",
        ]
    );
}

#[test]
fn rtreq_hands_out_a_hundred_tasks_to_ten_workers() {
    let port = free_port();
    let (bind, connect) = (
        format!("tcp://127.0.0.1:{port}"),
        format!("tcp://127.0.0.1:{port}"),
    );
    let out = run_to_end("rtreq", &["--bind", &bind, "--connect", &connect]);
    let reports = starting_with(&out, "Processed: ");
    assert_eq!(reports.len(), 10, "one report per worker: {out:#?}");
    let total: u32 = reports
        .iter()
        .map(|l| {
            l.trim_start_matches("Processed: ")
                .trim_end_matches(" tasks")
                .parse::<u32>()
                .unwrap()
        })
        .sum();
    assert_eq!(total, 100, "{out:#?}");
}

#[test]
fn rtdealer_routes_ten_tasks_to_a_and_b_by_identity() {
    let dir = TempDir::new("rtdealer");
    let out = run_to_end("rtdealer", &["--endpoint", &dir.ipc("routing.ipc")]);
    let count = |who: &str| -> u32 {
        let lines = starting_with(&out, &format!("{who} received: "));
        assert_eq!(lines.len(), 1, "one report from {who}: {out:#?}");
        lines[0].rsplit(' ').next().unwrap().parse().unwrap()
    };
    assert_eq!(count("A") + count("B"), 10, "{out:#?}");
}

#[test]
fn lbbroker_answers_every_client_through_its_workers() {
    let dir = TempDir::new("lbbroker");
    let out = run_to_end(
        "lbbroker",
        &[
            "--frontend",
            &dir.ipc("frontend.ipc"),
            "--backend",
            &dir.ipc("backend.ipc"),
        ],
    );
    for n in 0..10 {
        let line = format!("Client-{n}: OK");
        assert_eq!(
            out.iter().filter(|l| **l == line).count(),
            1,
            "{line:?} once: {out:#?}"
        );
    }
    let handled = starting_with(&out, "Worker-");
    assert_eq!(handled.len(), 10, "a worker line per request: {out:#?}");
    for line in handled {
        assert!(
            ["Worker-0: HELLO", "Worker-1: HELLO", "Worker-2: HELLO"].contains(&line),
            "unexpected {line:?}"
        );
    }
    assert_eq!(out.len(), 20, "nothing else: {out:#?}");
}

#[test]
fn lbbroker_with_more_workers_than_clients_and_one_worker() {
    // The frontend is paused and resumed as workers come and go.
    let dir = TempDir::new("lbbroker-shapes");
    for (clients, workers) in [("2", "5"), ("6", "1")] {
        let out = run_to_end(
            "lbbroker",
            &[
                "--clients",
                clients,
                "--workers",
                workers,
                "--frontend",
                &dir.ipc("frontend.ipc"),
                "--backend",
                &dir.ipc("backend.ipc"),
            ],
        );
        let clients: usize = clients.parse().unwrap();
        assert_eq!(starting_with(&out, "Client-").len(), clients, "{out:#?}");
        assert_eq!(starting_with(&out, "Worker-").len(), clients, "{out:#?}");
    }
}

#[test]
fn mtrelay_passes_the_signal_through_three_steps() {
    assert_eq!(run_to_end("mtrelay", &[]), ["Test successful!"]);
}

#[test]
fn asyncsrv_clients_get_replies_from_the_worker_threads() {
    let port = free_port();
    let (bind, connect) = (
        format!("tcp://127.0.0.1:{port}"),
        format!("tcp://127.0.0.1:{port}"),
    );
    let started = Instant::now();
    let out = run_to_end(
        "asyncsrv",
        &[
            "--duration-ms",
            "3000",
            "--clients",
            "10",
            "--bind",
            &bind,
            "--connect",
            &connect,
        ],
    );
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "stopped early: {out:#?}"
    );
    assert_eq!(starting_with(&out, "Worker started").len(), 5, "{out:#?}");
    for n in 0..10 {
        assert!(
            out.contains(&format!("Client worker-{n} started")),
            "{out:#?}"
        );
    }
    assert!(starting_with(&out, "Req #1 sent..").len() == 10, "{out:#?}");
    let replies = starting_with(&out, "Client worker-");
    let replies: Vec<&str> = replies
        .into_iter()
        .filter(|l| l.contains(" received: "))
        .collect();
    assert!(!replies.is_empty(), "no client got a reply: {out:#?}");
    for reply in replies {
        // "Client worker-3 received: b'request #1'" was answered by a worker
        // that printed "Worker received b'request #1' from b'worker-3'".
        let rest = reply.trim_start_matches("Client ");
        let (client, request) = rest.split_once(" received: ").unwrap();
        let worker_line = format!("Worker received {request} from b'{client}'");
        assert!(
            out.contains(&worker_line),
            "{reply:?} but no {worker_line:?}: {out:#?}"
        );
    }
}

#[test]
fn interrupt_stops_cleanly_on_sigint_with_the_original_message() {
    let endpoint = tcp();
    let mut server = Proc::spawn("interrupt", &["--endpoint", &endpoint, "--print-ready"]);
    server.expect_containing("I: waiting for a request on", STEP);
    server.signal("-INT");
    assert_eq!(server.line(STEP), "W: interrupt received, stopping...");
    let status = server.wait(STEP);
    assert!(status.success(), "interrupt exited with {status:?}");
}

#[test]
fn peering1_brokers_hear_each_others_state() {
    let dir = TempDir::new("peering1");
    let (a, b) = (dir.path("DC1"), dir.path("DC2"));
    let mut peers = [
        Proc::spawn("peering1", &[&a, &b]),
        Proc::spawn("peering1", &[&b, &a]),
    ];
    assert_eq!(peers[0].line(STEP), format!("Hello, I am {a}"));
    assert_eq!(peers[1].line(STEP), format!("Hello, I am {b}"));
    // Whichever publishes first may keep the other quiet (a peer publishes only
    // after a second of silence, as in the original), so one heard line will do.
    let heard = |me: &str, other: &str, line: &str| {
        line.strip_prefix(&format!("{me} Received: [b'ipc://{other}-state.ipc', b'"))
            .and_then(|rest| rest.strip_suffix("']"))
            .is_some_and(|n| matches!(n.parse::<u32>(), Ok(1..=9)))
    };
    let deadline = Instant::now() + STEP;
    loop {
        let a_heard = peers[0].drain().iter().any(|l| heard(&a, &b, l));
        let b_heard = peers[1].drain().iter().any(|l| heard(&b, &a, l));
        if a_heard || b_heard {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "neither peer heard the other: {:#?} {:#?}",
            peers[0].seen,
            peers[1].seen
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    for peer in &mut peers {
        for line in peer.drain().iter().skip(1) {
            assert!(
                heard(&a, &b, line) || heard(&b, &a, line),
                "unexpected {line:?}"
            );
        }
    }
}

#[test]
fn peering1_without_arguments_prints_the_usage() {
    let mut proc = Proc::spawn("peering1", &[]);
    let status = proc.wait(STEP);
    assert_eq!(status.code(), Some(1));
    assert_eq!(
        proc.seen,
        ["Usage: peering1 <myself> <peer_1> ... <peer_N>"]
    );
}

#[test]
fn bad_arguments_are_refused_without_a_panic() {
    for (name, args) in [
        ("interrupt", &["--bogus"][..]),
        ("mtserver", &["--work-ms", "soon"]),
        ("mtrelay", &["extra"]),
        ("syncpub", &["--subscribers"]),
        ("syncsub", &["--delay-ms", "-1"]),
        ("psenvpub", &["--interval-ms", "x"]),
        ("psenvsub", &["--endpoint"]),
        ("wuproxy", &["--frontend"]),
        ("identity", &["extra"]),
        ("rtreq", &["--workers", "many"]),
        ("rtdealer", &["--delay-ms"]),
        ("lbbroker", &["--clients", "-3"]),
        ("asyncsrv", &["--duration-ms", "-1"]),
    ] {
        let mut proc = Proc::spawn(name, args);
        let status = proc.wait(STEP);
        assert_eq!(status.code(), Some(2), "{name} {args:?}: {status:?}");
    }
    // A bad endpoint is an error message and exit 1, not a panic.
    let mut proc = Proc::spawn("psenvpub", &["--endpoint", "nonsense://here"]);
    assert_eq!(proc.wait(STEP).code(), Some(1));
}
