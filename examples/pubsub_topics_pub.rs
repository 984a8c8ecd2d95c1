//! `pubsub/topics_pub.py`, pyzmq's publisher of topics: a PUB socket bound
//! where the command line says sends, every tenth of a second, a two-frame
//! message `[topic, counter]` cycling through seven topics
//! (`sports.general` ... `weather`), until interrupted. Subscribers filter
//! on the topic frame's start: `s` catches `sports.*` and `stocks.*`. Its
//! subscriber is `topics_sub.py` (or this crate's `pubsub_topics_sub`).
//!
//! The port: the original's sleep loop is a `LoopingCall` started after the
//! one-second wait for subscribers (`call_later`); Ctrl-C stops the reactor.
//!
//! ```sh
//! cargo run --example pubsub_topics_pub -- tcp://127.0.0.1:5556 &
//! cargo run --example pubsub_topics_sub -- tcp://127.0.0.1:5556 sports
//! ```
//!
//! Prints `Starting broadcast on topics:`, the topics as a Python list,
//! `Hit Ctrl-C to stop broadcasting.`, `Waiting so subscriber sockets can
//! connect...`, an empty line, then `   Topic: sports.general, msg:0`, ...
//! one line per message; at the end `Waiting for message queues to
//! flush...` and `Done.`. Flags: `--count N` (stop after N messages; the
//! original runs until interrupted), `--interval-ms` (100), `--delay-ms`
//! (the wait for subscribers, 1000).

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tx0mq::connections::{ZmqEndpoint, ZmqFactory, ZmqPubConnection};
use tx0mq::{LoopingCall, Reactor};

mod pyport;

/// The topics, in the order they are cycled through.
const ALL_TOPICS: [&str; 7] = [
    "sports.general",
    "sports.football",
    "sports.basketball",
    "stocks.general",
    "stocks.GOOG",
    "stocks.AAPL",
    "weather",
];

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::new()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();
    let publisher = ZmqPubConnection::new(&factory, ZmqEndpoint::bind(args.bind_to))?;

    println!("Starting broadcast on topics:");
    println!("   {}", pyport::str_list_repr(&ALL_TOPICS));
    println!("Hit Ctrl-C to stop broadcasting.");
    println!("Waiting so subscriber sockets can connect...");
    println!();

    let count = args.count;
    let mut msg_counter = 0u64;
    let broadcast = LoopingCall::new(&reactor, move |cx| {
        let sent = msg_counter;
        msg_counter += 1;
        let topic = ALL_TOPICS[(sent % ALL_TOPICS.len() as u64) as usize];
        let msg_body = sent.to_string();
        println!("   Topic: {topic}, msg:{msg_body}");
        publisher.send([topic.as_bytes(), msg_body.as_bytes()])?;
        if count.is_some_and(|n| sent + 1 >= n) {
            cx.reactor.stop()?;
        }
        Ok::<(), Box<dyn std::error::Error>>(())
    });
    let interval = args.interval;
    reactor.call_later(args.delay, move |_| {
        broadcast.start(interval, true).map(drop)
    });

    reactor.run()?;
    println!("Waiting for message queues to flush...");
    std::thread::sleep(Duration::from_millis(500));
    println!("Done.");
    Ok(())
}

/// Publishes a counter on seven topics in turn (pyzmq's
/// pubsub/topics_pub.py).
#[derive(Parser)]
struct Args {
    /// Endpoint to bind the PUB socket to
    #[arg(value_name = "BIND_TO")]
    bind_to: String,
    /// Stop after this many messages (default: until interrupted)
    #[arg(long, value_name = "N")]
    count: Option<u64>,
    /// Time between messages, in milliseconds
    #[arg(long = "interval-ms", value_name = "MS", default_value = "100", value_parser = pyport::millis)]
    interval: Duration,
    /// Wait for subscribers before the first message, in milliseconds
    #[arg(long = "delay-ms", value_name = "MS", default_value = "1000", value_parser = pyport::millis)]
    delay: Duration,
}

fn main() -> ExitCode {
    pyport::main(run)
}
