//! Panics, timeouts and hostile peers must not wedge a connection or grow
//! without bound. Each test names the behaviour it guards; each failed
//! before the change that made it pass.

mod common;

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use common::raw_send;
use log::Level;
use tx0mq_connections::{pattern::Push, ZmqCtx};
use tx0mq_connections::{
    Error, ZmqConnection, ZmqEndpoint, ZmqFactory, ZmqOptions, ZmqProducer, ZmqPullConnection,
    ZmqPushConnection, ZmqRepConnection, ZmqReqConnection, ZmqRequestTimeoutError,
    DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_OUTBOX_BYTES,
};
use tx0mq_test_support::log as logs;
use tx0mq_test_support::net::{inproc, TCP_ANY};
use tx0mq_test_support::reactor::{catching_reactor, iterate_until_cond, reactor, settle};

/// A free tcp endpoint nobody listens on yet: bound once to learn a port,
/// then released.
fn unbound_tcp() -> String {
    format!("tcp://127.0.0.1:{}", tx0mq_test_support::net::free_port())
}

/// Requests that time out (or are cancelled) while waiting in the outbox
/// for a peer give their slots back: with the outbox full of them, new
/// requests are accepted once they expire, and when a peer finally comes it
/// receives only live requests, never dead ones.
#[test]
fn timed_out_and_cancelled_requests_leave_the_outbox() {
    let reactor = reactor(());
    let factory = ZmqFactory::new(&reactor).unwrap();
    let address = unbound_tcp();
    let req = ZmqReqConnection::with_options(
        &factory,
        ZmqEndpoint::connect(&address),
        // No pipe before the peer connects: every send meets EAGAIN.
        &ZmqOptions::new().outbox_limit(100).immediate(true),
    )
    .unwrap();
    let mut requests = Vec::new();
    for i in 0..110 {
        requests.push(req.send_msg_with_timeout(format!("dead {i}"), Duration::from_millis(50)));
    }
    // libzmq takes none (no peer); 100 wait in the outbox, 10 fail at once.
    assert_eq!(req.outbox_len(), 100);
    let cancelled = req.send_msg(b"cancelled");
    assert_eq!(
        req.outbox_len(),
        100,
        "the outbox was full: refused at once"
    );
    let timed_out = Rc::new(Cell::new(0));
    for d in &requests {
        let count = timed_out.clone();
        d.add_errback(move |f| {
            if f.is::<ZmqRequestTimeoutError>() {
                count.set(count.get() + 1);
            }
            Ok(Default::default())
        });
    }
    drop(cancelled);
    iterate_until_cond(&reactor, "100 requests to time out", || {
        timed_out.get() == 100
    });
    assert_eq!(req.pending_requests(), 0);
    assert_eq!(
        req.outbox_len(),
        0,
        "timed-out requests kept their outbox slots"
    );
    assert_eq!(req.outbox_bytes(), 0);

    let waiting = req.send_msg(b"live");
    let cancel_me = req.send_msg(b"cancel me");
    assert_eq!(req.outbox_len(), 2, "a new request was refused");
    cancel_me.cancel();
    assert_eq!(
        req.outbox_len(),
        1,
        "a cancelled request kept its outbox slot"
    );

    let server = factory.context().unwrap().socket(zmq::ROUTER).unwrap();
    server.bind(&address).unwrap();
    let request = common::raw_recv(&reactor, &server, "the live request");
    assert_eq!(&request[3][..], b"live", "{request:?}");
    raw_send(&server, &[&request[0], &request[1], b"", b"ok"]);
    let reply = tx0mq_test_support::reactor::wait_for(&reactor, &waiting, "the live reply");
    assert_eq!(&reply[0][..], b"ok");
    assert_eq!(
        server.recv_multipart(zmq::DONTWAIT).err(),
        Some(zmq::Error::EAGAIN),
        "a dead request reached the peer"
    );
    factory.shutdown();
}

/// A REP protocol that panics on every request leaves no route behind (the
/// request can never be answered), and the connection serves on.
#[test]
fn a_panicking_rep_protocol_leaves_no_routes() {
    let address = inproc("rep-panics");
    let reactor = catching_reactor(0usize);
    let factory = ZmqFactory::new(&reactor).unwrap();
    let rep = ZmqRepConnection::new(&factory, ZmqEndpoint::bind(&address)).unwrap();
    rep.got_message(|cx, id, parts| {
        if &parts[0][..] == b"boom" {
            panic!("the protocol's bug");
        }
        *cx.state += 1;
        cx.conn.reply(&id, b"fine")
    });
    let client = factory.context().unwrap().socket(zmq::DEALER).unwrap();
    client.connect(&address).unwrap();
    for i in 0..500u32 {
        raw_send(&client, &[&i.to_be_bytes(), b"", b"boom"]);
    }
    raw_send(&client, &[b"last", b"", b"ok"]);
    iterate_until_cond(&reactor, "the good request", || {
        reactor.access_state(|n| *n).unwrap_or(0) == 1
    });
    assert_eq!(
        rep.unanswered(),
        0,
        "routes of requests whose protocol panicked stayed"
    );
    let reply = common::raw_recv(&reactor, &client, "the reply");
    assert_eq!(reply, [b"last".to_vec(), vec![], b"fine".to_vec()]);
    factory.shutdown();
}

#[derive(Default)]
struct Events(Vec<&'static str>);

struct ShutsDownWhenResumed;

impl ZmqProducer<Events, Push> for ShutsDownWhenResumed {
    fn resume_producing(&mut self, cx: &mut ZmqCtx<'_, Events, ZmqPushConnection<Events>>) {
        cx.state.0.push("resume");
        cx.conn.shutdown();
    }
    fn stop_producing(&mut self, cx: &mut ZmqCtx<'_, Events, ZmqPushConnection<Events>>) {
        cx.state.0.push("stop");
    }
}

/// A producer whose connection is shut down from inside its own
/// `resume_producing` hears `stop_producing` (Twisted's contract), once.
#[test]
fn shutdown_from_resume_producing_stops_the_producer() {
    let address = inproc("produce-stop");
    let reactor = reactor(Events::default());
    let factory = ZmqFactory::new(&reactor).unwrap();
    let push = ZmqPushConnection::new(&factory, ZmqEndpoint::bind(&address)).unwrap();
    push.register_producer(ShutsDownWhenResumed, false).unwrap();
    for _ in 0..5 {
        reactor.iterate(Duration::ZERO).unwrap();
    }
    assert_eq!(
        reactor.access_state(|e| e.0.clone()).unwrap(),
        ["resume", "stop"]
    );
}

/// A protocol that shuts its own connection down and then panics still
/// hears `connection_lost`.
#[test]
fn connection_lost_survives_a_protocol_that_panics_after_shutdown() {
    let address = inproc("lost-panic");
    struct Panics;
    impl tx0mq_connections::PullProtocol<Vec<String>> for Panics {
        fn on_pull(
            &mut self,
            cx: &mut ZmqCtx<'_, Vec<String>, ZmqPullConnection<Vec<String>>>,
            _message: tx0mq_connections::Multipart,
        ) {
            cx.conn.shutdown();
            panic!("after shutdown");
        }
        fn connection_lost(
            &mut self,
            cx: &mut ZmqCtx<'_, Vec<String>, ZmqPullConnection<Vec<String>>>,
            lost: &tx0mq_connections::ConnectionLost,
        ) {
            cx.state.push(lost.to_string());
        }
    }
    let reactor = catching_reactor(Vec::new());
    let factory = ZmqFactory::new(&reactor).unwrap();
    let pull = ZmqPullConnection::new(&factory, ZmqEndpoint::bind(&address)).unwrap();
    pull.set_protocol(Panics).unwrap();
    let push = ZmqPushConnection::new(&factory, ZmqEndpoint::connect(&address)).unwrap();
    push.push(b"x").unwrap();
    iterate_until_cond(&reactor, "connection_lost", || {
        reactor.access_state(|l| !l.is_empty()).unwrap_or(false)
    });
    assert_eq!(reactor.access_state(|l| l.clone()).unwrap(), ["shut down"]);
}

/// Dropping a stream gives the connection back: nothing more is read into
/// the dead buffer, and a protocol set later gets every message sent after
/// the drop.
#[test]
fn dropping_a_stream_gives_the_connection_back() {
    let address = inproc("stream-drop");
    let reactor = reactor(0usize);
    let factory = ZmqFactory::new(&reactor).unwrap();
    let pull = ZmqPullConnection::new(&factory, ZmqEndpoint::bind(&address)).unwrap();
    let push = ZmqPushConnection::new(&factory, ZmqEndpoint::connect(&address)).unwrap();
    let stream = pull.messages_with_capacity(4).unwrap();
    drop(stream);
    for i in 0..10 {
        push.push(format!("{i}")).unwrap();
    }
    settle(&reactor);
    pull.on_pull(|cx, _| *cx.state += 1);
    iterate_until_cond(&reactor, "10 messages", || {
        reactor.access_state(|n| *n).unwrap_or(0) == 10
    });
    factory.shutdown();
}

/// A peer sending 300 malformed messages costs a bounded number of log
/// lines: the first few in full, then a count (written at the latest when
/// the connection goes). Good messages go on being delivered.
#[test]
fn malformed_messages_are_logged_at_a_bounded_rate() {
    let address = inproc("noisy");
    logs::capture();
    let reactor = reactor(0usize);
    let factory = ZmqFactory::new(&reactor).unwrap();
    let rep = ZmqRepConnection::new(&factory, ZmqEndpoint::bind(&address)).unwrap();
    rep.got_message(|cx, id, _| {
        *cx.state += 1;
        cx.conn.reply(&id, b"ok")
    });
    let peer = factory.context().unwrap().socket(zmq::DEALER).unwrap();
    peer.connect(&address).unwrap();
    for _ in 0..300 {
        raw_send(&peer, &[b"no delimiter"]);
    }
    raw_send(&peer, &[b"id", b"", b"good"]);
    iterate_until_cond(&reactor, "the good request", || {
        reactor.access_state(|n| *n).unwrap_or(0) == 1
    });
    rep.shutdown();
    let warnings = logs::count(Level::Warn, "dropped a request with no empty delimiter");
    assert!(
        (1..=10).contains(&warnings),
        "{warnings} warnings for 300 malformed messages"
    );
    assert!(
        logs::contains(Level::Warn, "290 more malformed messages dropped"),
        "{:?}",
        logs::records()
    );
    factory.shutdown();
}

/// The outbox is bounded in bytes as well as messages: 64 KiB messages to a
/// peer that is not there fill it at about 64 MiB (not 10,000 x 64 KiB),
/// and the error names both limits.
#[test]
fn the_outbox_is_bounded_in_bytes_by_default() {
    let reactor = reactor(());
    let factory = ZmqFactory::new(&reactor).unwrap();
    let push = ZmqPushConnection::with_options(
        &factory,
        ZmqEndpoint::connect(unbound_tcp()),
        &ZmqOptions::new().immediate(true),
    )
    .unwrap();
    let payload = vec![7u8; 64 * 1024];
    let mut sent = 0;
    let error = loop {
        match push.push(&payload[..]) {
            Ok(()) => sent += 1,
            Err(e) => break e,
        }
        assert!(sent <= 10_000, "the outbox took {sent} messages of 64 KiB");
    };
    assert_eq!(sent, DEFAULT_OUTBOX_BYTES / payload.len());
    assert!(push.outbox_bytes() <= DEFAULT_OUTBOX_BYTES);
    match &error {
        Error::OutboxFull {
            bytes, byte_limit, ..
        } => {
            assert_eq!(*byte_limit, DEFAULT_OUTBOX_BYTES);
            assert_eq!(*bytes, push.outbox_bytes());
        }
        other => panic!("expected OutboxFull, got {other:?}"),
    }
    assert!(error.to_string().contains("bytes"), "{error}");
    factory.shutdown();
}

/// `maxmsgsize` defaults to 64 MiB rather than libzmq's unlimited: a peer
/// sending a larger message is cut off (the message never arrives), while a
/// well-behaved peer is served; `maxmsgsize(-1)` restores libzmq's default.
#[test]
fn messages_over_the_default_maximum_size_are_refused() {
    let reactor = reactor(Vec::<usize>::new());
    let factory = ZmqFactory::new(&reactor).unwrap();
    let pull = ZmqPullConnection::new(&factory, ZmqEndpoint::bind(TCP_ANY)).unwrap();
    assert_eq!(
        pull.with_socket(|s| s.get_maxmsgsize()).unwrap().unwrap(),
        DEFAULT_MAX_MESSAGE_SIZE
    );
    let unlimited = ZmqConnection::with_options(
        &factory,
        zmq::PULL,
        ZmqEndpoint::bind(TCP_ANY),
        &ZmqOptions::new().maxmsgsize(-1),
    )
    .unwrap();
    assert_eq!(
        unlimited
            .with_socket(|s| s.get_maxmsgsize())
            .unwrap()
            .unwrap(),
        -1
    );
    pull.on_pull(|cx, message| cx.state.push(message[0].len()));
    let address = pull.last_endpoint().unwrap();
    let big = factory.context().unwrap().socket(zmq::PUSH).unwrap();
    big.connect(&address).unwrap();
    let small = factory.context().unwrap().socket(zmq::PUSH).unwrap();
    small.connect(&address).unwrap();
    let too_large = vec![0u8; DEFAULT_MAX_MESSAGE_SIZE as usize + 1];
    big.send(&too_large[..], 0).unwrap();
    small.send(&b"fine"[..], 0).unwrap();
    iterate_until_cond(&reactor, "the small message", || {
        reactor
            .access_state(|got| got.contains(&4))
            .unwrap_or(false)
    });
    settle(&reactor);
    assert_eq!(reactor.access_state(|got| got.clone()).unwrap(), [4]);
    factory.shutdown();
}
