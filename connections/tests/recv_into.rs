//! `on_recv_into`: each frame received into a buffer the connection owns
//! (pyzmq's `recv_into`). Each test names what it guarantees.

mod common;

use std::time::Duration;

use tx0mq_connections::{
    multipart, ZmqEndpoint, ZmqFactory, ZmqPullConnection, ZmqPushConnection, ZmqSubConnection,
};
use tx0mq_reactor::Reactor;
use tx0mq_test_support::alloc::Counting;
use tx0mq_test_support::net::inproc;
use tx0mq_test_support::reactor::{catching_reactor, iterate_until_cond, reactor};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// What a test's callback saw: (bytes that fit, full length, index, more).
#[derive(Default)]
struct Seen {
    frames: Vec<(Vec<u8>, usize, usize, bool)>,
    count: usize,
}

/// Each frame arrives in order with its full length, its index and
/// whether more follow; a frame longer than the buffer is cut to it and
/// says so.
#[test]
fn frames_arrive_with_length_index_and_more() {
    let reactor = reactor(Seen::default());
    let factory = ZmqFactory::new(&reactor).unwrap();
    let address = inproc("into-frames");
    let pull = ZmqPullConnection::new(&factory, ZmqEndpoint::bind(&address)).unwrap();
    pull.on_recv_into(vec![0; 4], |cx, frame| {
        assert_eq!(frame.is_truncated(), frame.len() > 4);
        cx.state.frames.push((
            frame.bytes().to_vec(),
            frame.len(),
            frame.index(),
            frame.more(),
        ));
    });
    let push = ZmqPushConnection::new(&factory, ZmqEndpoint::connect(&address)).unwrap();
    push.push([&b"a"[..], b"", b"abcdefgh"]).unwrap();
    push.push(b"wxyz").unwrap();
    iterate_until_cond(&reactor, "four frames", || {
        reactor.access_state(|s| s.frames.len()).unwrap_or(0) == 4
    });
    assert_eq!(
        reactor.access_state(|s| s.frames.clone()).unwrap(),
        [
            (b"a".to_vec(), 1, 0, true),
            (vec![], 0, 1, true),
            (b"abcd".to_vec(), 8, 2, false),
            (b"wxyz".to_vec(), 4, 0, false),
        ]
    );
    let stats = pull.stats();
    assert_eq!(
        stats.messages_in, 2,
        "messages are counted whole: {stats:?}"
    );
    factory.shutdown();
}

/// An empty buffer discards every frame but reports its length (pyzmq's
/// `discard.py`), here on a SUB connection whose frames are not split.
#[test]
fn an_empty_buffer_discards_and_counts() {
    let reactor = reactor(Seen::default());
    let factory = ZmqFactory::new(&reactor).unwrap();
    let address = inproc("into-discard");
    let sub = ZmqSubConnection::new(&factory, ZmqEndpoint::bind(&address)).unwrap();
    sub.subscribe(b"").unwrap();
    sub.on_recv_into(Vec::new(), |cx, frame| {
        cx.state.frames.push((
            frame.bytes().to_vec(),
            frame.len(),
            frame.index(),
            frame.more(),
        ));
    });
    let context = factory.context().unwrap();
    let publisher = context.socket(zmq::PUB).unwrap();
    publisher.connect(&address).unwrap();
    iterate_until_cond(&reactor, "the first frames", || {
        publisher
            .send_multipart([&b"large"[..], &[7u8; 2000][..]], 0)
            .unwrap();
        reactor.iterate(Duration::from_millis(5)).unwrap();
        reactor.access_state(|s| s.frames.len()).unwrap_or(0) >= 2
    });
    let frames = reactor.access_state(|s| s.frames.clone()).unwrap();
    assert_eq!(frames[0], (vec![], 5, 0, true));
    assert_eq!(frames[1], (vec![], 2000, 1, false));
    factory.shutdown();
}

/// Receiving through `on_recv_into` makes no allocation on the reactor's
/// thread per message, multipart messages and frames over libzmq's 33-byte
/// inline size included; `on_pull` of the same messages allocates for each.
#[test]
fn recv_into_allocates_nothing_per_message() {
    let per_message = |into: bool| {
        common::allocations_per_message(&[b"x", &[1u8; 100], b"z"], 2_000, |pull| {
            if into {
                pull.on_recv_into(vec![0; 256], |cx, frame| {
                    if !frame.more() {
                        *cx.state += 1;
                    }
                });
            } else {
                pull.on_pull(|cx, _message| *cx.state += 1);
            }
        })
    };
    let owned = per_message(false);
    let into = per_message(true);
    eprintln!("allocations per message: on_pull {owned:.3}, on_recv_into {into:.4}");
    assert!(
        owned >= 1.0,
        "the counter sees on_pull's allocations: {owned} per message"
    );
    assert!(
        into < 0.01,
        "on_recv_into allocated {into} times per message (on_pull: {owned})"
    );
}

/// Shutting the connection down from the callback, in the middle of a
/// message, ends the receiving there: no panic, no further frame.
#[test]
fn shutdown_from_the_callback_mid_message() {
    let reactor = reactor(Seen::default());
    let factory = ZmqFactory::new(&reactor).unwrap();
    let address = inproc("into-shutdown");
    let pull = ZmqPullConnection::new(&factory, ZmqEndpoint::bind(&address)).unwrap();
    pull.on_recv_into(vec![0; 8], |cx, frame| {
        cx.state.count += 1;
        if frame.index() == 1 {
            cx.conn.shutdown();
        }
    });
    let push = ZmqPushConnection::new(&factory, ZmqEndpoint::connect(&address)).unwrap();
    push.push([&b"1"[..], b"2", b"3"]).unwrap();
    push.push(b"4").unwrap();
    iterate_until_cond(&reactor, "the shutdown", || pull.is_closed());
    for _ in 0..5 {
        reactor.iterate(Duration::from_millis(5)).unwrap();
    }
    assert_eq!(reactor.access_state(|s| s.count).unwrap(), 2);
    factory.shutdown();
}

/// `on_recv_into` works on the test kit's fake connections too, frame by
/// frame.
#[test]
fn recv_into_on_a_fake_connection() {
    let reactor = Reactor::builder()
        .state(Seen::default())
        .handle_signals(false)
        .build()
        .unwrap();
    let (pull, peer) = ZmqPullConnection::fake(&reactor).unwrap();
    pull.on_recv_into(vec![0; 2], |cx, frame| {
        cx.state.frames.push((
            frame.bytes().to_vec(),
            frame.len(),
            frame.index(),
            frame.more(),
        ));
    });
    peer.deliver(multipart![b"1", b"223"]).unwrap();
    peer.deliver(multipart![b"4"]).unwrap();
    assert_eq!(
        reactor.access_state(|s| s.frames.clone()).unwrap(),
        [
            (b"1".to_vec(), 1, 0, true),
            (b"22".to_vec(), 3, 1, false),
            (b"4".to_vec(), 1, 0, false),
        ]
    );
}

/// `events()` reports what a poll would, and reading it (which may consume
/// `ZMQ_FD`'s edge) does not make the reactor miss a message: one read
/// after it arrived is still delivered once a protocol is set.
#[test]
fn events_reads_zmq_events_without_losing_the_edge() {
    use tx0mq_connections::ZmqPairConnection;
    let reactor = reactor(Seen::default());
    let factory = ZmqFactory::new(&reactor).unwrap();
    let address = inproc("events");
    let a = ZmqPairConnection::new(&factory, ZmqEndpoint::bind(&address)).unwrap();
    let b = ZmqPairConnection::new(&factory, ZmqEndpoint::connect(&address)).unwrap();
    assert_eq!(b.events().unwrap(), zmq::POLLOUT);
    b.send_msg(b"ping").unwrap();
    iterate_until_cond(&reactor, "POLLIN on a", || {
        a.events().unwrap().contains(zmq::POLLIN)
    });
    // Several reads, each of which may take the edge.
    for _ in 0..3 {
        assert_eq!(a.events().unwrap(), zmq::POLLIN | zmq::POLLOUT);
        reactor.iterate(Duration::from_millis(1)).unwrap();
    }
    a.on_frames(|cx, frames| cx.state.count += frames.len());
    iterate_until_cond(&reactor, "the message", || {
        reactor.access_state(|s| s.count).unwrap_or(0) == 1
    });
    assert_eq!(a.events().unwrap(), zmq::POLLOUT);
    a.shutdown();
    let closed = a.events().unwrap_err();
    assert!(
        closed.to_string().contains("PAIR"),
        "names the connection: {closed}"
    );
    factory.shutdown();
}

/// A callback that panics in the middle of a message is the user's bug:
/// the rest of that message still comes with its own indices (not as a new
/// message starting at 0), and the next message starts at index 0.
#[test]
fn a_panic_mid_message_keeps_the_frames_of_the_message_in_step() {
    let reactor = catching_reactor(Seen::default());
    let factory = ZmqFactory::new(&reactor).unwrap();
    let address = inproc("into-panic");
    let pull = ZmqPullConnection::new(&factory, ZmqEndpoint::bind(&address)).unwrap();
    let mut panicked = false;
    pull.on_recv_into(vec![0; 8], move |cx, frame| {
        if frame.bytes() == b"a2" && !panicked {
            panicked = true;
            panic!("the user's bug, on the second frame");
        }
        cx.state.frames.push((
            frame.bytes().to_vec(),
            frame.len(),
            frame.index(),
            frame.more(),
        ));
    });
    let push = ZmqPushConnection::new(&factory, ZmqEndpoint::connect(&address)).unwrap();
    push.push([&b"a1"[..], b"a2", b"a3"]).unwrap();
    push.push([&b"b1"[..], b"b2"]).unwrap();
    iterate_until_cond(&reactor, "the frames after the panic", || {
        reactor.access_state(|s| s.frames.len()).unwrap() == 4
    });
    let seen = reactor.access_state(|s| s.frames.clone()).unwrap();
    assert_eq!(
        seen,
        [
            (b"a1".to_vec(), 2, 0, true),
            (b"a3".to_vec(), 2, 2, false),
            (b"b1".to_vec(), 2, 0, true),
            (b"b2".to_vec(), 2, 1, false),
        ]
    );
    factory.shutdown();
}
