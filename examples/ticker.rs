//! `tests/peers/ticker.py`, a small txZMQ application written for
//! docs/PORTING.md ("A whole application, side by side"), which shows the
//! two files together: a server publishes a tick (its number, tag `tick`)
//! every interval and answers requests, `square N` with `N*N` and `stop`
//! with `bye` (and then stops ticking); a client subscribes to the ticks,
//! asks the server to square the first `--count` of them, waits for every
//! answer with a `DeferredList`, then sends `stop` and stops its reactor.
//! The server alone stops its reactor on `stop`; with no role, both run in
//! one reactor and the program exits by itself.
//!
//! The port: the same roles and options (flags in the examples' spelling,
//! `--interval-ms`), and the same printed lines, so either side talks to
//! the other's original. The module-level `role` is the reactor's state;
//! the `answers` list lives in the closure that fills it, as in `client()`;
//! the `Squares` subclass of `ZmqREPConnection` is a struct with a
//! `RepProtocol`; the `sendMsg` chain is `then` (a callback that changes
//! the value's type) and `add_errback` (with `failure.trap` spelled out).
//!
//! ```text
//! cargo run --example ticker -- --count 3
//! cargo run --example ticker -- server --pub ipc:///tmp/tick --rep ipc:///tmp/square
//! cargo run --example ticker -- client --pub ipc:///tmp/tick --rep ipc:///tmp/square
//! ```
//!
//! The client prints `client: tick 7`, `client: 7 squared is 49`, ...,
//! `client: 3 of 3 answered`, `client: server said b'bye'`; the server
//! prints `server: got [b'square', b'7']` for each request.

use std::error::Error;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tx0mq::connections::{
    bytes_repr, multipart, Frame, Multipart, RepProtocol, ZmqCtx, ZmqEndpoint, ZmqFactory,
    ZmqPubConnection, ZmqRepConnection, ZmqReqConnection, ZmqRequestTimeoutError, ZmqSubConnection,
};
use tx0mq::reactor::{DeferredList, ListResult};
use tx0mq::{Deferred, Failure, LoopingCall, Reactor};

mod pyport;
use pyport::bytes_list_repr;

/// A ticker and a squaring service (the Python original: tests/peers/ticker.py).
#[derive(Parser)]
struct Args {
    /// Which side to run
    #[arg(value_enum, default_value_t = Role::Both)]
    role: Role,
    /// Where the server publishes its ticks
    #[arg(long = "pub", default_value = "tcp://127.0.0.1:5570")]
    publish: String,
    /// Where the server answers requests
    #[arg(long, default_value = "tcp://127.0.0.1:5571")]
    rep: String,
    /// How many ticks the client has squared before it stops the server
    #[arg(long, value_name = "N", default_value = "5")]
    count: usize,
    /// The ticking period, in milliseconds
    #[arg(long = "interval-ms", value_name = "MS", default_value = "100", value_parser = pyport::millis)]
    interval: Duration,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Role {
    Server,
    Client,
    Both,
}

/// The original's module-level `role`, which every callback can read.
struct Ticker {
    role: Role,
}

/// Answers "square N" with N*N; "stop" stops the ticker.
struct Squares {
    ticker: LoopingCall<Ticker>,
    publisher: ZmqPubConnection<Ticker>,
}

type RepCtx<'a> = ZmqCtx<'a, Ticker, ZmqRepConnection<Ticker>>;

impl RepProtocol<Ticker> for Squares {
    fn got_message(&mut self, cx: &mut RepCtx<'_>, message_id: Frame, parts: Multipart) {
        if let Err(e) = self.answer(cx, &message_id, &parts) {
            log::error!("server: {e}");
        }
    }
}

impl Squares {
    fn answer(
        &mut self,
        cx: &mut RepCtx<'_>,
        id: &[u8],
        parts: &[Frame],
    ) -> Result<(), Box<dyn Error>> {
        println!("server: got {}", bytes_list_repr(parts));
        match parts.first().map(|frame| &frame[..]) {
            Some(b"square") => {
                let n = int(parts.get(1))?;
                let square = n.checked_mul(n).ok_or("too large to square")?;
                cx.conn.reply(id, square.to_string())?;
            }
            Some(b"stop") => {
                self.ticker.stop()?;
                self.publisher.shutdown();
                cx.conn.reply(id, b"bye")?;
                if cx.state.role == Role::Server {
                    cx.reactor.stop()?;
                }
            }
            _ => cx.conn.reply(id, b"unknown")?,
        }
        Ok(())
    }
}

fn server(
    reactor: &Reactor<Ticker>,
    zf: &ZmqFactory<Ticker>,
    args: &Args,
) -> Result<(), Box<dyn Error>> {
    let publisher = ZmqPubConnection::new(zf, ZmqEndpoint::bind(&args.publish))?;
    let mut numbers = 1u64..;
    let ticks = publisher.clone();
    let ticker = LoopingCall::new(reactor, move |_| {
        ticks.publish(numbers.next().unwrap_or_default().to_string(), b"tick")
    });
    let rep = ZmqRepConnection::new(zf, ZmqEndpoint::bind(&args.rep))?;
    rep.set_protocol(Squares {
        ticker: ticker.clone(),
        publisher,
    })?;
    ticker.start(args.interval, true)?;
    println!(
        "server: ticking on {}, squaring on {}",
        args.publish, args.rep
    );
    Ok(())
}

fn client(zf: &ZmqFactory<Ticker>, args: &Args) -> Result<(), Box<dyn Error>> {
    let sub = ZmqSubConnection::new(zf, ZmqEndpoint::connect(&args.publish))?;
    let req = ZmqReqConnection::new(zf, ZmqEndpoint::connect(&args.rep))?;
    req.set_default_timeout(Some(Duration::from_secs(1)));
    let count = args.count;
    let mut answers: Vec<Deferred<bool>> = Vec::new();

    sub.got_message(move |cx, message, _tag| {
        if answers.len() == count {
            return Ok(()); // done: waiting for the last answers
        }
        let n = int(Some(&message))?;
        println!("client: tick {n}");
        let d = req
            .send_msg(multipart![b"square", message])
            .then(|reply| int(reply.first()))
            .then(move |square| Ok(show(n, square)));
        d.add_errback(move |failure| no_reply(failure, n));
        answers.push(d);
        if answers.len() == count {
            cx.conn.unsubscribe(b"tick")?;
            let (req, reactor) = (req.clone(), cx.reactor.clone());
            let everything = DeferredList::new(answers.clone())
                .consume_errors(true)
                .build();
            everything.then(move |results| stop(&req, reactor, results));
        }
        Ok::<(), Box<dyn Error>>(())
    });
    sub.subscribe(b"tick")?;
    println!(
        "client: ticks from {}, squares from {}",
        args.publish, args.rep
    );
    Ok(())
}

fn show(n: i128, square: i128) -> bool {
    println!("client: {n} squared is {square}");
    true
}

fn no_reply(failure: Failure, n: i128) -> Result<bool, Failure> {
    if !failure.is::<ZmqRequestTimeoutError>() {
        return Err(failure); // failure.trap(ZmqRequestTimeoutError)
    }
    println!("client: no answer for tick {n}");
    Ok(false)
}

fn stop(
    req: &ZmqReqConnection<Ticker>,
    reactor: Reactor<Ticker>,
    results: ListResult<bool>,
) -> Result<(), Failure> {
    let results = results.into_all().unwrap_or_default();
    let answered = results
        .iter()
        .filter(|outcome| matches!(outcome, Ok(true)))
        .count();
    println!("client: {answered} of {} answered", results.len());
    req.send_msg(b"stop")
        .then(|reply| {
            println!("client: server said {}", bytes_repr(&reply[0]));
            Ok(())
        })
        .add_errback(|failure| {
            println!("client: {failure}");
            Ok(())
        })
        .add_both(move |_| Ok(reactor.stop()?));
    Ok(())
}

/// Python's `int(frame)`, of a frame that may be missing (`parts[1]`).
fn int(frame: Option<&Frame>) -> Result<i128, Failure> {
    let frame = frame.ok_or_else(|| Failure::msg("a frame is missing"))?;
    Ok(std::str::from_utf8(frame)?.trim().parse()?)
}

fn run(args: Args) -> Result<(), Box<dyn Error>> {
    let reactor = Reactor::with_state(Ticker { role: args.role })?;
    let zf = ZmqFactory::new(&reactor)?;
    zf.register_for_shutdown();
    if matches!(args.role, Role::Server | Role::Both) {
        server(&reactor, &zf, &args)?;
    }
    if matches!(args.role, Role::Client | Role::Both) {
        client(&zf, &args)?;
    }
    reactor.run()?;
    Ok(())
}

fn main() -> ExitCode {
    pyport::main(run)
}
