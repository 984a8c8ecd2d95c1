//! `gevent/reqrep.py`, pyzmq's green-thread version of the zguide's
//! request-reply broker (`rrclient`, `rrworker`, `rrbroker` in one
//! process): a REP server connected to `tcp://localhost:5560` answers each
//! `Hello` with `World`; a broker binds a ROUTER on `tcp://*:5559` and a
//! DEALER on `tcp://*:5560` and forwards between them with two greenlets; a
//! REQ client connected to `tcp://localhost:5559` makes nine requests, one
//! after the other, and the program ends when the client is done.
//!
//! The port: green threads become what fits each part. The server is a
//! callback (a REP connection's `got_message`: each request is answered as
//! it comes); the broker's two forwarding greenlets are the library's
//! `proxy()`, which forwards whole messages both ways inside the reactor;
//! the client, whose point is to wait for each reply before the next
//! request, is a task (an `async` block awaiting `send_msg`), and the
//! program ends when it is done, as `spawn(client).join()` does.
//!
//! ```text
//! cargo run --example gevent_reqrep -- [--frontend-port 5559]
//!     [--backend-port 5560] [--requests 9]
//! ```
//!
//! The server prints `Received request:  b'Hello'` for each request, the
//! client `Received reply  1 [ b'World' ]` ... `Received reply  9 [
//! b'World' ]`; then it exits.

use std::process::ExitCode;

use clap::Parser;
use tx0mq::connections::{
    bytes_repr, proxy, zmq, ZmqConnection, ZmqEndpoint, ZmqFactory, ZmqRepConnection,
    ZmqReqConnection,
};
use tx0mq::{Failure, Reactor};

mod pyport;

/// `client()`: `requests` requests, each awaiting its reply.
async fn client(socket: ZmqReqConnection, requests: u64) -> Result<(), Failure> {
    for request in 1..=requests {
        let message = socket.send_msg("Hello").await?;
        println!(
            "Received reply  {request} [ {} ]",
            bytes_repr(pyport::first(&message))
        );
    }
    Ok(())
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::new()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();

    // server
    let server = ZmqRepConnection::new(
        &factory,
        ZmqEndpoint::connect(format!("tcp://localhost:{}", args.backend_port)),
    )?;
    server.got_message(|cx, message_id, message| {
        println!("Received request:  {}", bytes_repr(pyport::first(&message)));
        cx.conn.reply(&message_id, "World")
    });

    // client
    let socket = ZmqReqConnection::new(
        &factory,
        ZmqEndpoint::connect(format!("tcp://localhost:{}", args.frontend_port)),
    )?;

    // broker
    let frontend = ZmqConnection::new(
        &factory,
        zmq::ROUTER,
        ZmqEndpoint::bind(format!("tcp://*:{}", args.frontend_port)),
    )?;
    let backend = ZmqConnection::new(
        &factory,
        zmq::DEALER,
        ZmqEndpoint::bind(format!("tcp://*:{}", args.backend_port)),
    )?;
    proxy(&frontend, &backend);

    // spawn(client).join()
    reactor.run_until_complete(client(socket, args.requests))??;
    Ok(())
}

/// Client, broker and server of the zguide's request-reply broker in one
/// process (pyzmq's gevent/reqrep.py).
#[derive(Parser)]
struct Args {
    /// The port the broker's ROUTER binds and the client connects to
    #[arg(long = "frontend-port", value_name = "PORT", default_value_t = 5559)]
    frontend_port: u16,
    /// The port the broker's DEALER binds and the server connects to
    #[arg(long = "backend-port", value_name = "PORT", default_value_t = 5560)]
    backend_port: u16,
    /// How many requests the client makes
    #[arg(long, value_name = "N", default_value_t = 9)]
    requests: u64,
}

fn main() -> ExitCode {
    pyport::main(run)
}
