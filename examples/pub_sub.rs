//! txZMQ's PUB/SUB demo: a publisher that publishes the time every second,
//! and a subscriber that prints what it gets. Port of txZMQ's
//! `examples/pub_sub.py`, with the same options.
//!
//! ```text
//! cargo run --example pub_sub -- --method=bind --endpoint=ipc:///tmp/sock --mode=publisher
//! cargo run --example pub_sub -- --method=connect --endpoint=ipc:///tmp/sock --mode=subscriber
//! ```
//!
//! The publisher prints `publishing '1718000000.123456'` each time; the
//! subscriber prints `message received: (b'1718000000.123456', b'')`. Both
//! run forever, as the originals do, unless `--count N` stops them after N
//! messages. `--interval` (seconds, default 1) sets the publishing period.
//! The default endpoint is the original's, `epgm://eth1;239.0.5.3:10011`,
//! which needs a libzmq built with PGM (the default build has none: use tcp
//! or ipc).

use std::process::ExitCode;

use tx0mq::connections::{bytes_repr, ZmqFactory, ZmqPubConnection, ZmqSubConnection};
use tx0mq::{LoopingCall, Reactor};

mod pyport;
use pyport::{float_repr, str_repr, time_time, Flags};

const USAGE: &str = "usage: pub_sub [options]
  -m, --method METHOD      0MQ socket connection: bind|connect (default connect)
  -e, --endpoint ENDPOINT  0MQ Endpoint (default epgm://eth1;239.0.5.3:10011)
  -M, --mode MODE          Mode: publisher|subscriber
  --count N                stop after N messages (default: run forever)
  --interval SECONDS       publishing period (default 1)";

fn main() -> ExitCode {
    env_logger::init();
    let spec = [
        ("method", Some("m")),
        ("endpoint", Some("e")),
        ("mode", Some("M")),
        ("count", None),
        ("interval", None),
    ];
    let flags = Flags::parse("pub_sub", USAGE, &spec, 0);
    pyport::finish("pub_sub", run(&flags))
}

fn run(flags: &Flags) -> Result<(), Box<dyn std::error::Error>> {
    let method = flags.string("method", "connect");
    let endpoint = flags.string("endpoint", "epgm://eth1;239.0.5.3:10011");
    let count: Option<u64> = flags.optional("count");
    let interval = flags.seconds("interval", 1.0);

    let reactor = Reactor::new()?;
    let zf = ZmqFactory::new(&reactor)?;
    zf.register_for_shutdown();
    let e = pyport::zmq_endpoint("pub_sub", USAGE, &method, endpoint);

    let mut messages = 0;
    if flags.get("mode") == Some("publisher") {
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
