//! `ticlient.py`, the zguide's Titanic client example (chapter 4,
//! "Disconnected Reliability (Titanic Pattern)"), the client side of the
//! Titanic Service Protocol: through the client API (`mdcliapi`) and the
//! broker at `tcp://localhost:5555` it hands `["echo", "Hello world"]` to
//! `titanic.request` and prints the UUID it gets, asks `titanic.reply` for
//! the reply every 5 seconds (after a first 100 ms) until there is one,
//! prints it, and closes the request with `titanic.close`. A `400` answer
//! aborts with `E: client fatal error, aborting`, a `500` with `E: server
//! fatal error, aborting` (exit status 1); no answer at all ends it quietly
//! (status 0).
//!
//! The port: the API is the shared module `mdp::mdcliapi`; the client is
//! one async function run by the reactor, awaiting the API's Deferreds, and
//! its `time.sleep`s are `tx0mq::sleep` timers.
//!
//! ```sh
//! cargo run --example ticlient -- [-v] [--broker tcp://localhost:5555]
//! ```
//!
//! Prints `I: request UUID  b'6f1d...'`, `I: no reply yet, trying
//! again...` while the reply is pending, then `Reply: b'Hello world'` (as
//! Python 3 prints the bytes). Flags the original does not have, for tests:
//! `--retry-ms MS` (5000), the wait after a pending answer, and
//! `--timeout-ms MS` (2500) and `--retries N` (3) for the API.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tx0mq::connections::{bytes_repr, ZmqFactory};
use tx0mq::{sleep, Failure, Reactor};

mod mdp;
mod pyport;

use mdp::mdcliapi::MajorDomoClient;
use mdp::Message;

/// How a call to a Titanic service ended, when it did not return a reply.
enum Ending {
    /// No answer at all: exit quietly (the original's `sys.exit(0)`).
    Quiet,
    /// `400` or `500`: the message was printed; exit 1.
    Fatal(&'static str),
}

/// Calls a TSP service: `Ok(Some(reply))` on `200`, `Ok(None)` on anything
/// else that is not fatal (`300`, pending).
async fn service_call(
    session: &MajorDomoClient,
    service: &[u8],
    request: Message,
) -> Result<Result<Option<Message>, Ending>, Failure> {
    let Some(mut reply) = session.send(service, request).await? else {
        return Ok(Err(Ending::Quiet)); // Interrupted or failed
    };
    if reply.is_empty() {
        return Ok(Ok(None));
    }
    let status = reply.remove(0);
    Ok(match &status[..] {
        b"200" => Ok(Some(reply)),
        b"400" => {
            println!("E: client fatal error, aborting");
            Err(Ending::Fatal("client fatal error"))
        }
        b"500" => {
            println!("E: server fatal error, aborting");
            Err(Ending::Fatal("server fatal error"))
        }
        _ => Ok(None),
    })
}

async fn ticlient(
    reactor: Reactor,
    session: MajorDomoClient,
    args: Args,
) -> Result<Result<(), Ending>, Failure> {
    // 1. Send 'echo' request to Titanic
    let request = vec![b"echo".to_vec(), b"Hello world".to_vec()];
    let reply = match service_call(&session, b"titanic.request", request).await? {
        Ok(reply) => reply,
        Err(ending) => return Ok(Err(ending)),
    };
    let Some(uuid) = reply.and_then(|reply| reply.into_iter().next()) else {
        println!("E: titanic.request gave no UUID");
        return Ok(Err(Ending::Fatal("no UUID")));
    };
    println!("I: request UUID  {}", bytes_repr(&uuid));

    // 2. Wait until we get a reply
    loop {
        sleep(&reactor, Duration::from_millis(100)).await?;
        match service_call(&session, b"titanic.reply", vec![uuid.clone()]).await? {
            Ok(Some(reply)) => {
                let reply_string = reply.last().cloned().unwrap_or_default();
                println!("Reply: {}", bytes_repr(&reply_string));
                // 3. Close request
                return match service_call(&session, b"titanic.close", vec![uuid]).await? {
                    Ok(_) => Ok(Ok(())),
                    Err(ending) => Ok(Err(ending)),
                };
            }
            Ok(None) => {
                println!("I: no reply yet, trying again...");
                sleep(&reactor, args.retry).await?; // Try again in 5 seconds
            }
            Err(ending) => return Ok(Err(ending)),
        }
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::new()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();
    let session = MajorDomoClient::new(&reactor, &factory, &args.broker, args.verbose)?;
    session.set_timeout(args.timeout);
    session.set_retries(args.retries);
    match reactor.run_until_complete(ticlient(reactor.clone(), session, args))?? {
        Ok(()) | Err(Ending::Quiet) => Ok(()),
        Err(Ending::Fatal(why)) => Err(why.into()),
    }
}

/// Titanic client: a request through Titanic (zguide's ticlient.py).
#[derive(Parser)]
struct Args {
    /// Print every message in and out
    #[arg(short, long)]
    verbose: bool,
    /// The broker
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://localhost:5555")]
    broker: String,
    /// How long to wait before asking again for a pending reply, in milliseconds
    #[arg(long = "retry-ms", value_name = "MS", default_value = "5000", value_parser = pyport::millis)]
    retry: Duration,
    /// How long to wait for each answer, each try, in milliseconds
    #[arg(long = "timeout-ms", value_name = "MS", default_value = "2500", value_parser = pyport::millis)]
    timeout: Duration,
    /// How many times to send each request before giving up
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    retries: u32,
}

fn main() -> ExitCode {
    pyport::main(run)
}
