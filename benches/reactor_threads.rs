//! One reactor per core: the throughput of the `reactor_per_core` example
//! with 1 and with 2 reactor threads, and the scaling ratio between them.
//!
//!     cargo bench --bench reactor_threads [-- --quick] [-- --filter work1000]
//!
//! The server is the example itself (built here with `cargo build --release
//! --example reactor_per_core`): a ROUTER front end on the main reactor, a
//! DEALER on `inproc://reactors`, and N reactor threads with a REP
//! connection each, every request costing `--work-us` of CPU. The load is
//! this process: 4 client threads, each a DEALER keeping 8 requests in
//! flight over TCP, counting replies. Rounds alternate 1 and 2 reactors.
//!
//! The figure that matters is the ratio, 2 reactors over 1: 2.0 would be
//! perfect scaling. On a 2-core machine the front end, libzmq's I/O thread
//! and the load generator share the same two cores with the workers, so
//! the ratio stays below 2 even when the reactors themselves scale; the
//! `work0` row (no work per request) shows what the front end alone can
//! carry, and its CPU per request (all processes together) is what each
//! request costs on top of its work: with `w` microseconds of work and `o`
//! of overhead, two cores cap the ratio at about `2w / (w + o)`.

use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

mod common;
use common::procs::{self, Placement};
use common::{report, Options, Row};

const CLIENTS: usize = 4;
const IN_FLIGHT: usize = 8;

/// Builds the example in release mode and returns its path.
fn build_example() -> std::path::PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--release", "--example", "reactor_per_core"])
        .env("CARGO_TARGET_DIR", procs::target_dir())
        .status()
        .expect("run cargo build");
    assert!(
        status.success(),
        "building the reactor_per_core example failed"
    );
    procs::target_dir().join("release/examples/reactor_per_core")
}

/// Requests per second through the example with `reactors` threads and
/// `work_us` of work per request, over `total` requests.
fn measure(example: &std::path::Path, reactors: usize, work_us: u64, total: usize) -> f64 {
    let endpoint = format!("tcp://127.0.0.1:{}", procs::free_tcp_port());
    let mut command = Command::new(example);
    command.args([
        "--reactors",
        &reactors.to_string(),
        "--endpoint",
        &endpoint,
        "--work-us",
        &work_us.to_string(),
    ]);
    let mut server = procs::launch(command, Placement::Unpinned);
    server
        .wait_for("serving ", Instant::now() + Duration::from_secs(30))
        .expect("the example did not start");
    let context = zmq::Context::new();
    let per_client = total / CLIENTS;
    let started = Instant::now();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let context = context.clone();
            let endpoint = endpoint.clone();
            thread::spawn(move || {
                let dealer = context.socket(zmq::DEALER).expect("socket");
                dealer.set_linger(0).expect("linger");
                dealer.set_rcvtimeo(30_000).expect("rcvtimeo");
                dealer.connect(&endpoint).expect("connect");
                let (mut sent, mut received) = (0, 0);
                while received < per_client {
                    while sent < per_client && sent - received < IN_FLIGHT {
                        dealer
                            .send_multipart([&b""[..], b"request"], 0)
                            .expect("send");
                        sent += 1;
                    }
                    dealer.recv_multipart(0).expect("a reply within 30 s");
                    received += 1;
                }
            })
        })
        .collect();
    for client in clients {
        client.join().expect("client thread");
    }
    let elapsed = started.elapsed();
    drop(server); // kills it
    (per_client * CLIENTS) as f64 / elapsed.as_secs_f64()
}

fn main() {
    let options = Options::from_args();
    let example = build_example();
    let most = options.pick(40_000, 8_000);
    let mut rows = Vec::new();
    for work_us in [1000u64, 200, 0] {
        // About two seconds of one reactor's work per measurement.
        let total = usize::try_from(2_000_000 / (work_us + 20)).map_or(most, |n| n.min(most));
        let name = format!("work{work_us}");
        if !options.wants(&name) {
            continue;
        }
        let (two, one) = common::alternate(
            options.rounds,
            || measure(&example, 2, work_us, total),
            || measure(&example, 1, work_us, total),
        );
        rows.push(Row {
            name: format!("reactor_threads {name} (2 reactors vs 1)"),
            reactor: two,
            raw: one,
            unit: "requests/s",
        });
    }
    report(
        "One reactor per core: 2 reactor threads against 1",
        "`reactor` is 2 reactor threads, `raw` is 1; the ratio is the scaling (2.0 is perfect). \
         Work is CPU per request, in microseconds.",
        &rows,
    );
}
