//! The async examples run as real processes: `async_reqrep` (tx0mq's
//! inlineCallbacks request/reply demo) and `lpclient_async` (zguide's Lazy
//! Pirate client), the latter against a REP server in this test that
//! answers, then stalls or dies.

use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tx0mq_test_support::net::free_port;
use tx0mq_test_support::process::Proc;

const LINE: Duration = Duration::from_secs(10);

/// The replier and the requester as two processes, as in the Python demo:
/// one request, its reply, and the requester exits 0 by itself.
#[test]
fn async_reqrep_requester_gets_the_repliers_answer_and_exits() {
    let endpoint = format!("tcp://127.0.0.1:{}", free_port());
    let mut replier = Proc::spawn("async_reqrep", &["replier", "--endpoint", &endpoint]);
    replier.expect_line("Replier listening", LINE);
    let mut requester = Proc::spawn(
        "async_reqrep",
        &["requester", &format!("--endpoint={endpoint}")],
    );
    requester.expect_line("Requester connected", LINE);
    let sent = requester.expect_containing("sending request containing ", LINE);
    let data = sent
        .trim_start_matches("sending request containing ")
        .trim_end_matches(" ...")
        .to_string();
    let request = replier.expect_containing("received request ", LINE);
    assert!(
        request.ends_with(&format!(" : {data}")),
        "{request} vs {data}"
    );
    let response = replier.expect_containing("response contains ", LINE);
    let answer = response
        .rsplit(" : ")
        .next()
        .unwrap_or_default()
        .to_string();
    requester.expect_line(&format!("received reply: {answer}"), LINE);
    let status = requester.wait(LINE);
    assert!(
        status.success(),
        "requester: {status:?}; {:#?}",
        requester.seen
    );
}

/// With no role, both run in one reactor and the process exits 0.
#[test]
fn async_reqrep_both_roles_in_one_process() {
    let endpoint = format!("tcp://127.0.0.1:{}", free_port());
    let mut both = Proc::spawn("async_reqrep", &["--endpoint", &endpoint]);
    both.expect_containing("received reply: ", LINE);
    let status = both.wait(LINE);
    assert!(status.success(), "{status:?}; {:#?}", both.seen);
    for line in ["Replier listening", "Requester connected"] {
        assert!(
            both.seen.iter().any(|l| l == line),
            "{line}: {:#?}",
            both.seen
        );
    }
}

/// A REP server on its own thread: echoes each request, except as
/// `behave(n)` says for the n-th (0-based): `Some(delay)` answers after
/// `delay`, `None` stops the server (a crash). Gives up after `deadline`.
fn lazy_pirate_server(
    behave: impl Fn(usize) -> Option<Duration> + Send + 'static,
) -> (String, JoinHandle<usize>) {
    let context = zmq::Context::new();
    let server = context.socket(zmq::REP).expect("a REP socket");
    server.set_linger(0).expect("linger");
    server.set_rcvtimeo(200).expect("rcvtimeo");
    server.bind("tcp://127.0.0.1:*").expect("bind");
    let endpoint = server
        .get_last_endpoint()
        .expect("last endpoint")
        .expect("utf-8 endpoint");
    let thread = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut answered = 0;
        for cycle in 0.. {
            let request = loop {
                if Instant::now() > deadline {
                    return answered;
                }
                match server.recv_bytes(0) {
                    Ok(request) => break request,
                    Err(zmq::Error::EAGAIN) => continue,
                    Err(e) => panic!("server recv: {e}"),
                }
            };
            match behave(cycle) {
                None => return answered, // "Simulating a crash"
                Some(delay) => {
                    std::thread::sleep(delay);
                    server.send(request, 0).expect("server send");
                    answered += 1;
                }
            }
        }
        answered
    });
    (endpoint, thread)
}

/// The server answers three requests and dies on the fourth: the client
/// retries on fresh connections, then abandons, and exits 0 (the
/// original's `sys.exit()`).
#[test]
fn lpclient_async_retries_then_abandons_a_dead_server() {
    let (endpoint, server) =
        lazy_pirate_server(|n| if n < 3 { Some(Duration::ZERO) } else { None });
    let mut client = Proc::spawn(
        "lpclient_async",
        &[
            "--endpoint",
            &endpoint,
            "--timeout-ms",
            "300",
            "--retries",
            "3",
        ],
    );
    client.expect_line("INFO: Connecting to server…", LINE);
    for n in 0..3 {
        client.expect_line(&format!("INFO: Sending (b'{n}')"), LINE);
        client.expect_line(&format!("INFO: Server replied OK (b'{n}')"), LINE);
    }
    client.expect_line("INFO: Sending (b'3')", LINE);
    for _ in 0..2 {
        client.expect_line("WARNING: No response from server", LINE);
        client.expect_line("INFO: Reconnecting to server…", LINE);
        client.expect_line("INFO: Resending (b'3')", LINE);
    }
    client.expect_line("WARNING: No response from server", LINE);
    client.expect_line("ERROR: Server seems to be offline, abandoning", LINE);
    let status = client.wait(LINE);
    assert!(status.success(), "{status:?}; {:#?}", client.seen);
    assert_eq!(server.join().expect("server thread"), 3);
}

/// The server stalls on one request past the client's timeout: the client
/// reconnects and resends, the resent request is answered (the late reply
/// to the abandoned one is dropped), and the client goes on to finish.
#[test]
fn lpclient_async_resends_after_a_slow_reply_and_carries_on() {
    let (endpoint, server) = lazy_pirate_server(|n| {
        if n == 1 {
            Some(Duration::from_millis(600))
        } else if n < 6 {
            Some(Duration::ZERO)
        } else {
            None
        }
    });
    let mut client = Proc::spawn(
        "lpclient_async",
        &[
            "--endpoint",
            &endpoint,
            "--timeout-ms",
            "300",
            "--requests",
            "4",
        ],
    );
    client.expect_line("INFO: Server replied OK (b'0')", LINE);
    client.expect_line("INFO: Sending (b'1')", LINE);
    client.expect_line("WARNING: No response from server", LINE);
    client.expect_line("INFO: Resending (b'1')", LINE);
    client.expect_line("INFO: Server replied OK (b'1')", LINE);
    client.expect_line("INFO: Server replied OK (b'3')", LINE);
    let status = client.wait(LINE);
    assert!(status.success(), "{status:?}; {:#?}", client.seen);
    let output = client.seen.join("\n");
    assert!(!output.contains("Malformed"), "{output}");
    assert!(!output.contains("abandoning"), "{output}");
    drop(server); // it stops by itself at its deadline; do not wait for it
}
