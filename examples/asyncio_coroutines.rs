//! `asyncio/coroutines.py`, pyzmq's example of 0MQ sockets in asyncio
//! coroutines: three coroutines share one event loop. `ping` prints a dot
//! every half second to show the loop is idle; `sender` binds a PUSH socket
//! on `tcp://127.0.0.1:5555` and, every second, prints `sending` and sends the
//! seconds elapsed since it started; `receiver` connects a PULL socket,
//! awaits the poller, prints `recving` with the poll's events and then the
//! message it received.
//!
//! The port: the three coroutines are Rust `async` blocks spawned on the
//! reactor (`Reactor::spawn`). `asyncio.sleep` is the reactor's `sleep`
//! Deferred awaited as a future; the PUSH side awaits `send_ready()` (the
//! original's `await push.send_multipart(...)`, which waits while the socket
//! cannot take the message) and the PULL side pulls from the connection's
//! `MessageStream` (the poller and `recv_multipart` in one).
//!
//! ```text
//! cargo run --example asyncio_coroutines -- [--url tcp://127.0.0.1:5555]
//!     [--ping-ms 500] [--send-ms 1000] [--messages N]
//! ```
//!
//! It prints `.` every half second, `sending` every second, and for each
//! message `recving [(<PULL>, 1)]` (Python prints the socket object's repr
//! and `POLLIN`, 1) and `recvd [b'1.0012...']`. It runs forever, as the
//! original does, unless `--messages N` stops it after the Nth message is
//! received.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tx0mq::connections::{ZmqEndpoint, ZmqFactory, ZmqPullConnection, ZmqPushConnection};
use tx0mq::{Failure, Reactor};

mod coroutines;
mod pyport;

use coroutines::{ping, sender};

/// `receiver()`: prints each message as it comes; stops the reactor after
/// `messages` of them, if given.
async fn receiver(
    reactor: Reactor,
    pull: ZmqPullConnection,
    messages: Option<u64>,
) -> Result<(), Failure> {
    let mut stream = pull.messages()?;
    let mut count = 0;
    while let Some(message) = stream.next().await {
        // The poller said POLLIN (1) for the PULL socket.
        println!("recving [(<PULL>, 1)]");
        println!("recvd {}", pyport::bytes_list_repr(&message));
        count += 1;
        if messages == Some(count) {
            reactor.stop()?;
        }
    }
    Ok(())
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::new()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();
    let push = ZmqPushConnection::new(&factory, ZmqEndpoint::bind(&args.url))?;
    let pull = ZmqPullConnection::new(&factory, ZmqEndpoint::connect(&args.url))?;
    pyport::run_coroutines(
        &reactor,
        [
            reactor.spawn(ping(reactor.clone(), args.ping)),
            reactor.spawn(receiver(reactor.clone(), pull, args.messages)),
            reactor.spawn(sender(reactor.clone(), push, args.send)),
        ],
    )
}

/// Three coroutines in one loop: dots, a PUSH sender, a PULL receiver
/// (pyzmq's asyncio/coroutines.py).
#[derive(Parser)]
struct Args {
    /// Where the PUSH side binds and the PULL side connects
    #[arg(long, default_value = "tcp://127.0.0.1:5555")]
    url: String,
    /// How often a dot is printed, in milliseconds
    #[arg(long = "ping-ms", value_name = "MS", default_value = "500", value_parser = pyport::millis)]
    ping: Duration,
    /// How often a message is sent, in milliseconds
    #[arg(long = "send-ms", value_name = "MS", default_value = "1000", value_parser = pyport::millis)]
    send: Duration,
    /// Stop after N messages are received [default: run forever]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    messages: Option<u64>,
}

fn main() -> ExitCode {
    pyport::main(run)
}
