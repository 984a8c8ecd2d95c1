//! `gevent/poll.py`, pyzmq's example of polling with green sockets: two
//! PULL sockets bind `inproc://polltest1` and `inproc://polltest2`; a
//! greenlet connects a PUSH socket to both and sends `test 0` ... `test 9`,
//! one a second (PUSH deals them out in turn); the main greenlet polls the
//! two PULL sockets and prints which one each message came from, until ten
//! have come.
//!
//! The port: green threads become callbacks. A greenlet that loops with
//! `gevent.sleep(1)` is a `LoopingCall` on the reactor; the poll loop is
//! what each connection's protocol does anyway, so each PULL connection gets
//! an `on_pull` callback that prints and counts, and the tenth stops the
//! reactor. (Callbacks and not tasks: nothing here waits for one particular
//! answer, and a poller over two sockets is two callbacks.)
//!
//! ```text
//! cargo run --example gevent_poll -- [--interval-ms 1000] [--messages 10]
//! ```
//!
//! It prints `Message from receiver1: b'test 0'`, `Message from
//! receiver2: b'test 1'`, ... (turn by turn), then `10 messages received`,
//! and exits.

use std::cell::Cell;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::Duration;

use clap::Parser;
use tx0mq::connections::{
    bytes_repr, ZmqEndpoint, ZmqFactory, ZmqPullConnection, ZmqPushConnection,
};
use tx0mq::{LoopingCall, Reactor};

mod pyport;

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::new()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();
    let messages = args.messages;

    // Bind both PULL sockets; each counts what it receives.
    let msgcnt = Rc::new(Cell::new(0u64));
    let mut receivers = Vec::new();
    for (name, endpoint) in [("receiver1", &args.first), ("receiver2", &args.second)] {
        let receiver = ZmqPullConnection::new(&factory, ZmqEndpoint::bind(endpoint))?;
        let msgcnt = Rc::clone(&msgcnt);
        receiver.on_pull(move |cx, message| {
            if msgcnt.get() >= messages {
                return Ok(());
            }
            println!(
                "Message from {name}: {}",
                bytes_repr(pyport::first(&message))
            );
            msgcnt.set(msgcnt.get() + 1);
            if msgcnt.get() == messages {
                println!("{} messages received", msgcnt.get());
                cx.reactor.stop()?;
            }
            Ok::<(), Box<dyn std::error::Error>>(())
        });
        receivers.push(receiver);
    }

    // sender(): connect to both, send one message a second.
    let sender = ZmqPushConnection::new(
        &factory,
        [
            ZmqEndpoint::connect(&args.first),
            ZmqEndpoint::connect(&args.second),
        ],
    )?;
    let mut i = 0u64;
    let sending = LoopingCall::new(&reactor, move |_cx| {
        if i < messages {
            sender.push(format!("test {i}"))?;
            i += 1;
        }
        Ok::<(), Box<dyn std::error::Error>>(())
    });
    sending.start(args.interval, true)?;
    reactor.run()?;
    Ok(())
}

/// A PUSH sender deals ten messages to two polled PULL receivers (pyzmq's
/// gevent/poll.py).
#[derive(Parser)]
struct Args {
    /// The first PULL socket's endpoint
    #[arg(long, default_value = "inproc://polltest1")]
    first: String,
    /// The second PULL socket's endpoint
    #[arg(long, default_value = "inproc://polltest2")]
    second: String,
    /// How often a message is sent, in milliseconds
    #[arg(long = "interval-ms", value_name = "MS", default_value = "1000", value_parser = pyport::millis)]
    interval: Duration,
    /// How many messages are sent and received
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    messages: u64,
}

fn main() -> ExitCode {
    pyport::main(run)
}
