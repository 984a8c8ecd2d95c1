//! `asyncio/tornado_asyncio.py`, pyzmq's example of 0MQ coroutines in
//! tornado running on asyncio's loop: `pushing` binds a PUSH socket on
//! `tcp://*:9000` and sends `Hello` every second; `pulling` connects a PULL
//! socket to `tcp://127.0.0.1:9000` and prints each greeting.
//!
//! The port is the reactor-plus-coroutines version: there is one loop, the
//! reactor, so tornado's `IOLoop` over asyncio's becomes the reactor alone,
//! and `spawn_callback(coroutine)` becomes `Reactor::spawn(async block)`. The
//! PUSH side awaits `send_ready()` before each send (the original's
//! `await server.send(...)`), the PULL side pulls from its `MessageStream`.
//!
//! ```text
//! cargo run --example asyncio_tornado_asyncio -- [--port 9000]
//!     [--interval-ms 1000] [--messages N]
//! ```
//!
//! It prints `b'Hello'` once a second, forever, unless `--messages N` stops
//! it after N greetings.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tx0mq::connections::{
    bytes_repr, ZmqEndpoint, ZmqFactory, ZmqPullConnection, ZmqPushConnection,
};
use tx0mq::reactor::sleep;
use tx0mq::{Failure, Reactor};

mod pyport;

/// `pushing()`: `Hello` every `every`.
async fn pushing(
    reactor: Reactor,
    server: ZmqPushConnection,
    every: Duration,
) -> Result<(), Failure> {
    loop {
        server.send_ready().await?;
        server.push("Hello")?;
        sleep(&reactor, every).await?;
    }
}

/// `pulling()`: prints each greeting; stops the reactor after `messages`.
async fn pulling(
    reactor: Reactor,
    client: ZmqPullConnection,
    messages: Option<u64>,
) -> Result<(), Failure> {
    let mut greetings = client.messages()?;
    let mut count = 0;
    while let Some(greeting) = greetings.next().await {
        println!("{}", bytes_repr(pyport::first(&greeting)));
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
    let server = ZmqPushConnection::new(
        &factory,
        ZmqEndpoint::bind(format!("tcp://*:{}", args.port)),
    )?;
    let client = ZmqPullConnection::new(
        &factory,
        ZmqEndpoint::connect(format!("tcp://127.0.0.1:{}", args.port)),
    )?;
    pyport::run_coroutines(
        &reactor,
        [
            reactor.spawn(pushing(reactor.clone(), server, args.interval)),
            reactor.spawn(pulling(reactor.clone(), client, args.messages)),
        ],
    )
}

/// A PUSH coroutine greets a PULL coroutine every second (pyzmq's
/// asyncio/tornado_asyncio.py).
#[derive(Parser)]
struct Args {
    /// The TCP port the PUSH side binds (on every interface)
    #[arg(long, default_value_t = 9000)]
    port: u16,
    /// How often `Hello` is sent, in milliseconds
    #[arg(long = "interval-ms", value_name = "MS", default_value = "1000", value_parser = pyport::millis)]
    interval: Duration,
    /// Stop after N greetings [default: run forever]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    messages: Option<u64>,
}

fn main() -> ExitCode {
    pyport::main(run)
}
