//! `pathosub.py`, the zguide's pathological subscriber (chapter 5, "Last
//! Value Caching"): a SUB socket connected to the endpoint given as its one
//! argument (`tcp://localhost:5556` without one), subscribed to one random
//! topic of `pathopub`'s thousand (`000` to `999`); it prints the body of
//! each message, forever.
//!
//! The port: the receive loop is the SUB connection's callback. A message
//! that is not two frames, or not of its topic (the original asserts), is
//! reported and ignored.
//!
//! ```sh
//! cargo run --example pathopub &
//! cargo run --example pathosub
//! ```
//!
//! Prints each body: `Save Roger`, `Off with his head!`. Flags: `--topic
//! NNN` (the topic instead of a random one), `--seed N`.

use std::process::ExitCode;

use clap::Parser;
use tx0mq::connections::{ZmqEndpoint, ZmqFactory, ZmqSubConnection};
use tx0mq::Reactor;

mod pyport;

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::new()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();
    let subscriber = ZmqSubConnection::new(&factory, ZmqEndpoint::connect(&args.url))?;

    let subscription = args.topic.unwrap_or_else(|| {
        let mut random = pyport::Random::from_seed(args.seed);
        format!("{:03}", random.randint(0, 999))
    });
    subscriber.subscribe(&subscription)?;

    subscriber.message_received(move |_, message| match &message[..] {
        [topic, data] if topic[..] == *subscription.as_bytes() => {
            println!("{}", String::from_utf8_lossy(data));
        }
        _ => println!(
            "E: not a message of topic {subscription}, ignored: {}",
            pyport::bytes_list_repr(&message[..])
        ),
    });

    reactor.run()?;
    Ok(())
}

/// Pathological subscriber: prints the messages of one random topic
/// (zguide's pathosub.py).
#[derive(Parser)]
struct Args {
    /// The publisher (connect)
    #[arg(value_name = "ENDPOINT", default_value = "tcp://localhost:5556")]
    url: String,
    /// The topic to subscribe to [default: a random one, 000 to 999]
    #[arg(long, value_name = "NNN")]
    topic: Option<String>,
    /// Seed the random topic
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
}

fn main() -> ExitCode {
    pyport::main(run)
}
