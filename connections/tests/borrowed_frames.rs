//! `on_frames`: a receive path that borrows each message's frames from a
//! buffer the reactor reuses. Each test names what it guarantees.

mod common;

use tx0mq_connections::{multipart, ZmqEndpoint, ZmqFactory, ZmqPullConnection, ZmqPushConnection};
use tx0mq_reactor::Reactor;
use tx0mq_test_support::alloc::Counting;
use tx0mq_test_support::net::inproc;
use tx0mq_test_support::reactor::{iterate_until_cond, reactor};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[derive(Default)]
struct Seen {
    messages: Vec<Vec<Vec<u8>>>,
}

/// The frames are the message's, exactly: a three-frame message, then a
/// one-frame message, each seen whole and alone (no frame left over from
/// the longer one).
#[test]
fn each_call_sees_exactly_one_messages_frames() {
    let reactor = reactor(Seen::default());
    let factory = ZmqFactory::new(&reactor).unwrap();
    let address = inproc("frames");
    let pull = ZmqPullConnection::new(&factory, ZmqEndpoint::bind(&address)).unwrap();
    pull.on_frames(|cx, frames| {
        cx.state
            .messages
            .push(frames.iter().map(|f| f.to_vec()).collect());
    });
    let push = ZmqPushConnection::new(&factory, ZmqEndpoint::connect(&address)).unwrap();
    push.push([&b"a"[..], b"", b"ccc"]).unwrap();
    push.push(b"d").unwrap();
    push.push([&b"e"[..], b"f"]).unwrap();
    iterate_until_cond(&reactor, "three messages", || {
        reactor.access_state(|s| s.messages.len()).unwrap_or(0) == 3
    });
    assert_eq!(
        reactor.access_state(|s| s.messages.clone()).unwrap(),
        [
            vec![b"a".to_vec(), vec![], b"ccc".to_vec()],
            vec![b"d".to_vec()],
            vec![b"e".to_vec(), b"f".to_vec()],
        ]
    );
    factory.shutdown();
}

/// Receiving through `on_frames` makes no allocation on the reactor's
/// thread per message (multipart messages included), once the buffer has
/// grown; `on_pull` of the same messages allocates for each one.
#[test]
fn borrowed_frames_allocate_nothing_per_message() {
    let per_message = |borrowed: bool| {
        common::allocations_per_message(&[b"x", b"y", b"z"], 2_000, |pull| {
            if borrowed {
                pull.on_frames(|cx, _frames| *cx.state += 1);
            } else {
                pull.on_pull(|cx, _message| *cx.state += 1);
            }
        })
    };
    let owned = per_message(false);
    let borrowed = per_message(true);
    assert!(
        owned >= 1.0,
        "the counter sees on_pull's allocations: {owned} per message"
    );
    assert!(
        borrowed < 0.01,
        "on_frames allocated {borrowed} times per message (on_pull: {owned})"
    );
}

/// `on_frames` works on the test kit's fake connections too.
#[test]
fn borrowed_frames_on_a_fake_connection() {
    let reactor = Reactor::builder()
        .state(Seen::default())
        .handle_signals(false)
        .build()
        .unwrap();
    let (pull, peer) = ZmqPullConnection::fake(&reactor).unwrap();
    pull.on_frames(|cx, frames| {
        cx.state
            .messages
            .push(frames.iter().map(|f| f.to_vec()).collect());
    });
    peer.deliver(multipart![b"1", b"22"]).unwrap();
    peer.deliver(multipart![b"3"]).unwrap();
    assert_eq!(
        reactor.access_state(|s| s.messages.clone()).unwrap(),
        [vec![b"1".to_vec(), b"22".to_vec()], vec![b"3".to_vec()]]
    );
}
