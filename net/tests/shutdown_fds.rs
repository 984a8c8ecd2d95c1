//! The reactor's shutdown closes every descriptor of tx0mq-net: a listening
//! port with connections, a client connection, a connection attempt under
//! way, a reconnecting factory waiting to retry and a UDP port. The count
//! of the process's descriptors is back to what it was once `run` returns
//! (the reactor's own aside), and to what it was before the reactor once
//! the reactor is dropped.
//!
//! The count is process-wide, so this is the only test of its binary.

use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use tx0mq_net::{
    ConnectorState, DatagramProtocol, NetCtx, Protocol, ReactorNet, Reason,
    ReconnectingClientFactory, UdpCtx,
};
use tx0mq_test_support::net::free_port;
use tx0mq_test_support::reactor::{iterate_until, reactor};

#[derive(Default)]
struct Counts {
    made: u32,
    lost: u32,
    unexpected: Vec<String>,
}

struct Counted;

impl Protocol<Counts> for Counted {
    fn connection_made(&mut self, cx: &mut NetCtx<'_, Counts>) {
        cx.state.made += 1;
        // Something buffered or not: the shutdown closes it either way.
        cx.transport.write(b"hello").expect("write");
    }
    fn data_received(&mut self, _cx: &mut NetCtx<'_, Counts>, _data: &[u8]) {}
    fn connection_lost(&mut self, cx: &mut NetCtx<'_, Counts>, reason: &Reason) {
        cx.state.lost += 1;
        if !matches!(reason, Reason::ReactorShutdown) {
            cx.state.unexpected.push(format!("{reason:?}"));
        }
    }
}

struct Quiet;

impl DatagramProtocol<Counts> for Quiet {
    fn datagram_received(&mut self, _cx: &mut UdpCtx<'_, Counts>, _data: &[u8], _addr: SocketAddr) {
    }
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("list /proc/self/fd")
        .count()
}

#[test]
fn shutdown_leaves_no_descriptor_of_ports_connectors_or_connections_behind() {
    // A peer outside the reactor for the attempt under way; opened first,
    // so it is in both counts.
    let elsewhere = TcpListener::bind("127.0.0.1:0").expect("bind");
    let before_reactor = open_fds();
    let reactor = reactor(Counts::default());
    let baseline = open_fds();

    let port = reactor
        .listen_tcp("127.0.0.1:0", |_| Counted)
        .expect("listen");
    let server = port.get_host().port();
    let connectors: Vec<_> = (0..5)
        .map(|_| reactor.connect_tcp("127.0.0.1", server, |_| Counted))
        .collect();
    let udp = reactor.listen_udp("127.0.0.1:0", Quiet).expect("udp");
    let retrying = ReconnectingClientFactory::new(|_| Counted)
        .initial_delay(Duration::from_secs(60))
        .jitter(0.0);
    let backoff = retrying.backoff();
    reactor.connect_tcp("127.0.0.1", free_port(), retrying);
    iterate_until(&reactor, "five connections, both ends", |c| c.made == 10);
    iterate_until(&reactor, "the refused factory's retry", |_| {
        backoff.is_waiting()
    });
    // Resolved on a helper thread: still connecting when the shutdown comes.
    let pending = reactor.connect_tcp(
        "localhost",
        elsewhere.local_addr().expect("address").port(),
        |_| Counted,
    );
    assert!(open_fds() > baseline);

    reactor.call_when_running(|cx| cx.reactor.stop());
    reactor.run().expect("run");

    reactor
        .access_state(|c| {
            assert_eq!(c.lost, 10, "every connection's protocol heard the loss");
            assert!(c.unexpected.is_empty(), "{:?}", c.unexpected);
        })
        .expect("state");
    assert!(!port.is_listening());
    assert!(!udp.is_listening());
    assert!(!backoff.is_waiting());
    assert_eq!(pending.state(), ConnectorState::Disconnected);
    for connector in &connectors {
        assert_eq!(connector.state(), ConnectorState::Disconnected);
    }
    assert!(reactor.get_readers().is_empty());
    assert!(reactor.get_writers().is_empty());
    assert_eq!(
        open_fds(),
        baseline,
        "every socket of the net crate is closed when run returns"
    );
    drop(connectors);
    drop(pending);
    drop((port, udp));
    drop(reactor);
    // The helper thread resolving "localhost" holds a handle to the
    // reactor's waker until its answer is refused: give it time to end.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while open_fds() != before_reactor && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(open_fds(), before_reactor, "and the reactor's own with it");
    // The attempt under way was cancelled before it reached the peer.
    elsewhere.set_nonblocking(true).expect("nonblocking");
    let accepted = elsewhere.accept();
    assert!(
        matches!(&accepted, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "nobody connected: {accepted:?}"
    );
}
