//! txZMQ's PUSH/PULL demo: a producer that pushes the time and its host name
//! every second, and a consumer that prints what it pulls. Port of txZMQ's
//! `examples/push_pull.py`, with the same options.
//!
//! ```text
//! cargo run --example push_pull -- --method=bind --endpoint=ipc:///tmp/sock --mode=push
//! cargo run --example push_pull -- --method=connect --endpoint=ipc:///tmp/sock --mode=pull
//! ```
//!
//! The producer prints `producing ['1718000000.123456', 'myhost']` each time
//! (starting a second after launch), or `Skipping, no pull consumers...` when
//! the push cannot go out; the consumer prints `consuming
//! [b'1718000000.123456', b'myhost']`. Both run forever, as the originals do,
//! unless `--count N` stops them after N messages. `--interval` (seconds,
//! default 1) sets the period.
//!
//! txZMQ sends without queueing: a push that libzmq refuses (no consumer
//! connected to a bound PUSH) raises `zmq.error.Again`. The connection here is
//! given an outbox limit of 0 to behave the same: the push fails at once and
//! the producer skips it. (By default tx0mq would queue it until a consumer
//! comes.)

use std::process::ExitCode;

use tx0mq::connections::{Error, ZmqFactory, ZmqOptions, ZmqPullConnection, ZmqPushConnection};
use tx0mq::{LoopingCall, Reactor};

mod pyport;
use pyport::{bytes_list_repr, float_repr, hostname, str_list_repr, time_time, Flags};

const USAGE: &str = "usage: push_pull [options]
  -m, --method METHOD      0MQ socket connection: bind|connect (default connect)
  -e, --endpoint ENDPOINT  0MQ Endpoint (default ipc:///tmp/txzmq-pc-demo)
  -M, --mode MODE          Mode: push|pull
  --count N                stop after N messages (default: run forever)
  --interval SECONDS       producing period (default 1)";

fn main() -> ExitCode {
    env_logger::init();
    let spec = [
        ("method", Some("m")),
        ("endpoint", Some("e")),
        ("mode", Some("M")),
        ("count", None),
        ("interval", None),
    ];
    let flags = Flags::parse("push_pull", USAGE, &spec, 0);
    pyport::finish("push_pull", run(&flags))
}

fn run(flags: &Flags) -> Result<(), Box<dyn std::error::Error>> {
    let method = flags.string("method", "connect");
    let endpoint = flags.string("endpoint", "ipc:///tmp/txzmq-pc-demo");
    let count: Option<u64> = flags.optional("count");
    let interval = flags.seconds("interval", 1.0);

    let reactor = Reactor::new()?;
    let zf = ZmqFactory::new(&reactor)?;
    zf.register_for_shutdown();
    let e = pyport::zmq_endpoint("push_pull", USAGE, &method, endpoint);

    let mut messages = 0;
    if flags.get("mode") == Some("push") {
        let never_queue = ZmqOptions::new().outbox_limit(0);
        let s = ZmqPushConnection::with_options(&zf, e, &never_queue)?;
        let produce = LoopingCall::new(&reactor, move |cx| {
            let data = [float_repr(time_time()), hostname()];
            println!("producing {}", str_list_repr(&data));
            match s.push(data) {
                Err(Error::OutboxFull { .. }) => println!("Skipping, no pull consumers..."),
                result => result?,
            }
            messages += 1;
            if Some(messages) == count {
                cx.reactor.stop()?;
            }
            Ok::<(), Box<dyn std::error::Error>>(())
        });
        // The first message goes a period after the reactor starts.
        produce.start(interval, false)?;
    } else {
        let s = ZmqPullConnection::new(&zf, e)?;
        s.on_pull(move |cx, message| {
            if Some(messages) == count {
                return Ok(()); // done; the reactor is stopping
            }
            println!("consuming {}", bytes_list_repr(&message));
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
