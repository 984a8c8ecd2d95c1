//! TCP transports end to end on loopback, with the reactor in the test
//! process: our server and client against each other, and against plain
//! `std::net` sockets on helper threads where the test needs a peer that
//! misbehaves (never reads, resets, half-closes). Every wait has a deadline;
//! every port is `127.0.0.1:0`.

use std::cell::{Cell, RefCell};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::rc::Rc;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use tx0mq_net::{
    Address, AfterEof, ClientFactory, Connector, ConnectorState, Error, NetCtx, Port, Producer,
    Protocol, ReactorNet, Reason, ReconnectingClientFactory, ServerFactory, Transport,
};
use tx0mq_reactor::{Ctx, Reactor};
use tx0mq_test_support::log as logs;
use tx0mq_test_support::reactor::{
    catching_reactor, fake_clock_reactor, iterate_until, iterate_until_cond, reactor, wait_for,
};

/// How long a helper thread's socket waits for anything.
const PATIENCE: Duration = Duration::from_secs(20);

const ANY: &str = "127.0.0.1:0";

// ---------------------------------------------------------------------------
// Helpers

/// Runs `f` on a plain socket connected to `addr`, on a helper thread; its
/// result comes back through the receiver.
fn std_client<T: Send + 'static>(
    addr: SocketAddr,
    f: impl FnOnce(TcpStream) -> T + Send + 'static,
) -> mpsc::Receiver<T> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let stream = TcpStream::connect(addr).expect("connect to the port under test");
        stream
            .set_read_timeout(Some(PATIENCE))
            .expect("read timeout");
        stream
            .set_write_timeout(Some(PATIENCE))
            .expect("write timeout");
        let _ = tx.send(f(stream));
    });
    rx
}

/// The helper thread's result, iterating `reactor` meanwhile.
fn finish<S: 'static, T>(reactor: &Reactor<S>, rx: &mpsc::Receiver<T>, what: &str) -> T {
    let slot = RefCell::new(None);
    iterate_until_cond(reactor, what, || {
        if slot.borrow().is_none() {
            if let Ok(value) = rx.try_recv() {
                *slot.borrow_mut() = Some(value);
            }
        }
        slot.borrow().is_some()
    });
    slot.into_inner()
        .expect("iterate_until_cond returned with a value")
}

fn read_all(mut stream: TcpStream) -> std::io::Result<Vec<u8>> {
    let mut all = Vec::new();
    stream.read_to_end(&mut all)?;
    Ok(all)
}

/// Byte `i` of the test pattern (not periodic in any power of two, so a
/// chunk lost, repeated or swapped shows).
fn pattern(i: usize) -> u8 {
    (i % 251) as u8
}

fn pattern_chunk(start: usize, len: usize) -> Vec<u8> {
    (start..start + len).map(pattern).collect()
}

fn port_addr<S: 'static>(port: &Port<S>) -> SocketAddr {
    port.get_host()
}

/// A protocol that writes back what it receives, and remembers how its
/// connection ended in the state's `lost`.
struct Echo;

#[derive(Default)]
struct Lost {
    lost: Vec<Reason>,
}

impl Protocol<Lost> for Echo {
    fn data_received(&mut self, cx: &mut NetCtx<'_, Lost>, data: &[u8]) {
        cx.transport.write(data).expect("echo");
    }
    fn connection_lost(&mut self, cx: &mut NetCtx<'_, Lost>, reason: &Reason) {
        cx.state.lost.push(reason.clone());
    }
}

// ---------------------------------------------------------------------------
// Our server, our client

#[derive(Default)]
struct RoundTrip {
    client_got: Vec<u8>,
    server_ends: Option<(Address, Address)>,
    client_ends: Option<(Address, Address)>,
    server_lost: Option<Reason>,
    client_lost: Option<Reason>,
    factory_lost: Option<Reason>,
}

struct EchoServer;

impl Protocol<RoundTrip> for EchoServer {
    fn connection_made(&mut self, cx: &mut NetCtx<'_, RoundTrip>) {
        cx.state.server_ends = Some((cx.transport.get_host(), cx.transport.get_peer()));
    }
    fn data_received(&mut self, cx: &mut NetCtx<'_, RoundTrip>, data: &[u8]) {
        cx.transport.write(data).expect("echo");
    }
    fn connection_lost(&mut self, cx: &mut NetCtx<'_, RoundTrip>, reason: &Reason) {
        cx.state.server_lost = Some(reason.clone());
    }
}

struct HelloClient;

impl Protocol<RoundTrip> for HelloClient {
    fn connection_made(&mut self, cx: &mut NetCtx<'_, RoundTrip>) {
        cx.state.client_ends = Some((cx.transport.get_host(), cx.transport.get_peer()));
        cx.transport
            .write_sequence([&b"hello, "[..], b"world"])
            .expect("write");
    }
    fn data_received(&mut self, cx: &mut NetCtx<'_, RoundTrip>, data: &[u8]) {
        cx.state.client_got.extend_from_slice(data);
        if cx.state.client_got.len() == 12 {
            cx.transport.lose_connection();
        }
    }
    fn connection_lost(&mut self, cx: &mut NetCtx<'_, RoundTrip>, reason: &Reason) {
        cx.state.client_lost = Some(reason.clone());
    }
}

struct HelloFactory;

impl ClientFactory<RoundTrip> for HelloFactory {
    type Protocol = HelloClient;
    fn build_protocol(&mut self, _addr: SocketAddr) -> HelloClient {
        HelloClient
    }
    fn client_connection_failed(
        &mut self,
        _cx: &mut Ctx<'_, RoundTrip>,
        _connector: &Connector<RoundTrip>,
        reason: &Reason,
    ) {
        panic!("the connection failed: {reason}");
    }
    fn client_connection_lost(
        &mut self,
        cx: &mut Ctx<'_, RoundTrip>,
        connector: &Connector<RoundTrip>,
        reason: &Reason,
    ) {
        assert_eq!(connector.state(), ConnectorState::Disconnected);
        assert!(connector.transport().is_none());
        assert!(
            cx.state.client_lost.is_some(),
            "the protocol hears of the loss before the factory"
        );
        cx.state.factory_lost = Some(reason.clone());
    }
}

#[test]
fn our_client_and_server_echo_and_close_cleanly_with_both_ends_known() {
    let reactor = reactor(RoundTrip::default());
    let port = reactor.listen_tcp(ANY, |_| EchoServer).expect("listen");
    let server = port_addr(&port);
    assert_eq!(server.ip().to_string(), "127.0.0.1");
    assert_ne!(server.port(), 0, "the kernel's port is reported");
    let connector = reactor.connect_tcp("127.0.0.1", server.port(), HelloFactory);
    assert_eq!(connector.get_destination(), ("127.0.0.1", server.port()));
    iterate_until(&reactor, "both ends closed", |s| {
        s.server_lost.is_some() && s.factory_lost.is_some()
    });
    reactor
        .access_state(|s| {
            assert_eq!(s.client_got, b"hello, world");
            let (client_host, client_peer) = s.client_ends.expect("client made");
            let (server_host, server_peer) = s.server_ends.expect("server made");
            assert_eq!(client_peer, Address::Tcp(server));
            assert_eq!(server_host, Address::Tcp(server));
            assert_eq!(server_peer, client_host);
            assert!(
                matches!(s.client_lost, Some(Reason::Closed)),
                "{:?}",
                s.client_lost
            );
            assert!(matches!(s.factory_lost, Some(Reason::Closed)));
            assert!(
                matches!(s.server_lost, Some(Reason::PeerClosed)),
                "{:?}",
                s.server_lost
            );
        })
        .expect("state");
    port.stop_listening();
}

#[test]
fn connecting_by_name_resolves_off_the_reactor_thread_and_prefers_ipv4() {
    let reactor = reactor(RoundTrip::default());
    let port = reactor.listen_tcp(ANY, |_| EchoServer).expect("listen");
    let connector = reactor.connect_tcp("localhost", port.get_host().port(), HelloFactory);
    assert_eq!(connector.state(), ConnectorState::Connecting);
    iterate_until(&reactor, "the echo over localhost", |s| {
        s.factory_lost.is_some()
    });
    reactor
        .access_state(|s| {
            assert_eq!(s.client_got, b"hello, world");
            let (_, peer) = s.client_ends.expect("connected");
            assert_eq!(peer, Address::Tcp(port.get_host()));
        })
        .expect("state");
}

// ---------------------------------------------------------------------------
// Closing: lose, abort, half-close, reset

#[derive(Default)]
struct Closing {
    lost: Option<Reason>,
    kept: Option<Transport<Closing>>,
    late_write: Option<String>,
    write_side_lost: bool,
    got: Vec<u8>,
}

/// More than loopback's socket buffers hold (a few MiB each way), so part
/// of it waits in the transport while the peer does not read.
const BIG: usize = 32 << 20;

/// Writes [`BIG`] bytes of the pattern, then loses or aborts the connection,
/// then lets the peer start reading.
struct Flood {
    abort: bool,
    go: mpsc::Sender<()>,
}

impl Protocol<Closing> for Flood {
    fn connection_made(&mut self, cx: &mut NetCtx<'_, Closing>) {
        cx.transport
            .write(pattern_chunk(0, BIG))
            .expect("write 32 MiB");
        assert!(
            cx.transport.buffered() > 0,
            "32 MiB do not fit in the kernel's buffers of an idle reader"
        );
        cx.state.kept = Some(cx.transport.clone());
        if self.abort {
            cx.transport.abort_connection();
            let refused = cx.transport.write(b"more").expect_err("write after abort");
            cx.state.late_write = Some(refused.to_string());
            assert_eq!(cx.transport.buffered(), 0, "abort drops the buffer");
        } else {
            cx.transport.lose_connection();
            // Twisted takes writes until the close completes, and flushes them.
            cx.transport.write(b"tail").expect("write while closing");
        }
        assert!(cx.transport.is_disconnecting());
        let _ = self.go.send(());
    }
    fn data_received(&mut self, _cx: &mut NetCtx<'_, Closing>, _data: &[u8]) {}
    fn connection_lost(&mut self, cx: &mut NetCtx<'_, Closing>, reason: &Reason) {
        cx.state.lost = Some(reason.clone());
        let refused = cx.transport.write(b"late").expect_err("write after close");
        cx.state.late_write = Some(refused.to_string());
        assert!(!cx.transport.is_connected());
    }
}

/// Waits for the server's go, then reads to the end (or a reset).
fn read_after_go(go: mpsc::Receiver<()>) -> impl FnOnce(TcpStream) -> (usize, bool, Vec<u8>) {
    move |mut stream| {
        go.recv_timeout(PATIENCE).expect("the server's go");
        let mut all = Vec::new();
        let ended_cleanly = stream.read_to_end(&mut all).is_ok();
        (all.len(), ended_cleanly, all)
    }
}

#[test]
fn lose_connection_flushes_everything_written_then_closes_cleanly() {
    let reactor = reactor(Closing::default());
    let (go, wait) = mpsc::channel();
    let port = reactor
        .listen_tcp(ANY, move |_| Flood {
            abort: false,
            go: go.clone(),
        })
        .expect("listen");
    let rx = std_client(port_addr(&port), read_after_go(wait));
    let (len, clean, got) = finish(&reactor, &rx, "the client's read to end-of-file");
    iterate_until(&reactor, "connection_lost", |s| s.lost.is_some());
    assert!(clean, "end-of-file, not a reset");
    assert_eq!(len, BIG + 4, "every byte, then end-of-file");
    assert!(got[..BIG] == pattern_chunk(0, BIG)[..], "in order");
    assert_eq!(&got[BIG..], b"tail");
    reactor
        .access_state(|s| {
            assert!(matches!(s.lost, Some(Reason::Closed)), "{:?}", s.lost);
            let late = s.late_write.as_deref().expect("a late write was tried");
            assert!(
                late.contains("the connection is closed (Connection was closed cleanly.)"),
                "{late}"
            );
            let kept = s.kept.as_ref().expect("kept");
            assert!(
                kept.write(b"x").is_err(),
                "a kept handle sees it closed too"
            );
        })
        .expect("state");
}

#[test]
fn abort_connection_drops_the_buffer_and_reports_aborted() {
    let reactor = reactor(Closing::default());
    let (go, wait) = mpsc::channel();
    let port = reactor
        .listen_tcp(ANY, move |_| Flood {
            abort: true,
            go: go.clone(),
        })
        .expect("listen");
    let rx = std_client(port_addr(&port), read_after_go(wait));
    let (len, _, _) = finish(&reactor, &rx, "the client's read to the end");
    assert!(len < BIG, "abort must not flush: {len} bytes arrived");
    iterate_until(&reactor, "connection_lost", |s| s.lost.is_some());
    reactor
        .access_state(|s| {
            assert!(matches!(s.lost, Some(Reason::Aborted)), "{:?}", s.lost);
            let late = s.late_write.as_deref().expect("a late write was tried");
            assert!(
                late.starts_with("cannot write on TCP connection with 127.0.0.1:"),
                "{late}"
            );
        })
        .expect("state");
}

/// Keeps writing after the peer's end-of-file: a half-closeable protocol.
struct HalfCloser;

impl Protocol<Closing> for HalfCloser {
    fn data_received(&mut self, cx: &mut NetCtx<'_, Closing>, data: &[u8]) {
        cx.state.got.extend_from_slice(data);
    }
    fn read_connection_lost(&mut self, cx: &mut NetCtx<'_, Closing>) -> AfterEof {
        let summary = format!("got {} bytes", cx.state.got.len());
        cx.transport
            .write(summary)
            .expect("write after the peer's EOF");
        cx.transport.lose_connection();
        AfterEof::KeepWriting
    }
    fn connection_lost(&mut self, cx: &mut NetCtx<'_, Closing>, reason: &Reason) {
        cx.state.lost = Some(reason.clone());
    }
}

#[test]
fn a_half_closeable_protocol_answers_after_the_peers_end_of_file() {
    let reactor = reactor(Closing::default());
    let port = reactor.listen_tcp(ANY, |_| HalfCloser).expect("listen");
    let rx = std_client(port_addr(&port), |mut stream| {
        stream.write_all(b"0123456789").expect("write");
        stream.shutdown(Shutdown::Write).expect("half-close");
        read_all(stream)
    });
    let answer = finish(&reactor, &rx, "the answer after half-closing").expect("read");
    assert_eq!(answer, b"got 10 bytes");
    iterate_until(&reactor, "connection_lost", |s| s.lost.is_some());
    reactor
        .access_state(|s| assert!(matches!(s.lost, Some(Reason::Closed)), "{:?}", s.lost))
        .expect("state");
}

#[test]
fn by_default_the_peers_end_of_file_flushes_and_closes_with_peer_closed() {
    let reactor = reactor(Lost::default());
    let port = reactor.listen_tcp(ANY, |_| Echo).expect("listen");
    let rx = std_client(port_addr(&port), |mut stream| {
        stream.write_all(b"abc").expect("write");
        stream.shutdown(Shutdown::Write).expect("half-close");
        read_all(stream)
    });
    let echoed = finish(&reactor, &rx, "the echo, then end-of-file").expect("read");
    assert_eq!(echoed, b"abc");
    iterate_until(&reactor, "connection_lost", |s| !s.lost.is_empty());
    reactor
        .access_state(|s| assert!(matches!(s.lost[..], [Reason::PeerClosed]), "{:?}", s.lost))
        .expect("state");
}

/// Shuts its write side after a greeting, and keeps reading.
struct ShutsWriting;

impl Protocol<Closing> for ShutsWriting {
    fn connection_made(&mut self, cx: &mut NetCtx<'_, Closing>) {
        cx.transport.write(b"half").expect("write");
        cx.transport.lose_write_connection();
        let refused = cx
            .transport
            .write(b"more")
            .expect_err("write after lose_write_connection");
        cx.state.late_write = Some(refused.to_string());
    }
    fn data_received(&mut self, cx: &mut NetCtx<'_, Closing>, data: &[u8]) {
        cx.state.got.extend_from_slice(data);
    }
    fn write_connection_lost(&mut self, cx: &mut NetCtx<'_, Closing>) {
        cx.state.write_side_lost = true;
    }
    fn connection_lost(&mut self, cx: &mut NetCtx<'_, Closing>, reason: &Reason) {
        cx.state.lost = Some(reason.clone());
    }
}

#[test]
fn lose_write_connection_sends_end_of_file_and_keeps_reading() {
    let reactor = reactor(Closing::default());
    let port = reactor.listen_tcp(ANY, |_| ShutsWriting).expect("listen");
    let rx = std_client(port_addr(&port), |mut stream| {
        let mut greeting = Vec::new();
        stream
            .read_to_end(&mut greeting)
            .expect("read to the server's EOF");
        stream.write_all(b"after your EOF").expect("write");
        stream.shutdown(Shutdown::Write).expect("half-close");
        greeting
    });
    let greeting = finish(&reactor, &rx, "the greeting and end-of-file");
    assert_eq!(greeting, b"half");
    iterate_until(&reactor, "connection_lost", |s| s.lost.is_some());
    reactor
        .access_state(|s| {
            assert!(s.write_side_lost, "write_connection_lost was called");
            assert_eq!(s.got, b"after your EOF");
            assert!(matches!(s.lost, Some(Reason::PeerClosed)), "{:?}", s.lost);
            let late = s.late_write.as_deref().expect("refused");
            assert!(late.contains("write side was shut down"), "{late}");
        })
        .expect("state");
}

/// Writes data the peer never reads: the peer's close then resets.
struct Unread;

impl Protocol<Closing> for Unread {
    fn connection_made(&mut self, cx: &mut NetCtx<'_, Closing>) {
        cx.transport.write(b"never read").expect("write");
    }
    fn data_received(&mut self, cx: &mut NetCtx<'_, Closing>, data: &[u8]) {
        cx.state.got.extend_from_slice(data);
    }
    fn connection_lost(&mut self, cx: &mut NetCtx<'_, Closing>, reason: &Reason) {
        cx.state.lost = Some(reason.clone());
    }
}

#[test]
fn a_peer_reset_is_reported_as_reset() {
    let reactor = reactor(Closing::default());
    let port = reactor.listen_tcp(ANY, |_| Unread).expect("listen");
    let rx = std_client(port_addr(&port), |stream| {
        // Wait until our data is there, then close without reading it:
        // the kernel answers with a reset instead of a FIN.
        let mut peek = [0u8; 1];
        stream.peek(&mut peek).expect("data arrives");
        drop(stream);
    });
    finish(&reactor, &rx, "the client's reset");
    iterate_until(&reactor, "connection_lost", |s| s.lost.is_some());
    reactor
        .access_state(|s| assert!(matches!(s.lost, Some(Reason::Reset)), "{:?}", s.lost))
        .expect("state");
}

// ---------------------------------------------------------------------------
// Buffers and backpressure

#[derive(Default)]
struct Limits {
    refused: Option<String>,
    buffered_before: usize,
    buffered_after: usize,
    done: bool,
}

/// Writes 1 MiB chunks to a peer that never reads until a write is refused.
struct UntilFull;

impl Protocol<Limits> for UntilFull {
    fn connection_made(&mut self, cx: &mut NetCtx<'_, Limits>) {
        let limit = 4 << 20;
        cx.transport.set_write_buffer_limit(limit);
        assert_eq!(cx.transport.write_buffer_limit(), limit);
        let chunk = vec![7u8; 1 << 20];
        for _ in 0..1000 {
            let before = cx.transport.buffered();
            match cx.transport.write(&chunk) {
                Ok(()) => assert!(cx.transport.buffered() <= limit),
                Err(e @ Error::WriteBufferFull { .. }) => {
                    cx.state.refused = Some(e.to_string());
                    cx.state.buffered_before = before;
                    cx.state.buffered_after = cx.transport.buffered();
                    break;
                }
                Err(e) => panic!("unexpected error: {e}"),
            }
        }
        cx.state.done = true;
        cx.transport.abort_connection();
    }
    fn data_received(&mut self, _cx: &mut NetCtx<'_, Limits>, _data: &[u8]) {}
}

#[test]
fn a_write_past_the_buffer_limit_is_refused_whole_with_a_clear_error() {
    let reactor = reactor(Limits::default());
    let port = reactor.listen_tcp(ANY, |_| UntilFull).expect("listen");
    let (release, wait) = mpsc::channel::<()>();
    let rx = std_client(port_addr(&port), move |stream| {
        // Hold the connection, unread, until the server is done.
        let _ = wait.recv_timeout(PATIENCE);
        drop(stream);
    });
    iterate_until(&reactor, "the refused write", |s| s.done);
    let _ = release.send(());
    finish(&reactor, &rx, "the client's end");
    reactor
        .access_state(|s| {
            let refused = s.refused.as_deref().expect("a write was refused");
            assert!(
                refused.contains("cannot write 1048576 bytes on TCP connection with 127.0.0.1:"),
                "{refused}"
            );
            assert!(refused.contains("limit is 4194304"), "{refused}");
            assert_eq!(
                s.buffered_before, s.buffered_after,
                "a refused write adds nothing"
            );
            assert!(s.buffered_after > 3 << 20, "{}", s.buffered_after);
        })
        .expect("state");
}

const FLOOD: usize = 32 << 20;
const CHUNK: usize = 64 << 10;

#[derive(Default)]
struct Pressure {
    written: usize,
    paused: bool,
    pauses: u32,
    resumes: u32,
    max_buffered: usize,
    high_water: usize,
    received: usize,
    resumed_reading: u32,
    server_lost: Option<Reason>,
    client_lost: Option<Reason>,
}

/// A streaming producer: the reactor state says whether it is paused.
struct Pacer;

impl Producer<Pressure> for Pacer {
    fn pause_producing(&mut self, cx: &mut NetCtx<'_, Pressure>) {
        assert!(!cx.state.paused, "paused twice");
        cx.state.paused = true;
        cx.state.pauses += 1;
    }
    fn resume_producing(&mut self, cx: &mut NetCtx<'_, Pressure>) {
        assert!(cx.state.paused, "resumed while producing");
        cx.state.paused = false;
        cx.state.resumes += 1;
        pump(cx.reactor, cx.transport.clone());
    }
}

/// Writes one chunk per pass while not paused, then closes.
fn pump(reactor: &Reactor<Pressure>, transport: Transport<Pressure>) {
    reactor.call_later(Duration::ZERO, move |cx| {
        if cx.state.paused {
            return;
        }
        if cx.state.written == FLOOD {
            transport.unregister_producer();
            transport.lose_connection();
            return;
        }
        let chunk = pattern_chunk(cx.state.written, CHUNK);
        transport.write(chunk).expect("write a chunk");
        cx.state.written += CHUNK;
        cx.state.max_buffered = cx.state.max_buffered.max(transport.buffered());
        pump(cx.reactor, transport);
    });
}

struct Source;

impl Protocol<Pressure> for Source {
    fn connection_made(&mut self, cx: &mut NetCtx<'_, Pressure>) {
        cx.state.high_water = cx.transport.producer_high_water();
        cx.transport
            .register_producer(Pacer, true)
            .expect("register");
        let again = cx.transport.register_producer(Pacer, true);
        assert!(matches!(again, Err(Error::ProducerRegistered { .. })));
        pump(cx.reactor, cx.transport.clone());
    }
    fn data_received(&mut self, _cx: &mut NetCtx<'_, Pressure>, _data: &[u8]) {}
    fn connection_lost(&mut self, cx: &mut NetCtx<'_, Pressure>, reason: &Reason) {
        cx.state.server_lost = Some(reason.clone());
    }
}

/// Reads nothing until the sender's producer has been paused (or 20 s have
/// passed, which fails the test), then checks every byte. Waiting for the
/// pause rather than for a fixed time keeps the test true on a loaded
/// machine, where the sender may need longer to fill the buffers.
struct SlowReader;

/// Resumes `transport` once the producer was paused, checking every 10 ms.
fn resume_after_pause(
    reactor: &tx0mq_reactor::Reactor<Pressure>,
    transport: tx0mq_net::Transport<Pressure>,
    checks_left: u32,
) {
    let again = reactor.clone();
    reactor.call_later(Duration::from_millis(10), move |cx| {
        if cx.state.pauses >= 1 || checks_left == 0 {
            transport.resume_producing();
        } else {
            resume_after_pause(&again, transport, checks_left - 1);
        }
    });
}

impl Protocol<Pressure> for SlowReader {
    fn connection_made(&mut self, cx: &mut NetCtx<'_, Pressure>) {
        cx.transport.pause_producing();
        assert!(cx.transport.is_reading_paused());
        resume_after_pause(cx.reactor, cx.transport.clone(), 2_000);
    }
    fn data_received(&mut self, cx: &mut NetCtx<'_, Pressure>, data: &[u8]) {
        let start = cx.state.received;
        assert!(
            data == &pattern_chunk(start, data.len())[..],
            "bytes {start}.. arrived out of order"
        );
        cx.state.received += data.len();
    }
    fn reading_resumed(&mut self, cx: &mut NetCtx<'_, Pressure>) {
        cx.state.resumed_reading += 1;
    }
    fn connection_lost(&mut self, cx: &mut NetCtx<'_, Pressure>, reason: &Reason) {
        cx.state.client_lost = Some(reason.clone());
    }
}

#[test]
fn a_slow_reader_pauses_the_streaming_producer_and_everything_arrives() {
    let reactor = reactor(Pressure::default());
    let port = reactor.listen_tcp(ANY, |_| Source).expect("listen");
    reactor.connect_tcp("127.0.0.1", port.get_host().port(), |_| SlowReader);
    iterate_until(&reactor, "32 MiB through a slow reader", |s| {
        s.server_lost.is_some() && s.client_lost.is_some()
    });
    reactor
        .access_state(|s| {
            assert_eq!(s.received, FLOOD, "every byte arrived");
            assert!(s.pauses >= 1, "the producer was paused");
            assert_eq!(s.resumes, s.pauses, "and resumed as often");
            assert_eq!(s.resumed_reading, 1);
            // Paused on the pass after the buffer passed the mark: at most
            // one more chunk.
            assert!(
                s.max_buffered <= s.high_water + 2 * CHUNK,
                "the buffer grew to {} (high-water mark {})",
                s.max_buffered,
                s.high_water
            );
            assert!(matches!(s.server_lost, Some(Reason::Closed)));
            assert!(matches!(s.client_lost, Some(Reason::PeerClosed)));
        })
        .expect("state");
}

#[derive(Default)]
struct Pulled {
    asked: u32,
    received: Vec<u8>,
    lost: bool,
}

/// A pull producer: one numbered line per resume, ten in all.
struct Lines;

impl Producer<Pulled> for Lines {
    fn pause_producing(&mut self, _cx: &mut NetCtx<'_, Pulled>) {
        panic!("a pull producer is never paused");
    }
    fn resume_producing(&mut self, cx: &mut NetCtx<'_, Pulled>) {
        if cx.state.asked == 10 {
            cx.transport.unregister_producer();
            cx.transport.lose_connection();
            return;
        }
        cx.transport
            .write(format!("line {}\n", cx.state.asked))
            .expect("write");
        cx.state.asked += 1;
    }
}

struct Puller;

impl Protocol<Pulled> for Puller {
    fn connection_made(&mut self, cx: &mut NetCtx<'_, Pulled>) {
        cx.transport
            .register_producer(Lines, false)
            .expect("register");
    }
    fn data_received(&mut self, cx: &mut NetCtx<'_, Pulled>, data: &[u8]) {
        cx.state.received.extend_from_slice(data);
    }
    fn connection_lost(&mut self, cx: &mut NetCtx<'_, Pulled>, _reason: &Reason) {
        cx.state.lost = true;
    }
}

#[test]
fn a_pull_producer_is_asked_for_more_each_time_the_buffer_empties() {
    let reactor = reactor(Pulled::default());
    let port = reactor.listen_tcp(ANY, |_| Puller).expect("listen");
    let rx = std_client(port_addr(&port), read_all);
    let got = finish(&reactor, &rx, "ten lines and end-of-file").expect("read");
    let expected: String = (0..10).map(|n| format!("line {n}\n")).collect();
    assert_eq!(String::from_utf8_lossy(&got), expected);
    iterate_until(&reactor, "connection_lost", |s| s.lost);
    reactor
        .access_state(|s| assert_eq!(s.asked, 10))
        .expect("state");
}

#[derive(Default)]
struct Paused {
    got: Vec<u8>,
    resumed: u32,
    transport: Option<Transport<Paused>>,
}

struct StartsPaused;

impl Protocol<Paused> for StartsPaused {
    fn connection_made(&mut self, cx: &mut NetCtx<'_, Paused>) {
        cx.transport.pause_producing();
        cx.state.transport = Some(cx.transport.clone());
    }
    fn data_received(&mut self, cx: &mut NetCtx<'_, Paused>, data: &[u8]) {
        cx.state.got.extend_from_slice(data);
    }
    fn reading_resumed(&mut self, cx: &mut NetCtx<'_, Paused>) {
        cx.state.resumed += 1;
    }
}

#[test]
fn a_paused_transport_reads_nothing_until_resumed() {
    let reactor = reactor(Paused::default());
    let port = reactor.listen_tcp(ANY, |_| StartsPaused).expect("listen");
    let (release, wait) = mpsc::channel::<()>();
    let rx = std_client(port_addr(&port), move |mut stream| {
        stream.write_all(b"waiting").expect("write");
        let _ = wait.recv_timeout(PATIENCE);
    });
    iterate_until(&reactor, "the connection", |s| s.transport.is_some());
    // Long enough for the data to have arrived, were it read.
    let until = std::time::Instant::now() + Duration::from_millis(200);
    while std::time::Instant::now() < until {
        reactor.iterate(Duration::from_millis(10)).expect("iterate");
    }
    reactor
        .access_state(|s| {
            assert!(s.got.is_empty(), "read while paused: {:?}", s.got);
            let transport = s.transport.as_ref().expect("made");
            assert!(transport.is_reading_paused());
            transport.resume_producing();
        })
        .expect("state");
    iterate_until(&reactor, "the data after resuming", |s| {
        s.got == b"waiting" && s.resumed == 1
    });
    let _ = release.send(());
    finish(&reactor, &rx, "the client");
}

// ---------------------------------------------------------------------------
// Factories and ports

#[test]
fn a_panicking_protocol_loses_its_connection_and_the_port_carries_on() {
    logs::capture();
    struct Touchy;
    impl Protocol<Lost> for Touchy {
        fn data_received(&mut self, cx: &mut NetCtx<'_, Lost>, data: &[u8]) {
            assert!(!data.starts_with(b"boom"), "the protocol blew up");
            cx.transport.write(data).expect("echo");
        }
        fn connection_lost(&mut self, cx: &mut NetCtx<'_, Lost>, reason: &Reason) {
            cx.state.lost.push(reason.clone());
        }
    }
    let reactor = catching_reactor(Lost::default());
    let port = reactor.listen_tcp(ANY, |_| Touchy).expect("listen");
    let addr = port_addr(&port);
    let rx = std_client(addr, |mut stream| {
        stream.write_all(b"boom").expect("write");
        let mut rest = Vec::new();
        let _ = stream.read_to_end(&mut rest);
        rest
    });
    let rest = finish(&reactor, &rx, "the first client's end");
    assert!(rest.is_empty(), "{rest:?}");
    iterate_until(&reactor, "connection_lost", |s| !s.lost.is_empty());
    reactor
        .access_state(|s| assert!(matches!(s.lost[..], [Reason::Panicked]), "{:?}", s.lost))
        .expect("state");
    assert!(logs::contains(log::Level::Error, "the protocol blew up"));
    assert!(logs::contains(
        log::Level::Error,
        "its protocol panicked; the connection is aborted"
    ));
    let rx = std_client(addr, |mut stream| {
        stream.write_all(b"fine").expect("write");
        let mut echo = [0u8; 4];
        stream.read_exact(&mut echo).expect("echo");
        echo
    });
    assert_eq!(&finish(&reactor, &rx, "the second client's echo"), b"fine");
}

/// Refuses the first client, serves the rest; counts its starts and stops.
struct Picky {
    seen: u32,
    stops: Rc<Cell<u32>>,
    starts: Rc<Cell<u32>>,
}

impl ServerFactory<Lost> for Picky {
    type Protocol = Echo;
    fn build_protocol(&mut self, addr: SocketAddr) -> Option<Echo> {
        assert!(addr.ip().is_loopback());
        self.seen += 1;
        (self.seen > 1).then_some(Echo)
    }
    fn start_factory(&mut self) {
        self.starts.set(self.starts.get() + 1);
    }
    fn stop_factory(&mut self) {
        self.stops.set(self.stops.get() + 1);
    }
}

#[test]
fn a_factory_refuses_a_client_and_stop_listening_frees_the_port() {
    let reactor = reactor(Lost::default());
    let (starts, stops) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(0)));
    let port = reactor
        .listen_tcp(
            ANY,
            Picky {
                seen: 0,
                starts: starts.clone(),
                stops: stops.clone(),
            },
        )
        .expect("listen");
    assert_eq!(starts.get(), 1, "start_factory when listening starts");
    let addr = port_addr(&port);
    let refused = finish(&reactor, &std_client(addr, read_all), "the refused client");
    assert_eq!(refused.expect("read"), b"", "closed at once");
    let rx = std_client(addr, |mut stream| {
        stream.write_all(b"ok").expect("write");
        let mut echo = [0u8; 2];
        stream.read_exact(&mut echo).expect("echo");
        echo
    });
    assert_eq!(&finish(&reactor, &rx, "the served client"), b"ok");

    assert!(port.is_listening());
    let stopped = port.stop_listening();
    assert!(!port.is_listening());
    assert_eq!(stops.get(), 0, "stop_factory runs on the next pass");
    wait_for(&reactor, &stopped, "stop_listening's Deferred");
    assert_eq!(stops.get(), 1);
    assert!(port.stop_listening().called(), "stopping twice is harmless");
    // The address is free again at once.
    let again = reactor.listen_tcp(addr, |_| Echo).expect("listen again");
    assert_eq!(again.get_host(), addr);
    again.stop_listening();
    assert_eq!(stops.get(), 1);
}

#[test]
fn listening_on_a_port_in_use_fails_with_the_address() {
    let reactor = reactor(Lost::default());
    let port = reactor.listen_tcp(ANY, |_| Echo).expect("listen");
    let taken = port.get_host();
    match reactor.listen_tcp(taken, |_| Echo) {
        Err(e @ Error::Bind { .. }) => {
            assert!(
                e.to_string()
                    .starts_with(&format!("cannot listen on {taken}: ")),
                "{e}"
            );
        }
        other => panic!("expected a bind error, got {other:?}"),
    }
    assert!(matches!(
        reactor.listen_tcp("localhost:80", |_| Echo),
        Err(Error::Address { .. })
    ));
}

// ---------------------------------------------------------------------------
// Connectors

#[derive(Default)]
struct Attempts {
    failed: Vec<Reason>,
    lost: Vec<Reason>,
    made: u32,
}

/// Counts what a connector's factory hears; `started_connecting` gets no
/// context, so its count is shared.
struct Counting {
    started: Rc<Cell<u32>>,
}

struct Quiet;

impl Protocol<Attempts> for Quiet {
    fn connection_made(&mut self, cx: &mut NetCtx<'_, Attempts>) {
        cx.state.made += 1;
    }
    fn data_received(&mut self, _cx: &mut NetCtx<'_, Attempts>, _data: &[u8]) {}
}

impl ClientFactory<Attempts> for Counting {
    type Protocol = Quiet;
    fn build_protocol(&mut self, _addr: SocketAddr) -> Quiet {
        Quiet
    }
    fn started_connecting(&mut self, connector: &Connector<Attempts>) {
        assert_eq!(connector.state(), ConnectorState::Connecting);
        self.started.set(self.started.get() + 1);
    }
    fn client_connection_failed(
        &mut self,
        cx: &mut Ctx<'_, Attempts>,
        connector: &Connector<Attempts>,
        reason: &Reason,
    ) {
        assert_eq!(connector.state(), ConnectorState::Disconnected);
        cx.state.failed.push(reason.clone());
    }
    fn client_connection_lost(
        &mut self,
        cx: &mut Ctx<'_, Attempts>,
        _connector: &Connector<Attempts>,
        reason: &Reason,
    ) {
        cx.state.lost.push(reason.clone());
    }
}

/// A port nobody listens on (bound, read, closed).
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind(ANY).expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    port
}

#[test]
fn a_refused_connection_reaches_client_connection_failed() {
    let reactor = reactor(Attempts::default());
    let started = Rc::new(Cell::new(0));
    let connector = reactor.connect_tcp(
        "127.0.0.1",
        closed_port(),
        Counting {
            started: started.clone(),
        },
    );
    assert_eq!(started.get(), 1, "started_connecting at once");
    let busy = connector.connect().expect_err("connect while connecting");
    assert!(busy.to_string().contains("it is connecting"), "{busy}");
    iterate_until(&reactor, "the refusal", |s| !s.failed.is_empty());
    reactor
        .access_state(|s| assert!(matches!(s.failed[..], [Reason::Refused]), "{:?}", s.failed))
        .expect("state");
    assert_eq!(connector.state(), ConnectorState::Disconnected);
    assert!(connector.stop_connecting().is_err(), "nothing to stop");
}

#[test]
fn a_connection_attempt_times_out_on_the_reactors_clock() {
    let reactor = fake_clock_reactor(Attempts::default());
    let port = reactor.listen_tcp(ANY, |_| Echo2).expect("listen");
    let started = Rc::new(Cell::new(0));
    let connector = reactor.connect_tcp_with_timeout(
        "127.0.0.1",
        port.get_host().port(),
        Counting { started },
        Some(Duration::from_secs(5)),
    );
    // The timer is due before the poll that would see the connection.
    reactor.advance(Duration::from_secs(5)).expect("advance");
    reactor
        .access_state(|s| {
            assert!(matches!(s.failed[..], [Reason::TimedOut]), "{:?}", s.failed);
            assert_eq!(s.made, 0);
        })
        .expect("state");
    assert_eq!(connector.state(), ConnectorState::Disconnected);
    // And the connector can try again.
    connector.connect().expect("connect again");
    iterate_until(&reactor, "the second attempt", |s| s.made == 1);
    assert_eq!(connector.state(), ConnectorState::Connected);
    connector.disconnect();
    iterate_until(&reactor, "the loss", |s| !s.lost.is_empty());
    reactor
        .access_state(|s| assert!(matches!(s.lost[..], [Reason::Closed]), "{:?}", s.lost))
        .expect("state");
}

/// A server protocol for the `Attempts` state.
struct Echo2;

impl Protocol<Attempts> for Echo2 {
    fn data_received(&mut self, cx: &mut NetCtx<'_, Attempts>, data: &[u8]) {
        cx.transport.write(data).expect("echo");
    }
}

#[test]
fn stop_connecting_cancels_the_attempt() {
    let reactor = reactor(Attempts::default());
    let started = Rc::new(Cell::new(0));
    let connector = reactor.connect_tcp("localhost", closed_port(), Counting { started });
    connector.stop_connecting().expect("stop");
    assert!(connector.stop_connecting().is_err(), "stopped already");
    iterate_until(&reactor, "the cancellation", |s| !s.failed.is_empty());
    // Let a late resolution or refusal arrive: it must be ignored.
    let until = std::time::Instant::now() + Duration::from_millis(100);
    while std::time::Instant::now() < until {
        reactor.iterate(Duration::from_millis(10)).expect("iterate");
    }
    reactor
        .access_state(|s| {
            assert!(
                matches!(s.failed[..], [Reason::Cancelled]),
                "{:?}",
                s.failed
            );
        })
        .expect("state");
}

#[derive(Default)]
struct SelfClosing {
    connector: Option<Connector<SelfClosing>>,
    lost: Option<Reason>,
}

/// Disconnects its own connector from connection_made.
struct Regrets;

impl Protocol<SelfClosing> for Regrets {
    fn connection_made(&mut self, cx: &mut NetCtx<'_, SelfClosing>) {
        let connector = cx.state.connector.clone().expect("kept");
        assert_eq!(connector.state(), ConnectorState::Connected);
        assert_eq!(connector.transport().as_ref(), Some(cx.transport));
        connector.disconnect();
        assert!(cx.transport.is_disconnecting());
    }
    fn data_received(&mut self, _cx: &mut NetCtx<'_, SelfClosing>, _data: &[u8]) {}
    fn connection_lost(&mut self, cx: &mut NetCtx<'_, SelfClosing>, reason: &Reason) {
        cx.state.lost = Some(reason.clone());
    }
}

struct Idle;

impl Protocol<SelfClosing> for Idle {
    fn data_received(&mut self, _cx: &mut NetCtx<'_, SelfClosing>, _data: &[u8]) {}
}

#[test]
fn a_connector_knows_its_transport_from_connection_made_on() {
    let reactor = reactor(SelfClosing::default());
    let port = reactor.listen_tcp(ANY, |_| Idle).expect("listen");
    let connector = reactor.connect_tcp("127.0.0.1", port.get_host().port(), |_| Regrets);
    reactor
        .access_state(|s| s.connector = Some(connector.clone()))
        .expect("state");
    iterate_until(&reactor, "the loss", |s| s.lost.is_some());
    reactor
        .access_state(|s| {
            assert!(matches!(s.lost, Some(Reason::Closed)), "{:?}", s.lost);
            s.connector = None;
        })
        .expect("state");
    assert_eq!(connector.state(), ConnectorState::Disconnected);
}

// ---------------------------------------------------------------------------
// Reconnecting

#[test]
fn reconnecting_backs_off_by_its_factor_up_to_the_maximum_and_gives_up() {
    let reactor = fake_clock_reactor(Attempts::default());
    let started = Rc::new(Cell::new(0));
    let factory = ReconnectingClientFactory::new(Counting {
        started: started.clone(),
    })
    .initial_delay(Duration::from_secs(1))
    .factor(2.0)
    .jitter(0.0)
    .max_delay(Duration::from_secs(5))
    .max_retries(Some(3));
    let backoff = factory.backoff();
    reactor.connect_tcp("127.0.0.1", closed_port(), factory);
    let failures = |n: usize| {
        iterate_until(&reactor, &format!("failure {n}"), |s| s.failed.len() == n);
    };
    // Delays: 2 s, 4 s, then 5 s (8 capped); the fourth failure is the
    // fourth retry, past the three allowed.
    for (n, delay) in [(1, 2), (2, 4), (3, 5)] {
        failures(n);
        assert_eq!(backoff.delay(), Duration::from_secs(delay));
        assert_eq!(backoff.retries(), n as u32);
        assert!(backoff.is_waiting());
        reactor
            .advance(Duration::from_secs(delay) - Duration::from_millis(1))
            .expect("advance");
        assert_eq!(started.get(), n as u32, "not before the delay");
        reactor.advance(Duration::from_millis(1)).expect("advance");
        assert_eq!(started.get(), n as u32 + 1, "retried after {delay} s");
    }
    failures(4);
    assert!(!backoff.is_waiting(), "gave up after three retries");
    reactor.advance(Duration::from_secs(3600)).expect("advance");
    assert_eq!(started.get(), 4);
    reactor
        .access_state(|s| assert!(s.failed.iter().all(|r| matches!(r, Reason::Refused))))
        .expect("state");
}

#[test]
fn reconnecting_jitter_spreads_the_delays_around_the_exponential_curve() {
    // Twisted's defaults: factor e, jitter 0.1196.
    let reactor = fake_clock_reactor(Attempts::default());
    let factory = ReconnectingClientFactory::new(Counting {
        started: Rc::new(Cell::new(0)),
    })
    .seed(1);
    let backoff = factory.backoff();
    reactor.connect_tcp("127.0.0.1", closed_port(), factory);
    iterate_until(&reactor, "the first failure", |s| s.failed.len() == 1);
    let first = backoff.delay().as_secs_f64();
    let e = std::f64::consts::E;
    assert!(
        (e * 0.5..e * 1.5).contains(&first) && first != e,
        "about e seconds, not exactly: {first}"
    );
}

#[derive(Default)]
struct Bounces {
    connections: u32,
    lost: u32,
}

/// Closes every connection at once.
struct Bouncer;

impl Protocol<Bounces> for Bouncer {
    fn connection_made(&mut self, cx: &mut NetCtx<'_, Bounces>) {
        cx.state.connections += 1;
        cx.transport.lose_connection();
    }
    fn data_received(&mut self, _cx: &mut NetCtx<'_, Bounces>, _data: &[u8]) {}
}

struct Bounced;

impl Protocol<Bounces> for Bounced {
    fn data_received(&mut self, _cx: &mut NetCtx<'_, Bounces>, _data: &[u8]) {}
    fn connection_lost(&mut self, cx: &mut NetCtx<'_, Bounces>, _reason: &Reason) {
        cx.state.lost += 1;
    }
}

#[test]
fn reconnecting_reconnects_after_each_loss_until_stop_trying() {
    let reactor = reactor(Bounces::default());
    let port = reactor.listen_tcp(ANY, |_| Bouncer).expect("listen");
    let factory = ReconnectingClientFactory::new(|_| Bounced)
        .initial_delay(Duration::from_millis(5))
        .factor(2.0)
        .jitter(0.0);
    let backoff = factory.backoff();
    reactor.connect_tcp("127.0.0.1", port.get_host().port(), factory);
    iterate_until(&reactor, "five connections", |s| s.lost >= 5);
    // Each connection reset the delay, so each retry waited 10 ms.
    assert_eq!(backoff.retries(), 1);
    assert_eq!(backoff.delay(), Duration::from_millis(10));
    backoff.stop_trying();
    assert!(!backoff.is_trying());
    let lost = reactor.access_state(|s| s.lost).expect("state");
    let until = std::time::Instant::now() + Duration::from_millis(200);
    while std::time::Instant::now() < until {
        reactor.iterate(Duration::from_millis(10)).expect("iterate");
    }
    reactor
        .access_state(|s| {
            assert!(
                s.lost <= lost + 1,
                "after stop_trying at most the connection under way ends: {} then {}",
                lost,
                s.lost
            );
        })
        .expect("state");
}

#[test]
fn without_reset_on_connect_the_delay_keeps_growing() {
    let reactor = reactor(Bounces::default());
    let port = reactor.listen_tcp(ANY, |_| Bouncer).expect("listen");
    let factory = ReconnectingClientFactory::new(|_| Bounced)
        .initial_delay(Duration::from_millis(1))
        .factor(2.0)
        .jitter(0.0)
        .reset_on_connect(false);
    let backoff = factory.backoff();
    reactor.connect_tcp("127.0.0.1", port.get_host().port(), factory);
    iterate_until(&reactor, "four connections", |s| s.lost >= 4);
    assert!(backoff.retries() >= 4, "{}", backoff.retries());
    assert!(
        backoff.delay() >= Duration::from_millis(16),
        "{:?}",
        backoff.delay()
    );
    backoff.reset_delay();
    assert_eq!(backoff.retries(), 0);
    assert_eq!(backoff.delay(), Duration::from_millis(1));
    backoff.stop_trying();
}
