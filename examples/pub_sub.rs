//! `examples/pub_sub.py`, txZMQ's PUB/SUB demo (Python 2, optparse): with
//! `--mode=publisher` it publishes `str(time.time())` every second and
//! prints `publishing %r`; otherwise it subscribes to everything and prints
//! `message received: %r` with each message and its tag. `--method`
//! (`bind` or `connect`, default `connect`) and `--endpoint` (default
//! `epgm://eth1;239.0.5.3:10011`) say where; `-m`, `-e` and `-M` are the
//! short forms.
//!
//! The port: the same options, plus `--count N` (stop after N messages;
//! default: run forever, as the originals do) and `--interval-ms` (the
//! publishing period, default 1000). Publishing is a `LoopingCall`, and
//! receiving a `got_message` callback. The printed lines are what the
//! original's `print`s give under Python 3 (`%r` of bytes is `b'…'`). The
//! default endpoint needs a libzmq built with PGM (the default build has
//! none: use tcp or ipc).
//!
//! ```text
//! cargo run --example pub_sub -- --method=bind --endpoint=ipc:///tmp/sock --mode=publisher
//! cargo run --example pub_sub -- --method=connect --endpoint=ipc:///tmp/sock --mode=subscriber
//! ```
//!
//! The publisher prints `publishing '1718000000.123456'` each time; the
//! subscriber prints `message received: (b'1718000000.123456', b'')`.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tx0mq::connections::{bytes_repr, ZmqFactory, ZmqPubConnection, ZmqSubConnection};
use tx0mq::{LoopingCall, Reactor};

mod pyport;
use pyport::{float_repr, str_repr, time_time, Method};

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let count = args.count;
    let interval = args.interval;

    let reactor = Reactor::new()?;
    let zf = ZmqFactory::new(&reactor)?;
    zf.register_for_shutdown();
    let e = args.method.endpoint(args.endpoint);

    let mut messages = 0;
    if args.mode == Mode::Publisher {
        let s = ZmqPubConnection::new(&zf, e)?;
        let publish = LoopingCall::new(&reactor, move |cx| {
            let data = float_repr(time_time());
            println!("publishing {}", str_repr(&data));
            s.publish(data, b"")?;
            messages += 1;
            if Some(messages) == count {
                cx.reactor.stop()?;
            }
            Ok::<(), Box<dyn std::error::Error>>(())
        });
        publish.start(interval, true)?;
    } else {
        let s = ZmqSubConnection::new(&zf, e)?;
        s.subscribe(b"")?;
        s.got_message(move |cx, message, tag| {
            if Some(messages) == count {
                return Ok(()); // done; the reactor is stopping
            }
            println!(
                "message received: ({}, {})",
                bytes_repr(&message),
                bytes_repr(&tag)
            );
            messages += 1;
            if Some(messages) == count {
                cx.reactor.stop()?;
            }
            Ok::<(), tx0mq::reactor::Error>(())
        });
    }

    reactor.run()?;
    Ok(())
}

/// txZMQ's PUB/SUB demo: publishes the time, or prints what it receives.
#[derive(Parser)]
struct Args {
    /// 0MQ socket connection
    #[arg(short, long, value_enum, default_value_t = Method::Connect)]
    method: Method,
    /// 0MQ Endpoint
    #[arg(short, long, default_value = "epgm://eth1;239.0.5.3:10011")]
    endpoint: String,
    /// Mode
    #[arg(short = 'M', long, value_enum, default_value_t = Mode::Subscriber)]
    mode: Mode,
    /// Stop after N messages [default: run forever]
    #[arg(long, value_name = "N")]
    count: Option<u64>,
    /// Publishing period, in milliseconds
    #[arg(long = "interval-ms", value_name = "MS", default_value = "1000", value_parser = pyport::millis)]
    interval: Duration,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Mode {
    Publisher,
    Subscriber,
}

fn main() -> ExitCode {
    pyport::main(run)
}
