//! `pubsub/subscriber.py`, pyzmq's array subscriber: a SUB socket connected
//! to `<connect-to>` (subscribed to everything) tells the publisher it is
//! ready through a REQ/REP exchange on the next port (`READY`, answered
//! `GO`), then receives `<array-count>` arrays and prints the message size
//! and the throughput. Its publisher is `publisher.py` (or this crate's
//! `pubsub_publisher`).
//!
//! The port: the exchange is a REQ connection; its reply sets the SUB
//! connection's callback (until then nothing is read, so no array is
//! counted before the clock starts). The arrays are read with `on_frames`,
//! borrowed from a reused buffer, as the bytes they are (the original
//! unpickles each into a numpy array). The time is the wall clock's (the
//! original's `time.process_time()` counts the process's CPU time, which
//! the standard library does not offer).
//!
//! ```sh
//! cargo run --example pubsub_publisher -- tcp://127.0.0.1:5555 100 1000 &
//! cargo run --example pubsub_subscriber -- tcp://127.0.0.1:5555 1000
//! ```
//!
//! Prints `Receiving arrays...`, `   Done.`, then `message size: 80000
//! [B]`, `array count: 1000`, `mean throughput: 12345 [msg/s]` and `mean
//! throughput: 987.654 [Mb/s]`, and exits a second later.
//!
//! As in the original, `READY` may reach the publisher before the
//! subscription does (two TCP connections), and the first arrays are then
//! lost to the SUB and it waits for ever; `--settle-ms` (default 0, the
//! original's none) waits before `READY` to make that unlikely.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use tx0mq::connections::{zmq, ZmqConnection, ZmqEndpoint, ZmqFactory, ZmqSubConnection};
use tx0mq::Reactor;

mod pubsub;
mod pyport;

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let sync_with = pubsub::sync_endpoint(&args.connect_to)?;
    let reactor = Reactor::new()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();

    let subscriber = ZmqSubConnection::new(&factory, ZmqEndpoint::connect(args.connect_to))?;
    subscriber.subscribe(b"")?;

    let sync = ZmqConnection::new(&factory, zmq::REQ, ZmqEndpoint::connect(sync_with))?;
    let ready = sync.clone();
    reactor.call_later(args.settle, move |_| ready.send("READY"));
    let array_count = args.array_count;
    sync.message_received(move |cx, _go| {
        cx.conn.shutdown();
        let start = Instant::now();
        println!("Receiving arrays...");
        let mut received = 0u64;
        subscriber.on_frames(move |cx, frames| {
            received += 1;
            if received < array_count {
                return Ok(());
            }
            println!("   Done.");
            let elapsed = start.elapsed().as_secs_f64().max(f64::MIN_POSITIVE);
            let throughput = array_count as f64 / elapsed;
            let message_size: usize = frames.iter().map(|f| f.len()).sum();
            let megabits = throughput * message_size as f64 * 8.0 / 1_000_000.0;
            println!("message size: {message_size} [B]");
            println!("array count: {array_count}");
            println!("mean throughput: {throughput:.0} [msg/s]");
            println!("mean throughput: {megabits:.3} [Mb/s]");
            cx.conn.shutdown();
            cx.reactor
                .call_later(Duration::from_secs(1), |cx| cx.reactor.stop());
            Ok::<(), Box<dyn std::error::Error>>(())
        });
    });

    reactor.run()?;
    Ok(())
}

/// Receives arrays from a publisher and prints the throughput (pyzmq's
/// pubsub/subscriber.py).
#[derive(Parser)]
struct Args {
    /// Endpoint of the publisher; its sync socket is on the port + 1
    #[arg(value_name = "CONNECT_TO")]
    connect_to: String,
    /// How many arrays to receive
    #[arg(value_name = "ARRAY_COUNT", value_parser = clap::value_parser!(u64).range(1..))]
    array_count: u64,
    /// Wait before saying READY, in milliseconds, so that the subscription
    /// reaches the publisher before its first array
    #[arg(long = "settle-ms", value_name = "MS", default_value = "0", value_parser = pyport::millis)]
    settle: Duration,
}

fn main() -> ExitCode {
    pyport::main(run)
}
