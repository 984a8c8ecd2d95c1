//! `fileio1.py`, the zguide's file transfer, model 1 (chapter 7,
//! "Transferring Files"): the client asks once (`fetch`) and the server
//! sends the whole file at once, in chunks of 250,000 bytes, then an empty
//! chunk to say it is done, with no flow control at all: its ROUTER's
//! high-water mark is 0 (no limit), so the file piles up in memory as fast
//! as the server reads it, however slowly the client takes it. The client
//! counts the chunks until the empty one.
//!
//! The port: the original's two threads and its pipe become two
//! connections in one reactor (the server sends every chunk from the
//! `message_received` of the `fetch`); `--role` runs one side alone. As in
//! the original, memory grows with the file (see `docs/EXAMPLES.md`, part
//! K, for figures against `fileio3`). A request other than `fetch` is
//! printed, naming its sender, and ignored.
//!
//! ```sh
//! head -c 10000000 /dev/urandom > testdata
//! cargo run --example fileio1
//! ```
//!
//! Prints `N chunks received, M bytes` (the empty chunk counted, as in the
//! original) and `b'OK'`, then exits. Flags as for `fileio3`: `--role`,
//! `--file` (`testdata`), `--output`, `--bind` (`tcp://*:6000`),
//! `--connect` (`tcp://127.0.0.1:6000`), `--report-memory`.

use std::cell::RefCell;
use std::process::ExitCode;
use std::rc::Rc;

use clap::Parser;
use tx0mq::connections::{
    bytes_repr, zmq, Frame, ZmqConnection, ZmqEndpoint, ZmqFactory, ZmqOptions,
};
use tx0mq::Reactor;

mod fileio;
mod pyport;

use fileio::CHUNK_SIZE;

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let common = args.common;
    let reactor = Reactor::new()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();

    let _server = match common.open_file()? {
        Some(file) => Some(server(&factory, &common.bind, file)?),
        None => None,
    };

    let failed: fileio::Failed = Rc::new(RefCell::new(None));
    let _client = if common.fetches() {
        let dealer =
            ZmqConnection::new(&factory, zmq::DEALER, ZmqEndpoint::connect(&common.connect))?;
        dealer.send("fetch")?;
        let mut sink = common.sink()?;
        let failure = failed.clone();
        dealer.message_received(move |cx, message| {
            let chunk = pyport::first(&message);
            let mut outcome = sink.take(chunk);
            if outcome.is_ok() && chunk.is_empty() {
                // Whole file received.
                outcome = sink.finish();
                let _ = cx.reactor.stop();
            }
            if let Err(e) = outcome {
                *failure.borrow_mut() = Some(format!("cannot write: {e}"));
                let _ = cx.reactor.stop();
            }
        });
        Some(dealer)
    } else {
        None
    };

    fileio::run_until_done(&reactor, &common, &failed)
}

/// The server: a `fetch` from a client is answered with the whole file in
/// chunks, then an empty one. Its high-water mark is 0 (no limit), as in
/// the original.
fn server(
    factory: &ZmqFactory,
    bind: &str,
    file: std::fs::File,
) -> Result<ZmqConnection, Box<dyn std::error::Error>> {
    let options = ZmqOptions::new().high_water_mark(0);
    let router =
        ZmqConnection::with_options(factory, zmq::ROUTER, ZmqEndpoint::bind(bind), &options)?;
    let reply = router.clone();
    router.message_received(move |_cx, message| {
        let frames: Vec<Frame> = message.into();
        let identity = match &frames[..] {
            [identity, command] if &command[..] == b"fetch" => identity,
            _ => {
                let sender = frames.first().map_or_else(String::new, |id| bytes_repr(id));
                println!("E: malformed request from {sender} (not a fetch)");
                return Ok(());
            }
        };
        let mut offset = 0;
        loop {
            let data = fileio::read_chunk(&file, offset, CHUNK_SIZE as u64)
                .map_err(|e| format!("cannot read the file: {e}"))?;
            let done = data.is_empty();
            offset += data.len() as u64;
            reply.send(vec![Frame::from(&identity[..]), Frame::from(data)])?;
            if done {
                return Ok::<(), Box<dyn std::error::Error>>(());
            }
        }
    });
    Ok(router)
}

/// File transfer, model 1: the whole file at once, no flow control
/// (zguide's fileio1.py).
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    common: fileio::Common,
}

fn main() -> ExitCode {
    pyport::main(run)
}
