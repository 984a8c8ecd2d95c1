//! The zguide's chapter 7 and 8 ports run as real processes, each wait
//! with a deadline: the three file-transfer models copy a file byte for
//! byte (model 3 a 100 MiB file in bounded memory, its two sides in
//! separate processes, their peak RSS measured), `eagain` shows where the
//! outbox takes over from EAGAIN, the UDP pings find each other on
//! loopback (broadcast to 127.255.255.255, every copy on the same port),
//! and two `dechat`s talk. Interop: a Python credit-based client fetches a
//! file from our `fileio3` server, and Python UDP peers (`tests/peers/
//! udp_peer.py`) and ours find each other.
//!
//! Every test takes its own free port, so they run in parallel.

use std::path::Path;
use std::time::Duration;

use tx0mq_test_support::net::{free_port, TempDir};
use tx0mq_test_support::process::{examples_are_fresh, Proc};
use tx0mq_test_support::python_or_skip;

/// How long any one step may take on a loaded machine.
const STEP: Duration = Duration::from_secs(30);

/// The examples these tests run.
const EXAMPLES: [&str; 8] = [
    "fileio1", "fileio2", "fileio3", "eagain", "udpping1", "udpping2", "udpping3", "dechat",
];

/// Fails unless the examples are newer than their sources (the shared
/// modules `examples/fileio/`, `examples/udplib/` and `examples/interface/`
/// included).
fn fresh() {
    examples_are_fresh("examples_ch78", &EXAMPLES);
}

/// The models' chunk size.
const CHUNK_SIZE: usize = 250_000;

/// Loopback's broadcast address: every socket bound to 0.0.0.0 on the
/// port (with SO_REUSEADDR) hears what is sent there.
const LOOPBACK_BROADCAST: &str = "127.255.255.255";

/// Writes `size` pseudo-random bytes (xorshift64, seeded) to `path`.
fn make_file(path: &Path, size: usize, seed: u64) {
    let mut x = seed | 1;
    let mut data = Vec::with_capacity(size + 8);
    while data.len() < size {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        data.extend_from_slice(&x.to_le_bytes());
    }
    data.truncate(size);
    std::fs::write(path, data).expect("write the test file");
}

/// Whether the two files have the same bytes (compared a megabyte at a time).
fn same_bytes(a: &Path, b: &Path) -> bool {
    use std::io::Read;
    let open =
        |p: &Path| std::fs::File::open(p).unwrap_or_else(|e| panic!("open {}: {e}", p.display()));
    let (mut fa, mut fb) = (open(a), open(b));
    let (mut ba, mut bb) = (vec![0; 1 << 20], vec![0; 1 << 20]);
    loop {
        let na = read_full(&mut fa, &mut ba);
        let nb = read_full(&mut fb, &mut bb);
        if na != nb || ba[..na] != bb[..nb] {
            return false;
        }
        if na == 0 {
            return true;
        }
    }
    fn read_full(f: &mut std::fs::File, buf: &mut [u8]) -> usize {
        let mut filled = 0;
        while filled < buf.len() {
            match f.read(&mut buf[filled..]).expect("read") {
                0 => break,
                n => filled += n,
            }
        }
        filled
    }
}

/// The `N KiB` of a `peak RSS: N KiB` line.
fn peak_rss(process: &mut Proc) -> u64 {
    let line = process.expect_containing("peak RSS: ", STEP);
    line.trim_start_matches("peak RSS: ")
        .trim_end_matches(" KiB")
        .parse()
        .unwrap_or_else(|_| panic!("not a peak RSS line: {line:?}"))
}

/// The flags that put a fileio example's server and client on `port`.
fn fileio_endpoints(port: u16) -> Vec<String> {
    vec![
        "--bind".into(),
        format!("tcp://127.0.0.1:{port}"),
        "--connect".into(),
        format!("tcp://127.0.0.1:{port}"),
    ]
}

/// Runs `example` (both sides in one process) on `file`, checks its lines
/// and that the copy is the file, byte for byte.
fn copies(example: &str, dir: &TempDir, size: usize, chunks: usize) {
    let file = dir.dir().join(format!("{example}-{size}.data"));
    let copy = dir.dir().join(format!("{example}-{size}.copy"));
    make_file(&file, size, size as u64);
    let mut args = vec![
        "--file".to_string(),
        file.display().to_string(),
        "--output".into(),
        copy.display().to_string(),
    ];
    args.extend(fileio_endpoints(free_port()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut run = Proc::spawn(example, &args);
    run.expect_line(&format!("{chunks} chunks received, {size} bytes"), STEP);
    run.expect_line("b'OK'", STEP);
    assert!(run.wait(STEP).success(), "{example} failed");
    assert!(
        same_bytes(&file, &copy),
        "{example}: the copy differs from the file"
    );
}

#[test]
fn fileio1_fileio2_and_fileio3_copy_a_small_file_byte_for_byte() {
    fresh();
    let dir = TempDir::new("fileio-small");
    // 1,234,567 bytes: four full chunks and a short one; fileio1 counts
    // its empty end-of-file chunk too.
    copies("fileio1", &dir, 1_234_567, 6);
    copies("fileio2", &dir, 1_234_567, 5);
    copies("fileio3", &dir, 1_234_567, 5);
    // A whole number of chunks: the end is an empty chunk for every model.
    copies("fileio1", &dir, 2 * CHUNK_SIZE, 3);
    copies("fileio2", &dir, 2 * CHUNK_SIZE, 3);
    copies("fileio3", &dir, 2 * CHUNK_SIZE, 3);
    // An empty file.
    copies("fileio3", &dir, 0, 1);
}

/// Peak RSS each side of fileio3 may reach for a 100 MiB file: the credit
/// window holds ten chunks of 250 kB (2.5 MB) per side; measured about
/// 10 MiB per process (unoptimised build). A side that held the file
/// would pass 100 MiB.
const FILEIO3_RSS_BOUND_KIB: u64 = 40 * 1024;

#[test]
fn fileio3_copies_100_mib_byte_identical_with_bounded_memory_on_both_sides() {
    fresh();
    let dir = TempDir::new("fileio3-big");
    let file = dir.dir().join("testdata");
    let copy = dir.dir().join("copy");
    let size = 100 * 1024 * 1024;
    make_file(&file, size, 42);
    let endpoints = fileio_endpoints(free_port());
    let ep: Vec<&str> = endpoints.iter().map(String::as_str).collect();
    let file_arg = file.display().to_string();
    let copy_arg = copy.display().to_string();

    let mut server_args = vec!["--role", "server", "--file", &file_arg, "--report-memory"];
    server_args.extend(&ep);
    let mut server = Proc::spawn("fileio3", &server_args);
    let mut client_args = vec!["--role", "client", "--output", &copy_arg, "--report-memory"];
    client_args.extend(&ep);
    let mut client = Proc::spawn("fileio3", &client_args);

    client.expect_line(&format!("420 chunks received, {size} bytes"), STEP);
    client.expect_line("b'OK'", STEP);
    let client_kib = peak_rss(&mut client);
    assert!(client.wait(STEP).success(), "the client failed");
    server.signal("-INT");
    let server_kib = peak_rss(&mut server);
    server.wait(STEP);
    println!("fileio3, 100 MiB: peak RSS server {server_kib} KiB, client {client_kib} KiB");

    assert!(same_bytes(&file, &copy), "the copy differs from the file");
    assert!(
        server_kib < FILEIO3_RSS_BOUND_KIB,
        "the server's peak RSS was {server_kib} KiB"
    );
    assert!(
        client_kib < FILEIO3_RSS_BOUND_KIB,
        "the client's peak RSS was {client_kib} KiB"
    );

    // Both sides in one process, as the original runs (where a server at
    // the original's high-water mark loses chunks).
    std::fs::remove_file(&copy).expect("remove the first copy");
    let mut both_args = vec![
        "--file",
        &file_arg,
        "--output",
        &copy_arg,
        "--report-memory",
    ];
    both_args.extend(&ep);
    let mut both = Proc::spawn("fileio3", &both_args);
    both.expect_line(&format!("420 chunks received, {size} bytes"), STEP);
    both.expect_line("b'OK'", STEP);
    let both_kib = peak_rss(&mut both);
    assert!(both.wait(STEP).success(), "fileio3 failed");
    println!("fileio3, 100 MiB, one process: peak RSS {both_kib} KiB");
    assert!(
        same_bytes(&file, &copy),
        "the copy (one process) differs from the file"
    );
    assert!(
        both_kib < FILEIO3_RSS_BOUND_KIB,
        "the peak RSS (one process) was {both_kib} KiB"
    );
}

#[test]
fn interop_a_python_credit_client_fetches_a_file_from_our_fileio3_server() {
    let python =
        python_or_skip!("interop_a_python_credit_client_fetches_a_file_from_our_fileio3_server");
    fresh();
    let dir = TempDir::new("fileio3-python");
    let file = dir.dir().join("testdata");
    let copy = dir.dir().join("copy");
    let size = 10 * 1024 * 1024 + 17;
    make_file(&file, size, 7);
    let endpoints = fileio_endpoints(free_port());
    let file_arg = file.display().to_string();
    let mut server_args = vec!["--role", "server", "--file", &file_arg];
    server_args.extend(endpoints.iter().map(String::as_str));
    let _server = Proc::spawn("fileio3", &server_args);
    let copy_arg = copy.display().to_string();
    let mut client = python.run_peer(
        "udp_peer.py",
        &["fetch", "--connect", &endpoints[3], "--output", &copy_arg],
    );
    client.expect_line(&format!("42 chunks received, {size} bytes"), STEP);
    assert!(client.wait(STEP).success(), "the Python client failed");
    assert!(same_bytes(&file, &copy), "the copy differs from the file");
}

#[test]
fn fileio3_server_reports_a_malformed_request_and_keeps_serving() {
    let python = python_or_skip!("fileio3_server_reports_a_malformed_request_and_keeps_serving");
    fresh();
    let dir = TempDir::new("fileio3-malformed");
    let file = dir.dir().join("testdata");
    make_file(&file, 300_000, 3);
    let endpoints = fileio_endpoints(free_port());
    let file_arg = file.display().to_string();
    let mut server_args = vec!["--role", "server", "--file", &file_arg];
    server_args.extend(endpoints.iter().map(String::as_str));
    let mut server = Proc::spawn("fileio3", &server_args);
    let code = "import sys, zmq\n\
        d = zmq.Context().socket(zmq.DEALER)\n\
        d.setsockopt(zmq.IDENTITY, b'bad-peer')\n\
        d.connect(sys.argv[1])\n\
        d.send_multipart([b'fetch', b'not a number', b'10'])\n\
        d.send_multipart([b'steal'])\n\
        d.send_multipart([b'fetch', b'299990', b'1000000000000'])\n\
        if not d.poll(30000): sys.exit('no reply')\n\
        print(len(d.recv()))\n";
    let mut peer = python.run_code("malformed", code, &[&endpoints[3]]);
    server.expect_line(
        "E: malformed request from b'bad-peer': [b'fetch', b'not a number', b'10']",
        STEP,
    );
    server.expect_line("E: malformed request from b'bad-peer': [b'steal']", STEP);
    // The server still answers, with what the file has (a size of 1 TB
    // allocates nothing of the kind).
    peer.expect_line("10", STEP);
    assert!(peer.wait(STEP).success());
}

#[test]
fn eagain_messages_wait_in_the_outbox_until_its_limit() {
    fresh();
    let endpoint = format!("tcp://127.0.0.1:{}", free_port());
    // By default the outbox takes what libzmq refuses: all ten go.
    let mut run = Proc::spawn("eagain", &["--endpoint", &endpoint]);
    for n in 0..10 {
        run.expect_line(&format!("Sending message {n}"), STEP);
    }
    run.expect_line("outbox: 6 messages waiting", STEP);
    assert!(run.wait(STEP).success());

    // No outbox: the fifth send fails where libzmq says EAGAIN, as in the
    // original.
    let mut run = Proc::spawn("eagain", &["--endpoint", &endpoint, "--outbox-limit", "0"]);
    for n in 0..5 {
        run.expect_line(&format!("Sending message {n}"), STEP);
    }
    let error = run.line(STEP);
    assert!(error.contains("outbox full"), "{error:?}");
    run.expect_line("outbox: 0 messages waiting", STEP);
    assert!(run.wait(STEP).success());

    // The default outbox fills at 10,000 messages: the 10,005th fails.
    let mut run = Proc::spawn("eagain", &["--endpoint", &endpoint, "--messages", "10010"]);
    run.expect_line("Sending message 10004", STEP);
    let error = run.line(STEP);
    assert!(error.contains("outbox full (10000 messages"), "{error:?}");
    run.expect_line("outbox: 10000 messages waiting", STEP);
    assert!(run.wait(STEP).success());
}

/// The flags that put a UDP ping on `port`, broadcasting on loopback.
fn udp_args(port: u16, interval_ms: u32) -> Vec<String> {
    vec![
        "--port".into(),
        port.to_string(),
        "--broadcast".into(),
        LOOPBACK_BROADCAST.into(),
        "--interval-ms".into(),
        interval_ms.to_string(),
    ]
}

fn spawn_udp(example: &str, args: &[String]) -> Proc {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Proc::spawn(example, &args)
}

/// Counts the `Pinging peers...` and `Found peer` lines seen so far.
fn pings_and_found(process: &mut Proc) -> (usize, usize) {
    let lines = process.drain();
    let pings = lines.iter().filter(|l| *l == "Pinging peers...").count();
    let found = lines
        .iter()
        .filter(|l| l.starts_with("Found peer "))
        .count();
    (pings, found)
}

/// Two copies of `example` on one port: each hears its own beacons and the
/// other's, so it reports about two beacons per ping of its own (alone, it
/// would report one). Counted over 20 pings after both have started.
fn two_pings_find_each_other(example: &str) {
    let port = free_port();
    let mut a = spawn_udp(example, &udp_args(port, 100));
    let mut b = spawn_udp(example, &udp_args(port, 100));
    a.expect_line("Pinging peers...", STEP);
    b.expect_line("Pinging peers...", STEP);
    let before = [pings_and_found(&mut a), pings_and_found(&mut b)];
    a.expect_times("Pinging peers...", 20, STEP);
    b.expect_times("Pinging peers...", 20, STEP);
    for (i, (name, process)) in [("first", &mut a), ("second", &mut b)]
        .into_iter()
        .enumerate()
    {
        let (pings, found) = pings_and_found(process);
        let (pings, found) = (pings - before[i].0, found - before[i].1);
        assert!(
            found >= pings + 8,
            "{example} ({name}) heard {found} beacons for its own {pings}: not the other's"
        );
        assert!(
            process
                .drain()
                .iter()
                .any(|l| l == &format!("Found peer 127.0.0.1:{port}")),
            "{example} ({name}): no beacon from 127.0.0.1:{port}"
        );
    }
    a.signal("-INT");
    a.expect_line("interrupted", STEP);
    assert!(a.wait(STEP).success());
}

#[test]
fn udpping1_peers_find_each_other_on_loopback() {
    fresh();
    two_pings_find_each_other("udpping1");
}

#[test]
fn udpping2_peers_find_each_other_on_loopback() {
    fresh();
    two_pings_find_each_other("udpping2");
}

#[test]
fn udpping2_does_not_report_beacons_from_its_own_address() {
    fresh();
    let mut args = udp_args(free_port(), 50);
    args.extend(["--address".to_string(), "127.0.0.1".to_string()]);
    let mut ping = spawn_udp("udpping2", &args);
    ping.expect_times("Pinging peers...", 10, STEP);
    let (_, found) = pings_and_found(&mut ping);
    assert_eq!(found, 0, "udpping2 reported its own beacons");
}

/// Our ping and the Python one: each reports the other's beacons (the
/// Python peer sends from a port of its own, so ours names it).
fn interop_ping(example: &str, python: &tx0mq_test_support::python::PythonEnv) {
    let port = free_port();
    let mut peer = python.run_peer(
        "udp_peer.py",
        &[
            "ping",
            "--port",
            &port.to_string(),
            "--broadcast",
            LOOPBACK_BROADCAST,
            "--interval-ms",
            "100",
        ],
    );
    let line = peer.expect_containing("SENDING FROM ", STEP);
    let python_port = line.trim_start_matches("SENDING FROM ").to_string();
    let mut ours = spawn_udp(example, &udp_args(port, 100));
    ours.expect_line(&format!("Found peer 127.0.0.1:{python_port}"), STEP);
    peer.expect_line(&format!("Found peer 127.0.0.1:{port}"), STEP);
}

#[test]
fn interop_udpping1_and_a_python_ping_find_each_other() {
    let python = python_or_skip!("interop_udpping1_and_a_python_ping_find_each_other");
    fresh();
    interop_ping("udpping1", python);
}

#[test]
fn interop_udpping2_and_a_python_ping_find_each_other() {
    let python = python_or_skip!("interop_udpping2_and_a_python_ping_find_each_other");
    fresh();
    interop_ping("udpping2", python);
}

/// The UUID of a `[b'JOINED', b'UUID']` (or `LEFT`) line.
fn uuid_of(line: &str, event: &str) -> Option<String> {
    line.strip_prefix(&format!("[b'{event}', b'"))?
        .strip_suffix("']")
        .map(str::to_string)
}

fn joined(process: &mut Proc) -> String {
    let line = process.expect_matching("a JOINED", STEP, |l| uuid_of(l, "JOINED").is_some());
    uuid_of(&line, "JOINED").unwrap_or_default()
}

#[test]
fn udpping3_peers_join_each_other_and_reap_the_one_that_leaves() {
    fresh();
    let port = free_port();
    let mut args = udp_args(port, 100);
    args.extend(["--peer-expiry-ms".to_string(), "800".to_string()]);
    let mut a = spawn_udp("udpping3", &args);
    // Alone, it hears itself first.
    let a_uuid = joined(&mut a);
    let mut b = spawn_udp("udpping3", &args);
    let b_seen = [joined(&mut b), joined(&mut b)];
    assert!(
        b_seen.contains(&a_uuid),
        "the second did not hear the first: {b_seen:?}"
    );
    let b_uuid = b_seen
        .iter()
        .find(|u| **u != a_uuid)
        .cloned()
        .unwrap_or_default();
    assert_eq!(b_uuid.len(), 32, "{b_seen:?}");
    assert_eq!(joined(&mut a), b_uuid, "the first did not hear the second");

    // The second leaves: the first reaps it (and only it).
    b.signal("-INT");
    b.expect_line("interrupted", STEP);
    let reaping = a.expect_containing("reaping ", STEP);
    assert!(
        reaping.starts_with(&format!("reaping b'{b_uuid}' ")),
        "{reaping:?}"
    );
    a.expect_line(&format!("[b'LEFT', b'{b_uuid}']"), STEP);
    std::thread::sleep(Duration::from_millis(500));
    let left_self = a
        .drain()
        .iter()
        .any(|l| l.contains(&format!("LEFT', b'{a_uuid}")));
    assert!(!left_self, "the first reaped itself");
}

#[test]
fn interop_udpping3_and_a_python_beacon_join_each_other() {
    let python = python_or_skip!("interop_udpping3_and_a_python_beacon_join_each_other");
    fresh();
    let port = free_port();
    let mut peer = python.run_peer(
        "udp_peer.py",
        &[
            "beacon",
            "--port",
            &port.to_string(),
            "--broadcast",
            LOOPBACK_BROADCAST,
            "--interval-ms",
            "100",
        ],
    );
    let line = peer.expect_containing("UUID ", STEP);
    let python_uuid = line.trim_start_matches("UUID ").to_string();
    let mut ours = spawn_udp("udpping3", &udp_args(port, 100));
    let mut ours_seen = vec![joined(&mut ours), joined(&mut ours)];
    assert!(
        ours_seen.contains(&python_uuid),
        "ours did not hear Python: {ours_seen:?}"
    );
    ours_seen.retain(|u| *u != python_uuid);
    let heard = peer.expect_containing("JOINED ", STEP);
    assert_eq!(
        heard,
        format!("JOINED {}", ours_seen[0]),
        "Python did not hear ours"
    );
}

#[test]
fn dechat_instances_exchange_lines_on_loopback() {
    fresh();
    let port = free_port().to_string();
    let mut alice = Proc::spawn(
        "dechat",
        &["lo", "alice", "--port", &port, "--address", "127.0.0.2"],
    );
    let mut bob = Proc::spawn(
        "dechat",
        &["lo", "bob", "--port", &port, "--address", "127.0.0.3"],
    );
    let started = format!("starting chat on lo:{port} (127.0.0.*)");
    alice.expect_line(&started, STEP);
    bob.expect_line(&started, STEP);
    // SUB connections join when they join: say it until it is heard.
    let deadline = std::time::Instant::now() + STEP;
    loop {
        alice.write_stdin("hello from alice\n");
        if bob.drain().iter().any(|l| l == "alice: hello from alice") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "bob never heard alice"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    bob.write_stdin("hi alice\n");
    alice.expect_line("bob: hi alice", STEP);
    bob.expect_line("bob: hi alice", STEP);
    // End of input ends the chat.
    alice.close_stdin();
    assert!(alice.wait(STEP).success());
}

#[test]
fn interop_our_fileio3_client_fetches_a_file_from_a_python_server() {
    let python = python_or_skip!("interop_our_fileio3_client_fetches_a_file_from_a_python_server");
    fresh();
    let dir = TempDir::new("fileio3-python-server");
    let file = dir.dir().join("testdata");
    let copy = dir.dir().join("copy");
    let size = 5 * 1024 * 1024 + 3;
    make_file(&file, size, 11);
    let endpoints = fileio_endpoints(free_port());
    let file_arg = file.display().to_string();
    let mut server = python.run_peer(
        "udp_peer.py",
        &["serve", "--bind", &endpoints[1], "--file", &file_arg],
    );
    server.expect_line("READY", STEP);
    let copy_arg = copy.display().to_string();
    let mut client_args = vec!["--role", "client", "--output", &copy_arg];
    client_args.extend(endpoints.iter().map(String::as_str));
    let mut client = Proc::spawn("fileio3", &client_args);
    client.expect_line(&format!("21 chunks received, {size} bytes"), STEP);
    client.expect_line("b'OK'", STEP);
    assert!(client.wait(STEP).success(), "our client failed");
    assert!(same_bytes(&file, &copy), "the copy differs from the file");
}

#[test]
fn interop_dechat_and_a_python_chat_peer_hear_each_other() {
    let python = python_or_skip!("interop_dechat_and_a_python_chat_peer_hear_each_other");
    fresh();
    let port = free_port().to_string();
    let mut ours = Proc::spawn(
        "dechat",
        &["lo", "alice", "--port", &port, "--address", "127.0.0.2"],
    );
    let mut peer = python.run_peer(
        "udp_peer.py",
        &[
            "chat",
            "--address",
            "127.0.0.4",
            "--port",
            &port,
            "--user",
            "carol",
        ],
    );
    ours.expect_line(&format!("starting chat on lo:{port} (127.0.0.*)"), STEP);
    peer.expect_line("READY", STEP);
    let deadline = std::time::Instant::now() + STEP;
    loop {
        peer.write_stdin("hello from python\n");
        if ours.drain().iter().any(|l| l == "carol: hello from python") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "dechat never heard Python"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let deadline = std::time::Instant::now() + STEP;
    loop {
        ours.write_stdin("hello from rust\n");
        if peer.drain().iter().any(|l| l == "alice: hello from rust") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "Python never heard dechat"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
