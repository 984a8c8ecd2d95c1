//! Synchronized subscriber: subscribes, checks in with the publisher over
//! REQ/REP, then counts updates until `END`.
//!
//! Port of the zguide's `syncsub.py` (chapter 2, "Node Coordination"); its
//! other half is `syncpub` (this crate's or the Python one). The second the
//! original sleeps before synchronising is a `call_later`; the sync request is
//! a `ZmqReqConnection` whose reply arrives as a Deferred, and only then does
//! the subscriber start reading, as the original reads only after the reply.
//!
//! ```sh
//! cargo run --release --example syncsub      # with syncpub running
//! ```
//!
//! Prints `Received 1000000 updates` and exits. Flags (defaults are the
//! original's): `--sub-endpoint` (`tcp://localhost:5561`), `--sync-endpoint`
//! (`tcp://localhost:5562`), `--delay-ms` (1000).

use std::process::ExitCode;
use std::time::Duration;

use tx0mq::connections::{ZmqEndpoint, ZmqFactory, ZmqReqConnection, ZmqSubConnection};
use tx0mq::Reactor;

const USAGE: &str =
    "usage: syncsub [--sub-endpoint ENDPOINT] [--sync-endpoint ENDPOINT] [--delay-ms MILLISECONDS]";

struct Args {
    sub_endpoint: String,
    sync_endpoint: String,
    delay: Duration,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        sub_endpoint: "tcp://localhost:5561".to_string(),
        sync_endpoint: "tcp://localhost:5562".to_string(),
        delay: Duration::from_secs(1),
    };
    let mut argv = std::env::args().skip(1);
    while let Some(flag) = argv.next() {
        let mut value = || argv.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--sub-endpoint" => args.sub_endpoint = value()?,
            "--sync-endpoint" => args.sync_endpoint = value()?,
            "--delay-ms" => {
                let ms = value()?.parse().map_err(|e| format!("{flag}: {e}"))?;
                args.delay = Duration::from_millis(ms);
            }
            _ => return Err(format!("unknown argument {flag:?}")),
        }
    }
    Ok(args)
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    // The state: how many updates arrived.
    let reactor = Reactor::with_state(0u64)?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();

    // First, connect our subscriber socket
    let subscriber = ZmqSubConnection::new(&factory, ZmqEndpoint::connect(&args.sub_endpoint))?;
    subscriber.subscribe(b"")?;
    // Updates are plain frames, not txZMQ's tag framing: read them raw.
    subscriber.pause_reading();
    subscriber.message_received(|cx, message| {
        if message.len() == 1 && &message[0][..] == b"END" {
            println!("Received {} updates", cx.state);
            return cx.reactor.stop();
        }
        *cx.state += 1;
        Ok(())
    });

    // Second, synchronize with publisher, a second later (the original sleeps)
    let syncclient = ZmqReqConnection::new(&factory, ZmqEndpoint::connect(&args.sync_endpoint))?;
    // (`syncclient` stays alive until `run` returns: a REQ connection whose
    // last handle is dropped forgets its pending requests.)
    let sync = syncclient.clone();
    reactor.call_later(args.delay, move |_| {
        // send a synchronization request; once answered, get our updates
        sync.send_msg("").add_callback(move |reply| {
            subscriber.resume_reading();
            Ok(reply)
        });
    });

    reactor.run()?;
    Ok(())
}

fn main() -> ExitCode {
    env_logger::init();
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("syncsub: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("syncsub: {e}");
            ExitCode::FAILURE
        }
    }
}
