//! What pyzmq's two `coroutines.py` examples share (`asyncio/` and
//! `eventloop/`; not an example itself): the coroutine printing dots while
//! the loop is idle, and the PUSH sender. Their receivers differ.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use tx0mq::connections::ZmqPushConnection;
use tx0mq::reactor::sleep;
use tx0mq::{Failure, Reactor};

use crate::pyport;

/// `ping()`: prints dots to show the loop is idle.
pub async fn ping(reactor: Reactor, every: Duration) -> Result<(), Failure> {
    loop {
        sleep(&reactor, every).await?;
        println!(".");
    }
}

/// `sender()`: sends the seconds since it started, every `every`.
pub async fn sender(
    reactor: Reactor,
    push: ZmqPushConnection,
    every: Duration,
) -> Result<(), Failure> {
    let tic = Instant::now();
    loop {
        println!("sending");
        push.send_ready().await?;
        push.push(pyport::float_repr(tic.elapsed().as_secs_f64()))?;
        sleep(&reactor, every).await?;
    }
}
