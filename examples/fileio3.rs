//! `fileio3.py`, the zguide's file transfer, model 3 (chapter 7,
//! "Transferring Files"): the client asks for the file chunk by chunk
//! (`fetch`, offset, size), keeping up to `PIPELINE` (10) requests in
//! flight and asking for one more as each chunk arrives (credit-based flow
//! control), so that neither side ever holds more than ten chunks of
//! 250,000 bytes, whatever the file's size. The server answers each request
//! with the chunk read from the file at that offset (shorter at the end,
//! empty past it). The client stops at the first chunk shorter than
//! `CHUNK_SIZE`. Both sockets have a high-water mark of `PIPELINE`.
//! Here the server's is `2 * PIPELINE` (see [`SERVER_HWM`]): at `PIPELINE`
//! libzmq's ROUTER drops replies now and then, and the copy comes out short.
//!
//! The port: the original's two threads (a ROUTER server, a DEALER client)
//! and its pipe become two connections in one reactor: the server answers
//! in its `message_received`, the client sends its first ten requests at
//! start and one more from each chunk's `message_received`, and stops the
//! reactor (the original's `pipe.send(b"OK")`) when the last chunk is in.
//! `--role server` or `--role client` runs one side alone, to pair with
//! another process (a Python peer, say). A malformed request is printed,
//! naming its sender, and ignored.
//!
//! ```sh
//! head -c 10000000 /dev/urandom > testdata
//! cargo run --example fileio3
//! cargo run --example fileio3 -- --role server &
//! cargo run --example fileio3 -- --role client --output copy
//! ```
//!
//! Prints `N chunks received, M bytes` and `b'OK'` (the main thread's
//! `print(a.recv())`), then exits. Flags: `--file` (the file served,
//! `testdata`), `--output` (where the client writes what arrives; by
//! default it only counts, as the original does), `--bind`
//! (`tcp://*:6000`), `--connect` (`tcp://127.0.0.1:6000`), and
//! `--report-memory`, which prints `peak RSS: N KiB` at the end.

use std::cell::RefCell;
use std::process::ExitCode;
use std::rc::Rc;

use clap::Parser;
use tx0mq::connections::{zmq, Frame, ZmqConnection, ZmqEndpoint, ZmqFactory, ZmqOptions};
use tx0mq::Reactor;

mod fileio;
mod pyport;

use fileio::{Sink, CHUNK_SIZE};

/// The original's `PIPELINE`: chunks in flight at most.
const PIPELINE: usize = 10;

/// The server's high-water mark. The original sets `PIPELINE`, "as a
/// sanity check"; but libzmq counts a pipe's messages as unread until the
/// reader acknowledges them, which it does only every `(hwm + 1) / 2`
/// messages, so a ROUTER at `PIPELINE` sees itself full with fewer than
/// `PIPELINE` chunks really in flight, and drops the next reply (the
/// client then stops early with a short file). `2 * PIPELINE` leaves room
/// for that lag: `PIPELINE` in flight plus at most `PIPELINE / 2`
/// unacknowledged stay under it. The client keeps `PIPELINE`.
const SERVER_HWM: i32 = 2 * PIPELINE as i32;

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let common = args.common;
    let reactor = Reactor::new()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();
    let options = ZmqOptions::new().high_water_mark(PIPELINE as i32);

    let file = common.open_file()?;
    let _server = match file {
        Some(file) => Some(fileio::chunk_server(
            &factory,
            &ZmqOptions::new().high_water_mark(SERVER_HWM),
            &common.bind,
            file,
        )?),
        None => None,
    };

    let failed: fileio::Failed = Rc::new(RefCell::new(None));
    let _client = if common.fetches() {
        Some(client(
            &factory,
            &options,
            &common.connect,
            common.sink()?,
            failed.clone(),
        )?)
    } else {
        None
    };

    fileio::run_until_done(&reactor, &common, &failed)
}

/// The client's progress.
struct Client {
    dealer: ZmqConnection,
    /// The offset of the next request.
    offset: u64,
    sink: Sink,
}

impl Client {
    /// Asks for the next chunk.
    fn fetch(&mut self) -> Result<(), tx0mq::connections::Error> {
        self.dealer.send(vec![
            Frame::from("fetch"),
            Frame::from(self.offset.to_string().as_str()),
            Frame::from(CHUNK_SIZE.to_string().as_str()),
        ])?;
        self.offset += CHUNK_SIZE as u64;
        Ok(())
    }
}

/// The client: `PIPELINE` requests at once, one more per chunk received,
/// until a chunk is short.
fn client(
    factory: &ZmqFactory,
    options: &ZmqOptions,
    connect: &str,
    sink: Sink,
    failed: Rc<RefCell<Option<String>>>,
) -> Result<ZmqConnection, Box<dyn std::error::Error>> {
    let dealer =
        ZmqConnection::with_options(factory, zmq::DEALER, ZmqEndpoint::connect(connect), options)?;
    let state = Rc::new(RefCell::new(Client {
        dealer: dealer.clone(),
        offset: 0,
        sink,
    }));
    for _ in 0..PIPELINE {
        state.borrow_mut().fetch()?;
    }
    dealer.message_received(move |cx, message| {
        let mut client = state.borrow_mut();
        let chunk = pyport::first(&message);
        let outcome = client
            .sink
            .take(chunk)
            .map_err(|e| format!("cannot write: {e}"));
        let outcome = outcome.and_then(|()| {
            if chunk.len() < CHUNK_SIZE {
                // Last chunk received: the whole file is in.
                client
                    .sink
                    .finish()
                    .map_err(|e| format!("cannot write: {e}"))?;
                let _ = cx.reactor.stop();
                Ok(())
            } else {
                client.fetch().map_err(|e| e.to_string())
            }
        });
        if let Err(e) = outcome {
            *failed.borrow_mut() = Some(e);
            let _ = cx.reactor.stop();
        }
    });
    Ok(dealer)
}

/// File transfer, model 3: credit-based flow control (zguide's fileio3.py).
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    common: fileio::Common,
}

fn main() -> ExitCode {
    pyport::main(run)
}
