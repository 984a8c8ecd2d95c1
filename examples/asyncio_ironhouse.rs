//! `asyncio-ironhouse.py`, from pyzmq's security examples
//! (`examples/security/`, after `ironhouse.py`): Ironhouse (CURVE, with the
//! server authenticated and the clients authenticated by their public keys)
//! as one asyncio coroutine.
//!
//! The original needs the certificates `generate_certificates.py` makes
//! (`certificates/`, `public_keys/`, `private_keys/` beside the script;
//! without them it logs `Certificates are missing - run
//! generate_certificates.py script first` and exits 1). It starts pyzmq's
//! `AsyncioAuthenticator` allowing `127.0.0.1` and the CURVE keys in
//! `public_keys/`, binds a CURVE server (ROUTER) on `tcp://*:9000`, connects
//! a CURVE client (DEALER) to `tcp://127.0.0.1:9000`, and awaits the
//! client's send of `Hello` and the server's `poll(1000)`. If the message
//! came, it receives it with `copy=False` (frames that keep libzmq's
//! message properties) and logs `Received b'Hello' from '<client key>'`,
//! the key being the user id the authenticator gave the client, then
//! `Ironhouse test OK`; if not, `Ironhouse test FAIL`. It closes the
//! sockets and stops the authenticator.
//!
//! The port: the coroutine is an `async fn` that the reactor runs to its end
//! (`run_until_complete`, asyncio's `run`), and the authenticator is tx0mq's
//! [`Authenticator`], which answers ZAP requests in the same reactor.
//! `poll(1000)` then `recv_multipart()` is the server's [`MessageStream`]:
//! its `next()` runs as a task whose Deferred is awaited with a one-second
//! timeout. Received frames always keep their properties, so the user id is
//! read from the message itself (`MessageMetadata::user_id`). The client's
//! send needs no await: a message libzmq cannot take yet waits in the
//! connection's outbox. The certificates are read with tx0mq's
//! `load_certificate` (pyzmq's format; see `generate_certificates`), from
//! under `--base-dir`, by default the current directory. Where the original
//! checks that libzmq is at least 4.0, the port checks that it has CURVE:
//! without it, it exits 1 with the library's `CurveUnavailable` message
//! before anything else. A secret certificate without a secret key is an
//! error (the original would fail setting the option).
//!
//! ```text
//! cargo run --example generate_certificates
//! cargo run --example asyncio_ironhouse
//! cargo run --example asyncio_ironhouse -- --base-dir /tmp/keys --bind tcp://*:9001 \
//!     --connect tcp://127.0.0.1:9001
//! ```
//!
//! Prints `[INFO] Received b'Hello' from '<KEY>'`, where `<KEY>` is the
//! client's public key in Z85 (40 characters), and `[INFO] Ironhouse test
//! OK`, or `[ERROR]
//! Ironhouse test FAIL`, as the original's `logging` does (see
//! `pyport::Logging`). `-v` is accepted, as in the original (it prints debug
//! lines; this port has none: `RUST_LOG=debug` shows the authenticator's
//! decisions). `--bind` and `--connect` default to the original's
//! endpoints, `--timeout-ms` to its one second.
//!
//! [`Authenticator`]: tx0mq::connections::security::Authenticator

use std::error::Error;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tx0mq::connections::pattern::Router;
use tx0mq::connections::security::MessageMetadata;
use tx0mq::connections::{
    bytes_repr, Frame, MessageStream, Multipart, ZmqDealerConnection, ZmqEndpoint,
    ZmqRouterConnection,
};
use tx0mq::{Failure, Reactor};

mod pyport;
use pyport::house::{curve_client, curve_server, require_curve, start_authenticator, CurveFlags};
use pyport::{first, str_repr, Logging};

/// The whole program, as one coroutine.
async fn ironhouse(reactor: Reactor, args: CurveFlags, logging: Logging) -> Result<(), Failure> {
    let dirs = args
        .base_dir
        .key_dirs(
            logging,
            "Certificates are missing - run generate_certificates.py script first",
        )
        .map_err(Failure::from_boxed)?;

    let (ctx, auth) = start_authenticator(&reactor)?;
    // Only the keys of the public certificates in public_keys/ get in.
    auth.configure_curve("*", &dirs.public_keys)?;

    let server = ZmqRouterConnection::with_options(
        &ctx,
        ZmqEndpoint::bind(&args.endpoints.bind),
        &curve_server(&dirs.server_secret_file()).map_err(Failure::from_boxed)?,
    )?;
    let incoming = server.messages()?;

    let client = ZmqDealerConnection::with_options(
        &ctx,
        ZmqEndpoint::connect(&args.endpoints.connect),
        &curve_client(&dirs.client_secret_file(), &dirs.server_public_file())
            .map_err(Failure::from_boxed)?,
    )?;

    client.send_msg("Hello")?;

    match poll(&reactor, incoming, args.timeout).await? {
        Some((_identity, mut msg)) => {
            // Frames keep their properties: the user id is the message's.
            let body = first(&msg).to_vec();
            let user_id = msg.user_id().map_or_else(|| "None".to_string(), str_repr);
            logging.info(format_args!(
                "Received {} from {user_id}",
                bytes_repr(&body)
            ));
            if body == b"Hello" {
                logging.info("Ironhouse test OK");
            }
        }
        None => logging.error("Ironhouse test FAIL"),
    }

    server.shutdown();
    client.shutdown();
    auth.stop();
    Ok(())
}

/// The server's `poll(timeout)` then `recv_multipart()`: its next message,
/// or `None` if none came within `timeout`.
async fn poll(
    reactor: &Reactor,
    mut incoming: MessageStream<(), Router>,
    timeout: Duration,
) -> Result<Option<(Frame, Multipart)>, Failure> {
    let next = reactor.spawn(async move { Ok::<_, Failure>(incoming.next().await) });
    match next.with_timeout(reactor, timeout).await {
        Ok(message) => Ok(message),
        Err(failure)
            if matches!(
                failure.downcast_ref(),
                Some(tx0mq::reactor::Error::TimedOut(_))
            ) =>
        {
            Ok(None)
        }
        Err(failure) => Err(failure),
    }
}

fn run(args: Args) -> Result<(), Box<dyn Error>> {
    require_curve()?;
    let logging = args.flags.verbose.logging();
    let reactor = Reactor::new()?;
    reactor.run_until_complete(ironhouse(reactor.clone(), args.flags, logging))??;
    Ok(())
}

/// CURVE with client keys, as one coroutine (pyzmq's asyncio-ironhouse.py).
#[derive(Parser)]
#[command(mut_arg("timeout", |arg| arg.help(
    "How long the server waits for the message, in milliseconds"
)))]
struct Args {
    #[command(flatten)]
    flags: CurveFlags,
}

fn main() -> ExitCode {
    pyport::main(run)
}
