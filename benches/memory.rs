//! Memory: resident memory per idle registered connection, beyond libzmq's
//! own per-socket cost.
//!
//!     cargo bench --bench memory [-- --quick]
//!
//! Opens N plain PULL sockets and measures the growth of resident memory,
//! then N `ZmqPullConnection`s (registered in the reactor, protocol set) and
//! measures again. "reactor" is bytes per connection, "raw" bytes per plain
//! socket; their difference is what the reactor adds.

use tx0mq::connections::{ZmqEndpoint, ZmqFactory, ZmqPullConnection};
use tx0mq::Reactor;

mod common;
use common::{report, Options, Row};

/// Resident set size in bytes, from /proc/self/statm.
fn rss() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("statm");
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("rss pages");
    pages * 4096
}

fn main() {
    let options = Options::from_args();
    // Two descriptors per libzmq socket, both sets open at once, under a
    // 20,000-descriptor limit.
    let n = options.pick(4_000, 2_000);

    let context = common::context_for(n);
    let before = rss();
    let mut sockets = Vec::with_capacity(n);
    for i in 0..n {
        let socket = context.socket(zmq::PULL).expect("socket");
        socket
            .bind(&format!("inproc://memory-raw-{i}"))
            .expect("bind");
        sockets.push(socket);
    }
    let raw = rss().saturating_sub(before) as f64 / n as f64;
    // The plain sockets stay open, so the connections below cannot reuse
    // their freed memory and look cheaper than they are.

    let reactor = Reactor::builder()
        .handle_signals(false)
        .build()
        .expect("reactor");
    let factory = ZmqFactory::with_context(&reactor, common::context_for(n));
    let before = rss();
    let mut connections = Vec::with_capacity(n);
    for i in 0..n {
        let pull = ZmqPullConnection::new(
            &factory,
            ZmqEndpoint::bind(format!("inproc://memory-ours-{i}")),
        )
        .expect("pull");
        pull.on_pull(|_, _| ());
        connections.push(pull);
    }
    reactor.iterate(std::time::Duration::ZERO).expect("iterate"); // registration checks run
    let ours = rss().saturating_sub(before) as f64 / n as f64;
    report(
        "Memory per idle connection",
        &format!(
            "{n} idle PULL sockets; resident bytes per socket (lower is better). The reactor adds about {:.0} bytes per connection.",
            ours - raw
        ),
        &[Row {
            name: "memory_per_idle_connection".into(),
            reactor: ours,
            raw,
            unit: "bytes",
        }],
    );
    factory.shutdown();
    drop(sockets);
}
