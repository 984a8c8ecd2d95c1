//! `asyncio/helloworld_pubsub_dealerrouter.py`, pyzmq's asyncio example of
//! pub-sub and dealer-router side by side. It prints the libzmq and pyzmq
//! versions, then runs four coroutines in one loop: a publisher connected to
//! `tcp://127.0.0.1:5555` sends `[b'world', b'Hello World']` every half
//! second; a subscriber bound there (subscribed to `world`) prints each
//! message; a DEALER with the identity `lang_dealer`, connected to port
//! 5556, sends `Change that language!` every two seconds; a ROUTER bound on
//! 5556 prints each command and switches the greeting between English
//! (`Hello World`) and Japanese (`Hello Sekai`).
//!
//! The port: the four coroutines are `async` blocks spawned on the reactor,
//! sharing the greeting through an `Rc<RefCell<HelloWorld>>` (the original's
//! object attribute). Subscriber and router pull from their connections'
//! `MessageStream`s; `asyncio.sleep` is the reactor's `sleep`.
//!
//! ```text
//! cargo run --example asyncio_helloworld_pubsub_dealerrouter -- [--url 127.0.0.1]
//!     [--port 5555] [--pub-ms 500] [--deal-ms 2000] [--settle-ms 300]
//! ```
//!
//! It prints `Current libzmq version is 4.3.5` and `Current  tx0mq version
//! is 0.1.0` (the original names pyzmq there), `Setting up world sub`,
//! `World sub initialized`, `Command router initialized`, `Command dealer
//! initialized`, then `world pub: Hello World` before each publication,
//! `world sub; topic: b'world'\tmessage: b'Hello World'` and `message
//! received world: Hello World` for each one received, `Command deal:
//! Change that language!` before each command, and for each command
//! received `Command rout; Sender ID: b'lang_dealer';\tmessage: b'Change
//! that language!'` and `Changed language! New language is: jap` (followed
//! by an empty line). It runs until interrupted. The ROUTER port is the
//! publisher's plus one, as in the original.

use std::cell::RefCell;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::Duration;

use clap::Parser;
use tx0mq::connections::{
    bytes_repr, zmq, ZmqDealerConnection, ZmqEndpoint, ZmqFactory, ZmqOptions, ZmqPubConnection,
    ZmqRouterConnection, ZmqSubConnection,
};
use tx0mq::reactor::sleep;
use tx0mq::{Failure, Reactor};

mod pyport;

/// `class HelloWorld`: the greeting in the current language.
struct HelloWorld {
    lang: &'static str,
    msg: &'static str,
}

impl HelloWorld {
    fn new() -> Self {
        HelloWorld {
            lang: "eng",
            msg: "Hello World",
        }
    }

    fn change_language(&mut self) {
        (self.lang, self.msg) = if self.lang == "eng" {
            ("jap", "Hello Sekai")
        } else {
            ("eng", "Hello World")
        };
    }
}

/// What the coroutines share.
#[derive(Clone)]
struct Shared {
    reactor: Reactor,
    hello_world: Rc<RefCell<HelloWorld>>,
    settle: Duration,
}

/// `hello_world_pub`: publishes the greeting on topic `world`.
async fn hello_world_pub(
    s: Shared,
    publisher: ZmqPubConnection,
    every: Duration,
) -> Result<(), Failure> {
    // give subscribers time to connect
    sleep(&s.reactor, s.settle).await?;
    loop {
        let msg = s.hello_world.borrow().msg;
        println!("world pub: {msg}");
        sleep(&s.reactor, every).await?;
        publisher.send([&b"world"[..], msg.as_bytes()])?;
    }
}

/// `hello_world_sub`: prints each greeting.
async fn hello_world_sub(sub: ZmqSubConnection) -> Result<(), Failure> {
    let mut messages = sub.raw().messages()?;
    while let Some(message) = messages.next().await {
        match &message[..] {
            [topic, msg] => {
                println!(
                    "world sub; topic: {}\tmessage: {}",
                    bytes_repr(topic),
                    bytes_repr(msg)
                );
                println!("message received world: {}", String::from_utf8_lossy(msg));
            }
            other => println!(
                "Error with sub world: expected [topic, msg], got {} frames",
                other.len()
            ),
        }
    }
    Ok(())
}

/// `lang_changer_dealer`: asks for a change of language, over and over.
async fn lang_changer_dealer(
    s: Shared,
    deal: ZmqDealerConnection,
    every: Duration,
) -> Result<(), Failure> {
    sleep(&s.reactor, s.settle).await?;
    let msg = "Change that language!";
    loop {
        println!("Command deal: {msg}");
        sleep(&s.reactor, every).await?;
        deal.send_ready().await?;
        deal.send_msg(msg)?;
    }
}

/// `lang_changer_router`: changes the language on each command.
async fn lang_changer_router(s: Shared, rout: ZmqRouterConnection) -> Result<(), Failure> {
    let mut commands = rout.messages()?;
    while let Some((id_dealer, parts)) = commands.next().await {
        let msg = parts
            .first()
            .map_or_else(|| "b''".to_string(), |m| bytes_repr(m));
        println!(
            "Command rout; Sender ID: {};\tmessage: {msg}",
            bytes_repr(&id_dealer)
        );
        let mut hello_world = s.hello_world.borrow_mut();
        hello_world.change_language();
        println!("Changed language! New language is: {}\n", hello_world.lang);
    }
    Ok(())
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::new()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();
    let url = format!("tcp://{}:{}", args.url, args.port);
    let command_port = args
        .port
        .checked_add(1)
        .ok_or("--port: the dealer-router port (the next one) must exist; 65535 has none")?;
    let command_url = format!("tcp://{}:{}", args.url, command_port);
    let (major, minor, patch) = zmq::version();
    println!("Current libzmq version is {major}.{minor}.{patch}");
    println!("Current  tx0mq version is {}", env!("CARGO_PKG_VERSION"));
    let shared = Shared {
        reactor: reactor.clone(),
        hello_world: Rc::new(RefCell::new(HelloWorld::new())),
        settle: args.settle,
    };

    let publisher = ZmqPubConnection::new(&factory, ZmqEndpoint::connect(&url))?;
    println!("Setting up world sub");
    let sub = ZmqSubConnection::new(&factory, ZmqEndpoint::bind(&url))?;
    sub.subscribe("world")?;
    println!("World sub initialized");
    let rout = ZmqRouterConnection::new(&factory, ZmqEndpoint::bind(&command_url))?;
    println!("Command router initialized");
    let deal = ZmqDealerConnection::with_options(
        &factory,
        ZmqEndpoint::connect(&command_url),
        &ZmqOptions::new().identity("lang_dealer"),
    )?;
    println!("Command dealer initialized");

    pyport::run_coroutines(
        &reactor,
        [
            reactor.spawn(hello_world_pub(shared.clone(), publisher, args.publish)),
            reactor.spawn(hello_world_sub(sub)),
            reactor.spawn(lang_changer_router(shared.clone(), rout)),
            reactor.spawn(lang_changer_dealer(shared, deal, args.deal)),
        ],
    )
}

/// Pub-sub greetings whose language a dealer-router command changes
/// (pyzmq's asyncio/helloworld_pubsub_dealerrouter.py).
#[derive(Parser)]
struct Args {
    /// The host of both endpoints
    #[arg(long, default_value = "127.0.0.1")]
    url: String,
    /// The pub-sub port; the dealer-router one is the next
    #[arg(long, default_value_t = 5555)]
    port: u16,
    /// How often the greeting is published, in milliseconds
    #[arg(long = "pub-ms", value_name = "MS", default_value = "500", value_parser = pyport::millis)]
    publish: Duration,
    /// How often the dealer asks for a change of language, in milliseconds
    #[arg(long = "deal-ms", value_name = "MS", default_value = "2000", value_parser = pyport::millis)]
    deal: Duration,
    /// How long publisher and dealer wait for their peers first, in milliseconds
    #[arg(long = "settle-ms", value_name = "MS", default_value = "300", value_parser = pyport::millis)]
    settle: Duration,
}

fn main() -> ExitCode {
    pyport::main(run)
}
