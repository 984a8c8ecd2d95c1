//! `mtrelay.py`, the zguide's multithreaded relay (chapter 2, "Signaling
//! Between Threads"): three steps joined by PAIR sockets over `inproc://`.
//! Step 1, a thread, signals step 2; step 2, a thread that started step 1,
//! passes the signal on to step 3, the main thread, which prints `Test
//! successful!`.
//!
//! The port: step 1 and step 2 are threads with blocking PAIR sockets, as in
//! the original; step 3, the main thread's receiver, is a PAIR connection in
//! the reactor, which prints `Test successful!` when the signal arrives and
//! stops.
//!
//! ```sh
//! cargo run --example mtrelay
//! ```

use std::process::ExitCode;
use std::thread;

use clap::Parser;
use tx0mq::connections::{zmq, ZmqContext, ZmqEndpoint, ZmqFactory, ZmqPairConnection};
use tx0mq::Reactor;

mod pyport;

/// Step 1: signal downstream to step 2.
fn step1(context: &ZmqContext) -> zmq::Result<()> {
    let sender = context.socket(zmq::PAIR)?;
    sender.connect("inproc://step2")?;
    sender.send("", 0)
}

/// Step 2: start step 1, wait for its signal, pass it on to step 3.
fn step2(context: ZmqContext) -> zmq::Result<()> {
    // Bind to inproc: endpoint, then start upstream thread
    let receiver = context.socket(zmq::PAIR)?;
    receiver.bind("inproc://step2")?;
    let upstream = context.clone();
    thread::spawn(move || {
        if let Err(e) = step1(&upstream) {
            log::error!("step 1: {e}");
        }
    });

    // Wait for signal
    receiver.recv_bytes(0)?;

    // Signal downstream to step 3
    let sender = context.socket(zmq::PAIR)?;
    sender.connect("inproc://step3")?;
    sender.send("", 0)
}

fn run(_: Args) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::new()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();

    // Bind to inproc: endpoint, then start upstream thread
    let receiver = ZmqPairConnection::new(&factory, ZmqEndpoint::bind("inproc://step3"))?;
    receiver.got_message(|cx, _signal| {
        println!("Test successful!");
        cx.reactor.stop()
    });
    let context = factory.context()?;
    thread::spawn(move || {
        if let Err(e) = step2(context) {
            log::error!("step 2: {e}");
        }
    });

    // Wait for signal
    reactor.run()?;
    Ok(())
}

/// Passes a signal from thread to thread (zguide's mtrelay.py).
#[derive(Parser)]
struct Args {}

fn main() -> ExitCode {
    pyport::main(run)
}
