//! `heartbeat/heart.py`, pyzmq's heart: a forwarder device on its own
//! thread (pyzmq's `ThreadDevice(FORWARDER, SUB, DEALER)`) passes each ping
//! from the heartbeater's PUB (`tcp://127.0.0.1:5555`, subscribed to
//! everything) back to its ROUTER (`tcp://127.0.0.1:5556`) through a
//! DEALER, whose identity is how the heartbeater knows this heart. Meanwhile
//! the main thread blocks in a long computation (numpy's `dot(A, A.T)` on a
//! 2048 x 2048 matrix there): the heart keeps beating because the device
//! does not need it. The heartbeater is `heartbeater.py` (or this crate's
//! `heartbeat_heartbeater`).
//!
//! The port keeps the original's two threads, because they are its point:
//! the library's `ThreadDevice` (a forwarder with its own reactor on its own
//! thread, its SUB subscribed with `subscribe_in`) does the forwarding, and
//! the main thread runs the blocking product. The main reactor never runs:
//! nothing on the main thread waits for events.
//!
//! ```sh
//! cargo run --example heartbeat_heartbeater &
//! cargo run --release --example heartbeat_heart
//! ```
//!
//! Prints `starting blocking loop`, then `blocked for 2.345 s` after each
//! product. Flags: `--ping` and `--pong` (the heartbeater's endpoints),
//! `--size` (the matrix's side, 2048), `--rounds N` (stop after N products;
//! the original runs until interrupted), `--settle-ms` (the wait for the
//! connections, 1000), `--seed`.

use std::process::ExitCode;

use clap::Parser;
use tx0mq::connections::{zmq, ThreadDevice, ZmqFactory};
use tx0mq::Reactor;

mod heartbeat;
mod pyport;

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::new()?;
    let factory = ZmqFactory::new(&reactor)?;

    // The device: pings in from the heartbeater's PUB, out to its ROUTER,
    // on a thread (and reactor) of its own.
    let mut device = ThreadDevice::new(zmq::SUB, zmq::DEALER);
    device
        .connect_in(&args.ping)
        .subscribe_in(b"")
        .connect_out(&args.pong);
    device.start(&factory)?;

    args.work.block(1);
    device.stop()?;
    Ok(())
}

/// A heart: forwards the heartbeater's pings back on a device thread while
/// the main thread blocks (pyzmq's heartbeat/heart.py).
#[derive(Parser)]
struct Args {
    /// The heartbeater's ping endpoint (its PUB)
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://127.0.0.1:5555")]
    ping: String,
    /// The heartbeater's pong endpoint (its ROUTER)
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://127.0.0.1:5556")]
    pong: String,
    #[command(flatten)]
    work: heartbeat::Work,
}

fn main() -> ExitCode {
    pyport::main(run)
}
