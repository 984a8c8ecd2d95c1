//! txZMQ's request/reply demo: a requester that sends the time every second
//! and prints each reply (or a timeout), and a replier that echoes the
//! request id and body back. Port of txZMQ's `examples/req_rep.py`, with the
//! same options.
//!
//! ```text
//! cargo run --example req_rep -- --method=bind --endpoint=ipc:///tmp/req_rep_sock --mode=rep
//! cargo run --example req_rep -- --method=connect --endpoint=ipc:///tmp/req_rep_sock --mode=req
//! ```
//!
//! The requester prints `Requesting '1718000000.123456'` each time (starting
//! a second after launch), then `Got reply: [b"b'<id>' b'1718000000.123456' "]`,
//! or `Timeout on request, is reply server running?` when no reply came
//! within 0.95 s, or `Skipping, no pull consumers...` when the request could
//! not go out. The replier prints `Replying to b'<id>', b'1718000000.123456'`.
//! Both run forever, as the originals do, unless `--count N` stops them after
//! N replies. `--interval` (seconds, default 1) sets the period; the request
//! timeout is 95% of it.
//!
//! As in `push_pull`, the requester's outbox limit is 0, so a request libzmq
//! refuses fails at once (txZMQ raises `zmq.error.Again`) instead of waiting.

use std::process::ExitCode;
use std::time::Duration;

use tx0mq::connections::{
    bytes_repr, Error, Multipart, ZmqFactory, ZmqOptions, ZmqRepConnection, ZmqReqConnection,
    ZmqRequestTimeoutError,
};
use tx0mq::{LoopingCall, Reactor};

mod pyport;
use pyport::{bytes_list_repr, first, float_repr, str_repr, time_time, Flags};

const USAGE: &str = "usage: req_rep [options]
  -m, --method METHOD      0MQ socket connection: bind|connect (default connect)
  -e, --endpoint ENDPOINT  0MQ Endpoint (default ipc:///tmp/txzmq-pc-demo)
  -M, --mode MODE          Mode: req|rep
  --count N                stop after N replies (default: run forever)
  --interval SECONDS       requesting period (default 1; the timeout is 95% of it)";

/// Replies handled so far, and how many to stop after.
struct Replies {
    done: u64,
    stop_after: Option<u64>,
}

impl Replies {
    /// Counts one reply; stops the reactor at `--count`.
    fn count_one(&mut self, reactor: &Reactor<Replies>) {
        self.done += 1;
        if Some(self.done) == self.stop_after {
            let _ = reactor.stop();
        }
    }

    fn finished(&self) -> bool {
        matches!(self.stop_after, Some(n) if self.done >= n)
    }
}

fn main() -> ExitCode {
    env_logger::init();
    let spec = [
        ("method", Some("m")),
        ("endpoint", Some("e")),
        ("mode", Some("M")),
        ("count", None),
        ("interval", None),
    ];
    let flags = Flags::parse("req_rep", USAGE, &spec, 0);
    pyport::finish("req_rep", run(&flags))
}

fn run(flags: &Flags) -> Result<(), Box<dyn std::error::Error>> {
    let method = flags.string("method", "connect");
    let endpoint = flags.string("endpoint", "ipc:///tmp/txzmq-pc-demo");
    let interval = flags.seconds("interval", 1.0);
    let timeout = interval.mul_f64(0.95);

    let reactor = Reactor::with_state(Replies {
        done: 0,
        stop_after: flags.optional("count"),
    })?;
    let zf = ZmqFactory::new(&reactor)?;
    zf.register_for_shutdown();
    let e = pyport::zmq_endpoint("req_rep", USAGE, &method, endpoint);

    if flags.get("mode") == Some("req") {
        let never_queue = ZmqOptions::new().outbox_limit(0);
        let s = ZmqReqConnection::with_options(&zf, e, &never_queue)?;
        let produce = LoopingCall::new(&reactor, move |cx| {
            let data = float_repr(time_time());
            println!("Requesting {}", str_repr(&data));
            let reactor = cx.reactor.clone();
            s.send_msg_with_timeout(data, timeout)
                .add_callback(move |reply| {
                    println!("Got reply: {}", bytes_list_repr(&reply));
                    // Deferred callbacks get no context: hop into the
                    // reactor to count the reply in the shared state.
                    reactor.call_later(Duration::ZERO, |cx| cx.state.count_one(cx.reactor));
                    Ok(reply)
                })
                .add_errback(|failure| {
                    if failure.is::<ZmqRequestTimeoutError>() {
                        println!("Timeout on request, is reply server running?");
                    } else if let Some(Error::OutboxFull { .. }) = failure.downcast_ref() {
                        println!("Skipping, no pull consumers...");
                    } else {
                        return Err(failure);
                    }
                    Ok(Multipart::new())
                });
        });
        // The first request goes a period after the reactor starts.
        produce.start(interval, false)?;
    } else {
        let s = ZmqRepConnection::new(&zf, e)?;
        s.got_message(|cx, message_id, message| {
            if cx.state.finished() {
                return Ok(()); // done; the reactor is stopping
            }
            let (id, body) = (bytes_repr(&message_id), bytes_repr(first(&message)));
            println!("Replying to {id}, {body}");
            cx.conn.reply(&message_id, format!("{id} {body} "))?;
            cx.state.count_one(cx.reactor);
            Ok::<(), Error>(())
        });
    }

    reactor.run()?;
    Ok(())
}
