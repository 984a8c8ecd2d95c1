//! `recv_into/discard.py`, pyzmq's discarding of unwanted frames: a
//! publisher thread sends ten messages a tenth of a second apart on an ipc
//! socket in a temporary directory, each `large` (up to five random chunks
//! of 1 to 2 KiB) or `small` (up to three short hex strings), then `exit`;
//! a subscriber thread reads each message's first frame, and for a `large`
//! one receives the other frames into an empty buffer (`recv_into`), which
//! discards them without allocating and counts their bytes; a `small`
//! message is printed whole.
//!
//! The port: both sides are connections in one reactor instead of two
//! threads; the publisher's sleeps are `call_later` and a `LoopingCall`.
//! The SUB connection's `on_recv_into` receives every frame into a 64-byte
//! buffer it owns: the first frame's kind and the small chunks fit, a
//! large chunk is cut to the buffer and only its full length is kept (the
//! discard). A small message with a frame longer than the buffer is printed
//! as cut, naming the frame. The log lines are Python's `logging` default
//! format (`INFO:name:message`), on stdout like every port's.
//!
//! ```sh
//! cargo run --example recv_into_discard
//! ```
//!
//! Prints `INFO:subscriber:Receiving...`, then per message
//! `INFO:publisher:Sending large: 4711 bytes` and
//! `INFO:subscriber:Discarding large message frames: 3, bytes: 4706`, or
//! `INFO:publisher:Sending small: 9 bytes` and `INFO:subscriber:Received
//! ['small', b'ab12']`; at the end `INFO:publisher:Sending exit`,
//! `INFO:publisher:Done`, `INFO:subscriber:Exiting...` and
//! `INFO:subscriber:Done`. Flags: `--url` (default an ipc path in a new
//! temporary directory), `--messages` (10), `--interval-ms` (100),
//! `--delay-ms` (the publisher's wait for the subscriber, 1000), `--seed`.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tx0mq::connections::{bytes_repr, ZmqEndpoint, ZmqFactory, ZmqPubConnection, ZmqSubConnection};
use tx0mq::{LoopingCall, Reactor};

mod pyport;

/// The receive buffer: room for a kind and a small chunk, not a large one.
const BUFFER: usize = 64;

/// `logging.info` under `basicConfig(level=INFO)`: `INFO:name:message`.
fn info(name: &str, message: impl std::fmt::Display) {
    println!("INFO:{name}:{message}");
}

/// Python's `secrets.token_hex(n)`: `2n` hex digits.
fn token_hex(rng: &mut pyport::Random, n: i64) -> Vec<u8> {
    (0..n)
        .flat_map(|_| format!("{:02x}", rng.randrange(0, 256)).into_bytes())
        .collect()
}

/// One random message, as the original's publisher makes it.
fn make_message(rng: &mut pyport::Random) -> (&'static str, Vec<Vec<u8>>) {
    let kind = *rng.choice(&["large", "small"]).unwrap_or(&"small");
    let mut frames = vec![kind.as_bytes().to_vec()];
    if kind == "large" {
        for _ in 0..rng.randint(0, 5) {
            let size = rng.randint(1024, 2048);
            frames.push((0..size).map(|_| rng.randrange(0, 256) as u8).collect());
        }
    } else {
        for _ in 0..rng.randint(0, 3) {
            let size = rng.randint(0, 5);
            frames.push(token_hex(rng, size));
        }
    }
    (kind, frames)
}

/// The subscriber's progress through the message it is in.
#[derive(Default)]
struct Subscriber {
    /// Whether the current message is a large one being discarded.
    discarding: bool,
    discarded_frames: usize,
    discarded_bytes: usize,
    /// The current small message, printed when whole.
    msg: Vec<String>,
}

/// Removes the temporary directory at exit.
struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let _temp;
    let url = match args.url {
        Some(url) => url,
        None => {
            let dir =
                std::env::temp_dir().join(format!("recv_into_discard.{}", std::process::id()));
            std::fs::create_dir_all(&dir)?;
            let url = format!("ipc://{}", dir.join("example.sock").display());
            _temp = TempDir(dir);
            url
        }
    };

    let reactor = Reactor::builder().state(Subscriber::default()).build()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();

    // The subscriber.
    let sub = ZmqSubConnection::new(&factory, ZmqEndpoint::connect(&url))?;
    sub.subscribe(b"")?;
    info("subscriber", "Receiving...");
    sub.on_recv_into(vec![0; BUFFER], |cx, frame| {
        let s = &mut *cx.state;
        if frame.is_first() {
            let frame_0 = String::from_utf8_lossy(frame.bytes()).into_owned();
            if frame_0 == "exit" {
                info("subscriber", "Exiting...");
                info("subscriber", "Done");
                cx.conn.shutdown();
                return cx.reactor.stop();
            }
            s.discarding = frame_0 == "large";
            s.discarded_frames = 0;
            s.discarded_bytes = 0;
            s.msg = vec![pyport::str_repr(&frame_0)];
        } else if s.discarding {
            s.discarded_bytes += frame.len();
            s.discarded_frames += 1;
        } else if frame.is_truncated() {
            s.msg.push(format!(
                "<frame {} cut: {} of {} bytes>",
                frame.index(),
                frame.bytes().len(),
                frame.len()
            ));
        } else {
            s.msg.push(bytes_repr(frame.bytes()));
        }
        if !frame.more() {
            if s.discarding {
                info(
                    "subscriber",
                    format!(
                        "Discarding large message frames: {}, bytes: {}",
                        s.discarded_frames, s.discarded_bytes
                    ),
                );
            } else {
                info("subscriber", format!("Received [{}]", s.msg.join(", ")));
            }
        }
        Ok(())
    });

    // The publisher.
    let options = tx0mq::connections::ZmqOptions::default().linger(Duration::from_millis(1000));
    let publisher = ZmqPubConnection::with_options(&factory, ZmqEndpoint::bind(&url), &options)?;
    let mut rng = pyport::Random::from_seed(args.seed);
    // Messages still to send before `exit`; `None` once `exit` went.
    let mut left = Some(args.messages);
    let send = LoopingCall::new(
        &reactor,
        move |_cx| -> Result<(), Box<dyn std::error::Error>> {
            match left {
                None => {}
                Some(0) => {
                    left = None;
                    info("publisher", "Sending exit");
                    publisher.send("exit")?;
                    info("publisher", "Done");
                }
                Some(n) => {
                    left = Some(n - 1);
                    let (kind, frames) = make_message(&mut rng);
                    let nbytes: usize = frames.iter().map(Vec::len).sum();
                    info("publisher", format!("Sending {kind}: {nbytes} bytes"));
                    publisher.send(frames)?;
                }
            }
            Ok(())
        },
    );
    let interval = args.interval;
    reactor.call_later(args.delay, move |_| send.start(interval, true).map(drop));

    reactor.run()?;
    Ok(())
}

/// Discards unwanted frames by receiving them into a small buffer
/// (pyzmq's recv_into/discard.py).
#[derive(Parser)]
struct Args {
    /// Endpoint (default: ipc in a new temporary directory)
    #[arg(long, value_name = "ENDPOINT")]
    url: Option<String>,
    /// Messages before `exit`
    #[arg(long, value_name = "N", default_value_t = 10)]
    messages: u64,
    /// Time between messages, in milliseconds
    #[arg(long = "interval-ms", value_name = "MS", default_value = "100", value_parser = pyport::millis)]
    interval: Duration,
    /// The publisher's wait for the subscriber, in milliseconds
    #[arg(long = "delay-ms", value_name = "MS", default_value = "1000", value_parser = pyport::millis)]
    delay: Duration,
    /// Seed of the messages' kinds and contents (default: from the clock)
    #[arg(long)]
    seed: Option<u64>,
}

fn main() -> ExitCode {
    pyport::main(run)
}
