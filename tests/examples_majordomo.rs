//! The zguide's chapter 4 Majordomo family and Titanic (part G of
//! docs/EXAMPLES.md) run as real processes, each wait with a deadline: the
//! broker with workers dying under a client, the MMI lookup, the
//! asynchronous client, the round-trip timer, Titanic surviving a crash
//! between a request and its reply and reporting bad files clearly, and,
//! in the interop environment, the ports against Python Majordomo peers
//! (tests/peers/majordomo.py) both ways round.
//!
//! Every test gets its own `ipc://` endpoints and store directory in a
//! fresh temporary directory, so the tests run in parallel.

use std::fs;
use std::path::Path;
use std::time::Duration;

use tx0mq_test_support::net::TempDir;
use tx0mq_test_support::process::{examples_are_fresh, Proc};
use tx0mq_test_support::python_or_skip;

/// How long any one step may take on a loaded machine.
const STEP: Duration = Duration::from_secs(60);

/// The examples these tests run.
const EXAMPLES: [&str; 8] = [
    "mdbroker",
    "mdclient",
    "mdworker",
    "mdclient2",
    "mmiecho",
    "tripping",
    "titanic",
    "ticlient",
];

/// A fresh directory for `test`'s endpoints and files, once the examples
/// are known to be newer than their sources (the shared Majordomo module,
/// `examples/mdp/`, included).
fn scratch(test: &str) -> TempDir {
    examples_are_fresh("examples_majordomo", &EXAMPLES);
    TempDir::new(test)
}

/// Waits for `proc` to exit successfully and returns all it printed.
fn finish(proc: &mut Proc) -> Vec<String> {
    proc.succeeds(STEP)
}

/// Starts the broker on `endpoint` and waits until it says it is active.
fn broker(endpoint: &str) -> Proc {
    let mut broker = Proc::spawn("mdbroker", &["--bind", endpoint]);
    broker.expect_containing(
        &format!("I: MDP broker/0.1.1 is active at {endpoint}"),
        STEP,
    );
    broker
}

/// Sends one echo request through the broker, which proves an echo worker
/// is registered.
fn echo_once(endpoint: &str) {
    let mut client = Proc::spawn("mdclient", &["--broker", endpoint, "--requests", "1"]);
    let out = finish(&mut client);
    assert_eq!(
        out.last().map(String::as_str),
        Some("1 requests/replies processed"),
        "{out:#?}"
    );
}

#[test]
fn every_request_is_answered_exactly_once_when_a_worker_is_killed_mid_stream() {
    let dir = scratch("md-kill");
    let endpoint = dir.ipc("broker");
    let _broker = broker(&endpoint);
    let mut doomed = Proc::spawn("mdworker", &["-v", "--broker", &endpoint]);
    let _survivor = Proc::spawn("mdworker", &["--broker", &endpoint]);
    echo_once(&endpoint);
    // Numbered requests, each reply checked against its own request: a lost
    // request would stop the count short, a duplicate or stray reply would
    // be a mismatch (exit 1).
    let mut client = Proc::spawn(
        "mdclient",
        &[
            "--broker",
            &endpoint,
            "--requests",
            "3000",
            "--numbered",
            "--timeout-ms",
            "500",
        ],
    );
    doomed.expect_containing("Hello world 20", STEP);
    let early = client.wait_timeout(Duration::ZERO);
    assert!(
        early.is_none(),
        "the client was done before the kill: {early:?}"
    );
    doomed.kill();
    let out = finish(&mut client);
    assert_eq!(
        out.last().map(String::as_str),
        Some("3000 requests/replies processed"),
        "{out:#?}"
    );
}

#[test]
fn a_worker_registers_again_with_a_restarted_broker() {
    let dir = scratch("md-restart");
    let endpoint = dir.ipc("broker");
    let mut first = broker(&endpoint);
    let mut worker = Proc::spawn("mdworker", &["-v", "--broker", &endpoint]);
    echo_once(&endpoint);
    first.kill();
    // The new broker does not know the worker: its next heartbeat is
    // answered DISCONNECT, and the worker starts a new session (READY).
    let _second = broker(&endpoint);
    worker.expect_containing("I: sending HEARTBEAT to broker", STEP);
    worker.expect_line("[001] 0x05", STEP);
    worker.expect_containing("I: sending READY to broker", STEP);
    echo_once(&endpoint);
}

#[test]
fn mmiecho_answers_for_a_known_and_an_unknown_service() {
    let dir = scratch("md-mmi");
    let endpoint = dir.ipc("broker");
    let _broker = broker(&endpoint);
    let _worker = Proc::spawn("mdworker", &["--broker", &endpoint]);
    echo_once(&endpoint);
    let mut known = Proc::spawn("mmiecho", &["--broker", &endpoint]);
    assert_eq!(finish(&mut known), ["Lookup echo service: b'200'"]);
    let mut unknown = Proc::spawn("mmiecho", &["--broker", &endpoint, "--service", "nosuch"]);
    assert_eq!(finish(&mut unknown), ["Lookup nosuch service: b'400'"]);

    // No broker at all: every try times out.
    let nobody = dir.ipc("nobody");
    let mut lost = Proc::spawn(
        "mmiecho",
        &["--broker", &nobody, "--timeout-ms", "100", "--retries", "2"],
    );
    let out = finish(&mut lost);
    assert_eq!(
        out.last().map(String::as_str),
        Some("E: no response from broker, make sure it's running"),
        "{out:#?}"
    );
    assert!(
        out.iter()
            .any(|l| l.ends_with("W: permanent error, abandoning")),
        "{out:#?}"
    );
}

#[test]
fn mdclient2_gets_every_reply_of_its_burst() {
    let dir = scratch("md-async");
    let endpoint = dir.ipc("broker");
    let _broker = broker(&endpoint);
    let _workers = [
        Proc::spawn("mdworker", &["--broker", &endpoint]),
        Proc::spawn("mdworker", &["--broker", &endpoint]),
    ];
    echo_once(&endpoint);
    let mut client = Proc::spawn("mdclient2", &["--broker", &endpoint, "--requests", "20000"]);
    assert_eq!(finish(&mut client), ["20000 requests/replies processed"]);
}

#[test]
fn tripping_finishes_both_round_trip_tests() {
    let dir = scratch("md-trip");
    let (frontend, backend) = (dir.ipc("frontend"), dir.ipc("backend"));
    let mut tripping = Proc::spawn(
        "tripping",
        &[
            "--requests",
            "3000",
            "--frontend",
            &frontend,
            "--backend",
            &backend,
        ],
    );
    let out = finish(&mut tripping);
    assert_eq!(out.len(), 5, "{out:#?}");
    assert_eq!(out[0], "Setting up test...");
    assert_eq!(out[1], "Synchronous round-trip test...");
    assert_eq!(out[3], "Asynchronous round-trip test...");
    for rate in [&out[2], &out[4]] {
        let number = rate
            .strip_prefix(' ')
            .and_then(|r| r.strip_suffix(" calls/second"));
        assert!(
            number.is_some_and(|n| n.parse::<u64>().is_ok_and(|n| n > 0)),
            "not ' N calls/second': {rate:?}"
        );
    }
}

/// The UUID in ticlient's `I: request UUID  b'...'` line.
fn request_uuid(ticlient: &mut Proc) -> String {
    let line = ticlient.expect_containing("I: request UUID  b'", STEP);
    let uuid = line
        .trim_start_matches("I: request UUID  b'")
        .trim_end_matches('\'')
        .to_string();
    assert!(
        uuid.len() == 32 && uuid.bytes().all(|b| b.is_ascii_hexdigit()),
        "{line:?}"
    );
    uuid
}

#[test]
fn titanic_killed_and_restarted_between_request_and_reply_loses_nothing() {
    let dir = scratch("md-titanic");
    let endpoint = dir.ipc("broker");
    let store = dir.path("store");
    let _broker = broker(&endpoint);
    let mut titanic = Proc::spawn("titanic", &["--broker", &endpoint, "--dir", &store]);
    // No echo worker yet: the request waits in Titanic's store.
    let mut ticlient = Proc::spawn(
        "ticlient",
        &[
            "--broker",
            &endpoint,
            "--retry-ms",
            "200",
            "--timeout-ms",
            "1000",
        ],
    );
    let uuid = request_uuid(&mut ticlient);
    ticlient.expect_line("I: no reply yet, trying again...", STEP);
    let queue = Path::new(&store).join("queue");
    let request = Path::new(&store).join(format!("{uuid}.req"));
    assert!(request.exists(), "{} is missing", request.display());
    let queued = fs::read_to_string(&queue).unwrap_or_default();
    assert!(queued.contains(&format!("-{uuid}\n")), "queue: {queued:?}");

    // A crash: nothing Titanic knew survives but its files.
    titanic.kill();
    let mut titanic = Proc::spawn("titanic", &["--broker", &endpoint, "--dir", &store]);
    let _worker = Proc::spawn("mdworker", &["--broker", &endpoint]);
    titanic.expect_line(&format!("I: processing request {uuid}"), STEP);
    ticlient.expect_line("Reply: b'Hello world'", STEP);
    finish(&mut ticlient);

    // Answered, then closed: both files gone, the entry marked done.
    assert!(!request.exists(), "{} left behind", request.display());
    assert!(!Path::new(&store).join(format!("{uuid}.rep")).exists());
    let queued = fs::read_to_string(&queue).unwrap_or_default();
    assert!(queued.contains(&format!("+{uuid}\n")), "queue: {queued:?}");
}

#[test]
fn titanic_reports_bad_and_partial_files_clearly_and_carries_on() {
    let dir = scratch("md-corrupt");
    let endpoint = dir.ipc("broker");
    let store = Path::new(&dir.path("store")).to_path_buf();
    fs::create_dir_all(&store).expect("the store directory");
    let (bad, partial, trailing) = ("a".repeat(32), "b".repeat(32), "c".repeat(32));
    fs::write(store.join(format!("{bad}.req")), b"not a titanic file").expect("write");
    // Two frames announced; the second needs 11 bytes, 5 are there.
    let mut cut = b"TITANIC1\0\0\0\x02\0\0\0\x04echo\0\0\0\x0b".to_vec();
    cut.extend(b"Hello");
    fs::write(store.join(format!("{partial}.req")), cut).expect("write");
    // One whole frame, then three bytes too many.
    let extra = b"TITANIC1\0\0\0\x01\0\0\0\x04echoxyz".to_vec();
    fs::write(store.join(format!("{trailing}.req")), extra).expect("write");
    let queue = format!("-{bad}\n-{partial}\n-{trailing}\nbogus\n");
    fs::write(store.join("queue"), &queue).expect("write");

    let _broker = broker(&endpoint);
    let store_arg = store.display().to_string();
    let mut titanic = Proc::spawn("titanic", &["--broker", &endpoint, "--dir", &store_arg]);
    let _worker = Proc::spawn("mdworker", &["--broker", &endpoint]);
    let bad_file = store.join(format!("{bad}.req")).display().to_string();
    let partial_file = store.join(format!("{partial}.req")).display().to_string();
    titanic.expect_containing(
        &format!("E: {bad_file}: not a titanic message file (it does not start with TITANIC1)"),
        STEP,
    );
    titanic.expect_containing(
        &format!("E: {partial_file}: cut short: frame 2 of 2 needs 11 bytes, 5 left"),
        STEP,
    );
    let trailing_file = store.join(format!("{trailing}.req")).display().to_string();
    titanic.expect_containing(
        &format!("E: {trailing_file}: 3 unexpected bytes after the last frame"),
        STEP,
    );
    titanic.expect_containing("line 4: not '-UUID' or '+UUID', skipped", STEP);

    // Still serving: a fresh request goes through.
    let mut ticlient = Proc::spawn("ticlient", &["--broker", &endpoint, "--retry-ms", "200"]);
    ticlient.expect_line("Reply: b'Hello world'", STEP);
    finish(&mut ticlient);
    let queued = fs::read_to_string(store.join("queue")).unwrap_or_default();
    assert!(
        queued.starts_with(&format!("+{bad}\n+{partial}\n+{trailing}\nbogus\n")),
        "queue: {queued:?}"
    );
    let status = titanic.wait_timeout(Duration::ZERO);
    assert!(
        status.is_none(),
        "titanic exited: {status:?}\n{}",
        titanic.diagnostics()
    );
}

#[test]
fn titanic_without_a_usable_store_directory_says_why() {
    let dir = scratch("md-nodir");
    let file = dir.path("file");
    fs::write(&file, b"").expect("write");
    let store = format!("{file}/store");
    let mut titanic = Proc::spawn(
        "titanic",
        &["--broker", &dir.ipc("broker"), "--dir", &store],
    );
    let status = titanic.wait(STEP);
    assert_eq!(status.code(), Some(1), "{}", titanic.diagnostics());
    let stderr = titanic.stderr().join("\n");
    assert!(
        stderr.contains(&format!("titanic: cannot create {store}")),
        "{stderr}"
    );
}

#[test]
fn interop_our_broker_serves_a_python_client_and_worker() {
    let python = python_or_skip!("interop_our_broker_serves_a_python_client_and_worker");
    let dir = scratch("md-py-1");
    let endpoint = dir.ipc("broker");
    let _broker = broker(&endpoint);
    let _worker = python.run_peer("majordomo.py", &["worker", &endpoint, "echo"]);
    let mut client = python.run_peer(
        "majordomo.py",
        &["client", &endpoint, "echo", "500", "--numbered"],
    );
    assert_eq!(finish(&mut client), ["500 requests/replies processed"]);
    // Our MMI answers the Python worker's service too.
    let mut mmi = Proc::spawn("mmiecho", &["--broker", &endpoint]);
    assert_eq!(finish(&mut mmi), ["Lookup echo service: b'200'"]);
}

#[test]
fn interop_a_python_broker_serves_our_client_and_worker() {
    let python = python_or_skip!("interop_a_python_broker_serves_our_client_and_worker");
    let dir = scratch("md-py-2");
    let endpoint = dir.ipc("broker");
    let mut broker = python.run_peer("majordomo.py", &["broker", &endpoint]);
    broker.expect_line(
        &format!("I: MDP broker/0.1.1 is active at {endpoint}"),
        STEP,
    );
    let _worker = Proc::spawn("mdworker", &["--broker", &endpoint]);
    let mut client = Proc::spawn(
        "mdclient",
        &["--broker", &endpoint, "--requests", "500", "--numbered"],
    );
    assert_eq!(finish(&mut client), ["500 requests/replies processed"]);
    let mut mmi = Proc::spawn("mmiecho", &["--broker", &endpoint, "--service", "nosuch"]);
    assert_eq!(finish(&mut mmi), ["Lookup nosuch service: b'400'"]);
    let mut client2 = Proc::spawn("mdclient2", &["--broker", &endpoint, "--requests", "2000"]);
    assert_eq!(finish(&mut client2), ["2000 requests/replies processed"]);
}
