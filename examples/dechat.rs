//! `dechat.py`, the zguide's decentralized chat (chapter 8, "A Minimal
//! Chat Application"): each copy publishes what its user types (`USER:
//! LINE`) on a PUB socket bound on a network interface, port 9000, and
//! listens with one SUB socket connected to port 9000 of every address of
//! that interface's /24 (`X.Y.Z.1` to `X.Y.Z.254`), so every copy on the
//! subnet hears every other, and itself. No server, no discovery: ZeroMQ
//! keeps trying the addresses where nobody listens yet.
//!
//! The port: the original's listener thread becomes a SUB connection in
//! the reactor, and its `raw_input()` loop a `LineReceiver` on standard
//! I/O; what the listener hears is written through the same transport
//! (which owns stdout while it is open). The interface is checked against
//! the host's IPv4 interfaces and its first address found with
//! `getifaddrs(3)` (`udplib::ipv4_interfaces`, through the `if-addrs`
//! crate) where the original uses the `netifaces` package. End of input ends the chat (the
//! original dies with `EOFError`).
//!
//! ```sh
//! cargo run --example dechat -- eth0 alice     # on each host of a LAN
//! ```
//!
//! Prints `starting chat on INTERFACE:9000 (X.Y.Z.*)`, then each line heard
//! (`bob: hello`). `--port` replaces 9000; `--address` binds the PUB socket
//! on that address instead of the interface's (two copies on one host,
//! 127.0.0.2 and 127.0.0.3 on `lo`, say; the listener still covers the
//! interface's /24).

use std::net::Ipv4Addr;
use std::process::ExitCode;

use clap::Parser;
use tx0mq::connections::{zmq, ZmqConnection, ZmqEndpoint, ZmqFactory, ZmqSubConnection};
use tx0mq::net::basic::{LineCtx, LineProtocol, LineReceiver};
use tx0mq::net::{Reason, StandardIO};
use tx0mq::Reactor;

mod pyport;
mod udplib;

/// The original's port.
const PORT: u16 = 9000;

/// What the user types: each line is published as `USER: LINE`.
struct Typing {
    bcast: ZmqConnection,
    user: String,
}

impl LineProtocol for Typing {
    fn line_received(&mut self, _cx: &mut LineCtx<'_>, line: &[u8]) {
        let line = String::from_utf8_lossy(line);
        let line = line.strip_suffix('\r').unwrap_or(&line);
        if let Err(e) = self.bcast.send(format!("{}: {line}", self.user)) {
            eprintln!("dechat: cannot publish: {e}");
        }
    }

    fn connection_lost(&mut self, cx: &mut LineCtx<'_>, _reason: &Reason) {
        // End of input (or the reactor's shutdown): the chat is over.
        let _ = cx.reactor.stop();
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let interfaces = udplib::ipv4_interfaces()?;
    let Some(inet) = interfaces.iter().find(|i| i.name == args.interface) else {
        let names: Vec<&str> = interfaces.iter().map(|i| i.name.as_str()).collect();
        return Err(format!(
            "no IPv4 interface named {} (choose from {})",
            pyport::str_repr(&args.interface),
            names.join(", ")
        )
        .into());
    };
    let user = match args.user.or_else(|| std::env::var("USER").ok()) {
        Some(user) => user,
        None => return Err("no user given, and $USER is not set".into()),
    };
    let [a, b, c, _] = inet.address.octets();
    let masked = format!("{a}.{b}.{c}");

    let reactor = Reactor::new()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();

    // The listener: every address of the /24.
    let peers: Vec<ZmqEndpoint> = (1..255)
        .map(|last| ZmqEndpoint::connect(format!("tcp://{masked}.{last}:{}", args.port)))
        .collect();
    let listener = ZmqSubConnection::new(&factory, peers)?;
    listener.subscribe(b"")?;

    let bind = match args.address {
        Some(address) => format!("tcp://{address}:{}", args.port),
        None => format!("tcp://{}:{}", args.interface, args.port),
    };
    let bcast = ZmqConnection::new(&factory, zmq::PUB, ZmqEndpoint::bind(bind))?;
    println!(
        "starting chat on {}:{} ({masked}.*)",
        args.interface, args.port
    );

    let stdio = StandardIO::new(
        &reactor,
        LineReceiver::new(Typing { bcast, user }).delimiter(b"\n"),
    )?;
    let out = stdio.transport().clone();
    listener.message_received(move |_cx, message| {
        let text = String::from_utf8_lossy(pyport::first(&message)).into_owned();
        out.write(text + "\n")
    });

    reactor.run()?;
    Ok(())
}

/// Decentralized chat: publish what you type, hear the whole subnet
/// (zguide's dechat.py).
#[derive(Parser)]
struct Args {
    /// The network interface (eth0, lo, ...)
    interface: String,
    /// Your user name [default: $USER]
    user: Option<String>,
    /// The chat's TCP port
    #[arg(long, default_value_t = PORT)]
    port: u16,
    /// Bind on this address instead of the interface's
    #[arg(long)]
    address: Option<Ipv4Addr>,
}

fn main() -> ExitCode {
    pyport::main(run)
}
