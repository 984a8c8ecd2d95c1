//! `poll/pair.py`, pyzmq's test of polling PAIR sockets: two PAIR sockets
//! on `tcp://127.0.0.1:5555` (one binds, one connects) are polled at each
//! step and the results asserted: both can send (`POLLOUT`); after each
//! sends a message and a second passes, both can also receive
//! (`POLLIN|POLLOUT`); after each receives, `POLLOUT` again.
//!
//! The port: the poll is each connection's [`events`] (`ZMQ_EVENTS`); the
//! sleeps are `call_later`s; the receives are the connections' callbacks,
//! set once the `POLLIN` was seen (until then nothing reads the sockets),
//! each checking its socket right after its message. A failed check ends
//! the run with an error naming the socket, the step and both values,
//! where the original's `assert` raises.
//!
//! [`events`]: tx0mq::connections::Connection::events
//!
//! ```sh
//! cargo run --example poll_pair
//! ```
//!
//! Prints `Running polling tests for PAIR sockets...` and, once every check
//! passed, `Finished.`. Flags: `--addr` (default the original's), and the
//! waits: `--settle-ms` (for the connection, and at the end, 1000) and
//! `--wait-ms` (for the messages, 1000).

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tx0mq::connections::{zmq, ZmqConnection, ZmqEndpoint, ZmqFactory};
use tx0mq::Reactor;

mod poll;
mod pyport;
use poll::{check, outcome, Checks};

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    println!("Running polling tests for PAIR sockets...");
    let reactor = Reactor::builder().state(Checks::default()).build()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();
    let s1 = ZmqConnection::new(&factory, zmq::PAIR, ZmqEndpoint::bind(&args.addr))?;
    let s2 = ZmqConnection::new(&factory, zmq::PAIR, ZmqEndpoint::connect(&args.addr))?;

    let (settle, wait) = (args.settle, args.wait);
    // Sleep to allow sockets to connect.
    reactor.call_later(settle, move |cx| {
        let result = (|| {
            // Now make sure that both are send ready.
            check("s1", "at first", &s1, zmq::POLLOUT)?;
            check("s2", "at first", &s2, zmq::POLLOUT)?;
            // Now do a send on both, wait and test for POLLOUT|POLLIN.
            s1.send("msg1")?;
            s2.send("msg2")?;
            cx.reactor.call_later(wait, move |cx| {
                let result = (|| {
                    let both = zmq::POLLIN | zmq::POLLOUT;
                    check("s1", "after the sends", &s1, both)?;
                    check("s2", "after the sends", &s2, both)?;
                    // Make sure that both are in POLLOUT after recv.
                    let received = std::rc::Rc::new(std::cell::Cell::new(0));
                    for (name, socket) in [("s1", &s1), ("s2", &s2)] {
                        let received = received.clone();
                        socket.message_received(move |cx, _message| {
                            let result = check(name, "after recv", cx.conn, zmq::POLLOUT);
                            outcome(&mut cx.ctx(), result);
                            received.set(received.get() + 1);
                            if received.get() == 2 {
                                // Wait for everything to finish.
                                poll::finish_after(&mut cx.ctx(), settle);
                            }
                        });
                    }
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

/// Checks what a poll reports for two PAIR sockets (pyzmq's poll/pair.py).
#[derive(Parser)]
struct Args {
    /// Endpoint the first socket binds and the second connects to
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://127.0.0.1:5555")]
    addr: String,
    /// Wait for the connection, and at the end, in milliseconds
    #[arg(long = "settle-ms", value_name = "MS", default_value = "1000", value_parser = pyport::millis)]
    settle: Duration,
    /// Wait for the messages, in milliseconds
    #[arg(long = "wait-ms", value_name = "MS", default_value = "1000", value_parser = pyport::millis)]
    wait: Duration,
}

fn main() -> ExitCode {
    pyport::main(run)
}
