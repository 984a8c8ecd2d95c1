//! `pubsub/publisher.py`, pyzmq's array publisher: a PUB socket bound to
//! `<bind-to>` sends `<array-count>` random `<array-size>` x `<array-size>`
//! arrays of floats, once a subscriber said it is ready through a REQ/REP
//! exchange on the port after `<bind-to>`'s (`READY`, answered `GO`). Its
//! subscriber is `subscriber.py` (or this crate's `pubsub_subscriber`),
//! which measures the throughput.
//!
//! The port: the original's blocking `recv` on the sync socket is a REP
//! connection's `message_received`, which answers `GO` and sends the
//! arrays. Each array goes as one frame of little-endian `f64`s, row after
//! row (numpy's own buffer), where the original pickles the numpy array
//! (`send_pyobj`): Rust has no pickle, and the size per message is within
//! a hundred bytes of the original's. The PUB lingers until every array is
//! out, as the original's context does at exit.
//!
//! ```sh
//! cargo run --example pubsub_publisher -- tcp://127.0.0.1:5555 100 1000 &
//! cargo run --example pubsub_subscriber -- tcp://127.0.0.1:5555 1000
//! ```
//!
//! Prints `Waiting for subscriber to connect...`, `   Done.` once it has,
//! then `Sending arrays...` and `   Done.`. Arguments as the original's; a
//! size or count that is not an integer exits 2 with clap's message (the
//! original prints `array-size and array-count must be integers` and exits
//! 1). Flag: `--seed` (the arrays' numbers).

use std::process::ExitCode;

use clap::Parser;
use tx0mq::connections::ZmqPubConnection;
use tx0mq::connections::{zmq, ZmqConnection, ZmqEndpoint, ZmqFactory, ZmqOptions};
use tx0mq::Reactor;

mod pubsub;
mod pyport;

/// One random `size` x `size` array of floats in `[0, 1)`, as bytes.
fn random_array(rng: &mut pyport::Random, size: usize) -> Vec<u8> {
    const SCALE: i64 = 1 << 53;
    let mut bytes = Vec::with_capacity(size * size * 8);
    for _ in 0..size * size {
        let x = rng.randrange(0, SCALE) as f64 / SCALE as f64;
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    bytes
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let sync_with = pubsub::sync_endpoint(&args.bind_to)?;
    let reactor = Reactor::new()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();

    let options = ZmqOptions::default().linger_forever();
    let publisher =
        ZmqPubConnection::with_options(&factory, ZmqEndpoint::bind(args.bind_to), &options)?;

    let sync = ZmqConnection::new(&factory, zmq::REP, ZmqEndpoint::bind(sync_with))?;
    println!("Waiting for subscriber to connect...");
    let (size, count) = (args.array_size, args.array_count);
    let mut rng = pyport::Random::from_seed(args.seed);
    sync.message_received(move |cx, _ready| {
        println!("   Done.");
        cx.conn.send("GO")?;
        println!("Sending arrays...");
        for _ in 0..count {
            publisher.send(random_array(&mut rng, size))?;
        }
        println!("   Done.");
        cx.reactor.stop()?;
        Ok::<(), Box<dyn std::error::Error>>(())
    });

    reactor.run()?;
    Ok(())
}

/// Publishes random arrays once a subscriber is ready (pyzmq's
/// pubsub/publisher.py).
#[derive(Parser)]
struct Args {
    /// Endpoint to bind the PUB socket to; the sync socket binds its port + 1
    #[arg(value_name = "BIND_TO")]
    bind_to: String,
    /// Side of each square array
    #[arg(value_name = "ARRAY_SIZE")]
    array_size: usize,
    /// How many arrays to send
    #[arg(value_name = "ARRAY_COUNT")]
    array_count: usize,
    /// Seed of the arrays' numbers (default: from the clock)
    #[arg(long)]
    seed: Option<u64>,
}

fn main() -> ExitCode {
    pyport::main(run)
}
