//! `examples/push_pull.py`, txZMQ's PUSH/PULL demo (Python 2, optparse):
//! with `--mode=push` it pushes `[str(time.time()), socket.gethostname()]`
//! every second, starting a second after launch, and prints `producing %r`,
//! or `Skipping, no pull consumers...` when pyzmq refuses the push
//! (`zmq.error.Again`); otherwise it pulls and prints `consuming %r`.
//! `--method` (`bind` or `connect`, default `connect`) and `--endpoint`
//! (default `ipc:///tmp/txzmq-pc-demo`) say where; `-m`, `-e` and `-M` are
//! the short forms.
//!
//! The port: the same options, plus `--count N` (stop after N messages;
//! default: run forever, as the originals do) and `--interval-ms` (the
//! period, default 1000). Producing is a `LoopingCall`, consuming an
//! `on_pull` callback. txZMQ sends without queueing; the connection here is
//! given an outbox limit of 0 to behave the same: a push libzmq refuses (no
//! consumer connected to a bound PUSH) fails at once and the producer skips
//! it. (By default tx0mq would queue it until a consumer comes.) The
//! original's Python 3 version would pass `str` to pyzmq, which refuses it;
//! the port sends the UTF-8 bytes.
//!
//! ```text
//! cargo run --example push_pull -- --method=bind --endpoint=ipc:///tmp/sock --mode=push
//! cargo run --example push_pull -- --method=connect --endpoint=ipc:///tmp/sock --mode=pull
//! ```
//!
//! The producer prints `producing ['1718000000.123456', 'myhost']` each time,
//! or `Skipping, no pull consumers...`; the consumer prints `consuming
//! [b'1718000000.123456', b'myhost']`.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tx0mq::connections::{Error, ZmqFactory, ZmqOptions, ZmqPullConnection, ZmqPushConnection};
use tx0mq::{LoopingCall, Reactor};

mod pyport;
use pyport::{bytes_list_repr, float_repr, hostname, str_list_repr, time_time, Method};

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let count = args.count;
    let interval = args.interval;

    let reactor = Reactor::new()?;
    let zf = ZmqFactory::new(&reactor)?;
    zf.register_for_shutdown();
    let e = args.method.endpoint(args.endpoint);

    let mut messages = 0;
    if args.mode == Mode::Push {
        let never_queue = ZmqOptions::new().outbox_limit(0);
        let s = ZmqPushConnection::with_options(&zf, e, &never_queue)?;
        let produce = LoopingCall::new(&reactor, move |cx| {
            produce(&s)?;
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

/// One round of the producer: pushes the time and the host name, or says it
/// skips when no consumer takes the message (the outbox limit is 0).
fn produce(s: &ZmqPushConnection) -> Result<(), Error> {
    let data = [float_repr(time_time()), hostname()];
    println!("producing {}", str_list_repr(&data));
    match s.push(data) {
        Err(Error::OutboxFull { .. }) => println!("Skipping, no pull consumers..."),
        result => result?,
    }
    Ok(())
}

/// txZMQ's PUSH/PULL demo: pushes the time and host name, or prints what it
/// pulls.
#[derive(Parser)]
struct Args {
    /// 0MQ socket connection
    #[arg(short, long, value_enum, default_value_t = Method::Connect)]
    method: Method,
    /// 0MQ Endpoint
    #[arg(short, long, default_value = "ipc:///tmp/txzmq-pc-demo")]
    endpoint: String,
    /// Mode
    #[arg(short = 'M', long, value_enum, default_value_t = Mode::Pull)]
    mode: Mode,
    /// Stop after N messages [default: run forever]
    #[arg(long, value_name = "N")]
    count: Option<u64>,
    /// Producing period, in milliseconds
    #[arg(long = "interval-ms", value_name = "MS", default_value = "1000", value_parser = pyport::millis)]
    interval: Duration,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Mode {
    Push,
    Pull,
}

fn main() -> ExitCode {
    pyport::main(run)
}

/// The producer on the connections' test kit: no sockets, no threads.
#[cfg(test)]
mod tests {
    use super::*;
    use tx0mq::connections::pattern::Push;

    #[test]
    fn the_producer_pushes_time_and_host_or_skips_when_nobody_takes_it() {
        let reactor = Reactor::builder().handle_signals(false).build().unwrap();
        let never_queue = ZmqOptions::new().outbox_limit(0);
        let (push, wire) = ZmqPushConnection::fake_with(&reactor, Push, &never_queue).unwrap();

        wire.refuse(true); // no consumer
        produce(&push).unwrap();
        assert!(wire.sent().is_empty());
        assert_eq!(push.outbox_len(), 0, "skipped, not queued");

        wire.refuse(false);
        produce(&push).unwrap();
        let sent = wire.take_sent();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].len(), 2, "[time, host]: {:?}", sent[0]);
        assert_eq!(&sent[0][1][..], hostname().as_bytes());
    }
}
