//! `udpping2.py`, the zguide's UDP ping, model 2 (chapter 8, "Broadcasting
//! on UDP"): model 1 with its socket in the `UDP` class of `udplib`, which
//! broadcasts a one-byte beacon (`!`) once a second to
//! `255.255.255.255:9999` and reports the beacons it hears from other
//! hosts (its own address is left out).
//!
//! The port: the poll loop becomes a reader on `udplib::Udp`'s socket
//! (`reactor.add_reader`) and a one-second `LoopingCall` that starts at
//! once. Ctrl-C stops it, printing `interrupted`. See `examples/udplib/`
//! for the socket (`SO_REUSEADDR` too, so two copies can share a host) and
//! for how our own address is found.
//!
//! ```sh
//! cargo run --example udpping2      # on two hosts of a LAN
//! ```
//!
//! Prints `Pinging peers...` before each beacon and `Found peer
//! ADDRESS:PORT` for each beacon from another address. `--port`,
//! `--broadcast` (255.255.255.255; tests use 127.255.255.255) and
//! `--interval-ms` (1000) as for `udpping1`; `--address` is udplib's own
//! address (default: the first non-loopback IPv4 address of the host).

use std::net::Ipv4Addr;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::Duration;

use clap::Parser;
use tx0mq::{LoopingCall, Reactor};

mod pyport;
mod udplib;

/// The original's `PING_PORT_NUMBER`.
const PING_PORT_NUMBER: u16 = 9999;
/// The original's `PING_MSG_SIZE`.
const PING_MSG_SIZE: usize = 1;

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::new()?;
    let udp = Rc::new(udplib::Udp::new(
        args.port,
        args.address,
        Some(args.broadcast),
    )?);

    // Someone answered our ping: udplib prints it.
    let reader = udp.clone();
    reactor.add_reader(udp.fd(), move |_cx| {
        if let Err(e) = reader.recv(PING_MSG_SIZE) {
            eprintln!("udpping2: cannot read a beacon: {e}");
        }
    })?;

    // Broadcast our beacon, the first one right away.
    let ping = LoopingCall::new(&reactor, move |_cx| {
        println!("Pinging peers...");
        if let Err(e) = udp.send(b"!") {
            eprintln!("udpping2: cannot broadcast: {e}");
        }
    });
    ping.start(args.interval, true)?;

    reactor.run()?;
    if reactor.exit_signal().is_some() {
        println!("interrupted");
    }
    Ok(())
}

/// UDP ping, model 2: model 1 on udplib's UDP class (zguide's udpping2.py).
#[derive(Parser)]
struct Args {
    /// The UDP port to bind and to broadcast to
    #[arg(long, default_value_t = PING_PORT_NUMBER)]
    port: u16,
    /// Where beacons are broadcast
    #[arg(long, default_value_t = udplib::BROADCAST)]
    broadcast: Ipv4Addr,
    /// Our own address, whose beacons are not reported [default: the first non-loopback IPv4 address]
    #[arg(long)]
    address: Option<Ipv4Addr>,
    /// Milliseconds between beacons
    #[arg(long = "interval-ms", value_parser = pyport::millis, default_value = "1000")]
    interval: Duration,
}

fn main() -> ExitCode {
    pyport::main(run)
}
