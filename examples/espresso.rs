//! `espresso.py`, the zguide's Espresso pattern (chapter 5, "Pub-Sub
//! Tracing (Espresso Pattern)"): a proxy that captures what flows through
//! it. A publisher sends a random message, a letter `A` to `K` and a
//! number (`C-04211`), every tenth of a second on `tcp://*:6000`; the proxy,
//! an XSUB connected to it and an XPUB on `tcp://*:6001`, passes messages
//! down and subscriptions up, and copies every one to a listener through a
//! pipe, prefixed with `pub` (a message) or `sub` (a subscription); the
//! listener prints them. A subscriber, subscribed to `A` and `B`, counts
//! five messages and stops (`Subscriber received 5 messages`).
//!
//! The port: everything is on the reactor. The publisher is a PUB
//! connection and a `LoopingCall`; the subscriber a SUB connection, shut
//! down after its fifth message (the original's thread ends). The proxy is
//! pyzmq's `monitored_queue`, as the library's
//! [`Device::monitored_queue`]: the XSUB and XPUB connections forward each
//! message to the other side and copy it, prefixed, to the capture pipe, a
//! PAIR connection over `inproc`; the listener is the PAIR connection at
//! the pipe's other end.
//!
//! ```sh
//! cargo run --example espresso
//! ```
//!
//! Prints what the listener hears, as Python 3 prints a list of bytes:
//! `[b'sub', b'\x01A']`, `[b'sub', b'\x01B']` (the subscriptions), `[b'pub',
//! b'A-31415']` (each message), `[b'sub', b'\x00A']` when the subscriber
//! leaves; and `Subscriber received 5 messages`. It runs until Ctrl-C
//! (`Interrupted`). Flags: `--publisher` (bind), `--xsub` (the proxy's
//! frontend, connect), `--xpub` (its backend, bind), `--subscriber`
//! (connect), `--interval-ms` (100), `--seed N`.

use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use clap::Parser;
use tx0mq::connections::{
    zmq, Device, Error, ZmqConnection, ZmqEndpoint, ZmqFactory, ZmqSubConnection,
};
use tx0mq::{LoopingCall, Reactor};

mod pyport;

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::new()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();

    // The publisher sends random messages starting with A-K
    let publisher = ZmqConnection::new(&factory, zmq::PUB, ZmqEndpoint::bind(&args.publisher))?;
    let mut random = pyport::Random::from_seed(args.seed);
    let ticker = LoopingCall::new(&reactor, move |_| {
        let letter = char::from(b'A' + random.randint(0, 10) as u8);
        let string = format!("{letter}-{:05}", random.randint(0, 100_000));
        publisher.send(string)
    });
    ticker.start(args.interval, true)?;

    // The proxy, and its capture pipe to the listener
    static PIPES: AtomicUsize = AtomicUsize::new(0);
    let pipe_name = format!(
        "inproc://espresso-pipe-{}",
        PIPES.fetch_add(1, Ordering::Relaxed)
    );
    let capture = ZmqConnection::new(&factory, zmq::PAIR, ZmqEndpoint::bind(&pipe_name))?;
    let listener = ZmqConnection::new(&factory, zmq::PAIR, ZmqEndpoint::connect(&pipe_name))?;
    let xsub = ZmqConnection::new(&factory, zmq::XSUB, ZmqEndpoint::connect(&args.xsub))?;
    let xpub = ZmqConnection::new(&factory, zmq::XPUB, ZmqEndpoint::bind(&args.xpub))?;
    // Every message down and every subscription up is also copied to the
    // pipe, prefixed with "pub" or "sub"
    Device::monitored_queue(&xsub, &xpub, &capture, b"pub", b"sub")?;

    // The listener prints everything that arrives on the pipe
    listener.message_received(|_, message| {
        println!("{}", pyport::bytes_list_repr(&message[..]));
    });

    // The subscriber asks for messages starting with A and B, and counts
    // five of them
    let subscriber = ZmqSubConnection::new(&factory, ZmqEndpoint::connect(&args.subscriber))?;
    subscriber.subscribe(b"A")?;
    subscriber.subscribe(b"B")?;
    let mut count = 0;
    subscriber.message_received(move |cx, _| {
        count += 1;
        if count == 5 {
            println!("Subscriber received {count} messages");
            cx.conn.shutdown();
        }
        Ok::<(), Error>(())
    });

    reactor.run()?;
    if reactor.exit_signal().is_some() {
        println!("Interrupted");
    }
    Ok(())
}

/// Espresso: a pub-sub proxy that captures what flows through it (zguide's
/// espresso.py).
#[derive(Parser)]
struct Args {
    /// Where the publisher publishes (bind)
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://*:6000")]
    publisher: String,
    /// The proxy's frontend, to the publisher (connect)
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://localhost:6000")]
    xsub: String,
    /// The proxy's backend, for subscribers (bind)
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://*:6001")]
    xpub: String,
    /// Where the subscriber reads (connect)
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://localhost:6001")]
    subscriber: String,
    /// The pause between the publisher's messages
    #[arg(long = "interval-ms", value_name = "MS", value_parser = pyport::millis, default_value = "100")]
    interval: Duration,
    /// Seed the publisher's messages
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
}

fn main() -> ExitCode {
    pyport::main(run)
}
