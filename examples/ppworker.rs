//! `ppworker.py`, the zguide's Paranoid Pirate worker (chapter 4, "Robust
//! Reliable Queuing (Paranoid Pirate Pattern)"): a DEALER socket with a
//! random printable identity (`%04X-%04X`) connects to the queue's backend
//! on `tcp://localhost:5556` and says `PPP_READY` (`"\x01"`). It polls for a
//! `HEARTBEAT_INTERVAL` (1 s) at a time:
//!
//! - a request (`[client, "", body]`) is answered with itself, then a second
//!   of work; after the first three, one in six "crashes" the worker (it
//!   exits without answering) and one in six "overloads" it (three seconds
//!   more before answering);
//! - the queue's heartbeat (`PPP_HEARTBEAT`, `"\x02"`) is logged;
//! - anything heard restores its liveness (`HEARTBEAT_LIVENESS`, 3) and
//!   resets its reconnect interval (`INTERVAL_INIT`, 1 s); a poll that hears
//!   nothing costs a liveness, and at none left the worker waits the
//!   interval, doubles it (up to `INTERVAL_MAX`, 32 s), and reconnects on a
//!   new socket with a new identity.
//!
//! It sends its own heartbeat once a `HEARTBEAT_INTERVAL`.
//!
//! The port: the DEALER socket is a raw `ZmqConnection` of type DEALER,
//! replaced by a new one on reconnect. The poll's timeout is a `DelayedCall`
//! that a message resets and that, when it fires, costs a liveness. The
//! worker's heartbeat is a `LoopingCall`. Each of the original's sleeps
//! (the work, the overload, the wait before reconnecting) pauses the
//! connection, the poll's timer and the heartbeats for its duration, since
//! the original does nothing while it sleeps. `--seed N` makes the
//! identities, crashes and overloads repeatable.
//!
//! ```sh
//! cargo run --example ppqueue &
//! cargo run --example ppworker &
//! cargo run --example lpclient
//! ```
//!
//! Prints the original's lines: `I: Normal reply`, `I: Queue heartbeat`,
//! `I: Worker heartbeat`, `I: Simulating CPU overload`, `I: Simulating a
//! crash`, `E: Invalid message: [b'\x05']`, `W: Heartbeat failure, can't
//! reach queue`, `W: Reconnecting in 1.00s...`. Flags: `--connect`
//! (`tcp://localhost:5556`), `--seed N`, `--work-ms` (1000),
//! `--overload-ms` (3000).

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tx0mq::connections::{zmq, Multipart, ZmqConnection, ZmqEndpoint, ZmqFactory, ZmqOptions};
use tx0mq::{Ctx, DelayedCall, LoopingCall, Reactor};

mod pyport;
use pyport::Random;
mod pirates;
use pirates::{
    HEARTBEAT_INTERVAL, HEARTBEAT_LIVENESS, INTERVAL_INIT, INTERVAL_MAX, PPP_HEARTBEAT, PPP_READY,
};

/// What a callback returns: an error is logged by the reactor.
type Outcome = Result<(), Box<dyn std::error::Error>>;

/// The worker's state, lent by the reactor to each callback.
struct Worker {
    args: Args,
    factory: Option<ZmqFactory<Worker>>,
    /// The socket to the queue (a new one after each reconnect).
    conn: Option<ZmqConnection<Worker>>,
    /// Polls left without a word from the queue.
    liveness: u32,
    /// The next wait before reconnecting.
    interval: Duration,
    /// Requests received so far.
    cycles: u64,
    random: Random,
    /// The poll's timeout: fires after a heartbeat interval of silence.
    poll: Option<DelayedCall>,
    /// True while the original would be sleeping.
    asleep: bool,
}

/// A new socket connected to the queue, which is told the worker is ready
/// (the original's `worker_socket`).
fn worker_socket(cx: &mut Ctx<'_, Worker>) -> Outcome {
    let factory = cx.state.factory.clone().ok_or("the factory is gone")?;
    let identity = pirates::worker_identity(&mut cx.state.random);
    // The original sets LINGER 0 just before it closes the socket.
    let options = ZmqOptions::new().identity(identity).linger(Duration::ZERO);
    let endpoint = ZmqEndpoint::connect(&cx.state.args.connect);
    let worker = ZmqConnection::with_options(&factory, zmq::DEALER, endpoint, &options)?;
    worker.message_received(|cx, frames| message_received(&mut cx.ctx(), frames));
    worker.send([PPP_READY])?;
    cx.state.conn = Some(worker);
    Ok(())
}

/// Starts (or restarts) the poll's timeout.
fn poll(cx: &mut Ctx<'_, Worker>) {
    if let Some(timer) = cx.state.poll.take() {
        let _ = timer.cancel();
    }
    cx.state.poll = Some(cx.reactor.call_later(HEARTBEAT_INTERVAL, poll_expired));
}

/// The original's `time.sleep(duration)`: nothing is read, polled or sent
/// meanwhile. Then `then` runs and the poll goes on.
fn sleep(
    cx: &mut Ctx<'_, Worker>,
    duration: Duration,
    then: impl FnOnce(&mut Ctx<'_, Worker>) -> Outcome + 'static,
) {
    cx.state.asleep = true;
    if let Some(conn) = &cx.state.conn {
        conn.pause_reading();
    }
    if let Some(timer) = cx.state.poll.take() {
        let _ = timer.cancel();
    }
    cx.reactor.call_later(duration, move |cx| {
        cx.state.asleep = false;
        let outcome = then(cx);
        // Unless `then` went back to sleep (work after an overload).
        if !cx.state.asleep {
            if let Some(conn) = &cx.state.conn {
                conn.resume_reading();
            }
            poll(cx);
        }
        outcome
    });
}

/// The poll returned a message from the queue.
fn message_received(cx: &mut Ctx<'_, Worker>, frames: Multipart) -> Outcome {
    //  - 3-part envelope + content -> request
    //  - 1-part HEARTBEAT -> heartbeat
    cx.state.interval = INTERVAL_INIT;
    if frames.len() == 3 {
        // Simulate various problems, after a few cycles
        cx.state.cycles += 1;
        let cycles = cx.state.cycles;
        if cycles > 3 && cx.state.random.randint(0, 5) == 0 {
            println!("I: Simulating a crash");
            return Ok(cx.reactor.stop()?);
        }
        if cycles > 3 && cx.state.random.randint(0, 5) == 0 {
            println!("I: Simulating CPU overload");
            let overload = cx.state.args.overload;
            sleep(cx, overload, move |cx| reply(cx, frames));
            return Ok(());
        }
        reply(cx, frames)
    } else {
        if frames.len() == 1 && frames[0][..] == *PPP_HEARTBEAT {
            println!("I: Queue heartbeat");
            cx.state.liveness = HEARTBEAT_LIVENESS;
        } else {
            println!("E: Invalid message: {}", pyport::bytes_list_repr(&frames));
        }
        poll(cx);
        Ok(())
    }
}

/// Answers a request, then works for a while.
fn reply(cx: &mut Ctx<'_, Worker>, frames: Multipart) -> Outcome {
    println!("I: Normal reply");
    if let Some(conn) = &cx.state.conn {
        conn.send(frames)?;
    }
    cx.state.liveness = HEARTBEAT_LIVENESS;
    // Do some heavy work
    let work = cx.state.args.work;
    sleep(cx, work, |_| Ok(()));
    Ok(())
}

/// A heartbeat interval of silence.
fn poll_expired(cx: &mut Ctx<'_, Worker>) -> Outcome {
    cx.state.poll = None;
    cx.state.liveness = cx.state.liveness.saturating_sub(1);
    if cx.state.liveness > 0 {
        poll(cx);
        return Ok(());
    }
    println!("W: Heartbeat failure, can't reach queue");
    let interval = cx.state.interval;
    println!("W: Reconnecting in {:.2}s...", interval.as_secs_f64());
    sleep(cx, interval, |cx| {
        if cx.state.interval < INTERVAL_MAX {
            cx.state.interval *= 2;
        }
        if let Some(conn) = cx.state.conn.take() {
            conn.shutdown();
        }
        cx.state.liveness = HEARTBEAT_LIVENESS;
        worker_socket(cx)
    });
    Ok(())
}

/// The worker's own heartbeat, once a heartbeat interval while awake.
fn heartbeat(cx: &mut Ctx<'_, Worker>) -> Outcome {
    if cx.state.asleep {
        return Ok(());
    }
    println!("I: Worker heartbeat");
    if let Some(conn) = &cx.state.conn {
        conn.send([PPP_HEARTBEAT])?;
    }
    Ok(())
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let random = Random::from_seed(args.seed);
    let reactor = Reactor::with_state(Worker {
        args,
        factory: None,
        conn: None,
        liveness: HEARTBEAT_LIVENESS,
        interval: INTERVAL_INIT,
        cycles: 0,
        random,
        poll: None,
        asleep: false,
    })?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();
    let for_state = factory.clone();
    reactor.access_state(move |worker| worker.factory = Some(for_state))?;

    reactor.with_ctx(|cx| {
        worker_socket(cx)?;
        poll(cx);
        Outcome::Ok(())
    })??;
    LoopingCall::new(&reactor, heartbeat).start(HEARTBEAT_INTERVAL, false)?;

    reactor.run()?;
    // The factory's handle in the state would keep it (and the reactor) alive.
    reactor.access_state(|worker| worker.factory = None)?;
    Ok(())
}

/// Paranoid Pirate worker: heartbeats with its queue, reconnects when the
/// queue falls silent (zguide's ppworker.py).
#[derive(Parser)]
struct Args {
    /// The queue's backend
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://localhost:5556")]
    connect: String,
    /// Seed of the identities, crashes and overloads [default: from the clock]
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
    /// The "heavy work" after each reply, in milliseconds
    #[arg(long = "work-ms", value_name = "MS", default_value = "1000", value_parser = pyport::millis)]
    work: Duration,
    /// The extra stall of a simulated CPU overload, in milliseconds
    #[arg(long = "overload-ms", value_name = "MS", default_value = "3000", value_parser = pyport::millis)]
    overload: Duration,
}

fn main() -> ExitCode {
    pyport::main(run)
}
