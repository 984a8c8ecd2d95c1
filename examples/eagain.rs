//! `eagain.py`, the zguide's demonstration of EAGAIN (chapter 8): a DEALER
//! with a send high-water mark of 4 and a send timeout of 0 connects to
//! `tcp://localhost:9876`, where nobody listens, and sends ten messages
//! (`message 0` ... `message 9`). libzmq takes the first four into the
//! pipe it keeps for the coming peer; the fifth finds the pipe full and,
//! as the socket may not wait, the send fails with EAGAIN
//! (`Resource temporarily unavailable`), which the original prints before
//! giving up.
//!
//! What our connection does instead: a send never fails because libzmq
//! said EAGAIN. The message waits, whole and in order, in the connection's
//! outbox, to go out when libzmq can take it (here: when a peer comes),
//! and the reactor is never blocked. So, by default, all ten sends succeed:
//! four are in libzmq's pipe and six in the outbox, which the port prints
//! at the end (`outbox: 6 messages waiting`). The outbox has limits too
//! (10,000 messages and 64 MiB by default, `ZmqOptions::outbox_limit` and
//! `outbox_bytes_limit`): past them a send fails with `OutboxFull`, our
//! EAGAIN, which the port prints, as the original prints EAGAIN, before
//! giving up. `--outbox-limit 0` asks for no outbox at all, and the port
//! then stops at the fifth message, as the original does:
//!
//! ```sh
//! cargo run --example eagain                      # ten sends, six waiting in the outbox
//! cargo run --example eagain -- --outbox-limit 0  # the fifth fails: the original's run
//! cargo run --example eagain -- --messages 10010  # the outbox fills at 10,004
//! ```
//!
//! Prints `Sending message N` before each send; the error of the send that
//! failed, if one did; then `outbox: N messages waiting`. It needs no
//! reactor run: the sends are made, and the connection closed (linger 0,
//! the original's `ctx.destroy(linger=0)`), before it exits. `--endpoint`
//! replaces where it connects, `--messages` the number of sends (10),
//! `--hwm` the high-water mark (4), `--outbox-limit` the outbox's message
//! limit (default: the library's, 10,000).

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tx0mq::connections::{zmq, Error, ZmqConnection, ZmqEndpoint, ZmqFactory, ZmqOptions};
use tx0mq::Reactor;

mod pyport;

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::new()?;
    let factory = ZmqFactory::new(&reactor)?;
    let mut options = ZmqOptions::new().sndhwm(args.hwm).linger(Duration::ZERO);
    if let Some(limit) = args.outbox_limit {
        options = options.outbox_limit(limit);
    }
    let mailbox = ZmqConnection::with_options(
        &factory,
        zmq::DEALER,
        ZmqEndpoint::connect(&args.endpoint),
        &options,
    )?;

    for count in 0..args.messages {
        println!("Sending message {count}");
        match mailbox.send(format!("message {count}")) {
            Ok(()) => {}
            // Our EAGAIN: libzmq's pipe and the outbox are both full.
            Err(e @ Error::OutboxFull { .. }) => {
                println!("{e}");
                break;
            }
            Err(e) => return Err(e.into()),
        }
    }
    println!("outbox: {} messages waiting", mailbox.outbox_len());

    factory.shutdown();
    Ok(())
}

/// Provoke EAGAIN at the high-water mark, and see what the outbox makes of
/// it (zguide's eagain.py).
#[derive(Parser)]
struct Args {
    /// Where the DEALER connects (nobody should listen there)
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://localhost:9876")]
    endpoint: String,
    /// How many messages to send
    #[arg(long, default_value_t = 10)]
    messages: u32,
    /// The DEALER's send high-water mark
    #[arg(long, default_value_t = 4)]
    hwm: i32,
    /// The outbox's message limit [default: the library's, 10000]
    #[arg(long)]
    outbox_limit: Option<usize>,
}

fn main() -> ExitCode {
    pyport::main(run)
}
