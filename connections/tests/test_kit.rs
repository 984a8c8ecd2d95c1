//! The protocol test kit (`tx0mq_connections::testing`): a connection of
//! any pattern with a fake peer, driven by the test and a fake clock. Each
//! test names what the kit guarantees.

use std::time::Duration;

use tx0mq_connections::pattern::{Push, Raw};
use tx0mq_connections::{
    multipart, ConnectionLost, Error, Multipart, PullProtocol, ZmqConnection, ZmqCtx, ZmqOptions,
    ZmqProducer, ZmqPullConnection, ZmqPushConnection, ZmqReqConnection, ZmqRequestTimeoutError,
    ZmqRouterConnection,
};
use tx0mq_reactor::Reactor;

fn fake_clock<S: 'static>(state: S) -> Reactor<S> {
    Reactor::builder()
        .state(state)
        .fake_clock()
        .handle_signals(false)
        .build()
        .unwrap()
}

/// The protocol hears `connection_made` before the first message, messages
/// in order, and `connection_lost` when the connection shuts down.
#[test]
fn a_protocol_hears_made_messages_and_lost_in_order() {
    struct Logs;
    impl PullProtocol<Vec<String>> for Logs {
        fn connection_made(
            &mut self,
            cx: &mut ZmqCtx<'_, Vec<String>, ZmqPullConnection<Vec<String>>>,
        ) {
            cx.state.push("made".into());
        }
        fn on_pull(
            &mut self,
            cx: &mut ZmqCtx<'_, Vec<String>, ZmqPullConnection<Vec<String>>>,
            m: Multipart,
        ) {
            cx.state.push(String::from_utf8_lossy(&m[0]).into_owned());
        }
        fn connection_lost(
            &mut self,
            cx: &mut ZmqCtx<'_, Vec<String>, ZmqPullConnection<Vec<String>>>,
            lost: &ConnectionLost,
        ) {
            cx.state.push(format!("lost: {lost}"));
        }
    }
    let reactor = fake_clock(Vec::new());
    let (pull, peer) = ZmqPullConnection::fake(&reactor).unwrap();
    peer.deliver(b"early").unwrap();
    assert_eq!(
        peer.undelivered(),
        1,
        "nothing is read before a protocol is set"
    );
    pull.set_protocol(Logs).unwrap();
    peer.pump().unwrap();
    peer.deliver(b"second").unwrap();
    pull.shutdown();
    assert_eq!(
        reactor.access_state(|l| l.clone()).unwrap(),
        ["made", "early", "second", "lost: shut down"]
    );
}

/// A REQ connection's request goes out framed `[id, "", parts]`; the reply
/// delivered with that id fires its Deferred; a timeout on the fake clock
/// fails another.
#[test]
fn req_replies_and_timeouts_follow_the_fake_clock() {
    let reactor = fake_clock(());
    let (req, server) = ZmqReqConnection::fake(&reactor).unwrap();
    let answered = req.send_msg(b"question");
    let sent = server.take_sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].len(), 3);
    assert!(sent[0][1].is_empty());
    let id = sent[0][0].to_vec();
    let got = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let slot = got.clone();
    answered.add_callback(move |reply| {
        slot.borrow_mut().push(reply[0].to_vec());
        Ok(reply)
    });
    server.deliver(multipart![&id[..], b"", b"answer"]).unwrap();
    assert_eq!(*got.borrow(), [b"answer".to_vec()]);

    let late = req.send_msg_with_timeout(b"slow", Duration::from_secs(5));
    reactor.advance(Duration::from_secs(4)).unwrap();
    assert!(!late.called());
    reactor.advance(Duration::from_secs(1)).unwrap();
    assert!(late.called());
    let timed_out = std::rc::Rc::new(std::cell::Cell::new(false));
    let flag = timed_out.clone();
    late.add_errback(move |f| {
        flag.set(f.is::<ZmqRequestTimeoutError>());
        Ok(Multipart::new())
    });
    assert!(timed_out.get());
    assert_eq!(req.pending_requests(), 0);
}

/// While the peer refuses messages, sends wait in the outbox and a
/// streaming producer is paused; once it takes them again, a pump sends the
/// queue in order and resumes the producer.
#[test]
fn a_refusing_peer_exercises_the_outbox_and_the_producer() {
    struct Producer;
    impl ZmqProducer<Vec<&'static str>, Push> for Producer {
        fn pause_producing(
            &mut self,
            cx: &mut ZmqCtx<'_, Vec<&'static str>, ZmqPushConnection<Vec<&'static str>>>,
        ) {
            cx.state.push("pause");
        }
        fn resume_producing(
            &mut self,
            cx: &mut ZmqCtx<'_, Vec<&'static str>, ZmqPushConnection<Vec<&'static str>>>,
        ) {
            cx.state.push("resume");
        }
    }
    let reactor = fake_clock(Vec::new());
    let (push, peer) = ZmqPushConnection::fake(&reactor).unwrap();
    push.register_producer(Producer, true).unwrap();
    peer.refuse(true);
    push.push(b"1").unwrap();
    push.push(b"2").unwrap();
    assert_eq!(push.outbox_len(), 2);
    peer.pump().unwrap();
    assert!(peer.sent().is_empty());
    peer.refuse(false);
    peer.pump().unwrap();
    assert_eq!(peer.take_sent(), [multipart![b"1"], multipart![b"2"]]);
    assert_eq!(push.outbox_len(), 0);
    assert_eq!(
        reactor.access_state(|l| l.clone()).unwrap(),
        ["pause", "resume"]
    );

    let small = ZmqOptions::new().outbox_limit(1);
    let (push, peer) = ZmqPushConnection::fake_with(&reactor, Push, &small).unwrap();
    peer.refuse(true);
    push.push(b"a").unwrap();
    assert!(matches!(
        push.push(b"b"),
        Err(Error::OutboxFull { limit: 1, .. })
    ));
}

/// The pattern's framing runs on the fake as on a socket: a ROUTER protocol
/// gets `(sender, parts)`; an empty message is malformed and dropped, and
/// the connection carries on.
#[test]
fn the_patterns_decoding_runs_on_the_fake() {
    let reactor = fake_clock(Vec::new());
    let (router, peer) = ZmqRouterConnection::fake(&reactor).unwrap();
    router.got_message(|cx, sender, parts| {
        cx.state.push((sender.to_vec(), parts.len()));
        cx.conn.send_msg(&sender, b"ack")
    });
    peer.deliver(Multipart::new()).unwrap();
    peer.deliver(multipart![b"peer-1", b"a", b"b"]).unwrap();
    assert_eq!(
        reactor.access_state(|l| l.clone()).unwrap(),
        [(b"peer-1".to_vec(), 2)]
    );
    assert_eq!(peer.take_sent(), [multipart![b"peer-1", b"ack"]]);
}

/// A fake has no libzmq socket: `with_socket` says so rather than
/// pretending; `raw()` works on the fake too.
#[test]
fn a_fake_has_no_socket_and_says_so() {
    let reactor = fake_clock(());
    let (pair, peer) =
        ZmqConnection::fake_with(&reactor, Raw::new(zmq::PAIR), &ZmqOptions::new()).unwrap();
    let refused = pair.with_socket(|s| s.get_rcvhwm());
    assert!(
        matches!(
            &refused,
            Err(Error::Socket {
                source: zmq::Error::ENOTSUP,
                ..
            })
        ),
        "{refused:?}"
    );
    assert!(refused.unwrap_err().to_string().contains("fake"));
    pair.send(b"raw").unwrap();
    assert_eq!(peer.take_sent(), [multipart![b"raw"]]);
}
