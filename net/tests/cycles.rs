//! 10,000 TCP connect/disconnect cycles through our server and our client,
//! with the process's file descriptors counted before and after: every
//! socket a transport, a port or a connector opened must be closed (the
//! port by the reactor's shutdown, when `run` returns), the reactor must
//! watch nothing any more, and once it is dropped its own descriptors are
//! gone too.
//!
//! The descriptor count is process-wide, so this is the only test of its
//! binary (nothing else opens descriptors meanwhile).

use std::net::SocketAddr;
use std::time::Duration;

use tx0mq_net::{ClientFactory, Connector, NetCtx, Protocol, ReactorNet, Reason};
use tx0mq_reactor::Ctx;
use tx0mq_test_support::reactor::{reactor, run_with_deadline};

const CONNECTORS: u32 = 10;
const CYCLES_EACH: u32 = 1_000;
const CYCLES: u32 = CONNECTORS * CYCLES_EACH;

#[derive(Default)]
struct Cycles {
    /// Client connections lost (each after its echo).
    done: u32,
    echoes: u32,
    /// Server-side connections lost.
    served: u32,
    unclean: Vec<String>,
}

struct Echo;

impl Protocol<Cycles> for Echo {
    fn data_received(&mut self, cx: &mut NetCtx<'_, Cycles>, data: &[u8]) {
        cx.transport.write(data).expect("echo");
    }
    fn connection_lost(&mut self, cx: &mut NetCtx<'_, Cycles>, reason: &Reason) {
        cx.state.served += 1;
        if !reason.is_clean() {
            cx.state.unclean.push(format!("server: {reason:?}"));
        }
        stop_when_done(cx.reactor, cx.state);
    }
}

struct Ping {
    got: usize,
}

impl Protocol<Cycles> for Ping {
    fn connection_made(&mut self, cx: &mut NetCtx<'_, Cycles>) {
        cx.transport.write(b"ping").expect("write");
    }
    fn data_received(&mut self, cx: &mut NetCtx<'_, Cycles>, data: &[u8]) {
        self.got += data.len();
        if self.got == 4 {
            cx.state.echoes += 1;
            cx.transport.lose_connection();
        }
    }
}

/// Connects again after each loss until it has made its share.
struct Again {
    left: u32,
}

impl ClientFactory<Cycles> for Again {
    type Protocol = Ping;
    fn build_protocol(&mut self, _addr: SocketAddr) -> Ping {
        Ping { got: 0 }
    }
    fn client_connection_failed(
        &mut self,
        cx: &mut Ctx<'_, Cycles>,
        _connector: &Connector<Cycles>,
        reason: &Reason,
    ) {
        cx.state.unclean.push(format!("connect: {reason:?}"));
        let _ = cx.reactor.stop();
    }
    fn client_connection_lost(
        &mut self,
        cx: &mut Ctx<'_, Cycles>,
        connector: &Connector<Cycles>,
        reason: &Reason,
    ) {
        cx.state.done += 1;
        if !matches!(reason, Reason::Closed) {
            cx.state.unclean.push(format!("client: {reason:?}"));
        }
        self.left -= 1;
        if self.left > 0 {
            connector.connect().expect("connect again");
        }
        stop_when_done(cx.reactor, cx.state);
    }
}

fn stop_when_done(reactor: &tx0mq_reactor::Reactor<Cycles>, state: &Cycles) {
    if state.done == CYCLES && state.served == CYCLES {
        let _ = reactor.stop();
    }
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("list /proc/self/fd")
        .count()
}

#[test]
fn ten_thousand_connect_disconnect_cycles_leave_no_descriptor_behind() {
    let before_reactor = open_fds();
    let reactor = reactor(Cycles::default());
    let baseline = open_fds();
    let port = reactor.listen_tcp("127.0.0.1:0", |_| Echo).expect("listen");
    let server = port.get_host();
    for _ in 0..CONNECTORS {
        reactor.connect_tcp("127.0.0.1", server.port(), Again { left: CYCLES_EACH });
    }
    let took = run_with_deadline(
        &reactor,
        Duration::from_secs(120),
        "10,000 connect/disconnect cycles",
        |s| format!("{} cycles, {} served", s.done, s.served),
    );
    eprintln!("{CYCLES} cycles in {took:?}");
    reactor
        .access_state(|s| {
            assert_eq!(s.echoes, CYCLES, "each cycle echoed");
            assert!(
                s.unclean.is_empty(),
                "{:?}",
                &s.unclean[..s.unclean.len().min(10)]
            );
        })
        .expect("state");
    assert!(reactor.get_writers().is_empty(), "no writer is left");
    assert!(
        reactor.get_readers().is_empty(),
        "the reactor's shutdown stopped the port: nothing reads"
    );
    assert!(!port.is_listening());
    assert_eq!(
        open_fds(),
        baseline,
        "every connection's and the port's socket is closed"
    );
    drop(port);
    drop(reactor);
    assert_eq!(
        open_fds(),
        before_reactor,
        "the reactor's own descriptors are closed with it"
    );
}
