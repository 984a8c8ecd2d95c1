//! `zmq_monitor_class.py`, pyzmq's reusable event printer
//! (`examples/monitoring/` in pyzmq): `event_monitor(socket)` takes a
//! socket's monitor (`get_monitor_socket`) and starts a thread that prints
//! the libzmq version, pyzmq's table of `EVENT_*` constants, two blank
//! lines, then every event as `recv_monitor_message` decodes it
//! (`event_monitor_async` does the same with an asyncio loop). Its
//! docstring's program uses it on a SUB socket subscribed to everything,
//! connected to `tcp://127.0.0.1:7103`, receiving forever.
//!
//! The port is the reactor-style version, and that program: `event_monitor`
//! monitors a connection ([`Connection::monitor`]) and sets an
//! `on_monitor` closure that prints each event, in the reactor, with no
//! thread (and no separate asyncio variant: the reactor is the one loop).
//! The SUB connection receives and drops every message, as the original's
//! `recv()` loop does. Ctrl-C or SIGTERM stops the reactor; shutting the
//! connection down stops its monitor and prints its last events, ending
//! with `MONITOR_STOPPED`, then `event monitor thread done!`. The original
//! means to print that line too, but its `break` leaves only the inner of
//! its two loops, so it never gets there. Events and values print as the
//! interop environment's pyzmq 27 prints them (as its `zmq.Event` flag
//! type), and the first line names the libzmq this program is linked with.
//!
//! ```text
//! cargo run --example zmq_monitor_class                # connects tcp://127.0.0.1:7103
//! cargo run --example zmq_monitor_class -- --connect tcp://127.0.0.1:5556
//! ```
//!
//! With nothing listening it prints, every 100 ms, libzmq's attempt
//! (`EVENT_CONNECT_DELAYED`), the descriptor it closes (`EVENT_CLOSED`) and
//! its next try (`EVENT_CONNECT_RETRIED`); once a publisher binds there,
//! `EVENT_CONNECTED` and `EVENT_HANDSHAKE_SUCCEEDED`.
//!
//! [`Connection::monitor`]: tx0mq::connections::Connection::monitor

use std::error::Error;
use std::process::ExitCode;

use clap::Parser;
use tx0mq::connections::pattern::Pattern;
use tx0mq::connections::{
    zmq, Connection, MonitorEvent, ZmqEndpoint, ZmqFactory, ZmqSubConnection,
};
use tx0mq::Reactor;

mod pyport;
use pyport::monitor::{event_line, event_names};

/// Prints every event of `conn`'s socket (the original's `event_monitor`):
/// the header first, then one line per event, and once the monitor stops,
/// a blank line and `event monitor thread done!`.
///
/// # Errors
///
/// As for [`Connection::monitor`].
fn event_monitor<K: Pattern, S: 'static>(
    conn: &Connection<K, S>,
) -> tx0mq::connections::Result<()> {
    let (major, minor, patch) = zmq::version();
    println!("libzmq-{major}.{minor}.{patch}");
    println!("Event names:");
    for (name, value) in event_names() {
        println!("{name:21} : {value:4}");
    }
    println!();
    println!();
    conn.monitor()?;
    conn.on_monitor(|_, event| {
        println!("{}", event_line(event));
        if let MonitorEvent::MonitorStopped { .. } = event {
            println!();
            println!("event monitor thread done!");
        }
    });
    Ok(())
}

fn run(args: Args) -> Result<(), Box<dyn Error>> {
    let reactor = Reactor::new()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();
    let socket = ZmqSubConnection::new(&factory, Vec::new())?;
    socket.subscribe(b"")?;
    event_monitor(&socket)?;
    socket.add_endpoints(ZmqEndpoint::connect(args.connect))?;
    // The original's `while True: m = socket.recv()`.
    socket.message_received(|_, _message| {});
    reactor.run()?;
    Ok(())
}

/// Prints the monitor events of a SUB socket (pyzmq's
/// examples/monitoring/zmq_monitor_class.py).
#[derive(Parser)]
struct Args {
    /// Endpoint the SUB connects to
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://127.0.0.1:7103")]
    connect: String,
}

fn main() -> ExitCode {
    pyport::main(run)
}
