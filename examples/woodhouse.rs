//! `woodhouse.py`, the third of pyzmq's security examples
//! (`examples/security/`): Strawhouse's address check plus a user name and
//! password, with the PLAIN mechanism. Not really secure: the password
//! crosses the network in clear text.
//!
//! The original runs pyzmq's `ThreadAuthenticator` (the ZAP handler on a
//! thread of its own) allowing `127.0.0.1` and the PLAIN user `admin` with
//! password `secret` in every domain, binds a PLAIN server (PUSH) on
//! `tcp://*:9000` and connects a PULL client as `admin`/`secret`, which
//! must receive `Hello`. It then closes that client, connects another with
//! the wrong password (`bogus`), sends `World`, and checks that the second
//! client receives nothing within 50 ms. It logs `Woodhouse test OK` if both
//! checks passed, `Woodhouse test FAIL` otherwise.
//!
//! The port: the authenticator is tx0mq's [`Authenticator`], which answers
//! ZAP requests in the reactor (no thread). The blocking `poll()` and
//! `recv()` are the first client's callback, which goes on to the second
//! client; the server's sends wait in its outbox instead of blocking. The
//! second check waits for the authenticator's decision on the wrong password
//! (at most five seconds), and only then sends `World` and gives it 50 ms to
//! arrive. The original's check passes even with the client let in: its send
//! goes out before the handshake is done, to the first client's connection
//! if the server has not seen it close yet, where it is lost. (Where the
//! original, on a message for the second client, reads from the first one,
//! already closed, the port simply counts the message as a failure.)
//!
//! ```text
//! cargo run --example woodhouse
//! cargo run --example woodhouse -- --bind tcp://*:9001 --connect tcp://127.0.0.1:9001
//! ```
//!
//! Prints `[INFO] Woodhouse test OK`, or `[ERROR] Woodhouse test FAIL`, as
//! the original's `logging` does (see `pyport::Logging`). `-v` is accepted,
//! as in the original (it prints debug lines; this port has none:
//! `RUST_LOG=debug` shows the authenticator's decisions). `--bind` and
//! `--connect` default to the original's endpoints. `--bad-password`
//! (default `bogus`) is the second client's password: the right one lets it
//! in, and the port reports `FAIL` (for tests).

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

/// How long the second check waits for the authenticator's decision on the
/// wrong password before it looks for a message anyway (the decision takes
/// milliseconds; this bounds the wait should no request ever come).
const DECISION_WAIT: Duration = Duration::from_secs(5);
/// How often it looks at the authenticator's decisions meanwhile.
const TICK: Duration = Duration::from_millis(5);
/// How long the second client is then given to receive (the original's
/// `client2.poll(50)`).
const POLL: Duration = Duration::from_millis(50);

/// The reactor's state: what the two checks found, or what went wrong.
#[derive(Default)]
struct Outcome {
    valid_client_test_pass: bool,
    invalid_client_test_pass: bool,
    /// A message reached the client with the wrong password.
    invalid_client_received: bool,
    /// An error in the second check, which ends the program.
    failed: Option<Box<dyn Error>>,
}

/// What the second check works with.
struct Check2 {
    factory: ZmqFactory<Outcome>,
    server: ZmqPushConnection<Outcome>,
    connect: String,
    bad_password: String,
    auth: Authenticator<Outcome>,
}

fn run(args: Args) -> Result<(), Box<dyn Error>> {
    let logging = Logging {
        verbose: args.verbose,
    };
    let reactor = Reactor::with_state(Outcome::default())?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();

    // The ZAP handler for this factory's sockets, with one PLAIN user for
    // every domain.
    let auth = Authenticator::new(&factory);
    auth.start()?;
    auth.allow(["127.0.0.1"]);
    auth.configure_plain("*", [("admin", "secret")]);

    let server = ZmqPushConnection::with_options(
        &factory,
        ZmqEndpoint::bind(args.bind),
        &ZmqOptions::new().plain_server(true),
    )?;

    let client = ZmqPullConnection::with_options(
        &factory,
        ZmqEndpoint::connect(&args.connect),
        &ZmqOptions::new().plain_client("admin", "secret"),
    )?;

    server.push("Hello")?;

    let mut check_2 = Some(Check2 {
        factory: factory.clone(),
        server,
        connect: args.connect,
        bad_password: args.bad_password,
        auth,
    });
    client.on_pull(move |cx, message| {
        let Some(check_2) = check_2.take() else {
            return; // only the first message counts
        };
        if first(&message) == b"Hello" {
            cx.state.valid_client_test_pass = true;
        }
        cx.conn.shutdown();
        let mut cx = cx.ctx();
        if let Err(e) = invalid_client(&mut cx, check_2) {
            cx.state.failed = Some(e);
            let _ = cx.reactor.stop();
        }
    });

    reactor.run()?;

    let outcome = reactor.access_state(std::mem::take)?;
    if let Some(e) = outcome.failed {
        return Err(e);
    }
    if outcome.valid_client_test_pass && outcome.invalid_client_test_pass {
        logging.info("Woodhouse test OK");
    } else {
        logging.error("Woodhouse test FAIL");
    }
    Ok(())
}

/// The second check: a client with the wrong password must get nothing.
fn invalid_client(cx: &mut Ctx<'_, Outcome>, check: Check2) -> Result<(), Box<dyn Error>> {
    let decided_before = decisions(&check.auth);
    let client2 = ZmqPullConnection::with_options(
        &check.factory,
        ZmqEndpoint::connect(&check.connect),
        &ZmqOptions::new().plain_client("admin", &check.bad_password),
    )?;
    client2.on_pull(|cx, _message| cx.state.invalid_client_received = true);

    let invalid = Invalid {
        auth: check.auth,
        client2,
        server: check.server,
        decided_before,
    };
    let deadline = cx.reactor.seconds() + DECISION_WAIT;
    wait_for_decision(cx, invalid, deadline);
    Ok(())
}

/// The client with the wrong password, and what checks it.
struct Invalid {
    auth: Authenticator<Outcome>,
    client2: ZmqPullConnection<Outcome>,
    server: ZmqPushConnection<Outcome>,
    /// The authenticator's decisions before the client came.
    decided_before: u64,
}

/// How many clients the authenticator has decided on.
fn decisions(auth: &Authenticator<Outcome>) -> u64 {
    let stats = auth.stats();
    stats.accepted + stats.refused + stats.malformed + stats.failed
}

/// Waits until the authenticator has decided on the client (or the reactor's
/// clock has reached `deadline`), then sends and gives the message [`POLL`]
/// to reach the client.
fn wait_for_decision(cx: &mut Ctx<'_, Outcome>, invalid: Invalid, deadline: Duration) {
    if decisions(&invalid.auth) == invalid.decided_before && cx.reactor.seconds() < deadline {
        cx.reactor.call_later(TICK, move |cx| {
            wait_for_decision(cx, invalid, deadline);
        });
        return;
    }
    // Sent only now: earlier, it could go to the first client's connection
    // while the server has not yet seen it close, and be lost there, so the
    // check would pass even with the client let in.
    if let Err(e) = invalid.server.push("World") {
        cx.state.failed = Some(e.into());
        let _ = cx.reactor.stop();
        return;
    }
    cx.reactor.call_later(POLL, move |cx| {
        cx.state.invalid_client_test_pass = !cx.state.invalid_client_received;
        invalid.client2.shutdown();
        invalid.auth.stop();
        cx.reactor.stop()
    });
}

/// A user name and password check with the PLAIN mechanism (pyzmq's
/// woodhouse.py).
#[derive(Parser)]
struct Args {
    /// Endpoint the server binds
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://*:9000")]
    bind: String,
    /// Endpoint the clients connect to (from 127.0.0.1, the address the
    /// authenticator allows)
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://127.0.0.1:9000")]
    connect: String,
    /// Password of the second client (the right one, secret, lets it in,
    /// which the test reports as a failure)
    #[arg(long, value_name = "PASSWORD", default_value = "bogus")]
    bad_password: String,
    /// The original's -v (debug logging): this port has no debug lines;
    /// RUST_LOG=debug shows the authenticator's decisions
    #[arg(short)]
    verbose: bool,
}

fn main() -> ExitCode {
    pyport::main(run)
}
