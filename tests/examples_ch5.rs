//! The zguide's chapter 5 ports, reliable pub-sub and the Clone models one
//! to four, run as real processes, each wait with a deadline: the Espresso
//! proxy capturing what it forwards; the last value cache answering a late
//! subscriber at once; the Suicidal Snail detecting its own slowness; and
//! the Clone models, whose servers and clients print a digest of their
//! key-value maps (`I: map holds N keys, digest HEX`) so that a client's
//! map is compared with its server's exactly. The main Clone test runs
//! models three and four: a client that joins after 10,000 updates gets
//! the snapshot, then the stream, and ends with the server's map. Interop: the same with
//! Python clients against our server and with our clients against a Python
//! server (`tests/peers/clone_simple.py`, same protocol).
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
const EXAMPLES: [&str; 13] = [
    "espresso",
    "pathopub",
    "pathosub",
    "lvcache",
    "suisnail",
    "clonesrv1",
    "clonecli1",
    "clonesrv2",
    "clonecli2",
    "clonesrv3",
    "clonecli3",
    "clonesrv4",
    "clonecli4",
];

/// Fails unless the examples are newer than their sources (the shared
/// module `examples/kvsimple/` included).
fn fresh() {
    examples_are_fresh("examples_ch5", &EXAMPLES);
}

/// `tcp://127.0.0.1:PORT`.
fn local(port: u16) -> String {
    format!("tcp://127.0.0.1:{port}")
}

/// Whether `line` is a map digest line.
fn is_digest(line: &str) -> bool {
    line.starts_with("I: map holds ") && line.contains(" keys, digest ")
}

/// The number of keys of a digest line.
fn keys_of(digest: &str) -> usize {
    digest
        .strip_prefix("I: map holds ")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_default()
}

/// FNV-1a (64 bits) of `entries` in key order, as `examples/kvsimple`
/// prints it.
fn digest_line(entries: &[(&str, &str)]) -> String {
    let mut entries = entries.to_vec();
    entries.sort();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for (key, body) in &entries {
        let bytes = [key.as_bytes(), b"\0", body.as_bytes(), b"\n"].concat();
        for byte in bytes {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("I: map holds {} keys, digest {hash:016x}", entries.len())
}

/// Runs `name` with `args` and checks it exits 2 (a usage error).
fn refused(name: &str, args: &[&str]) {
    let mut proc = Proc::spawn(name, args);
    let status = proc.wait(STEP);
    assert_eq!(status.code(), Some(2), "{name} {args:?}: {status:?}");
}

#[test]
fn espresso_captures_subscriptions_and_messages_through_its_proxy() {
    fresh();
    let (publisher, proxy) = (free_port(), free_port());
    let mut espresso = Proc::spawn(
        "espresso",
        &[
            "--publisher",
            &local(publisher),
            "--xsub",
            &local(publisher),
            "--xpub",
            &local(proxy),
            "--subscriber",
            &local(proxy),
            "--interval-ms",
            "20",
            "--seed",
            "5",
        ],
    );
    espresso.expect_line("Subscriber received 5 messages", STEP);
    // The subscriber leaves: its unsubscriptions pass the proxy too.
    espresso.expect_line("[b'sub', b'\\x00A']", STEP);
    espresso.expect_line("[b'sub', b'\\x00B']", STEP);
    let seen = espresso.seen.clone();
    // Both subscriptions were captured before the subscriber left.
    for topic in ["A", "B"] {
        let line = format!("[b'sub', b'\\x01{topic}']");
        assert!(seen.contains(&line), "{line}: {seen:#?}");
    }
    // The messages captured are those subscribed to (the publisher
    // filters), A-NNNNN or B-NNNNN, at least the five counted.
    let published: Vec<&String> = seen.iter().filter(|l| l.starts_with("[b'pub', ")).collect();
    assert!(published.len() >= 5, "{seen:#?}");
    for line in published {
        let message = line
            .strip_prefix("[b'pub', b'")
            .and_then(|rest| rest.strip_suffix("']"))
            .unwrap_or_default();
        let (letter, number) = message.split_once('-').unwrap_or_default();
        assert!(
            ["A", "B"].contains(&letter) && number.len() == 5 && number.parse::<u32>().is_ok(),
            "{line}"
        );
    }
    espresso.signal("-INT");
    espresso.expect_line("Interrupted", STEP);
    assert!(espresso.wait(STEP).success());
}

#[test]
fn pathosub_prints_its_topic_from_pathopub() {
    fresh();
    let port = free_port();
    let mut subscriber = Proc::spawn("pathosub", &[&local(port), "--topic", "042"]);
    let mut publisher = Proc::spawn(
        "pathopub",
        &[
            &local(port),
            "--settle-ms",
            "1500",
            "--interval-ms",
            "10",
            "--updates",
            "20",
        ],
    );
    subscriber.expect_line("Save Roger", STEP);
    // pathopub stops after its random updates, and says nothing.
    assert!(publisher.wait(STEP).success());
    assert!(publisher.seen.is_empty(), "{:#?}", publisher.seen);
    // Every line pathosub printed is a body of its topic.
    for line in subscriber.drain() {
        assert!(
            line == "Save Roger" || line == "Off with his head!",
            "{line}"
        );
    }
}

#[test]
fn lvcache_gives_a_late_subscriber_the_last_value_at_once() {
    fresh();
    let (upstream, downstream) = (free_port(), free_port());
    let mut cache = Proc::spawn(
        "lvcache",
        &[
            "--frontend",
            &local(upstream),
            "--backend",
            &local(downstream),
        ],
    );
    // The random updates come only once a minute: a value a subscriber gets
    // before that is the cache's.
    let _publisher = Proc::spawn(
        "pathopub",
        &[
            &local(upstream),
            "--settle-ms",
            "500",
            "--interval-ms",
            "60000",
        ],
    );
    // A first subscriber to the last topic: once it has its value, the
    // cache holds all 1,000.
    let context = zmq::Context::new();
    let first = context.socket(zmq::SUB).expect("a SUB socket");
    first.set_subscribe(b"999").expect("subscribe");
    first.set_rcvtimeo(1000).expect("a receive timeout");
    first.connect(&local(downstream)).expect("connect");
    let deadline = Instant::now() + STEP;
    loop {
        match first.recv_multipart(0) {
            Ok(message) => {
                assert_eq!(message, [b"999".to_vec(), b"Save Roger".to_vec()]);
                break;
            }
            Err(e) => assert!(Instant::now() < deadline, "no topic 999: {e}"),
        }
    }
    // The late subscriber prints its topic's last value at once.
    let start = Instant::now();
    let mut late = Proc::spawn("pathosub", &[&local(downstream), "--topic", "123"]);
    late.expect_line("Save Roger", STEP);
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "the value came late: {:?}",
        start.elapsed()
    );
    cache.expect_line("Sending cached topic b'123'", STEP);
}

#[test]
fn suisnail_detects_its_slow_subscriber_and_stops() {
    fresh();
    let port = free_port();
    let mut snail = Proc::spawn(
        "suisnail",
        &[
            "--publisher",
            &local(port),
            "--subscriber",
            &local(port),
            "--seed",
            "1",
        ],
    );
    let status = snail.wait(STEP);
    assert!(status.success(), "{status:?}: {:#?}", snail.stderr());
    assert_eq!(snail.stderr(), ["E: subscriber cannot keep up, aborting"]);
}

#[test]
fn clonecli1_ends_with_the_map_clonesrv1_published() {
    fresh();
    let port = free_port();
    let mut client = Proc::spawn(
        "clonecli1",
        &["--subscriber", &local(port), "--until", "2000"],
    );
    let mut server = Proc::spawn(
        "clonesrv1",
        &[
            "--publisher",
            &local(port),
            "--settle-ms",
            "1500",
            "--interval-ms",
            "1",
            "--updates",
            "2000",
            "--seed",
            "7",
        ],
    );
    server.expect_line("2000 messages out", STEP);
    let published = server.expect_matching("the server's digest", STEP, is_digest);
    client.expect_line("2000 messages in", STEP);
    let received = client.expect_matching("the client's digest", STEP, is_digest);
    assert_eq!(received, published);
    assert!(keys_of(&published) > 1000, "{published}");
    assert!(server.wait(STEP).success());
    assert!(client.wait(STEP).success());
}

/// The sequence number of a `Received snapshot=N` line (clonecli2's).
fn snapshot_of(line: &str) -> Option<u32> {
    line.strip_prefix("Received snapshot=")?.parse().ok()
}

#[test]
fn clonecli2_gets_the_snapshot_of_clonesrv2_and_then_its_stream() {
    fresh();
    let (snapshot, publisher) = (free_port(), free_port());
    let endpoints = [
        "--snapshot",
        &local(snapshot),
        "--subscriber",
        &local(publisher),
    ];
    let mut server = Proc::spawn(
        "clonesrv2",
        &[
            "--snapshot",
            &local(snapshot),
            "--publisher",
            &local(publisher),
            "--interval-ms",
            "1",
            "--updates",
            "3000",
            "--seed",
            "3",
        ],
    );
    // A client joins while the updates flow (3,000 at most one a
    // millisecond): a snapshot, then the rest from the stream.
    std::thread::sleep(Duration::from_millis(500));
    let mut args = endpoints.to_vec();
    args.extend(["--until", "3000"]);
    let mut joining = Proc::spawn("clonecli2", &args);
    let line = joining.expect_matching("the snapshot", STEP, |l| snapshot_of(l).is_some());
    let joined_at = snapshot_of(&line).unwrap_or_default();
    assert!(joined_at < 3000, "joined after the last update: {line}");
    let received = joining.expect_matching("the client's digest", STEP, is_digest);
    // The state manager's map once it applied the 3,000th update.
    let whole = server.expect_matching("the state manager's digest", STEP, is_digest);
    assert_eq!(received, whole, "joined at {joined_at}");
    assert!(joining.wait(STEP).success());

    // A client joining after the last update has it all in the snapshot.
    let mut late = Proc::spawn("clonecli2", &args);
    late.expect_line("Received snapshot=3000", STEP);
    let received = late.expect_matching("the late client's digest", STEP, is_digest);
    assert_eq!(received, whole);
    assert!(late.wait(STEP).success());
    server.expect_line("Sending state shapshot=3000", STEP);
    let first = format!("Sending state shapshot={joined_at}");
    assert!(server.seen.contains(&first), "{:#?}", server.seen);
}

/// A kvsimple message as a test-side server sends it: key, sequence, body.
fn kv_frames(sequence: i32, key: &str, body: &str) -> Vec<Vec<u8>> {
    vec![
        key.as_bytes().to_vec(),
        sequence.to_be_bytes().to_vec(),
        body.as_bytes().to_vec(),
    ]
}

/// Answers the next `ICANHAZ?` on `router` with `entries`, then `KTHXBAI`
/// at `sequence`.
fn answer_snapshot(router: &zmq::Socket, entries: &[(i32, &str, &str)], sequence: i32) {
    let request = router.recv_multipart(0).expect("a snapshot request");
    assert_eq!(request.get(1).map(Vec::as_slice), Some(&b"ICANHAZ?"[..]));
    let identity = request[0].clone();
    for (n, key, body) in entries {
        let mut frames = vec![identity.clone()];
        frames.extend(kv_frames(*n, key, body));
        router.send_multipart(frames, 0).expect("a snapshot entry");
    }
    let mut end = vec![identity];
    end.extend(kv_frames(sequence, "KTHXBAI", ""));
    router.send_multipart(end, 0).expect("KTHXBAI");
}

#[test]
fn clonecli2_asks_again_when_its_snapshot_and_stream_leave_a_gap() {
    fresh();
    // The server's part, played here: a snapshot up to 2, then update 4
    // (3 never reaches the client, as when the subscription is taken in
    // late). The client must ask again; the second snapshot (up to 3)
    // with the update kept meanwhile (4) and the stream (5, 6) make the
    // whole map.
    let (snapshot, publisher) = (free_port(), free_port());
    let context = zmq::Context::new();
    let router = context.socket(zmq::ROUTER).expect("a ROUTER socket");
    router.set_rcvtimeo(30_000).expect("a receive timeout");
    router.bind(&local(snapshot)).expect("bind");
    let xpub = context.socket(zmq::XPUB).expect("an XPUB socket");
    xpub.set_rcvtimeo(30_000).expect("a receive timeout");
    xpub.bind(&local(publisher)).expect("bind");
    let mut client = Proc::spawn(
        "clonecli2",
        &[
            "--snapshot",
            &local(snapshot),
            "--subscriber",
            &local(publisher),
            "--until",
            "6",
        ],
    );
    assert_eq!(xpub.recv_bytes(0).expect("the subscription"), b"\x01");
    answer_snapshot(&router, &[(1, "a", "1"), (2, "b", "2")], 2);
    client.expect_line("Received snapshot=2", STEP);
    xpub.send_multipart(kv_frames(4, "d", "4"), 0)
        .expect("publish");
    client.expect_line(
        "I: update 4 does not follow 2, asking for a new snapshot",
        STEP,
    );
    // The stream goes on while the client waits for its new snapshot.
    xpub.send_multipart(kv_frames(5, "a", "5"), 0)
        .expect("publish");
    answer_snapshot(&router, &[(1, "a", "1"), (2, "b", "2"), (3, "c", "3")], 3);
    client.expect_line("Received snapshot=3", STEP);
    xpub.send_multipart(kv_frames(6, "e", "6"), 0)
        .expect("publish");
    let held = client.expect_matching("the client's digest", STEP, is_digest);
    assert_eq!(
        held,
        digest_line(&[("a", "5"), ("b", "2"), ("c", "3"), ("d", "4"), ("e", "6")])
    );
    assert!(client.wait(STEP).success());
}

/// Who plays a part of the Clone model three scene: our example or the
/// Python peer.
#[derive(Clone, Copy, Debug)]
enum Side {
    Ours,
    Python,
}

/// The three ports of a Clone server.
struct CloneServer {
    snapshot: u16,
    publisher: u16,
    collector: u16,
}

impl CloneServer {
    fn new() -> CloneServer {
        CloneServer {
            snapshot: free_port(),
            publisher: free_port(),
            collector: free_port(),
        }
    }

    fn start(&self, side: Side, model: u8, until: u32) -> Proc {
        let args = [
            "--snapshot".to_string(),
            local(self.snapshot),
            "--publisher".into(),
            local(self.publisher),
            "--collector".into(),
            local(self.collector),
            "--until".into(),
            until.to_string(),
        ];
        spawn(side, &format!("clonesrv{model}"), "server", &args)
    }

    fn client(&self, side: Side, model: u8, extra: &[&str]) -> Proc {
        let mut args = vec![
            "--snapshot".to_string(),
            local(self.snapshot),
            "--subscriber".into(),
            local(self.publisher),
            "--publisher".into(),
            local(self.collector),
        ];
        if model == 4 {
            // The Python peer keeps to a subtree only when told to.
            args.extend(["--subtree".to_string(), "/client/".to_string()]);
        }
        args.extend(extra.iter().map(|a| a.to_string()));
        spawn(side, &format!("clonecli{model}"), "client", &args)
    }
}

fn spawn(side: Side, name: &str, mode: &str, args: &[String]) -> Proc {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match side {
        Side::Ours => Proc::spawn(name, &args),
        Side::Python => {
            let python = tx0mq_test_support::python::interop_env("clone peer")
                .expect("the interop environment, checked by the test");
            let mut all = vec![mode];
            all.extend(args);
            python.run_peer("clone_simple.py", &all)
        }
    }
}

/// The Clone scene of model three or four: a client makes `initial` updates as fast
/// as it can; a second client joins after them, and must print
/// `I: Received snapshot=initial`; a third makes `more` updates, which the
/// second gets from the stream. The second client's map must then be the
/// server's, key for key. (In model four every client writes under
/// `/client/`, the subtree they keep, so that too is the whole map.)
fn late_client_gets_the_servers_map(
    model: u8,
    server_side: Side,
    client_side: Side,
    initial: u32,
    more: u32,
) {
    let total = initial + more;
    let ports = CloneServer::new();
    let mut server = ports.start(server_side, model, total);
    let mut first = ports.client(
        client_side,
        model,
        &[
            "--interval-ms",
            "0",
            "--updates",
            &initial.to_string(),
            "--seed",
            "1",
        ],
    );
    server.expect_line(&format!("I: publishing update {initial:5}"), STEP);

    let until = total.to_string();
    let mut late = ports.client(client_side, model, &["--updates", "0", "--until", &until]);
    late.expect_line(&format!("I: Received snapshot={initial}"), STEP);
    let mut third = ports.client(
        client_side,
        model,
        &[
            "--interval-ms",
            "5",
            "--updates",
            &more.to_string(),
            "--seed",
            "2",
        ],
    );
    // The stream after the snapshot: every update, in order.
    for sequence in initial + 1..=total {
        late.expect_line(&format!("I: received update={sequence}"), STEP);
    }
    late.expect_line(&format!("{total} messages in"), STEP);
    let received = late.expect_matching("the late client's digest", STEP, is_digest);
    server.expect_line(&format!("{total} messages handled"), STEP);
    let held = server.expect_matching("the server's digest", STEP, is_digest);
    assert_eq!(
        received, held,
        "{server_side:?} server, {client_side:?} clients"
    );
    assert!(keys_of(&held) > 5000, "{held}");
    assert!(late.wait(STEP).success());
    assert!(server.wait(STEP).success());
    first.kill();
    third.kill();
}

#[test]
fn clonecli3_joining_after_10000_updates_ends_with_the_servers_exact_map() {
    fresh();
    late_client_gets_the_servers_map(3, Side::Ours, Side::Ours, 10_000, 200);
}

#[test]
fn clonecli4_joining_after_10000_updates_ends_with_the_servers_exact_map() {
    fresh();
    late_client_gets_the_servers_map(4, Side::Ours, Side::Ours, 10_000, 200);
}

#[test]
fn interop_python_clone_clients_against_our_clonesrv3_and_clonesrv4() {
    let _python =
        python_or_skip!("interop_python_clone_clients_against_our_clonesrv3_and_clonesrv4");
    fresh();
    late_client_gets_the_servers_map(3, Side::Ours, Side::Python, 10_000, 200);
    late_client_gets_the_servers_map(4, Side::Ours, Side::Python, 10_000, 200);
}

#[test]
fn interop_our_clonecli3_and_clonecli4_against_a_python_clone_server() {
    let _python =
        python_or_skip!("interop_our_clonecli3_and_clonecli4_against_a_python_clone_server");
    fresh();
    late_client_gets_the_servers_map(3, Side::Python, Side::Ours, 10_000, 200);
    late_client_gets_the_servers_map(4, Side::Python, Side::Ours, 10_000, 200);
}

/// A key-value update as a test-side PUSH sends it to a Clone server.
fn push_update(push: &zmq::Socket, key: &str, body: &str) {
    push.send_multipart([key.as_bytes(), &0i32.to_be_bytes(), body.as_bytes()], 0)
        .expect("push an update");
}

#[test]
fn clonecli4_keeps_to_its_subtree_in_the_snapshot_and_the_stream() {
    fresh();
    let ports = CloneServer::new();
    let mut server = Proc::spawn(
        "clonesrv4",
        &[
            "--snapshot",
            &local(ports.snapshot),
            "--publisher",
            &local(ports.publisher),
            "--collector",
            &local(ports.collector),
        ],
    );
    let context = zmq::Context::new();
    let push = context.socket(zmq::PUSH).expect("a PUSH socket");
    push.connect(&local(ports.collector)).expect("connect");
    push_update(&push, "/client/1", "one");
    push_update(&push, "/other/2", "two");
    server.expect_line("I: publishing update     2", STEP);

    let mut client = Proc::spawn(
        "clonecli4",
        &[
            "--snapshot",
            &local(ports.snapshot),
            "--subscriber",
            &local(ports.publisher),
            "--publisher",
            &local(ports.collector),
            "--updates",
            "0",
            "--until",
            "4",
        ],
    );
    client.expect_line("I: Received snapshot=2", STEP);
    server.expect_line("Sending state shapshot=2", STEP);
    // Outside the subtree: the client does not hear of it.
    push_update(&push, "/other/3", "three");
    push_update(&push, "/client/4", "four");
    client.expect_line("I: received update=4", STEP);
    client.expect_line("4 messages in", STEP);
    let held = client.expect_matching("the client's digest", STEP, is_digest);
    assert_eq!(
        held,
        digest_line(&[("/client/1", "one"), ("/client/4", "four")])
    );
    assert!(
        !client.seen.iter().any(|l| l == "I: received update=3"),
        "{:#?}",
        client.seen
    );
    assert!(client.wait(STEP).success());
}

#[test]
fn clone_servers_report_bad_messages_and_keep_serving() {
    fresh();
    for name in ["clonesrv3", "clonesrv4"] {
        let ports = CloneServer::new();
        let mut server = Proc::spawn(
            name,
            &[
                "--snapshot",
                &local(ports.snapshot),
                "--publisher",
                &local(ports.publisher),
                "--collector",
                &local(ports.collector),
            ],
        );
        let context = zmq::Context::new();
        let push = context.socket(zmq::PUSH).expect("a PUSH socket");
        push.connect(&local(ports.collector)).expect("connect");
        push.send_multipart([&b"key"[..], b"\x01\x02"], 0)
            .expect("push");
        server.expect_containing("E: bad update from a client", STEP);
        let dealer = context.socket(zmq::DEALER).expect("a DEALER socket");
        dealer.set_rcvtimeo(30_000).expect("a receive timeout");
        dealer.connect(&local(ports.snapshot)).expect("connect");
        dealer.send("GIMME", 0).expect("a bad request");
        server.expect_containing("E: bad request", STEP);
        // Still serving: a good update, then a good request.
        push_update(&push, "/client/k", "v");
        server.expect_line("I: publishing update     1", STEP);
        if name == "clonesrv3" {
            dealer.send("ICANHAZ?", 0).expect("a request");
        } else {
            dealer
                .send_multipart(["ICANHAZ?", "/client/"], 0)
                .expect("a request");
        }
        let entry = dealer.recv_multipart(0).expect("the snapshot's entry");
        assert_eq!(
            entry,
            [b"/client/k".to_vec(), vec![0, 0, 0, 1], b"v".to_vec()]
        );
        let end = dealer.recv_multipart(0).expect("KTHXBAI");
        assert_eq!(end[..2], [b"KTHXBAI".to_vec(), vec![0, 0, 0, 1]], "{name}");
        server.expect_line("Sending state shapshot=1", STEP);
        server.signal("-INT");
        server.expect_line(" Interrupted", STEP);
        server.expect_line("1 messages handled", STEP);
        assert!(server.wait(STEP).success(), "{name}");
    }
}

#[test]
fn bad_arguments_are_refused_without_a_panic() {
    fresh();
    refused("clonesrv1", &["--updates", "-1"]);
    refused("clonecli3", &["--interval-ms", "soon"]);
    refused("clonesrv3", &["--until"]);
    refused("suisnail", &["--max-delay-ms", "-5"]);
    refused("espresso", &["--seed", "x"]);
    refused("pathopub", &["a", "b"]);
    // A bad endpoint is an error message and exit 1, not a panic.
    let mut proc = Proc::spawn("lvcache", &["--backend", "nonsense://here"]);
    assert_eq!(proc.wait(STEP).code(), Some(1));
}
