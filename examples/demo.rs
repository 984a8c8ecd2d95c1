//! The README's demo. It has no single Python original: it puts txZMQ's
//! three demos (`examples/pub_sub.py`, `push_pull.py` and `req_rep.py`,
//! ported one by one as `pub_sub`, `push_pull` and `req_rep`) in one
//! process, one reactor, each pair talking to itself: PUB/SUB with txZMQ's
//! tag framing over tcp, PUSH/PULL over inproc, and REQ/REP with Deferreds
//! over tcp.
//!
//! It publishes until three tagged messages got through (ZeroMQ's slow
//! joiner), pushes three tasks, sends three requests, prints each message
//! as it arrives, and stops once everything arrived (exit 0), or after 5 s
//! (exit 1).
//!
//! ```text
//! cargo run --release --example demo
//! ```

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tx0mq::connections::{
    bytes_repr, ZmqEndpoint, ZmqFactory, ZmqPubConnection, ZmqPullConnection, ZmqPushConnection,
    ZmqRepConnection, ZmqReqConnection, ZmqSubConnection,
};
use tx0mq::{gather_results, LoopingCall, Reactor};

mod pyport;

/// What the demo has seen so far; every callback shares it through `cx.state`.
#[derive(Default)]
struct Seen {
    published: u32,
    pulled: u32,
    replies: u32,
}

impl Seen {
    fn done(&self) -> bool {
        self.published >= 3 && self.pulled == 3 && self.replies == 3
    }
}

fn run(_: Args) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::with_state(Seen::default())?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();

    // PUB/SUB over tcp loopback, txZMQ's tag framing.
    let publisher = ZmqPubConnection::new(&factory, ZmqEndpoint::bind("tcp://127.0.0.1:*"))?;
    let sub = ZmqSubConnection::new(&factory, ZmqEndpoint::connect(publisher.last_endpoint()?))?;
    sub.subscribe(b"weather")?;
    sub.got_message(|cx, message, tag| {
        println!(
            "sub: got {} tagged {}",
            bytes_repr(&message),
            bytes_repr(&tag)
        );
        cx.state.published += 1;
    });
    // Subscriptions take a moment to reach the publisher (ZeroMQ's slow
    // joiner), so publish every 50 ms until three messages got through.
    let mut n = 0;
    let ticker = LoopingCall::new(&reactor, move |cx| {
        n += 1;
        if cx.state.published < 3 {
            publisher.publish(format!("sunny #{n}"), b"weather")?;
            publisher.publish(b"not for us", b"sports")?;
        }
        Ok::<(), tx0mq::connections::Error>(())
    });
    ticker.start(Duration::from_millis(50), true)?;

    // PUSH/PULL over inproc.
    let pull = ZmqPullConnection::new(&factory, ZmqEndpoint::bind("inproc://demo-pipeline"))?;
    pull.on_pull(|cx, message| {
        println!("pull: {}", bytes_repr(&message[0]));
        cx.state.pulled += 1;
    });
    let push = ZmqPushConnection::new(&factory, ZmqEndpoint::connect("inproc://demo-pipeline"))?;
    for task in ["task 1", "task 2", "task 3"] {
        push.push(task)?;
    }

    // REQ/REP over tcp: each request's reply arrives through a Deferred.
    let rep = ZmqRepConnection::new(&factory, ZmqEndpoint::bind("tcp://127.0.0.1:*"))?;
    rep.got_message(|cx, message_id, request| {
        let n = parse(&request[0]);
        let answer = format!("{n} squared is {}", n * n);
        cx.conn.reply(&message_id, answer)
    });
    let req = ZmqReqConnection::new(&factory, ZmqEndpoint::connect(rep.last_endpoint()?))?;
    req.set_default_timeout(Some(Duration::from_secs(3)));
    let requests = (1..=3u64)
        .map(|i| {
            req.send_msg(i.to_string()).map(|reply| {
                println!("req: {}", bytes_repr(&reply[0]));
                reply
            })
        })
        .collect();
    // Deferred callbacks get no reactor context; hop back into the reactor
    // with call_later to reach the shared state.
    let reactor_for_replies = reactor.clone();
    gather_results(requests).add_callback(move |replies| {
        let count = replies.len() as u32;
        reactor_for_replies.call_later(Duration::ZERO, move |cx| cx.state.replies = count);
        Ok(replies)
    });

    // Stop when everything arrived; give up after 5 s.
    let watch = LoopingCall::new(&reactor, |cx| {
        if cx.state.done() {
            println!("demo: all messages arrived, stopping");
            cx.reactor.stop()?;
        }
        Ok::<(), tx0mq::reactor::Error>(())
    });
    watch.start(Duration::from_millis(10), false)?;
    reactor.call_later(Duration::from_secs(5), |cx| {
        eprintln!("demo: timed out");
        cx.reactor.stop()
    });

    reactor.run()?;
    let ok = reactor.access_state(|seen| seen.done())?;
    if !ok {
        return Err("the demo did not see every message".into());
    }
    Ok(())
}

fn parse(bytes: &[u8]) -> u64 {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// PUB/SUB, PUSH/PULL and REQ/REP in one reactor; exits by itself.
#[derive(Parser)]
struct Args {}

fn main() -> ExitCode {
    pyport::main(run)
}
