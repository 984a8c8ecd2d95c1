//! One reactor per core: a ROUTER front end on the main reactor, and N
//! reactor threads doing the work, joined by an `inproc://` DEALER/ROUTER
//! hop in one shared ZeroMQ context.
//!
//! A reactor is single-threaded; a service whose requests cost CPU grows
//! past one core by running one reactor per core. Here the main reactor
//! binds a ROUTER for clients and a DEALER on `inproc://reactors`, and
//! forwards between them (the zguide's `mtserver` queue, as two
//! connections). Each reactor thread has its own factory on the shared
//! context and a REP connection to `inproc://reactors`; the DEALER
//! load-balances requests over them. Each request is answered with the
//! name of the reactor that did the work.
//!
//! ```sh
//! cargo run --example reactor_per_core -- --reactors 2
//! cargo run --example hwclient -- --connect tcp://127.0.0.1:5570
//! ```
//!
//! Ctrl-C (or SIGTERM) stops the main reactor and every reactor thread
//! together; each thread then says how many requests it answered. Flags:
//! `--reactors` (default: one per core), `--endpoint` (default
//! `tcp://127.0.0.1:5570`), `--work-us` (CPU time each request costs,
//! default 100 µs).

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use tx0mq::connections::{
    bytes_repr, proxy, zmq, ZmqConnection, ZmqContext, ZmqEndpoint, ZmqFactory, ZmqRepConnection,
};
use tx0mq::{Reactor, ReactorThread};

mod pyport;

const BACKEND: &str = "inproc://reactors";

/// CPU work standing in for a request's real cost: hashes the request
/// until `cost` has passed.
fn work(request: &[u8], cost: Duration) -> u64 {
    let start = Instant::now();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    loop {
        for &byte in request {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
        if start.elapsed() >= cost {
            return hash;
        }
    }
}

/// Starts the reactor thread `name`: a REP connection on the shared
/// context, answering each request with the thread's name.
fn start_worker(
    name: String,
    context: ZmqContext,
    cost: Duration,
    answered: Arc<AtomicU64>,
) -> tx0mq::reactor::Result<ReactorThread> {
    let label = name.clone();
    ReactorThread::spawn(name, move || {
        let reactor = Reactor::new()?;
        let factory = ZmqFactory::with_context(&reactor, context);
        factory.register_for_shutdown();
        let rep = ZmqRepConnection::new(&factory, ZmqEndpoint::connect(BACKEND))?;
        rep.got_message(move |cx, message_id, parts| {
            let request = parts.first().map(|f| f.to_vec()).unwrap_or_default();
            let checksum = work(&request, cost);
            answered.fetch_add(1, Ordering::Relaxed);
            let reply = format!("{label}: {} ({checksum:016x})", bytes_repr(&request));
            cx.conn.reply(&message_id, reply.into_bytes())
        });
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(reactor)
    })
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let reactors = args.reactors.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    if reactors == 0 {
        return Err("--reactors must be at least 1".into());
    }
    // One context for all the reactors: inproc works only within one.
    let context = ZmqContext::builder().io_threads(1).build()?;

    let reactor = Reactor::new()?;
    let factory = ZmqFactory::with_context(&reactor, context.clone());
    factory.register_for_shutdown();
    let clients = ZmqConnection::new(&factory, zmq::ROUTER, ZmqEndpoint::bind(&args.endpoint))?;
    let workers = ZmqConnection::new(&factory, zmq::DEALER, ZmqEndpoint::bind(BACKEND))?;
    proxy(&clients, &workers);

    let mut threads = Vec::with_capacity(reactors);
    for i in 0..reactors {
        let answered = Arc::new(AtomicU64::new(0));
        let thread = start_worker(
            format!("reactor-{i}"),
            context.clone(),
            args.work,
            answered.clone(),
        )?;
        threads.push((thread, answered));
    }
    println!("serving {} with {reactors} reactor threads", args.endpoint);
    reactor.run()?;

    // SIGINT stopped every reactor; wait for each thread and report.
    for (thread, answered) in threads {
        let name = thread.name().to_string();
        thread.stop_and_join()?;
        println!(
            "{name} answered {} requests",
            answered.load(Ordering::Relaxed)
        );
    }
    Ok(())
}

/// A ROUTER front end served by one reactor thread per core.
#[derive(Parser)]
struct Args {
    /// Number of reactor threads doing the work (default: one per core)
    #[arg(long)]
    reactors: Option<usize>,
    /// Endpoint clients connect to
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://127.0.0.1:5570")]
    endpoint: String,
    /// Microseconds of CPU each request costs
    #[arg(long = "work-us", default_value = "100", value_name = "US", value_parser = micros)]
    work: Duration,
}

fn micros(value: &str) -> Result<Duration, std::num::ParseIntError> {
    value.parse().map(Duration::from_micros)
}

fn main() -> ExitCode {
    pyport::main(run)
}
