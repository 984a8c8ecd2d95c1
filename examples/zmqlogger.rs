//! `zmqlogger.py`, pyzmq's logging example (`examples/logger/` in pyzmq):
//! it starts `n` worker processes (default 2), each with a PUB socket
//! connected to `tcp://127.0.0.1:PORT` (default 5558) under pyzmq's
//! `PUBHandler`, on a logger whose level is drawn at random from DEBUG,
//! INFO, WARNING, ERROR and CRITICAL. A worker prints `starting logger at
//! PID with level=LEVEL`, then every second logs `Hello from PID!` at a
//! random level. The main process binds a SUB socket there, reads each
//! record's two frames (the level's name, the text) and logs the text again
//! at that level through Python's root logger (`basicConfig`), until
//! Ctrl-C, when it ends the workers.
//!
//! The port: the workers are this program again, run with `--worker`
//! (what `multiprocessing.Process` runs). A worker's logger is the library's
//! [`PubLogHandler`](tx0mq::connections::PubLogHandler) on a PUB
//! connection, and its one-second loop a `LoopingCall`; its level filter is
//! the original's logger level, Python's order of the five levels (the
//! handler's `log_at` publishes at a Python level, so CRITICAL stays
//! CRITICAL). The main process's SUB connection parses each record with
//! [`PubLogRecord`](tx0mq::connections::PubLogRecord) and prints it as
//! `basicConfig` does, `LEVEL:root:TEXT`; a message that is not a log
//! record is printed as an error naming the sender's frames and skipped.
//! Workers end when the main process does: each watches its standard input,
//! a pipe from the main process, and stops at its end.
//!
//! ```text
//! cargo run --example zmqlogger
//! cargo run --example zmqlogger -- 3 5600 --interval-ms 200 --records 10
//! ```
//!
//! It prints (the main process's lines go to stdout, where Python's logging
//! writes them to stderr; the file and line are this port's):
//!
//! ```text
//! starting logger at 4242 with level=20
//! starting logger at 4243 with level=10
//! INFO:root:Hello from 4242!
//! DEBUG:root:DEBUG zmqlogger.rs:206 - Hello from 4243!
//! ERROR:root:ERROR zmqlogger.rs:206 - Hello from 4242! - None
//! ```
//!
//! The arguments are the original's: `n` (workers, default 2) and `port`
//! (default 5558). `--interval-ms` (default 1000) is a worker's pause
//! between records; `--records N` stops the main process after N records
//! (default 0, never); `--seed` repeats the random draws (each worker draws
//! from the seed plus its number).

use std::error::Error;
use std::io::Read;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::Duration;

use clap::Parser;
use tx0mq::connections::log_handler::PyLevel;
use tx0mq::connections::{
    zmq, PubLogHandler, PubLogRecord, ZmqConnection, ZmqEndpoint, ZmqFactory, ZmqPubConnection,
};
use tx0mq::{LoopingCall, Reactor};

mod pyport;
use pyport::{bytes_list_repr, Random};

/// pyzmq's `zmqlogger.py`: workers publish log records, the main process
/// prints them.
#[derive(Parser, Debug)]
struct Args {
    /// How many worker processes.
    #[arg(default_value_t = 2)]
    n: u32,
    /// The TCP port on 127.0.0.1 where the main process binds its SUB.
    #[arg(default_value_t = 5558)]
    port: u16,
    /// A worker's pause between records.
    #[arg(long = "interval-ms", value_parser = pyport::millis, default_value = "1000")]
    interval: Duration,
    /// Stop after this many records (0: run until interrupted).
    #[arg(long, default_value_t = 0)]
    records: u64,
    /// Seed for the random levels (default: from the clock).
    #[arg(long)]
    seed: Option<u64>,
    /// Run as a worker (what the main process starts) at this level
    /// (10, 20, 30, 40 or 50).
    #[arg(long, value_parser = py_level, hide = true)]
    worker: Option<PyLevel>,
}

/// `--worker`'s value: Python's number for a level.
fn py_level(value: &str) -> Result<PyLevel, String> {
    PyLevel::ALL
        .into_iter()
        .find(|level| level.number().to_string() == value)
        .ok_or_else(|| format!("{value:?} is not one of 10, 20, 30, 40, 50"))
}

fn run(args: Args) -> Result<(), Box<dyn Error>> {
    match args.worker {
        Some(level) => log_worker(&args, level),
        None => main_process(&args),
    }
}

/// The main process: starts the workers, then `sub_logger`.
fn main_process(args: &Args) -> Result<(), Box<dyn Error>> {
    let mut random = Random::from_seed(args.seed);
    let reactor = Reactor::builder().state(0u64).build()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();
    // The SUB binds before the workers start, so none of them waits.
    let sub = ZmqConnection::new(
        &factory,
        zmq::SUB,
        ZmqEndpoint::bind(format!("tcp://127.0.0.1:{}", args.port)),
    )?;
    sub.with_socket(|socket| socket.set_subscribe(b""))??;
    let wanted = args.records;
    sub.on_event(move |cx, message| {
        match PubLogRecord::parse(&message) {
            Ok(record) => println!("{}:root:{}", record.level, record.text),
            Err(e) => println!(
                "E: {:?}: not a log record {}: {e}",
                cx.conn,
                bytes_list_repr(&message)
            ),
        }
        *cx.state += 1;
        if *cx.state == wanted {
            cx.reactor.stop()?;
        }
        Ok::<(), tx0mq::reactor::Error>(())
    });

    let program = std::env::current_exe()?;
    let mut workers: Vec<Child> = Vec::new();
    for i in 0..args.n {
        let level = *random.choice(&PyLevel::ALL).ok_or("no levels")?;
        let mut command = Command::new(&program);
        command
            .arg(args.n.to_string())
            .arg(args.port.to_string())
            .arg(format!("--interval-ms={}", args.interval.as_millis()))
            .arg(format!("--worker={}", level.number()))
            .stdin(Stdio::piped());
        if let Some(seed) = args.seed {
            command.arg(format!("--seed={}", seed.wrapping_add(u64::from(i) + 1)));
        }
        let started = command.spawn();
        match started {
            Ok(child) => workers.push(child),
            Err(e) => {
                end_workers(&mut workers);
                return Err(format!("cannot start worker {i}: {e}").into());
            }
        }
    }
    let outcome = reactor.run();
    end_workers(&mut workers);
    outcome?;
    Ok(())
}

/// `w.terminate()` for each worker: closing its stdin ends it; a kill
/// makes sure.
fn end_workers(workers: &mut Vec<Child>) {
    for mut worker in workers.drain(..) {
        drop(worker.stdin.take());
        let _ = worker.kill();
        let _ = worker.wait();
    }
}

/// `log_worker`: a PUB connection under the log handler, a record at a
/// random level every interval, those below `level` filtered out.
fn log_worker(args: &Args, level: PyLevel) -> Result<(), Box<dyn Error>> {
    let pid = std::process::id();
    let reactor = Reactor::builder().build()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();
    let publisher = ZmqPubConnection::new(
        &factory,
        ZmqEndpoint::connect(format!("tcp://127.0.0.1:{}", args.port)),
    )?;
    let handler = PubLogHandler::new(&publisher)?;
    println!("starting logger at {pid} with level={}", level.number());

    // The end of stdin (the main process has gone) stops the worker.
    let handle = reactor.thread_handle();
    std::thread::spawn(move || {
        let mut sink = [0u8; 64];
        while matches!(std::io::stdin().read(&mut sink), Ok(n) if n > 0) {}
        let _ = handle.call_from_thread(|cx| cx.reactor.stop());
    });

    let mut random = Random::from_seed(args.seed);
    let ticker = LoopingCall::new(&reactor, move |_| {
        let Some(&chosen) = random.choice(&PyLevel::ALL) else {
            return;
        };
        if chosen >= level {
            let message = format!("Hello from {pid}!");
            handler.log_at(
                chosen,
                &log::Record::builder()
                    .level(chosen.to_log())
                    .target("zmqlogger")
                    .file(Some(file!()))
                    .line(Some(line!()))
                    .args(format_args!("{message}"))
                    .build(),
            );
        }
    });
    ticker.start(args.interval, true)?;
    reactor.run()?;
    Ok(())
}

fn main() -> ExitCode {
    pyport::main(run)
}
