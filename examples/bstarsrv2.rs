//! `bstarsrv2.py`, the zguide's Binary Star server rebuilt on the Binary
//! Star reactor (chapter 4, "Binary Star Reactor"): the same echo service
//! as `bstarsrv`, in a few lines, with the state machine, the heartbeat and
//! the failover in `bstar.py`. `-p` runs the primary (clients on
//! `tcp://*:5001`, state on `tcp://*:5003`, the peer's from
//! `tcp://localhost:5004`), `-b` the backup (5002, 5004, 5003); without
//! either it prints its usage. Its client is `bstarcli`.
//!
//! The port: `examples/bstar/mod.rs` is `bstar.py`, written for the reactor
//! (see there); this file makes a `BinaryStar`, registers a ROUTER voter
//! whose handler echoes each message it is given, and starts it.
//!
//! ```sh
//! cargo run --example bstarsrv2 -- -p &
//! cargo run --example bstarsrv2 -- -b &
//! cargo run --example bstarcli
//! ```
//!
//! Prints the transitions as `bstar.py` does (`I: connected to backup
//! (slave), ready as master`, `I: connected to primary (master), ready as
//! slave`, `I: failover successful, ready as master`, `I: request from
//! client, ready as master`, ...) and `CLIENT REQUEST` for each request it
//! answers. `--frontend`, `--state-pub` and `--state-sub` replace the role's
//! endpoints (for tests on free ports).

use std::process::ExitCode;

use clap::Parser;
use tx0mq::connections::{zmq, ZmqFactory};
use tx0mq::Reactor;

mod bstar;
mod pyport;

use bstar::BinaryStar;

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    // Arguments can be either of:
    //     -p  primary server, at tcp://localhost:5001
    //     -b  backup server, at tcp://localhost:5002
    let defaults = if args.primary {
        ("tcp://*:5001", "tcp://*:5003", "tcp://localhost:5004")
    } else if args.backup {
        ("tcp://*:5002", "tcp://*:5004", "tcp://localhost:5003")
    } else {
        println!("Usage: bstarsrv2 {{ -p | -b }}\n");
        return Ok(());
    };
    let frontend = args.frontend.as_deref().unwrap_or(defaults.0);
    let local = args.state_pub.as_deref().unwrap_or(defaults.1);
    let remote = args.state_sub.as_deref().unwrap_or(defaults.2);

    let reactor = Reactor::new()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();
    let star = BinaryStar::new(&reactor, &factory, args.primary, local, remote)?;
    // Echo service
    star.register_voter(frontend, zmq::ROUTER, |cx, message| cx.conn.send(message))?;
    star.start()
}

/// Binary Star server on the Binary Star reactor: an echo service in an
/// active/passive pair (zguide's bstarsrv2.py).
#[derive(Parser)]
struct Args {
    /// Run as the primary (clients on tcp://*:5001)
    #[arg(short, long, conflicts_with = "backup")]
    primary: bool,
    /// Run as the backup (clients on tcp://*:5002)
    #[arg(short, long)]
    backup: bool,
    /// Where clients connect [default: tcp://*:5001 (-p), tcp://*:5002 (-b)]
    #[arg(long, value_name = "ENDPOINT")]
    frontend: Option<String>,
    /// Where our state is published [default: tcp://*:5003 (-p), tcp://*:5004 (-b)]
    #[arg(long, value_name = "ENDPOINT")]
    state_pub: Option<String>,
    /// The peer's state publisher [default: tcp://localhost:5004 (-p), tcp://localhost:5003 (-b)]
    #[arg(long, value_name = "ENDPOINT")]
    state_sub: Option<String>,
}

fn main() -> ExitCode {
    pyport::main(run)
}
