//! `requester.py` and `replier.py`, the request/reply demo of tx0mq for
//! Python (`examples/demo/reqrep/`, optparse, `-e/--endpoint`, default
//! `ipc:///tmp/sock`). The replier binds a REP connection and answers each
//! request with the time; the requester connects a REQ connection and, a
//! second later, sends one request from an `@inlineCallbacks` coroutine,
//! waits for the reply with `yield`, prints it and stops the reactor a
//! second after.
//!
//! The port: one program for both scripts, the role as an argument (both in
//! one reactor by default), the requester's coroutine written as a Rust
//! `async` block run by the reactor.
//!
//! ```text
//! cargo run --example async_reqrep -- replier --endpoint=ipc:///tmp/sock
//! cargo run --example async_reqrep -- requester --endpoint=ipc:///tmp/sock
//! cargo run --example async_reqrep                # both, in one reactor
//! ```
//!
//! The replier prints `Replier listening`, then for each request
//! `received request <id> : <data>` and `response contains <id> : <data>`,
//! and runs until interrupted. The requester prints `Requester connected`,
//! waits a second, prints `sending request containing <time> ...`, awaits
//! the reply, prints `received reply: <time>`, and stops the reactor a
//! second later. Message ids are printed as Python `bytes` (they are binary).
//!
//! The Python coroutine and its port, side by side:
//!
//! ```text
//! @defer.inlineCallbacks                        async fn do_request(reactor, requester) -> Result<(), Failure> {
//! def doRequest(requester):
//!     data = str(time.time())                       let data = time_time();
//!     print "sending request containing %s ..."     println!("sending request containing {data} ...");
//!     reply = yield requester.request(data)         let reply = requester.send_msg(data).await?;
//!     reply = reply[0]                              let reply = &reply[0];
//!     print "received reply: %s" % reply            println!("received reply: {}", text(reply));
//!     reactor.callLater(1, reactor.stop)            reactor.call_later(secs(1), |cx| cx.reactor.stop());
//! ```

use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Parser;
use tx0mq::connections::{
    bytes_repr, Frame, Multipart, RepProtocol, ZmqCtx, ZmqEndpoint, ZmqFactory, ZmqOptions,
    ZmqRepConnection, ZmqReqConnection,
};
use tx0mq::{Failure, Reactor};

mod pyport;

/// `str(time.time())`.
fn time_time() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    format!("{:.6}", now.as_secs_f64())
}

fn text(frame: &[u8]) -> String {
    String::from_utf8_lossy(frame).into_owned()
}

/// The requester's coroutine (`doRequest`).
async fn do_request(reactor: Reactor, requester: ZmqReqConnection) -> Result<(), Failure> {
    let data = time_time();
    println!("sending request containing {data} ...");
    let reply = requester.send_msg(data).await?;
    // this example only uses single-part messages
    let reply = &reply[0];
    println!("received reply: {}", text(reply));
    reactor.call_later(Duration::from_secs(1), |cx| cx.reactor.stop());
    Ok(())
}

/// `class MyReplier(ZmqRepConnection)`.
struct MyReplier;

impl RepProtocol for MyReplier {
    fn got_message(
        &mut self,
        cx: &mut ZmqCtx<'_, (), ZmqRepConnection>,
        identifier: Frame,
        message: Multipart,
    ) {
        // this example only uses single-part messages
        let message = text(&message[0]);
        println!("received request {} : {message}", bytes_repr(&identifier));
        // return response message
        let data = time_time();
        println!("response contains {} : {data}", bytes_repr(&identifier));
        if let Err(e) = cx.conn.reply(&identifier, data) {
            eprintln!("reply failed: {e}");
        }
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let (role, endpoint) = (args.role, args.endpoint);
    let reactor = Reactor::new()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();

    if role != Role::Requester {
        let replier = ZmqRepConnection::new(&factory, ZmqEndpoint::bind(&endpoint))?;
        replier.set_protocol(MyReplier)?;
        println!("Replier listening");
    }
    if role != Role::Replier {
        let linger_0 = ZmqOptions::new().linger(Duration::ZERO);
        let requester =
            ZmqReqConnection::with_options(&factory, ZmqEndpoint::connect(&endpoint), &linger_0)?;
        println!("Requester connected");
        reactor.call_later(Duration::from_secs(1), move |cx| {
            // Deferred for the coroutine's outcome: an error is logged if
            // nothing handles it (Twisted's "Unhandled error in Deferred").
            cx.reactor
                .spawn(do_request(cx.reactor.clone(), requester))
                .add_errback(|failure| {
                    eprintln!("request failed: {failure}");
                    Ok(())
                });
        });
    }
    reactor.run()?;
    Ok(())
}

/// tx0mq's request/reply demo, the requester as a coroutine.
#[derive(Parser)]
struct Args {
    /// Which side to run
    #[arg(value_enum, default_value_t = Role::Both)]
    role: Role,
    /// 0MQ Endpoint
    #[arg(short, long, default_value = "ipc:///tmp/sock")]
    endpoint: String,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Role {
    /// Bind ENDPOINT and answer requests (runs until interrupted)
    Replier,
    /// Connect to ENDPOINT, send one request, print the reply, exit
    Requester,
    /// The two of them in one reactor
    Both,
}

fn main() -> ExitCode {
    pyport::main(run)
}
