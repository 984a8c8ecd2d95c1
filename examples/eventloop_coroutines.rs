//! `eventloop/coroutines.py`, pyzmq's example of 0MQ sockets in tornado
//! coroutines (`zmq.eventloop.future`): `ping` prints a dot every quarter
//! second; `sender` binds a PUSH socket on `tcp://127.0.0.1:5555` and, every
//! second, prints `sending` and sends the seconds since it started;
//! `receiver` connects a PULL socket and polls it with a 500 ms timeout,
//! printing `recving` and the message when one came, `nothing to recv` when
//! the poll timed out.
//!
//! The port: as `asyncio_coroutines`, three `async` blocks spawned on the
//! reactor; the poll with a timeout is the `MessageStream`'s
//! `next_timeout`, a reactor timer raced against the next message (tornado's
//! `poller.poll(timeout=500)`).
//!
//! ```text
//! cargo run --example eventloop_coroutines -- [--url tcp://127.0.0.1:5555]
//!     [--ping-ms 250] [--poll-ms 500] [--send-ms 1000] [--messages N]
//! ```
//!
//! It prints `.` every quarter second, `sending` every second, `nothing to
//! recv` after each half second without a message, and for each message
//! `recving [(<PULL>, 1)]` (Python prints the socket object's repr and
//! `POLLIN`, 1) and `recvd [b'1.0012...']`. It runs forever unless
//! `--messages N` stops it after the Nth message.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tx0mq::connections::{ZmqEndpoint, ZmqFactory, ZmqPullConnection, ZmqPushConnection};
use tx0mq::{Failure, Reactor};

mod coroutines;
mod pyport;

use coroutines::{ping, sender};

/// `receiver()`: polls with a timeout; stops the reactor after `messages`
/// messages, if given.
async fn receiver(
    reactor: Reactor,
    pull: ZmqPullConnection,
    timeout: Duration,
    messages: Option<u64>,
) -> Result<(), Failure> {
    let mut stream = pull.messages()?;
    let mut count = 0;
    loop {
        match stream.next_timeout(timeout).await {
            Ok(Some(message)) => {
                println!("recving [(<PULL>, 1)]");
                println!("recvd {}", pyport::bytes_list_repr(&message));
                count += 1;
                if messages == Some(count) {
                    reactor.stop()?;
                }
            }
            Ok(None) => return Ok(()),
            Err(_elapsed) => println!("nothing to recv"),
        }
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::new()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();
    let pull = ZmqPullConnection::new(&factory, ZmqEndpoint::connect(&args.url))?;
    let push = ZmqPushConnection::new(&factory, ZmqEndpoint::bind(&args.url))?;
    pyport::run_coroutines(
        &reactor,
        [
            reactor.spawn(ping(reactor.clone(), args.ping)),
            reactor.spawn(receiver(reactor.clone(), pull, args.poll, args.messages)),
            reactor.spawn(sender(reactor.clone(), push, args.send)),
        ],
    )
}

/// Three tornado-style coroutines: dots, a PUSH sender, a PULL receiver that
/// polls with a timeout (pyzmq's eventloop/coroutines.py).
#[derive(Parser)]
struct Args {
    /// Where the PUSH side binds and the PULL side connects
    #[arg(long, default_value = "tcp://127.0.0.1:5555")]
    url: String,
    /// How often a dot is printed, in milliseconds
    #[arg(long = "ping-ms", value_name = "MS", default_value = "250", value_parser = pyport::millis)]
    ping: Duration,
    /// How long the receiver polls before `nothing to recv`, in milliseconds
    #[arg(long = "poll-ms", value_name = "MS", default_value = "500", value_parser = pyport::millis)]
    poll: Duration,
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
