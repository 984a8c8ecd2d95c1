//! Producers: paused while the outbox holds messages, resumed when it drains;
//! pull producers asked for more only while the outbox is empty.

use std::time::Duration;

use tx0mq_connections::pattern::Push;
use tx0mq_connections::{ZmqCtx, ZmqEndpoint, ZmqFactory, ZmqProducer, ZmqPushConnection};
use tx0mq_reactor::Reactor;

#[derive(Default)]
struct Log {
    events: Vec<&'static str>,
    sent: usize,
    received: usize,
}

struct Streaming;

impl ZmqProducer<Log, Push> for Streaming {
    fn pause_producing(&mut self, cx: &mut ZmqCtx<'_, Log, ZmqPushConnection<Log>>) {
        cx.state.events.push("pause");
    }
    fn resume_producing(&mut self, cx: &mut ZmqCtx<'_, Log, ZmqPushConnection<Log>>) {
        cx.state.events.push("resume");
    }
}

fn reactor() -> (Reactor<Log>, ZmqFactory<Log>) {
    let reactor = tx0mq_test_support::reactor::reactor(Log::default());
    let factory = ZmqFactory::new(&reactor).unwrap();
    reactor.call_later(Duration::from_secs(20), |cx| {
        cx.state.events.push("WATCHDOG");
        cx.reactor.stop()
    });
    (reactor, factory)
}

#[test]
fn a_streaming_producer_is_paused_while_the_outbox_waits_and_resumed_when_it_drains() {
    let (reactor, factory) = reactor();
    // Bound, no peer: every push waits in the outbox.
    let push =
        ZmqPushConnection::new(&factory, ZmqEndpoint::bind("inproc://producer-streaming")).unwrap();
    push.register_producer(Streaming, true).unwrap();
    for _ in 0..5 {
        push.push(b"job").unwrap();
    }
    assert_eq!(push.outbox_len(), 5);
    reactor.iterate(Duration::ZERO).unwrap();
    assert_eq!(
        reactor.access_state(|l| l.events.clone()).unwrap(),
        ["pause"]
    );
    // A peer arrives: the outbox drains into it, and the producer resumes.
    let pull = factory.context().unwrap().socket(zmq::PULL).unwrap();
    pull.connect("inproc://producer-streaming").unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !reactor
        .access_state(|l| l.events.contains(&"resume"))
        .unwrap()
    {
        assert!(std::time::Instant::now() < deadline, "never resumed");
        reactor.iterate(Duration::from_millis(10)).unwrap();
    }
    assert_eq!(push.outbox_len(), 0);
    for _ in 0..5 {
        assert_eq!(pull.recv_bytes(0).unwrap(), b"job");
    }
    assert_eq!(
        reactor.access_state(|l| l.events.clone()).unwrap(),
        ["pause", "resume"]
    );
}

#[test]
fn a_pull_producer_sends_everything_in_order_without_outrunning_the_peer() {
    const N: usize = 50_000;
    let (reactor, factory) = reactor();
    let push = ZmqPushConnection::new(&factory, ZmqEndpoint::bind("tcp://127.0.0.1:*")).unwrap();
    let endpoint = push.last_endpoint().unwrap();
    let context = factory.context().unwrap();
    let handle = reactor.thread_handle();
    let receiver = std::thread::spawn(move || {
        let pull = context.socket(zmq::PULL).unwrap();
        pull.connect(&endpoint).unwrap();
        for i in 0..N {
            let got = pull.recv_bytes(0).unwrap();
            assert_eq!(got, i.to_string().as_bytes(), "out of order");
        }
        handle
            .call_from_thread(|cx| {
                cx.state.received = N;
                cx.reactor.stop()
            })
            .unwrap();
    });
    let mut max_outbox = 0;
    push.produce_with(move |cx| {
        // Called only while the outbox is empty.
        max_outbox = max_outbox.max(cx.conn.outbox_len());
        assert_eq!(
            max_outbox, 0,
            "asked for more while the outbox was not empty"
        );
        for _ in 0..1000 {
            if cx.state.sent == N {
                cx.conn.unregister_producer();
                return;
            }
            cx.conn.push(cx.state.sent.to_string()).unwrap();
            cx.state.sent += 1;
            if cx.conn.outbox_len() > 0 {
                return;
            }
        }
    })
    .unwrap();
    reactor.run().unwrap();
    receiver.join().unwrap();
    let log = reactor
        .access_state(|l| (l.sent, l.received, l.events.clone()))
        .unwrap();
    assert_eq!(log, (N, N, vec![]));
}

#[test]
fn shutting_down_stops_the_producer() {
    struct Stops;
    impl ZmqProducer<Log, Push> for Stops {
        fn resume_producing(&mut self, _cx: &mut ZmqCtx<'_, Log, ZmqPushConnection<Log>>) {}
        fn stop_producing(&mut self, cx: &mut ZmqCtx<'_, Log, ZmqPushConnection<Log>>) {
            cx.state.events.push("stop");
        }
    }
    let (reactor, factory) = reactor();
    let push =
        ZmqPushConnection::new(&factory, ZmqEndpoint::bind("inproc://producer-stop")).unwrap();
    push.register_producer(Stops, true).unwrap();
    push.shutdown();
    reactor.iterate(Duration::ZERO).unwrap();
    assert_eq!(
        reactor.access_state(|l| l.events.clone()).unwrap(),
        ["stop"]
    );
}
