//! `clonecli6.py`, the zguide's Clone client, model six (chapter 5, "Clone
//! Server Reliability"): written against the Clone API
//! (`examples/clone/mod.rs`, `clone.py`), it shares the subtree `/client/`
//! with a Binary Star pair of `clonesrv6` servers (`tcp://localhost:5556`,
//! the backup `tcp://localhost:5566`) and once a second sets a random key,
//! `/client/<1..10000>`, to a random value `<1..1000000>` with a random
//! `ttl` of 0 to 30 seconds.
//!
//! The original sleeps a second between updates while the API's agent
//! thread does the rest; here the updates are a `LoopingCall` and the agent
//! is the API's callbacks on the same reactor. The updates start once the
//! API has its first snapshot, so that none goes out before the
//! connections to the servers are up.
//!
//! ```sh
//! cargo run --example clonesrv6 -- -p &
//! cargo run --example clonesrv6 -- -b &
//! cargo run --example clonecli6
//! ```
//!
//! Prints the API's log lines (see `examples/clone/mod.rs`): `I: waiting
//! for server at tcp://localhost:5556...`, `I: received from
//! tcp://localhost:5556 snapshot=N`, `I: received from
//! tcp://localhost:5556 update=N`, `I: server at tcp://localhost:5556 didn't
//! give hugz`, ... With `--updates N`, `I: sent N updates` once they are
//! out. Flags: `--address`, `--primary-port`, `--backup-port` (the
//! servers), `--updates N` (then only listen; 0: none), `--interval-ms`
//! (between updates, default 1000), `--ttl SECS` (every update's, instead of
//! a random 0 to 30), `--seed`, `--print-map` (on exit, Ctrl-C, the map:
//! `map: KEY=VALUE` lines, then `map: N keys`).
//!
//! Where it differs: its keys are under the subtree (`/client/42`, as in the
//! C original; the Python one sets `42`, outside the subtree it listens to).

use std::cell::Cell;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::Duration;

use clap::Parser;
use tx0mq::connections::ZmqFactory;
use tx0mq::{LoopingCall, Reactor};

mod clone;
mod kvmsg;
mod pyport;

use clone::Clone;

/// The subtree this client shares.
const SUBTREE: &str = "/client/";

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::new()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();

    // Create and connect clone
    let clone = Rc::new(Clone::new(&reactor, &factory)?);
    clone.set_subtree(SUBTREE);
    clone.connect(&args.address, args.primary_port)?;
    clone.connect(&args.address, args.backup_port)?;

    let mut random = pyport::Random::from_seed(args.seed);
    let sent = Rc::new(Cell::new(0u64));
    let (setting, counting) = (clone.clone(), sent.clone());
    let (limit, fixed_ttl) = (args.updates, args.ttl);
    let updates = LoopingCall::new(&reactor, move |_| {
        if !setting.is_active() || limit.is_some_and(|n| counting.get() >= n) {
            return Ok(());
        }
        // Distribute as key-value message
        let key = format!("{SUBTREE}{}", random.randint(1, 10000));
        let value = random.randint(1, 1_000_000).to_string();
        let ttl = fixed_ttl.unwrap_or_else(|| random.randint(0, 30) as u32);
        setting.set(key, value, ttl)?;
        counting.set(counting.get() + 1);
        if limit == Some(counting.get()) {
            println!("I: sent {} updates", counting.get());
        }
        Ok::<(), Box<dyn std::error::Error>>(())
    });
    updates.start(args.interval, false)?;

    reactor.run()?;
    if args.print_map {
        clone.with_map(kvmsg::print_map);
    }
    Ok(())
}

/// Clone client, model six: random updates through the Clone API, to a
/// Binary Star pair of servers (zguide's clonecli6.py).
#[derive(Parser)]
struct Args {
    /// The servers' address, without the port
    #[arg(long, default_value = "tcp://localhost")]
    address: String,
    /// The primary's snapshot port
    #[arg(long, default_value_t = 5556)]
    primary_port: u16,
    /// The backup's snapshot port
    #[arg(long, default_value_t = 5566)]
    backup_port: u16,
    /// Make this many updates, then only listen [default: forever]
    #[arg(long)]
    updates: Option<u64>,
    /// Time between two updates
    #[arg(long = "interval-ms", value_parser = pyport::millis, default_value = "1000")]
    interval: Duration,
    /// Every update's ttl in seconds (0: none) [default: random, 0 to 30]
    #[arg(long)]
    ttl: Option<u32>,
    /// Seed the random keys and values, for a repeatable run
    #[arg(long)]
    seed: Option<u64>,
    /// On exit (Ctrl-C), print the map: `map: KEY=VALUE` lines, then `map: N keys`
    #[arg(long)]
    print_map: bool,
}

fn main() -> ExitCode {
    pyport::main(run)
}
