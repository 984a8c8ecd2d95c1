//! `poll/reqrep.py`, pyzmq's test of polling REQ/REP sockets: a REP bound
//! to `tcp://127.0.0.1:5555` and a REQ connected to it are polled at each
//! step of one request and reply, and the results asserted: the REP shows
//! nothing and the REQ can send (`POLLOUT`); after the request the REQ
//! shows nothing; half a second later the REP can receive (`POLLIN`); after
//! it received it can send; after its reply it shows nothing; half a second
//! later the REQ can receive, and after it received it can send again.
//!
//! The port: the poll is each connection's [`events`] (`ZMQ_EVENTS`); the
//! sleeps are `call_later`s; the receives are the connections' callbacks,
//! each set once its `POLLIN` was seen (until then nothing reads the
//! socket), each checking its socket right after the message. A failed
//! check ends the run with an error naming the socket, the step and both
//! values, where the original's `assert` raises.
//!
//! [`events`]: tx0mq::connections::Connection::events
//!
//! ```sh
//! cargo run --example poll_reqrep
//! ```
//!
//! Prints nothing, as the original: it exits 0 once every check passed,
//! else 1 with the failed check. Flags: `--addr` (default the original's),
//! and the waits: `--settle-ms` (for the connection, and at the end, 1000)
//! and `--wait-ms` (for each message, 500).

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tx0mq::connections::{zmq, ZmqConnection, ZmqEndpoint, ZmqFactory};
use tx0mq::Reactor;

mod poll;
mod pyport;
use poll::{check, outcome, Checks};

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::builder().state(Checks::default()).build()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();
    let s1 = ZmqConnection::new(&factory, zmq::REP, ZmqEndpoint::bind(&args.addr))?;
    let s2 = ZmqConnection::new(&factory, zmq::REQ, ZmqEndpoint::connect(&args.addr))?;

    let (settle, wait) = (args.settle, args.wait);
    let none = zmq::PollEvents::empty();
    // Sleep to allow sockets to connect.
    reactor.call_later(settle, move |cx| {
        let result = (|| {
            // Make sure that s1 is in state 0 and s2 is in POLLOUT.
            check("s1", "at first", &s1, none)?;
            check("s2", "at first", &s2, zmq::POLLOUT)?;
            // Make sure that s2 goes immediately into state 0 after send.
            s2.send("msg1")?;
            check("s2", "after the request", &s2, none)?;
            // Make sure that s1 goes into POLLIN state after a wait.
            cx.reactor.call_later(wait, move |cx| {
                let result = (|| {
                    check("s1", "after the wait", &s1, zmq::POLLIN)?;
                    s1.message_received(move |cx, _request| {
                        let result = (|| {
                            // Make sure that s1 goes into POLLOUT after recv.
                            check("s1", "after recv", cx.conn, zmq::POLLOUT)?;
                            // Make sure s1 goes into state 0 after send.
                            cx.conn.send("msg2")?;
                            check("s1", "after the reply", cx.conn, none)?;
                            // Wait and then see that s2 is in POLLIN.
                            let s2 = s2.clone();
                            cx.reactor.call_later(wait, move |cx| {
                                let result = (|| {
                                    check("s2", "after the wait", &s2, zmq::POLLIN)?;
                                    s2.message_received(move |cx, _reply| {
                                        // Make sure that s2 is in POLLOUT after recv.
                                        let result =
                                            check("s2", "after recv", cx.conn, zmq::POLLOUT);
                                        outcome(&mut cx.ctx(), result);
                                        // Wait for everything to finish.
                                        cx.reactor.call_later(settle, |cx| cx.reactor.stop());
                                    });
                                    Ok(())
                                })();
                                outcome(cx, result);
                            });
                            Ok(())
                        })();
                        outcome(&mut cx.ctx(), result);
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

/// Checks what a poll reports for REQ and REP sockets (pyzmq's
/// poll/reqrep.py).
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
