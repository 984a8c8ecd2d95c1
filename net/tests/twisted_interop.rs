//! Interop with real Twisted over loopback TCP: our clients against
//! Twisted's servers and Twisted's clients against ours, for a plain echo
//! (echoserv.py's protocol), `LineReceiver` and `Int32StringReceiver`.
//!
//! The Twisted side is `tests/peers/twisted_net_peer.py`, run in the interop
//! environment `scripts/interop-env` makes. Without it each test says why it
//! is skipped and passes; with `TX0MQ_REQUIRE_INTEROP=1` it fails instead
//! (see `docs/INTEROP.md`).

use std::net::SocketAddr;
use std::time::Duration;

use tx0mq_net::basic::{
    Int32StringReceiver, LineCtx, LineProtocol, LineReceiver, StringCtx, StringProtocol,
};
use tx0mq_net::{NetCtx, Protocol, ReactorNet, Reason};
use tx0mq_reactor::Reactor;
use tx0mq_test_support::process::Proc;
use tx0mq_test_support::python_or_skip;
use tx0mq_test_support::reactor::{iterate_until, reactor};

const PEER: &str = "twisted_net_peer.py";
/// How long a line from the peer may take (starting Python and Twisted
/// takes seconds on a loaded machine).
const PATIENCE: Duration = Duration::from_secs(60);

/// The payload the peer's echo client sends, and ours: as in the peer.
fn payload() -> Vec<Vec<u8>> {
    vec![
        b"hello".to_vec(),
        Vec::new(),
        b"\x00\xff\r\n\x00".to_vec(),
        (0..1usize << 20).map(|i| (i % 251) as u8).collect(),
        b"end".to_vec(),
    ]
}

fn lines() -> Vec<Vec<u8>> {
    vec![
        b"alpha".to_vec(),
        Vec::new(),
        b"with spaces".to_vec(),
        b"\x00\xff\x7f".to_vec(),
        vec![b'x'; 10_000],
    ]
}

fn strings() -> Vec<Vec<u8>> {
    vec![
        b"one".to_vec(),
        Vec::new(),
        b"\x00\r\n\x00".to_vec(),
        vec![b'y'; 50_000],
    ]
}

fn hex(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "-".to_string();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads the peer's `PORT n` line.
fn peer_port(peer: &mut Proc) -> u16 {
    let line = peer.line(PATIENCE);
    line.strip_prefix("PORT ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("expected PORT, got {line:?}: {}", peer.diagnostics()))
}

fn exits_ok(peer: &mut Proc) {
    let status = peer.wait(PATIENCE);
    assert!(status.success(), "{status:?}: {}", peer.diagnostics());
}

#[derive(Default)]
struct Ours {
    got: Vec<u8>,
    items: Vec<Vec<u8>>,
    lost: Option<Reason>,
}

fn our_lost(reactor: &Reactor<Ours>) -> Reason {
    reactor
        .access_state(|s| s.lost.clone())
        .expect("state")
        .expect("our side's connection_lost")
}

// ---------------------------------------------------------------------------
// Echo

/// Sends the payload, and loses the connection once it all came back.
struct EchoClient {
    expected: usize,
}

impl Protocol<Ours> for EchoClient {
    fn connection_made(&mut self, cx: &mut NetCtx<'_, Ours>) {
        let payload = payload();
        self.expected = payload.iter().map(Vec::len).sum();
        cx.transport.write_sequence(&payload).expect("write");
    }
    fn data_received(&mut self, cx: &mut NetCtx<'_, Ours>, data: &[u8]) {
        cx.state.got.extend_from_slice(data);
        if cx.state.got.len() >= self.expected {
            cx.transport.lose_connection();
        }
    }
    fn connection_lost(&mut self, cx: &mut NetCtx<'_, Ours>, reason: &Reason) {
        cx.state.lost = Some(reason.clone());
    }
}

#[test]
fn our_client_is_echoed_by_twisteds_echo_server() {
    let python = python_or_skip!("our_client_is_echoed_by_twisteds_echo_server");
    let mut peer = python.run_peer(PEER, &["echo-server"]);
    let port = peer_port(&mut peer);
    let reactor = reactor(Ours::default());
    reactor.connect_tcp("127.0.0.1", port, |_| EchoClient { expected: 0 });
    iterate_until(&reactor, "the whole echo", |s| s.lost.is_some());
    let expected = payload().concat();
    reactor
        .access_state(|s| assert!(s.got == expected, "the echo differs"))
        .expect("state");
    assert!(matches!(our_lost(&reactor), Reason::Closed));
    assert_eq!(
        peer.line(PATIENCE),
        format!("LOST ConnectionDone {}", expected.len())
    );
    exits_ok(&mut peer);
}

struct Echo;

impl Protocol<Ours> for Echo {
    fn data_received(&mut self, cx: &mut NetCtx<'_, Ours>, data: &[u8]) {
        cx.state.got.extend_from_slice(data);
        cx.transport.write(data).expect("echo");
    }
    fn connection_lost(&mut self, cx: &mut NetCtx<'_, Ours>, reason: &Reason) {
        cx.state.lost = Some(reason.clone());
    }
}

#[test]
fn twisteds_client_is_echoed_by_our_echo_server() {
    let python = python_or_skip!("twisteds_client_is_echoed_by_our_echo_server");
    let reactor = reactor(Ours::default());
    let port = reactor.listen_tcp("127.0.0.1:0", |_| Echo).expect("listen");
    let port_arg = port.get_host().port().to_string();
    let mut peer = python.run_peer(PEER, &["echo-client", &port_arg]);
    iterate_until(&reactor, "the client's close", |s| s.lost.is_some());
    let total = payload().concat().len();
    assert_eq!(peer.line(PATIENCE), format!("ECHOED {total} ok"));
    assert_eq!(peer.line(PATIENCE), format!("LOST ConnectionDone {total}"));
    exits_ok(&mut peer);
    assert!(matches!(our_lost(&reactor), Reason::PeerClosed));
}

// ---------------------------------------------------------------------------
// Lines

/// Sends the lines and `quit`; records the lines that come back.
struct LineClient;

impl LineProtocol<Ours> for LineClient {
    fn connection_made(&mut self, cx: &mut LineCtx<'_, Ours>) {
        for line in lines() {
            cx.send_line(line).expect("send");
        }
        cx.send_line("quit").expect("send");
    }
    fn line_received(&mut self, cx: &mut LineCtx<'_, Ours>, line: &[u8]) {
        cx.state.items.push(line.to_vec());
    }
    fn connection_lost(&mut self, cx: &mut LineCtx<'_, Ours>, reason: &Reason) {
        cx.state.lost = Some(reason.clone());
    }
}

#[test]
fn our_line_receiver_talks_to_twisteds() {
    let python = python_or_skip!("our_line_receiver_talks_to_twisteds");
    let mut peer = python.run_peer(PEER, &["line-server"]);
    let port = peer_port(&mut peer);
    let reactor = reactor(Ours::default());
    reactor.connect_tcp("127.0.0.1", port, |_: SocketAddr| {
        LineReceiver::new(LineClient).max_length(100_000)
    });
    iterate_until(&reactor, "the server's bye and close", |s| s.lost.is_some());
    let mut expected: Vec<Vec<u8>> = lines()
        .into_iter()
        .map(|l| [&b"got "[..], &l].concat())
        .collect();
    expected.push(b"bye".to_vec());
    reactor
        .access_state(|s| assert!(s.items == expected, "{} lines came back", s.items.len()))
        .expect("state");
    assert!(matches!(our_lost(&reactor), Reason::PeerClosed));
    for line in lines() {
        assert_eq!(peer.line(PATIENCE), format!("LINE {}", hex(&line)));
    }
    assert_eq!(peer.line(PATIENCE), format!("LINE {}", hex(b"quit")));
    assert_eq!(peer.line(PATIENCE), "LOST ConnectionDone 6");
    exits_ok(&mut peer);
}

/// Answers each line with `got LINE`; `quit` with `bye`, then closes.
struct LineServer;

impl LineProtocol<Ours> for LineServer {
    fn line_received(&mut self, cx: &mut LineCtx<'_, Ours>, line: &[u8]) {
        cx.state.items.push(line.to_vec());
        if line == b"quit" {
            cx.send_line("bye").expect("send");
            cx.transport.lose_connection();
        } else {
            cx.send_line([&b"got "[..], line].concat()).expect("send");
        }
    }
    fn connection_lost(&mut self, cx: &mut LineCtx<'_, Ours>, reason: &Reason) {
        cx.state.lost = Some(reason.clone());
    }
}

#[test]
fn twisteds_line_receiver_talks_to_ours() {
    let python = python_or_skip!("twisteds_line_receiver_talks_to_ours");
    let reactor = reactor(Ours::default());
    let port = reactor
        .listen_tcp("127.0.0.1:0", |_| {
            LineReceiver::new(LineServer).max_length(100_000)
        })
        .expect("listen");
    let port_arg = port.get_host().port().to_string();
    let mut peer = python.run_peer(PEER, &["line-client", &port_arg]);
    iterate_until(&reactor, "the client's quit", |s| s.lost.is_some());
    let mut expected = lines();
    expected.push(b"quit".to_vec());
    reactor
        .access_state(|s| assert!(s.items == expected, "{} lines arrived", s.items.len()))
        .expect("state");
    assert!(matches!(our_lost(&reactor), Reason::Closed));
    for line in lines() {
        let answer = [&b"got "[..], &line].concat();
        assert_eq!(peer.line(PATIENCE), format!("LINE {}", hex(&answer)));
    }
    assert_eq!(peer.line(PATIENCE), format!("LINE {}", hex(b"bye")));
    assert_eq!(peer.line(PATIENCE), "LOST ConnectionDone 6");
    exits_ok(&mut peer);
}

// ---------------------------------------------------------------------------
// Length-prefixed strings

/// Sends the strings; closes when all came back.
struct StringClient;

impl StringProtocol<Ours> for StringClient {
    fn connection_made(&mut self, cx: &mut StringCtx<'_, Ours>) {
        for string in strings() {
            cx.send_string(string).expect("send");
        }
    }
    fn string_received(&mut self, cx: &mut StringCtx<'_, Ours>, string: &[u8]) {
        cx.state.items.push(string.to_vec());
        if cx.state.items.len() == strings().len() {
            cx.transport.lose_connection();
        }
    }
    fn connection_lost(&mut self, cx: &mut StringCtx<'_, Ours>, reason: &Reason) {
        cx.state.lost = Some(reason.clone());
    }
}

/// Answers each string reversed.
struct StringServer;

impl StringProtocol<Ours> for StringServer {
    fn string_received(&mut self, cx: &mut StringCtx<'_, Ours>, string: &[u8]) {
        cx.state.items.push(string.to_vec());
        let reversed: Vec<u8> = string.iter().rev().copied().collect();
        cx.send_string(reversed).expect("send");
    }
    fn connection_lost(&mut self, cx: &mut StringCtx<'_, Ours>, reason: &Reason) {
        cx.state.lost = Some(reason.clone());
    }
}

fn reversed(s: &[u8]) -> Vec<u8> {
    s.iter().rev().copied().collect()
}

#[test]
fn int32_strings_go_both_ways_with_twisted() {
    let python = python_or_skip!("int32_strings_go_both_ways_with_twisted");

    // Our client, Twisted's server.
    let mut peer = python.run_peer(PEER, &["string-server"]);
    let port = peer_port(&mut peer);
    let reactor = reactor(Ours::default());
    reactor.connect_tcp("127.0.0.1", port, |_| {
        Int32StringReceiver::new(StringClient)
    });
    iterate_until(&reactor, "the reversed strings", |s| s.lost.is_some());
    let expected: Vec<Vec<u8>> = strings().iter().map(|s| reversed(s)).collect();
    reactor
        .access_state(|s| assert!(s.items == expected, "{} strings came back", s.items.len()))
        .expect("state");
    for string in strings() {
        assert_eq!(peer.line(PATIENCE), format!("LINE {}", hex(&string)));
    }
    assert_eq!(peer.line(PATIENCE), "LOST ConnectionDone 4");
    exits_ok(&mut peer);

    // Twisted's client, our server.
    let reactor = tx0mq_test_support::reactor::reactor(Ours::default());
    let port = reactor
        .listen_tcp("127.0.0.1:0", |_| Int32StringReceiver::new(StringServer))
        .expect("listen");
    let port_arg = port.get_host().port().to_string();
    let mut peer = python.run_peer(PEER, &["string-client", &port_arg]);
    iterate_until(&reactor, "the client's close", |s| s.lost.is_some());
    reactor
        .access_state(|s| assert!(s.items == strings(), "{} strings arrived", s.items.len()))
        .expect("state");
    for string in strings() {
        assert_eq!(
            peer.line(PATIENCE),
            format!("LINE {}", hex(&reversed(&string)))
        );
    }
    assert_eq!(peer.line(PATIENCE), "LOST ConnectionDone 4");
    exits_ok(&mut peer);
    assert!(matches!(our_lost(&reactor), Reason::PeerClosed));
}
