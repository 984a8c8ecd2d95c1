//! The Freelance client API, model three (not an example itself):
//! `flcliapi.py` from the zguide (chapter 4, "Model Three: Complex and
//! Nasty"), for `flclient3`.
//!
//! The original is two halves: the application's `FreelanceClient`, whose
//! `connect` and blocking `request` talk over an inproc pipe to an agent
//! thread; and the agent, which polls that pipe and a ROUTER connected to
//! every server (`flserver3`), addressing each by its endpoint (the
//! server's identity). The agent keeps the servers it believes alive in
//! order, sends the request to the first of them, pings every server each
//! 2000 ms, drops a server silent for 6000 ms and takes it back when it
//! speaks again; a request with no answer within 3000 ms fails.
//!
//! Here the agent lives in the reactor: no thread, no pipe. `connect` and
//! `request` act on the agent directly, and `request` returns a Deferred
//! that fires with the reply's body (`None` where the original returns
//! nothing after `FAILED`). The agent's tickless poll timeout is one
//! `DelayedCall`, reset after each event to the next thing due (the
//! request's expiry, a ping); each event (a reply, the timer, a new
//! request) then runs the original's end-of-loop work: dispatch the request
//! to the first live server, then ping whoever is due.
//!
//! Wire protocol (as the original's): the request goes out as `[server
//! endpoint, sequence, "", body...]`, the server answers `[sequence, "OK"]`;
//! a ping is `[endpoint, "PING"]`, answered with `PONG`. Differences:
//! sequence numbers start at 1 and a reply matches only if its frame is
//! that number (the original starts at 0 and would read `PONG` as a number
//! and fail); a reply from an unknown server is logged and dropped.
//!
//! `flclient3` uses only part of it; hence the `allow(dead_code)`.
#![allow(dead_code)]

use std::cell::RefCell;
use std::collections::HashMap;
use std::error::Error;
use std::rc::Rc;
use std::time::Duration;

use tx0mq::connections::{bytes_repr, zmq, Multipart, ZmqConnection, ZmqEndpoint, ZmqFactory};
use tx0mq::{Deferred, DelayedCall, Reactor};

/// If no server replies within this time, abandon request.
pub const GLOBAL_TIMEOUT: Duration = Duration::from_millis(3000);
/// PING interval for servers we think are alive.
pub const PING_INTERVAL: Duration = Duration::from_millis(2000);
/// Server considered dead if silent for this long.
pub const SERVER_TTL: Duration = Duration::from_millis(6000);
/// The longest the agent sleeps with nothing due (the original's hour).
const IDLE: Duration = Duration::from_secs(3600);

/// One server we talk to.
struct Server {
    /// Its endpoint, which is also its identity.
    endpoint: String,
    /// Whether it is known to be alive.
    alive: bool,
    /// When to ping it next.
    ping_at: Duration,
    /// When it counts as dead unless heard.
    expires: Duration,
}

impl Server {
    fn heard(&mut self, now: Duration) {
        self.ping_at = now + PING_INTERVAL;
        self.expires = now + SERVER_TTL;
    }
}

/// The request in progress.
struct Pending {
    /// `[sequence, "", body...]`.
    frames: Vec<Vec<u8>>,
    /// When it fails.
    expires: Duration,
    /// Fires with the reply, or `None`.
    reply: Deferred<Option<Multipart>>,
}

/// The agent's state.
#[derive(Default)]
struct Agent {
    /// Servers we've connected to, by endpoint, and in connection order.
    servers: HashMap<Vec<u8>, Server>,
    order: Vec<Vec<u8>>,
    /// Servers we know are alive, the first one asked first.
    actives: Vec<Vec<u8>>,
    /// Number of requests ever sent.
    sequence: u64,
    request: Option<Pending>,
    /// The agent's wake-up call.
    timer: Option<DelayedCall>,
}

/// What one pass of the agent does once its state is released: messages
/// to send, a request to settle.
#[derive(Default)]
struct Work {
    sends: Vec<Vec<Vec<u8>>>,
    settle: Option<(Deferred<Option<Multipart>>, Option<Multipart>)>,
}

/// The Freelance client: the agent and its ROUTER.
pub struct FreelanceClient<S: 'static> {
    reactor: Reactor<S>,
    router: ZmqConnection<S>,
    agent: Rc<RefCell<Agent>>,
}

impl<S: 'static> Clone for FreelanceClient<S> {
    fn clone(&self) -> Self {
        FreelanceClient {
            reactor: self.reactor.clone(),
            router: self.router.clone(),
            agent: self.agent.clone(),
        }
    }
}

impl<S: 'static> FreelanceClient<S> {
    /// A client with no servers yet.
    pub fn new(reactor: &Reactor<S>, factory: &ZmqFactory<S>) -> Result<Self, Box<dyn Error>> {
        let router = ZmqConnection::new(factory, zmq::ROUTER, None)?;
        let client = FreelanceClient {
            reactor: reactor.clone(),
            router,
            agent: Rc::new(RefCell::new(Agent::default())),
        };
        let agent = client.clone();
        client.router.message_received(move |cx, reply| {
            let now = cx.reactor.seconds();
            let work = agent.router_message(reply, now);
            agent.finish(work, now)
        });
        Ok(client)
    }

    /// Connects to a new server endpoint (the original's `CONNECT`). The
    /// original then sleeps 100 ms to let the connection come up; callers
    /// wait that long before their first request.
    pub fn connect(&self, endpoint: &str) -> Result<(), Box<dyn Error>> {
        println!("I: connecting to {endpoint}...");
        self.router.add_endpoints(ZmqEndpoint::connect(endpoint))?;
        let now = self.reactor.seconds();
        let mut agent = self.agent.borrow_mut();
        let key = endpoint.as_bytes().to_vec();
        let mut server = Server {
            endpoint: endpoint.to_string(),
            alive: true,
            ping_at: now,
            expires: now,
        };
        server.heard(now);
        if agent.servers.insert(key.clone(), server).is_none() {
            agent.order.push(key.clone());
        }
        if !agent.actives.contains(&key) {
            agent.actives.push(key);
        }
        Ok(())
    }

    /// Sends a request (its frames) to the first server alive; the Deferred
    /// fires with the reply's body, or `None` if no server answered within
    /// [`GLOBAL_TIMEOUT`]. One request at a time, as in the original.
    pub fn request(
        &self,
        body: Vec<Vec<u8>>,
    ) -> Result<Deferred<Option<Multipart>>, Box<dyn Error>> {
        let now = self.reactor.seconds();
        let reply = Deferred::new();
        {
            let mut agent = self.agent.borrow_mut();
            if agent.request.is_some() {
                return Err("a request is already in progress (strict request-reply)".into());
            }
            // Prefix request with sequence number and empty envelope
            agent.sequence += 1;
            let mut frames = vec![agent.sequence.to_string().into_bytes(), Vec::new()];
            frames.extend(body);
            agent.request = Some(Pending {
                frames,
                // Request expires after global timeout
                expires: now + GLOBAL_TIMEOUT,
                reply: reply.clone(),
            });
        }
        self.finish(Work::default(), now)?;
        Ok(reply)
    }

    /// A message from a server: it lives; its reply may answer the request.
    fn router_message(&self, mut reply: Multipart, now: Duration) -> Work {
        let mut work = Work::default();
        if reply.len() < 2 {
            log::warn!("dropped a reply of {} frame(s)", reply.len());
            return work;
        }
        let rest = reply.split_off(2);
        let sequence = reply.pop().map(|f| f.to_vec()).unwrap_or_default();
        let endpoint = reply.pop().map(|f| f.to_vec()).unwrap_or_default();
        let mut agent = self.agent.borrow_mut();
        let agent = &mut *agent;
        // Frame 0 is server that replied
        let Some(server) = agent.servers.get_mut(&endpoint) else {
            log::warn!(
                "dropped a reply from an unknown server {}",
                bytes_repr(&endpoint)
            );
            return work;
        };
        if !server.alive {
            agent.actives.push(endpoint.clone());
            server.alive = true;
        }
        server.heard(now);
        // Frame 1 may be sequence number for reply
        let ours = std::str::from_utf8(&sequence)
            .ok()
            .and_then(|s| s.parse::<u64>().ok());
        if ours == Some(agent.sequence) {
            if let Some(pending) = agent.request.take() {
                work.settle = Some((pending.reply, Some(rest)));
            }
        }
        work
    }

    /// The end of the original's loop: dispatch the request to the first
    /// live server (or fail it), ping the servers due, then sleep until the
    /// next thing due. Sends and fires the request's Deferred only once the
    /// agent is released (its callbacks may make the next request).
    fn finish(&self, mut work: Work, now: Duration) -> Result<(), Box<dyn Error>> {
        let mut new_timer = None;
        {
            let mut agent = self.agent.borrow_mut();
            let agent = &mut *agent;
            // If we're processing a request, dispatch to next server
            let expired = agent.request.as_ref().is_some_and(|r| now >= r.expires);
            if expired {
                // Request expired, kill it
                if let Some(pending) = agent.request.take() {
                    work.settle = Some((pending.reply, None));
                }
            } else if let Some(pending) = &agent.request {
                // Find server to talk to, remove any expired ones
                while let Some(first) = agent.actives.first() {
                    match agent.servers.get_mut(first) {
                        Some(server) if now < server.expires => {
                            let mut message = vec![first.clone()];
                            message.extend(pending.frames.iter().cloned());
                            work.sends.push(message);
                            break;
                        }
                        Some(server) => {
                            server.alive = false;
                            agent.actives.remove(0);
                        }
                        None => {
                            agent.actives.remove(0);
                        }
                    }
                }
            }
            // Send heartbeats to idle servers if needed
            for key in &agent.order {
                if let Some(server) = agent.servers.get_mut(key) {
                    if now >= server.ping_at {
                        work.sends.push(vec![key.clone(), b"PING".to_vec()]);
                        server.ping_at = now + PING_INTERVAL;
                    }
                }
            }
            // Calculate tickless timer, up to 1 hour
            let mut tickless = now + IDLE;
            if let Some(pending) = &agent.request {
                tickless = tickless.min(pending.expires);
            }
            for server in agent.servers.values() {
                tickless = tickless.min(server.ping_at);
            }
            let delay = tickless.saturating_sub(now);
            match &agent.timer {
                Some(timer) if timer.active() => timer.reset(delay)?,
                _ => new_timer = Some(delay),
            }
        }
        if let Some(delay) = new_timer {
            let agent = self.clone();
            let timer = self.reactor.call_later(delay, move |cx| {
                let now = cx.reactor.seconds();
                agent.finish(Work::default(), now)
            });
            self.agent.borrow_mut().timer = Some(timer);
        }
        for message in work.sends {
            self.router.send(message)?;
        }
        if let Some((deferred, reply)) = work.settle {
            deferred.callback(reply)?;
        }
        Ok(())
    }
}
