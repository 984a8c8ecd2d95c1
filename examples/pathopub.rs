//! `pathopub.py`, the zguide's pathological publisher (chapter 5, "Last
//! Value Caching"): a PUB socket bound on the endpoint given as its one
//! argument (`tcp://*:5556` without one); after a second, for subscribers to
//! connect, it publishes all 1,000 topics (`000` to `999`, body `Save
//! Roger`) at once, then one random topic a second, body `Off with his
//! head!`, forever. A subscriber that joins late waits for its topic's next
//! random update, which is why `lvcache` exists.
//!
//! The port: the pause is a `call_later`, the random updates a
//! `LoopingCall`.
//!
//! ```sh
//! cargo run --example pathopub -- tcp://*:5557 &
//! cargo run --example lvcache &
//! cargo run --example pathosub -- tcp://localhost:5558
//! ```
//!
//! Prints nothing but `interrupted` on Ctrl-C, as the original. Flags:
//! `--settle-ms` (the pause, 1000), `--interval-ms` (between the random
//! updates, 1000), `--updates N` (stop after N random updates),
//! `--seed N` (repeatable topics).

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tx0mq::connections::{zmq, Error, ZmqConnection, ZmqEndpoint, ZmqFactory};
use tx0mq::{LoopingCall, Reactor};

mod pyport;

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::new()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();
    let publisher = ZmqConnection::new(&factory, zmq::PUB, ZmqEndpoint::bind(&args.url))?;

    // One random update per interval, up to --updates.
    let mut random = pyport::Random::from_seed(args.seed);
    let (limit, mut sent) = (args.updates, 0);
    let random_updates = {
        let publisher = publisher.clone();
        LoopingCall::new(&reactor, move |cx| {
            if limit.is_some_and(|limit| sent >= limit) {
                cx.reactor.stop()?;
                return Ok(());
            }
            let topic = format!("{:03}", random.randint(0, 999));
            publisher.send(vec![&topic[..], "Off with his head!"])?;
            sent += 1;
            Ok::<(), Error>(())
        })
    };

    // Once subscribers had time to connect: send out all 1,000 topic
    // messages, then the random updates.
    let interval = args.interval;
    reactor.call_later(args.settle, move |_| {
        for topic_nbr in 0..1000 {
            publisher.send(vec![format!("{topic_nbr:03}"), "Save Roger".to_string()])?;
        }
        random_updates.start(interval, false)?;
        Ok::<(), Error>(())
    });

    reactor.run()?;
    if reactor.exit_signal().is_some() {
        println!("interrupted");
    }
    Ok(())
}

/// Pathological publisher: 1,000 topics, then one random update a second
/// (zguide's pathopub.py).
#[derive(Parser)]
struct Args {
    /// Where to publish (bind)
    #[arg(value_name = "ENDPOINT", default_value = "tcp://*:5556")]
    url: String,
    /// The pause before the 1,000 topics, for subscribers to connect
    #[arg(long = "settle-ms", value_name = "MS", value_parser = pyport::millis, default_value = "1000")]
    settle: Duration,
    /// The pause between the random updates
    #[arg(long = "interval-ms", value_name = "MS", value_parser = pyport::millis, default_value = "1000")]
    interval: Duration,
    /// Stop after this many random updates [default: never]
    #[arg(long, value_name = "N")]
    updates: Option<u64>,
    /// Seed the random topics, for a repeatable run
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
}

fn main() -> ExitCode {
    pyport::main(run)
}
