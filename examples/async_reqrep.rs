//! tx0mq's request/reply demo (`examples/demo/reqrep/requester.py` and
//! `replier.py`), with the requester's `@inlineCallbacks` coroutine written
//! as a Rust `async` block run by the reactor.
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

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tx0mq::connections::{
    bytes_repr, Frame, Multipart, RepProtocol, ZmqCtx, ZmqEndpoint, ZmqFactory, ZmqOptions,
    ZmqRepConnection, ZmqReqConnection,
};
use tx0mq::{Failure, Reactor};

const USAGE: &str = "usage: async_reqrep [replier|requester|both] [-e|--endpoint ENDPOINT]
  replier     bind ENDPOINT and answer requests (runs until interrupted)
  requester   connect to ENDPOINT, send one request, print the reply, exit
  both        the two of them in one reactor (the default)
  -e, --endpoint ENDPOINT   0MQ Endpoint (default ipc:///tmp/sock)";

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

/// The role and endpoint from the command line.
fn parse_args() -> Result<(String, String), String> {
    let mut role = None;
    let mut endpoint = "ipc:///tmp/sock".to_string();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if let Some(value) = arg.strip_prefix("--endpoint=") {
            endpoint = value.to_string();
        } else if arg == "-e" || arg == "--endpoint" {
            endpoint = args.next().ok_or("--endpoint needs a value")?;
        } else if arg == "-h" || arg == "--help" {
            println!("{USAGE}");
            std::process::exit(0);
        } else if matches!(arg.as_str(), "replier" | "requester" | "both") && role.is_none() {
            role = Some(arg);
        } else {
            return Err(format!("unexpected argument {arg:?}"));
        }
    }
    Ok((role.unwrap_or_else(|| "both".to_string()), endpoint))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    env_logger::init();
    let (role, endpoint) = match parse_args() {
        Ok(parsed) => parsed,
        Err(message) => {
            eprintln!("async_reqrep: {message}\n{USAGE}");
            std::process::exit(2);
        }
    };
    let reactor = Reactor::new()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();

    if role != "requester" {
        let replier = ZmqRepConnection::new(&factory, ZmqEndpoint::bind(&endpoint))?;
        replier.set_protocol(MyReplier)?;
        println!("Replier listening");
    }
    if role != "replier" {
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
