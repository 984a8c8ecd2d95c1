//! `poll/pubsub.py`, pyzmq's test of polling PUB/SUB sockets: a PUB bound
//! to `tcp://127.0.0.1:5555` and a SUB connected to it (subscribed to
//! everything) are polled at each step and the results asserted: the PUB
//! can send (`POLLOUT`) and the SUB shows nothing; the PUB still can after
//! a send; half a second later the SUB can receive (`POLLIN`); after it
//! received, it shows nothing again.
//!
//! The port: the poll is each connection's [`events`] (`ZMQ_EVENTS`); the
//! sleeps are `call_later`s; the receive is the SUB connection's callback,
//! set once the `POLLIN` was seen (until then nothing reads the socket),
//! which checks the socket right after the message. A failed check ends
//! the run with an error naming the socket, the step and both values,
//! where the original's `assert` raises.
//!
//! [`events`]: tx0mq::connections::Connection::events
//!
//! ```sh
//! cargo run --example poll_pubsub
//! ```
//!
//! Prints `Running polling tets for PUB/SUB sockets...` (the original's
//! spelling) and, once every check passed, `Finished.`. Flags: `--addr`
//! (default the original's), and the waits: `--settle-ms` (for the
//! connection, and at the end, 1000) and `--wait-ms` (for the message,
//! 500).

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tx0mq::connections::{zmq, ZmqConnection, ZmqEndpoint, ZmqFactory, ZmqSubConnection};
use tx0mq::Reactor;

mod poll;
mod pyport;
use poll::{check, outcome, Checks};

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    println!("Running polling tets for PUB/SUB sockets...");
    let reactor = Reactor::builder().state(Checks::default()).build()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();
    let s1 = ZmqConnection::new(&factory, zmq::PUB, ZmqEndpoint::bind(&args.addr))?;
    let s2 = ZmqSubConnection::new(&factory, ZmqEndpoint::connect(&args.addr))?;
    s2.subscribe(b"")?;

    let (settle, wait) = (args.settle, args.wait);
    let none = zmq::PollEvents::empty();
    // Sleep to allow sockets to connect.
    reactor.call_later(settle, move |cx| {
        let result = (|| {
            // Now make sure that both are send ready.
            check("s1", "at first", &s1, zmq::POLLOUT)?;
            check("s2", "at first", &s2, none)?;
            // Make sure that s1 stays in POLLOUT after a send.
            s1.send("msg1")?;
            check("s1", "after the send", &s1, zmq::POLLOUT)?;
            // Make sure that s2 is POLLIN after waiting.
            cx.reactor.call_later(wait, move |cx| {
                let result = (|| {
                    check("s2", "after the wait", &s2, zmq::POLLIN)?;
                    // Make sure that s2 goes into 0 after recv.
                    s2.message_received(move |cx, _message| {
                        let result = check("s2", "after recv", cx.conn, none);
                        outcome(&mut cx.ctx(), result);
                        // Wait for everything to finish.
                        poll::finish_after(&mut cx.ctx(), settle);
                    });
                    Ok(())
                })();
                outcome(cx, result);
            });
            Ok(())
        })();
        outcome(cx, result);
    });

    poll::run(&reactor)
}

/// Checks what a poll reports for PUB and SUB sockets (pyzmq's
/// poll/pubsub.py).
#[derive(Parser)]
struct Args {
    /// Endpoint the first socket binds and the second connects to
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://127.0.0.1:5555")]
    addr: String,
    /// Wait for the connection, and at the end, in milliseconds
    #[arg(long = "settle-ms", value_name = "MS", default_value = "1000", value_parser = pyport::millis)]
    settle: Duration,
    /// Wait for the messages, in milliseconds
    #[arg(long = "wait-ms", value_name = "MS", default_value = "500", value_parser = pyport::millis)]
    wait: Duration,
}

fn main() -> ExitCode {
    pyport::main(run)
}
