//! `syncsub.py`, the zguide's synchronized subscriber (chapter 2, "Node
//! Coordination"): a SUB socket connected to `tcp://localhost:5561`
//! subscribes to everything; after a second's sleep a REQ socket connected
//! to `tcp://localhost:5562` sends the publisher a sync request and waits
//! for the reply; then it counts updates until `END` and prints `Received N
//! updates`. Its other half is `syncpub.py` (or this crate's `syncpub`).
//!
//! The port: the second's sleep is a `call_later`; the sync request is a
//! `ZmqReqConnection` whose reply arrives as a Deferred, and only then does
//! the subscriber start reading, as the original reads only after the reply.
//!
//! ```sh
//! cargo run --release --example syncsub      # with syncpub running
//! ```
//!
//! Prints `Received 1000000 updates` and exits. Flags (defaults are the
//! original's): `--sub-endpoint` (`tcp://localhost:5561`), `--sync-endpoint`
//! (`tcp://localhost:5562`), `--delay-ms` (1000).

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tx0mq::connections::{ZmqEndpoint, ZmqFactory, ZmqReqConnection, ZmqSubConnection};
use tx0mq::Reactor;

mod pyport;

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    // The state: how many updates arrived.
    let reactor = Reactor::with_state(0u64)?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();

    // First, connect our subscriber socket
    let subscriber = ZmqSubConnection::new(&factory, ZmqEndpoint::connect(&args.sub_endpoint))?;
    subscriber.subscribe(b"")?;
    // Updates are plain frames, not txZMQ's tag framing: read them raw.
    subscriber.pause_reading();
    subscriber.message_received(|cx, message| {
        if message.len() == 1 && &message[0][..] == b"END" {
            println!("Received {} updates", cx.state);
            return cx.reactor.stop();
        }
        *cx.state += 1;
        Ok(())
    });

    // Second, synchronize with publisher, a second later (the original sleeps)
    let syncclient = ZmqReqConnection::new(&factory, ZmqEndpoint::connect(&args.sync_endpoint))?;
    // (`syncclient` stays alive until `run` returns: a REQ connection whose
    // last handle is dropped forgets its pending requests.)
    let sync = syncclient.clone();
    reactor.call_later(args.delay, move |_| {
        // send a synchronization request; once answered, get our updates
        sync.send_msg("").add_callback(move |reply| {
            subscriber.resume_reading();
            Ok(reply)
        });
    });

    reactor.run()?;
    Ok(())
}

/// Synchronized subscriber: checks in, then counts updates (zguide's
/// syncsub.py).
#[derive(Parser)]
struct Args {
    /// Endpoint of the publisher's PUB socket
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://localhost:5561")]
    sub_endpoint: String,
    /// Endpoint of the publisher's sync (REP) socket
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://localhost:5562")]
    sync_endpoint: String,
    /// Milliseconds to wait before synchronizing
    #[arg(long = "delay-ms", default_value = "1000", value_name = "MS", value_parser = pyport::millis)]
    delay: Duration,
}

fn main() -> ExitCode {
    pyport::main(run)
}
