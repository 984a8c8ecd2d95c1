//! `udpping3.py`, the zguide's UDP ping, model 3 (chapter 8): the ping
//! agent behind the `Interface` class (`examples/interface/`), which
//! broadcasts our UUID once a second, and the application prints each
//! message the agent sends it: `[b'JOINED', b'UUID']` when a peer is
//! first heard (ourselves included: our beacons come back to us too) and
//! `[b'LEFT', b'UUID']` when one has been silent for five seconds.
//!
//! The port: the original's loop on `interface.recv()` becomes the
//! callback the interface calls with each message, in the same reactor as
//! the agent; Ctrl-C stops it, printing `interrupted`.
//!
//! ```sh
//! cargo run --example udpping3      # on two hosts of a LAN, or twice on one
//! ```
//!
//! Prints the agent's messages as Python prints a list of bytes, the
//! agent's `reaping b'UUID' EXPIRES_AT NOW` before a `LEFT`, and udplib's
//! `Found peer ADDRESS:PORT` for each beacon from another address. Flags:
//! `--port` (9999), `--broadcast` (255.255.255.255; tests use
//! 127.255.255.255), `--address` (udplib's own address),
//! `--interval-ms` (1000) and `--peer-expiry-ms` (5000).

use std::net::Ipv4Addr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tx0mq::Reactor;

mod interface;
mod pyport;
mod udplib;

use interface::{Config, Interface};

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::new()?;
    let config = Config {
        port: args.port,
        broadcast: Some(args.broadcast),
        address: args.address,
        interval: args.interval,
        peer_expiry: args.peer_expiry,
    };
    let interface = Interface::start(&reactor, &config, |message| {
        println!("{}", pyport::bytes_list_repr(&message));
    })?;
    reactor.run()?;
    if reactor.exit_signal().is_some() {
        println!("interrupted");
    }
    interface.stop();
    Ok(())
}

/// UDP ping, model 3: the ping agent behind an interface (zguide's
/// udpping3.py and interface.py).
#[derive(Parser)]
struct Args {
    /// The UDP port to bind and to broadcast to
    #[arg(long, default_value_t = interface::PING_PORT_NUMBER)]
    port: u16,
    /// Where beacons are broadcast
    #[arg(long, default_value_t = udplib::BROADCAST)]
    broadcast: Ipv4Addr,
    /// Our own address, whose beacons udplib does not report as "Found peer" [default: the first non-loopback IPv4 address]
    #[arg(long)]
    address: Option<Ipv4Addr>,
    /// Milliseconds between beacons (and between reaps)
    #[arg(long = "interval-ms", value_parser = pyport::millis, default_value = "1000")]
    interval: Duration,
    /// Milliseconds a silent peer is kept
    #[arg(long = "peer-expiry-ms", value_parser = pyport::millis, default_value = "5000")]
    peer_expiry: Duration,
}

fn main() -> ExitCode {
    pyport::main(run)
}
