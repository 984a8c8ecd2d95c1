//! `udpping1.py`, the zguide's UDP ping, model 1 (chapter 8, "Broadcasting
//! on UDP"): a UDP socket on port 9999 that may broadcast; once a second
//! it broadcasts a one-byte beacon (`!`) to `255.255.255.255:9999`, and it
//! reports every beacon it hears, its own included (each copy on a network
//! hears all of them).
//!
//! The port: the original's `zmq.Poller` loop on the UDP socket becomes a
//! reader on the socket (`reactor.add_reader`: the reactor polls any
//! descriptor, as `zmq_poll` does), and its `ping_at` deadline a
//! one-second `LoopingCall` that starts at once. The socket is
//! `udplib::bind_broadcast`'s: `SO_BROADCAST` as in the original, plus
//! `SO_REUSEADDR`, so that two copies on one host can bind the same port
//! (the original's second copy fails to bind). Ctrl-C stops it, printing
//! `interrupted`.
//!
//! ```sh
//! cargo run --example udpping1      # on two hosts of a LAN, or twice on one
//! ```
//!
//! Prints `Pinging peers...` before each beacon and `Found peer
//! ADDRESS:PORT` for each one heard (`Found peer 192.168.1.5:9999`).
//! `--port` and `--broadcast` replace the port (9999) and the broadcast
//! address (255.255.255.255: tests use 127.255.255.255, loopback's own),
//! `--interval-ms` the beacon interval (1000).

use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::AsRawFd;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::Duration;

use clap::Parser;
use tx0mq::{LoopingCall, Reactor};

mod pyport;
mod udplib;

/// The original's `PING_PORT_NUMBER`.
const PING_PORT_NUMBER: u16 = 9999;
/// The original's `PING_MSG_SIZE`: beacons are read one byte at most.
const PING_MSG_SIZE: usize = 1;

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::new()?;
    let sock = Rc::new(udplib::bind_broadcast(args.port)?);

    // Someone answered our ping.
    let reader = sock.clone();
    reactor.add_reader(sock.as_raw_fd(), move |_cx| {
        let mut buf = [0; PING_MSG_SIZE];
        match reader.recv_from(&mut buf) {
            Ok((_, from)) => println!("Found peer {}:{}", from.ip(), from.port()),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => eprintln!("udpping1: cannot read a beacon: {e}"),
        }
    })?;

    // Broadcast our beacon, the first one right away.
    let to = SocketAddrV4::new(args.broadcast, args.port);
    let ping = LoopingCall::new(&reactor, move |_cx| {
        println!("Pinging peers...");
        if let Err(e) = sock.send_to(b"!", to) {
            eprintln!("udpping1: cannot broadcast to {to}: {e}");
        }
    });
    ping.start(args.interval, true)?;

    reactor.run()?;
    if reactor.exit_signal().is_some() {
        println!("interrupted");
    }
    Ok(())
}

/// UDP ping, model 1: broadcast a beacon each second, report those heard
/// (zguide's udpping1.py).
#[derive(Parser)]
struct Args {
    /// The UDP port to bind and to broadcast to
    #[arg(long, default_value_t = PING_PORT_NUMBER)]
    port: u16,
    /// Where beacons are broadcast
    #[arg(long, default_value_t = udplib::BROADCAST)]
    broadcast: Ipv4Addr,
    /// Milliseconds between beacons
    #[arg(long = "interval-ms", value_parser = pyport::millis, default_value = "1000")]
    interval: Duration,
}

fn main() -> ExitCode {
    pyport::main(run)
}
