//! Connections from async code: awaiting `ZmqReqConnection::send_msg`, and
//! pulling messages with `ZmqConnection::messages` (order, backpressure,
//! the end of the stream). One behaviour per test, named for it.
//!
//! Every wait has a deadline: `run_until` fails the test after 10 s.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use tx0mq_connections::{
    LostReason, Multipart, ZmqEndpoint, ZmqFactory, ZmqPullConnection, ZmqPushConnection,
    ZmqRepConnection, ZmqReqConnection, ZmqRequestTimeoutError, ZmqRouterConnection,
};
use tx0mq_reactor::{Deferred, Failure, Reactor};
use tx0mq_test_support::deferred::outcome;
use tx0mq_test_support::reactor::{iterate_until_cond as run_until, wait_for};

/// A test reactor (a failed assertion in a callback fails the test at once).
fn reactor() -> Reactor {
    tx0mq_test_support::reactor::reactor(())
}

/// A unique inproc endpoint name for this test.
fn inproc(name: &str) -> String {
    format!("inproc://async-stream-{name}-{}", std::process::id())
}

fn text(frame: &[u8]) -> String {
    String::from_utf8_lossy(frame).into_owned()
}

// ------------------------------------------------------------- send_msg

/// `send_msg(...).await` yields the reply's frames; a hundred requests in a
/// row from one task, against a REP connection that answers in a callback.
#[test]
fn send_msg_can_be_awaited() {
    let r = reactor();
    let factory = ZmqFactory::new(&r).unwrap();
    let rep = ZmqRepConnection::new(&factory, ZmqEndpoint::bind(inproc("reqrep"))).unwrap();
    rep.got_message(|cx, id, request| {
        let mut answer = request[0].to_vec();
        answer.reverse();
        cx.conn.reply(&id, answer)
    });
    let req = ZmqReqConnection::new(&factory, ZmqEndpoint::connect(inproc("reqrep"))).unwrap();
    let d = r.spawn(async move {
        let mut replies = Vec::new();
        for i in 0..100 {
            let reply = req.send_msg(format!("olleh {i}")).await?;
            replies.push(text(&reply[0]));
        }
        Ok::<_, Failure>(replies)
    });
    let replies = wait_for(&r, &d, "100 replies");
    assert_eq!(replies.len(), 100);
    assert_eq!(replies[0], "0 hello");
    assert_eq!(replies[99], "99 hello");
    factory.shutdown();
}

/// A request that times out comes out of `.await` as a failure holding a
/// `ZmqRequestTimeoutError`.
#[test]
fn a_request_timeout_comes_out_of_await() {
    let r = reactor();
    let factory = ZmqFactory::new(&r).unwrap();
    let rep = ZmqRepConnection::new(&factory, ZmqEndpoint::bind(inproc("silent"))).unwrap();
    rep.got_message(|_, _, _| {}); // never answers
    let req = ZmqReqConnection::new(&factory, ZmqEndpoint::connect(inproc("silent"))).unwrap();
    let d = r.spawn(async move {
        match req
            .send_msg_with_timeout(b"anyone?", Duration::from_millis(50))
            .await
        {
            Ok(_) => Err(Failure::msg("got a reply from a silent peer")),
            Err(f) => Ok(f
                .downcast_ref::<ZmqRequestTimeoutError>()
                .map(|e| e.timeout)),
        }
    });
    let timeout = wait_for(&r, &d, "the timeout");
    assert_eq!(timeout, Some(Duration::from_millis(50)));
    factory.shutdown();
}

/// Cancelling a task that awaits a request drops the await, which cancels
/// the request's Deferred: the connection forgets the request.
#[test]
fn cancelling_a_task_awaiting_send_msg_forgets_the_request() {
    let r = reactor();
    let factory = ZmqFactory::new(&r).unwrap();
    let rep = ZmqRepConnection::new(&factory, ZmqEndpoint::bind(inproc("forget"))).unwrap();
    let asked = Rc::new(Cell::new(0));
    let count = Rc::clone(&asked);
    rep.got_message(move |_, _, _| count.set(count.get() + 1));
    let req = ZmqReqConnection::new(&factory, ZmqEndpoint::connect(inproc("forget"))).unwrap();
    let client = req.clone();
    let task = r.spawn(async move { client.send_msg(b"hello?").await });
    run_until(&r, "the request to arrive", || asked.get() == 1);
    assert_eq!(req.pending_requests(), 1);
    task.cancel();
    assert_eq!(req.pending_requests(), 0);
    assert!(outcome(&task)
        .borrow()
        .as_ref()
        .is_some_and(|o| o.as_ref().is_err_and(Failure::is_cancelled)));
    factory.shutdown();
}

// ------------------------------------------------------------- the stream

/// The stream yields every message, whole and in order, including those
/// that arrived before the stream was created.
#[test]
fn a_stream_yields_messages_in_order() {
    const COUNT: usize = 1000;
    let r = reactor();
    let factory = ZmqFactory::new(&r).unwrap();
    let pull = ZmqPullConnection::new(&factory, ZmqEndpoint::bind(inproc("order"))).unwrap();
    let push = ZmqPushConnection::new(&factory, ZmqEndpoint::connect(inproc("order"))).unwrap();
    for i in 0..COUNT / 2 {
        push.push([i.to_string(), "second frame".to_string()])
            .unwrap();
    }
    r.iterate(Duration::from_millis(10)).unwrap(); // nothing read: no protocol yet
    let mut messages = pull.messages().unwrap();
    let d = r.spawn(async move {
        let mut seen: Vec<Multipart> = Vec::new();
        while seen.len() < COUNT {
            match messages.next().await {
                Some(message) => seen.push(message),
                None => return Err(Failure::msg("the stream ended early")),
            }
        }
        Ok::<_, Failure>(seen)
    });
    for i in COUNT / 2..COUNT {
        push.push([i.to_string(), "second frame".to_string()])
            .unwrap();
    }
    let seen = wait_for(&r, &d, "all messages");
    for (i, message) in seen.iter().enumerate() {
        assert_eq!(message.len(), 2, "message {i} is whole");
        assert_eq!(text(&message[0]), i.to_string(), "message {i} in order");
        assert_eq!(&message[1][..], b"second frame");
    }
    factory.shutdown();
}

/// A full stream pauses reading: the rest wait in libzmq, the buffer stays
/// at its capacity; taking messages resumes reading once the buffer is down
/// to half, and every message arrives, in order.
#[test]
fn a_full_stream_pauses_reading_and_resumes_when_drained() {
    const COUNT: usize = 100;
    let r = reactor();
    let factory = ZmqFactory::new(&r).unwrap();
    let pull = ZmqPullConnection::new(&factory, ZmqEndpoint::bind(inproc("pressure"))).unwrap();
    let push = ZmqPushConnection::new(&factory, ZmqEndpoint::connect(inproc("pressure"))).unwrap();
    let mut messages = pull.messages_with_capacity(4).unwrap();
    assert_eq!(messages.capacity(), 4);
    for i in 0..COUNT {
        push.push(i.to_string()).unwrap();
    }
    run_until(&r, "the buffer to fill", || messages.len() == 4);
    assert!(pull.is_paused(), "reading paused when the buffer filled");
    for _ in 0..20 {
        r.iterate(Duration::from_millis(2)).unwrap();
    }
    assert_eq!(messages.len(), 4, "nothing read while paused");

    // Taking one leaves 3 > 4/2: still paused. Taking a second resumes.
    assert_eq!(messages.try_next().map(|m| text(&m[0])), Some("0".into()));
    assert!(pull.is_paused());
    assert_eq!(messages.try_next().map(|m| text(&m[0])), Some("1".into()));
    assert!(!pull.is_paused(), "resumed at half the capacity");

    let d = r.spawn(async move {
        let mut seen = vec!["0".to_string(), "1".to_string()];
        let mut most_buffered = 0;
        while seen.len() < COUNT {
            most_buffered = most_buffered.max(messages.len());
            match messages.next().await {
                Some(message) => seen.push(text(&message[0])),
                None => return Err(Failure::msg("the stream ended early")),
            }
        }
        Ok::<_, Failure>((seen, most_buffered))
    });
    let (seen, most_buffered) = wait_for(&r, &d, "all messages");
    assert!(seen.iter().cloned().eq((0..COUNT).map(|i| i.to_string())));
    assert!(most_buffered <= 4, "the buffer never exceeds its capacity");
    assert!(!pull.is_paused());
    factory.shutdown();
}

/// Shutting the connection down ends the stream once the buffered messages
/// have been taken; `lost()` says why.
#[test]
fn shutdown_ends_the_stream_after_the_buffered_messages() {
    let r = reactor();
    let factory = ZmqFactory::new(&r).unwrap();
    let pull = ZmqPullConnection::new(&factory, ZmqEndpoint::bind(inproc("end"))).unwrap();
    let push = ZmqPushConnection::new(&factory, ZmqEndpoint::connect(inproc("end"))).unwrap();
    let mut messages = pull.messages().unwrap();
    for word in ["a", "b", "c"] {
        push.push(word).unwrap();
    }
    run_until(&r, "three messages", || messages.len() == 3);
    pull.shutdown();
    assert!(messages.is_ended());
    let d = r.spawn(async move {
        let mut seen = Vec::new();
        while let Some(message) = messages.next().await {
            seen.push(text(&message[0]));
        }
        Ok::<_, Failure>((seen, messages.lost().map(|l| l.reason)))
    });
    let (seen, reason) = wait_for(&r, &d, "the end of the stream");
    assert_eq!(seen, ["a", "b", "c"]);
    assert_eq!(reason, Some(LostReason::Shutdown));
    factory.shutdown();
}

/// A task waiting on an empty stream is woken when the reactor shuts the
/// factory down, and sees the end of the stream.
#[test]
fn reactor_shutdown_wakes_a_waiting_stream_with_its_end() {
    let r = reactor();
    let factory = ZmqFactory::new(&r).unwrap();
    factory.register_for_shutdown();
    let pull = ZmqPullConnection::new(&factory, ZmqEndpoint::bind(inproc("down"))).unwrap();
    let mut messages = pull.messages().unwrap();
    let d = r.spawn(async move {
        let next = messages.next().await;
        Ok::<_, Failure>((next.is_none(), messages.lost().map(|l| l.reason)))
    });
    r.call_later(Duration::from_millis(20), |cx| cx.reactor.stop());
    r.run().unwrap();
    // The shutdown triggers woke the task; it runs on the next pass.
    let (ended, reason) = wait_for(&r, &d, "the task to see the end");
    assert!(ended);
    assert_eq!(reason, Some(LostReason::ReactorShutdown));
}

/// Setting another protocol ends the stream (its buffer is still yielded)
/// and the new protocol gets the rest, with reading resumed.
#[test]
fn another_protocol_ends_the_stream_and_gets_the_rest() {
    const COUNT: usize = 10;
    let r = reactor();
    let factory = ZmqFactory::new(&r).unwrap();
    let pull = ZmqPullConnection::new(&factory, ZmqEndpoint::bind(inproc("swap"))).unwrap();
    let push = ZmqPushConnection::new(&factory, ZmqEndpoint::connect(inproc("swap"))).unwrap();
    let mut messages = pull.messages_with_capacity(2).unwrap();
    for i in 0..COUNT {
        push.push(i.to_string()).unwrap();
    }
    run_until(&r, "the buffer to fill", || messages.len() == 2);
    assert!(pull.is_paused());
    let rest = Rc::new(RefCell::new(Vec::new()));
    let sink = Rc::clone(&rest);
    pull.on_pull(move |_, message| sink.borrow_mut().push(text(&message[0])));
    assert!(messages.is_ended());
    assert!(
        !pull.is_paused(),
        "the new protocol does not inherit the pause"
    );
    run_until(&r, "the rest", || rest.borrow().len() == COUNT - 2);
    let mut buffered = Vec::new();
    while let Some(message) = messages.try_next() {
        buffered.push(text(&message[0]));
    }
    assert_eq!(buffered, ["0", "1"]);
    assert!(rest
        .borrow()
        .iter()
        .cloned()
        .eq((2..COUNT).map(|i| i.to_string())));
    factory.shutdown();
}

/// A ROUTER echo server written as a task over a stream, replying with
/// sends from the task, serves two clients that await their requests; all
/// in one reactor, with no lost wake-ups.
#[test]
fn a_router_echo_task_serves_clients_that_await() {
    const ROUNDS: usize = 300;
    let r = reactor();
    let factory = ZmqFactory::new(&r).unwrap();
    let router = ZmqRouterConnection::new(&factory, ZmqEndpoint::bind(inproc("echo"))).unwrap();
    let mut requests = router.messages().unwrap();
    let _server = r.spawn(async move {
        while let Some((client, request)) = requests.next().await {
            // [request id, "", payload] from `client`: echo it whole.
            requests.connection().send_msg(&client, request)?;
        }
        Ok::<_, Failure>(())
    });
    let clients: Vec<Deferred<usize>> = (0..2)
        .map(|c| {
            let req =
                ZmqReqConnection::new(&factory, ZmqEndpoint::connect(inproc("echo"))).unwrap();
            r.spawn(async move {
                for i in 0..ROUNDS {
                    let body = format!("client {c} round {i}");
                    let reply = req.send_msg(body.as_str()).await?;
                    if text(&reply[0]) != body {
                        return Err(Failure::msg(format!("wrong echo {:?}", text(&reply[0]))));
                    }
                }
                Ok::<_, Failure>(ROUNDS)
            })
        })
        .collect();
    for (c, client) in clients.iter().enumerate() {
        assert_eq!(wait_for(&r, client, &format!("client {c}")), ROUNDS);
    }
    factory.shutdown();
}

// ---------------------------------------------- the futures ecosystem

/// `futures`' `StreamExt` drives a `MessageStream` inside a reactor task:
/// `take(n).collect()` gets the first messages in order, and the rest stay
/// in the stream for the next consumer.
#[test]
fn stream_ext_take_and_collect_drive_a_message_stream() {
    use futures_util::StreamExt;
    let r = reactor();
    let factory = ZmqFactory::new(&r).unwrap();
    let pull = ZmqPullConnection::new(&factory, ZmqEndpoint::bind(inproc("ext"))).unwrap();
    let push = ZmqPushConnection::new(&factory, ZmqEndpoint::connect(inproc("ext"))).unwrap();
    let mut messages = pull.messages().unwrap();
    let d = r.spawn(async move {
        let first: Vec<String> = (&mut messages).take(5).map(|m| text(&m[0])).collect().await;
        let sixth = StreamExt::next(&mut messages).await.map(|m| text(&m[0]));
        Ok::<_, Failure>((first, sixth))
    });
    for i in 0..10 {
        push.push(i.to_string()).unwrap();
    }
    let (first, sixth) = wait_for(&r, &d, "six messages");
    assert_eq!(first, ["0", "1", "2", "3", "4"]);
    assert_eq!(sixth.as_deref(), Some("5"));
    factory.shutdown();
}

/// A consumer written for any `futures_core::Stream` counts every message
/// and sees the end of the stream when the connection shuts down; the
/// stream then reports itself terminated.
#[test]
fn a_generic_stream_consumer_sees_every_message_and_the_end() {
    use futures_core::stream::{FusedStream, Stream};
    use futures_util::StreamExt;

    async fn count<St: futures_core::Stream + Unpin>(mut stream: St) -> (usize, St) {
        let mut n = 0;
        while stream.next().await.is_some() {
            n += 1;
        }
        (n, stream)
    }

    let r = reactor();
    let factory = ZmqFactory::new(&r).unwrap();
    let pull = ZmqPullConnection::new(&factory, ZmqEndpoint::bind(inproc("generic"))).unwrap();
    let push = ZmqPushConnection::new(&factory, ZmqEndpoint::connect(inproc("generic"))).unwrap();
    let messages = pull.messages().unwrap();
    let d = r.spawn(async move {
        let (n, stream) = count(messages).await;
        Ok::<_, Failure>((n, stream.is_terminated(), Stream::size_hint(&stream)))
    });
    for i in 0..25 {
        push.push(i.to_string()).unwrap();
    }
    run_until(&r, "25 messages in", || pull.stats().messages_in == 25);
    pull.shutdown();
    let (n, terminated, hint) = wait_for(&r, &d, "the end of the stream");
    assert_eq!(n, 25);
    assert!(terminated, "a stream that yielded None is terminated");
    assert_eq!(hint, (0, Some(0)));
    factory.shutdown();
}

/// The zguide's poll over two sockets, the `futures` way: two streams
/// merged with `futures`' `stream::select` are taken from in turn, so a
/// flooded socket does not starve the other.
#[test]
fn two_streams_merged_with_futures_select_take_turns() {
    use futures_util::future::Either;
    use futures_util::StreamExt;
    let r = reactor();
    let factory = ZmqFactory::new(&r).unwrap();
    let pull_a = ZmqPullConnection::new(&factory, ZmqEndpoint::bind(inproc("poll-a"))).unwrap();
    let pull_b = ZmqPullConnection::new(&factory, ZmqEndpoint::bind(inproc("poll-b"))).unwrap();
    let push_a = ZmqPushConnection::new(&factory, ZmqEndpoint::connect(inproc("poll-a"))).unwrap();
    let push_b = ZmqPushConnection::new(&factory, ZmqEndpoint::connect(inproc("poll-b"))).unwrap();
    let a = pull_a.messages().unwrap();
    let b = pull_b.messages().unwrap();
    for i in 0..100 {
        push_a.push(format!("a{i}")).unwrap();
        push_b.push(format!("b{i}")).unwrap();
    }
    run_until(&r, "both buffers full", || a.len() == 100 && b.len() == 100);
    let d = r.spawn(async move {
        let merged = futures_util::stream::select(a.map(Either::Left), b.map(Either::Right));
        let first: Vec<String> = merged
            .take(20)
            .map(|either| match either {
                Either::Left(m) | Either::Right(m) => text(&m[0]),
            })
            .collect()
            .await;
        Ok::<_, Failure>(first)
    });
    let first = wait_for(&r, &d, "twenty messages");
    let from_a: Vec<&String> = first.iter().filter(|m| m.starts_with('a')).collect();
    let from_b: Vec<&String> = first.iter().filter(|m| m.starts_with('b')).collect();
    assert_eq!((from_a.len(), from_b.len()), (10, 10), "{first:?}");
    assert_eq!(from_a.first().map(|s| s.as_str()), Some("a0"));
    assert_eq!(from_b.last().map(|s| s.as_str()), Some("b9"));
    factory.shutdown();
}

// ------------------------------------------------------ next_timeout

/// A fake-clock reactor: timeouts fire only when the test advances it.
fn fake_clock() -> Reactor {
    tx0mq_test_support::reactor::fake_clock_reactor(())
}

/// `next_timeout` returns a message that comes before the time is up, and
/// cancels its timer: advancing past the deadline fires nothing.
#[test]
fn next_timeout_returns_a_message_that_comes_in_time_and_cancels_its_timer() {
    let r = fake_clock();
    let (pull, peer) = ZmqPullConnection::fake(&r).unwrap();
    let mut messages = pull.messages().unwrap();
    let d = r.spawn(async move {
        let got = messages.next_timeout(Duration::from_secs(5)).await;
        Ok::<_, Failure>(got.map(|m| m.map(|m| text(&m[0]))))
    });
    r.advance(Duration::from_secs(4)).unwrap();
    assert!(!d.called(), "still waiting after 4 s of 5");
    peer.deliver(b"in time").unwrap();
    let got = wait_for(&r, &d, "the message");
    assert_eq!(got, Ok(Some("in time".to_string())));
    let fired = r.stats().timers_fired;
    r.advance(Duration::from_secs(10)).unwrap();
    assert_eq!(r.stats().timers_fired, fired, "the timer was cancelled");
}

/// With nothing coming, `next_timeout` gives `Elapsed` exactly when the
/// time is up (not before), and the stream goes on: a message that comes
/// later is the next one taken.
#[test]
fn next_timeout_elapses_when_nothing_comes_and_the_stream_goes_on() {
    let r = fake_clock();
    let (pull, peer) = ZmqPullConnection::fake(&r).unwrap();
    let mut messages = pull.messages().unwrap();
    let waited = Rc::new(Cell::new(None));
    let seen = Rc::clone(&waited);
    let d = r.spawn(async move {
        let first = messages.next_timeout(Duration::from_secs(3)).await;
        seen.set(Some(first.as_ref().map(|m| m.is_some()).map_err(|e| *e)));
        let second = messages.next_timeout(Duration::from_secs(3)).await;
        Ok::<_, Failure>((first.map(|_| ()), second.map(|m| m.map(|m| text(&m[0])))))
    });
    r.advance(Duration::from_millis(2999)).unwrap();
    assert_eq!(waited.get(), None, "not timed out before 3 s");
    r.advance(Duration::from_millis(1)).unwrap();
    tx0mq_test_support::reactor::settle(&r);
    assert_eq!(
        waited.get(),
        Some(Err(tx0mq_connections::Elapsed {
            timeout: Duration::from_secs(3)
        }))
    );
    peer.deliver(b"late").unwrap();
    let (first, second) = wait_for(&r, &d, "the late message");
    assert_eq!(
        first.map_err(|e| e.to_string()),
        Err("no message within 3s".to_string())
    );
    assert_eq!(second, Ok(Some("late".to_string())));
}

/// `next_timeout` returns buffered messages at once, then `Ok(None)` once
/// the connection is shut down: the end is not a timeout.
#[test]
fn next_timeout_returns_none_at_the_end_of_the_stream() {
    let r = fake_clock();
    let (pull, peer) = ZmqPullConnection::fake(&r).unwrap();
    let mut messages = pull.messages().unwrap();
    peer.deliver(b"last").unwrap();
    let d = r.spawn(async move {
        let last = messages.next_timeout(Duration::from_secs(1)).await;
        let end = messages.next_timeout(Duration::from_secs(60)).await;
        Ok::<_, Failure>((
            last.map(|m| m.map(|m| text(&m[0]))),
            end.map(|m| m.is_none()),
        ))
    });
    pull.shutdown();
    let (last, end) = wait_for(&r, &d, "the end");
    assert_eq!(last, Ok(Some("last".to_string())));
    assert_eq!(end, Ok(true));
}

/// A zguide-style poll loop over a real socket: `next_timeout` in a loop
/// gets every message a sender sends in bursts with pauses longer than the
/// timeout between them, and counts the timeouts in the pauses.
#[test]
fn a_poll_loop_with_next_timeout_gets_every_burst() {
    let r = reactor();
    let factory = ZmqFactory::new(&r).unwrap();
    let pull = ZmqPullConnection::new(&factory, ZmqEndpoint::bind(inproc("poll"))).unwrap();
    let push = ZmqPushConnection::new(&factory, ZmqEndpoint::connect(inproc("poll"))).unwrap();
    let mut messages = pull.messages().unwrap();
    let sender = r.clone();
    let _bursts = r.spawn(async move {
        for burst in 0..3 {
            for i in 0..10 {
                push.push(format!("{burst}-{i}"))?;
            }
            tx0mq_reactor::sleep(&sender, Duration::from_millis(60)).await?;
        }
        Ok::<_, Failure>(())
    });
    let d = r.spawn(async move {
        let (mut got, mut timeouts) = (Vec::new(), 0);
        while got.len() < 30 {
            match messages.next_timeout(Duration::from_millis(20)).await {
                Ok(Some(message)) => got.push(text(&message[0])),
                Ok(None) => return Err(Failure::msg("the stream ended early")),
                Err(_) => timeouts += 1,
            }
        }
        Ok::<_, Failure>((got, timeouts))
    });
    let (got, timeouts) = wait_for(&r, &d, "three bursts");
    let want: Vec<String> = (0..3)
        .flat_map(|b| (0..10).map(move |i| format!("{b}-{i}")))
        .collect();
    assert_eq!(got, want);
    assert!(
        timeouts >= 2,
        "the pauses between bursts timed out ({timeouts})"
    );
    factory.shutdown();
}

// -------------------------------------------------------- send_ready

/// A PUSH whose outbox holds 16 messages and whose libzmq pipes hold about
/// 20, feeding a PULL whose consumer takes a pause every 100 messages.
struct SlowPair {
    r: Reactor,
    factory: ZmqFactory,
    push: ZmqPushConnection,
    consumer: Deferred<Vec<usize>>,
}

const OUTBOX: usize = 16;

fn slow_pair(name: &str, total: usize) -> SlowPair {
    use tx0mq_connections::ZmqOptions;
    let r = reactor();
    let factory = ZmqFactory::new(&r).unwrap();
    let pull = ZmqPullConnection::with_options(
        &factory,
        ZmqEndpoint::bind(inproc(name)),
        &ZmqOptions::default().rcvhwm(10),
    )
    .unwrap();
    let push = ZmqPushConnection::with_options(
        &factory,
        ZmqEndpoint::connect(inproc(name)),
        &ZmqOptions::default().sndhwm(10).outbox_limit(OUTBOX),
    )
    .unwrap();
    let mut messages = pull.messages_with_capacity(8).unwrap();
    let clock = r.clone();
    let consumer = r.spawn(async move {
        let mut seen = Vec::with_capacity(total);
        while seen.len() < total {
            match messages.next().await {
                Some(m) => seen.push(text(&m[0]).parse::<usize>().map_err(Failure::from)?),
                None => return Err(Failure::msg("the stream ended early")),
            }
            if seen.len() % 100 == 0 {
                tx0mq_reactor::sleep(&clock, Duration::from_millis(2)).await?;
            }
        }
        Ok::<_, Failure>(seen)
    });
    SlowPair {
        r,
        factory,
        push,
        consumer,
    }
}

/// A producer task that awaits `send_ready` before each send pushes 5,000
/// messages (hundreds of times the outbox limit) to a slow consumer: it
/// never meets `OutboxFull`, nothing is lost or reordered, and at most one
/// message ever waits in the outbox.
#[test]
fn send_ready_lets_a_producer_outrun_the_outbox_limit_without_loss() {
    const TOTAL: usize = 5_000;
    let pair = slow_pair("ready", TOTAL);
    let push = pair.push.clone();
    let producer = pair.r.spawn(async move {
        for i in 0..TOTAL {
            push.send_ready().await?;
            push.push(i.to_string())?; // OutboxFull here fails the task
        }
        Ok::<_, Failure>(())
    });
    let seen = wait_for(&pair.r, &pair.consumer, "every message");
    wait_for(&pair.r, &producer, "the producer");
    assert!(seen.iter().copied().eq(0..TOTAL), "all, in order");
    let stats = pair.push.stats();
    assert_eq!(stats.dropped_outbox_full, 0);
    assert!(
        stats.queued > 0,
        "the peer did push back (the test is real)"
    );
    assert!(
        stats.outbox_high_mark <= 1,
        "high mark {}",
        stats.outbox_high_mark
    );
    pair.factory.shutdown();
}

/// The control for the test above: the same producer without `send_ready`
/// fills the outbox and meets `OutboxFull`.
#[test]
fn without_send_ready_the_same_producer_meets_outbox_full() {
    const TOTAL: usize = 5_000;
    let pair = slow_pair("unready", TOTAL);
    let push = pair.push.clone();
    let producer = pair.r.spawn(async move {
        for i in 0..TOTAL {
            push.push(i.to_string())?;
        }
        Ok::<_, Failure>(())
    });
    let failure = tx0mq_test_support::deferred::failure(&producer);
    assert!(
        matches!(
            failure.downcast_ref::<tx0mq_connections::Error>(),
            Some(tx0mq_connections::Error::OutboxFull { limit: OUTBOX, .. })
        ),
        "{failure:#}"
    );
    pair.consumer.cancel();
    pair.factory.shutdown();
}

/// `send_ready` waits while a message sits in the outbox and is woken by
/// the flush that empties it; with nothing queued it is ready at once.
#[test]
fn send_ready_waits_for_the_outbox_to_drain() {
    let r = fake_clock();
    let (push, peer) = ZmqPushConnection::fake(&r).unwrap();
    let at_once = r.spawn(push.send_ready());
    assert!(at_once.called(), "ready at once with an empty outbox");
    peer.refuse(true);
    push.push(b"queued").unwrap();
    assert_eq!(push.outbox_len(), 1);
    let waiter = r.spawn(push.send_ready());
    tx0mq_test_support::reactor::settle(&r);
    assert!(!waiter.called(), "waits while the outbox holds a message");
    peer.refuse(false);
    peer.pump().unwrap();
    assert_eq!(push.outbox_len(), 0);
    wait_for(&r, &waiter, "the drained outbox");
    assert_eq!(peer.take_sent().len(), 1);
}

/// Shutting the connection down wakes a task waiting in `send_ready` with
/// `Error::Closed`, and a later `send_ready` fails the same way.
#[test]
fn send_ready_fails_with_closed_when_the_connection_shuts_down() {
    let r = fake_clock();
    let (push, peer) = ZmqPushConnection::fake(&r).unwrap();
    peer.refuse(true);
    push.push(b"stuck").unwrap();
    let waiter = r.spawn(push.send_ready());
    tx0mq_test_support::reactor::settle(&r);
    assert!(!waiter.called());
    push.shutdown();
    let failure = {
        tx0mq_test_support::reactor::settle(&r);
        tx0mq_test_support::deferred::failure(&waiter)
    };
    assert!(
        matches!(
            failure.downcast_ref::<tx0mq_connections::Error>(),
            Some(tx0mq_connections::Error::Closed { .. })
        ),
        "{failure:#}"
    );
    let later = r.spawn(push.send_ready());
    assert!(tx0mq_test_support::deferred::failure(&later)
        .downcast_ref::<tx0mq_connections::Error>()
        .is_some_and(|e| matches!(e, tx0mq_connections::Error::Closed { .. })));
}

/// A task whose sends never wait yields for one reactor pass after
/// `BATCH` ready answers in a row, so the reactor's other work runs.
#[test]
fn send_ready_yields_to_the_reactor_after_a_batch_of_ready_answers() {
    use tx0mq_connections::BATCH;
    let r = fake_clock();
    let (push, peer) = ZmqPushConnection::fake(&r).unwrap();
    let sent = Rc::new(Cell::new(0usize));
    let count = Rc::clone(&sent);
    let task = r.spawn(async move {
        for _ in 0..3 * BATCH {
            push.send_ready().await?;
            push.push(b"x")?;
            count.set(count.get() + 1);
        }
        Ok::<_, Failure>(())
    });
    assert_eq!(sent.get(), BATCH, "the first poll stops after a batch");
    r.iterate(Duration::ZERO).unwrap();
    assert_eq!(sent.get(), 2 * BATCH, "one more batch per pass");
    wait_for(&r, &task, "the rest");
    assert_eq!(sent.get(), 3 * BATCH);
    assert_eq!(peer.take_sent().len(), 3 * BATCH);
}
