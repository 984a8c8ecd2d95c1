//! `wuclient.py`, the zguide's weather update client (chapter 1, "Getting
//! the Message Out"): a SUB socket connected to `tcp://localhost:5556`
//! subscribes to one zipcode (the first command-line argument, NYC's `10001`
//! by default), reads 100 updates in a blocking loop and prints their
//! average temperature. Its other half is `wuserver.py` (or `wuserver`).
//!
//! The port: each update arrives in a callback that adds it up; the
//! hundredth prints the average and stops the reactor. The updates are plain
//! strings (pyzmq's `send_string`), not txZMQ's tagged frames, so the
//! subscriber takes whole messages with `message_received` rather than
//! `got_message(message, tag)`.
//!
//! ```text
//! cargo run --release --example wuclient                 # zipcode 10001, tcp://localhost:5556
//! cargo run --release --example wuclient -- 1            # zipcodes starting with 1: quicker
//! cargo run --release --example wuclient -- --connect ipc:///tmp/weather 1
//! ```
//!
//! Prints `Collecting updates from weather server...`, then
//! `Average temperature for zipcode '10001' was 27.43 F` and exits.

use std::process::ExitCode;

use clap::Parser;
use tx0mq::connections::{ZmqEndpoint, ZmqFactory, ZmqSubConnection};
use tx0mq::Reactor;

mod pyport;
use pyport::{first, float_repr};

/// Updates to average over.
const UPDATES: u32 = 100;

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let endpoint = args.connect;
    // Subscribe to zipcode, default is NYC, 10001.
    let zip_filter = args.zipcode;

    let reactor = Reactor::new()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();

    // Socket to talk to the server.
    println!("Collecting updates from weather server...");
    let socket = ZmqSubConnection::new(&factory, ZmqEndpoint::connect(endpoint))?;
    socket.subscribe(&zip_filter)?;

    // Process 100 updates.
    let mut total_temp: i64 = 0;
    let mut update_nbr = 0;
    socket.message_received(move |cx, message| {
        if update_nbr == UPDATES {
            return Ok(()); // done; the reactor is stopping
        }
        let text = String::from_utf8_lossy(first(&message));
        let Some(temperature) = parse_temperature(&text) else {
            log::warn!("dropped a malformed weather update: {text:?}");
            return Ok(());
        };
        total_temp += temperature;
        update_nbr += 1;
        if update_nbr == UPDATES {
            let average = total_temp as f64 / f64::from(update_nbr);
            println!(
                "Average temperature for zipcode '{zip_filter}' was {} F",
                float_repr(average)
            );
            cx.reactor.stop()?;
        }
        Ok::<(), tx0mq::reactor::Error>(())
    });

    reactor.run()?;
    Ok(())
}

/// The temperature of an update `"zipcode temperature relhumidity"`.
fn parse_temperature(update: &str) -> Option<i64> {
    let fields: Vec<&str> = update.split_whitespace().collect();
    match fields[..] {
        [_zipcode, temperature, _relhumidity] => temperature.parse().ok(),
        _ => None,
    }
}

/// Weather update client: averages 100 updates for one zipcode (zguide's
/// wuclient.py).
#[derive(Parser)]
struct Args {
    /// Zipcode prefix to subscribe to
    #[arg(default_value = "10001")]
    zipcode: String,
    /// Endpoint of the weather server
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://localhost:5556")]
    connect: String,
}

fn main() -> ExitCode {
    pyport::main(run)
}
