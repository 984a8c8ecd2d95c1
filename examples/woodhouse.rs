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
//! The test's steps are strawhouse's too, in
//! `pyport::house::LetInThenRefused`; what is Woodhouse's own is in `run`:
//! the PLAIN server, the user and password the authenticator knows, the
//! clients' credentials.
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
//!
//! [`Authenticator`]: tx0mq::connections::security::Authenticator

use std::error::Error;
use std::process::ExitCode;

use clap::Parser;
use tx0mq::connections::{ZmqEndpoint, ZmqOptions, ZmqPullConnection, ZmqPushConnection};

mod pyport;
use pyport::house::{Endpoints, LetInThenRefused, Refused, Verbose};

fn run(args: Args) -> Result<(), Box<dyn Error>> {
    // The ZAP handler for this factory's sockets, with one PLAIN user for
    // every domain.
    let test = LetInThenRefused::start("Woodhouse", &args.verbose)?;
    test.auth.configure_plain("*", [("admin", "secret")]);
    let factory = test.factory.clone();

    let server = ZmqPushConnection::with_options(
        &factory,
        ZmqEndpoint::bind(args.endpoints.bind),
        &ZmqOptions::new().plain_server(true),
    )?;

    let connect = args.endpoints.connect;
    let client = ZmqPullConnection::with_options(
        &factory,
        ZmqEndpoint::connect(&connect),
        &ZmqOptions::new().plain_client("admin", "secret"),
    )?;

    // The second check: a client with the wrong password must get nothing.
    let invalid_client = move |auth| {
        let client2 = ZmqPullConnection::with_options(
            &factory,
            ZmqEndpoint::connect(&connect),
            &ZmqOptions::new().plain_client("admin", &args.bad_password),
        )?;
        Ok(Refused {
            auth,
            client: client2,
        })
    };

    test.run(server, client, invalid_client, "World")
}

/// A user name and password check with the PLAIN mechanism (pyzmq's
/// woodhouse.py).
#[derive(Parser)]
#[command(mut_arg("connect", |arg| arg.help(
    "Endpoint the clients connect to (from 127.0.0.1, the address the authenticator allows)"
)))]
struct Args {
    #[command(flatten)]
    endpoints: Endpoints,
    /// Password of the second client (the right one, secret, lets it in,
    /// which the test reports as a failure)
    #[arg(long, value_name = "PASSWORD", default_value = "bogus")]
    bad_password: String,
    #[command(flatten)]
    verbose: Verbose,
}

fn main() -> ExitCode {
    pyport::main(run)
}
