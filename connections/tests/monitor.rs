//! Socket-monitor events in the reactor: what libzmq reports about a
//! connection's peers reaches the protocol's hooks and the `on_monitor`
//! closure, in order, with its values; the monitor stops with its
//! connection without losing an event libzmq wrote; a failing callback
//! wedges nothing.
//!
//! Peers here are raw `zmq` sockets in a context of their own (so nothing
//! they do goes through our reactor), or plain TCP sockets. The peer
//! processes killed with SIGKILL are in `tests/faults.rs` (the workspace's).

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use log::Level;
use tx0mq_connections::pattern::Push;
use tx0mq_connections::security::Authenticator;
use tx0mq_connections::{
    ConnectionLost, Errno, Error, MonitorEvent, MonitorEvents, Multipart, Protocol, ProtocolError,
    PullProtocol, RepProtocol, ZmqCtx, ZmqDealerConnection, ZmqEndpoint, ZmqFactory, ZmqOptions,
    ZmqPullConnection, ZmqPushConnection, ZmqRepConnection,
};
use tx0mq_reactor::Reactor;
use tx0mq_test_support::log as logs;
use tx0mq_test_support::net::{free_port, TCP_ANY};
use tx0mq_test_support::reactor::{catching_reactor, iterate_until, reactor, settle, DEADLINE};

// ---------------------------------------------------------------------------
// What the callbacks saw

/// Everything the protocol hooks (`P ...`) and the `on_monitor` closure
/// (`C ...`) heard, in one log, so their order shows; the closure's events
/// whole; the messages received.
#[derive(Default)]
struct Seen {
    log: Vec<String>,
    events: Vec<MonitorEvent>,
    messages: Vec<Vec<u8>>,
}

impl Seen {
    /// The kinds of the events the closure heard, by libzmq's names.
    fn names(&self) -> Vec<&'static str> {
        self.events.iter().map(MonitorEvent::name).collect()
    }

    fn heard(&self, kind: MonitorEvents) -> usize {
        self.events.iter().filter(|e| e.kind() == kind).count()
    }

    /// The protocol's peer hooks, in order.
    fn peer_hooks(&self) -> Vec<&str> {
        self.log
            .iter()
            .filter_map(|l| {
                let hook = l.strip_prefix("P ")?.split(' ').next()?;
                matches!(
                    hook,
                    "peer_connected" | "peer_disconnected" | "handshake_failed"
                )
                .then_some(hook)
            })
            .collect()
    }
}

/// A PULL protocol that writes down every hook.
struct Recorder;

impl PullProtocol<Seen> for Recorder {
    fn connection_made(&mut self, cx: &mut ZmqCtx<'_, Seen, ZmqPullConnection<Seen>>) {
        cx.state.log.push("P made".into());
    }
    fn on_pull(&mut self, cx: &mut ZmqCtx<'_, Seen, ZmqPullConnection<Seen>>, message: Multipart) {
        cx.state.messages.push(message[0].to_vec());
    }
    fn connection_lost(
        &mut self,
        cx: &mut ZmqCtx<'_, Seen, ZmqPullConnection<Seen>>,
        lost: &ConnectionLost,
    ) {
        cx.state.log.push(format!("P lost {:?}", lost.reason));
    }
    fn monitor_event(
        &mut self,
        cx: &mut ZmqCtx<'_, Seen, ZmqPullConnection<Seen>>,
        event: &MonitorEvent,
    ) {
        cx.state.log.push(format!("P {}", event.name()));
    }
    fn peer_connected(&mut self, cx: &mut ZmqCtx<'_, Seen, ZmqPullConnection<Seen>>, at: &str) {
        cx.state.log.push(format!("P peer_connected {at}"));
    }
    fn peer_disconnected(&mut self, cx: &mut ZmqCtx<'_, Seen, ZmqPullConnection<Seen>>, at: &str) {
        cx.state.log.push(format!("P peer_disconnected {at}"));
    }
    fn handshake_failed(
        &mut self,
        cx: &mut ZmqCtx<'_, Seen, ZmqPullConnection<Seen>>,
        event: &MonitorEvent,
    ) {
        cx.state
            .log
            .push(format!("P handshake_failed {}", event.name()));
    }
}

/// Records each event the closure hears.
fn record<K: tx0mq_connections::pattern::Pattern>(conn: &tx0mq_connections::Connection<K, Seen>) {
    conn.on_monitor(|cx, event| {
        cx.state.log.push(format!("C {}", event.name()));
        cx.state.events.push(event.clone());
    });
}

/// A monitored PULL with the recorder, bound to a fresh TCP port after the
/// monitor started (so its `LISTENING` is seen); and its endpoint.
fn monitored_pull(factory: &ZmqFactory<Seen>) -> (ZmqPullConnection<Seen>, String) {
    let pull = ZmqPullConnection::new(factory, Vec::new()).expect("a PULL with no endpoint");
    pull.monitor().expect("monitor");
    pull.set_protocol(Recorder).expect("protocol");
    record(&pull);
    pull.add_endpoints(ZmqEndpoint::bind(TCP_ANY))
        .expect("bind");
    let endpoint = pull.last_endpoint().expect("endpoint");
    (pull, endpoint)
}

/// A raw socket in a context of its own (so its I/O is not ours), with no
/// linger.
fn raw_peer(context: &zmq::Context, kind: zmq::SocketType) -> zmq::Socket {
    let socket = context.socket(kind).expect("a raw socket");
    socket.set_linger(0).expect("linger");
    socket
}

fn until_heard(reactor: &Reactor<Seen>, kind: MonitorEvents, times: usize) {
    let what = format!("{times} {kind:?} event(s)");
    iterate_until(reactor, &what, |s| s.heard(kind) >= times);
}

// ---------------------------------------------------------------------------
// Peers coming and going

/// A peer that connects, sends and leaves is, on our bound side, accepted,
/// shakes hands and is disconnected: the closure hears each event with its
/// values, and the protocol hears `monitor_event` and then the hook that
/// names it, before the closure.
#[test]
fn a_peer_that_connects_and_leaves_is_accepted_then_disconnected() {
    let reactor = reactor(Seen::default());
    let factory = ZmqFactory::new(&reactor).unwrap();
    let (pull, endpoint) = monitored_pull(&factory);
    let context = zmq::Context::new();
    let push = raw_peer(&context, zmq::PUSH);
    push.connect(&endpoint).unwrap();
    push.send("hi", 0).unwrap();
    iterate_until(&reactor, "the message and the handshake", |s| {
        !s.messages.is_empty() && s.heard(MonitorEvents::HANDSHAKE_SUCCEEDED) == 1
    });
    drop(push);
    until_heard(&reactor, MonitorEvents::DISCONNECTED, 1);

    reactor
        .access_state(|s| {
            assert_eq!(
                s.names(),
                ["LISTENING", "ACCEPTED", "HANDSHAKE_SUCCEEDED", "DISCONNECTED"]
            );
            let (accepted, gone) = match (&s.events[1], &s.events[3]) {
                (
                    MonitorEvent::Accepted { endpoint: a, fd: fa },
                    MonitorEvent::Disconnected { endpoint: d, fd: fd_ },
                ) => ((a.clone(), *fa), (d.clone(), *fd_)),
                other => panic!("unexpected events {other:?}"),
            };
            assert_eq!(accepted, gone, "the same connection, on our endpoint");
            assert_eq!(accepted.0, endpoint);
            assert!(accepted.1 >= 0);
            assert!(
                matches!(&s.events[0], MonitorEvent::Listening { endpoint: e, .. } if *e == endpoint)
            );
            assert_eq!(
                s.log,
                [
                    "P made".to_string(),
                    "P LISTENING".into(),
                    "C LISTENING".into(),
                    "P ACCEPTED".into(),
                    format!("P peer_connected {endpoint}"),
                    "C ACCEPTED".into(),
                    "P HANDSHAKE_SUCCEEDED".into(),
                    "C HANDSHAKE_SUCCEEDED".into(),
                    "P DISCONNECTED".into(),
                    format!("P peer_disconnected {endpoint}"),
                    "C DISCONNECTED".into(),
                ]
            );
            assert_eq!(s.messages, [b"hi".to_vec()]);
        })
        .unwrap();
    assert_eq!(pull.monitored_events(), Some(MonitorEvents::ALL));
    factory.shutdown();
}

/// A connecting DEALER whose peer goes away and comes back at the same
/// address hears connected, disconnected, connected, in that order (with
/// libzmq's retries in between), and keeps talking to the new peer.
#[test]
fn a_connecting_side_sees_connected_disconnected_connected_as_its_peer_restarts() {
    let reactor = reactor(Seen::default());
    let factory = ZmqFactory::new(&reactor).unwrap();
    let address = format!("tcp://127.0.0.1:{}", free_port());
    let dealer = ZmqDealerConnection::with_options(
        &factory,
        Vec::new(),
        &ZmqOptions::new().reconnect_ivl(Duration::from_millis(20)),
    )
    .unwrap();
    dealer.monitor().unwrap();
    record(&dealer);
    dealer.got_message(|cx, parts| cx.state.messages.push(parts[0].to_vec()));
    dealer
        .add_endpoints(ZmqEndpoint::connect(&address))
        .unwrap();

    let context = zmq::Context::new();
    let first = bind_when_free(&context, &address);
    until_heard(&reactor, MonitorEvents::HANDSHAKE_SUCCEEDED, 1);
    drop(first);
    until_heard(&reactor, MonitorEvents::DISCONNECTED, 1);
    let second = bind_when_free(&context, &address);
    until_heard(&reactor, MonitorEvents::HANDSHAKE_SUCCEEDED, 2);
    dealer.send_msg(b"to the second").unwrap();
    let mut got = zmq::Message::new();
    let deadline = Instant::now() + DEADLINE;
    while second.recv(&mut got, zmq::DONTWAIT).is_err() {
        assert!(Instant::now() < deadline, "the second peer got nothing");
        reactor.iterate(Duration::from_millis(5)).unwrap();
    }

    reactor
        .access_state(|s| {
            let peers: Vec<&str> = s
                .names()
                .into_iter()
                .filter(|n| matches!(*n, "CONNECTED" | "DISCONNECTED"))
                .collect();
            assert_eq!(
                peers,
                ["CONNECTED", "DISCONNECTED", "CONNECTED"],
                "{:?}",
                s.names()
            );
            for event in &s.events {
                assert_eq!(event.endpoint(), address, "{event}");
            }
            // Between the peers, libzmq said when it would try again.
            let gone = s.names().iter().position(|n| *n == "DISCONNECTED").unwrap();
            assert!(
                s.names()[gone..].contains(&"CONNECT_RETRIED"),
                "{:?}",
                s.names()
            );
        })
        .unwrap();
    factory.shutdown();
}

/// Binds a raw ROUTER to `address` once the previous one has let go of it.
fn bind_when_free(context: &zmq::Context, address: &str) -> zmq::Socket {
    let socket = raw_peer(context, zmq::ROUTER);
    let deadline = Instant::now() + DEADLINE;
    loop {
        match socket.bind(address) {
            Ok(()) => return socket,
            Err(zmq::Error::EADDRINUSE) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("bind {address}: {e}"),
        }
    }
}

/// Binding an address that is taken fails, and the monitor reports it as
/// `BindFailed` with `EADDRINUSE` (libzmq names the address without its
/// `tcp://`).
#[test]
fn binding_a_taken_port_reports_bind_failed() {
    let reactor = reactor(Seen::default());
    let factory = ZmqFactory::new(&reactor).unwrap();
    let holder = ZmqPullConnection::new(&factory, ZmqEndpoint::bind(TCP_ANY)).unwrap();
    let taken = holder.last_endpoint().unwrap();
    let pull = ZmqPullConnection::new(&factory, Vec::new()).unwrap();
    pull.monitor().unwrap();
    record(&pull);
    match pull.add_endpoints(ZmqEndpoint::bind(&taken)) {
        Err(Error::Endpoint { source, .. }) => assert_eq!(source, zmq::Error::EADDRINUSE),
        other => panic!("binding {taken} again: {other:?}"),
    }
    until_heard(&reactor, MonitorEvents::BIND_FAILED, 1);
    reactor
        .access_state(|s| {
            let failed = s
                .events
                .iter()
                .find(|e| e.kind() == MonitorEvents::BIND_FAILED);
            match failed {
                Some(MonitorEvent::BindFailed { endpoint, errno }) => {
                    assert_eq!(*errno, Errno(98), "EADDRINUSE");
                    assert!(taken.ends_with(endpoint.as_str()), "{endpoint} for {taken}");
                }
                other => panic!("{other:?}"),
            }
        })
        .unwrap();
    factory.shutdown();
}

// ---------------------------------------------------------------------------
// Handshakes

/// Garbage instead of a ZMTP greeting, from a plain TCP socket, fails the
/// handshake: the protocol hears `peer_connected`, `handshake_failed`, then
/// `peer_disconnected`.
#[test]
fn garbage_instead_of_a_greeting_fails_the_handshake() {
    let reactor = reactor(Seen::default());
    let factory = ZmqFactory::new(&reactor).unwrap();
    let (_pull, endpoint) = monitored_pull(&factory);
    let mut tcp = TcpStream::connect(endpoint.trim_start_matches("tcp://")).unwrap();
    tcp.write_all(&b"GET / HTTP/1.0\r\n\r\n".repeat(8)).unwrap();
    drop(tcp);
    until_heard(&reactor, MonitorEvents::DISCONNECTED, 1);
    reactor
        .access_state(|s| {
            assert_eq!(
                s.peer_hooks(),
                ["peer_connected", "handshake_failed", "peer_disconnected"]
            );
            let failure = s.events.iter().find(|e| e.is_handshake_failure());
            assert!(
                matches!(failure, Some(MonitorEvent::HandshakeFailedNoDetail { .. })),
                "{:?}",
                s.events
            );
            assert_eq!(s.heard(MonitorEvents::HANDSHAKE_SUCCEEDED), 0);
        })
        .unwrap();
}

/// A well-formed ZMTP 3.0 greeting that asks for a mechanism nobody has is
/// a protocol error, `ZMTP_MECHANISM_MISMATCH`.
#[test]
fn a_greeting_with_an_unknown_mechanism_is_a_protocol_error() {
    let reactor = reactor(Seen::default());
    let factory = ZmqFactory::new(&reactor).unwrap();
    let (_pull, endpoint) = monitored_pull(&factory);
    let mut greeting = vec![0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0x7f, 3, 0];
    let mut mechanism = b"BOGUS".to_vec();
    mechanism.resize(20, 0);
    greeting.extend(mechanism);
    greeting.resize(64, 0);
    let mut tcp = TcpStream::connect(endpoint.trim_start_matches("tcp://")).unwrap();
    tcp.write_all(&greeting).unwrap();
    until_heard(&reactor, MonitorEvents::DISCONNECTED, 1);
    drop(tcp);
    reactor
        .access_state(|s| {
            let failure = s.events.iter().find(|e| e.is_handshake_failure());
            match failure {
                Some(MonitorEvent::HandshakeFailedProtocol {
                    error,
                    endpoint: at,
                }) => {
                    assert_eq!(*error, ProtocolError::ZMTP_MECHANISM_MISMATCH);
                    assert_eq!(*at, endpoint);
                }
                other => panic!("{other:?} in {:?}", s.events),
            }
            assert!(s
                .log
                .contains(&"P handshake_failed HANDSHAKE_FAILED_PROTOCOL".to_string()));
        })
        .unwrap();
}

/// With the ZAP authenticator, a PLAIN client with a wrong password is
/// refused with status 400: the server's monitor says so, and so does the
/// client's (libzmq hears the server's ERROR command).
#[test]
fn a_refused_plain_client_fails_authentication_on_both_sides() {
    let reactor = reactor(Seen::default());
    let factory = ZmqFactory::new(&reactor).unwrap();
    let auth = Authenticator::new(&factory);
    auth.configure_plain("*", [("admin", "secret")]);
    auth.start().unwrap();
    let server = ZmqPullConnection::with_options(
        &factory,
        Vec::new(),
        &ZmqOptions::new().plain_server(true),
    )
    .unwrap();
    server
        .monitor_events(MonitorEvents::HANDSHAKE_FAILED)
        .unwrap();
    server.on_monitor(|cx, event| cx.state.events.push(event.clone()));
    server.add_endpoints(ZmqEndpoint::bind(TCP_ANY)).unwrap();
    let endpoint = server.last_endpoint().unwrap();
    let client = ZmqPushConnection::with_options(
        &factory,
        Vec::new(),
        &ZmqOptions::new().plain_client("admin", "guess"),
    )
    .unwrap();
    client
        .monitor_events(MonitorEvents::HANDSHAKE_FAILED)
        .unwrap();
    client.on_monitor(|cx, event| cx.state.log.push(event.to_string()));
    client
        .add_endpoints(ZmqEndpoint::connect(&endpoint))
        .unwrap();
    iterate_until(&reactor, "the refusal on both sides", |s| {
        !s.events.is_empty() && !s.log.is_empty()
    });
    reactor
        .access_state(|s| {
            assert_eq!(
                s.events[0],
                MonitorEvent::HandshakeFailedAuth {
                    endpoint: endpoint.clone(),
                    status: 400
                }
            );
            assert_eq!(
                s.log[0],
                format!(
                    "handshake with {endpoint} failed: authentication refused (ZAP status 400)"
                )
            );
        })
        .unwrap();
    assert!(auth.stats().refused >= 1);
    factory.shutdown();
}

// ---------------------------------------------------------------------------
// Stopping

/// Shutting a connection down delivers every event libzmq had written and
/// the reactor had not read yet, ending with `MONITOR_STOPPED`, to the
/// protocol (before `connection_lost`) and to the closure.
#[test]
fn shutdown_delivers_every_event_libzmq_wrote_then_connection_lost() {
    let reactor = reactor(Seen::default());
    let factory = ZmqFactory::new(&reactor).unwrap();
    let (pull, endpoint) = monitored_pull(&factory);
    let context = zmq::Context::new();
    let push = raw_peer(&context, zmq::PUSH);
    push.connect(&endpoint).unwrap();
    push.send("queued", 0).unwrap();
    // Without running the reactor (which would read the monitor): once the
    // message is readable, libzmq has accepted the peer and finished the
    // handshake, and written both events.
    let readable = pull
        .with_socket(|s| s.poll(zmq::POLLIN, DEADLINE.as_millis() as i64))
        .unwrap()
        .unwrap();
    assert_eq!(readable, 1, "the message arrived");
    pull.shutdown();
    reactor
        .access_state(|s| {
            assert_eq!(
                s.names(),
                [
                    "LISTENING",
                    "ACCEPTED",
                    "HANDSHAKE_SUCCEEDED",
                    "MONITOR_STOPPED"
                ]
            );
            let protocol: Vec<&str> = s
                .log
                .iter()
                .filter(|l| l.starts_with("P "))
                .map(String::as_str)
                .collect();
            assert_eq!(
                protocol,
                [
                    "P made".to_string(),
                    "P LISTENING".into(),
                    "P ACCEPTED".into(),
                    format!("P peer_connected {endpoint}"),
                    "P HANDSHAKE_SUCCEEDED".into(),
                    "P MONITOR_STOPPED".into(),
                    "P lost Shutdown".into(),
                ]
            );
        })
        .unwrap();
    assert_eq!(pull.monitored_events(), None);
    // Nothing is left for later.
    settle(&reactor);
    assert_eq!(reactor.access_state(|s| s.events.len()).unwrap(), 4);
}

/// The same when the reactor shuts down with the factory registered for
/// it: the last events come before `connection_lost`.
#[test]
fn reactor_shutdown_delivers_monitor_stopped_before_connection_lost() {
    let reactor = reactor(Seen::default());
    let factory = ZmqFactory::new(&reactor).unwrap();
    factory.register_for_shutdown();
    let (_pull, _endpoint) = monitored_pull(&factory);
    until_heard(&reactor, MonitorEvents::LISTENING, 1);
    reactor.call_when_running(|cx| cx.reactor.stop());
    reactor.run().unwrap();
    reactor
        .access_state(|s| {
            let tail: Vec<&str> = s
                .log
                .iter()
                .rev()
                .take(3)
                .rev()
                .map(String::as_str)
                .collect();
            assert_eq!(
                tail,
                [
                    "P MONITOR_STOPPED",
                    "C MONITOR_STOPPED",
                    "P lost ReactorShutdown"
                ]
            );
        })
        .unwrap();
}

/// A closure that shuts its connection down when a peer is accepted still
/// hears what libzmq wrote after that, ending with `MONITOR_STOPPED`; the
/// protocol hears the same before `connection_lost`.
#[test]
fn shutdown_from_inside_the_monitor_closure_still_delivers_the_last_events() {
    let reactor = reactor(Seen::default());
    let factory = ZmqFactory::new(&reactor).unwrap();
    let (pull, endpoint) = monitored_pull(&factory);
    pull.on_monitor(|cx, event| {
        cx.state.log.push(format!("C {}", event.name()));
        cx.state.events.push(event.clone());
        if let MonitorEvent::Accepted { .. } = event {
            cx.conn.shutdown();
        }
    });
    let context = zmq::Context::new();
    let push = raw_peer(&context, zmq::PUSH);
    push.connect(&endpoint).unwrap();
    until_heard(&reactor, MonitorEvents::MONITOR_STOPPED, 1);
    settle(&reactor);
    reactor
        .access_state(|s| {
            assert_eq!(
                s.names().last(),
                Some(&"MONITOR_STOPPED"),
                "{:?}",
                s.names()
            );
            assert_eq!(s.heard(MonitorEvents::MONITOR_STOPPED), 1);
            assert_eq!(
                s.log.last().map(String::as_str),
                Some("P lost Shutdown"),
                "{:?}",
                s.log
            );
            // The protocol heard each event the closure heard, first.
            let protocol: Vec<&str> = s
                .log
                .iter()
                .filter_map(|l| l.strip_prefix("P "))
                .filter(|l| !l.contains(' ') && *l != "made")
                .collect();
            assert_eq!(protocol, s.names(), "{:?}", s.log);
        })
        .unwrap();
    assert!(pull.is_closed());
}

/// A protocol hook that shuts its connection down: the protocol hears the
/// rest of the monitor's events, then `connection_lost`, once.
#[test]
fn shutdown_from_inside_a_protocol_hook_delivers_the_rest_before_connection_lost() {
    struct Quitter;
    impl PullProtocol<Seen> for Quitter {
        fn on_pull(&mut self, _: &mut ZmqCtx<'_, Seen, ZmqPullConnection<Seen>>, _: Multipart) {}
        fn peer_connected(&mut self, cx: &mut ZmqCtx<'_, Seen, ZmqPullConnection<Seen>>, _: &str) {
            cx.state.log.push("P peer_connected".into());
            cx.conn.shutdown();
        }
        fn monitor_event(
            &mut self,
            cx: &mut ZmqCtx<'_, Seen, ZmqPullConnection<Seen>>,
            event: &MonitorEvent,
        ) {
            cx.state.log.push(format!("P {}", event.name()));
        }
        fn connection_lost(
            &mut self,
            cx: &mut ZmqCtx<'_, Seen, ZmqPullConnection<Seen>>,
            _: &ConnectionLost,
        ) {
            cx.state.log.push("P lost".into());
        }
    }
    let reactor = reactor(Seen::default());
    let factory = ZmqFactory::new(&reactor).unwrap();
    let (pull, endpoint) = monitored_pull(&factory);
    pull.set_protocol(Quitter).unwrap();
    let context = zmq::Context::new();
    let push = raw_peer(&context, zmq::PUSH);
    push.connect(&endpoint).unwrap();
    until_heard(&reactor, MonitorEvents::MONITOR_STOPPED, 1);
    settle(&reactor);
    reactor
        .access_state(|s| {
            let protocol: Vec<&str> = s
                .log
                .iter()
                .filter(|l| l.starts_with("P "))
                .map(String::as_str)
                .collect();
            assert_eq!(protocol.first(), Some(&"P LISTENING"), "{protocol:?}");
            let accepted = protocol.iter().position(|l| *l == "P ACCEPTED").unwrap();
            assert_eq!(protocol[accepted + 1], "P peer_connected");
            assert_eq!(
                &protocol[protocol.len() - 2..],
                ["P MONITOR_STOPPED", "P lost"]
            );
            assert_eq!(protocol.iter().filter(|l| **l == "P lost").count(), 1);
        })
        .unwrap();
}

/// `stop_monitor` delivers the last events, `MONITOR_STOPPED` last, and
/// nothing is heard afterwards; monitoring can start again.
#[test]
fn stop_monitor_ends_with_monitor_stopped_and_nothing_follows() {
    let reactor = reactor(Seen::default());
    let factory = ZmqFactory::new(&reactor).unwrap();
    let (pull, endpoint) = monitored_pull(&factory);
    until_heard(&reactor, MonitorEvents::LISTENING, 1);
    assert!(pull.stop_monitor());
    assert!(!pull.stop_monitor(), "a second stop finds no monitor");
    assert_eq!(pull.monitored_events(), None);
    assert_eq!(
        reactor.access_state(|s| s.names()).unwrap(),
        ["LISTENING", "MONITOR_STOPPED"]
    );

    let context = zmq::Context::new();
    let push = raw_peer(&context, zmq::PUSH);
    push.connect(&endpoint).unwrap();
    push.send("after", 0).unwrap();
    iterate_until(&reactor, "the message", |s| !s.messages.is_empty());
    settle(&reactor);
    assert_eq!(
        reactor.access_state(|s| s.events.len()).unwrap(),
        2,
        "no events when stopped"
    );

    pull.monitor_events(MonitorEvents::DISCONNECTED).unwrap();
    drop(push);
    until_heard(&reactor, MonitorEvents::DISCONNECTED, 1);
    assert_eq!(
        reactor.access_state(|s| s.names()).unwrap(),
        ["LISTENING", "MONITOR_STOPPED", "DISCONNECTED"]
    );
    factory.shutdown();
}

/// `monitor_events` asks libzmq for the chosen kinds only; asking again
/// for the same kinds changes nothing, for others restarts the monitor.
#[test]
fn monitor_events_reports_only_the_chosen_kinds() {
    let reactor = reactor(Seen::default());
    let factory = ZmqFactory::new(&reactor).unwrap();
    let pull = ZmqPullConnection::new(&factory, Vec::new()).unwrap();
    let peers = MonitorEvents::ACCEPTED | MonitorEvents::DISCONNECTED;
    pull.monitor_events(peers).unwrap();
    pull.monitor_events(peers).unwrap();
    record(&pull);
    pull.add_endpoints(ZmqEndpoint::bind(TCP_ANY)).unwrap();
    let endpoint = pull.last_endpoint().unwrap();
    let context = zmq::Context::new();
    let push = raw_peer(&context, zmq::PUSH);
    push.connect(&endpoint).unwrap();
    until_heard(&reactor, MonitorEvents::ACCEPTED, 1);
    drop(push);
    until_heard(&reactor, MonitorEvents::DISCONNECTED, 1);
    assert_eq!(
        reactor.access_state(|s| s.names()).unwrap(),
        ["ACCEPTED", "DISCONNECTED"]
    );
    assert_eq!(pull.monitored_events(), Some(peers));

    // Another set: the old monitor stops (it did not ask for
    // MONITOR_STOPPED, so nothing is heard of it) and the new one reports.
    pull.monitor_events(MonitorEvents::CLOSED | MonitorEvents::MONITOR_STOPPED)
        .unwrap();
    pull.with_socket(|s| s.unbind(&endpoint)).unwrap().unwrap();
    until_heard(&reactor, MonitorEvents::CLOSED, 1);
    pull.shutdown();
    assert_eq!(
        reactor.access_state(|s| s.names()).unwrap(),
        ["ACCEPTED", "DISCONNECTED", "CLOSED", "MONITOR_STOPPED"]
    );
}

/// More events than one reactor pass reads from a socket (256): every one
/// arrives, in order, and the reactor still serves the data socket.
#[test]
fn more_events_than_a_batch_all_arrive_in_order() {
    const PEERS: usize = 150;
    let reactor = reactor(Seen::default());
    let factory = ZmqFactory::new(&reactor).unwrap();
    let pull = ZmqPullConnection::new(&factory, Vec::new()).unwrap();
    pull.monitor_events(MonitorEvents::ACCEPTED | MonitorEvents::DISCONNECTED)
        .unwrap();
    record(&pull);
    pull.on_pull(|cx, message| cx.state.messages.push(message[0].to_vec()));
    pull.add_endpoints(ZmqEndpoint::bind(TCP_ANY)).unwrap();
    let endpoint = pull.last_endpoint().unwrap();
    let address = endpoint.trim_start_matches("tcp://").to_string();
    for _ in 0..PEERS {
        drop(TcpStream::connect(&address).unwrap());
    }
    // 300 events, written before the reactor reads any.
    let context = zmq::Context::new();
    let push = raw_peer(&context, zmq::PUSH);
    push.connect(&endpoint).unwrap();
    push.send("served", 0).unwrap();
    iterate_until(&reactor, "every event and the message", |s| {
        s.heard(MonitorEvents::DISCONNECTED) >= PEERS && !s.messages.is_empty()
    });
    reactor
        .access_state(|s| {
            // Each connection's events in order: accepted before disconnected.
            let mut open = std::collections::BTreeSet::new();
            for event in &s.events {
                match event {
                    MonitorEvent::Accepted { fd, .. } => assert!(open.insert(*fd), "{fd} twice"),
                    MonitorEvent::Disconnected { fd, .. } => {
                        assert!(open.remove(fd), "{fd} disconnected before accepted")
                    }
                    other => panic!("not asked for: {other}"),
                }
            }
            assert_eq!(
                s.heard(MonitorEvents::ACCEPTED),
                PEERS + 1,
                "and the served peer"
            );
        })
        .unwrap();
    factory.shutdown();
}

// ---------------------------------------------------------------------------
// Failing callbacks, misuse

/// A closure or a protocol hook that panics is logged; the events after it
/// still reach both, and the connection still receives.
#[test]
fn a_panicking_closure_or_hook_leaves_monitoring_and_the_connection_working() {
    struct Panicky;
    impl PullProtocol<Seen> for Panicky {
        fn on_pull(&mut self, cx: &mut ZmqCtx<'_, Seen, ZmqPullConnection<Seen>>, m: Multipart) {
            cx.state.messages.push(m[0].to_vec());
        }
        fn peer_connected(&mut self, _: &mut ZmqCtx<'_, Seen, ZmqPullConnection<Seen>>, _: &str) {
            panic!("the hook fails");
        }
        fn peer_disconnected(
            &mut self,
            cx: &mut ZmqCtx<'_, Seen, ZmqPullConnection<Seen>>,
            _: &str,
        ) {
            cx.state.log.push("P peer_disconnected".into());
        }
    }
    logs::capture();
    let reactor = catching_reactor(Seen::default());
    let factory = ZmqFactory::new(&reactor).unwrap();
    let pull = ZmqPullConnection::new(&factory, ZmqEndpoint::bind(TCP_ANY)).unwrap();
    let endpoint = pull.last_endpoint().unwrap();
    pull.monitor_events(
        MonitorEvents::ACCEPTED | MonitorEvents::HANDSHAKE_SUCCEEDED | MonitorEvents::DISCONNECTED,
    )
    .unwrap();
    pull.set_protocol(Panicky).unwrap();
    pull.on_monitor(|cx, event| {
        cx.state.events.push(event.clone());
        if let MonitorEvent::HandshakeSucceeded { .. } = event {
            panic!("the closure fails");
        }
    });
    let context = zmq::Context::new();
    let push = raw_peer(&context, zmq::PUSH);
    push.connect(&endpoint).unwrap();
    push.send("still served", 0).unwrap();
    iterate_until(&reactor, "the message", |s| !s.messages.is_empty());
    until_heard(&reactor, MonitorEvents::HANDSHAKE_SUCCEEDED, 1);
    drop(push);
    iterate_until(&reactor, "the disconnection, to both", |s| {
        s.heard(MonitorEvents::DISCONNECTED) == 1 && s.log.contains(&"P peer_disconnected".into())
    });
    assert!(
        logs::contains(Level::Error, "the hook fails"),
        "{:?}",
        logs::records()
    );
    assert!(
        logs::contains(Level::Error, "the closure fails"),
        "{:?}",
        logs::records()
    );
    assert!(
        logs::contains(
            Level::Error,
            "on_monitor closure panicked; monitoring carries on"
        ),
        "{:?}",
        logs::records()
    );
    factory.shutdown();
}

/// Monitoring a connection that is shut down fails with `Error::Closed`;
/// a fake connection has no socket to monitor.
#[test]
fn monitoring_a_closed_or_fake_connection_is_refused() {
    let reactor = reactor(());
    let factory = ZmqFactory::new(&reactor).unwrap();
    let pull = ZmqPullConnection::new(&factory, ZmqEndpoint::bind(TCP_ANY)).unwrap();
    pull.shutdown();
    match pull.monitor() {
        Err(e @ Error::Closed { .. }) => assert!(e.to_string().contains("cannot monitor"), "{e}"),
        other => panic!("{other:?}"),
    }
    assert!(!pull.stop_monitor());
    let (fake, _peer) = ZmqPullConnection::<()>::fake(&reactor).unwrap();
    assert!(matches!(fake.monitor(), Err(Error::Socket { .. })));
    assert_eq!(fake.monitored_events(), None);
    // The monitor's own socket is not one of the factory's connections.
    let watched = ZmqPullConnection::new(&factory, ZmqEndpoint::bind(TCP_ANY)).unwrap();
    let before = factory.connection_count();
    watched.monitor().unwrap();
    assert_eq!(factory.connection_count(), before);
    factory.shutdown();
    assert_eq!(watched.monitored_events(), None);
}

// ---------------------------------------------------------------------------
// Every pattern's protocol has the hooks

/// A REP protocol hears its peers through its own trait's hooks.
#[test]
fn a_rep_protocol_hears_its_peers() {
    struct Server;
    impl RepProtocol<Seen> for Server {
        fn got_message(
            &mut self,
            cx: &mut ZmqCtx<'_, Seen, ZmqRepConnection<Seen>>,
            id: tx0mq_connections::Frame,
            _parts: Multipart,
        ) {
            let _ = cx.conn.reply(&id, b"ok");
        }
        fn peer_connected(&mut self, cx: &mut ZmqCtx<'_, Seen, ZmqRepConnection<Seen>>, at: &str) {
            cx.state.log.push(format!("P peer_connected {at}"));
        }
        fn peer_disconnected(
            &mut self,
            cx: &mut ZmqCtx<'_, Seen, ZmqRepConnection<Seen>>,
            at: &str,
        ) {
            cx.state.log.push(format!("P peer_disconnected {at}"));
        }
    }
    let reactor = reactor(Seen::default());
    let factory = ZmqFactory::new(&reactor).unwrap();
    let rep = ZmqRepConnection::new(&factory, ZmqEndpoint::bind(TCP_ANY)).unwrap();
    let endpoint = rep.last_endpoint().unwrap();
    rep.monitor().unwrap();
    rep.set_protocol(Server).unwrap();
    let context = zmq::Context::new();
    let req = raw_peer(&context, zmq::REQ);
    req.connect(&endpoint).unwrap();
    req.send("hello", 0).unwrap();
    let deadline = Instant::now() + DEADLINE;
    while req.recv_bytes(zmq::DONTWAIT).is_err() {
        assert!(Instant::now() < deadline, "no reply");
        reactor.iterate(Duration::from_millis(5)).unwrap();
    }
    drop(req);
    iterate_until(&reactor, "the disconnection", |s| s.log.len() == 2);
    assert_eq!(
        reactor.access_state(|s| s.log.clone()).unwrap(),
        [
            format!("P peer_connected {endpoint}"),
            format!("P peer_disconnected {endpoint}")
        ]
    );
    factory.shutdown();
}

/// A pattern with no protocol trait of its own (PUSH) gets the hooks
/// through `Protocol` itself.
#[test]
fn a_push_protocol_hears_its_peers_through_protocol() {
    struct Pusher;
    impl Protocol<Push, Seen> for Pusher {
        fn received(
            &mut self,
            _: &mut ZmqCtx<'_, Seen, ZmqPushConnection<Seen>>,
            never: tx0mq_connections::pattern::NoEvent,
        ) {
            match never {}
        }
        fn peer_connected(&mut self, cx: &mut ZmqCtx<'_, Seen, ZmqPushConnection<Seen>>, at: &str) {
            cx.state.log.push(format!("P peer_connected {at}"));
            cx.conn.push(b"hello, peer").unwrap();
        }
    }
    let reactor = reactor(Seen::default());
    let factory = ZmqFactory::new(&reactor).unwrap();
    let context = zmq::Context::new();
    let pull = raw_peer(&context, zmq::PULL);
    pull.bind(TCP_ANY).unwrap();
    let endpoint = pull.get_last_endpoint().unwrap().unwrap();
    let push = ZmqPushConnection::new(&factory, Vec::new()).unwrap();
    push.monitor_events(MonitorEvents::CONNECTED).unwrap();
    push.set_protocol(Pusher).unwrap();
    push.add_endpoints(ZmqEndpoint::connect(&endpoint)).unwrap();
    let deadline = Instant::now() + DEADLINE;
    let got = loop {
        if let Ok(got) = pull.recv_bytes(zmq::DONTWAIT) {
            break got;
        }
        assert!(Instant::now() < deadline, "nothing pushed");
        reactor.iterate(Duration::from_millis(5)).unwrap();
    };
    assert_eq!(got, b"hello, peer");
    assert_eq!(
        reactor.access_state(|s| s.log.clone()).unwrap(),
        [format!("P peer_connected {endpoint}")]
    );
    factory.shutdown();
}
