//! `interrupt.py`, the zguide's interrupt handling example (chapter 2,
//! "Handling Interrupt Signals"): a REP socket bound to `tcp://*:5558`
//! blocks in `recv()`; Ctrl-C raises `KeyboardInterrupt` there, and the
//! handler prints `W: interrupt received, stopping...` and closes the socket.
//! A request that does arrive ends the program, unanswered and silently.
//!
//! The port: the reactor turns SIGINT (and SIGTERM) into a clean `stop()`:
//! the shutdown triggers close the socket, `run()` returns, and the code
//! after it prints the original's message unless a request arrived.
//!
//! ```sh
//! cargo run --example interrupt            # then press Ctrl-C
//! cargo run --example interrupt -- --endpoint tcp://127.0.0.1:5558 --print-ready
//! ```
//!
//! `--endpoint` defaults to the original's `tcp://*:5558`; `--print-ready`
//! (for tests) prints a line once the reactor runs and SIGINT is handled.

use std::process::ExitCode;

use clap::Parser;
use tx0mq::connections::{ZmqEndpoint, ZmqFactory, ZmqRepConnection};
use tx0mq::Reactor;

mod pyport;

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    // The state: whether a request arrived (rather than a signal).
    let reactor = Reactor::with_state(false)?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown(); // clean up: close the socket when the reactor stops

    let socket = ZmqRepConnection::new(&factory, ZmqEndpoint::bind(&args.endpoint))?;
    // Like `socket.recv()` returning: one request and we are done.
    socket.got_message(|cx, _message_id, _request| {
        *cx.state = true;
        cx.reactor.stop()
    });

    if args.print_ready {
        let endpoint = socket.last_endpoint()?;
        reactor.call_when_running(move |_| println!("I: waiting for a request on {endpoint}"));
    }

    // SIGINT stops the reactor (as KeyboardInterrupt leaves recv()).
    reactor.run()?;
    if !reactor.access_state(|got_request| *got_request)? {
        println!("W: interrupt received, stopping...");
    }
    Ok(())
}

/// Waits for a request; Ctrl-C stops it with a message (zguide's
/// interrupt.py).
#[derive(Parser)]
struct Args {
    /// Endpoint of the REP socket
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://*:5558")]
    endpoint: String,
    /// Print a line once the reactor runs and SIGINT is handled (for tests)
    #[arg(long)]
    print_ready: bool,
}

fn main() -> ExitCode {
    pyport::main(run)
}
