//! `chatserver.py`, "the most basic chat protocol possible" of Twisted's
//! documentation (`docs/core/examples/chatserver.py`): a `LineReceiver` on
//! TCP port 1025 that prints `Got new client!` for each connection, prints
//! each line it receives (`received b'hello'`) and sends it, with `\n`, to
//! every client (the sender included), and prints `Lost a client!` when one
//! leaves. Connect with several `telnet localhost 1025`.
//!
//! The port: the original is a `.tac` file run by `twistd -y` as a
//! service; this is a program that listens by itself (`reactor.listen_tcp`)
//! and runs until interrupted. The factory's `clients` list becomes the
//! reactor's state, `cx.state.clients`, a list of transports that every
//! connection's callbacks reach; `c.message(line)` writes to a client's
//! transport. `--interface` and `--port` are `internet.TCPServer`'s, and
//! `--port 0` lets the kernel choose a port, which is then printed.
//!
//! ```text
//! cargo run --example chatserver                  # port 1025, every interface
//! cargo run --example chatserver -- --interface 127.0.0.1 --port 0
//! ```
//!
//! Prints `Got new client!`, `received b'hi'`, `Lost a client!`; with
//! `--port 0`, `Listening on 127.0.0.1:43121` first.

use std::net::IpAddr;
use std::process::ExitCode;

use clap::Parser;
use tx0mq::connections::bytes_repr;
use tx0mq::net::basic::{LineCtx, LineProtocol, LineReceiver};
use tx0mq::net::{Reason, Transport};
use tx0mq::Reactor;

mod pyport;

/// What every connection shares: the factory's `clients` in the original.
#[derive(Default)]
struct Chat {
    clients: Vec<Transport<Chat>>,
}

struct MyChat;

impl LineProtocol<Chat> for MyChat {
    fn connection_made(&mut self, cx: &mut LineCtx<'_, Chat>) {
        println!("Got new client!");
        cx.state.clients.push(cx.transport.clone());
    }

    fn connection_lost(&mut self, cx: &mut LineCtx<'_, Chat>, _reason: &Reason) {
        println!("Lost a client!");
        let me = cx.transport;
        cx.state.clients.retain(|c| c != me);
    }

    fn line_received(&mut self, cx: &mut LineCtx<'_, Chat>, line: &[u8]) {
        println!("received {}", bytes_repr(line));
        for c in &cx.state.clients {
            message(c, line);
        }
    }
}

/// `MyChat.message`: one line to one client.
fn message(client: &Transport<Chat>, message: &[u8]) {
    if let Err(e) = client.write_sequence([message, b"\n"]) {
        log::warn!("{e}");
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::with_state(Chat::default())?;
    let _port = pyport::listen_tcp(&reactor, args.interface, args.port, |_addr| {
        LineReceiver::new(MyChat)
    })?;
    reactor.run()?;
    Ok(())
}

/// Chat server: every line to every client (Twisted's chatserver.py).
#[derive(Parser)]
struct Args {
    /// TCP port to listen on (0: the kernel chooses, and it is printed)
    #[arg(long, default_value_t = 1025)]
    port: u16,
    /// Address of the interface to listen on
    #[arg(long, value_name = "ADDRESS", default_value = "0.0.0.0")]
    interface: IpAddr,
}

fn main() -> ExitCode {
    pyport::main(run)
}
