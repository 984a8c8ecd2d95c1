//! `strawhouse.py`, the second of pyzmq's security examples
//! (`examples/security/`): clients allowed or denied by IP address. The
//! connection still uses the NULL mechanism (no password, no encryption),
//! but the server sets a ZAP domain (`global`), so libzmq asks the ZAP
//! handler about each client, and the handler checks the client's address.
//!
//! The original runs pyzmq's `ThreadAuthenticator` (the ZAP handler on a
//! thread of its own) with `127.0.0.1` allowed, binds a PUSH server on
//! `tcp://*:9000`, connects a PULL client from `127.0.0.1` and checks that
//! it receives `Hello`. Then it stops the authenticator, starts a new one
//! that denies `127.0.0.1`, connects a second client and checks that it
//! receives nothing (two 50 ms polls). It logs `Strawhouse test OK` if both
//! checks passed, `Strawhouse test FAIL` otherwise.
//!
//! The port: the authenticator is tx0mq's [`Authenticator`], which answers
//! ZAP requests in the reactor (no thread). The blocking `recv()` is the
//! allowed client's callback, which goes on to the second part; the server's
//! sends wait in its outbox instead of blocking. The second part waits for
//! the new authenticator's decision on the denied client (at most five
//! seconds), and only then sends and gives the message 50 ms to arrive,
//! where the original waits up to 50 ms for the server to be able to send
//! (a client to be let in) and 50 ms more for the message. A send before
//! the decision could go to the first client's connection, closed but not
//! yet seen closed by the server, and be lost: the check would pass with
//! the client let in.
//!
//! ```text
//! cargo run --example strawhouse
//! cargo run --example strawhouse -- --bind tcp://*:9001 --connect tcp://127.0.0.1:9001
//! ```
//!
//! Prints `[INFO] Strawhouse test OK`, or `[ERROR] Strawhouse test FAIL`,
//! as the original's `logging` does (see `pyport::Logging`). `-v` is
//! accepted, as in the original (it prints debug lines; this port has none:
//! `RUST_LOG=debug` shows the authenticator's decisions). `--bind` and
//! `--connect` default to the original's endpoints. `--deny` (default
//! `127.0.0.1`) is the address the second authenticator denies: another one
//! lets the second client in, and the port reports `FAIL` (for tests).

use std::error::Error;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tx0mq::connections::security::Authenticator;
use tx0mq::connections::{
    ZmqEndpoint, ZmqFactory, ZmqOptions, ZmqPullConnection, ZmqPushConnection,
};
use tx0mq::{Ctx, Reactor};

mod pyport;
use pyport::{first, Logging};

/// How long the second part waits for the authenticator's decision on the
/// denied client before it looks for a message anyway (the decision takes
/// milliseconds; this bounds the wait should no request ever come).
const DECISION_WAIT: Duration = Duration::from_secs(5);
/// How often it looks at the authenticator's decisions meanwhile.
const TICK: Duration = Duration::from_millis(5);
/// How long the denied client is then given to receive (the original's
/// `client_deny.poll(50)`).
const POLL: Duration = Duration::from_millis(50);

/// The reactor's state: what the two parts found, or what went wrong.
#[derive(Default)]
struct Outcome {
    allow_test_pass: bool,
    deny_test_pass: bool,
    /// A message reached the denied client.
    denied_client_received: bool,
    /// An error in the second part, which ends the program.
    failed: Option<Box<dyn Error>>,
}

/// What the second part works with.
struct Part2 {
    factory: ZmqFactory<Outcome>,
    server: ZmqPushConnection<Outcome>,
    connect: String,
    deny: String,
    /// The first authenticator, to stop.
    auth: Authenticator<Outcome>,
}

/// The denied client, the authenticator that denies it, and the server.
struct Denied {
    auth: Authenticator<Outcome>,
    client_deny: ZmqPullConnection<Outcome>,
    server: ZmqPushConnection<Outcome>,
}

fn run(args: Args) -> Result<(), Box<dyn Error>> {
    let logging = Logging {
        verbose: args.verbose,
    };
    let reactor = Reactor::with_state(Outcome::default())?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();

    // The ZAP handler for this factory's sockets.
    let auth = Authenticator::new(&factory);
    auth.start()?;

    // First part: a client from an allowed address gets in.
    auth.allow(["127.0.0.1"]);

    let server = ZmqPushConnection::with_options(
        &factory,
        ZmqEndpoint::bind(args.bind),
        &ZmqOptions::new().zap_domain("global"),
    )?;

    let client_allow = ZmqPullConnection::new(&factory, ZmqEndpoint::connect(&args.connect))?;

    server.push("Hello")?;

    let mut part_2 = Some(Part2 {
        factory: factory.clone(),
        server,
        connect: args.connect,
        deny: args.deny,
        auth,
    });
    client_allow.on_pull(move |cx, message| {
        let Some(part_2) = part_2.take() else {
            return; // only the first message counts
        };
        if first(&message) == b"Hello" {
            cx.state.allow_test_pass = true;
        }
        cx.conn.shutdown();
        let mut cx = cx.ctx();
        if let Err(e) = second_part(&mut cx, part_2) {
            cx.state.failed = Some(e);
            let _ = cx.reactor.stop();
        }
    });

    reactor.run()?;

    let outcome = reactor.access_state(std::mem::take)?;
    if let Some(e) = outcome.failed {
        return Err(e);
    }
    if outcome.allow_test_pass && outcome.deny_test_pass {
        logging.info("Strawhouse test OK");
    } else {
        logging.error("Strawhouse test FAIL");
    }
    Ok(())
}

/// Second part: with a new authenticator that denies the address, a new
/// client from it gets nothing.
fn second_part(cx: &mut Ctx<'_, Outcome>, part: Part2) -> Result<(), Box<dyn Error>> {
    part.auth.stop();

    let auth = Authenticator::new(&part.factory);
    auth.start()?;

    auth.deny([part.deny]);

    let client_deny = ZmqPullConnection::new(&part.factory, ZmqEndpoint::connect(&part.connect))?;
    client_deny.on_pull(|cx, _message| cx.state.denied_client_received = true);

    let denied = Denied {
        auth,
        client_deny,
        server: part.server,
    };
    let deadline = cx.reactor.seconds() + DECISION_WAIT;
    wait_for_decision(cx, denied, deadline);
    Ok(())
}

/// Waits until the authenticator has decided on the client (or the reactor's
/// clock has reached `deadline`), then sends and gives the message [`POLL`]
/// to reach the denied client.
fn wait_for_decision(cx: &mut Ctx<'_, Outcome>, denied: Denied, deadline: Duration) {
    let stats = denied.auth.stats();
    let decided = stats.accepted + stats.refused + stats.malformed + stats.failed > 0;
    if !decided && cx.reactor.seconds() < deadline {
        cx.reactor.call_later(TICK, move |cx| {
            wait_for_decision(cx, denied, deadline);
        });
        return;
    }
    // Sent only now: earlier, it could go to the first client's connection
    // while the server has not yet seen it close, and be lost there, so the
    // check would pass even with the client let in. It waits in the outbox
    // until a client takes it (the original sends only if the server can
    // send within 50 ms); the denied client must not get it.
    if let Err(e) = denied.server.push("Hello") {
        cx.state.failed = Some(e.into());
        let _ = cx.reactor.stop();
        return;
    }
    cx.reactor.call_later(POLL, move |cx| {
        cx.state.deny_test_pass = !cx.state.denied_client_received;
        denied.client_deny.shutdown();
        denied.auth.stop();
        cx.reactor.stop()
    });
}

/// Allows, then denies, clients by IP address on the NULL mechanism
/// (pyzmq's strawhouse.py).
#[derive(Parser)]
struct Args {
    /// Endpoint the server binds
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://*:9000")]
    bind: String,
    /// Endpoint the clients connect to (from 127.0.0.1, the address the
    /// authenticator allows, then denies)
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://127.0.0.1:9000")]
    connect: String,
    /// Address the second authenticator denies (another one lets the second
    /// client in, which the test reports as a failure)
    #[arg(long, value_name = "ADDRESS", default_value = "127.0.0.1")]
    deny: String,
    /// The original's -v (debug logging): this port has no debug lines;
    /// RUST_LOG=debug shows the authenticator's decisions
    #[arg(short)]
    verbose: bool,
}

fn main() -> ExitCode {
    pyport::main(run)
}
