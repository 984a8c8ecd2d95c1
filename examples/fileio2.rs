//! `fileio2.py`, the zguide's file transfer, model 2 (chapter 7,
//! "Transferring Files"): the client asks for each chunk (`fetch`,
//! offset, size) and waits for it before asking for the next, so the
//! server never queues more than one chunk, at the cost of a round trip
//! per chunk. The server answers each request with the chunk read at that
//! offset (shorter at the end, empty past it); the client stops at the
//! first chunk shorter than `CHUNK_SIZE`.
//!
//! Where the port differs: it is the model the book describes (and its C
//! original runs), one request at a time, asking at the bytes received so
//! far. The Python file is model 3's credit window of ten with model 2's
//! offset (`total`): its first ten requests all ask for offset 0, so it
//! receives the first chunk ten times and prints a total too large by
//! nine chunks.
//!
//! The port: two connections in one reactor (or one side, with `--role`);
//! the client sends the first request at start and the next from each
//! chunk's `message_received`, and stops the reactor when the last chunk
//! is in. The server is `fileio3`'s (high-water mark `PIPELINE`, 10, as in
//! the Python file, never reached with one request in flight).
//!
//! ```sh
//! head -c 10000000 /dev/urandom > testdata
//! cargo run --example fileio2
//! ```
//!
//! Prints `N chunks received, M bytes` and `b'OK'`, then exits. Flags as for
//! `fileio3`: `--role`, `--file` (`testdata`), `--output`, `--bind`
//! (`tcp://*:6000`), `--connect` (`tcp://127.0.0.1:6000`),
//! `--report-memory`.

use std::cell::RefCell;
use std::process::ExitCode;
use std::rc::Rc;

use clap::Parser;
use tx0mq::connections::{zmq, Frame, ZmqConnection, ZmqEndpoint, ZmqFactory, ZmqOptions};
use tx0mq::Reactor;

mod fileio;
mod pyport;

use fileio::CHUNK_SIZE;

/// The Python original's `PIPELINE`, here only the sockets' high-water mark.
const PIPELINE: i32 = 10;

/// Asks for the chunk at `offset`.
fn fetch(dealer: &ZmqConnection, offset: u64) -> Result<(), tx0mq::connections::Error> {
    dealer.send(vec![
        Frame::from("fetch"),
        Frame::from(offset.to_string().as_str()),
        Frame::from(CHUNK_SIZE.to_string().as_str()),
    ])
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let common = args.common;
    let reactor = Reactor::new()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();
    let options = ZmqOptions::new().high_water_mark(PIPELINE);

    let _server = match common.open_file()? {
        Some(file) => Some(fileio::chunk_server(
            &factory,
            &options,
            &common.bind,
            file,
        )?),
        None => None,
    };

    let failed: fileio::Failed = Rc::new(RefCell::new(None));
    let _client = if common.fetches() {
        let dealer = ZmqConnection::with_options(
            &factory,
            zmq::DEALER,
            ZmqEndpoint::connect(&common.connect),
            &options,
        )?;
        fetch(&dealer, 0)?;
        let mut sink = common.sink()?;
        let failure = failed.clone();
        let next = dealer.clone();
        dealer.message_received(move |cx, message| {
            let chunk = pyport::first(&message);
            let outcome = sink.take(chunk).map_err(|e| format!("cannot write: {e}"));
            let outcome = outcome.and_then(|()| {
                if chunk.len() < CHUNK_SIZE {
                    // Last chunk received.
                    sink.finish().map_err(|e| format!("cannot write: {e}"))?;
                    let _ = cx.reactor.stop();
                    Ok(())
                } else {
                    fetch(&next, sink.total).map_err(|e| e.to_string())
                }
            });
            if let Err(e) = outcome {
                *failure.borrow_mut() = Some(e);
                let _ = cx.reactor.stop();
            }
        });
        Some(dealer)
    } else {
        None
    };

    fileio::run_until_done(&reactor, &common, &failed)
}

/// File transfer, model 2: one chunk at a time (zguide's fileio2).
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    common: fileio::Common,
}

fn main() -> ExitCode {
    pyport::main(run)
}
