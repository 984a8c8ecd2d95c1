//! `heartbeat/pong.py`, pyzmq's echo server for `ping.py`: a REP socket
//! bound to `tcp://127.0.0.1:10111` (identity `whoda`) echoes each request
//! from a device on its own thread (pyzmq's `ThreadDevice(FORWARDER, REP,
//! -1)`: one socket as both ends), while the main thread blocks in a long
//! computation (numpy's `dot(A, A.T)` on a 2048 x 4096 matrix there). The
//! pings keep their answers fast because the device does not need the
//! main thread. Its client is `ping.py` (or this crate's `heartbeat_ping`).
//!
//! The port keeps the original's two threads, because they are its point:
//! the library's `ThreadDevice::echo` (one REP socket as both ends, on its
//! own thread with its own reactor) answers, and the main thread runs the
//! blocking product. The main reactor never runs: nothing on the main
//! thread waits for events.
//!
//! ```sh
//! cargo run --release --example heartbeat_pong &
//! cargo run --example heartbeat_ping
//! ```
//!
//! Prints `starting blocking loop`, then `blocked for 2.345 s` after each
//! product. Flags: `--endpoint` (the REP's, bound), `--size` (the matrix's
//! rows, 2048; it has twice as many columns), `--rounds N` (stop after N
//! products; the original runs until interrupted), `--settle-ms` (1000),
//! `--seed`.

use std::process::ExitCode;

use clap::Parser;
use tx0mq::connections::{zmq, ThreadDevice, ZmqFactory, ZmqOptions};
use tx0mq::Reactor;

mod heartbeat;
mod pyport;

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::new()?;
    let factory = ZmqFactory::new(&reactor)?;

    // One REP socket as both ends: each request goes back out where it
    // came in, on the device's own thread.
    let mut device = ThreadDevice::echo(zmq::REP);
    device
        .options_in(&ZmqOptions::new().identity(b"whoda"))
        .bind_in(&args.endpoint);
    device.start(&factory)?;

    args.work.block(2);
    device.stop()?;
    Ok(())
}

/// Echoes pings on a device thread while the main thread blocks (pyzmq's
/// heartbeat/pong.py).
#[derive(Parser)]
struct Args {
    /// Endpoint the REP socket binds
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://127.0.0.1:10111")]
    endpoint: String,
    #[command(flatten)]
    work: heartbeat::Work,
}

fn main() -> ExitCode {
    pyport::main(run)
}
