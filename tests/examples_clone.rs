//! The zguide's chapter 5 Clone ports, models five and six, run as real
//! processes, each wait with a deadline: a client started after 10,000
//! updates ends with the server's exact map (snapshot, then the stream); a
//! model-six pair loses its primary while a client publishes, and a client
//! ends with the full map and no gap in the sequence numbers it applied;
//! keys set with a TTL vanish from servers and clients; and interop with a
//! Python model-six server and client (`tests/peers/clone.py`, same wire
//! protocol) both ways.
//!
//! Each process prints its map on Ctrl-C (`--print-map`: `map: KEY=VALUE`
//! lines in key order, then `map: N keys`), which is how the tests compare
//! maps exactly. Every test gives the examples their own free ports (a
//! Clone server uses three in a row), so tests run in parallel.

use std::time::{Duration, Instant};

use tx0mq_test_support::net::{free_port, free_ports};
use tx0mq_test_support::process::{examples_are_fresh, Proc};
use tx0mq_test_support::python_or_skip;

/// How long any one step may take on a loaded machine.
const STEP: Duration = Duration::from_secs(30);

/// The examples these tests run.
const EXAMPLES: [&str; 4] = ["clonesrv5", "clonecli5", "clonesrv6", "clonecli6"];

/// Fails unless the examples are newer than their sources (the shared
/// modules `examples/kvmsg/`, `examples/clone/` and `examples/bstar/`
/// included).
fn fresh() {
    examples_are_fresh("examples_clone", &EXAMPLES);
}

/// A port P such that P, P+1 and P+2 are free (a Clone server's snapshot,
/// publisher and collector).
fn three_ports() -> u16 {
    free_ports(3)
}

/// Interrupts `proc` (Ctrl-C), waits for it to exit 0, and returns its map
/// lines (`map: KEY=VALUE`..., `map: N keys`).
fn interrupt_for_map(proc: &mut Proc) -> Vec<String> {
    proc.signal("-INT");
    let status = proc.wait(STEP);
    assert!(status.success(), "{} exited with {status}", proc.name);
    let map: Vec<String> = proc
        .seen
        .iter()
        .filter(|l| l.starts_with("map: "))
        .cloned()
        .collect();
    assert!(
        map.last().is_some_and(|l| l.ends_with(" keys")),
        "{}: no map printed",
        proc.name
    );
    map
}

/// The number of keys a map's last line gives.
fn keys(map: &[String]) -> usize {
    map.last()
        .and_then(|l| l.strip_prefix("map: ")?.strip_suffix(" keys")?.parse().ok())
        .unwrap_or(0)
}

/// `N` in a line ending `WHAT=N` (`I: received update=12`).
fn number_after(line: &str, what: &str) -> Option<i64> {
    line.rsplit_once(what)?.1.parse().ok()
}

/// Model five: a server, and a client that makes 10,000 updates as fast as
/// it can; once the server has them all, a second client takes a snapshot
/// while a third keeps publishing. The late client ends with the server's
/// exact map, its first sequence number the snapshot's and the rest
/// following without a gap.
#[test]
fn a_late_client_gets_the_snapshot_then_the_stream() {
    fresh();
    let port = three_ports().to_string();
    let mut server = Proc::spawn("clonesrv5", &["--port", &port, "--print-map"]);
    let quick = [
        "--port",
        &port,
        "--updates",
        "10000",
        "--interval-ms",
        "0",
        "--ttl",
        "0",
        "--seed",
        "1",
    ];
    let mut burst = Proc::spawn("clonecli5", &quick);
    burst.expect_line("I: Received snapshot=0", STEP);
    let started = Instant::now();
    server.expect_containing("I: publishing update=10000", Duration::from_secs(60));
    println!("10,000 updates took {:?}", started.elapsed());

    let mut late = Proc::spawn(
        "clonecli5",
        &["--port", &port, "--updates", "0", "--print-map"],
    );
    let snapshot = late.expect_containing("I: Received snapshot=", STEP);
    let snapshot = number_after(&snapshot, "snapshot=").unwrap_or_default();
    assert!(snapshot >= 10_000, "snapshot at {snapshot}");
    let slow = [
        "--port",
        &port,
        "--updates",
        "200",
        "--interval-ms",
        "5",
        "--ttl",
        "0",
        "--seed",
        "2",
    ];
    let mut stream = Proc::spawn("clonecli5", &slow);
    stream.expect_line("I: Received snapshot=10000", STEP);
    late.expect_line("I: received update=10200", STEP);

    let server_map = interrupt_for_map(&mut server);
    let late_map = interrupt_for_map(&mut late);
    assert!(keys(&server_map) > 6000, "{:?}", server_map.last());
    assert_eq!(
        late_map, server_map,
        "the late client's map is the server's"
    );
    let applied: Vec<i64> = late
        .seen
        .iter()
        .filter_map(|l| l.strip_prefix("I: received update=")?.parse().ok())
        .collect();
    let expected: Vec<i64> = (snapshot + 1..=10_200).collect();
    assert_eq!(
        applied, expected,
        "updates after the snapshot, without a gap"
    );
    assert!(late.seen.iter().any(|l| l == "10200 messages in"));
    drop((burst, stream));
}

/// The ports of a model-six pair: each server's three, and the Binary Star
/// state ports.
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
            primary: three_ports(),
            backup: three_ports(),
            primary_state: free_port(),
            backup_state: free_port(),
        }
    }

    /// The server flags of one role.
    fn server_args(&self, primary: bool) -> Vec<String> {
        let (role, port, peer, mine, theirs) = if primary {
            (
                "-p",
                self.primary,
                self.backup,
                self.primary_state,
                self.backup_state,
            )
        } else {
            (
                "-b",
                self.backup,
                self.primary,
                self.backup_state,
                self.primary_state,
            )
        };
        vec![
            role.into(),
            "--port".into(),
            port.to_string(),
            "--peer".into(),
            peer.to_string(),
            "--state-pub".into(),
            format!("tcp://*:{mine}"),
            "--state-sub".into(),
            format!("tcp://localhost:{theirs}"),
        ]
    }

    /// The client flags naming both servers, then `extra`.
    fn client_args(&self, extra: &[&str]) -> Vec<String> {
        let mut args = vec![
            "--primary-port".to_string(),
            self.primary.to_string(),
            "--backup-port".into(),
            self.backup.to_string(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    }

    /// `tcp://localhost:PORT` of the primary or the backup, as clients log it.
    fn name(&self, primary: bool) -> String {
        let port = if primary { self.primary } else { self.backup };
        format!("tcp://localhost:{port}")
    }
}

/// Who plays a part: our example, or the Python peer.
#[derive(Clone, Copy, PartialEq)]
enum Side {
    Ours,
    Python,
}

/// Starts a server (`primary` or backup) of `side`, with `--print-map`.
fn start_server(side: Side, pair: &Pair, primary: bool) -> Proc {
    let args = pair.server_args(primary);
    match side {
        Side::Ours => {
            let mut all: Vec<&str> = args.iter().map(String::as_str).collect();
            all.push("--print-map");
            Proc::spawn("clonesrv6", &all)
        }
        Side::Python => {
            let python = tx0mq_test_support::python::interop_env("clone peer")
                .expect("the interop environment, checked by the test");
            let mut all = vec!["server".to_string()];
            all.extend(args);
            python.run_peer("clone.py", &all)
        }
    }
}

/// Starts a client of `side` on `pair`, with `extra` flags (and
/// `--print-map` for ours).
fn start_client(side: Side, pair: &Pair, extra: &[&str]) -> Proc {
    let args = pair.client_args(extra);
    match side {
        Side::Ours => {
            let mut all: Vec<&str> = args.iter().map(String::as_str).collect();
            all.push("--print-map");
            Proc::spawn("clonecli6", &all)
        }
        Side::Python => {
            let python = tx0mq_test_support::python::interop_env("clone peer")
                .expect("the interop environment, checked by the test");
            let mut all = vec!["client".to_string()];
            all.extend(args);
            python.run_peer("clone.py", &all)
        }
    }
}

/// Starts a pair of `side` and waits until one is master and the other
/// slave.
fn start_pair(side: Side, pair: &Pair) -> (Proc, Proc) {
    let mut primary = start_server(side, pair, true);
    let mut backup = start_server(side, pair, false);
    primary.expect_line("I: connected to backup (slave), ready as master", STEP);
    backup.expect_line("I: connected to primary (master), ready as slave", STEP);
    (primary, backup)
}

/// The sequence numbers a model-six client logged from `server`: the
/// snapshot's (`None` for updates) and each update's or delete's, in order.
fn client_sequences(client: &Proc, server: &str) -> Vec<(bool, i64)> {
    let from = format!("I: received from {server} ");
    client
        .seen
        .iter()
        .filter_map(|line| {
            let rest = line.split_once(&from)?.1;
            let (what, n) = rest.split_once('=')?;
            Some((what == "snapshot", n.parse().ok()?))
        })
        .collect()
}

/// Asserts that after each snapshot the client applied the numbers that
/// follow it, one by one, with no gap, and returns the last one.
fn assert_no_gap(sequences: &[(bool, i64)], who: &str) -> i64 {
    let mut last = None;
    for &(snapshot, n) in sequences {
        match (snapshot, last) {
            (true, _) => last = Some(n),
            (false, Some(previous)) => {
                assert_eq!(
                    n,
                    previous + 1,
                    "{who}: a gap after {previous}: {sequences:?}"
                );
                last = Some(n);
            }
            (false, None) => panic!("{who}: an update before any snapshot: {sequences:?}"),
        }
    }
    last.unwrap_or(0)
}

/// Model six: a client publishes 300 updates; the primary is killed while
/// it does. Both clients fail over to the backup, which takes over and
/// publishes its pending list; the observing client ends with the full map
/// (the publisher's, and the backup's), and the numbers it applied from each
/// server follow its snapshot from that server without a gap.
#[test]
fn clonesrv6_fails_over_without_losing_an_update() {
    fresh();
    let pair = Pair::new();
    let (mut primary, mut backup) = start_pair(Side::Ours, &pair);
    let mut observer = start_client(Side::Ours, &pair, &["--updates", "0"]);
    observer.expect_containing(
        &format!("I: received from {} snapshot=", pair.name(true)),
        STEP,
    );
    let publishing = [
        "--updates",
        "300",
        "--interval-ms",
        "30",
        "--ttl",
        "0",
        "--seed",
        "7",
    ];
    let mut publisher = start_client(Side::Ours, &pair, &publishing);
    observer.expect_containing(
        &format!("I: received from {} update=20", pair.name(true)),
        STEP,
    );
    primary.kill();

    backup.expect_line("I: failover successful, ready as master", STEP);
    observer.expect_containing(
        &format!("I: received from {} snapshot=", pair.name(false)),
        STEP,
    );
    publisher.expect_line("I: sent 300 updates", STEP);
    backup.expect_containing("I: publishing update=", STEP);
    // The last updates reach the observer through the backup.
    std::thread::sleep(Duration::from_millis(1500));

    let backup_map = interrupt_for_map(&mut backup);
    let publisher_map = interrupt_for_map(&mut publisher);
    let observer_map = interrupt_for_map(&mut observer);
    assert!(keys(&publisher_map) > 250, "{:?}", publisher_map.last());
    assert_eq!(observer_map, publisher_map, "the observer has every update");
    assert_eq!(backup_map, publisher_map, "the backup has every update");
    assert!(
        backup
            .seen
            .iter()
            .any(|l| l.contains("I: publishing pending=")),
        "the backup published its pending list"
    );

    let before = client_sequences(&observer, &pair.name(true));
    let after = client_sequences(&observer, &pair.name(false));
    assert!(
        before.len() > 20 && after.len() > 20,
        "{before:?} {after:?}"
    );
    let last_before = assert_no_gap(&before, "from the primary");
    assert!(after[0].0, "a snapshot first from the backup: {after:?}");
    let last_after = assert_no_gap(&after, "from the backup");
    assert!(last_after > last_before, "{last_after} after {last_before}");
}

/// Model six: three keys set with a one-second TTL appear, then vanish, on
/// the primary, the backup (which hears the primary's deletes), the client
/// that set them and one that watches.
#[test]
fn keys_with_a_ttl_vanish_from_servers_and_clients() {
    fresh();
    let pair = Pair::new();
    let (mut primary, mut backup) = start_pair(Side::Ours, &pair);
    let mut observer = start_client(Side::Ours, &pair, &["--updates", "0"]);
    let synced = format!("I: received from {} snapshot=0", pair.name(true));
    observer.expect_containing(&synced, STEP);
    let setting = [
        "--updates",
        "3",
        "--interval-ms",
        "50",
        "--ttl",
        "1",
        "--seed",
        "3",
    ];
    let mut setter = start_client(Side::Ours, &pair, &setting);
    for n in 1..=3 {
        observer.expect_containing(&format!("{} update={n}", pair.name(true)), STEP);
    }
    let set_at = Instant::now();
    for n in 4..=6 {
        observer.expect_containing(&format!("{} delete={n}", pair.name(true)), STEP);
    }
    assert!(
        set_at.elapsed() >= Duration::from_millis(500),
        "deleted too soon"
    );
    primary.expect_containing("I: publishing delete=6", STEP);
    backup.expect_containing("I: received update=6", STEP);

    for proc in [&mut primary, &mut backup, &mut observer, &mut setter] {
        let map = interrupt_for_map(proc);
        assert_eq!(map, ["map: 0 keys"], "{}: the keys are gone", proc.name);
    }
    assert!(setter.seen.iter().any(|l| l == "I: sent 3 updates"));
}

/// Runs a client of `client` against a pair of `servers` (one of them
/// Python): the client publishes 30 updates, and ends with the primary's
/// map, which a second client (ours) shares.
fn interop(servers: Side, client: Side) {
    let pair = Pair::new();
    let (mut primary, mut backup) = start_pair(servers, &pair);
    let mut watcher = start_client(Side::Ours, &pair, &["--updates", "0"]);
    watcher.expect_containing(&format!("{} snapshot=0", pair.name(true)), STEP);
    let publishing = [
        "--updates",
        "30",
        "--interval-ms",
        "20",
        "--ttl",
        "0",
        "--seed",
        "5",
    ];
    let mut publisher = start_client(client, &pair, &publishing);
    publisher.expect_containing(
        &format!("I: received from {} snapshot=", pair.name(true)),
        STEP,
    );
    publisher.expect_line("I: sent 30 updates", STEP);
    watcher.expect_containing(&format!("{} update=30", pair.name(true)), STEP);
    backup.expect_containing("I: received update=30", STEP);

    let primary_map = interrupt_for_map(&mut primary);
    let backup_map = interrupt_for_map(&mut backup);
    let publisher_map = interrupt_for_map(&mut publisher);
    let watcher_map = interrupt_for_map(&mut watcher);
    assert!(keys(&primary_map) >= 28, "{primary_map:?}");
    assert_eq!(publisher_map, primary_map);
    assert_eq!(watcher_map, primary_map);
    assert_eq!(backup_map, primary_map);
    assert_no_gap(&client_sequences(&publisher, &pair.name(true)), "publisher");
}

/// A Python model-six client publishes through our `clonesrv6` pair.
#[test]
fn a_python_client_shares_the_map_of_our_pair() {
    let _env = python_or_skip!("a_python_client_shares_the_map_of_our_pair");
    fresh();
    interop(Side::Ours, Side::Python);
}

/// Our `clonecli6` publishes through a Python model-six pair.
#[test]
fn our_client_shares_the_map_of_a_python_pair() {
    let _env = python_or_skip!("our_client_shares_the_map_of_a_python_pair");
    fresh();
    interop(Side::Python, Side::Ours);
}

/// Each runs alone with its lines: `clonesrv6` without a role prints its
/// usage; a model-five client's update comes back from the server with a
/// number, and a bad request is reported while the server goes on.
#[test]
fn model_five_alone_prints_its_lines() {
    fresh();
    let mut usage = Proc::spawn("clonesrv6", &[]);
    usage.expect_line("Usage: clonesrv6 { -p | -b }", STEP);
    assert!(usage.wait(STEP).success());

    let port = three_ports();
    let arg = port.to_string();
    let mut server = Proc::spawn("clonesrv5", &["--port", &arg]);
    let mut client = Proc::spawn(
        "clonecli5",
        &[
            "--port",
            &arg,
            "--updates",
            "2",
            "--interval-ms",
            "50",
            "--ttl",
            "0",
        ],
    );
    client.expect_line("I: Received snapshot=0", STEP);
    client.expect_line("I: received update=1", STEP);
    client.expect_line("I: received update=2", STEP);
    server.expect_containing("I: Sending state shapshot=0", STEP);
    let line = server.expect_containing("I: publishing update=1", STEP);
    let stamp = line.split(" I: ").next().unwrap_or_default();
    assert_eq!(
        stamp.len(),
        "2026-01-31 12:00:00".len(),
        "a timestamp: {line}"
    );

    // A bad request is reported; the server still answers the next one.
    let context = zmq::Context::new();
    let dealer = context.socket(zmq::DEALER).expect("a DEALER");
    dealer.set_linger(0).expect("linger");
    dealer
        .connect(&format!("tcp://localhost:{port}"))
        .expect("connect");
    dealer.send("WHAT?", 0).expect("send");
    server.expect_containing("E: bad request, ignored: [", STEP);
    dealer
        .send_multipart(["ICANHAZ?", "/nothing/"], 0)
        .expect("send");
    dealer.set_rcvtimeo(30_000).expect("timeout");
    let reply = dealer.recv_multipart(0).expect("the KTHXBAI");
    assert_eq!(reply.len(), 5, "{reply:?}");
    assert_eq!(reply[0], b"KTHXBAI");
    assert_eq!(reply[1], 2i64.to_be_bytes());
    assert_eq!(reply[4], b"/nothing/");
    client.signal("-INT");
    assert!(client.wait(STEP).success());
    assert!(client.seen.iter().any(|l| l == "2 messages in"));
}
