//! `device.py`, pyzmq's device example (`examples/device/`): a relay built
//! on `zmq.proxy`. A proxy thread binds a PULL on `tcp://127.0.0.1:5555`
//! and a PUSH on `tcp://127.0.0.1:5556` and forwards between them; two
//! producer threads connect PUSH sockets to the first and send ten messages
//! each, `IDENT: TIME` (the time in whole seconds), one a second; a
//! consumer thread connects a PULL to the second and prints each of the
//! twenty messages. When the consumer is done the main thread terminates
//! the context, which ends the proxy.
//!
//! The port: the proxy runs as the original's does, on a thread of its
//! own, as the library's [`ThreadDevice`] (pyzmq's `ThreadDevice`: a
//! streamer with its own reactor, started and stopped from the main one).
//! The producers and the consumer, which were threads only to run side by
//! side, are connections of the main reactor: each producer a PUSH
//! connection sending from a timer (`call_later`) instead of `time.sleep`,
//! the consumer a PULL connection's callback. When the consumer has its
//! messages, the device is stopped (the original's `Context.term()`), and
//! the reactor stops once the producers are done too (the original's
//! `term()` waits for their sockets).
//!
//! ```sh
//! cargo run --example device
//! cargo run --example device -- --in-url tcp://127.0.0.1:7000 --out-url tcp://127.0.0.1:7001 --interval-ms 100
//! ```
//!
//! Prints `Consuming`, `Producing 0`, `Producing 1`, then each message as
//! it arrives (`0: 1764650000`), `Producer 0 done` and `Producer 1 done`
//! after each producer's last interval, `Consumer done` once twenty
//! messages arrived, and `proxy terminated` when the device has stopped.
//! The flags: `--in-url`, `--out-url` (the original's URLs),
//! `--messages` (its `MSGS`, per producer), `--producers` (`PRODUCERS`),
//! `--interval-ms` (the producers' sleep) and `--consume` (how many
//! messages the consumer waits for; by default messages × producers, more
//! when producers of another program feed the device too).

use std::process::ExitCode;
use std::rc::Rc;
use std::time::Duration;

use clap::Parser;
use tx0mq::connections::{zmq, DeviceType, ThreadDevice, ZmqConnection, ZmqEndpoint, ZmqFactory};
use tx0mq::{Ctx, Reactor};

mod pyport;

/// What the main reactor's callbacks share.
#[derive(Default)]
struct Relay {
    /// Messages the consumer has printed.
    consumed: usize,
    /// Messages the consumer waits for.
    expected: usize,
    /// Producers that have printed their last line.
    producers_done: usize,
    /// Producers started.
    producers: usize,
    /// The proxy, until it is terminated.
    device: Option<ThreadDevice>,
}

/// Stops the device once the consumer is done, and the reactor once the
/// producers are done too.
fn maybe_finish(cx: &mut Ctx<'_, Relay>) -> Result<(), Box<dyn std::error::Error>> {
    let relay = &mut *cx.state;
    if relay.consumed < relay.expected {
        return Ok(());
    }
    if let Some(mut device) = relay.device.take() {
        device.stop()?;
        println!("proxy terminated");
    }
    if relay.producers_done == relay.producers {
        cx.reactor.stop()?;
    }
    Ok(())
}

/// One producer: sends message `sent` now, then the next after `interval`;
/// after the last, waits `interval` once more (the original's last sleep)
/// and says it is done.
fn produce(
    cx: &mut Ctx<'_, Relay>,
    push: Rc<ZmqConnection<Relay>>,
    ident: usize,
    sent: usize,
    args: Rc<Args>,
) -> Result<(), Box<dyn std::error::Error>> {
    if sent == args.messages {
        println!("Producer {ident} done");
        push.shutdown();
        cx.state.producers_done += 1;
        return maybe_finish(cx);
    }
    push.send(format!("{ident}: {:.0}", pyport::time_time()))?;
    let interval = args.interval;
    cx.reactor
        .call_later(interval, move |cx: &mut Ctx<'_, Relay>| {
            produce(cx, push, ident, sent + 1, args)
        });
    Ok(())
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let expected = args.consume.unwrap_or(args.messages * args.producers);
    let reactor = Reactor::builder()
        .state(Relay {
            expected,
            producers: args.producers,
            ..Relay::default()
        })
        .build()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();

    // The proxy, on its own thread, bound before the others connect.
    let mut device = ThreadDevice::of_type(DeviceType::Streamer);
    device
        .bind_in(args.in_url.clone())
        .bind_out(args.out_url.clone());
    device.start(&factory)?;
    reactor.access_state(|relay| relay.device = Some(device))?;

    // The consumer.
    let pull = ZmqConnection::new(&factory, zmq::PULL, ZmqEndpoint::connect(&args.out_url))?;
    println!("Consuming");
    pull.message_received(|cx, message| {
        println!("{}", String::from_utf8_lossy(pyport::first(&message)));
        cx.state.consumed += 1;
        if cx.state.consumed == cx.state.expected {
            println!("Consumer done");
            cx.conn.shutdown();
            return maybe_finish(&mut cx.ctx());
        }
        Ok(())
    });

    // The producers.
    let args = Rc::new(args);
    for ident in 0..args.producers {
        let push = ZmqConnection::new(&factory, zmq::PUSH, ZmqEndpoint::connect(&args.in_url))?;
        println!("Producing {ident}");
        let (push, args) = (Rc::new(push), Rc::clone(&args));
        reactor.call_later(Duration::ZERO, move |cx: &mut Ctx<'_, Relay>| {
            produce(cx, push, ident, 0, args)
        });
    }
    if expected == 0 {
        reactor.call_later(Duration::ZERO, |cx: &mut Ctx<'_, Relay>| {
            println!("Consumer done");
            maybe_finish(cx)
        });
    }

    reactor.run()?;
    // Ctrl-C before the end: the device stops with the reactor.
    let device = reactor.access_state(|relay| relay.device.take())?;
    if let Some(mut device) = device {
        device.stop()?;
        println!("proxy terminated");
    }
    Ok(())
}

/// A relay through a proxy device, with two producers and a consumer
/// (pyzmq's examples/device/device.py).
#[derive(Parser)]
struct Args {
    /// Where the proxy's PULL binds and the producers connect
    #[arg(
        long = "in-url",
        value_name = "ENDPOINT",
        default_value = "tcp://127.0.0.1:5555"
    )]
    in_url: String,
    /// Where the proxy's PUSH binds and the consumer connects
    #[arg(
        long = "out-url",
        value_name = "ENDPOINT",
        default_value = "tcp://127.0.0.1:5556"
    )]
    out_url: String,
    /// Messages each producer sends (MSGS)
    #[arg(long, value_name = "N", default_value_t = 10)]
    messages: usize,
    /// Producers (PRODUCERS)
    #[arg(long, value_name = "N", default_value_t = 2)]
    producers: usize,
    /// Pause between a producer's messages, in milliseconds
    #[arg(long = "interval-ms", value_name = "MS", value_parser = pyport::millis, default_value = "1000")]
    interval: Duration,
    /// Messages the consumer waits for (default: messages × producers)
    #[arg(long, value_name = "N")]
    consume: Option<usize>,
}

fn main() -> ExitCode {
    pyport::main(run)
}
