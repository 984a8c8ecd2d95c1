//! `grasslands.py`, the first of pyzmq's security examples
//! (`examples/security/`, each a step up in protection from the one before):
//! no protection at all. A PUSH server bound to `tcp://*:9000` sends `Hello`
//! to a PULL client connected to `tcp://127.0.0.1:9000`, in the same
//! process; every connection is accepted, nothing is authenticated or
//! encrypted (libzmq's NULL mechanism). The client prints `Grasslands test
//! OK` when `Hello` arrives, and the program ends.
//!
//! The port: the client's blocking `recv()` is a callback that prints the
//! line and stops the reactor; the server's `send`, which blocks in the
//! original until the client is connected, waits in the connection's outbox
//! instead.
//!
//! ```text
//! cargo run --example grasslands
//! cargo run --example grasslands -- --bind tcp://*:9001 --connect tcp://127.0.0.1:9001
//! ```
//!
//! Prints `Grasslands test OK`. `--bind` and `--connect` default to the
//! original's endpoints.

use std::process::ExitCode;

use clap::Parser;
use tx0mq::connections::{ZmqEndpoint, ZmqFactory, ZmqPullConnection, ZmqPushConnection};
use tx0mq::Reactor;

mod pyport;
use pyport::first;
use pyport::house::Endpoints;

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::new()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();

    let server = ZmqPushConnection::new(&factory, ZmqEndpoint::bind(args.endpoints.bind))?;
    let client = ZmqPullConnection::new(&factory, ZmqEndpoint::connect(args.endpoints.connect))?;

    server.push("Hello")?;
    client.on_pull(|cx, message| {
        if first(&message) == b"Hello" {
            println!("Grasslands test OK");
        }
        cx.reactor.stop()
    });

    reactor.run()?;
    Ok(())
}

/// No security: a PUSH server and a PULL client on the NULL mechanism
/// (pyzmq's grasslands.py).
#[derive(Parser)]
// No authenticator here to allow the client's address.
#[command(mut_arg("connect", |arg| arg.help("Endpoint the client connects to")))]
struct Args {
    #[command(flatten)]
    endpoints: Endpoints,
}

fn main() -> ExitCode {
    pyport::main(run)
}
