//! Per-connection and per-factory counters (`Connection::stats`,
//! `ZmqFactory::stats`): each test knows the exact numbers.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};

use common::raw_send;
use tx0mq_connections::{
    multipart, ConnectionStats, Error, FactoryStats, ZmqEndpoint, ZmqFactory, ZmqOptions,
    ZmqPubConnection, ZmqPullConnection, ZmqPushConnection, ZmqRepConnection, ZmqRouterConnection,
    ZmqSubConnection,
};
use tx0mq_test_support::net::{free_port, inproc};
use tx0mq_test_support::reactor::{fake_clock_reactor, iterate_until_cond, reactor};

/// A PULL bound to `address` that counts the bytes it receives.
fn counting_pull(factory: &ZmqFactory<usize>, address: &str) -> ZmqPullConnection<usize> {
    ZmqPullConnection::with_options(
        factory,
        ZmqEndpoint::bind(address),
        &ZmqOptions::new().count_received_bytes(true),
    )
    .unwrap()
}

/// Without `count_received_bytes` a connection counts the messages it
/// receives but not their bytes (each frame's size costs calls into
/// libzmq); the sender counts its bytes either way.
#[test]
fn received_bytes_are_counted_only_when_asked() {
    let address = inproc("stats-no-bytes");
    let reactor = reactor(0usize);
    let factory = ZmqFactory::new(&reactor).unwrap();
    let pull = ZmqPullConnection::new(&factory, ZmqEndpoint::bind(&address)).unwrap();
    pull.on_pull(|cx, _| *cx.state += 1);
    let push = ZmqPushConnection::new(&factory, ZmqEndpoint::connect(&address)).unwrap();
    for _ in 0..10 {
        push.push(multipart![b"0123", b"56789"]).unwrap();
    }
    iterate_until_cond(&reactor, "10 messages", || {
        reactor.access_state(|n| *n).unwrap() == 10
    });
    let stats = pull.stats();
    assert_eq!((stats.messages_in, stats.bytes_in), (10, 0));
    assert_eq!(push.stats().bytes_out, 90);
    factory.shutdown();
}

/// 1,000 messages of 10 bytes over inproc: the PUSH counts each out, the
/// PULL each in, and the factory both.
#[test]
fn push_pull_counts_every_message_and_byte() {
    let address = inproc("stats-pushpull");
    let reactor = reactor(0usize);
    let factory = ZmqFactory::new(&reactor).unwrap();
    let pull = counting_pull(&factory, &address);
    pull.on_pull(|cx, _| *cx.state += 1);
    let push = ZmqPushConnection::new(&factory, ZmqEndpoint::connect(&address)).unwrap();
    for _ in 0..1000 {
        push.push(b"0123456789").unwrap();
    }
    iterate_until_cond(&reactor, "1,000 messages", || {
        reactor.access_state(|n| *n).unwrap() == 1000
    });
    assert_eq!(
        push.stats(),
        ConnectionStats {
            messages_out: 1000,
            bytes_out: 10_000,
            ..ConnectionStats::default()
        }
    );
    assert_eq!(
        pull.stats(),
        ConnectionStats {
            messages_in: 1000,
            bytes_in: 10_000,
            ..ConnectionStats::default()
        }
    );
    assert_eq!(
        factory.stats(),
        FactoryStats {
            open: 2,
            messages_in: 1000,
            bytes_in: 10_000,
            messages_out: 1000,
            bytes_out: 10_000,
            ..FactoryStats::default()
        }
    );
    factory.shutdown();
}

/// Multipart messages count once each, their bytes over every frame; the
/// borrowing receive (`on_frames`) counts as the owning one does.
#[test]
fn a_multipart_message_is_one_message_of_all_its_bytes() {
    let reactor = fake_clock_reactor(());
    let (owning, owning_peer) = ZmqPullConnection::fake(&reactor).unwrap();
    owning.on_pull(|_, _| ());
    let (borrowing, borrowing_peer) = ZmqPullConnection::fake(&reactor).unwrap();
    borrowing.on_frames(|_, _| ());
    for peer in [&owning_peer, &borrowing_peer] {
        peer.deliver(multipart![b"abc", b"", b"defgh"]).unwrap();
        peer.deliver(b"ij").unwrap();
    }
    for conn in [&owning, &borrowing] {
        let stats = conn.stats();
        assert_eq!((stats.messages_in, stats.bytes_in), (2, 10));
    }
    let (push, peer) = ZmqPushConnection::fake(&reactor).unwrap();
    push.push(multipart![b"abc", b"defgh"]).unwrap();
    push.push(b"ij").unwrap();
    assert_eq!(peer.sent().len(), 2);
    let stats = push.stats();
    assert_eq!((stats.messages_out, stats.bytes_out), (2, 10));
}

/// A PUSH with no peer yet and an outbox of 5: five sends wait, three are
/// refused; when a peer comes, the five go out and the high mark stays.
#[test]
fn a_push_with_no_peer_fills_its_outbox_and_drains_it() {
    let port = free_port();
    let reactor = reactor(0usize);
    let factory = ZmqFactory::new(&reactor).unwrap();
    let push = ZmqPushConnection::with_options(
        &factory,
        ZmqEndpoint::connect(format!("tcp://127.0.0.1:{port}")),
        &ZmqOptions::new().immediate(true).outbox_limit(5),
    )
    .unwrap();
    for i in 0..8 {
        let outcome = push.push(b"1234");
        if i < 5 {
            outcome.unwrap();
        } else {
            assert!(
                matches!(outcome, Err(Error::OutboxFull { .. })),
                "{outcome:?}"
            );
        }
    }
    assert_eq!(
        push.stats(),
        ConnectionStats {
            outbox_len: 5,
            outbox_bytes: 20,
            outbox_high_mark: 5,
            queued: 5,
            dropped_outbox_full: 3,
            ..ConnectionStats::default()
        }
    );
    assert_eq!(push.stats().dropped(), 3);

    let pull = ZmqPullConnection::new(
        &factory,
        ZmqEndpoint::bind(format!("tcp://127.0.0.1:{port}")),
    )
    .unwrap();
    pull.on_pull(|cx, _| *cx.state += 1);
    iterate_until_cond(&reactor, "the five queued messages", || {
        reactor.access_state(|n| *n).unwrap() == 5
    });
    assert_eq!(
        push.stats(),
        ConnectionStats {
            messages_out: 5,
            bytes_out: 20,
            outbox_high_mark: 5,
            queued: 5,
            dropped_outbox_full: 3,
            ..ConnectionStats::default()
        }
    );
    factory.shutdown();
}

/// Malformed requests from a real peer are counted as dropped, and as
/// received: 300 without a delimiter, then one good one.
#[test]
fn malformed_messages_are_counted_as_dropped() {
    let address = inproc("stats-malformed");
    let reactor = reactor(0usize);
    let factory = ZmqFactory::new(&reactor).unwrap();
    let rep = ZmqRepConnection::with_options(
        &factory,
        ZmqEndpoint::bind(&address),
        &ZmqOptions::new().count_received_bytes(true),
    )
    .unwrap();
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
        reactor.access_state(|n| *n).unwrap() == 1
    });
    let stats = rep.stats();
    // Counted as libzmq delivers them: after the 5-byte routing id that the
    // ROUTER socket underneath gives an anonymous peer.
    assert_eq!(
        (stats.messages_in, stats.bytes_in),
        (301, 300 * (5 + 12) + 5 + 2 + 4)
    );
    assert_eq!(stats.dropped_malformed, 300);
    assert_eq!(stats.dropped(), 300);
    // The reply: routing id, "id", "", "ok".
    assert_eq!((stats.messages_out, stats.bytes_out), (1, 5 + 2 + 2));
    factory.shutdown();
}

/// The same with the test kit, for SUB's decoding: a message with no
/// separator is dropped and counted.
#[test]
fn a_sub_message_with_no_separator_is_counted_as_dropped() {
    let reactor = fake_clock_reactor(0usize);
    let (sub, peer) = ZmqSubConnection::fake(&reactor).unwrap();
    sub.got_message(|cx, _, _| *cx.state += 1);
    peer.deliver(b"tag\0body").unwrap();
    peer.deliver(b"no separator").unwrap();
    peer.deliver(multipart![b"three", b"frames", b"here"])
        .unwrap();
    assert_eq!(reactor.access_state(|n| *n).unwrap(), 1);
    let stats = sub.stats();
    assert_eq!((stats.messages_in, stats.dropped_malformed), (3, 2));
    assert_eq!(stats.bytes_in, 8 + 12 + 5 + 6 + 4);
}

/// Each pause that takes effect counts once; pausing a paused or closed
/// connection does not.
#[test]
fn pause_reading_is_counted_when_it_takes_effect() {
    let reactor = fake_clock_reactor(());
    let (pull, peer) = ZmqPullConnection::fake(&reactor).unwrap();
    pull.on_pull(|_, _| ());
    pull.pause_reading();
    pull.pause_reading();
    assert_eq!((pull.stats().pauses, pull.stats().paused), (1, true));
    peer.deliver(b"waits").unwrap();
    assert_eq!((peer.undelivered(), pull.stats().messages_in), (1, 0));
    pull.resume_reading();
    peer.pump().unwrap();
    assert_eq!((pull.stats().pauses, pull.stats().paused), (1, false));
    assert_eq!(pull.stats().messages_in, 1);
    pull.pause_reading();
    assert_eq!(pull.stats().pauses, 2);
    pull.resume_reading();
    pull.shutdown();
    pull.pause_reading();
    assert_eq!(pull.stats().pauses, 2);
}

/// A full message stream pauses reading: counted as a pause.
#[test]
fn a_full_stream_counts_its_pause() {
    let reactor = fake_clock_reactor(());
    let (pull, peer) = ZmqPullConnection::fake(&reactor).unwrap();
    let mut stream = pull.messages_with_capacity(2).unwrap();
    for body in [b"a", b"b", b"c"] {
        peer.deliver(body).unwrap();
    }
    assert_eq!(stream.len(), 2);
    assert_eq!(peer.undelivered(), 1);
    assert_eq!((pull.stats().pauses, pull.stats().paused), (1, true));
    assert!(stream.try_next().is_some());
    assert!(stream.try_next().is_some());
    peer.pump().unwrap();
    assert_eq!(stream.len(), 1);
    let stats = pull.stats();
    assert_eq!(
        (stats.pauses, stats.paused, stats.messages_in),
        (1, false, 3)
    );
}

/// What PUB drops at the high-water mark and what ROUTER fails are counted
/// apart, neither as queued.
#[test]
fn refused_sends_are_dropped_or_failed_as_the_pattern_says() {
    let reactor = fake_clock_reactor(());
    let (publisher, pub_peer) = ZmqPubConnection::fake(&reactor).unwrap();
    pub_peer.refuse(true);
    publisher.publish(b"lost", b"t").unwrap();
    publisher.publish(b"lost", b"t").unwrap();
    let stats = publisher.stats();
    assert_eq!(
        (stats.dropped_hwm, stats.queued, stats.messages_out),
        (2, 0, 0)
    );
    assert_eq!(stats.dropped(), 2);

    let (router, router_peer) = ZmqRouterConnection::fake(&reactor).unwrap();
    router_peer.refuse(true);
    assert!(router.send_msg(b"peer", b"x").is_err());
    let stats = router.stats();
    assert_eq!(
        (stats.send_errors, stats.queued, stats.dropped()),
        (1, 0, 0)
    );
    router_peer.refuse(false);
    router.send_msg(b"peer", b"x").unwrap();
    assert_eq!(
        (router.stats().messages_out, router.stats().bytes_out),
        (1, 5)
    );
}

/// The messages left in the outbox at shutdown are counted as dropped.
#[test]
fn messages_left_in_the_outbox_at_shutdown_are_counted() {
    let reactor = fake_clock_reactor(());
    let (push, peer) = ZmqPushConnection::fake(&reactor).unwrap();
    peer.refuse(true);
    for _ in 0..4 {
        push.push(b"x").unwrap();
    }
    push.shutdown();
    let stats = push.stats();
    assert_eq!(
        (stats.queued, stats.dropped_at_shutdown, stats.outbox_len),
        (4, 4, 0)
    );
    assert_eq!(stats.outbox_high_mark, 4);
}

/// The counts are current at every moment: a protocol reading its
/// connection's stats in the middle of a batch sees each message counted as
/// it is handed over.
#[test]
fn stats_read_inside_a_batch_are_current() {
    let reactor = fake_clock_reactor(Vec::new());
    let (pull, peer) = ZmqPullConnection::fake(&reactor).unwrap();
    for body in [&b"a"[..], b"bc", b"def"] {
        peer.deliver(body).unwrap(); // waits: no protocol yet
    }
    assert_eq!(peer.undelivered(), 3);
    pull.on_pull(|cx, _| {
        let stats = cx.conn.stats();
        cx.state.push((stats.messages_in, stats.bytes_in));
    });
    peer.pump().unwrap();
    assert_eq!(
        reactor.access_state(|seen| seen.clone()).unwrap(),
        [(1, 1), (2, 3), (3, 6)]
    );
}

/// A protocol's panic loses no count: the message it panicked on was
/// received, and is counted.
#[test]
fn a_panicking_protocol_loses_no_counts() {
    let reactor = fake_clock_reactor(());
    let (pull, peer) = ZmqPullConnection::fake(&reactor).unwrap();
    pull.on_pull(|_, message| assert_ne!(&message[0][..], b"boom"));
    peer.deliver(b"fine").unwrap();
    let outcome = catch_unwind(AssertUnwindSafe(|| peer.deliver(b"boom")));
    assert!(outcome.is_err());
    assert_eq!((pull.stats().messages_in, pull.stats().bytes_in), (2, 8));
}

/// The factory's totals: its open connections plus what closed ones
/// counted before they went; its open connections' outboxes; a closed
/// connection's queued messages as dropped at shutdown.
#[test]
fn factory_totals_keep_what_closed_connections_counted() {
    let address = inproc("stats-factory");
    let reactor = reactor(0usize);
    let factory = ZmqFactory::new(&reactor).unwrap();
    let pull = counting_pull(&factory, &address);
    pull.on_pull(|cx, _| *cx.state += 1);
    let push = ZmqPushConnection::new(&factory, ZmqEndpoint::connect(&address)).unwrap();
    for _ in 0..10 {
        push.push(b"12345").unwrap();
    }
    iterate_until_cond(&reactor, "10 messages", || {
        reactor.access_state(|n| *n).unwrap() == 10
    });
    // A PUSH with no endpoint: libzmq takes nothing, so its sends wait.
    let lonely = ZmqPushConnection::new(&factory, None).unwrap();
    for _ in 0..3 {
        lonely.push(b"abc").unwrap();
    }
    pull.pause_reading();
    let open = factory.stats();
    assert_eq!(
        open,
        FactoryStats {
            open: 3,
            messages_in: 10,
            bytes_in: 50,
            messages_out: 10,
            bytes_out: 50,
            outbox_len: 3,
            outbox_bytes: 9,
            outbox_high_mark: 3,
            queued: 3,
            pauses: 1,
            paused: 1,
            ..FactoryStats::default()
        }
    );

    push.shutdown();
    lonely.shutdown();
    let after = factory.stats();
    assert_eq!(
        after,
        FactoryStats {
            open: 1,
            closed: 2,
            outbox_len: 0,
            outbox_bytes: 0,
            dropped_at_shutdown: 3,
            ..open
        }
    );
    assert_eq!(after.dropped(), 3);

    factory.shutdown();
    assert_eq!(
        factory.stats(),
        FactoryStats {
            open: 0,
            closed: 3,
            paused: 0,
            ..after
        }
    );
}
