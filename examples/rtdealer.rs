//! ROUTER-to-DEALER: a ROUTER sends workloads to two DEALER workers by
//! their identities, `A` twice as often as `B`, then `END` to both.
//!
//! Port of the zguide's `rtdealer.py` (chapter 3, "ROUTER Broker and DEALER
//! Workers"). The two workers are threads with blocking DEALER sockets, as in
//! the original. The ROUTER is a connection in the reactor; the second the
//! original sleeps "for threads to stabilize" is a `call_later`. The ROUTER
//! is `router_mandatory`, so a worker that has not connected by then is an
//! error instead of a message silently lost (and a worker waiting forever).
//!
//! ```sh
//! cargo run --example rtdealer
//! ```
//!
//! Prints `A received: N` and `B received: M` (N + M = 10), then exits.
//! Flags: `--endpoint` (default the original's `ipc://routing.ipc`),
//! `--delay-ms` (default 1000).

use std::hash::BuildHasher;
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use tx0mq::connections::{zmq, Error, ZmqEndpoint, ZmqFactory, ZmqOptions, ZmqRouterConnection};
use tx0mq::Reactor;

const USAGE: &str = "usage: rtdealer [--endpoint ENDPOINT] [--delay-ms MILLISECONDS]";

struct Args {
    endpoint: String,
    delay: Duration,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        endpoint: "ipc://routing.ipc".to_string(),
        delay: Duration::from_secs(1),
    };
    let mut argv = std::env::args().skip(1);
    while let Some(flag) = argv.next() {
        let mut value = || argv.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--endpoint" => args.endpoint = value()?,
            "--delay-ms" => {
                let ms = value()?.parse().map_err(|e| format!("{flag}: {e}"))?;
                args.delay = Duration::from_millis(ms);
            }
            _ => return Err(format!("unknown argument {flag:?}")),
        }
    }
    Ok(args)
}

/// A random number below `n` (std has no generator; each `RandomState` is keyed anew).
fn random_below(n: u64) -> u64 {
    std::collections::hash_map::RandomState::new().hash_one(()) % n.max(1)
}

/// A worker thread: one DEALER with identity `name`, counting workloads until END.
fn worker(context: &zmq::Context, name: &str, endpoint: &str) -> zmq::Result<()> {
    let worker = context.socket(zmq::DEALER)?;
    worker.set_identity(name.as_bytes())?;
    worker.connect(endpoint)?;

    let mut total = 0;
    loop {
        // We receive one part, with the workload
        let request = worker.recv_bytes(0)?;
        if request == b"END" {
            println!("{name} received: {total}");
            return Ok(());
        }
        total += 1;
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    // The state: whether every message went out.
    let reactor = Reactor::with_state(false)?;
    let factory = ZmqFactory::new(&reactor)?;
    let client = ZmqRouterConnection::with_options(
        &factory,
        ZmqEndpoint::bind(&args.endpoint),
        &ZmqOptions::new().router_mandatory(true),
    )?;

    // We have two workers; normally these would run on different boxes...
    let mut workers = Vec::new();
    for name in ["A", "B"] {
        let context = factory.context()?;
        let endpoint = args.endpoint.clone();
        workers.push(thread::spawn(move || {
            if let Err(e) = worker(&context, name, &endpoint) {
                log::error!("worker {name}: {e}");
            }
        }));
    }

    // Wait for threads to stabilize, then send 10 tasks scattered to A twice
    // as often as B, then END to both.
    reactor.call_later(args.delay, move |cx| {
        cx.reactor.stop()?; // after this pass: the sends below are the last work
        for _ in 0..10 {
            // Send two message parts, first the address, then the workload
            let ident = ["A", "A", "B"][random_below(3) as usize];
            client.send_msg(ident.as_bytes(), "This is the workload")?;
        }
        client.send_msg(b"A", "END")?;
        client.send_msg(b"B", "END")?;
        *cx.state = true;
        Ok::<(), Error>(())
    });

    reactor.run()?;
    if !reactor.access_state(|sent| *sent)? {
        return Err("the workload could not be sent (are both workers connected?)".into());
    }
    // Like Python's exit, which waits for its (non-daemon) threads.
    for worker in workers {
        let _ = worker.join();
    }
    factory.shutdown();
    Ok(())
}

fn main() -> ExitCode {
    env_logger::init();
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("rtdealer: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rtdealer: {e}");
            ExitCode::FAILURE
        }
    }
}
