//! `interface.py`, the zguide's network interface class (chapter 8,
//! "Multithreading with ZeroMQ: the Interface"), used by `udpping3`: an
//! agent that broadcasts our UUID once a second over UDP (`udplib`),
//! keeps the peers it hears, each with an expiry five seconds after it was
//! last heard, and tells the application `[b'JOINED', uuid]` when a peer
//! is first heard and `[b'LEFT', uuid]` when one expired (printing
//! `reaping b'UUID' EXPIRES_AT NOW` first). Our own beacons come back to
//! us like anyone's, so the agent also hears, and reports, itself.
//!
//! The port: the original runs the agent on an IOLoop in a background
//! thread, and the application reads its messages from an inproc PAIR pipe
//! (`Interface.recv()`). Here the agent lives in the application's reactor
//! (the UDP socket a reader, the ping and the reaper `LoopingCall`s) and
//! the pipe is a callback given to [`Interface::start`], called with each
//! message's frames: with one thread, a pipe would only carry messages
//! from the reactor to itself. The original's `control_message` (which
//! nothing calls, and which would fail on an undefined name) is left out.
//! A beacon is the 32 hex digits of a random (version 4) UUID, as
//! `uuid.uuid4().hex`.
#![allow(dead_code)]

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::rc::Rc;
use std::time::Duration;

use tx0mq::{LoopingCall, Reactor};

use crate::pyport;
use crate::udplib::Udp;

/// The original's `PING_PORT_NUMBER`.
pub const PING_PORT_NUMBER: u16 = 9999;
/// The original's `PING_INTERVAL`: once a second.
pub const PING_INTERVAL: Duration = Duration::from_secs(1);
/// The original's `PEER_EXPIRY`: five seconds and it's gone.
pub const PEER_EXPIRY: Duration = Duration::from_secs(5);
/// The original's `UUID_BYTES`: the bytes of a beacon read at most.
pub const UUID_BYTES: usize = 32;

/// Where and how often the agent works.
#[derive(Clone, Debug)]
pub struct Config {
    /// The UDP port (9999).
    pub port: u16,
    /// Where beacons go (udplib's default, 255.255.255.255, if `None`).
    pub broadcast: Option<Ipv4Addr>,
    /// Our own address, for udplib (its default if `None`).
    pub address: Option<Ipv4Addr>,
    /// Time between beacons, and between reaps.
    pub interval: Duration,
    /// How long a silent peer is kept.
    pub peer_expiry: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            port: PING_PORT_NUMBER,
            broadcast: None,
            address: None,
            interval: PING_INTERVAL,
            peer_expiry: PEER_EXPIRY,
        }
    }
}

/// The agent's state: our UUID, the peers by UUID (with their expiry, in
/// `time.time()` seconds), and where its messages go.
struct Agent {
    uuid: Vec<u8>,
    peers: HashMap<Vec<u8>, f64>,
    expiry: f64,
    pipe: Box<dyn FnMut(Vec<Vec<u8>>)>,
}

/// The running agent (the original's `Interface`): dropping it, or
/// [`stop`](Self::stop), ends it.
pub struct Interface<S: 'static> {
    reactor: Reactor<S>,
    udp: Rc<Udp>,
    ping: LoopingCall<S>,
    reap: LoopingCall<S>,
}

impl<S: 'static> Interface<S> {
    /// Starts the agent on `reactor`; `pipe` receives its messages
    /// (`[b'JOINED', uuid]`, `[b'LEFT', uuid]`).
    pub fn start(
        reactor: &Reactor<S>,
        config: &Config,
        pipe: impl FnMut(Vec<Vec<u8>>) + 'static,
    ) -> Result<Interface<S>, Box<dyn std::error::Error>> {
        let udp = Rc::new(Udp::new(config.port, config.address, config.broadcast)?);
        let agent = Rc::new(RefCell::new(Agent {
            uuid: new_uuid().into_bytes(),
            peers: HashMap::new(),
            expiry: config.peer_expiry.as_secs_f64(),
            pipe: Box::new(pipe),
        }));

        // A beacon: a peer joins, or is alive still.
        let (reader, beacons) = (udp.clone(), agent.clone());
        reactor.add_reader(udp.fd(), move |_cx| {
            let uuid = match reader.recv(UUID_BYTES) {
                Ok(Some((uuid, _from))) => uuid,
                Ok(None) => return,
                Err(e) => {
                    eprintln!("interface: cannot read a beacon: {e}");
                    return;
                }
            };
            let mut agent = beacons.borrow_mut();
            let expires_at = pyport::time_time() + agent.expiry;
            if agent.peers.insert(uuid.clone(), expires_at).is_none() {
                (agent.pipe)(vec![b"JOINED".to_vec(), uuid]);
            }
        })?;

        // Our beacon.
        let (sender, me) = (udp.clone(), agent.clone());
        let ping = LoopingCall::new(reactor, move |_cx| {
            let uuid = me.borrow().uuid.clone();
            if let Err(e) = sender.send(&uuid) {
                eprintln!("interface: cannot broadcast our beacon: {e}");
            }
        });
        ping.start(config.interval, true)?;

        // The peers gone silent.
        let reap = LoopingCall::new(reactor, move |_cx| {
            let now = pyport::time_time();
            let mut agent = agent.borrow_mut();
            let mut gone: Vec<(Vec<u8>, f64)> = agent
                .peers
                .iter()
                .filter(|(_, expires_at)| **expires_at < now)
                .map(|(uuid, expires_at)| (uuid.clone(), *expires_at))
                .collect();
            gone.sort_by(|a, b| a.1.total_cmp(&b.1));
            for (uuid, expires_at) in gone {
                println!(
                    "reaping {} {} {}",
                    tx0mq::connections::bytes_repr(&uuid),
                    pyport::float_repr(expires_at),
                    pyport::float_repr(now)
                );
                agent.peers.remove(&uuid);
                (agent.pipe)(vec![b"LEFT".to_vec(), uuid]);
            }
        });
        reap.start(config.interval, true)?;

        Ok(Interface {
            reactor: reactor.clone(),
            udp,
            ping,
            reap,
        })
    }

    /// Stops the agent: no more beacons, reaps or messages.
    pub fn stop(&self) {
        let _ = self.ping.stop();
        let _ = self.reap.stop();
        self.reactor.remove_reader(self.udp.fd());
    }
}

impl<S: 'static> Drop for Interface<S> {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `uuid.uuid4().hex`: 32 lowercase hex digits of a random UUID (version
/// 4, RFC 4122 variant).
fn new_uuid() -> String {
    let mut random = pyport::Random::new();
    let mut draw = || random.randrange(0, i64::MAX) as u128;
    let mut value = (draw() << 64) ^ (draw() << 32) ^ draw();
    value = (value & !(0xf << 76)) | (0x4 << 76);
    value = (value & !(0x3 << 62)) | (0x2 << 62);
    format!("{value:032x}")
}
