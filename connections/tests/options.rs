//! Socket options: each one set in `ZmqOptions` is on the socket when the
//! constructor returns (so before any bind or connect), read back with
//! libzmq's getters; and the defaults this crate chooses over libzmq's.

use std::time::{Duration, Instant};

use tx0mq_connections::{
    Error, ZmqConnection, ZmqEndpoint, ZmqFactory, ZmqOptions, ZmqPubConnection,
    ZmqRouterConnection, DEFAULT_HIGH_WATER_MARK, DEFAULT_MAX_MESSAGE_SIZE,
};
use tx0mq_test_support::net::{inproc, TCP_ANY};
use tx0mq_test_support::reactor::{iterate_until, iterate_until_cond, reactor};

/// A libzmq getter, its result widened to `i64`.
type Getter = fn(&zmq::Socket) -> zmq::Result<i64>;

/// What a getter reads off the connection's socket.
fn read(conn: &ZmqConnection<()>, get: impl FnOnce(&zmq::Socket) -> zmq::Result<i64>) -> i64 {
    conn.with_socket(get)
        .expect("the connection is open")
        .expect("libzmq answers the getter")
}

#[test]
fn every_integer_option_is_on_the_socket_before_it_binds() {
    let reactor = reactor(());
    let factory = ZmqFactory::new(&reactor).expect("factory");
    let options = ZmqOptions::new()
        .sndhwm(11)
        .rcvhwm(12)
        .linger(Duration::from_millis(13))
        .reconnect_ivl(Duration::from_millis(140))
        .reconnect_ivl_max(Duration::from_millis(1500))
        .tcp_keepalive(1, 5, 60, 7)
        .heartbeat(Duration::from_millis(800), Duration::from_millis(2400))
        .heartbeat_ttl(Duration::from_millis(9000))
        .connect_timeout(Duration::from_millis(1700))
        .handshake_ivl(Duration::from_millis(1800))
        .maxmsgsize(1 << 20)
        .sndbuf(1 << 17)
        .rcvbuf(1 << 18)
        .tos(0x28)
        .backlog(17)
        .identity(b"who");
    let conn = ZmqConnection::with_options(
        &factory,
        zmq::DEALER,
        ZmqEndpoint::bind(inproc("options")),
        &options,
    )
    .expect("every option is accepted");
    // Each option, the value set above, and libzmq's getter for it.
    macro_rules! expected {
        ($(($name:ident, $value:expr, $get:ident)),* $(,)?) => {
            [$((stringify!($name), $value, (|s| s.$get().map(i64::from)) as Getter)),*]
        };
    }
    let expected = expected![
        (sndhwm, 11, get_sndhwm),
        (rcvhwm, 12, get_rcvhwm),
        (linger, 13, get_linger),
        (reconnect_ivl, 140, get_reconnect_ivl),
        (reconnect_ivl_max, 1500, get_reconnect_ivl_max),
        (tcp_keepalive, 1, get_tcp_keepalive),
        (tcp_keepalive_cnt, 5, get_tcp_keepalive_cnt),
        (tcp_keepalive_idle, 60, get_tcp_keepalive_idle),
        (tcp_keepalive_intvl, 7, get_tcp_keepalive_intvl),
        (heartbeat_ivl, 800, get_heartbeat_ivl),
        (heartbeat_timeout, 2400, get_heartbeat_timeout),
        (heartbeat_ttl, 9000, get_heartbeat_ttl),
        (connect_timeout, 1700, get_connect_timeout),
        (handshake_ivl, 1800, get_handshake_ivl),
        (maxmsgsize, 1 << 20, get_maxmsgsize),
        (sndbuf, 1 << 17, get_sndbuf),
        (rcvbuf, 1 << 18, get_rcvbuf),
        (tos, 0x28, get_tos),
        (backlog, 17, get_backlog),
    ];
    for (name, value, get) in expected {
        assert_eq!(read(&conn, get), value, "option {name}");
    }
    assert_eq!(
        read(&conn, |s| s.get_backlog().map(i64::from)),
        17,
        "backlog"
    );
    assert_eq!(
        conn.with_socket(|s| s.get_identity())
            .expect("open")
            .expect("identity"),
        b"who"
    );
    factory.shutdown();
}

#[test]
fn unset_options_keep_this_crates_defaults() {
    let reactor = reactor(());
    let factory = ZmqFactory::new(&reactor).expect("factory");
    let conn = ZmqConnection::new(&factory, zmq::PUSH, ZmqEndpoint::bind(inproc("defaults")))
        .expect("connection");
    let hwm = i64::from(DEFAULT_HIGH_WATER_MARK);
    assert_eq!(read(&conn, |s| s.get_sndhwm().map(i64::from)), hwm);
    assert_eq!(read(&conn, |s| s.get_rcvhwm().map(i64::from)), hwm);
    assert_eq!(
        read(&conn, |s| s.get_maxmsgsize()),
        DEFAULT_MAX_MESSAGE_SIZE
    );
    // libzmq's own defaults where this crate sets nothing.
    assert_eq!(read(&conn, |s| s.get_backlog().map(i64::from)), 100);
    assert_eq!(read(&conn, |s| s.get_tos().map(i64::from)), 0);
    factory.shutdown();
}

/// libzmq has no getter for `ZMQ_ROUTER_HANDOVER`: the option is shown by
/// what it does. A second peer with a connected peer's routing id is
/// refused without it, and takes the id over with it.
#[test]
fn router_handover_gives_a_taken_routing_id_to_the_new_peer() {
    let ctx = zmq::Context::new();
    for handover in [false, true] {
        let reactor = reactor(Vec::<Vec<u8>>::new());
        let factory = ZmqFactory::new(&reactor).expect("factory");
        let router = ZmqRouterConnection::with_options(
            &factory,
            ZmqEndpoint::bind(TCP_ANY),
            &ZmqOptions::new().router_handover(handover),
        )
        .expect("router");
        router.got_message(|cx, _sender, parts| {
            cx.state.extend(parts.iter().map(|frame| frame.to_vec()));
        });
        let endpoint = router.last_endpoint().expect("endpoint");
        let dealer = || {
            let socket = ctx.socket(zmq::DEALER).expect("dealer");
            socket.set_identity(b"same").expect("identity");
            socket.set_linger(0).expect("linger");
            socket.connect(&endpoint).expect("connect");
            socket
        };
        let first = dealer();
        first.send("from-first", 0).expect("send");
        iterate_until(&reactor, "the first peer's message", |got| !got.is_empty());
        let second = dealer();
        second.send("from-second", 0).expect("send");
        let arrived = |reactor: &tx0mq_reactor::Reactor<Vec<Vec<u8>>>| {
            reactor
                .access_state(|got| got.iter().any(|m| m == b"from-second"))
                .expect("state")
        };
        if handover {
            iterate_until_cond(&reactor, "the second peer's message", || arrived(&reactor));
        } else {
            let until = Instant::now() + Duration::from_millis(500);
            while Instant::now() < until {
                reactor.iterate(Duration::from_millis(10)).expect("iterate");
            }
            assert!(
                !arrived(&reactor),
                "without handover the second peer is refused"
            );
        }
        drop((first, second));
        factory.shutdown();
    }
}

/// `ZMQ_REQ_RELAXED` has no getter either: a raw REQ socket refuses a
/// second request before the reply without it, and sends it with it.
#[test]
fn req_relaxed_lets_a_raw_req_socket_send_again_before_the_reply() {
    for relaxed in [false, true] {
        let reactor = reactor(());
        let factory = ZmqFactory::new(&reactor).expect("factory");
        let address = inproc("relaxed-req");
        let _peer = ZmqConnection::new(&factory, zmq::REP, ZmqEndpoint::bind(address.clone()))
            .expect("rep");
        let req = ZmqConnection::with_options(
            &factory,
            zmq::REQ,
            ZmqEndpoint::connect(address),
            &ZmqOptions::new()
                .req_relaxed(relaxed)
                .req_correlate(relaxed),
        )
        .expect("req");
        req.send(b"first").expect("the first request");
        let again = req.send(b"second");
        match again {
            Ok(()) => assert!(relaxed, "a strict REQ sent a second request"),
            Err(e) => {
                assert!(!relaxed, "a relaxed REQ refused a second request: {e}");
                assert!(e.to_string().contains("REQ connection"), "{e}");
            }
        }
        factory.shutdown();
    }
}

/// Publishes `count` numbered 1 KiB messages on a PUB connection to a SUB
/// that reads only once all are published, with high-water marks of 10 and
/// small kernel buffers on both sides (so a few dozen messages fill the
/// way); returns the numbers the SUB received, and the largest outbox the
/// publisher had.
fn publish_to_a_late_reader(options: ZmqOptions, count: u32) -> (Vec<u32>, usize) {
    let reactor = reactor(());
    let factory = ZmqFactory::new(&reactor).expect("factory");
    let publisher = ZmqPubConnection::with_options(
        &factory,
        ZmqEndpoint::bind(TCP_ANY),
        &options.high_water_mark(10).sndbuf(4096),
    )
    .expect("publisher");
    let endpoint = publisher.last_endpoint().expect("endpoint");
    let ctx = factory.context().expect("context");
    let sub = ctx.socket(zmq::SUB).expect("sub");
    sub.set_rcvhwm(10).expect("hwm");
    sub.set_rcvbuf(4096).expect("rcvbuf");
    sub.set_subscribe(b"").expect("subscribe");
    sub.connect(&endpoint).expect("connect");
    // The subscription has arrived once a probe gets through.
    iterate_until_cond(&reactor, "the subscriber to join", || {
        publisher.publish(b"probe", b"").expect("probe");
        reactor.iterate(Duration::from_millis(5)).expect("iterate");
        sub.recv_bytes(zmq::DONTWAIT).is_ok()
    });
    while sub.recv_bytes(zmq::DONTWAIT).is_ok() {}
    let mut biggest_outbox = 0;
    let mut message = vec![0u8; 1024];
    for n in 0..count {
        message[..4].copy_from_slice(&n.to_be_bytes());
        publisher.publish(&message, b"").expect("publish");
        biggest_outbox = biggest_outbox.max(publisher.outbox_len());
        reactor.iterate(Duration::ZERO).expect("iterate");
    }
    // While the subscriber does not read, the publisher waits without
    // spinning: the reactor sleeps through its 50 ms polls (a connection
    // that looked again at once would make each return at once).
    let idle_until = Instant::now() + Duration::from_millis(300);
    let mut idle_passes = 0;
    while Instant::now() < idle_until {
        reactor.iterate(Duration::from_millis(50)).expect("iterate");
        idle_passes += 1;
    }
    assert!(
        idle_passes < 100,
        "{idle_passes} passes in 300 ms: a busy loop"
    );
    let mut got = Vec::new();
    // Until all arrived, or nothing came for 2 s (a dropping publisher has
    // nothing more to give).
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut quiet_since = Instant::now();
    while Instant::now() < deadline && quiet_since.elapsed() < Duration::from_secs(2) {
        reactor.iterate(Duration::from_millis(1)).expect("iterate");
        while let Ok(message) = sub.recv_bytes(zmq::DONTWAIT) {
            // The frame is tag (empty), separator and message: txZMQ's
            // framing.
            if message.len() == 1 + 1024 {
                let n = <[u8; 4]>::try_from(&message[1..5]).expect("four bytes");
                got.push(u32::from_be_bytes(n));
            }
            quiet_since = Instant::now();
        }
        if got.len() == count as usize {
            break;
        }
    }
    factory.shutdown();
    (got, biggest_outbox)
}

/// `ZMQ_XPUB_NODROP` (which libzmq's PUB honours as well): at the
/// high-water mark the publisher's sends wait in its outbox instead of
/// being dropped, so a subscriber that reads late still gets every
/// message, in order. Without it, libzmq drops what does not fit.
#[test]
fn xpub_nodrop_makes_a_publisher_wait_for_a_slow_subscriber_instead_of_dropping() {
    let count = 5_000;
    let (got, outbox) = publish_to_a_late_reader(ZmqOptions::new().xpub_nodrop(true), count);
    let expected: Vec<u32> = (0..count).collect();
    assert!(
        got == expected,
        "with nodrop, every message in order: got {} of {count}, first gap after {:?}",
        got.len(),
        got.iter().zip(&expected).take_while(|(a, b)| a == b).last()
    );
    assert!(
        outbox > 0,
        "the outbox held what the subscriber could not take"
    );
    let (got, outbox) = publish_to_a_late_reader(ZmqOptions::new(), count);
    assert!(got.len() < count as usize, "without nodrop libzmq drops");
    assert_eq!(outbox, 0, "a dropping publisher never waits");
}

/// `subscribe` in the options is the SUB's subscription from its creation:
/// a raw SUB connection hears the prefix it names and nothing else.
#[test]
fn a_sub_subscribed_in_its_options_hears_its_prefix_only() {
    let reactor = reactor(Vec::<Vec<u8>>::new());
    let factory = ZmqFactory::new(&reactor).expect("factory");
    let ctx = factory.context().expect("context");
    let publisher = ctx.socket(zmq::PUB).expect("pub");
    publisher.bind("tcp://127.0.0.1:*").expect("bind");
    let endpoint = publisher
        .get_last_endpoint()
        .expect("endpoint")
        .expect("utf-8");
    let sub = ZmqConnection::with_options(
        &factory,
        zmq::SUB,
        ZmqEndpoint::connect(endpoint),
        &ZmqOptions::new().subscribe(b"a").subscribe(b"c"),
    )
    .expect("sub");
    sub.on_event(|cx, message| {
        cx.state.extend(message.iter().map(|frame| frame.to_vec()));
    });
    let mut n = 0u32;
    iterate_until_cond(
        &reactor,
        "three messages of the subscribed prefixes",
        || {
            for prefix in ["a", "b", "c"] {
                publisher
                    .send(format!("{prefix}{n}").as_bytes(), 0)
                    .expect("publish");
            }
            n += 1;
            reactor.iterate(Duration::from_millis(5)).expect("iterate");
            reactor.access_state(|got| got.len() >= 3).expect("state")
        },
    );
    let got = reactor.access_state(|got| got.clone()).expect("state");
    assert!(
        got.iter()
            .all(|m| m.starts_with(b"a") || m.starts_with(b"c")),
        "{:?}",
        got.iter()
            .map(|m| String::from_utf8_lossy(m))
            .collect::<Vec<_>>()
    );
    assert!(
        got.iter().any(|m| m.starts_with(b"c")),
        "both prefixes are heard"
    );
    factory.shutdown();
}

#[test]
fn subscribe_on_a_socket_that_is_not_a_sub_names_the_option() {
    let reactor = reactor(());
    let factory = ZmqFactory::new(&reactor).expect("factory");
    match ZmqConnection::with_options(
        &factory,
        zmq::PUSH,
        ZmqEndpoint::bind(inproc("not-sub")),
        &ZmqOptions::new().subscribe(b""),
    ) {
        Err(e @ Error::Option { .. }) => {
            let message = e.to_string();
            assert!(
                message.contains("subscribe") && message.contains("PUSH"),
                "{message}"
            );
        }
        other => panic!("expected Error::Option, got {other:?}"),
    }
    assert_eq!(factory.connection_count(), 0);
    factory.shutdown();
}
