//! The zguide's chapter 4 Binary Star and Freelance ports run as real
//! processes, each wait with a deadline: a Binary Star pair losing its
//! primary while a client keeps asking (the backup takes over, the client's
//! requests go on), the primary restarted as the new backup (and taking
//! over in turn), a split brain detected; each Freelance model with one of
//! its three servers down. Interop: the same failover with a Python client
//! against our pair, and with our client against a Python pair
//! (`tests/peers/bstar.py`, same protocol).
//!
//! Every test gives the examples their own free TCP ports on 127.0.0.1 (the
//! originals' fixed ports become flags), so tests run in parallel.

use std::time::{Duration, Instant};

use tx0mq_test_support::net::free_port;
use tx0mq_test_support::process::{examples_are_fresh, Proc};
use tx0mq_test_support::python_or_skip;

/// How long any one step may take on a loaded machine.
const STEP: Duration = Duration::from_secs(30);

/// The examples these tests run.
const EXAMPLES: [&str; 9] = [
    "bstarsrv",
    "bstarcli",
    "bstarsrv2",
    "flserver1",
    "flclient1",
    "flserver2",
    "flclient2",
    "flserver3",
    "flclient3",
];

/// Fails unless the examples are newer than their sources (the shared
/// modules `examples/bstar/` and `examples/flcliapi/` included).
fn fresh() {
    examples_are_fresh("examples_bstar", &EXAMPLES);
}

/// `tcp://127.0.0.1:PORT` on a free port.
fn local(port: u16) -> String {
    format!("tcp://127.0.0.1:{port}")
}

/// The four ports of a Binary Star pair.
#[derive(Clone, Copy)]
struct Pair {
    primary: u16,
    backup: u16,
    primary_state: u16,
    backup_state: u16,
}

impl Pair {
    fn new() -> Pair {
        Pair {
            primary: free_port(),
            backup: free_port(),
            primary_state: free_port(),
            backup_state: free_port(),
        }
    }

    /// The server flags of one role: `-p` or `-b` and its three endpoints.
    fn server_args(&self, primary: bool) -> Vec<String> {
        let (role, front, mine, theirs) = if primary {
            ("-p", self.primary, self.primary_state, self.backup_state)
        } else {
            ("-b", self.backup, self.backup_state, self.primary_state)
        };
        vec![
            role.to_string(),
            "--frontend".into(),
            local(front),
            "--state-pub".into(),
            local(mine),
            "--state-sub".into(),
            local(theirs),
        ]
    }

    /// The client flags: both servers, and a short pause between requests.
    fn client_args(&self) -> Vec<String> {
        vec![
            "--primary".into(),
            local(self.primary),
            "--backup".into(),
            local(self.backup),
            "--interval-ms".into(),
            "100".into(),
        ]
    }
}

/// Who plays a part: one of our examples, or the Python peer.
#[derive(Clone, Copy)]
enum Side {
    Ours(&'static str),
    Python,
}

fn start(side: Side, mode: &str, args: &[String]) -> Proc {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match side {
        Side::Ours(name) => Proc::spawn(name, &args),
        Side::Python => {
            let python = tx0mq_test_support::python::interop_env("bstar peer")
                .expect("the interop environment, checked by the test");
            let mut all = vec![mode];
            all.extend(args);
            python.run_peer("bstar.py", &all)
        }
    }
}

/// The sequence number of a client's `I: server replied OK (N)` line.
fn replied(line: &str) -> Option<u64> {
    line.strip_prefix("I: server replied OK (")?
        .strip_suffix(')')?
        .parse()
        .ok()
}

/// Reads the client's lines until `n` more replies came, and returns the
/// last sequence number.
fn expect_replies(client: &mut Proc, n: usize) -> u64 {
    let mut last = 0;
    for _ in 0..n {
        let line = client.expect_matching("a reply", STEP, |l| replied(l).is_some());
        last = replied(&line).unwrap_or_default();
    }
    last
}

/// Every request was answered once, in order: the client's replies are
/// 0, 1, 2, ... with nothing lost or repeated across the failovers.
fn assert_replies_in_order(client: &mut Proc) {
    let numbers: Vec<u64> = client.drain().iter().filter_map(|l| replied(l)).collect();
    let expected: Vec<u64> = (0..numbers.len() as u64).collect();
    assert_eq!(numbers, expected, "{:#?}", client.seen);
}

/// The whole Binary Star story with `server` as both servers and `client`
/// as the client: pairing, the primary killed (the backup takes over), the
/// primary restarted (it becomes the passive one), then, with `and_back`,
/// the backup killed (the restarted primary takes over).
fn failover(server: Side, client: Side, and_back: bool) {
    let pair = Pair::new();
    // bstar.py, and so bstarsrv2, says nothing before the peer is heard.
    let announces = !matches!(server, Side::Ours("bstarsrv2"));
    let mut primary = start(server, "server", &pair.server_args(true));
    let mut backup = start(server, "server", &pair.server_args(false));
    if announces {
        primary.expect_line("I: Primary master, waiting for backup (slave)", STEP);
        backup.expect_line("I: Backup slave, waiting for primary (master)", STEP);
    }
    primary.expect_line("I: connected to backup (slave), ready as master", STEP);
    backup.expect_line("I: connected to primary (master), ready as slave", STEP);

    let mut client = start(client, "client", &pair.client_args());
    expect_replies(&mut client, 3);

    // The primary dies: the client fails over, the backup takes over.
    primary.kill();
    client.expect_line("W: no response from server, failing over", STEP);
    client.expect_line(
        &format!("I: connecting to server at {}..", local(pair.backup)),
        STEP,
    );
    expect_replies(&mut client, 3);

    // The primary comes back, and finds the backup active.
    let mut primary = start(server, "server", &pair.server_args(true));
    if announces {
        primary.expect_line("I: Primary master, waiting for backup (slave)", STEP);
    }
    primary.expect_line("I: connected to backup (master), ready as slave", STEP);
    expect_replies(&mut client, 2);

    if and_back {
        // Now the backup dies: the restarted primary, passive, takes over.
        backup.kill();
        client.expect_line("W: no response from server, failing over", STEP);
        client.expect_line(
            &format!("I: connecting to server at {}..", local(pair.primary)),
            STEP,
        );
        if !announces {
            primary.expect_line("I: failover successful, ready as master", STEP);
        }
        expect_replies(&mut client, 3);
    }
    assert_replies_in_order(&mut client);
}

#[test]
fn bstarsrv_backup_takes_over_and_the_restarted_primary_becomes_the_backup() {
    fresh();
    failover(Side::Ours("bstarsrv"), Side::Ours("bstarcli"), true);
}

#[test]
fn bstarsrv2_on_the_bstar_api_fails_over_both_ways() {
    fresh();
    failover(Side::Ours("bstarsrv2"), Side::Ours("bstarcli"), true);
}

#[test]
fn interop_our_bstar_pair_fails_over_for_the_python_client() {
    let _python = python_or_skip!("interop_our_bstar_pair_fails_over_for_the_python_client");
    fresh();
    failover(Side::Ours("bstarsrv"), Side::Python, false);
    failover(Side::Ours("bstarsrv2"), Side::Python, false);
}

#[test]
fn interop_our_bstarcli_fails_over_between_python_servers() {
    let _python = python_or_skip!("interop_our_bstarcli_fails_over_between_python_servers");
    fresh();
    failover(Side::Python, Side::Ours("bstarcli"), true);
}

/// A fake peer: a PUB socket bound where the server reads its peer's state,
/// publishing `states` in turn, each until `server` prints what it should.
fn fake_peer_drives(name: &str, expected: &[(&str, &str)], pair: Pair) -> Proc {
    let context = zmq::Context::new();
    let publisher = context.socket(zmq::PUB).expect("a PUB socket");
    publisher
        .bind(&local(pair.backup_state))
        .expect("bind the fake peer");
    let args = pair.server_args(true);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut server = Proc::spawn(name, &args);
    let deadline = Instant::now() + STEP;
    for (state, line) in expected {
        loop {
            publisher.send(*state, 0).expect("publish a state");
            std::thread::sleep(Duration::from_millis(100));
            if server.drain().iter().any(|l| l == line) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{name}: no {line:?} after publishing {state}: {:#?}",
                server.seen
            );
        }
    }
    server
}

#[test]
fn dual_masters_abort_the_server() {
    fresh();
    for name in ["bstarsrv", "bstarsrv2"] {
        let mut server = fake_peer_drives(
            name,
            &[
                ("2", "I: connected to backup (slave), ready as master"),
                ("3", "E: fatal error - dual masters, aborting"),
            ],
            Pair::new(),
        );
        let status = server.wait(STEP);
        assert_eq!(status.code(), Some(1), "{name}: {:#?}", server.seen);
        assert!(
            server.stderr().iter().any(|l| l.contains("dual masters")),
            "{name}: {:#?}",
            server.stderr()
        );
    }
}

#[test]
fn bad_arguments_are_refused_without_a_panic() {
    fresh();
    for (name, args) in [
        ("bstarsrv", &[][..]),
        ("flclient1", &["--retries", "0"]),
        ("flclient2", &["--requests", "x"]),
        ("flserver3", &["--bind"]),
        ("flclient3", &["--requests", "-1"]),
        ("bstarsrv", &["-p", "-b"]),
        ("bstarsrv", &["-p", "--frontend"]),
        ("bstarsrv2", &["-p", "-b"]),
        ("bstarcli", &["--timeout-ms", "-1"]),
        ("bstarcli", &["--requests", "many"]),
    ] {
        let mut proc = Proc::spawn(name, args);
        let status = proc.wait(STEP);
        assert_eq!(status.code(), Some(2), "{name} {args:?}: {status:?}");
    }
    // A bad endpoint is an error message and exit 1, not a panic.
    let mut proc = Proc::spawn("bstarsrv", &["-p", "--frontend", "nonsense://here"]);
    assert_eq!(proc.wait(STEP).code(), Some(1));
    let mut proc = Proc::spawn("flserver3", &["--bind", "nonsense://here"]);
    assert_eq!(proc.wait(STEP).code(), Some(1));
    // Without their arguments, they print the original's usage and return.
    for (name, usage) in [
        ("bstarsrv2", &["Usage: bstarsrv2 { -p | -b }", ""][..]),
        ("flserver1", &["I: Syntax: flserver1 <endpoint>"]),
        ("flserver2", &["I: Syntax: flserver2 <endpoint>"]),
        ("flclient1", &["I: syntax: flclient1 <endpoint> ..."]),
        ("flclient2", &["I: Usage: flclient2 <endpoint> ..."]),
    ] {
        let mut proc = Proc::spawn(name, &[]);
        assert!(proc.wait(STEP).success(), "{name}");
        assert_eq!(proc.seen, usage, "{name}");
    }
}

/// Three endpoints on free ports; servers run on those whose `up` is true.
fn three_servers(name: &str, ready: &str, up: [bool; 3]) -> (Vec<String>, Vec<Proc>) {
    let endpoints: Vec<String> = (0..3).map(|_| local(free_port())).collect();
    let mut servers = Vec::new();
    for (endpoint, up) in endpoints.iter().zip(up) {
        if !up {
            continue;
        }
        let mut server = if name == "flserver3" {
            Proc::spawn(name, &["--bind", endpoint, "--connect", endpoint])
        } else {
            Proc::spawn(name, &[endpoint])
        };
        server.expect_line(&format!("{ready}{endpoint}"), STEP);
        servers.push(server);
    }
    (endpoints, servers)
}

/// Runs `name` with `args` to its successful end and returns what it printed.
fn run_to_end(name: &str, args: &[&str]) -> Vec<String> {
    let mut proc = Proc::spawn(name, args);
    let status = proc.wait(STEP);
    assert!(status.success(), "{name}: {status:?}: {:#?}", proc.seen);
    proc.seen.clone()
}

#[test]
fn flclient1_fails_over_to_the_next_echo_server() {
    fresh();
    for up in [
        [false, true, true],
        [true, false, true],
        [true, true, false],
    ] {
        let (endpoints, _servers) = three_servers("flserver1", "I: Echo service is ready at ", up);
        let args: Vec<&str> = endpoints.iter().map(String::as_str).collect();
        let out = run_to_end("flclient1", &args);
        // Each endpoint is tried in order until one answers.
        let mut expected = Vec::new();
        for (endpoint, up) in endpoints.iter().zip(up) {
            expected.push(format!("I: Trying echo service at {endpoint}..."));
            if up {
                break;
            }
            expected.push(format!("W: No response from {endpoint}"));
        }
        expected.push("Service is running OK".to_string());
        assert_eq!(out, expected, "servers up: {up:?}");
    }
}

#[test]
fn flclient1_retries_a_single_silent_server_three_times() {
    fresh();
    let endpoint = local(free_port());
    let out = run_to_end("flclient1", &[&endpoint, "--timeout-ms", "200"]);
    let tried = format!("I: Trying echo service at {endpoint}...");
    let silent = format!("W: No response from {endpoint}, retrying");
    let (tried, silent) = (tried.as_str(), silent.as_str());
    assert_eq!(out, [tried, silent, tried, silent, tried, silent]);
}

#[test]
fn flclient2_gets_every_answer_with_one_of_three_servers_down() {
    fresh();
    for up in [[false, true, true], [true, false, true]] {
        let (endpoints, _servers) = three_servers("flserver2", "I: Service is ready at ", up);
        let mut args: Vec<&str> = endpoints.iter().map(String::as_str).collect();
        args.extend(["--requests", "2000"]);
        let out = run_to_end("flclient2", &args);
        assert_eq!(out.len(), 4, "{out:#?}");
        for (line, endpoint) in out.iter().zip(&endpoints) {
            assert_eq!(*line, format!("I: Connected to {endpoint}"));
        }
        assert!(
            out[3].starts_with("Average round trip cost: ") && out[3].ends_with(" usec"),
            "{out:#?}"
        );
    }
}

#[test]
fn flclient2_gives_up_when_no_server_answers() {
    fresh();
    let endpoint = local(free_port());
    let out = run_to_end("flclient2", &[&endpoint, "--timeout-ms", "300"]);
    assert_eq!(
        out[..2],
        [
            format!("I: Connected to {endpoint}"),
            "E: Name service not available, aborting".to_string()
        ]
    );
}

#[test]
fn flclient3_gets_every_answer_with_a_later_server_down() {
    fresh();
    for up in [[true, false, true], [true, true, false]] {
        let (endpoints, mut servers) = three_servers("flserver3", "I: service is ready at ", up);
        let mut args: Vec<&str> = endpoints.iter().map(String::as_str).collect();
        args.extend(["--requests", "1000"]);
        let out = run_to_end("flclient3", &args);
        assert_eq!(out.len(), 4, "{out:#?}");
        for (line, endpoint) in out.iter().zip(&endpoints) {
            assert_eq!(*line, format!("I: connecting to {endpoint}..."));
        }
        assert!(
            out[3].starts_with("Average round trip cost: ") && out[3].ends_with(" usec"),
            "{out:#?}"
        );
        for server in &mut servers {
            server.signal("-INT");
            assert!(server.wait(STEP).success());
            assert_eq!(
                server.seen.last().map(String::as_str),
                Some("W: interrupted")
            );
        }
    }
}

#[test]
fn flclient3_fails_like_the_original_when_the_first_server_is_down() {
    // The original sends to the first server it believes alive, and believes
    // a server dead only after 6 s of silence; a request fails after 3 s.
    fresh();
    let (endpoints, _servers) =
        three_servers("flserver3", "I: service is ready at ", [false, true, true]);
    let args: Vec<&str> = endpoints.iter().map(String::as_str).collect();
    let out = run_to_end("flclient3", &args);
    assert_eq!(
        out.last().map(String::as_str),
        Some("E: name service not available, aborting")
    );
}

#[test]
fn flserver3_answers_pings_and_requests_and_dumps_them() {
    fresh();
    let endpoint = local(free_port());
    let mut server = Proc::spawn(
        "flserver3",
        &["-v", "--bind", &endpoint, "--connect", &endpoint],
    );
    server.expect_line(&format!("I: service is ready at {endpoint}"), STEP);
    let context = zmq::Context::new();
    let client = context.socket(zmq::ROUTER).expect("a ROUTER socket");
    client.set_identity(b"C").expect("an identity");
    client.set_rcvtimeo(30_000).expect("a receive timeout");
    client.connect(&endpoint).expect("connect");
    // The server's identity is its endpoint: retry until the connection is up.
    let deadline = Instant::now() + STEP;
    loop {
        client
            .send_multipart([endpoint.as_bytes(), b"PING"], 0)
            .expect("send");
        if client.poll(zmq::POLLIN, 100).expect("poll") > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "no PONG");
    }
    let pong = client.recv_multipart(0).expect("a PONG");
    assert_eq!(pong, [endpoint.as_bytes(), b"PONG"]);
    client
        .send_multipart([endpoint.as_bytes(), b"7", b"", b"name"], 0)
        .expect("send");
    let reply = client.recv_multipart(0).expect("a reply");
    assert_eq!(reply, [endpoint.as_bytes(), b"7", b"OK"]);
    for line in [
        "----------------------------------------",
        "[001] C",
        "[004] PONG",
    ] {
        server.expect_line(line, STEP);
    }
    for line in [
        "----------------------------------------",
        "[001] C",
        "[001] 7",
        "[002] OK",
    ] {
        server.expect_line(line, STEP);
    }
}
