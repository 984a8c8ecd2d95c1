//! `recv_into/recv_into_array.py`, pyzmq's receive into an array: a random
//! 5 x 5 array of 64-bit integers (0 to 254) goes from a PUSH socket bound
//! to `inproc://test` to a PULL socket, which receives it straight into the
//! memory of a second array (`recv_into(B)`), then checks the byte count
//! and that both arrays are equal.
//!
//! The port: both sockets are connections in one reactor; the PULL
//! connection's `on_recv_into` receives each frame into a 200-byte buffer
//! it owns (the array's memory; nothing is allocated per receive), and the
//! callback reads the array out of it. The check that fails (a short or
//! long frame, a different array) ends the run with an error naming it,
//! where the original's `assert` raises.
//!
//! ```sh
//! cargo run --example recv_into_array
//! ```
//!
//! Prints `sending:` and the array as numpy prints it (` [[ 12 200   3
//! ...]`, ` [  5 ...]]`), then `received 200 bytes:` and the received
//! array, the same. Flags: `--url` (default the original's
//! `inproc://test`), `--seed` (the array's numbers).

use std::process::ExitCode;

use clap::Parser;
use tx0mq::connections::{ZmqEndpoint, ZmqFactory, ZmqPullConnection, ZmqPushConnection};
use tx0mq::Reactor;

mod pyport;

/// The array's side.
const N: usize = 5;
/// The array's size in bytes: `A.nbytes`.
const NBYTES: usize = N * N * 8;

/// numpy's `str()` of a 2-d integer array: every element right-aligned to
/// the widest, rows in brackets, the rows after the first indented by one.
fn numpy_str(a: &[i64; N * N]) -> String {
    let width = a.iter().map(|x| x.to_string().len()).max().unwrap_or(1);
    let rows: Vec<String> = a
        .chunks(N)
        .map(|row| {
            let cells: Vec<String> = row.iter().map(|x| format!("{x:>width$}")).collect();
            format!("[{}]", cells.join(" "))
        })
        .collect();
    format!("[{}]", rows.join("\n "))
}

/// What the receiving side found, for the checks after the run.
#[derive(Default)]
struct Received {
    bytes_received: Option<usize>,
    b: Option<[i64; N * N]>,
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let mut rng = pyport::Random::from_seed(args.seed);
    let mut a = [0i64; N * N];
    for x in &mut a {
        *x = rng.randrange(0, 255);
    }

    let reactor = Reactor::builder().state(Received::default()).build()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();
    let push = ZmqPushConnection::new(&factory, ZmqEndpoint::bind(&args.url))?;
    let pull = ZmqPullConnection::new(&factory, ZmqEndpoint::connect(&args.url))?;

    // B: the buffer the frame is received into, the array's memory.
    pull.on_recv_into(vec![0; NBYTES], |cx, frame| {
        cx.state.bytes_received = Some(frame.len());
        let mut b = [0i64; N * N];
        for (x, chunk) in b.iter_mut().zip(frame.bytes().chunks_exact(8)) {
            let mut raw = [0u8; 8];
            raw.copy_from_slice(chunk);
            *x = i64::from_ne_bytes(raw);
        }
        cx.state.b = Some(b);
        cx.reactor.stop()
    });

    println!("sending:\n {}", numpy_str(&a));
    let bytes: Vec<u8> = a.iter().flat_map(|x| x.to_ne_bytes()).collect();
    push.push(bytes)?;

    reactor.run()?;
    let (bytes_received, b) = reactor.access_state(|s| (s.bytes_received, s.b))?;
    let (Some(bytes_received), Some(b)) = (bytes_received, b) else {
        return Err("nothing was received".into());
    };
    println!("received {bytes_received} bytes:\n {}", numpy_str(&b));
    if bytes_received != NBYTES {
        return Err(format!("received {bytes_received} bytes, sent {NBYTES}").into());
    }
    if a != b {
        return Err("the received array differs from the one sent".into());
    }
    Ok(())
}

/// Receives an array straight into another array's memory (pyzmq's
/// recv_into/recv_into_array.py).
#[derive(Parser)]
struct Args {
    /// Endpoint the PUSH binds and the PULL connects to
    #[arg(long, value_name = "ENDPOINT", default_value = "inproc://test")]
    url: String,
    /// Seed of the array's numbers (default: from the clock)
    #[arg(long)]
    seed: Option<u64>,
}

fn main() -> ExitCode {
    pyport::main(run)
}
