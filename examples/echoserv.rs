//! `echoserv.py`, the simplest server of Twisted's documentation
//! (`docs/core/examples/echoserv.py`): a protocol that writes back whatever
//! it receives, served by `reactor.listenTCP(8000, factory)` on every
//! interface. Its other half is `echoclient.py` (or this crate's
//! `echoclient`); `telnet localhost 8000` works too.
//!
//! The port: `Echo` implements `Protocol` (Twisted's subclass of
//! `Protocol` with `dataReceived`); the factory whose `protocol` is `Echo`
//! is a closure that builds one per connection; `reactor.listenTCP(8000,
//! f)` is `reactor.listen_tcp(8000, f)`. `--interface` is `listenTCP`'s
//! `interface` argument, and `--port 0` lets the kernel choose a port,
//! which is then printed (the original has no flags and prints nothing).
//!
//! ```text
//! cargo run --example echoserv                    # port 8000, every interface
//! cargo run --example echoserv -- --interface 127.0.0.1 --port 0
//! ```
//!
//! Prints nothing; with `--port 0`, `Listening on 127.0.0.1:43121`. Runs
//! until interrupted.

use std::net::IpAddr;
use std::process::ExitCode;

use clap::Parser;
use tx0mq::net::{NetCtx, Protocol};
use tx0mq::Reactor;

mod pyport;

/// This is just about the simplest possible protocol.
struct Echo;

impl Protocol for Echo {
    fn data_received(&mut self, cx: &mut NetCtx<'_>, data: &[u8]) {
        // As soon as any data is received, write it back.
        if let Err(e) = cx.transport.write(data) {
            log::warn!("{e}");
        }
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::new()?;
    let _port = pyport::listen_tcp(&reactor, args.interface, args.port, |_addr| Echo)?;
    reactor.run()?;
    Ok(())
}

/// Echo server: writes back what each client sends (Twisted's echoserv.py).
#[derive(Parser)]
struct Args {
    /// TCP port to listen on (0: the kernel chooses, and it is printed)
    #[arg(long, default_value_t = 8000)]
    port: u16,
    /// Address of the interface to listen on (Twisted's `interface`)
    #[arg(long, value_name = "ADDRESS", default_value = "0.0.0.0")]
    interface: IpAddr,
}

fn main() -> ExitCode {
    pyport::main(run)
}
