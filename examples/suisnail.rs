//! `suisnail.py`, the zguide's Suicidal Snail (chapter 5, "Slow Subscriber
//! Detection (Suicidal Snail Pattern)"): a publisher sends the time
//! (`time.time()`, pickled) on `tcp://*:5556` every millisecond; a
//! subscriber, connected to it and subscribed to everything, works one to
//! three milliseconds on each message, so it falls ever further behind.
//! When a message is more than a second old, the subscriber prints `E:
//! subscriber cannot keep up, aborting` on stderr and dies, telling the main
//! task through a pipe; the main task stops the publisher and exits.
//!
//! The port: the publisher is a PUB connection and a one-millisecond
//! `LoopingCall` on the reactor. The subscriber stays a thread, as in the
//! original's design (its work is a sleep, which must not stop the
//! reactor), with its own blocking SUB socket from the factory's context;
//! its pipe to the main task is a PAIR pair over `inproc`, the reactor's
//! end a connection whose callback stops the publisher and, a tenth of a
//! second later, the reactor. The time travels as Python's pickle of a
//! float (protocol 4, `pickle.dumps(time.time())`), as in the original; a
//! message that is not one is reported and skipped.
//!
//! ```sh
//! cargo run --example suisnail
//! ```
//!
//! Prints `E: subscriber cannot keep up, aborting` (stderr) after a few
//! seconds, then exits 0. Flags: `--publisher ENDPOINT` (bind),
//! `--subscriber ENDPOINT` (connect), `--max-delay-ms` (1000),
//! `--interval-ms` (between the publisher's messages, 1), `--seed N` (the
//! subscriber's work times).

use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use clap::Parser;
use tx0mq::connections::{
    bytes_repr, zmq, Error, ZmqConnection, ZmqContext, ZmqEndpoint, ZmqFactory,
};
use tx0mq::{LoopingCall, Reactor};

mod pyport;

/// `pickle.dumps(x)` of a float, protocol 4: PROTO 4, a FRAME of 10 bytes,
/// BINFLOAT and its 8 big-endian bytes, STOP.
fn pickle_float(x: f64) -> Vec<u8> {
    let mut out = vec![0x80, 4, 0x95];
    out.extend_from_slice(&10u64.to_le_bytes());
    out.push(b'G');
    out.extend_from_slice(&x.to_be_bytes());
    out.push(b'.');
    out
}

/// The float of a pickle as [`pickle_float`] writes it (or as Python's
/// protocols 2-5 write a lone float: `G`, 8 bytes, `.` at the end).
fn unpickle_float(data: &[u8]) -> Option<f64> {
    let body = data.strip_suffix(b".")?;
    let at = body.len().checked_sub(9)?;
    let (op, bytes) = body[at..].split_first()?;
    (*op == b'G').then_some(())?;
    Some(f64::from_be_bytes(bytes.try_into().ok()?))
}

/// The subscriber: reads the times, works on each, and dies when one is
/// more than `max_delay` old, saying so on `pipe`.
fn subscriber(
    context: &ZmqContext,
    endpoint: &str,
    pipe: &str,
    max_delay: Duration,
    mut random: pyport::Random,
) -> Result<(), Box<dyn std::error::Error>> {
    let pipe = {
        let socket = context.socket(zmq::PAIR)?;
        socket.connect(pipe)?;
        socket
    };
    // Subscribe to everything
    let sub = context.socket(zmq::SUB)?;
    sub.set_subscribe(b"")?;
    sub.connect(endpoint)?;

    // Get and process messages
    loop {
        let message = sub.recv_bytes(0)?;
        let Some(clock) = unpickle_float(&message) else {
            println!("E: not a pickled time, skipped: {}", bytes_repr(&message));
            continue;
        };
        // Suicide snail logic
        if pyport::time_time() - clock > max_delay.as_secs_f64() {
            eprintln!("E: subscriber cannot keep up, aborting");
            break;
        }
        // Work for 1 msec plus some random additional time
        let extra = random.randrange(0, 2_000_000).unsigned_abs();
        std::thread::sleep(Duration::from_millis(1) + Duration::from_nanos(extra));
    }
    pipe.send("gone and died", 0)?;
    Ok(())
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::new()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();
    let publisher = ZmqConnection::new(&factory, zmq::PUB, ZmqEndpoint::bind(&args.publisher))?;
    static PIPES: AtomicUsize = AtomicUsize::new(0);
    let pipe_name = format!(
        "inproc://suisnail-pipe-{}",
        PIPES.fetch_add(1, Ordering::Relaxed)
    );
    let pipe = ZmqConnection::new(&factory, zmq::PAIR, ZmqEndpoint::bind(&pipe_name))?;

    // The publisher: the current clock (secs) to subscribers, every interval.
    let ticker = LoopingCall::new(&reactor, move |_| {
        publisher.send(pickle_float(pyport::time_time()))
    });
    ticker.start(args.interval, true)?;

    let context = factory.context()?;
    let (endpoint, max_delay) = (args.subscriber.clone(), args.max_delay);
    let random = pyport::Random::from_seed(args.seed);
    std::thread::spawn(move || {
        if let Err(e) = subscriber(&context, &endpoint, &pipe_name, max_delay, random) {
            eprintln!("suisnail: the subscriber failed: {e}");
        }
    });

    // The subscriber died: halt the publisher, and exit a moment later.
    pipe.message_received(move |cx, _| {
        ticker.stop()?;
        cx.reactor
            .call_later(Duration::from_millis(100), |cx| cx.reactor.stop());
        Ok::<(), Error>(())
    });

    reactor.run()?;
    Ok(())
}

/// Suicidal Snail: a subscriber that dies when it cannot keep up (zguide's
/// suisnail.py).
#[derive(Parser)]
struct Args {
    /// Where the publisher publishes (bind)
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://*:5556")]
    publisher: String,
    /// Where the subscriber reads (connect)
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://localhost:5556")]
    subscriber: String,
    /// How late a message may be before the subscriber gives up
    #[arg(long = "max-delay-ms", value_name = "MS", value_parser = pyport::millis, default_value = "1000")]
    max_delay: Duration,
    /// The pause between the publisher's messages
    #[arg(long = "interval-ms", value_name = "MS", value_parser = pyport::millis, default_value = "1")]
    interval: Duration,
    /// Seed the subscriber's work times
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
}

fn main() -> ExitCode {
    pyport::main(run)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pickle is Python's `pickle.dumps(1.5)` (protocol 4), and reads
    /// back.
    #[test]
    fn a_float_pickles_as_python_does() {
        let pickled = pickle_float(1.5);
        assert_eq!(
            pickled,
            b"\x80\x04\x95\n\x00\x00\x00\x00\x00\x00\x00G?\xf8\x00\x00\x00\x00\x00\x00."
        );
        assert_eq!(unpickle_float(&pickled), Some(1.5));
        assert_eq!(unpickle_float(b"G?\xf8"), None);
    }
}
