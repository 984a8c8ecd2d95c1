//! `lvcache.py`, the zguide's last value cache (chapter 5, "Last Value
//! Caching"): a proxy between a publisher and its subscribers that keeps
//! the last message of each topic. Its SUB socket, connected to the
//! publisher (`tcp://localhost:5557`), subscribes to everything, stores each
//! two-frame message `[topic, body]` in the cache and forwards it on its
//! XPUB socket (`tcp://*:5558`). When a subscriber subscribes to a topic the
//! cache holds, the XPUB socket hears of it (`\x01` and the topic), and the
//! cache sends that topic's last message at once, printing `Sending cached
//! topic b'NNN'`: a late subscriber has its value without waiting for the
//! publisher's next update.
//!
//! The port: the poll loop is two connections, the SUB's callback caching
//! and forwarding, the XPUB's answering subscriptions. A message from the
//! publisher that is not two frames is reported and ignored (the original
//! stops). The publisher's endpoint defaults to `tcp://localhost:5557`: the
//! original connects to `tcp://*:5557`, which libzmq refuses.
//!
//! ```sh
//! cargo run --example pathopub -- tcp://*:5557 &
//! cargo run --example lvcache &
//! cargo run --example pathosub -- tcp://localhost:5558
//! ```
//!
//! Prints `Sending cached topic b'NNN'` for each subscription it answers
//! from the cache (Python 3's print of the topic's bytes), and
//! `interrupted` on Ctrl-C. Flags: `--frontend ENDPOINT` (the publisher,
//! connect), `--backend ENDPOINT` (for subscribers, bind).

use std::collections::HashMap;
use std::process::ExitCode;

use clap::Parser;
use tx0mq::connections::{
    bytes_repr, zmq, Error, ZmqConnection, ZmqEndpoint, ZmqFactory, ZmqSubConnection,
};
use tx0mq::Reactor;

mod pyport;

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    // The cache: the last body of each topic.
    let reactor = Reactor::with_state(HashMap::<Vec<u8>, Vec<u8>>::new())?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();
    let frontend = ZmqSubConnection::new(&factory, ZmqEndpoint::connect(&args.frontend))?;
    let backend = ZmqConnection::new(&factory, zmq::XPUB, ZmqEndpoint::bind(&args.backend))?;

    // Subscribe to every single topic from publisher
    frontend.subscribe(b"")?;

    // Any new topic data we cache and then forward
    let forward = backend.clone();
    frontend.message_received(move |cx, message| {
        let [topic, current] = &message[..] else {
            println!(
                "E: not a [topic, body] message from the publisher, ignored: {}",
                pyport::bytes_list_repr(&message[..])
            );
            return Ok(());
        };
        cx.state.insert(topic.to_vec(), current.to_vec());
        forward.send(message)
    });

    // When we get a new subscription we pull data from the cache: an event
    // is one byte, 0 unsubscribe or 1 subscribe, then the topic.
    backend.message_received(move |cx, message| {
        let event = pyport::first(&message);
        if let Some((1, topic)) = event.split_first() {
            if let Some(current) = cx.state.get(topic) {
                println!("Sending cached topic {}", bytes_repr(topic));
                cx.conn.send(vec![topic.to_vec(), current.clone()])?;
            }
        }
        Ok::<(), Error>(())
    });

    reactor.run()?;
    if reactor.exit_signal().is_some() {
        println!("interrupted");
    }
    Ok(())
}

/// Last value cache: a proxy that answers each subscription with the
/// topic's last message (zguide's lvcache.py).
#[derive(Parser)]
struct Args {
    /// The publisher (connect)
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://localhost:5557")]
    frontend: String,
    /// Where subscribers connect (bind)
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://*:5558")]
    backend: String,
}

fn main() -> ExitCode {
    pyport::main(run)
}
