//! What the reactor's shutdown closes: when `run` returns after `stop`,
//! every connection's protocol has heard `connection_lost`, ports have
//! stopped listening (their factories stopped), connectors have stopped
//! connecting, reconnecting factories have stopped retrying, and UDP ports
//! are closed with their protocol's `stop_protocol`. The descriptor count
//! is checked in `shutdown_fds.rs`, a binary of its own.
//!
//! Most tests shut the reactor down with a `stop` from
//! `call_when_running`: `run` then fires the shutdown triggers without a
//! single pass of the loop, so whatever is closed was closed by the
//! shutdown itself, not by a pass that happened to come first.

use std::cell::{Cell, RefCell};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::rc::Rc;
use std::time::{Duration, Instant};

use tx0mq_net::{
    ClientFactory, Connector, ConnectorState, DatagramProtocol, Error, NetCtx, Protocol,
    ReactorNet, Reason, ReconnectingClientFactory, ServerFactory, StandardIO, Transport, UdpCtx,
};
use tx0mq_reactor::{Ctx, Reactor};
use tx0mq_test_support::net::free_port;
use tx0mq_test_support::reactor::{iterate_until, iterate_until_cond, reactor};

const ANY: &str = "127.0.0.1:0";

/// What the callbacks saw, in order.
#[derive(Default)]
struct Seen {
    events: Vec<String>,
    /// The server side's transport, once made.
    server: Option<Transport<Seen>>,
}

impl Seen {
    fn count(&self, what: &str) -> usize {
        self.events.iter().filter(|e| e.contains(what)).count()
    }
}

/// A reason's name, for the event log.
fn name(reason: &Reason) -> &'static str {
    match reason {
        Reason::ReactorShutdown => "ReactorShutdown",
        Reason::Closed => "Closed",
        Reason::Aborted => "Aborted",
        Reason::PeerClosed => "PeerClosed",
        Reason::Reset => "Reset",
        Reason::Refused => "Refused",
        _ => "other",
    }
}

/// Logs `connection_made` and `connection_lost` as `"<side> made"` and
/// `"<side> lost: <reason>"`.
struct Recorder {
    side: &'static str,
}

impl Protocol<Seen> for Recorder {
    fn connection_made(&mut self, cx: &mut NetCtx<'_, Seen>) {
        cx.state.events.push(format!("{} made", self.side));
        if self.side == "server" {
            cx.state.server = Some(cx.transport.clone());
        }
    }
    fn data_received(&mut self, _cx: &mut NetCtx<'_, Seen>, _data: &[u8]) {}
    fn connection_lost(&mut self, cx: &mut NetCtx<'_, Seen>, reason: &Reason) {
        cx.state
            .events
            .push(format!("{} lost: {}", self.side, name(reason)));
    }
}

/// Runs `reactor` with a `stop` as its first act: the shutdown triggers fire
/// before any pass of the loop.
fn shut_down_now<S: 'static>(reactor: &Reactor<S>) {
    reactor.call_when_running(|cx| cx.reactor.stop());
    reactor.run().expect("run the reactor");
}

/// Runs `reactor` for `how_long` (a second `run`, after a shutdown).
fn run_for<S: 'static>(reactor: &Reactor<S>, how_long: Duration) {
    reactor.call_later(how_long, |cx| cx.reactor.stop());
    reactor.run().expect("run the reactor again");
}

// ---------------------------------------------------------------------------
// Connections

#[test]
fn shutdown_closes_connections_and_both_protocols_hear_reactor_shutdown() {
    let reactor = reactor(Seen::default());
    let port = reactor
        .listen_tcp(ANY, |_| Recorder { side: "server" })
        .expect("listen");
    let connector = reactor.connect_tcp("127.0.0.1", port.get_host().port(), |_| Recorder {
        side: "client",
    });
    iterate_until(&reactor, "both ends connected", |s| s.count("made") == 2);
    let client = connector.transport().expect("the connector is connected");

    shut_down_now(&reactor);

    let events = reactor.access_state(|s| s.events.clone()).expect("state");
    assert_eq!(
        events.iter().filter(|e| e.contains("lost")).count(),
        2,
        "each protocol heard connection_lost once: {events:?}"
    );
    assert!(
        events.contains(&"server lost: ReactorShutdown".to_string()),
        "{events:?}"
    );
    assert!(
        events.contains(&"client lost: ReactorShutdown".to_string()),
        "{events:?}"
    );
    assert!(!client.is_connected());
    assert!(matches!(client.write(b"late"), Err(Error::Closed { .. })));
    assert_eq!(connector.state(), ConnectorState::Disconnected);
    assert!(reactor.get_readers().is_empty(), "nothing is read any more");
    assert!(
        reactor.get_writers().is_empty(),
        "nothing is written any more"
    );
}

/// Writes `total` bytes of a pattern (`i % 251`) when the connection is made.
struct Flood {
    total: usize,
}

impl Protocol<Seen> for Flood {
    fn connection_made(&mut self, cx: &mut NetCtx<'_, Seen>) {
        cx.state.server = Some(cx.transport.clone());
        let data: Vec<u8> = (0..self.total).map(|i| (i % 251) as u8).collect();
        cx.transport.write(data).expect("the write buffer takes it");
    }
    fn data_received(&mut self, _cx: &mut NetCtx<'_, Seen>, _data: &[u8]) {}
    fn connection_lost(&mut self, cx: &mut NetCtx<'_, Seen>, reason: &Reason) {
        cx.state
            .events
            .push(format!("server lost: {}", name(reason)));
    }
}

/// Reads what `stream` (non-blocking) has now; `false` at end-of-file.
fn drain(stream: &mut TcpStream, into: &mut Vec<u8>) -> bool {
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return false,
            Ok(n) => into.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => panic!("read from the server: {e}"),
        }
    }
}

#[test]
fn shutdown_writes_what_the_kernel_takes_at_once_and_drops_the_rest() {
    const TOTAL: usize = 32 << 20;
    let reactor = reactor(Seen::default());
    let port = reactor
        .listen_tcp(ANY, |_| Flood { total: TOTAL })
        .expect("listen");
    let mut client = TcpStream::connect(port.get_host()).expect("connect");
    client.set_nonblocking(true).expect("nonblocking");
    // The client reads nothing yet: the kernel's buffers fill, the rest
    // waits in the transport's write buffer.
    iterate_until(&reactor, "the server's connection", |s| s.server.is_some());
    let server = reactor
        .access_state(|s| s.server.clone())
        .expect("state")
        .expect("the server's transport");
    let mut last = usize::MAX;
    let mut steady = 0;
    iterate_until_cond(&reactor, "the write buffer to stop moving", || {
        let now = server.buffered();
        steady = if now == last { steady + 1 } else { 0 };
        last = now;
        steady >= 5
    });
    let buffered = server.buffered();
    assert!(buffered > 0, "the kernel took everything: nothing to test");
    let in_kernel = TOTAL - buffered;
    // Empty the kernel's buffers while the reactor does not run, so that
    // only the shutdown's flush can write more.
    let mut got = Vec::with_capacity(TOTAL);
    let deadline = Instant::now() + Duration::from_secs(20);
    while got.len() < in_kernel {
        assert!(
            drain(&mut client, &mut got),
            "end-of-file before the shutdown"
        );
        assert!(
            Instant::now() < deadline,
            "the kernel's bytes never arrived"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(
        got.len(),
        in_kernel,
        "nothing came from the write buffer yet"
    );

    shut_down_now(&reactor);

    // What the shutdown wrote, then end-of-file.
    let deadline = Instant::now() + Duration::from_secs(20);
    while drain(&mut client, &mut got) {
        assert!(
            Instant::now() < deadline,
            "no end-of-file after the shutdown"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(
        got.len() > in_kernel,
        "the shutdown wrote nothing of the {buffered} buffered bytes"
    );
    assert!(
        got.len() < TOTAL,
        "everything arrived: the kernel took all of it, nothing was dropped"
    );
    let intact = got.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8);
    assert!(intact, "what arrived is a prefix of what was written");
    let events = reactor.access_state(|s| s.events.clone()).expect("state");
    assert_eq!(events, ["server lost: ReactorShutdown"]);
}

/// Closes (or aborts) its connection on the first data, and stops the
/// reactor in the same call: the close is still under way when the
/// shutdown comes.
struct CloseThenStop {
    abort: bool,
}

impl Protocol<Seen> for CloseThenStop {
    fn data_received(&mut self, cx: &mut NetCtx<'_, Seen>, _data: &[u8]) {
        if self.abort {
            cx.transport.abort_connection();
        } else {
            cx.transport.lose_connection();
        }
        cx.reactor.stop().expect("stop");
    }
    fn connection_lost(&mut self, cx: &mut NetCtx<'_, Seen>, reason: &Reason) {
        cx.state
            .events
            .push(format!("server lost: {}", name(reason)));
    }
}

fn close_under_way(abort: bool) -> Vec<String> {
    let reactor = reactor(Seen::default());
    let port = reactor
        .listen_tcp(ANY, move |_| CloseThenStop { abort })
        .expect("listen");
    let mut client = TcpStream::connect(port.get_host()).expect("connect");
    client.write_all(b"go").expect("write");
    tx0mq_test_support::reactor::run_with_watchdog(
        &reactor,
        Duration::from_secs(20),
        "a close under way",
    );
    reactor.access_state(|s| s.events.clone()).expect("state")
}

#[test]
fn shutdown_keeps_the_reason_of_a_lose_connection_under_way() {
    assert_eq!(close_under_way(false), ["server lost: Closed"]);
}

#[test]
fn shutdown_keeps_the_reason_of_an_abort_under_way() {
    assert_eq!(close_under_way(true), ["server lost: Aborted"]);
}

// ---------------------------------------------------------------------------
// Listening ports

/// Counts `stop_factory` calls.
struct Counted {
    stops: Rc<Cell<u32>>,
}

impl ServerFactory<Seen> for Counted {
    type Protocol = Recorder;
    fn build_protocol(&mut self, _addr: SocketAddr) -> Option<Recorder> {
        Some(Recorder { side: "server" })
    }
    fn stop_factory(&mut self) {
        self.stops.set(self.stops.get() + 1);
    }
}

#[test]
fn shutdown_stops_listening_ports_and_their_factories() {
    let reactor = reactor(Seen::default());
    let stops = Rc::new(Cell::new(0));
    let port = reactor
        .listen_tcp(
            ANY,
            Counted {
                stops: stops.clone(),
            },
        )
        .expect("listen");
    let addr = port.get_host();

    shut_down_now(&reactor);

    assert!(!port.is_listening());
    assert_eq!(stops.get(), 1, "stop_factory ran during the shutdown");
    let refused = TcpStream::connect(addr).expect_err("nothing listens any more");
    assert_eq!(refused.kind(), ErrorKind::ConnectionRefused);
    assert!(
        port.stop_listening().called(),
        "stopping again is done at once"
    );
    assert_eq!(stops.get(), 1, "and does not stop the factory twice");
}

#[test]
fn shutdown_finishes_a_stop_listening_whose_next_pass_never_comes() {
    let reactor = reactor(Seen::default());
    let stops = Rc::new(Cell::new(0));
    let port = reactor
        .listen_tcp(
            ANY,
            Counted {
                stops: stops.clone(),
            },
        )
        .expect("listen");
    let stopped = Rc::new(RefCell::new(None));
    let (me, slot) = (port.clone(), stopped.clone());
    reactor.call_when_running(move |cx| {
        // stop_factory and the Deferred wait for the next pass...
        *slot.borrow_mut() = Some(me.stop_listening());
        // ...which the stop takes away.
        cx.reactor.stop()
    });
    reactor.run().expect("run");

    let stopped = stopped.borrow_mut().take().expect("stop_listening ran");
    assert!(stopped.called(), "stop_listening's Deferred fired");
    assert_eq!(stops.get(), 1, "stop_factory ran once");
    // The call left for the next pass changes nothing.
    run_for(&reactor, Duration::from_millis(20));
    assert_eq!(stops.get(), 1);
}

// ---------------------------------------------------------------------------
// Connectors

/// A client factory that logs what it hears.
struct Client {
    started: Rc<Cell<u32>>,
    stops: Rc<Cell<u32>>,
}

impl ClientFactory<Seen> for Client {
    type Protocol = Recorder;
    fn build_protocol(&mut self, _addr: SocketAddr) -> Recorder {
        Recorder { side: "client" }
    }
    fn stop_factory(&mut self) {
        self.stops.set(self.stops.get() + 1);
    }
    fn started_connecting(&mut self, _connector: &Connector<Seen>) {
        self.started.set(self.started.get() + 1);
    }
    fn client_connection_failed(
        &mut self,
        cx: &mut Ctx<'_, Seen>,
        _connector: &Connector<Seen>,
        reason: &Reason,
    ) {
        cx.state
            .events
            .push(format!("connect failed: {}", name(reason)));
    }
    fn client_connection_lost(
        &mut self,
        cx: &mut Ctx<'_, Seen>,
        _connector: &Connector<Seen>,
        reason: &Reason,
    ) {
        cx.state
            .events
            .push(format!("factory lost: {}", name(reason)));
    }
}

#[test]
fn shutdown_cancels_a_connection_attempt_under_way() {
    let reactor = reactor(Seen::default());
    let listener = TcpListener::bind(ANY).expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let (started, stops) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(0)));
    // A name: resolved on a helper thread, so the attempt is still under
    // way when the shutdown comes, before any pass.
    let connector = reactor.connect_tcp(
        "localhost",
        listener.local_addr().expect("address").port(),
        Client {
            started: started.clone(),
            stops: stops.clone(),
        },
    );
    assert_eq!(connector.state(), ConnectorState::Connecting);

    shut_down_now(&reactor);

    let events = reactor.access_state(|s| s.events.clone()).expect("state");
    assert_eq!(events, ["connect failed: ReactorShutdown"]);
    assert_eq!(connector.state(), ConnectorState::Disconnected);
    assert_eq!(stops.get(), 1, "the factory was stopped");
    // The name's answer, arriving on a later run, connects nothing.
    run_for(&reactor, Duration::from_millis(200));
    assert_eq!(connector.state(), ConnectorState::Disconnected);
    let accepted = listener.accept();
    assert!(
        matches!(&accepted, Err(e) if e.kind() == ErrorKind::WouldBlock),
        "nobody connected: {accepted:?}"
    );
    assert_eq!(started.get(), 1);
}

#[test]
fn shutdown_stops_a_reconnecting_factory_waiting_to_retry() {
    let reactor = reactor(Seen::default());
    let started = Rc::new(Cell::new(0));
    let factory = ReconnectingClientFactory::new(Client {
        started: started.clone(),
        stops: Rc::new(Cell::new(0)),
    })
    .initial_delay(Duration::from_millis(20))
    .jitter(0.0)
    .seed(1);
    let backoff = factory.backoff();
    // Nothing listens there: refused, then a retry is scheduled.
    let connector = reactor.connect_tcp("127.0.0.1", free_port(), factory);
    iterate_until_cond(&reactor, "a retry to be scheduled", || backoff.is_waiting());

    shut_down_now(&reactor);

    assert!(!backoff.is_waiting(), "the retry was cancelled");
    assert!(!backoff.is_trying(), "the factory stopped trying");
    let attempts = started.get();
    run_for(&reactor, Duration::from_millis(300));
    assert_eq!(started.get(), attempts, "no attempt after the shutdown");
    assert_eq!(connector.state(), ConnectorState::Disconnected);
}

#[test]
fn shutdown_stops_a_reconnecting_factory_whose_connection_it_closes() {
    let reactor = reactor(Seen::default());
    let port = reactor
        .listen_tcp(ANY, |_| Recorder { side: "server" })
        .expect("listen");
    let started = Rc::new(Cell::new(0));
    let factory = ReconnectingClientFactory::new(Client {
        started: started.clone(),
        stops: Rc::new(Cell::new(0)),
    })
    .initial_delay(Duration::from_millis(20))
    .jitter(0.0)
    .seed(1);
    let backoff = factory.backoff();
    let connector = reactor.connect_tcp("127.0.0.1", port.get_host().port(), factory);
    iterate_until(&reactor, "the connection", |s| s.count("made") == 2);

    shut_down_now(&reactor);

    let events = reactor.access_state(|s| s.events.clone()).expect("state");
    assert!(
        events.contains(&"factory lost: ReactorShutdown".to_string()),
        "{events:?}"
    );
    assert!(!backoff.is_waiting(), "no retry was scheduled");
    assert!(!backoff.is_trying());
    run_for(&reactor, Duration::from_millis(300));
    assert_eq!(started.get(), 1, "no attempt after the shutdown");
    assert_eq!(connector.state(), ConnectorState::Disconnected);
}

// ---------------------------------------------------------------------------
// UDP

/// Counts `stop_protocol` calls.
struct Datagrams {
    stops: Rc<Cell<u32>>,
}

impl DatagramProtocol<Seen> for Datagrams {
    fn datagram_received(&mut self, _cx: &mut UdpCtx<'_, Seen>, _data: &[u8], _addr: SocketAddr) {}
    fn stop_protocol(&mut self, _cx: &mut UdpCtx<'_, Seen>) {
        self.stops.set(self.stops.get() + 1);
    }
}

#[test]
fn shutdown_closes_udp_ports_and_calls_stop_protocol() {
    let reactor = reactor(Seen::default());
    let stops = Rc::new(Cell::new(0));
    let port = reactor
        .listen_udp(
            ANY,
            Datagrams {
                stops: stops.clone(),
            },
        )
        .expect("listen");
    let peer = UdpSocket::bind(ANY).expect("bind a peer");
    let peer_addr = peer.local_addr().expect("address");

    shut_down_now(&reactor);

    assert!(!port.is_listening());
    assert_eq!(stops.get(), 1, "stop_protocol ran during the shutdown");
    assert!(matches!(
        port.write(b"late", peer_addr),
        Err(Error::Closed { .. })
    ));
    assert!(reactor.get_readers().is_empty());
    run_for(&reactor, Duration::from_millis(20));
    assert_eq!(stops.get(), 1, "and only then");
}

#[test]
fn shutdown_finishes_a_udp_stop_listening_whose_next_pass_never_comes() {
    let reactor = reactor(Seen::default());
    let stops = Rc::new(Cell::new(0));
    let port = reactor
        .listen_udp(
            ANY,
            Datagrams {
                stops: stops.clone(),
            },
        )
        .expect("listen");
    let stopped = Rc::new(RefCell::new(None));
    let (me, slot) = (port.clone(), stopped.clone());
    reactor.call_when_running(move |cx| {
        *slot.borrow_mut() = Some(me.stop_listening());
        cx.reactor.stop()
    });
    reactor.run().expect("run");

    let stopped = stopped.borrow_mut().take().expect("stop_listening ran");
    assert!(stopped.called(), "stop_listening's Deferred fired");
    assert_eq!(stops.get(), 1);
    run_for(&reactor, Duration::from_millis(20));
    assert_eq!(stops.get(), 1);
}

// ---------------------------------------------------------------------------
// Standard I/O

#[test]
fn shutdown_closes_standard_io_and_its_protocol_hears_reactor_shutdown() {
    let reactor = reactor(Seen::default());
    let (_stdin_writer, stdin) = mio::unix::pipe::new().expect("a pipe for stdin");
    let (stdout, mut stdout_reader) = mio::unix::pipe::new().expect("a pipe for stdout");
    let stdio = StandardIO::with_fds(&reactor, Recorder { side: "stdio" }, stdin, stdout)
        .expect("standard I/O on pipes");

    shut_down_now(&reactor);

    let events = reactor.access_state(|s| s.events.clone()).expect("state");
    assert_eq!(events, ["stdio made", "stdio lost: ReactorShutdown"]);
    assert!(!stdio.transport().is_connected());
    // Non-blocking: end-of-file at once, or WouldBlock had the transport
    // kept its end open.
    let mut rest = Vec::new();
    stdout_reader
        .read_to_end(&mut rest)
        .expect("end-of-file: the transport closed its standard output");
    assert!(rest.is_empty());
}

// ---------------------------------------------------------------------------
// A panic while closing

/// Panics when it hears of the loss.
struct PanicsWhenLost;

impl Protocol<Seen> for PanicsWhenLost {
    fn connection_made(&mut self, cx: &mut NetCtx<'_, Seen>) {
        cx.state.events.push("panicky made".to_string());
    }
    fn data_received(&mut self, _cx: &mut NetCtx<'_, Seen>, _data: &[u8]) {}
    fn connection_lost(&mut self, _cx: &mut NetCtx<'_, Seen>, _reason: &Reason) {
        panic!("connection_lost panics on purpose");
    }
}

/// A port whose first connection panics in `connection_lost` and whose
/// second records; both connected. Returns the clients (kept open).
fn one_panicky_one_recorder(reactor: &Reactor<Seen>) -> Vec<TcpStream> {
    let accepted = Cell::new(0);
    let port = reactor
        .listen_tcp(ANY, move |_| -> Box<dyn Protocol<Seen>> {
            accepted.set(accepted.get() + 1);
            if accepted.get() == 1 {
                Box::new(PanicsWhenLost)
            } else {
                Box::new(Recorder { side: "server" })
            }
        })
        .expect("listen");
    let first = TcpStream::connect(port.get_host()).expect("connect");
    iterate_until(reactor, "the first connection", |s| {
        s.count("panicky made") == 1
    });
    let second = TcpStream::connect(port.get_host()).expect("connect");
    iterate_until(reactor, "the second connection", |s| {
        s.count("server made") == 1
    });
    vec![first, second]
}

#[test]
fn shutdown_closes_the_rest_when_a_protocol_panics_in_connection_lost() {
    // A reactor that logs a callback's panic and carries on.
    let reactor = tx0mq_test_support::reactor::catching_reactor(Seen::default());
    let _clients = one_panicky_one_recorder(&reactor);

    shut_down_now(&reactor);

    let events = reactor.access_state(|s| s.events.clone()).expect("state");
    assert!(
        events.contains(&"server lost: ReactorShutdown".to_string()),
        "the connection after the panicking one was closed: {events:?}"
    );
    assert!(reactor.get_readers().is_empty());
}

#[test]
fn shutdown_raises_the_panic_again_after_closing_the_rest() {
    // A reactor that lets a callback's panic unwind out of run.
    let reactor = reactor(Seen::default());
    let _clients = one_panicky_one_recorder(&reactor);

    reactor.call_when_running(|cx| cx.reactor.stop());
    let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| reactor.run()));
    let payload = ran.expect_err("the panic unwinds out of run");
    assert_eq!(
        tx0mq_test_support::reactor::panic_text(payload),
        "connection_lost panics on purpose"
    );
    let events = reactor.access_state(|s| s.events.clone()).expect("state");
    assert!(
        events.contains(&"server lost: ReactorShutdown".to_string()),
        "{events:?}"
    );
    assert!(reactor.get_readers().is_empty());
}
