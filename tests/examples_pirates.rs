//! The zguide's chapter 4 Pirates (Lazy, Simple and Paranoid) and the rest
//! of chapter 3, run as real processes in the groups they belong to, each
//! wait with a deadline, checking what they print.
//!
//! The simulated crashes and overloads are random, as in the originals; the
//! tests give each server or worker a `--seed`, so each run misbehaves at
//! the same request (the seeds' effects are noted where they are used), and
//! shorten the simulated work with `--work-ms`. The heartbeats keep the
//! originals' timings (one second, three missed and a peer is dead).
//!
//! Every test has its own endpoints (free TCP ports, ipc files in a fresh
//! temporary directory), so the tests run in parallel. The interop tests at
//! the end put the Python Paranoid Pirate peers of `tests/peers/pirates.py`
//! on either side of the ports, in the interop environment
//! `scripts/interop-env` makes (see `docs/INTEROP.md`).

use std::time::{Duration, Instant};

use tx0mq_test_support::net::{tcp, TempDir};
use tx0mq_test_support::process::{example, examples_are_fresh, Proc};
use tx0mq_test_support::python_or_skip;

/// How long any one expected line or exit may take, on a loaded machine.
const STEP: Duration = Duration::from_secs(60);

/// The examples these tests run.
const EXAMPLES: [&str; 11] = [
    "lpclient",
    "lpserver",
    "spqueue",
    "spworker",
    "ppqueue",
    "ppworker",
    "lbbroker2",
    "lbbroker3",
    "peering2",
    "peering3",
    "lpclient_async",
];

/// Fails unless the examples are newer than their sources (the shared
/// modules `examples/pyport/` and `examples/pirates/` included).
fn fresh() {
    examples_are_fresh("examples_pirates", &EXAMPLES);
}

/// Starts example `name`, after checking that the examples are fresh.
fn spawn(name: &str, args: &[&str]) -> Proc {
    fresh();
    Proc::spawn(name, args)
}

/// Waits for `proc` to exit successfully and returns all it printed.
fn finish(proc: &mut Proc) -> Vec<String> {
    proc.succeeds(STEP)
}

/// A Lazy Pirate client on `endpoint` asking for `requests` replies, with
/// the original's three tries and a timeout long enough for a loaded machine.
fn lpclient(endpoint: &str, requests: u32) -> Proc {
    let requests = requests.to_string();
    spawn(
        "lpclient",
        &[
            "--endpoint",
            endpoint,
            "--timeout-ms",
            "1500",
            "--requests",
            &requests,
        ],
    )
}

/// The lines a Lazy Pirate client prints for requests `range` answered at
/// the first try.
fn answered(range: std::ops::Range<u32>) -> Vec<String> {
    range
        .flat_map(|n| {
            [
                format!("INFO: Sending (b'{n}')"),
                format!("INFO: Server replied OK (b'{n}')"),
            ]
        })
        .collect()
}

/// Asserts `lines` has every line of `wanted`, in that order (others may
/// come between).
fn in_order(lines: &[String], wanted: &[&str]) {
    let mut rest = lines.iter();
    for line in wanted {
        assert!(
            rest.any(|l| l == line),
            "{line:?} missing or out of order in {lines:#?}"
        );
    }
}

// --- Lazy Pirate ----------------------------------------------------------

#[test]
fn lpclient_gives_up_after_three_tries_when_lpserver_crashes() {
    let endpoint = tcp();
    // Seed 2: the server answers requests 0 to 4 and crashes on request 5.
    let mut server = spawn(
        "lpserver",
        &["--bind", &endpoint, "--seed", "2", "--work-ms", "20"],
    );
    let mut client = spawn(
        "lpclient",
        &["--endpoint", &endpoint, "--timeout-ms", "1500"],
    );
    let mut expected = vec!["INFO: Connecting to server…".to_string()];
    expected.extend(answered(0..5));
    expected.push("INFO: Sending (b'5')".into());
    for _ in 0..2 {
        expected.push("WARNING: No response from server".into());
        expected.push("INFO: Reconnecting to server…".into());
        expected.push("INFO: Resending (b'5')".into());
    }
    expected.push("WARNING: No response from server".into());
    expected.push("ERROR: Server seems to be offline, abandoning".into());
    assert_eq!(finish(&mut client), expected);

    let mut served: Vec<String> = (0..5)
        .map(|n| format!("INFO: Normal request (b'{n}')"))
        .collect();
    served.push("INFO: Simulating a crash".into());
    assert_eq!(finish(&mut server), served);
}

#[test]
fn lpclient_resends_to_a_restarted_lpserver_and_carries_on() {
    let endpoint = tcp();
    // Seed 4: the server answers requests 0 to 3 and crashes on request 4.
    let mut crashing = spawn(
        "lpserver",
        &["--bind", &endpoint, "--seed", "4", "--work-ms", "20"],
    );
    let mut client = lpclient(&endpoint, 7);
    crashing.expect_line("INFO: Simulating a crash", STEP);
    assert!(crashing.wait(STEP).success());
    // Seed 2 answers five requests before it crashes: 4, 5 and 6 here.
    let mut server = spawn(
        "lpserver",
        &["--bind", &endpoint, "--seed", "2", "--work-ms", "20"],
    );
    let out = finish(&mut client);
    in_order(
        &out,
        &[
            "INFO: Server replied OK (b'3')",
            "INFO: Sending (b'4')",
            "WARNING: No response from server",
            "INFO: Reconnecting to server…",
            "INFO: Resending (b'4')",
            "INFO: Server replied OK (b'4')",
            "INFO: Server replied OK (b'5')",
            "INFO: Server replied OK (b'6')",
        ],
    );
    assert!(!out.iter().any(|l| l.starts_with("ERROR")), "{out:#?}");
    server.expect_line("INFO: Normal request (b'6')", STEP);
}

#[test]
fn lpclient_resends_when_lpserver_is_overloaded() {
    let endpoint = tcp();
    // Seed 1: request 4 overloads the server (2 s, longer than the client's
    // 1.5 s timeout); the resent request is answered.
    let mut server = spawn(
        "lpserver",
        &["--bind", &endpoint, "--seed", "1", "--work-ms", "20"],
    );
    let mut client = lpclient(&endpoint, 5);
    let out = finish(&mut client);
    let mut expected = vec!["INFO: Connecting to server…".to_string()];
    expected.extend(answered(0..4));
    expected.extend([
        "INFO: Sending (b'4')".to_string(),
        "WARNING: No response from server".into(),
        "INFO: Reconnecting to server…".into(),
        "INFO: Resending (b'4')".into(),
        "INFO: Server replied OK (b'4')".into(),
    ]);
    assert_eq!(out, expected);
    server.expect_line("INFO: Simulating CPU overload", STEP);
    // The overloaded request is answered too (to the closed socket), then
    // the resent one.
    server.expect_times("INFO: Normal request (b'4')", 2, STEP);
}

#[test]
fn lpclient_async_and_lpclient_talk_to_the_same_lpserver() {
    let endpoint = tcp();
    let _server = spawn(
        "lpserver",
        &["--bind", &endpoint, "--seed", "3", "--work-ms", "20"],
    );
    // Seed 3 answers eight requests: three for each client, in turn.
    let mut expected = vec!["INFO: Connecting to server…".to_string()];
    expected.extend(answered(0..3));
    for name in ["lpclient", "lpclient_async"] {
        let mut client = spawn(
            name,
            &[
                "--endpoint",
                &endpoint,
                "--timeout-ms",
                "1500",
                "--requests",
                "3",
            ],
        );
        assert_eq!(finish(&mut client), expected, "{name}");
    }
}

// --- Simple Pirate --------------------------------------------------------

/// The identity in `I: (1A2B-3C4D) worker ready`.
fn sp_identity(line: &str) -> String {
    let identity = line
        .strip_prefix("I: (")
        .and_then(|rest| rest.strip_suffix(") worker ready"))
        .unwrap_or_else(|| panic!("not a ready line: {line:?}"));
    assert!(
        identity.split('-').all(|half| (4..=5).contains(&half.len())
            && half
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase())),
        "{identity:?} is not %04X-%04X"
    );
    identity.to_string()
}

#[test]
fn spqueue_serves_lpclient_through_spworker() {
    let (frontend, backend) = (tcp(), tcp());
    let _queue = spawn("spqueue", &["--frontend", &frontend, "--backend", &backend]);
    // Seed 1: the worker answers ten requests before it crashes.
    let mut worker = spawn(
        "spworker",
        &["--connect", &backend, "--seed", "1", "--work-ms", "20"],
    );
    let identity = sp_identity(&worker.line(STEP));
    let mut client = lpclient(&frontend, 5);
    let mut expected = vec!["INFO: Connecting to server…".to_string()];
    expected.extend(answered(0..5));
    assert_eq!(finish(&mut client), expected);
    worker.expect_times(&format!("I: ({identity}) normal reply"), 5, STEP);
}

#[test]
fn spqueue_client_retries_onto_another_worker_after_a_crash() {
    let (frontend, backend) = (tcp(), tcp());
    let _queue = spawn("spqueue", &["--frontend", &frontend, "--backend", &backend]);
    // Seed 2: the worker crashes on its first request.
    let mut doomed = spawn(
        "spworker",
        &["--connect", &backend, "--seed", "2", "--work-ms", "20"],
    );
    let doomed_id = sp_identity(&doomed.line(STEP));
    let mut client = lpclient(&frontend, 3);
    doomed.expect_line(&format!("I: ({doomed_id}) simulating a crash"), STEP);
    assert!(doomed.wait(STEP).success());
    let mut worker = spawn(
        "spworker",
        &["--connect", &backend, "--seed", "1", "--work-ms", "20"],
    );
    let identity = sp_identity(&worker.line(STEP));
    let out = finish(&mut client);
    in_order(
        &out,
        &[
            "INFO: Sending (b'0')",
            "WARNING: No response from server",
            "INFO: Resending (b'0')",
            "INFO: Server replied OK (b'0')",
            "INFO: Server replied OK (b'1')",
            "INFO: Server replied OK (b'2')",
        ],
    );
    worker.expect_times(&format!("I: ({identity}) normal reply"), 3, STEP);
}

// --- Paranoid Pirate ------------------------------------------------------

/// Starts a ppqueue on `frontend` and `backend`.
fn ppqueue(frontend: &str, backend: &str) -> Proc {
    spawn("ppqueue", &["--frontend", frontend, "--backend", backend])
}

/// Starts a ppworker on `backend` with `seed` (any seed answers its first
/// three requests: trouble starts at the fourth).
fn ppworker(backend: &str, seed: &str) -> Proc {
    spawn(
        "ppworker",
        &["--connect", backend, "--seed", seed, "--work-ms", "20"],
    )
}

/// Runs a Lazy Pirate client for `requests` replies on `frontend`, and
/// checks each came at the first try.
fn served_at_once(frontend: &str, requests: u32) {
    let mut client = lpclient(frontend, requests);
    let mut expected = vec!["INFO: Connecting to server…".to_string()];
    expected.extend(answered(0..requests));
    assert_eq!(finish(&mut client), expected);
}

/// Waits for the queue's `W: Idle worker expired: b'....'` and returns how
/// long it took from `since`.
fn expiry_after(queue: &mut Proc, since: Instant) -> Duration {
    let line = queue.expect_containing("W: Idle worker expired: b'", STEP);
    let took = since.elapsed();
    assert!(line.starts_with("W: Idle worker expired: b'"), "{line:?}");
    took
}

#[test]
fn ppqueue_expires_a_killed_ppworker_by_heartbeat_and_serves_a_new_one() {
    let (frontend, backend) = (tcp(), tcp());
    let mut queue = ppqueue(&frontend, &backend);
    let mut worker = ppworker(&backend, "1");
    served_at_once(&frontend, 3);
    worker.expect_times("I: Normal reply", 3, STEP);
    worker.expect_line("I: Queue heartbeat", STEP);

    // Killed: no more heartbeats. The queue gives up on it once three
    // heartbeat intervals pass without one (checked once an interval), so
    // between two and four seconds after the worker's last word.
    worker.kill();
    let killed = Instant::now();
    let took = expiry_after(&mut queue, killed);
    assert!(
        took >= Duration::from_millis(1500),
        "expired {took:?} after the kill: too early for a liveness of 3 s"
    );
    assert!(
        took <= Duration::from_secs(10),
        "expired {took:?} after the kill: far beyond the liveness of 3 s"
    );

    // A new worker is served.
    let mut worker = ppworker(&backend, "3");
    worker.expect_line("I: Queue heartbeat", STEP);
    served_at_once(&frontend, 2);
    worker.expect_times("I: Normal reply", 2, STEP);
}

#[test]
fn ppworker_backs_off_and_reconnects_to_a_restarted_ppqueue() {
    let (frontend, backend) = (tcp(), tcp());
    let mut queue = ppqueue(&frontend, &backend);
    let mut worker = ppworker(&backend, "1");
    worker.expect_line("I: Queue heartbeat", STEP);
    queue.kill();

    // Three silent polls, a one-second wait, a new socket; three more, then
    // a two-second wait.
    worker.expect_line("W: Heartbeat failure, can't reach queue", STEP);
    worker.expect_line("W: Reconnecting in 1.00s...", STEP);
    worker.expect_line("W: Heartbeat failure, can't reach queue", STEP);
    worker.expect_line("W: Reconnecting in 2.00s...", STEP);

    let _queue = ppqueue(&frontend, &backend);
    worker.expect_line("I: Queue heartbeat", STEP);
    // The socket the worker is about to drop may reach the new queue during
    // the wait (libzmq reconnects it, as in the original), leaving a ghost
    // worker there until it expires: a request may need a second try.
    let out = finish(&mut lpclient(&frontend, 2));
    in_order(
        &out,
        &[
            "INFO: Server replied OK (b'0')",
            "INFO: Server replied OK (b'1')",
        ],
    );
    worker.expect_times("I: Normal reply", 2, STEP);
}

#[test]
fn ppworker_crashes_at_random_and_ppqueue_moves_on() {
    let (frontend, backend) = (tcp(), tcp());
    let _queue = ppqueue(&frontend, &backend);
    // Seed 5: the fourth request crashes the worker.
    let mut doomed = ppworker(&backend, "5");
    doomed.expect_line("I: Worker heartbeat", STEP);
    served_at_once(&frontend, 3);
    let mut client = lpclient(&frontend, 2);
    doomed.expect_line("I: Simulating a crash", STEP);
    assert!(doomed.wait(STEP).success());
    let _worker = ppworker(&backend, "1");
    let out = finish(&mut client);
    in_order(
        &out,
        &[
            "INFO: Sending (b'0')",
            "WARNING: No response from server",
            "INFO: Resending (b'0')",
            "INFO: Server replied OK (b'0')",
            "INFO: Server replied OK (b'1')",
        ],
    );
}

// --- Chapter 3: lbbroker2, lbbroker3, peering2, peering3 -----------------

/// Checks a load-balancing broker's output: one `Client-N: OK` per client,
/// one `Worker-N: HELLO` per request, nothing else.
fn load_balanced(out: &[String], clients: usize, workers: usize) {
    for n in 0..clients {
        let line = format!("Client-{n}: OK");
        assert_eq!(
            out.iter().filter(|l| **l == line).count(),
            1,
            "{line:?} once: {out:#?}"
        );
    }
    let handled: Vec<&String> = out.iter().filter(|l| l.starts_with("Worker-")).collect();
    assert_eq!(
        handled.len(),
        clients,
        "a worker line per request: {out:#?}"
    );
    for line in handled {
        let n: usize = line
            .strip_prefix("Worker-")
            .and_then(|rest| rest.strip_suffix(": HELLO"))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("unexpected {line:?}"));
        assert!(n < workers, "no Worker-{n}: {out:#?}");
    }
    assert_eq!(out.len(), 2 * clients, "nothing else: {out:#?}");
}

#[test]
fn lbbroker2_serves_its_inproc_clients_and_exits_a_second_later() {
    let started = Instant::now();
    let out = finish(&mut spawn("lbbroker2", &[]));
    load_balanced(&out, 10, 3);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "the original waits a second before it closes"
    );
    // Other shapes: the frontend is paused and resumed as workers come and go.
    let out = finish(&mut spawn(
        "lbbroker2",
        &["--clients", "6", "--workers", "1"],
    ));
    load_balanced(&out, 6, 1);
    let out = finish(&mut spawn(
        "lbbroker2",
        &["--clients", "2", "--workers", "5"],
    ));
    load_balanced(&out, 2, 5);
}

#[test]
fn lbbroker3_serves_its_clients_through_its_two_protocols() {
    let dir = TempDir::new("lbbroker3");
    let (frontend, backend) = (dir.ipc("frontend.ipc"), dir.ipc("backend.ipc"));
    let endpoints = [
        "--frontend",
        frontend.as_str(),
        "--backend",
        backend.as_str(),
    ];
    let out = finish(&mut spawn("lbbroker3", &endpoints));
    load_balanced(&out, 10, 3);
    let mut args = endpoints.to_vec();
    args.extend(["--clients", "5", "--workers", "1"]);
    let out = finish(&mut spawn("lbbroker3", &args));
    load_balanced(&out, 5, 1);
}

/// Starts peering example `name` in `dir` (its ipc files go there).
fn broker_in(dir: &TempDir, name: &str, args: &[&str]) -> Proc {
    fresh();
    let mut command = std::process::Command::new(example(name));
    command.args(args).current_dir(dir.dir());
    Proc::start(
        format!("{name} {}", args.first().copied().unwrap_or("")),
        command,
    )
}

#[test]
fn peering2_brokers_serve_their_clients_and_each_others() {
    let dir = TempDir::new("peering2");
    let mut brokers = [
        broker_in(&dir, "peering2", &["DC1", "DC2", "--seed", "1"]),
        broker_in(&dir, "peering2", &["DC2", "DC1", "--seed", "2"]),
    ];
    for (broker, (me, peer)) in brokers.iter_mut().zip([("DC1", "DC2"), ("DC2", "DC1")]) {
        broker.expect_line(&format!("I: preparing broker at {me}..."), STEP);
        broker.expect_line(&format!("I: connecting to cloud frontend at {peer}"), STEP);
        broker.expect_line("Press Enter when all brokers are started: ", STEP);
    }
    for broker in &mut brokers {
        broker.write_stdin("\n");
    }
    // Local clients get their replies; and one time in five a request goes
    // to the peer, whose worker shows the peer's name first.
    for (broker, peer) in brokers.iter_mut().zip(["DC2", "DC1"]) {
        broker.expect_matching("a client's reply", STEP, |l| {
            l.starts_with("Client-") && l.ends_with(": b'OK'")
        });
        let from_peer = format!(": [b'{peer}', b'', b'Client-{peer}-");
        broker.expect_containing(&from_peer, STEP);
    }
    for broker in &mut brokers {
        for line in broker.drain() {
            assert!(
                line.is_empty()
                    || line.starts_with("I: ")
                    || line.starts_with("Press Enter")
                    || (line.starts_with("Client-") && line.ends_with(": b'OK'"))
                    || (line.starts_with("Worker-") && line.ends_with("b'HELLO']")),
                "unexpected {line:?}"
            );
        }
    }
}

#[test]
fn peering2_stopped_by_sigint_before_enter_exits_cleanly() {
    // SIGINT stops the reactor cleanly, and its shutdown closes standard
    // I/O: the prompt must not take that for stdin closing.
    let dir = TempDir::new("peering2-int");
    let mut broker = broker_in(&dir, "peering2", &["DC1", "DC2", "--seed", "1"]);
    broker.expect_line("Press Enter when all brokers are started: ", STEP);
    broker.signal("-INT");
    let status = broker.wait(STEP);
    assert!(
        status.success(),
        "peering2 exited with {status:?}: {}",
        broker.diagnostics()
    );
    let stderr = broker.stderr();
    assert!(
        stderr.iter().all(|line| !line.contains("stdin closed")),
        "{stderr:?}"
    );
}

#[test]
fn peering2_and_peering3_without_arguments_print_the_usage() {
    for (name, usage) in [
        ("peering2", "Usage: peering2 <me> [<peer_1> [... <peer_N>]]"),
        ("peering3", "Usage: peering3 <me> [<peer_1> [... <peer_N>]]"),
    ] {
        let mut proc = spawn(name, &[]);
        assert_eq!(proc.wait(STEP).code(), Some(1), "{name}");
        assert_eq!(proc.seen, [usage], "{name}");
    }
}

/// Whether `line` is a task id a peering3 client got back (`%04X`).
fn task_id(line: &str) -> bool {
    line.len() == 4
        && line
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase())
}

#[test]
fn peering3_routes_to_the_peer_that_says_it_has_capacity() {
    let dir = TempDir::new("peering3");
    // DC1 has no workers: its clients are served by DC2, which it hears has
    // capacity; DC2 serves its own clients too.
    let mut dc1 = broker_in(
        &dir,
        "peering3",
        &["DC1", "DC2", "--workers", "0", "--seed", "1"],
    );
    let mut dc2 = broker_in(&dir, "peering3", &["DC2", "DC1", "--seed", "2"]);
    for (broker, (me, peer)) in [(&mut dc1, ("DC1", "DC2")), (&mut dc2, ("DC2", "DC1"))] {
        broker.expect_line(&format!("I: preparing broker at {me}..."), STEP);
        broker.expect_line(&format!("I: connecting to cloud frontend at {peer}"), STEP);
        broker.expect_line(&format!("I: connecting to state backend at {peer}"), STEP);
    }
    for broker in [&mut dc2, &mut dc1] {
        for _ in 0..3 {
            broker.expect_matching("a task id", STEP, task_id);
        }
    }
    // DC2 never hears of capacity at DC1 (it has none), so it loses nothing.
    for line in dc2.drain() {
        assert!(
            task_id(line) || line.starts_with("I: "),
            "unexpected {line:?} in DC2's output"
        );
    }
    for line in dc1.drain() {
        assert!(
            task_id(line)
                || line.starts_with("I: ")
                || line.starts_with("E: CLIENT EXIT - lost task "),
            "unexpected {line:?} in DC1's output"
        );
    }
}

#[test]
fn bad_arguments_are_refused_without_a_panic() {
    for (name, args) in [
        ("lpclient", &["--timeout-ms", "soon"][..]),
        ("lpclient", &["--retries", "0"]),
        ("lpserver", &["--seed", "-1"]),
        ("spqueue", &["--frontend"]),
        ("spworker", &["--work-ms", "-5"]),
        ("ppqueue", &["extra"]),
        ("ppworker", &["--overload-ms", "x"]),
        ("lbbroker2", &["--clients", "many"]),
        ("lbbroker3", &["--workers", "-1"]),
        ("peering2", &["--seed", "x"]),
        ("peering3", &["--clients"]),
    ] {
        let mut proc = spawn(name, args);
        let status = proc.wait(STEP);
        assert_eq!(status.code(), Some(2), "{name} {args:?}: {status:?}");
    }
    // A bad endpoint is an error message and exit 1, not a panic.
    for name in ["lpserver", "spqueue", "ppqueue"] {
        let flag = if name == "lpserver" {
            "--bind"
        } else {
            "--frontend"
        };
        let mut proc = spawn(name, &[flag, "nonsense://here"]);
        assert_eq!(proc.wait(STEP).code(), Some(1), "{name}");
    }
}

// --- Interop: the Python Paranoid Pirate peers --------------------------------

#[test]
fn interop_ppworker_behind_a_python_ppqueue() {
    let python = python_or_skip!("interop_ppworker_behind_a_python_ppqueue");
    let (frontend, backend) = (tcp(), tcp());
    let mut queue = python.run_peer(
        "pirates.py",
        &["ppqueue", "--frontend", &frontend, "--backend", &backend],
    );
    let mut worker = ppworker(&backend, "1");
    worker.expect_line("I: Queue heartbeat", STEP);
    served_at_once(&frontend, 3);
    worker.expect_times("I: Normal reply", 3, STEP);
    worker.kill();
    let took = expiry_after(&mut queue, Instant::now());
    assert!(took <= Duration::from_secs(10), "expired after {took:?}");
}

#[test]
fn interop_python_ppworker_behind_ppqueue() {
    let python = python_or_skip!("interop_python_ppworker_behind_ppqueue");
    let (frontend, backend) = (tcp(), tcp());
    let mut queue = ppqueue(&frontend, &backend);
    let mut worker = python.run_peer(
        "pirates.py",
        &[
            "ppworker",
            "--connect",
            &backend,
            "--seed",
            "1",
            "--work-ms",
            "20",
        ],
    );
    worker.expect_line("I: Queue heartbeat", STEP);
    served_at_once(&frontend, 3);
    worker.expect_times("I: Normal reply", 3, STEP);
    worker.kill();
    let took = expiry_after(&mut queue, Instant::now());
    assert!(took <= Duration::from_secs(10), "expired after {took:?}");
}
