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
use tx0mq::connections::{bytes_repr, Error, ZmqFactory, ZmqPubConnection, ZmqSubConnection};
use tx0mq::{LoopingCall, Reactor};

mod pyport;
use pyport::{float_repr, str_repr, time_time, Method};

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let count = args.count;
    let interval = args.interval;

    let reactor = Reactor::with_state(Counted {
        messages: 0,
        limit: count,
    })?;
    let zf = ZmqFactory::new(&reactor)?;
    zf.register_for_shutdown();
    let e = args.method.endpoint(args.endpoint);

    if args.mode == Mode::Publisher {
        let s = ZmqPubConnection::new(&zf, e)?;
        publish_every(&reactor, s, interval)?;
    } else {
        let s = ZmqSubConnection::new(&zf, e)?;
        subscribe_all(&s)?;
    }

    reactor.run()?;
    Ok(())
}

/// Messages published or received so far, and how many to stop after.
struct Counted {
    messages: u64,
    limit: Option<u64>,
}

impl Counted {
    fn done(&self) -> bool {
        Some(self.messages) == self.limit
    }

    /// Counts one message; stops the reactor at `--count`.
    fn count_one(&mut self, reactor: &Reactor<Counted>) -> Result<(), tx0mq::reactor::Error> {
        self.messages += 1;
        if self.done() {
            reactor.stop()?;
        }
        Ok(())
    }
}

/// The publisher: the time under the empty tag, every `interval` from now.
fn publish_every(
    reactor: &Reactor<Counted>,
    s: ZmqPubConnection<Counted>,
    interval: Duration,
) -> Result<LoopingCall<Counted>, Box<dyn std::error::Error>> {
    let publish = LoopingCall::new(reactor, move |cx| {
        let data = float_repr(time_time());
        println!("publishing {}", str_repr(&data));
        s.publish(data, b"")?;
        cx.state.count_one(cx.reactor)?;
        Ok::<(), Box<dyn std::error::Error>>(())
    });
    publish.start(interval, true)?;
    Ok(publish)
}

/// The subscriber: everything, printed as `(message, tag)`.
fn subscribe_all(s: &ZmqSubConnection<Counted>) -> Result<(), Error> {
    s.subscribe(b"")?;
    s.got_message(|cx, message, tag| {
        if cx.state.done() {
            return Ok(()); // done; the reactor is stopping
        }
        println!(
            "message received: ({}, {})",
            bytes_repr(&message),
            bytes_repr(&tag)
        );
        cx.state.count_one(cx.reactor)
    });
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

/// The demo's protocols on the connections' test kit and a fake clock: no
/// sockets, no threads, no waiting.
#[cfg(test)]
mod tests {
    use super::*;

    fn fake_clock(limit: Option<u64>) -> Reactor<Counted> {
        Reactor::builder()
            .state(Counted { messages: 0, limit })
            .fake_clock()
            .handle_signals(false)
            .build()
            .unwrap()
    }

    #[test]
    fn the_publisher_sends_txzmq_frames_under_the_empty_tag_each_interval() {
        let reactor = fake_clock(None);
        let (publisher, wire) = ZmqPubConnection::fake(&reactor).unwrap();
        let _ticker = publish_every(&reactor, publisher, Duration::from_secs(1)).unwrap();
        reactor.iterate(Duration::ZERO).unwrap(); // start(now=true): the first call
        reactor.advance(Duration::from_secs(1)).unwrap();
        reactor.advance(Duration::from_secs(1)).unwrap();
        let sent = wire.take_sent();
        assert_eq!(sent.len(), 3, "{sent:?}");
        for message in &sent {
            assert_eq!(message.len(), 1, "one frame: {message:?}");
            let frame = &message[0];
            assert_eq!(frame[0], b'\0', "empty tag, then txZMQ's separator");
            let time: f64 = std::str::from_utf8(&frame[1..]).unwrap().parse().unwrap();
            assert!(time > 1.0e9, "{time}");
        }
        assert_eq!(reactor.access_state(|c| c.messages).unwrap(), 3);
    }

    #[test]
    fn the_subscriber_takes_both_txzmq_forms_and_stops_counting_at_its_limit() {
        let reactor = fake_clock(Some(2));
        let (sub, wire) = ZmqSubConnection::fake(&reactor).unwrap();
        subscribe_all(&sub).unwrap();
        assert_eq!(wire.subscriptions(), [(true, Vec::new())]);
        wire.deliver(&b"\x001718000000.5"[..]).unwrap(); // one frame: tag \0 message
        wire.deliver([&b""[..], b"1718000001.5"]).unwrap(); // two frames: tag, message
        wire.deliver(&b"\x001718000002.5"[..]).unwrap(); // past the limit
        assert_eq!(reactor.access_state(|c| c.messages).unwrap(), 2);
    }
}
