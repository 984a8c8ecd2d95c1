//! `eventloop/asyncweb.py`, pyzmq's example of a web server that stays
//! responsive while 0MQ requests are in flight. A slow worker thread binds
//! a ROUTER on `tcp://127.0.0.1:5555` and answers each request after one to
//! five seconds, appending ` to you too, #N`; a tornado application on
//! port 8888 answers `GET /` by connecting a fresh DEALER to the worker,
//! sending `hello` and finishing the page with the worker's reply, and
//! meanwhile a periodic callback prints a dot every 100 ms to show that the
//! loop never blocks.
//!
//! The port: the worker stays a thread with blocking sockets, as in the
//! original (its sockets come from the factory's shared 0MQ context). The
//! web half is a plain HTTP/1.1 responder on the reactor's own TCP transport
//! (`listen_tcp`, a `Protocol` reading the request head): one page, `GET /`,
//! answered once and the connection closed, which is all the example needs
//! and keeps one event loop and no new dependency (an HTTP crate would bring
//! its own runtime or its own I/O loop beside the reactor). Each request's
//! handler is a task (`Reactor::spawn`): it opens a DEALER connection, sends
//! `hello`, awaits the reply on the connection's `MessageStream`, then
//! writes the response. The dots are a `LoopingCall`.
//!
//! ```text
//! cargo run --example eventloop_asyncweb -- [--port 8888]
//!     [--worker tcp://127.0.0.1:5555] [--min-delay-ms 1000]
//!     [--max-delay-ms 5000] [--seed N]
//! curl http://127.0.0.1:8888/
//! ```
//!
//! It prints `.` every 100 ms (no newline), and for each request
//! `worker received b'hello'` and, once the worker has answered, `finishing
//! with 'hello to you too, #0'` (each on its own line, as the original
//! prints them between newlines); the page's body is the worker's reply.
//! Another path gets `404 Not Found`, another method `405 Method Not
//! Allowed`, a request head over 8 KiB or not HTTP `400 Bad Request`. On
//! Ctrl-C it prints ` Interrupted` and exits. `--port 0` lets the kernel
//! choose and prints `Listening on ADDRESS`.

use std::error::Error;
use std::io::Write as _;
use std::net::IpAddr;
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use clap::Parser;
use tx0mq::connections::{
    bytes_repr, zmq, ZmqContext, ZmqDealerConnection, ZmqEndpoint, ZmqFactory, ZmqOptions,
};
use tx0mq::net::{NetCtx, Protocol, Transport};
use tx0mq::{Failure, LoopingCall, Reactor};

mod pyport;

/// The longest request head read before answering `400 Bad Request`.
const MAX_HEAD: usize = 8 * 1024;

/// `slow_responder()`: answers each request after a random pause.
fn slow_responder(
    context: &ZmqContext,
    endpoint: &str,
    delays: (Duration, Duration),
    seed: Option<u64>,
) -> zmq::Result<()> {
    let socket = context.socket(zmq::ROUTER)?;
    socket.set_linger(0)?;
    socket.bind(endpoint)?;
    let mut random = pyport::Random::from_seed(seed);
    let mut i = 0u64;
    loop {
        let message = socket.recv_multipart(0)?;
        let [frame, msg] = &message[..] else {
            println!("\nworker: dropped a message that is not [identity, request]");
            continue;
        };
        print!("\nworker received {}\n", bytes_repr(msg));
        let _ = std::io::stdout().flush();
        let millis = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        let pause = random.randint(millis(delays.0), millis(delays.1));
        thread::sleep(Duration::from_millis(pause.unsigned_abs()));
        let mut reply = msg.clone();
        reply.extend_from_slice(format!(" to you too, #{i}").as_bytes());
        socket.send_multipart([&frame[..], &reply[..]], 0)?;
        i += 1;
    }
}

/// `dot()`: shows that the loop is still responsive while we wait.
fn dot() {
    print!(".");
    let _ = std::io::stdout().flush();
}

/// An HTTP response with a text body, the connection closed after it.
fn response(status: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=UTF-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// `TestHandler.get`: asks the worker and finishes the page with its reply.
async fn get(factory: ZmqFactory, worker: String, transport: Transport) -> Result<(), Failure> {
    let s = ZmqDealerConnection::with_options(
        &factory,
        ZmqEndpoint::connect(&worker),
        &ZmqOptions::new().linger(Duration::ZERO),
    )?;
    let mut replies = s.messages()?;
    // send request to worker
    s.send_msg("hello")?;
    // finish web request with worker's reply
    let reply = replies.next().await;
    s.shutdown();
    let reply = match reply {
        Some(parts) => String::from_utf8_lossy(pyport::first(&parts)).into_owned(),
        None => String::new(),
    };
    print!("\nfinishing with {}\n", pyport::str_repr(&reply));
    let _ = std::io::stdout().flush();
    transport.write(response("200 OK", &reply))?;
    transport.lose_connection();
    Ok(())
}

/// One HTTP connection: reads the request head, then answers it.
struct Http {
    factory: ZmqFactory,
    worker: String,
    head: Vec<u8>,
    answered: bool,
}

impl Http {
    /// Answers at once and closes.
    fn refuse(&mut self, cx: &mut NetCtx<'_>, status: &str) {
        self.answered = true;
        if let Err(e) = cx.transport.write(response(status, status)) {
            log::warn!("{e}");
        }
        cx.transport.lose_connection();
    }
}

impl Protocol for Http {
    fn data_received(&mut self, cx: &mut NetCtx<'_>, data: &[u8]) {
        if self.answered {
            return; // a body, or a pipelined request: this server answers one
        }
        self.head.extend_from_slice(data);
        let Some(end) = self.head.windows(4).position(|w| w == b"\r\n\r\n") else {
            if self.head.len() > MAX_HEAD {
                self.refuse(cx, "400 Bad Request");
            }
            return;
        };
        let head = String::from_utf8_lossy(&self.head[..end]).into_owned();
        let mut words = head.lines().next().unwrap_or_default().split_whitespace();
        let (method, path, version) = (words.next(), words.next(), words.next());
        match (method, path, version) {
            (Some(_), Some(_), Some(v)) if !v.starts_with("HTTP/1.") => {
                self.refuse(cx, "400 Bad Request")
            }
            (Some("GET"), Some("/"), Some(_)) => {
                self.answered = true;
                let task = get(
                    self.factory.clone(),
                    self.worker.clone(),
                    cx.transport.clone(),
                );
                cx.reactor.spawn(task).add_errback(|failure| {
                    eprintln!("request failed: {failure}");
                    Ok(())
                });
            }
            (Some("GET"), Some(_), Some(_)) => self.refuse(cx, "404 Not Found"),
            (Some(_), Some(_), Some(_)) => self.refuse(cx, "405 Method Not Allowed"),
            _ => self.refuse(cx, "400 Bad Request"),
        }
    }
}

fn run(args: Args) -> Result<(), Box<dyn Error>> {
    let reactor = Reactor::new()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();

    let context = factory.context()?;
    let (endpoint, delays, seed) = (
        args.worker.clone(),
        (args.min_delay, args.max_delay),
        args.seed,
    );
    thread::spawn(move || {
        if let Err(e) = slow_responder(&context, &endpoint, delays, seed) {
            eprintln!("worker: {e}");
        }
    });

    let (web_factory, worker) = (factory.clone(), args.worker);
    let _web = pyport::listen_tcp(&reactor, args.interface, args.port, move |_addr| Http {
        factory: web_factory.clone(),
        worker: worker.clone(),
        head: Vec::new(),
        answered: false,
    })?;
    let beat = LoopingCall::new(&reactor, |_cx| dot());
    beat.start(Duration::from_millis(100), false)?;
    reactor.run()?;
    println!(" Interrupted");
    Ok(())
}

/// A web page answered by a slow 0MQ worker while the loop stays
/// responsive (pyzmq's eventloop/asyncweb.py).
#[derive(Parser)]
struct Args {
    /// The HTTP port (0: the kernel chooses, and it is printed)
    #[arg(long, default_value_t = 8888)]
    port: u16,
    /// The address of the interface the web server listens on
    #[arg(long, value_name = "ADDRESS", default_value = "0.0.0.0")]
    interface: IpAddr,
    /// Where the worker binds and each request connects
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://127.0.0.1:5555")]
    worker: String,
    /// The worker's shortest pause before a reply, in milliseconds
    #[arg(long = "min-delay-ms", value_name = "MS", default_value = "1000", value_parser = pyport::millis)]
    min_delay: Duration,
    /// The worker's longest pause before a reply, in milliseconds
    #[arg(long = "max-delay-ms", value_name = "MS", default_value = "5000", value_parser = pyport::millis)]
    max_delay: Duration,
    /// Seed of the worker's pauses [default: from the clock]
    #[arg(long)]
    seed: Option<u64>,
}

fn main() -> ExitCode {
    pyport::main(run)
}
