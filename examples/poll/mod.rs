//! What pyzmq's `poll/` examples share (not an example itself): the check
//! each step makes, a socket's `ZMQ_EVENTS` against what the original's
//! `dict(poller.poll())` asserts, and the failure that ends the run.
#![allow(dead_code)]

use std::error::Error;
use std::time::Duration;

use tx0mq::connections::pattern::Pattern;
use tx0mq::connections::{zmq, Connection};
use tx0mq::{Ctx, Reactor};

/// The reactor's state: the first failed check, if any.
#[derive(Default)]
pub struct Checks {
    /// What failed, for `run` to return as its error.
    pub failure: Option<String>,
}

/// `POLLIN|POLLOUT`, `POLLIN`, `POLLOUT` or `0`, as the originals spell them.
pub fn events_repr(events: zmq::PollEvents) -> String {
    let mut names = Vec::new();
    if events.contains(zmq::POLLIN) {
        names.push("POLLIN");
    }
    if events.contains(zmq::POLLOUT) {
        names.push("POLLOUT");
    }
    if names.is_empty() {
        "0".to_string()
    } else {
        names.join("|")
    }
}

/// The original's `assert socks[name] == expected` (an absent socket is
/// `0`): the error says which socket, at which step, had what.
pub fn check<K: Pattern, S: 'static>(
    name: &str,
    step: &str,
    socket: &Connection<K, S>,
    expected: zmq::PollEvents,
) -> Result<(), Box<dyn Error>> {
    let events = socket.events()?;
    if events == expected {
        Ok(())
    } else {
        Err(format!(
            "assertion failed {step}: {name} is {}, expected {}",
            events_repr(events),
            events_repr(expected)
        )
        .into())
    }
}

/// Ends the run on a failed step: keeps the first failure and stops.
pub fn outcome(cx: &mut Ctx<'_, Checks>, result: Result<(), Box<dyn Error>>) {
    if let Err(e) = result {
        if cx.state.failure.is_none() {
            cx.state.failure = Some(e.to_string());
        }
        let _ = cx.reactor.stop();
    }
}

/// The originals' last step: wait `settle` for everything to finish, print
/// `Finished.` and stop.
pub fn finish_after(cx: &mut Ctx<'_, Checks>, settle: Duration) {
    cx.reactor.call_later(settle, |cx| {
        println!("Finished.");
        cx.reactor.stop()
    });
}

/// Runs the checks to their end: the first failed one is the error.
pub fn run(reactor: &Reactor<Checks>) -> Result<(), Box<dyn Error>> {
    reactor.run()?;
    match reactor.access_state(|s| s.failure.take())? {
        Some(failure) => Err(failure.into()),
        None => Ok(()),
    }
}
