//! `examples/req_rep.py`, txZMQ's request/reply demo (Python 2, optparse):
//! with `--mode=req` it sends `str(time.time())` every second, starting a
//! second after launch, printing `Requesting %r`, then `Got reply: %s` with
//! the reply, or `Timeout on request, is reply server running?` when none
//! came within 0.95 s, or `Skipping, no pull consumers...` when pyzmq
//! refuses the request; otherwise it replies to each request with its id
//! and body, printing `Replying to %s, %r`. `--method` (`bind` or
//! `connect`, default `connect`) and `--endpoint` (default
//! `ipc:///tmp/txzmq-pc-demo`) say where; `-m`, `-e` and `-M` are the short
//! forms.
//!
//! The port: the same options, plus `--count N` (stop after N replies;
//! default: run forever, as the originals do) and `--interval-ms` (the
//! period, default 1000; the request timeout is 95% of it). Each request's
//! reply or timeout arrives through its Deferred. As in `push_pull`, the
//! requester's outbox limit is 0, so a request libzmq refuses fails at once
//! (txZMQ raises `zmq.error.Again`) instead of waiting. The request ids are
//! tx0mq's (16 bytes: a random prefix and a counter) instead of UUIDs; both
//! are opaque to the other side.
//!
//! ```text
//! cargo run --example req_rep -- --method=bind --endpoint=ipc:///tmp/req_rep_sock --mode=rep
//! cargo run --example req_rep -- --method=connect --endpoint=ipc:///tmp/req_rep_sock --mode=req
//! ```
//!
//! The requester prints `Requesting '1718000000.123456'`, then
//! `Got reply: [b"b'<id>' b'1718000000.123456' "]` (or one of the two other
//! lines); the replier prints `Replying to b'<id>', b'1718000000.123456'`.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tx0mq::connections::{
    bytes_repr, Error, Frame, Multipart, ZmqCtx, ZmqFactory, ZmqOptions, ZmqRepConnection,
    ZmqReqConnection, ZmqRequestTimeoutError,
};
use tx0mq::{LoopingCall, Reactor};

mod pyport;
use pyport::{bytes_list_repr, first, float_repr, str_repr, time_time, Method};

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

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let interval = args.interval;
    let timeout = interval.mul_f64(0.95);

    let reactor = Reactor::with_state(Replies {
        done: 0,
        stop_after: args.count,
    })?;
    let zf = ZmqFactory::new(&reactor)?;
    zf.register_for_shutdown();
    let e = args.method.endpoint(args.endpoint);

    if args.mode == Mode::Req {
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
        s.got_message(answer);
    }

    reactor.run()?;
    Ok(())
}

/// The replier's protocol (txZMQ's `gotMessage`): answers each request with
/// its id and body, until `--count` replies.
fn answer(
    cx: &mut ZmqCtx<'_, Replies, ZmqRepConnection<Replies>>,
    message_id: Frame,
    message: Multipart,
) -> Result<(), Error> {
    if cx.state.finished() {
        return Ok(()); // done; the reactor is stopping
    }
    let (id, body) = (bytes_repr(&message_id), bytes_repr(first(&message)));
    println!("Replying to {id}, {body}");
    cx.conn.reply(&message_id, format!("{id} {body} "))?;
    cx.state.count_one(cx.reactor);
    Ok(())
}

/// txZMQ's request/reply demo: requests the time, or answers requests.
#[derive(Parser)]
struct Args {
    /// 0MQ socket connection
    #[arg(short, long, value_enum, default_value_t = Method::Connect)]
    method: Method,
    /// 0MQ Endpoint
    #[arg(short, long, default_value = "ipc:///tmp/txzmq-pc-demo")]
    endpoint: String,
    /// Mode
    #[arg(short = 'M', long, value_enum, default_value_t = Mode::Rep)]
    mode: Mode,
    /// Stop after N replies [default: run forever]
    #[arg(long, value_name = "N")]
    count: Option<u64>,
    /// Requesting period, in milliseconds (the timeout is 95% of it)
    #[arg(long = "interval-ms", value_name = "MS", default_value = "1000", value_parser = pyport::millis)]
    interval: Duration,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Mode {
    Req,
    Rep,
}

fn main() -> ExitCode {
    pyport::main(run)
}

/// The replier's protocol, tested with the connections' test kit: no
/// sockets, no threads (as Twisted tests a protocol on a StringTransport).
#[cfg(test)]
mod tests {
    use super::*;
    use tx0mq::connections::multipart;

    fn replier(
        count: Option<u64>,
    ) -> (
        Reactor<Replies>,
        ZmqRepConnection<Replies>,
        tx0mq::connections::testing::FakePeer<Replies>,
    ) {
        let reactor = Reactor::builder()
            .state(Replies {
                done: 0,
                stop_after: count,
            })
            .fake_clock()
            .handle_signals(false)
            .build()
            .unwrap();
        let (rep, peer) = ZmqRepConnection::fake(&reactor).unwrap();
        rep.got_message(answer);
        (reactor, rep, peer)
    }

    #[test]
    fn each_request_is_answered_with_its_id_and_body_on_its_route() {
        let (reactor, rep, peer) = replier(None);
        peer.deliver(multipart![b"client", b"id-1", b"", b"1718000000.5"])
            .unwrap();
        peer.deliver(multipart![b"client", b"id-2", b"", b"1718000001.5"])
            .unwrap();
        assert_eq!(
            peer.take_sent(),
            [
                multipart![b"client", b"id-1", b"", b"b'id-1' b'1718000000.5' "],
                multipart![b"client", b"id-2", b"", b"b'id-2' b'1718000001.5' "],
            ]
        );
        assert_eq!(rep.unanswered(), 0);
        assert_eq!(reactor.access_state(|r| r.done).unwrap(), 2);
    }

    #[test]
    fn after_count_replies_further_requests_go_unanswered() {
        let (reactor, _rep, peer) = replier(Some(1));
        for id in [&b"a"[..], b"b", b"c"] {
            peer.deliver(multipart![b"client", id, b"", b"x"]).unwrap();
        }
        assert_eq!(peer.sent().len(), 1);
        assert_eq!(reactor.access_state(|r| r.done).unwrap(), 1);
    }
}
