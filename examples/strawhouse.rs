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
//! The test's steps are woodhouse's too, in
//! `pyport::house::LetInThenRefused`; what is Strawhouse's own is in
//! `run`: the ZAP domain, the address the first authenticator allows and the
//! second denies.
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

use clap::Parser;
use tx0mq::connections::security::Authenticator;
use tx0mq::connections::{ZmqEndpoint, ZmqOptions, ZmqPullConnection, ZmqPushConnection};

mod pyport;
use pyport::house::{Endpoints, LetInThenRefused, Refused, Verbose};

fn run(args: Args) -> Result<(), Box<dyn Error>> {
    // First part: the authenticator allows 127.0.0.1, and a client from
    // there gets in.
    let test = LetInThenRefused::start("Strawhouse", &args.verbose)?;
    let factory = test.factory.clone();

    let server = ZmqPushConnection::with_options(
        &factory,
        ZmqEndpoint::bind(args.endpoints.bind),
        &ZmqOptions::new().zap_domain("global"),
    )?;

    let connect = args.endpoints.connect;
    let client_allow = ZmqPullConnection::new(&factory, ZmqEndpoint::connect(&connect))?;

    // Second part: with a new authenticator that denies the address, a new
    // client from it gets nothing.
    let second_part = move |auth: Authenticator<_>| {
        auth.stop();

        let auth = Authenticator::new(&factory);
        auth.start()?;

        auth.deny([args.deny]);

        let client_deny = ZmqPullConnection::new(&factory, ZmqEndpoint::connect(&connect))?;
        Ok(Refused {
            auth,
            client: client_deny,
        })
    };

    test.run(server, client_allow, second_part, "Hello")
}

/// Allows, then denies, clients by IP address on the NULL mechanism
/// (pyzmq's strawhouse.py).
#[derive(Parser)]
#[command(mut_arg("connect", |arg| arg.help(
    "Endpoint the clients connect to (from 127.0.0.1, the address the authenticator allows, \
     then denies)"
)))]
struct Args {
    #[command(flatten)]
    endpoints: Endpoints,
    /// Address the second authenticator denies (another one lets the second
    /// client in, which the test reports as a failure)
    #[arg(long, value_name = "ADDRESS", default_value = "127.0.0.1")]
    deny: String,
    #[command(flatten)]
    verbose: Verbose,
}

fn main() -> ExitCode {
    pyport::main(run)
}
