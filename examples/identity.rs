//! `identity.py`, the zguide's identity example (chapter 3, "The Identity
//! of a Socket"): a ROUTER sink bound to `inproc://example` and two REQ
//! peers. The first lets 0MQ generate its identity, the second sets
//! `PEER2`; each sends one message, and the sink prints each with
//! `zhelpers.dump` (a rule, then every frame as `[len] text`).
//!
//! The port: everything runs in one reactor over `inproc://`: the ROUTER
//! sink is a raw connection (it sees the identity frame), the two REQ peers
//! are raw REQ connections. The second peer is created once the first
//! message was dumped, as in the original's order.
//!
//! ```sh
//! cargo run --example identity
//! ```
//!
//! Prints two dumps, each frame as `[len] text` (or `0x...` when it is not
//! ASCII, like the generated 5-byte identity), then exits.

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

fn run(_: Args) -> Result<(), Box<dyn std::error::Error>> {
    // The state: how many messages the sink has dumped.
    let reactor = Reactor::with_state(0u32)?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();

    let sink = ZmqConnection::new(&factory, zmq::ROUTER, ZmqEndpoint::bind("inproc://example"))?;

    // First allow 0MQ to set the identity
    let anonymous =
        ZmqConnection::new(&factory, zmq::REQ, ZmqEndpoint::connect("inproc://example"))?;
    anonymous.send("ROUTER uses a generated 5 byte identity")?;

    let zf = factory.clone();
    sink.message_received(move |cx, message| {
        dump(&message);
        *cx.state += 1;
        if *cx.state == 1 {
            // Then set the identity ourselves
            let identified = ZmqConnection::with_options(
                &zf,
                zmq::REQ,
                ZmqEndpoint::connect("inproc://example"),
                &ZmqOptions::new().identity(b"PEER2"),
            )?;
            identified.send("ROUTER socket uses REQ's socket identity")?;
        } else {
            cx.reactor.stop()?;
        }
        Ok::<(), tx0mq::connections::Error>(())
    });

    reactor.run()?;
    Ok(())
}

/// Shows a ROUTER the identities of two REQ peers (zguide's identity.py).
#[derive(Parser)]
struct Args {}

fn main() -> ExitCode {
    pyport::main(run)
}
