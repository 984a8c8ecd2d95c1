//! `client.py`, the client of pyzmq's early device example
//! (`examples/device/`, with `server.py`; Python 2): a REQ socket connected
//! to `tcp://127.0.0.1:5555` sends its process id, waits for the reply and
//! prints the round trip in seconds and the reply, for ever.
//!
//! The port: one REQ connection whose reply callback prints and sends the
//! next request; the reactor's clock times the round trip.
//!
//! ```sh
//! cargo run --example device_server &
//! cargo run --example device_client
//! ```
//!
//! Prints `Client PID`, then a line per reply, `1.001234 PID` (seconds as
//! Python prints a float, then the reply as text, as Python 2 printed it).
//! `--server` replaces the endpoint; `--requests N` stops after N replies
//! (the original never stops).

use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use tx0mq::connections::{zmq, ZmqConnection, ZmqEndpoint, ZmqFactory};
use tx0mq::Reactor;

mod pyport;

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let pid = std::process::id().to_string();
    println!("Client {pid}");
    let reactor = Reactor::new()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();

    let socket = ZmqConnection::new(&factory, zmq::REQ, ZmqEndpoint::connect(args.server))?;
    let mut start = Instant::now();
    let mut replies = 0u64;
    socket.send(pid.as_str())?;
    socket.message_received(move |cx, message| {
        let elapsed = start.elapsed().as_secs_f64();
        println!(
            "{} {}",
            pyport::float_repr(elapsed),
            String::from_utf8_lossy(pyport::first(&message))
        );
        replies += 1;
        if args.requests.is_some_and(|n| replies >= n) {
            cx.conn.shutdown();
            return cx.reactor.stop().map_err(Into::into);
        }
        start = Instant::now();
        cx.conn.send(pid.as_str())
    });

    reactor.run()?;
    Ok(())
}

/// A client timing requests through the device server (pyzmq's
/// examples/device/client.py).
#[derive(Parser)]
struct Args {
    /// Endpoint of the device server
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://127.0.0.1:5555")]
    server: String,
    /// Stop after this many replies (default: never)
    #[arg(long, value_name = "N")]
    requests: Option<u64>,
}

fn main() -> ExitCode {
    pyport::main(run)
}
