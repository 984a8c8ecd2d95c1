//! The ports of Twisted's network examples (echoserv, echoclient,
//! chatserver), `tcp_to_pub` and `reactor_per_core` run as real processes, each wait with a
//! deadline, checking what they print and what they send. Servers listen on
//! `127.0.0.1` port 0 (`--port 0` makes them print the port); `tcp_to_pub`
//! publishes on an `ipc://` endpoint in a private directory.
//!
//! The interop tests at the end run the Python originals (Twisted's
//! echoserv.py and echoclient.py, with the port as an argument) and a txZMQ
//! subscriber against the ports, in the interop environment
//! `scripts/interop-env` makes; without it they say why they skip, or fail
//! under `TX0MQ_REQUIRE_INTEROP=1` (see `docs/INTEROP.md`).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tx0mq_test_support::net::{free_port, TempDir};
use tx0mq_test_support::process::{examples_are_fresh, Proc};
use tx0mq_test_support::python_or_skip;

/// How long any one expected line or exit may take, on a loaded machine.
const PATIENCE: Duration = Duration::from_secs(60);

/// The examples these tests run.
const EXAMPLES: [&str; 5] = [
    "echoserv",
    "echoclient",
    "chatserver",
    "tcp_to_pub",
    "reactor_per_core",
];

/// Starts `name` on 127.0.0.1, port 0, and returns it with its port.
fn server(name: &str, extra: &[&str]) -> (Proc, u16) {
    examples_are_fresh("examples_net", &EXAMPLES);
    let mut args = vec!["--interface", "127.0.0.1", "--port", "0"];
    args.extend_from_slice(extra);
    let mut proc = Proc::spawn(name, &args);
    let line = proc.line(PATIENCE);
    let port = line
        .strip_prefix("Listening on 127.0.0.1:")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{name}: expected the port, got {line:?}"));
    (proc, port)
}

/// Stops a server with SIGTERM, which its reactor turns into a clean stop.
fn terminate(proc: &mut Proc) {
    proc.signal("-TERM");
    let status = proc.wait(PATIENCE);
    assert!(status.success(), "{} exited with {status:?}", proc.name);
}

fn exits_with(proc: &mut Proc, code: i32) {
    let status = proc.wait(PATIENCE);
    assert_eq!(
        status.code(),
        Some(code),
        "{}: {}",
        proc.name,
        proc.diagnostics()
    );
}

/// What echoclient prints against an echo server, Twisted's or ours.
const ECHO_TRANSCRIPT: [&str; 4] = [
    "receive: b'Hello, world!'",
    "receive: b'What a fine day it is.'",
    "receive: b'Bye-bye!'",
    "connection lost: Connection was closed cleanly.",
];

fn connect(port: u16) -> TcpStream {
    let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(PATIENCE))
        .expect("read timeout");
    stream
}

#[test]
fn echoclient_gets_its_three_lines_back_from_echoserv() {
    let (mut echoserv, port) = server("echoserv", &[]);
    let port = port.to_string();
    for host in ["127.0.0.1", "localhost"] {
        let mut client = Proc::spawn("echoclient", &["--host", host, "--port", &port]);
        for line in ECHO_TRANSCRIPT {
            assert_eq!(client.line(PATIENCE), line, "against {host}");
        }
        exits_with(&mut client, 0);
        assert_eq!(client.seen.len(), 4, "{:#?}", client.seen);
    }
    terminate(&mut echoserv);
    assert_eq!(
        echoserv.seen,
        ["Listening on 127.0.0.1:".to_string() + &port]
    );
}

#[test]
fn echoserv_echoes_any_bytes() {
    let (mut echoserv, port) = server("echoserv", &[]);
    let mut stream = connect(port);
    let data: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
    stream.write_all(&data).expect("write");
    let mut back = vec![0u8; data.len()];
    std::io::Read::read_exact(&mut stream, &mut back).expect("the echo");
    assert!(back == data);
    drop(stream);
    terminate(&mut echoserv);
}

#[test]
fn echoclient_without_a_server_fails_with_status_1() {
    examples_are_fresh("examples_net", &EXAMPLES);
    // Nothing listens on a free port (below the ephemeral range, so no
    // outgoing connection holds it either).
    let port = free_port().to_string();
    let mut client = Proc::spawn("echoclient", &["--host", "127.0.0.1", "--port", &port]);
    assert_eq!(
        client.line(PATIENCE),
        "connection failed: Connection was refused by other side: Connection refused."
    );
    exits_with(&mut client, 1);
}

#[test]
fn chatserver_sends_each_line_to_every_client() {
    let (mut chat, port) = server("chatserver", &[]);
    let mut alice = connect(port);
    chat.expect_line("Got new client!", PATIENCE);
    let bob = connect(port);
    chat.expect_line("Got new client!", PATIENCE);
    let mut alice_reads = BufReader::new(alice.try_clone().expect("clone"));
    let mut bob_reads = BufReader::new(bob.try_clone().expect("clone"));
    let mut line = String::new();

    alice.write_all(b"hi all\r\n").expect("write");
    chat.expect_line("received b'hi all'", PATIENCE);
    for reader in [&mut alice_reads, &mut bob_reads] {
        line.clear();
        reader.read_line(&mut line).expect("the chat line");
        assert_eq!(line, "hi all\n", "every client, the sender included");
    }

    drop(bob_reads);
    drop(bob);
    chat.expect_line("Lost a client!", PATIENCE);
    alice.write_all(b"anyone?\r\n").expect("write");
    chat.expect_line("received b'anyone?'", PATIENCE);
    line.clear();
    alice_reads.read_line(&mut line).expect("the chat line");
    assert_eq!(line, "anyone?\n");
    terminate(&mut chat);
}

/// Writes `probe` lines on `stream` every 50 ms until `stop` is set.
fn probe(stream: TcpStream, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<TcpStream> {
    std::thread::spawn(move || {
        let mut stream = stream;
        let deadline = Instant::now() + PATIENCE;
        while !stop.load(Ordering::SeqCst) && Instant::now() < deadline {
            stream.write_all(b"probe\r\n").expect("write a probe");
            std::thread::sleep(Duration::from_millis(50));
        }
        stream
    })
}

#[test]
fn tcp_to_pub_publishes_each_line_with_its_tag() {
    let dir = TempDir::new("tcp-to-pub");
    let endpoint = dir.ipc("lines");
    let (mut bridge, port) = server("tcp_to_pub", &["--publish", &endpoint, "--tag", "chat"]);

    let context = zmq::Context::new();
    let sub = context.socket(zmq::SUB).expect("a SUB socket");
    sub.set_subscribe(b"chat").expect("subscribe");
    sub.set_rcvtimeo(100).expect("receive timeout");
    sub.connect(&endpoint).expect("connect");

    // A subscriber joins late: probe until the first line comes through.
    let stream = connect(port);
    let line = bridge.line(PATIENCE);
    assert!(line.starts_with("Got new client: 127.0.0.1:"), "{line:?}");
    let stop = Arc::new(AtomicBool::new(false));
    let prober = probe(stream, stop.clone());
    let deadline = Instant::now() + PATIENCE;
    loop {
        match sub.recv_bytes(0) {
            Ok(message) => {
                assert_eq!(message, b"chat\0probe", "txZMQ's tag framing");
                break;
            }
            Err(zmq::Error::EAGAIN) => assert!(Instant::now() < deadline, "no line published"),
            Err(e) => panic!("receive: {e}"),
        }
    }
    stop.store(true, Ordering::SeqCst);
    let mut stream = prober.join().expect("the prober");
    stream
        .write_all(b"hello world\r\nunix ending\nbin\x00ary\r\n")
        .expect("write");
    let mut published = Vec::new();
    let deadline = Instant::now() + PATIENCE;
    while published.len() < 3 {
        match sub.recv_bytes(0) {
            Ok(message) if message == b"chat\0probe" => {}
            Ok(message) => published.push(message),
            Err(zmq::Error::EAGAIN) => assert!(Instant::now() < deadline, "{published:?}"),
            Err(e) => panic!("receive: {e}"),
        }
    }
    assert_eq!(
        published,
        [
            b"chat\0hello world".to_vec(),
            b"chat\0unix ending".to_vec(),
            b"chat\0bin\0ary".to_vec()
        ]
    );
    drop(stream);
    let line = bridge.line(PATIENCE);
    assert!(line.starts_with("Lost a client: 127.0.0.1:"), "{line:?}");
    terminate(&mut bridge);
}

// ---------------------------------------------------------------- interop

/// Twisted's echoserv.py, on 127.0.0.1 and the kernel's port (printed).
const PY_ECHOSERV: &str = r#"
from twisted.internet import reactor
from twisted.internet.protocol import Factory, Protocol

class Echo(Protocol):
    def dataReceived(self, data):
        self.transport.write(data)

f = Factory()
f.protocol = Echo
port = reactor.listenTCP(0, f, interface="127.0.0.1")
print("Listening on 127.0.0.1:%d" % port.getHost().port, flush=True)
reactor.callLater(60, reactor.stop)
reactor.run()
"#;

/// Twisted's echoclient.py, with the port as its argument.
const PY_ECHOCLIENT: &str = r#"
import sys
from twisted.internet import task
from twisted.internet.defer import Deferred
from twisted.internet.protocol import ClientFactory
from twisted.protocols.basic import LineReceiver

class EchoClient(LineReceiver):
    end = b"Bye-bye!"

    def connectionMade(self):
        self.sendLine(b"Hello, world!")
        self.sendLine(b"What a fine day it is.")
        self.sendLine(self.end)

    def lineReceived(self, line):
        print("receive:", line, flush=True)
        if line == self.end:
            self.transport.loseConnection()

class EchoClientFactory(ClientFactory):
    protocol = EchoClient

    def __init__(self):
        self.done = Deferred()

    def clientConnectionFailed(self, connector, reason):
        print("connection failed:", reason.getErrorMessage(), flush=True)
        self.done.errback(reason)

    def clientConnectionLost(self, connector, reason):
        print("connection lost:", reason.getErrorMessage(), flush=True)
        self.done.callback(None)

def main(reactor):
    factory = EchoClientFactory()
    reactor.connectTCP("localhost", int(sys.argv[1]), factory)
    return factory.done

task.react(main)
"#;

#[test]
fn interop_echo_examples_with_twisteds_originals() {
    let python = python_or_skip!("interop_echo_examples_with_twisteds_originals");
    examples_are_fresh("examples_net", &EXAMPLES);

    // Our echoclient, Twisted's echoserv.py.
    let mut py_server = python.run_code("echoserv.py", PY_ECHOSERV, &[]);
    let line = py_server.line(PATIENCE);
    let port = line
        .strip_prefix("Listening on 127.0.0.1:")
        .unwrap_or_else(|| panic!("{line:?}"))
        .to_string();
    let mut client = Proc::spawn("echoclient", &["--host", "127.0.0.1", "--port", &port]);
    for line in ECHO_TRANSCRIPT {
        assert_eq!(client.line(PATIENCE), line);
    }
    exits_with(&mut client, 0);
    py_server.kill();

    // Twisted's echoclient.py, our echoserv: the same transcript.
    let (mut echoserv, port) = server("echoserv", &[]);
    let port = port.to_string();
    let mut py_client = python.run_code("echoclient.py", PY_ECHOCLIENT, &[&port]);
    for line in ECHO_TRANSCRIPT {
        assert_eq!(py_client.line(PATIENCE), line);
    }
    exits_with(&mut py_client, 0);
    terminate(&mut echoserv);
}

/// A txZMQ subscriber: prints each (message, tag) it gets.
const PY_TXZMQ_SUB: &str = r#"
import sys
from twisted.internet import reactor
from txzmq import ZmqEndpoint, ZmqFactory, ZmqSubConnection

factory = ZmqFactory()
sub = ZmqSubConnection(factory, ZmqEndpoint("connect", sys.argv[1]))
sub.subscribe(b"lines")

def got(message, tag):
    print("got", repr(message), repr(tag), flush=True)
    if message == b"done":
        reactor.stop()

sub.gotMessage = got
print("ready", flush=True)
reactor.callLater(60, reactor.stop)
reactor.run()
"#;

#[test]
fn interop_tcp_to_pub_with_a_txzmq_subscriber() {
    let python = python_or_skip!("interop_tcp_to_pub_with_a_txzmq_subscriber");
    let dir = TempDir::new("tcp-to-pub-py");
    let endpoint = dir.ipc("lines");
    let (mut bridge, port) = server("tcp_to_pub", &["--publish", &endpoint]);
    let mut py_sub = python.run_code("txzmq_sub.py", PY_TXZMQ_SUB, &[&endpoint]);
    assert_eq!(py_sub.line(PATIENCE), "ready");
    let stream = connect(port);
    let stop = Arc::new(AtomicBool::new(false));
    let prober = probe(stream, stop.clone());
    py_sub.expect_line("got b'probe' b'lines'", PATIENCE);
    stop.store(true, Ordering::SeqCst);
    let mut stream = prober.join().expect("the prober");
    stream
        .write_all(b"from TCP to txZMQ\r\ndone\r\n")
        .expect("write");
    py_sub.expect_line("got b'from TCP to txZMQ' b'lines'", PATIENCE);
    py_sub.expect_line("got b'done' b'lines'", PATIENCE);
    exits_with(&mut py_sub, 0);
    drop(stream);
    terminate(&mut bridge);
}

#[test]
fn reactor_per_core_spreads_requests_over_its_reactor_threads_and_stops_all_on_sigint() {
    examples_are_fresh("examples_net", &EXAMPLES);
    let endpoint = tx0mq_test_support::net::tcp();
    let mut server = Proc::spawn(
        "reactor_per_core",
        &[
            "--reactors",
            "2",
            "--endpoint",
            &endpoint,
            "--work-us",
            "200",
        ],
    );
    assert_eq!(
        server.line(PATIENCE),
        format!("serving {endpoint} with 2 reactor threads")
    );
    let context = zmq::Context::new();
    let req = context.socket(zmq::REQ).unwrap();
    req.set_rcvtimeo(60_000).unwrap();
    req.set_linger(0).unwrap();
    req.connect(&endpoint).unwrap();
    let mut by = std::collections::BTreeMap::<String, usize>::new();
    for n in 0..10 {
        req.send(format!("Hello {n}").as_bytes(), 0).unwrap();
        let reply = String::from_utf8(req.recv_bytes(0).unwrap()).unwrap();
        let (who, rest) = reply.split_once(": ").unwrap();
        assert!(rest.starts_with(&format!("b'Hello {n}' (")), "{reply}");
        *by.entry(who.to_string()).or_default() += 1;
    }
    assert_eq!(
        by.keys().collect::<Vec<_>>(),
        ["reactor-0", "reactor-1"],
        "both reactor threads answer: {by:?}"
    );
    server.signal("-INT");
    let mut answered = 0;
    for _ in 0..2 {
        let line = server.line(PATIENCE);
        let count: usize = line
            .strip_suffix(" requests")
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("expected a count, got {line:?}"));
        answered += count;
    }
    assert_eq!(answered, 10);
    assert!(server.wait(PATIENCE).success());
}
