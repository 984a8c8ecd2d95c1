//! Bad input and misuse: each gets a clear `Err` whose message names the
//! culprit, or a logged-and-dropped message after which the connection and
//! the reactor carry on (proved by a good message arriving next). Never a
//! panic, never a queued message lost without a word.

mod common;

use std::time::Duration;

use common::{bytes, frames, raw_recv, raw_send, Lost, LostRecorder, Outcome};
use log::Level;
use tx0mq_connections::{
    bytes_repr, ConnectionLost, DealerProtocol, Error, LostReason, MonitorEvent, MonitorEvents,
    Multipart, ZmqConnection, ZmqCtx, ZmqDealerConnection, ZmqEndpoint, ZmqFactory, ZmqOptions,
    ZmqPubConnection, ZmqPullConnection, ZmqPushConnection, ZmqRepConnection, ZmqReqConnection,
    ZmqRouterConnection, ZmqSubConnection, ZmqXPubConnection, ZmqXSubConnection,
};
use tx0mq_test_support::log as logs;
use tx0mq_test_support::net::{inproc, TCP_ANY};
use tx0mq_test_support::reactor::{
    catching_reactor, iterate_until, iterate_until_cond, reactor, run_with_watchdog, settle,
    DEADLINE,
};

/// Asserts `result` is `Error::Endpoint` for `address`, with a message that
/// names the address and the verb.
fn assert_endpoint_error<T: std::fmt::Debug>(result: Result<T, Error>, verb: &str, address: &str) {
    match result {
        Err(e @ Error::Endpoint { .. }) => {
            let Error::Endpoint { endpoint, .. } = &e else {
                unreachable!()
            };
            assert_eq!(endpoint.address, address);
            let message = e.to_string();
            assert!(
                message.contains(&format!("{address:?}")) && message.contains(verb),
                "the message should name {verb} {address:?}: {message}"
            );
        }
        other => panic!("{verb} {address:?}: expected Error::Endpoint, got {other:?}"),
    }
}

/// Asserts `result` is `Error::Closed` for `operation`, naming the connection.
fn assert_closed<T: std::fmt::Debug>(result: Result<T, Error>, operation: &str, connection: &str) {
    match result {
        Err(e @ Error::Closed { .. }) => {
            let message = e.to_string();
            assert!(
                message.contains(&format!("cannot {operation}")) && message.contains(connection),
                "the message should name {operation:?} and {connection:?}: {message}"
            );
        }
        other => panic!("{operation} after shutdown: expected Error::Closed, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// Endpoints

/// Malformed addresses and unknown transports are refused, naming the address.
#[test]
fn malformed_addresses_are_refused_naming_the_address() {
    let reactor = reactor(());
    let factory = ZmqFactory::new(&reactor).unwrap();
    for address in [
        "",
        "tcp://",
        "foo://x",
        "tcp://127.0.0.1:",
        "inproc://",
        "ipc://",
    ] {
        assert_endpoint_error(
            ZmqConnection::new(&factory, zmq::PULL, ZmqEndpoint::bind(address)),
            "bind",
            address,
        );
        assert_endpoint_error(
            ZmqConnection::new(&factory, zmq::PUSH, ZmqEndpoint::connect(address)),
            "connect",
            address,
        );
    }
    // Nothing half-made is left behind.
    assert_eq!(factory.connection_count(), 0);
    factory.shutdown();
}

/// A TCP port outside 0..=65535 is refused, naming the address. (libzmq
/// 4.3.4 itself wraps it: port 70000 silently becomes port 4464.)
#[test]
fn port_out_of_range_is_refused_naming_the_address() {
    let reactor = reactor(());
    let factory = ZmqFactory::new(&reactor).unwrap();
    for address in ["tcp://127.0.0.1:70000", "tcp://127.0.0.1:65536"] {
        let bound = ZmqConnection::new(&factory, zmq::PULL, ZmqEndpoint::bind(address));
        if let Ok(conn) = &bound {
            eprintln!("{address} was bound as {:?}", conn.last_endpoint());
        }
        assert_endpoint_error(bound, "bind", address);
        assert_endpoint_error(
            ZmqConnection::new(&factory, zmq::PUSH, ZmqEndpoint::connect(address)),
            "connect",
            address,
        );
    }
    factory.shutdown();
}

/// Binding a host that does not resolve fails at once, naming the address.
#[test]
fn bind_to_an_unknown_host_is_refused_naming_the_address() {
    let reactor = reactor(());
    let factory = ZmqFactory::new(&reactor).unwrap();
    assert_endpoint_error(
        ZmqConnection::new(
            &factory,
            zmq::PULL,
            ZmqEndpoint::bind("tcp://no.such.host:1"),
        ),
        "bind",
        "tcp://no.such.host:1",
    );
    factory.shutdown();
}

/// Connecting to a host that does not resolve is not an error in libzmq:
/// connects are asynchronous and the name is resolved (and retried) in the
/// background. The connection is usable meanwhile: sends queue in libzmq,
/// and shutdown is clean and immediate.
#[test]
fn connect_to_an_unknown_host_is_resolved_in_the_background() {
    logs::capture();
    let reactor = reactor(());
    let factory = ZmqFactory::new(&reactor).unwrap();
    let address = "tcp://no.such.host:1";
    let dealer = ZmqDealerConnection::with_options(
        &factory,
        ZmqEndpoint::connect(address),
        &ZmqOptions::new().linger(Duration::ZERO),
    )
    .expect("libzmq accepts the connect and resolves later");
    dealer.send_msg(b"waits in libzmq").unwrap();
    settle(&reactor);
    assert!(!dealer.is_closed());
    dealer.shutdown();
    assert!(dealer.is_closed());
    assert_eq!(logs::errors(), Vec::<String>::new());
    factory.shutdown();
}

/// Binding an address that is already bound fails, naming it, for TCP and
/// for inproc; the first binding keeps working.
#[test]
fn binding_an_address_in_use_is_refused_naming_it() {
    let reactor = reactor(Vec::<Vec<Vec<u8>>>::new());
    let factory = ZmqFactory::new(&reactor).unwrap();
    let first = ZmqPullConnection::new(&factory, ZmqEndpoint::bind(TCP_ANY)).unwrap();
    first.on_pull(|cx, message| cx.state.push(frames(&message)));
    let tcp = first.last_endpoint().unwrap();
    assert_endpoint_error(
        ZmqPullConnection::new(&factory, ZmqEndpoint::bind(&tcp)),
        "bind",
        &tcp,
    );
    let local = inproc("in-use");
    first.add_endpoints([ZmqEndpoint::bind(&local)]).unwrap();
    assert_endpoint_error(
        ZmqPullConnection::new(&factory, ZmqEndpoint::bind(&local)),
        "bind",
        &local,
    );
    // add_endpoints fails the same way, and the connection is still fine.
    assert_endpoint_error(first.add_endpoints([ZmqEndpoint::bind(&tcp)]), "bind", &tcp);

    let push = ZmqPushConnection::new(&factory, ZmqEndpoint::connect(&tcp)).unwrap();
    push.push(b"still bound").unwrap();
    iterate_until(&reactor, "a message on the first binding", |got| {
        !got.is_empty()
    });
    assert_eq!(
        reactor.access_state(|got| got.clone()).unwrap(),
        [bytes(&[b"still bound"])]
    );
    factory.shutdown();
}

// ---------------------------------------------------------------------------
// Use after shutdown

/// Every operation on a shut-down connection fails with `Error::Closed`
/// naming the operation and the connection.
#[test]
fn operations_after_shutdown_fail_with_closed() {
    let reactor = reactor(());
    let factory = ZmqFactory::new(&reactor).unwrap();
    let bind = |name: &str| ZmqEndpoint::bind(inproc(name));

    let raw = ZmqConnection::new(&factory, zmq::DEALER, bind("closed-raw")).unwrap();
    raw.shutdown();
    assert_closed(raw.send(b"x"), "send", "DEALER connection");
    assert_closed(
        raw.add_endpoints([bind("closed-more")]),
        "add an endpoint",
        "DEALER connection",
    );
    assert_closed(
        raw.last_endpoint(),
        "read the last endpoint",
        "DEALER connection",
    );
    assert_closed(
        raw.with_socket(|_| ()),
        "use the socket",
        "DEALER connection",
    );
    assert_closed(
        raw.set_protocol(Nothing),
        "set a protocol",
        "DEALER connection",
    );

    let sub = ZmqSubConnection::new(&factory, bind("closed-sub")).unwrap();
    sub.shutdown();
    assert_closed(sub.subscribe(b"tag"), "subscribe", "SUB connection");
    assert_closed(sub.unsubscribe(b"tag"), "unsubscribe", "SUB connection");

    let xsub = ZmqXSubConnection::new(&factory, bind("closed-xsub")).unwrap();
    xsub.shutdown();
    assert_closed(xsub.subscribe(b"tag"), "subscribe", "XSUB connection");

    let publisher = ZmqPubConnection::new(&factory, bind("closed-pub")).unwrap();
    publisher.shutdown();
    assert_closed(publisher.publish(b"m", b"tag"), "publish", "PUB connection");

    let xpub = ZmqXPubConnection::new(&factory, bind("closed-xpub")).unwrap();
    xpub.shutdown();
    assert_closed(xpub.publish(b"m", b"tag"), "publish", "XPUB connection");

    let push = ZmqPushConnection::new(&factory, bind("closed-push")).unwrap();
    push.shutdown();
    assert_closed(push.push(b"m"), "push", "PUSH connection");

    let router = ZmqRouterConnection::new(&factory, bind("closed-router")).unwrap();
    router.shutdown();
    assert_closed(router.send_msg(b"peer", b"m"), "send", "ROUTER connection");

    let dealer = ZmqDealerConnection::new(&factory, bind("closed-dealer")).unwrap();
    dealer.shutdown();
    assert_closed(dealer.send_msg(b"m"), "send", "DEALER connection");

    let rep = ZmqRepConnection::new(&factory, bind("closed-rep")).unwrap();
    rep.shutdown();
    assert_closed(rep.reply(b"id", b"m"), "reply", "ROUTER connection");

    let req = ZmqReqConnection::new(&factory, bind("closed-req")).unwrap();
    req.shutdown();
    let outcome = Outcome::of(&req.send_msg(b"m"));
    let failure = outcome.failure();
    assert!(
        matches!(failure.downcast_ref::<Error>(), Some(Error::Closed { .. })),
        "expected Error::Closed, got {failure}"
    );
    assert!(
        failure.to_string().contains("cannot send a request"),
        "{failure}"
    );
    assert_eq!(req.pending_requests(), 0);
    factory.shutdown();
}

struct Nothing;

impl tx0mq_connections::ZmqProtocol for Nothing {
    fn message_received(&mut self, _: &mut ZmqCtx<'_, (), ZmqConnection>, _: Multipart) {}
}

/// Shutting a connection down twice is fine: `connection_lost` is heard once.
#[test]
fn shutdown_twice_is_harmless() {
    let reactor = reactor(Lost::default());
    let factory = ZmqFactory::new(&reactor).unwrap();
    let dealer = ZmqDealerConnection::new(&factory, ZmqEndpoint::bind(inproc("twice"))).unwrap();
    dealer.set_protocol(LostRecorder).unwrap();
    settle(&reactor);
    dealer.shutdown();
    dealer.shutdown();
    factory.shutdown();
    settle(&reactor);
    let lost = reactor.access_state(|s| s.lost.clone()).unwrap();
    assert_eq!(lost, [ConnectionLost::new(LostReason::Shutdown, 0)]);
}

/// Shutting a factory down twice is fine; its connections hear of it once.
#[test]
fn factory_shutdown_twice_is_harmless() {
    let reactor = reactor(Lost::default());
    let factory = ZmqFactory::new(&reactor).unwrap();
    let dealer = ZmqDealerConnection::new(&factory, ZmqEndpoint::bind(inproc("f-twice"))).unwrap();
    dealer.set_protocol(LostRecorder).unwrap();
    factory.shutdown();
    factory.shutdown();
    settle(&reactor);
    assert!(factory.is_shut_down());
    let lost = reactor.access_state(|s| s.lost.clone()).unwrap();
    assert_eq!(lost, [ConnectionLost::new(LostReason::FactoryShutdown, 0)]);
}

/// A factory registered for shutdown, shut down by hand, then shut down
/// again by the reactor stopping: fine, and heard once.
#[test]
fn factory_shutdown_then_reactor_shutdown_is_harmless() {
    logs::capture();
    let reactor = reactor(Lost::default());
    let factory = ZmqFactory::new(&reactor).unwrap();
    factory.register_for_shutdown();
    let dealer = ZmqDealerConnection::new(&factory, ZmqEndpoint::bind(inproc("f-r"))).unwrap();
    dealer.set_protocol(LostRecorder).unwrap();
    factory.shutdown();
    reactor.call_when_running(|cx| cx.reactor.stop());
    run_with_watchdog(&reactor, DEADLINE, "the reactor to stop");
    let lost = reactor.access_state(|s| s.lost.clone()).unwrap();
    assert_eq!(lost, [ConnectionLost::new(LostReason::FactoryShutdown, 0)]);
    assert_eq!(logs::errors(), Vec::<String>::new());
}

/// Creating a connection from a shut-down factory fails with `Error::Closed`.
#[test]
fn connection_after_factory_shutdown_fails_with_closed() {
    let reactor = reactor(());
    let factory = ZmqFactory::new(&reactor).unwrap();
    factory.shutdown();
    let address = inproc("after-factory");
    assert_closed(
        ZmqConnection::new(&factory, zmq::PAIR, ZmqEndpoint::bind(&address)),
        "create a connection",
        "the factory",
    );
    assert_closed(
        ZmqPubConnection::new(&factory, ZmqEndpoint::bind(&address)),
        "create a connection",
        "the factory",
    );
    assert_closed(
        ZmqReqConnection::new(&factory, ZmqEndpoint::connect(&address)),
        "create a connection",
        "the factory",
    );
    assert_closed(
        factory.context().map(|_| ()),
        "get the context",
        "the factory",
    );
    assert_eq!(factory.connection_count(), 0);
}

/// Creating a connection after its reactor was dropped fails with
/// `Error::Reactor`, not a panic.
#[test]
fn connection_after_the_reactor_is_gone_fails() {
    let reactor = reactor(());
    let factory = ZmqFactory::new(&reactor).unwrap();
    drop(reactor);
    match ZmqConnection::new(&factory, zmq::PAIR, ZmqEndpoint::bind(inproc("gone"))) {
        Err(e @ Error::Reactor(_)) => assert!(e.to_string().contains("dropped"), "{e}"),
        other => panic!("expected Error::Reactor, got {other:?}"),
    }
    factory.shutdown();
}

// ---------------------------------------------------------------------------
// Replies

/// Replying to an id that never arrived, or to one already answered, fails
/// with `Error::UnknownMessageId` naming the id; the first reply still goes out.
#[test]
fn reply_to_an_unknown_or_answered_id_is_refused() {
    let reactor = reactor(Vec::<Vec<u8>>::new());
    let factory = ZmqFactory::new(&reactor).unwrap();
    let address = inproc("reply-unknown");
    let rep = ZmqRepConnection::new(&factory, ZmqEndpoint::bind(&address)).unwrap();
    rep.got_message(|cx, message_id, _parts| cx.state.push(message_id.to_vec()));
    let req = ZmqReqConnection::new(&factory, ZmqEndpoint::connect(&address)).unwrap();

    match rep.reply(b"no-such-id", b"x") {
        Err(e @ Error::UnknownMessageId { .. }) => {
            assert!(e.to_string().contains("b'no-such-id'"), "{e}")
        }
        other => panic!("expected UnknownMessageId, got {other:?}"),
    }
    let reply = Outcome::of(&req.send_msg(b"question"));
    iterate_until(&reactor, "the request at the REP", |ids| !ids.is_empty());
    let id = reactor.access_state(|ids| ids[0].clone()).unwrap();
    assert_eq!(rep.unanswered(), 1);
    rep.reply(&id, b"answer").unwrap();
    match rep.reply(&id, b"again") {
        Err(e @ Error::UnknownMessageId { .. }) => {
            assert!(e.to_string().contains(&bytes_repr(&id)), "{e}")
        }
        other => panic!("expected UnknownMessageId, got {other:?}"),
    }
    iterate_until_cond(&reactor, "the reply", || reply.fired());
    assert_eq!(reply.value(), bytes(&[b"answer"]));
    assert_eq!(reply.times(), 1);
    factory.shutdown();
}

// ---------------------------------------------------------------------------
// Malformed envelopes from raw peers

/// A REP connection drops requests with no empty delimiter (logged), and
/// answers the well-formed request that follows.
#[test]
fn rep_drops_requests_without_a_delimiter_and_carries_on() {
    logs::capture();
    let reactor = reactor(Vec::<(Vec<u8>, Vec<Vec<u8>>)>::new());
    let factory = ZmqFactory::new(&reactor).unwrap();
    let address = inproc("rep-malformed");
    let rep = ZmqRepConnection::new(&factory, ZmqEndpoint::bind(&address)).unwrap();
    rep.got_message(|cx, message_id, parts| {
        cx.state.push((message_id.to_vec(), frames(&parts)));
        cx.conn.reply(&message_id, b"answer")
    });
    let peer = factory.context().unwrap().socket(zmq::DEALER).unwrap();
    peer.connect(&address).unwrap();
    raw_send(&peer, &[b"no delimiter"]);
    raw_send(&peer, &[b"id", b"still", b"no", b"delimiter"]);
    raw_send(&peer, &[b"good-id", b"", b"question"]);
    let answer = raw_recv(&reactor, &peer, "the answer to the good request");
    assert_eq!(answer, bytes(&[b"good-id", b"", b"answer"]));
    let seen = reactor.access_state(|s| s.clone()).unwrap();
    assert_eq!(seen, [(b"good-id".to_vec(), bytes(&[b"question"]))]);
    assert_eq!(
        logs::count(Level::Warn, "no empty delimiter"),
        2,
        "{:?}",
        logs::records()
    );
    assert_eq!(rep.unanswered(), 0);
    factory.shutdown();
}

/// Nothing before the delimiter (a DEALER sending `["", parts...]`, as a
/// plain REQ socket does) is not malformed on the wire: ROUTER puts the
/// peer's routing id first, so that id is the message id and the reply
/// goes back as `["", answer]`.
#[test]
fn rep_treats_a_bare_delimiter_as_a_plain_req_peer() {
    logs::capture();
    let reactor = reactor(Vec::<(Vec<u8>, Vec<Vec<u8>>)>::new());
    let factory = ZmqFactory::new(&reactor).unwrap();
    let address = inproc("rep-bare");
    let rep = ZmqRepConnection::new(&factory, ZmqEndpoint::bind(&address)).unwrap();
    rep.got_message(|cx, message_id, parts| {
        cx.state.push((message_id.to_vec(), frames(&parts)));
        cx.conn.reply(&message_id, b"answer")
    });
    let peer = factory.context().unwrap().socket(zmq::DEALER).unwrap();
    peer.set_identity(b"peer-id").unwrap();
    peer.connect(&address).unwrap();
    raw_send(&peer, &[b"", b"question"]);
    assert_eq!(
        raw_recv(&reactor, &peer, "the answer"),
        bytes(&[b"", b"answer"])
    );
    raw_send(&peer, &[b""]);
    assert_eq!(
        raw_recv(&reactor, &peer, "the second answer"),
        bytes(&[b"", b"answer"])
    );
    let seen = reactor.access_state(|s| s.clone()).unwrap();
    assert_eq!(
        seen,
        [
            (b"peer-id".to_vec(), bytes(&[b"question"])),
            (b"peer-id".to_vec(), vec![])
        ]
    );
    assert_eq!(logs::errors(), Vec::<String>::new());
    factory.shutdown();
}

/// A REQ connection drops replies with an unknown id, too few frames, or a
/// non-empty second frame (even one carrying the right id), and the
/// well-formed reply that follows fires the request's Deferred once.
#[test]
fn req_drops_malformed_replies_and_carries_on() {
    logs::capture();
    let reactor = reactor(());
    let factory = ZmqFactory::new(&reactor).unwrap();
    let server = factory.context().unwrap().socket(zmq::ROUTER).unwrap();
    server.bind(TCP_ANY).unwrap();
    let address = server.get_last_endpoint().unwrap().unwrap();
    let req = ZmqReqConnection::new(&factory, ZmqEndpoint::connect(&address)).unwrap();
    let reply = Outcome::of(&req.send_msg(b"question"));
    let request = raw_recv(&reactor, &server, "the request");
    assert_eq!(
        request.len(),
        4,
        "[routing id, message id, \"\", question]: {request:?}"
    );
    let (route, id) = (&request[0][..], &request[1][..]);
    assert_eq!(&request[2..], &bytes(&[b"", b"question"])[..]);

    raw_send(&server, &[route, b"unknown-id", b"", b"x"]);
    // Ids shaped like ours but not ours: another connection's prefix, one
    // byte too many, a request number never sent.
    let mut foreign = id.to_vec();
    foreign[0] ^= 0xff;
    let mut longer = id.to_vec();
    longer.push(0);
    let mut unsent = id.to_vec();
    unsent[15] = unsent[15].wrapping_add(1);
    for near_miss in [&foreign, &longer, &unsent] {
        raw_send(&server, &[route, near_miss, b"", b"x"]);
    }
    raw_send(&server, &[route, id]);
    raw_send(&server, &[route, id, b"not empty", b"x"]);
    raw_send(&server, &[route, id, b"", b"answer"]);
    iterate_until_cond(&reactor, "the well-formed reply", || reply.fired());
    assert_eq!(reply.value(), bytes(&[b"answer"]));
    assert_eq!(
        logs::count(Level::Warn, "dropped a reply that is not"),
        2,
        "{:?}",
        logs::records()
    );
    assert!(
        logs::contains(Level::Debug, "b'unknown-id'"),
        "{:?}",
        logs::records()
    );
    assert_eq!(
        logs::count(Level::Debug, "dropped a reply to"),
        4,
        "{:?}",
        logs::records()
    );

    // Still a working connection: a second request, a late duplicate reply.
    raw_send(&server, &[route, id, b"", b"duplicate"]);
    let second = Outcome::of(&req.send_msg(b"again"));
    let request = raw_recv(&reactor, &server, "the second request");
    raw_send(&server, &[&request[0], &request[1], b"", b"second answer"]);
    iterate_until_cond(&reactor, "the second reply", || second.fired());
    assert_eq!(second.value(), bytes(&[b"second answer"]));
    assert_eq!(reply.times(), 1);
    assert_eq!(req.pending_requests(), 0);
    assert_eq!(logs::errors(), Vec::<String>::new());
    factory.shutdown();
}

/// A SUB connection drops a one-frame message with no topic separator and a
/// three-frame message (logged), and delivers the good message after them.
#[test]
fn sub_drops_unseparated_and_three_frame_messages_and_carries_on() {
    logs::capture();
    let reactor = reactor(Vec::<(Vec<u8>, Vec<u8>)>::new());
    let factory = ZmqFactory::new(&reactor).unwrap();
    // XPUB tells us when the subscription has arrived: no slow joiner.
    let publisher = factory.context().unwrap().socket(zmq::XPUB).unwrap();
    let address = inproc("sub-malformed");
    publisher.bind(&address).unwrap();
    let sub = ZmqSubConnection::new(&factory, ZmqEndpoint::connect(&address)).unwrap();
    sub.got_message(|cx, message, tag| cx.state.push((tag.to_vec(), message.to_vec())));
    sub.subscribe(b"").unwrap();
    assert_eq!(
        raw_recv(&reactor, &publisher, "the subscription"),
        [vec![1u8]]
    );

    raw_send(&publisher, &[b"no separator here"]);
    raw_send(&publisher, &[b"a", b"b", b"c"]);
    raw_send(&publisher, &[b"tag\0good"]);
    raw_send(&publisher, &[b"tag2", b"two-frame form"]);
    iterate_until(&reactor, "the good messages", |got| got.len() >= 2);
    assert_eq!(
        reactor.access_state(|got| got.clone()).unwrap(),
        [
            (b"tag".to_vec(), b"good".to_vec()),
            (b"tag2".to_vec(), b"two-frame form".to_vec())
        ]
    );
    assert!(
        logs::contains(Level::Warn, "no topic separator"),
        "{:?}",
        logs::records()
    );
    assert!(
        logs::contains(Level::Warn, "3 frames"),
        "{:?}",
        logs::records()
    );
    factory.shutdown();
}

/// XPUB: a message that is not a subscription (a raw XSUB may send anything
/// upstream) is logged and dropped; the next subscription is heard.
#[test]
fn xpub_drops_messages_that_are_not_subscriptions() {
    logs::capture();
    let reactor = reactor(Vec::<(bool, Vec<u8>)>::new());
    let factory = ZmqFactory::new(&reactor).unwrap();
    let address = inproc("xpub-malformed");
    let xpub = ZmqXPubConnection::new(&factory, ZmqEndpoint::bind(&address)).unwrap();
    xpub.on_subscription(|cx, subscribe, topic| cx.state.push((subscribe, topic.to_vec())));
    let peer = factory.context().unwrap().socket(zmq::XSUB).unwrap();
    peer.connect(&address).unwrap();
    raw_send(&peer, &[b""]);
    raw_send(&peer, &[b"\x07not a subscription"]);
    raw_send(&peer, &[b"\x01news"]);
    iterate_until(&reactor, "the subscription", |got| !got.is_empty());
    assert_eq!(
        reactor.access_state(|got| got.clone()).unwrap(),
        [(true, b"news".to_vec())]
    );
    assert!(
        logs::contains(Level::Warn, "not a subscription"),
        "{:?}",
        logs::records()
    );
    factory.shutdown();
}

/// A message over `maxmsgsize` makes libzmq drop it and disconnect its
/// sender (our monitor sees the disconnection); the connection carries on
/// and gets the next peer's message, and the first peer's after it
/// reconnects.
#[test]
fn oversized_message_is_dropped_and_the_connection_carries_on() {
    #[derive(Default)]
    struct Got {
        messages: Vec<Vec<Vec<u8>>>,
        disconnected: usize,
    }
    logs::capture();
    let reactor = reactor(Got::default());
    let factory = ZmqFactory::new(&reactor).unwrap();
    let pull = ZmqPullConnection::with_options(
        &factory,
        ZmqEndpoint::bind(TCP_ANY),
        &ZmqOptions::new().maxmsgsize(1024),
    )
    .unwrap();
    assert_eq!(
        pull.with_socket(|s| s.get_maxmsgsize()).unwrap().unwrap(),
        1024
    );
    pull.on_pull(|cx, message| cx.state.messages.push(frames(&message)));
    // We know when libzmq cuts the big sender off: our side of its
    // connection is disconnected.
    pull.monitor_events(MonitorEvents::DISCONNECTED).unwrap();
    pull.on_monitor(|cx, event| {
        assert!(
            matches!(event, MonitorEvent::Disconnected { .. }),
            "{event}"
        );
        cx.state.disconnected += 1;
    });
    let address = pull.last_endpoint().unwrap();
    let context = factory.context().unwrap();

    let big = context.socket(zmq::PUSH).unwrap();
    big.connect(&address).unwrap();
    big.send(vec![b'x'; 4096], 0).unwrap();
    iterate_until(&reactor, "the oversized sender to be disconnected", |got| {
        got.disconnected == 1
    });

    let small = context.socket(zmq::PUSH).unwrap();
    small.connect(&address).unwrap();
    small.send(&b"small"[..], 0).unwrap();
    big.send(&b"after reconnecting"[..], 0).unwrap();
    iterate_until(&reactor, "both small messages", |got| {
        got.messages.len() >= 2
    });
    let mut got = reactor.access_state(|got| got.messages.clone()).unwrap();
    got.sort();
    assert_eq!(got, [bytes(&[b"after reconnecting"]), bytes(&[b"small"])]);
    assert_eq!(logs::errors(), Vec::<String>::new());
    for socket in [&big, &small] {
        socket.set_linger(0).unwrap();
    }
    factory.shutdown();
}

// ---------------------------------------------------------------------------
// Outbox: never lose a queued message without saying so

/// Shutting down a DEALER with no peer and 5 messages in its outbox tells
/// `connection_lost` that 5 were dropped, and logs it.
#[test]
fn shutdown_with_a_full_outbox_reports_the_dropped_messages() {
    logs::capture();
    let reactor = reactor(Lost::default());
    let factory = ZmqFactory::new(&reactor).unwrap();
    let dealer =
        ZmqDealerConnection::new(&factory, ZmqEndpoint::bind(inproc("outbox-lost"))).unwrap();
    dealer.set_protocol(LostRecorder).unwrap();
    for i in 0..5 {
        dealer.send_msg(format!("queued {i}")).unwrap();
    }
    settle(&reactor);
    assert_eq!(dealer.outbox_len(), 5);
    dealer.shutdown();
    settle(&reactor);
    let lost = reactor.access_state(|s| s.lost.clone()).unwrap();
    assert_eq!(lost, [ConnectionLost::new(LostReason::Shutdown, 5)]);
    assert!(
        lost[0].to_string().contains("5 queued message(s) dropped"),
        "{}",
        lost[0]
    );
    assert!(
        logs::contains(Level::Warn, "5 queued message(s) dropped"),
        "{:?}",
        logs::records()
    );
    factory.shutdown();
}

/// A PUSH has no protocol to tell: shutting it down with 5 pushes queued
/// (bound, no peer) logs the loss with the connection's name.
#[test]
fn push_shutdown_with_queued_messages_logs_the_loss() {
    logs::capture();
    let reactor = reactor(());
    let factory = ZmqFactory::new(&reactor).unwrap();
    let address = inproc("push-lost");
    let push = ZmqPushConnection::new(&factory, ZmqEndpoint::bind(&address)).unwrap();
    for i in 0..5 {
        push.push(format!("queued {i}")).unwrap();
    }
    settle(&reactor);
    assert_eq!(push.outbox_len(), 5);
    push.shutdown();
    assert!(
        logs::contains(
            Level::Warn,
            &format!("PUSH connection [bind {address}]: 5 queued message(s) dropped")
        ),
        "{:?}",
        logs::records()
    );
    factory.shutdown();
}

/// Past `outbox_limit`, sends fail with `Error::OutboxFull` (the message is
/// not sent); when a peer arrives, the queued messages go out in order and
/// sending works again.
#[test]
fn outbox_limit_refuses_sends_and_keeps_the_queue_in_order() {
    let reactor = reactor(Lost::default());
    let factory = ZmqFactory::new(&reactor).unwrap();
    let address = inproc("outbox-full");
    let dealer = ZmqDealerConnection::with_options(
        &factory,
        ZmqEndpoint::bind(&address),
        &ZmqOptions::new().outbox_limit(3),
    )
    .unwrap();
    for i in 1..=3 {
        dealer.send_msg(format!("m{i}")).unwrap();
    }
    match dealer.send_msg(b"m4") {
        Err(e @ Error::OutboxFull { limit: 3, .. }) => {
            let message = e.to_string();
            assert!(
                message.contains("outbox full") && message.contains("DEALER connection"),
                "{message}"
            );
        }
        other => panic!("expected OutboxFull, got {other:?}"),
    }
    assert_eq!(dealer.outbox_len(), 3);

    let peer = ZmqDealerConnection::new(&factory, ZmqEndpoint::connect(&address)).unwrap();
    peer.set_protocol(LostRecorder).unwrap();
    iterate_until(&reactor, "the three queued messages", |s| s.got.len() >= 3);
    assert_eq!(dealer.outbox_len(), 0);
    dealer.send_msg(b"m5").unwrap();
    iterate_until(&reactor, "the message after the queue", |s| {
        s.got.len() >= 4
    });
    let got = reactor.access_state(|s| s.got.clone()).unwrap();
    assert_eq!(
        got,
        [
            bytes(&[b"m1"]),
            bytes(&[b"m2"]),
            bytes(&[b"m3"]),
            bytes(&[b"m5"])
        ]
    );
    factory.shutdown();
}

/// A request that does not fit in the outbox fails its Deferred with
/// `OutboxFull` and is not left pending.
#[test]
fn request_refused_by_a_full_outbox_fails_its_deferred() {
    let reactor = reactor(());
    let factory = ZmqFactory::new(&reactor).unwrap();
    // Bound and without a peer, the DEALER under a REQ connection queues.
    let req = ZmqReqConnection::with_options(
        &factory,
        ZmqEndpoint::bind(inproc("req-full")),
        &ZmqOptions::new().outbox_limit(1),
    )
    .unwrap();
    let first = Outcome::of(&req.send_msg(b"fits"));
    let second = Outcome::of(&req.send_msg(b"does not fit"));
    assert!(!first.fired());
    let failure = second.failure();
    assert!(
        matches!(
            failure.downcast_ref::<Error>(),
            Some(Error::OutboxFull { limit: 1, .. })
        ),
        "{failure}"
    );
    assert_eq!(req.pending_requests(), 1);
    // Shutting down fails the request still waiting, saying why.
    req.shutdown();
    let failure = first.failure();
    assert!(
        matches!(failure.downcast_ref::<Error>(), Some(Error::Closed { .. })),
        "{failure}"
    );
    assert!(
        failure.to_string().contains("1 queued message(s) dropped"),
        "{failure}"
    );
    assert_eq!(req.pending_requests(), 0);
    factory.shutdown();
}

// ---------------------------------------------------------------------------
// Other misuse

/// An empty multipart message is refused with a message saying so.
#[test]
fn sending_an_empty_message_is_refused() {
    let reactor = reactor(());
    let factory = ZmqFactory::new(&reactor).unwrap();
    let dealer = ZmqDealerConnection::new(&factory, ZmqEndpoint::bind(inproc("empty"))).unwrap();
    match dealer.send_msg(Vec::<Vec<u8>>::new()) {
        Err(e @ Error::Socket { .. }) => {
            assert!(e.to_string().contains("at least one frame"), "{e}")
        }
        other => panic!("expected Error::Socket, got {other:?}"),
    }
    assert_eq!(dealer.outbox_len(), 0);
    factory.shutdown();
}

/// Sending on a socket type that cannot send (SUB, PULL) is refused, naming
/// the connection, and nothing is queued.
#[test]
fn sending_on_a_receive_only_socket_is_refused() {
    let reactor = reactor(());
    let factory = ZmqFactory::new(&reactor).unwrap();
    for kind in [zmq::SUB, zmq::PULL] {
        let conn =
            ZmqConnection::new(&factory, kind, ZmqEndpoint::bind(inproc("recv-only"))).unwrap();
        match conn.send(b"x") {
            Err(e @ Error::Socket { .. }) => {
                let name = format!("{kind:?} connection");
                assert!(e.to_string().contains(&name), "{e} should name {name}");
            }
            other => panic!("send on {kind:?}: expected Error::Socket, got {other:?}"),
        }
        assert_eq!(conn.outbox_len(), 0);
    }
    factory.shutdown();
}

/// A socket option libzmq refuses fails the constructor with
/// `Error::Option` naming the option.
#[test]
fn refused_socket_options_name_the_option() {
    let reactor = reactor(());
    let factory = ZmqFactory::new(&reactor).unwrap();
    let cases = [
        (ZmqOptions::new().identity([1u8; 256]), "identity"),
        (ZmqOptions::new().identity(b""), "identity"),
        (ZmqOptions::new().high_water_mark(-1), "hwm"),
    ];
    for (options, option) in cases {
        match ZmqDealerConnection::with_options(
            &factory,
            ZmqEndpoint::bind(inproc("opt")),
            &options,
        ) {
            Err(e @ Error::Option { .. }) => {
                let message = e.to_string();
                assert!(
                    message.contains(option) && message.contains("DEALER"),
                    "{message}"
                );
            }
            other => panic!("{options:?}: expected Error::Option, got {other:?}"),
        }
    }
    assert_eq!(factory.connection_count(), 0);
    factory.shutdown();
}

/// With `router_mandatory`, a message to an unknown peer fails, naming the
/// connection; without it, libzmq drops it silently and the send is `Ok`.
#[test]
fn router_send_to_an_unknown_peer() {
    let reactor = reactor(());
    let factory = ZmqFactory::new(&reactor).unwrap();
    let strict = ZmqRouterConnection::with_options(
        &factory,
        ZmqEndpoint::bind(inproc("mandatory")),
        &ZmqOptions::new().router_mandatory(true),
    )
    .unwrap();
    match strict.send_msg(b"nobody", b"x") {
        Err(e @ Error::Socket { .. }) => {
            assert!(e.to_string().contains("ROUTER connection"), "{e}")
        }
        other => panic!("expected Error::Socket (EHOSTUNREACH), got {other:?}"),
    }
    assert_eq!(strict.outbox_len(), 0);
    let lax = ZmqRouterConnection::new(&factory, ZmqEndpoint::bind(inproc("lax"))).unwrap();
    lax.send_msg(b"nobody", b"x").unwrap();
    assert_eq!(lax.outbox_len(), 0);
    factory.shutdown();
}

/// A protocol callback that returns an error is logged, and the connection
/// goes on delivering messages.
#[test]
fn a_failing_protocol_is_logged_and_the_connection_carries_on() {
    logs::capture();
    let reactor = reactor(Vec::<Vec<u8>>::new());
    let factory = ZmqFactory::new(&reactor).unwrap();
    let address = inproc("failing-protocol");
    let pull = ZmqPullConnection::new(&factory, ZmqEndpoint::bind(&address)).unwrap();
    pull.on_pull(|cx, message| {
        cx.state.push(message[0].to_vec());
        if &message[0][..] == b"bad" {
            return Err("this message upsets the protocol");
        }
        Ok(())
    });
    let push = ZmqPushConnection::new(&factory, ZmqEndpoint::connect(&address)).unwrap();
    push.push(b"bad").unwrap();
    push.push(b"good").unwrap();
    iterate_until(&reactor, "the message after the failure", |got| {
        got.len() >= 2
    });
    assert_eq!(
        reactor.access_state(|got| got.clone()).unwrap(),
        [b"bad".to_vec(), b"good".to_vec()]
    );
    assert!(
        logs::contains(
            Level::Error,
            "on_pull failed: this message upsets the protocol"
        ),
        "{:?}",
        logs::records()
    );
    factory.shutdown();
}

/// A protocol callback that panics is caught and logged by the reactor, and
/// the connection goes on delivering messages to the same protocol.
#[test]
fn a_panicking_protocol_is_logged_and_the_connection_carries_on() {
    logs::capture();
    let reactor = catching_reactor(Vec::<Vec<u8>>::new());
    let factory = ZmqFactory::new(&reactor).unwrap();
    let address = inproc("panicking-protocol");
    let pull = ZmqPullConnection::new(&factory, ZmqEndpoint::bind(&address)).unwrap();
    pull.on_pull(|cx, message| {
        cx.state.push(message[0].to_vec());
        assert_ne!(&message[0][..], b"bad", "this message upsets the protocol");
    });
    let push = ZmqPushConnection::new(&factory, ZmqEndpoint::connect(&address)).unwrap();
    push.push(b"bad").unwrap();
    iterate_until(&reactor, "the message that panics", |got| !got.is_empty());
    push.push(b"good").unwrap();
    iterate_until(&reactor, "the message after the panic", |got| {
        got.len() >= 2
    });
    assert_eq!(
        reactor.access_state(|got| got.clone()).unwrap(),
        [b"bad".to_vec(), b"good".to_vec()]
    );
    assert!(
        logs::contains(Level::Error, "panicked"),
        "{:?}",
        logs::records()
    );
    factory.shutdown();
}

/// A connection shut down from inside its own callback stops delivering at
/// once (the rest of the batch stays unread), hears `connection_lost` once,
/// and the reactor carries on.
#[test]
fn shutdown_from_inside_a_callback_stops_delivery() {
    struct ShutOnFirst;
    impl DealerProtocol<Lost> for ShutOnFirst {
        fn got_message(
            &mut self,
            cx: &mut ZmqCtx<'_, Lost, ZmqDealerConnection<Lost>>,
            parts: Multipart,
        ) {
            cx.state.got.push(frames(&parts));
            cx.conn.shutdown();
            cx.conn.shutdown();
        }
        fn connection_lost(
            &mut self,
            cx: &mut ZmqCtx<'_, Lost, ZmqDealerConnection<Lost>>,
            lost: &ConnectionLost,
        ) {
            cx.state.lost.push(lost.clone());
        }
    }
    logs::capture();
    let reactor = reactor(Lost::default());
    let factory = ZmqFactory::new(&reactor).unwrap();
    let address = inproc("shut-inside");
    let peer = ZmqDealerConnection::new(&factory, ZmqEndpoint::bind(&address)).unwrap();
    let dealer = ZmqDealerConnection::new(&factory, ZmqEndpoint::connect(&address)).unwrap();
    for i in 0..3 {
        peer.send_msg(format!("m{i}")).unwrap();
    }
    dealer.set_protocol(ShutOnFirst).unwrap();
    iterate_until(&reactor, "connection_lost", |s| !s.lost.is_empty());
    settle(&reactor);
    let state = reactor.access_state(std::mem::take).unwrap();
    assert_eq!(state.got, [bytes(&[b"m0"])]);
    assert_eq!(state.lost, [ConnectionLost::new(LostReason::Shutdown, 0)]);
    assert!(dealer.is_closed());
    assert_eq!(logs::errors(), Vec::<String>::new());
    factory.shutdown();
}

#[test]
fn an_unknown_endpoint_type_is_refused_naming_it() {
    let err = "listen"
        .parse::<tx0mq_connections::ZmqEndpointType>()
        .unwrap_err();
    assert!(matches!(err, tx0mq_connections::Error::EndpointType { .. }));
    let text = err.to_string();
    assert!(
        text.contains("\"listen\"") && text.contains("bind"),
        "{text}"
    );
}
