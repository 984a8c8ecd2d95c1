//! `ioloop-ironhouse.py`, from pyzmq's security examples
//! (`examples/security/`): Ironhouse (CURVE, with the server authenticated
//! and the clients authenticated by their public keys) on an event loop
//! instead of blocking calls. (Older pyzmq versions had it as two programs,
//! `ioloop-ironhouse-server.py` and `-client.py`; this ports the one that
//! replaced them.)
//!
//! The original needs the certificates `generate_certificates.py` makes
//! (`certificates/`, `public_keys/`, `private_keys/` beside the script;
//! without them it logs `Certificates are missing - run
//! generate_certificates script first` and exits 1). On asyncio's loop it
//! sets up pyzmq's `AsyncioAuthenticator` allowing `127.0.0.1` and the CURVE
//! keys in `public_keys/`, a CURVE echo server (ROUTER, in a `ZMQStream`) on
//! `tcp://127.0.0.1:9000` that answers each message with the message and
//! `World`, and a CURVE client (DEALER, in a `ZMQStream`) that sends `Hello`;
//! then it starts the authenticator. The server logs (at debug level)
//! `server recvd [...]` and `server sending [...]`; the client logs `client
//! recvd [...]` and `Ironhouse test OK`, and stops the loop.
//!
//! The port: the loop is the reactor, each `ZMQStream` a connection whose
//! callback is the original's (`echo`, `client_msg_recvd`), and the
//! authenticator is tx0mq's [`Authenticator`], which answers ZAP requests in
//! that same reactor. The server is a raw ROUTER connection, so that, as in
//! the original, the echo sees and sends the whole message, routing id
//! first. The authenticator starts before the sockets are made rather than
//! after the client's send: libzmq's I/O threads connect and handshake as
//! soon as the sockets exist, and a CURVE handshake that finished before a
//! ZAP handler was there would be let in unchecked. The certificates are
//! read with tx0mq's `load_certificate` (pyzmq's format; see
//! `generate_certificates`), from under `--base-dir`, by default the current
//! directory. Where the original checks that libzmq is at least 4.0, the
//! port checks that it has CURVE: without it, it exits 1 with the library's
//! `CurveUnavailable` message before anything else. A secret certificate
//! without a secret key is an error (the original would fail setting the
//! option).
//!
//! ```text
//! cargo run --example generate_certificates
//! cargo run --example ioloop_ironhouse -- -v
//! cargo run --example ioloop_ironhouse -- --base-dir /tmp/keys --endpoint tcp://127.0.0.1:9001
//! ```
//!
//! Prints `[INFO] Ironhouse test OK` as the original's `logging` does (see
//! `pyport::Logging`); with `-v`, the debug lines before it:
//! `[DEBUG] server recvd [b'\x00k\x8bEg', b'Hello']`, `[DEBUG] server
//! sending [b'\x00k\x8bEg', b'Hello', b'World']`, `[DEBUG] client recvd
//! [b'Hello', b'World']` (the routing id is libzmq's, different each run).
//! Like the original it waits for the reply without a time limit.
//! `--endpoint` defaults to the original's.
//!
//! [`Authenticator`]: tx0mq::connections::security::Authenticator

use std::error::Error;
use std::path::Path;
use std::process::ExitCode;

use clap::Parser;
use tx0mq::connections::{
    zmq, Multipart, ZmqConnection, ZmqCtx, ZmqDealerConnection, ZmqEndpoint, ZmqFactory,
};
use tx0mq::Reactor;

mod pyport;
use pyport::bytes_list_repr;
use pyport::house::{curve_client, curve_server, require_curve, start_authenticator};
use pyport::house::{BaseDir, Verbose};
use pyport::Logging;

fn echo(
    logging: Logging,
    cx: &mut ZmqCtx<'_, (), ZmqConnection>,
    msg: Multipart,
) -> Result<(), Box<dyn Error>> {
    logging.debug(format_args!("server recvd {}", bytes_list_repr(&msg)));
    let mut reply = msg;
    reply.push("World");
    logging.debug(format_args!("server sending {}", bytes_list_repr(&reply)));
    cx.conn.send(reply)?;
    Ok(())
}

/// The CURVE echo server: a ROUTER whose messages come back with `World`
/// added.
fn setup_server(
    factory: &ZmqFactory,
    logging: Logging,
    server_secret_file: &Path,
    endpoint: &str,
) -> Result<ZmqConnection, Box<dyn Error>> {
    let server = ZmqConnection::with_options(
        factory,
        zmq::ROUTER,
        ZmqEndpoint::bind(endpoint),
        &curve_server(server_secret_file)?,
    )?;
    server.message_received(move |cx, msg| echo(logging, cx, msg));
    Ok(server)
}

fn client_msg_recvd(
    logging: Logging,
    cx: &mut ZmqCtx<'_, (), ZmqDealerConnection>,
    msg: Multipart,
) -> Result<(), Box<dyn Error>> {
    logging.debug(format_args!("client recvd {}", bytes_list_repr(&msg)));
    logging.info("Ironhouse test OK");
    // The reply ends the program.
    cx.reactor.stop()?;
    Ok(())
}

/// The CURVE client: a DEALER whose reply ends the program.
fn setup_client(
    factory: &ZmqFactory,
    logging: Logging,
    client_secret_file: &Path,
    server_public_file: &Path,
    endpoint: &str,
) -> Result<ZmqDealerConnection, Box<dyn Error>> {
    let client = ZmqDealerConnection::with_options(
        factory,
        ZmqEndpoint::connect(endpoint),
        &curve_client(client_secret_file, server_public_file)?,
    )?;
    client.got_message(move |cx, msg| client_msg_recvd(logging, cx, msg));
    Ok(client)
}

fn run(args: Args) -> Result<(), Box<dyn Error>> {
    require_curve()?;
    let logging = args.verbose.logging();

    let dirs = args.base_dir.key_dirs(
        logging,
        "Certificates are missing - run generate_certificates script first",
    )?;

    let reactor = Reactor::new()?;
    let (factory, auth) = start_authenticator(&reactor)?;
    // Only the keys of the public certificates in public_keys/ get in.
    auth.configure_curve("*", &dirs.public_keys)?;

    let _server = setup_server(
        &factory,
        logging,
        &dirs.server_secret_file(),
        &args.endpoint,
    )?;
    let client = setup_client(
        &factory,
        logging,
        &dirs.client_secret_file(),
        &dirs.server_public_file(),
        &args.endpoint,
    )?;
    client.send_msg("Hello")?;

    reactor.run()?;
    Ok(())
}

/// CURVE with client keys, on the event loop: an echo server and a client
/// (pyzmq's ioloop-ironhouse.py).
#[derive(Parser)]
#[command(mut_arg("verbose", |arg| arg.help(
    "Log at debug level too (the server's and the client's messages)"
)))]
struct Args {
    #[command(flatten)]
    base_dir: BaseDir,
    /// Endpoint the server binds and the client connects to (from
    /// 127.0.0.1, the address the authenticator allows)
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://127.0.0.1:9000")]
    endpoint: String,
    #[command(flatten)]
    verbose: Verbose,
}

fn main() -> ExitCode {
    pyport::main(run)
}
