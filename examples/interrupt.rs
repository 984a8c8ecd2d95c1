//! Handling Ctrl-C: a REP server waits for a request, and SIGINT stops it
//! cleanly with a message.
//!
//! Port of the zguide's `interrupt.py` (chapter 2, "Handling Interrupt
//! Signals"). Python's blocking `recv()` raises `KeyboardInterrupt`; here the
//! reactor turns SIGINT (and SIGTERM) into a clean `stop()`: the shutdown
//! triggers close the socket, `run()` returns, and the code after it prints
//! the original's message. As in the original, a request that does arrive
//! ends the program without an answer and without the message.
//!
//! ```sh
//! cargo run --example interrupt            # then press Ctrl-C
//! cargo run --example interrupt -- --endpoint tcp://127.0.0.1:5558 --print-ready
//! ```
//!
//! `--endpoint` defaults to the original's `tcp://*:5558`; `--print-ready`
//! (for tests) prints a line once the reactor runs and SIGINT is handled.

use std::process::ExitCode;

use tx0mq::connections::{ZmqEndpoint, ZmqFactory, ZmqRepConnection};
use tx0mq::Reactor;

const USAGE: &str = "usage: interrupt [--endpoint ENDPOINT] [--print-ready]";

struct Args {
    endpoint: String,
    print_ready: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        endpoint: "tcp://*:5558".to_string(),
        print_ready: false,
    };
    let mut argv = std::env::args().skip(1);
    while let Some(flag) = argv.next() {
        match flag.as_str() {
            "--endpoint" => args.endpoint = argv.next().ok_or("--endpoint needs a value")?,
            "--print-ready" => args.print_ready = true,
            _ => return Err(format!("unknown argument {flag:?}")),
        }
    }
    Ok(args)
}

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

fn main() -> ExitCode {
    env_logger::init();
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("interrupt: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("interrupt: {e}");
            ExitCode::FAILURE
        }
    }
}
