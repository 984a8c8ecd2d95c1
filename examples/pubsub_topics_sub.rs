//! `pubsub/topics_sub.py`, pyzmq's subscriber to topics: a SUB socket
//! connected where the command line says subscribes to the topics named
//! after the endpoint (everything if none) and prints each two-frame
//! message `[topic, msg]` until interrupted. Its publisher is
//! `topics_pub.py` (or this crate's `pubsub_topics_pub`).
//!
//! The port: the original's receive loop is the SUB connection's
//! `message_received`, which gets the frames as they came; Ctrl-C stops the
//! reactor. A message that is not two frames is printed as malformed,
//! naming its frame count, and ignored (the original would stop on it).
//!
//! ```sh
//! cargo run --example pubsub_topics_pub -- tcp://127.0.0.1:5556 &
//! cargo run --example pubsub_topics_sub -- tcp://127.0.0.1:5556 sports weather
//! ```
//!
//! Prints `Receiving messages on topics: ['sports', 'weather'] ...` (or
//! `Receiving messages on ALL topics...`), then `   Topic: sports.general,
//! msg:0`, ... one line per message; `Done.` at the end. Flag: `--count N`
//! (stop after N messages; the original runs until interrupted).

use std::process::ExitCode;

use clap::Parser;
use tx0mq::connections::{ZmqEndpoint, ZmqFactory, ZmqSubConnection};
use tx0mq::Reactor;

mod pyport;

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::new()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();
    let subscriber = ZmqSubConnection::new(&factory, ZmqEndpoint::connect(args.connect_to))?;

    // Manage subscriptions.
    if args.topics.is_empty() {
        println!("Receiving messages on ALL topics...");
        subscriber.subscribe(b"")?;
    } else {
        println!(
            "Receiving messages on topics: {} ...",
            pyport::str_list_repr(&args.topics)
        );
        for topic in &args.topics {
            subscriber.subscribe(topic.as_bytes())?;
        }
    }

    let count = args.count;
    let mut received = 0;
    subscriber.message_received(move |cx, message| {
        let [topic, msg] = &message[..] else {
            println!(
                "malformed message of {} frame(s), not [topic, msg]: ignored",
                message.len()
            );
            return Ok(());
        };
        println!(
            "   Topic: {}, msg:{}",
            String::from_utf8_lossy(topic),
            String::from_utf8_lossy(msg)
        );
        received += 1;
        if count.is_some_and(|n| received >= n) {
            cx.reactor.stop()?;
        }
        Ok::<(), Box<dyn std::error::Error>>(())
    });

    reactor.run()?;
    println!("Done.");
    Ok(())
}

/// Prints the messages of the topics asked for (pyzmq's
/// pubsub/topics_sub.py).
#[derive(Parser)]
struct Args {
    /// Endpoint of the publisher
    #[arg(value_name = "CONNECT_TO")]
    connect_to: String,
    /// Topics (prefixes) to subscribe to; none means all
    #[arg(value_name = "TOPIC")]
    topics: Vec<String>,
    /// Stop after this many messages (default: until interrupted)
    #[arg(long, value_name = "N")]
    count: Option<u64>,
}

fn main() -> ExitCode {
    pyport::main(run)
}
