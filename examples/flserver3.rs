//! `flserver3.py`, the zguide's Freelance server, model three (chapter 4,
//! "Brokerless Reliability (Freelance Pattern)", "Model Three: Complex and
//! Nasty"): a ROUTER bound to `tcp://*:5555` whose identity is the endpoint
//! clients connect to, `tcp://localhost:5555`, so that a client's ROUTER can
//! address it by that name. It answers `PING` with `PONG` and any other
//! request, `[control, body...]`, with `[control, "OK"]`; `-v` dumps each
//! reply. Its client is `flclient3` (`examples/flcliapi`).
//!
//! The port: the ROUTER is a raw connection answering in its callback. A
//! request with no control frame is logged and dropped. Ctrl-C ends it with
//! the original's `W: interrupted`.
//!
//! ```sh
//! cargo run --example flserver3 -- -v
//! ```
//!
//! Prints `I: service is ready at tcp://*:5555`; with `-v`, each reply as
//! `zhelpers.dump` shows it (a rule of dashes, then `[005] hello` per
//! frame). `--bind` and `--connect` (the identity) replace the original's
//! endpoints, to run several servers on one machine: `--bind tcp://*:5556
//! --connect tcp://localhost:5556`.

use std::process::ExitCode;

use clap::Parser;
use tx0mq::connections::{zmq, Frame, ZmqConnection, ZmqEndpoint, ZmqFactory, ZmqOptions};
use tx0mq::Reactor;

mod pyport;

/// `zhelpers.dump`: prints each frame of a message neatly.
fn dump(message: &[Frame]) {
    println!("----------------------------------------");
    for part in message {
        if part.is_ascii() {
            println!("[{:03}] {}", part.len(), String::from_utf8_lossy(part));
        } else {
            let hex: String = part.iter().map(|b| format!("{b:02x}")).collect();
            println!("[{:03}] 0x{hex}", part.len());
        }
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::new()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();
    // Prepare server socket with predictable identity
    let options = ZmqOptions::new().identity(&args.connect);
    let server = ZmqConnection::with_options(
        &factory,
        zmq::ROUTER,
        ZmqEndpoint::bind(&args.bind),
        &options,
    )?;
    println!("I: service is ready at {}", args.bind);
    let verbose = args.verbose;
    server.message_received(move |cx, request| {
        // Frame 0: identity of client
        // Frame 1: PING, or client control frame
        // Frame 2: request body
        let [address, control, ..] = &request[..] else {
            log::warn!("dropped a request of {} frame(s)", request.len());
            return Ok(());
        };
        let reply: Vec<Frame> = if &control[..] == b"PING" {
            vec![Frame::from(&address[..]), Frame::from("PONG")]
        } else {
            vec![
                Frame::from(&address[..]),
                Frame::from(&control[..]),
                Frame::from("OK"),
            ]
        };
        if verbose {
            dump(&reply);
        }
        cx.conn.send(reply)
    });
    reactor.run()?;
    if reactor.exit_signal().is_some() {
        println!("W: interrupted");
    }
    Ok(())
}

/// Freelance server, model three: answers requests and pings on a ROUTER
/// with a known identity (zguide's flserver3.py).
#[derive(Parser)]
struct Args {
    /// Dump each reply
    #[arg(short, long)]
    verbose: bool,
    /// Where to bind
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://*:5555")]
    bind: String,
    /// Where clients connect: the server's identity
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://localhost:5555")]
    connect: String,
}

fn main() -> ExitCode {
    pyport::main(run)
}
