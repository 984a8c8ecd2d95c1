//! `ZmqContext::shutdown`: a thread blocked on one of the context's sockets
//! wakes with `ETERM`, and the connections of a factory on the context
//! close with `LostReason::ContextTerminated`, their queued messages
//! counted, their pending requests failed, the reactor carrying on.

mod common;

use std::sync::mpsc;

use common::{Lost, LostRecorder, Outcome};
use tx0mq_connections::{
    ConnectionLost, Error, LostReason, MonitorEvents, ZmqContext, ZmqDealerConnection, ZmqEndpoint,
    ZmqFactory, ZmqReqConnection,
};
use tx0mq_reactor::Reactor;
use tx0mq_test_support::log as logs;
use tx0mq_test_support::net::{inproc, tcp};
use tx0mq_test_support::reactor::{iterate_until, iterate_until_cond, reactor, settle, DEADLINE};

/// What the DEALER's protocol heard in `connection_lost`, once it heard it.
fn lost_when_heard(reactor: &Reactor<Lost>) -> Vec<ConnectionLost> {
    iterate_until(reactor, "the DEALER to hear of the shutdown", |s| {
        !s.lost.is_empty()
    });
    reactor.access_state(|s| s.lost.clone()).expect("the state")
}

#[test]
fn a_context_shutdown_wakes_a_blocked_thread_and_closes_the_factorys_connections() {
    logs::capture();
    let reactor = reactor(Lost::default());
    let factory = ZmqFactory::new(&reactor).expect("a factory");
    let context = factory.context().expect("the factory's context");

    // A DEALER with no peer: its two messages wait in the outbox.
    let dealer = ZmqDealerConnection::new(&factory, ZmqEndpoint::bind(inproc("ctx-dealer")))
        .expect("a DEALER");
    dealer.set_protocol(LostRecorder).expect("a protocol");
    dealer.send_msg("one").expect("queued");
    dealer.send_msg("two").expect("queued");
    settle(&reactor);
    assert_eq!(dealer.outbox_len(), 2);

    // A worker thread blocked in a receive on a socket of the same context.
    let socket = context.socket(zmq::PULL).expect("a socket");
    socket.bind(&inproc("ctx-worker")).expect("bind");
    let (done, outcome) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        let result = socket.recv_bytes(0);
        drop(socket); // closing it lets the context end
        let _ = done.send(result);
    });

    context.shutdown().expect("the shutdown");
    let result = outcome
        .recv_timeout(DEADLINE)
        .expect("the worker woke from its blocking receive");
    assert_eq!(result, Err(zmq::Error::ETERM));
    worker.join().expect("the worker ended");

    let lost = lost_when_heard(&reactor);
    assert_eq!(
        lost,
        [ConnectionLost::new(LostReason::ContextTerminated, 2)]
    );
    assert_eq!(
        lost[0].to_string(),
        "ZeroMQ context shut down; 2 queued message(s) dropped"
    );
    match dealer.send_msg("three") {
        Err(e @ Error::Closed { .. }) => assert!(e.to_string().contains("send"), "{e}"),
        other => panic!("a send after the shutdown: {other:?}"),
    }
    // No new socket on the shut-down context, and the error says why.
    match ZmqDealerConnection::new(&factory, ZmqEndpoint::bind(inproc("ctx-late"))) {
        Err(e) => assert!(e.to_string().contains("terminated"), "{e}"),
        Ok(_) => panic!("a connection on a shut-down context"),
    }
    // The reactor carries on.
    let fired = reactor.call_later(std::time::Duration::ZERO, |_| {});
    settle(&reactor);
    assert!(!fired.active());
    assert_eq!(context.shutdown().ok(), Some(()), "a second shutdown");
    assert_eq!(
        logs::errors(),
        Vec::<String>::new(),
        "ETERM is the shutdown, not a fault"
    );
    assert_eq!(reactor.access_state(|s| s.got.len()).expect("the state"), 0);
}

#[test]
fn a_request_pending_at_the_context_shutdown_fails_and_names_it() {
    let reactor = reactor(());
    let factory = ZmqFactory::new(&reactor).expect("a factory");
    // Nobody listens on the port: the request waits in the outbox.
    let req = ZmqReqConnection::new(&factory, ZmqEndpoint::connect(tcp())).expect("a REQ");
    let reply = Outcome::of(&req.send_msg("anyone?"));
    settle(&reactor);
    factory
        .context()
        .expect("the factory's context")
        .shutdown()
        .expect("the shutdown");
    iterate_until_cond(&reactor, "the request to fail", || reply.fired());
    let failure = reply.failure();
    assert!(
        matches!(failure.downcast_ref::<Error>(), Some(Error::Closed { .. })),
        "expected Error::Closed, got {failure}"
    );
    let text = failure.to_string();
    assert!(text.contains("ZeroMQ context shut down"), "{text}");
    assert_eq!(req.pending_requests(), 0);
}

#[test]
fn a_context_of_the_zmq_crate_refuses_shutdown_and_says_why() {
    let context = ZmqContext::from(zmq::Context::new());
    let err = context.shutdown().expect_err("no zmq_ctx_shutdown for it");
    let text = err.to_string();
    assert!(text.contains("zmq crate"), "{text}");
    // Still whole: it makes sockets.
    assert!(context.socket(zmq::PAIR).is_ok());
}

#[test]
fn a_monitored_connection_closes_cleanly_at_the_context_shutdown() {
    logs::capture();
    let reactor = reactor(Lost::default());
    let factory = ZmqFactory::new(&reactor).expect("a factory");
    let address = tcp();
    let dealer = ZmqDealerConnection::new(&factory, ZmqEndpoint::bind(&address)).expect("a DEALER");
    dealer.set_protocol(LostRecorder).expect("a protocol");
    dealer
        .monitor_events(MonitorEvents::ALL)
        .expect("a monitor");
    let events = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let seen = events.clone();
    dealer.on_monitor(move |_, event| {
        seen.borrow_mut().push(format!("{event:?}"));
    });
    // A peer on a context of its own, so that the monitor has events.
    let peer_context = zmq::Context::new();
    let peer = peer_context.socket(zmq::DEALER).expect("a peer");
    peer.connect(&address).expect("connect");
    iterate_until_cond(&reactor, "the peer's handshake", || {
        events
            .borrow()
            .iter()
            .any(|e| e.starts_with("HandshakeSucceeded"))
    });
    factory
        .context()
        .expect("the factory's context")
        .shutdown()
        .expect("the shutdown");
    let lost = lost_when_heard(&reactor);
    assert_eq!(
        lost,
        [ConnectionLost::new(LostReason::ContextTerminated, 0)]
    );
    settle(&reactor);
    assert_eq!(logs::errors(), Vec::<String>::new());
}
