//! The Majordomo worker API (the zguide's `mdwrkapi.py`).
//!
//! The original's `recv(reply)` blocks: it sends the previous reply, then
//! polls the broker socket in a loop, counting silent polls down from
//! `HEARTBEAT_LIVENESS`, sending a heartbeat whenever one is due, and on a
//! dead broker sleeping `reconnect` ms and starting a new session (READY
//! again). Here the worker is event-driven: [`MajorDomoWorker::new`] takes
//! the request handler, which the worker calls with each request's body and
//! whose return value goes back as the reply. Heartbeats out are a
//! `LoopingCall`; the silent poll is a `DelayedCall` that every message from
//! the broker resets; the sleep before reconnecting is a `call_later`.
//!
//! A message from the broker that breaks the protocol is logged and dropped.

use std::cell::RefCell;
use std::rc::{Rc, Weak};
use std::time::Duration;

use tx0mq::connections::{Multipart, ZmqDealerConnection, ZmqEndpoint, ZmqFactory, ZmqOptions};
use tx0mq::{DelayedCall, LoopingCall, Reactor};

use super::{
    command_name, dump, frames, log, Message, HEARTBEAT_INTERVAL, HEARTBEAT_LIVENESS,
    RECONNECT_DELAY, W_DISCONNECT, W_HEARTBEAT, W_READY, W_REPLY, W_REQUEST, W_WORKER,
};

/// What a worker does with a request: its body in, the reply's body out.
pub type Handler = Box<dyn FnMut(Message) -> Message>;

/// A Majordomo worker offering one service through one broker.
pub struct MajorDomoWorker<S: 'static = ()> {
    inner: Rc<RefCell<Inner<S>>>,
}

struct Inner<S: 'static> {
    reactor: Reactor<S>,
    factory: ZmqFactory<S>,
    broker: String,
    service: Vec<u8>,
    verbose: bool,
    /// Delay between heartbeats (`heartbeat`, msecs in the original).
    heartbeat: Duration,
    /// Delay before reconnecting (`reconnect`).
    reconnect: Duration,
    /// Silent heartbeat intervals left before the broker counts as dead.
    liveness: u32,
    worker: Option<ZmqDealerConnection<S>>,
    heartbeats: Option<LoopingCall<S>>,
    silence: Option<DelayedCall>,
    reconnecting: Option<DelayedCall>,
    handler: Option<Handler>,
}

impl<S: 'static> MajorDomoWorker<S> {
    /// A worker for `service` at `broker` (`MajorDomoWorker(broker, service,
    /// verbose)`): it connects, sends READY, and calls `handler` with each
    /// request.
    pub fn new(
        reactor: &Reactor<S>,
        factory: &ZmqFactory<S>,
        broker: &str,
        service: &[u8],
        verbose: bool,
        handler: impl FnMut(Message) -> Message + 'static,
    ) -> Result<Self, tx0mq::connections::Error> {
        let inner = Rc::new(RefCell::new(Inner {
            reactor: reactor.clone(),
            factory: factory.clone(),
            broker: broker.to_string(),
            service: service.to_vec(),
            verbose,
            heartbeat: HEARTBEAT_INTERVAL,
            reconnect: RECONNECT_DELAY,
            liveness: HEARTBEAT_LIVENESS,
            worker: None,
            heartbeats: None,
            silence: None,
            reconnecting: None,
            handler: Some(Box::new(handler)),
        }));
        reconnect_to_broker(&inner)?;
        Ok(Self { inner })
    }

    /// Stops the worker: no more heartbeats or reconnections, the socket
    /// closed.
    pub fn destroy(&self) {
        let mut inner = self.inner.borrow_mut();
        stop_session(&mut inner);
        if let Some(call) = inner.reconnecting.take() {
            let _ = call.cancel();
        }
    }
}

/// Ends the current session's socket and timers.
fn stop_session<S: 'static>(inner: &mut Inner<S>) {
    if let Some(worker) = inner.worker.take() {
        worker.shutdown();
    }
    if let Some(heartbeats) = inner.heartbeats.take() {
        let _ = heartbeats.stop();
    }
    if let Some(silence) = inner.silence.take() {
        let _ = silence.cancel();
    }
}

/// Sends `[“”, MDPW01, command, option?, body...]` to the broker.
fn send_to_broker<S: 'static>(
    inner: &Inner<S>,
    command: &[u8],
    option: Option<&[u8]>,
    body: Message,
) {
    let mut message = vec![Vec::new(), W_WORKER.to_vec(), command.to_vec()];
    message.extend(option.map(<[u8]>::to_vec));
    message.extend(body);
    if inner.verbose {
        log(format_args!(
            "I: sending {} to broker",
            command_name(command)
        ));
        dump(&message);
    }
    if let Some(worker) = &inner.worker {
        if let Err(e) = worker.send_msg(message) {
            log(format_args!("E: cannot send to the broker: {e}"));
        }
    }
}

/// Connects (again) to the broker: a new DEALER, READY for the service,
/// full liveness, heartbeats every `heartbeat`.
fn reconnect_to_broker<S: 'static>(
    cell: &Rc<RefCell<Inner<S>>>,
) -> Result<(), tx0mq::connections::Error> {
    let mut inner = cell.borrow_mut();
    stop_session(&mut inner);
    inner.reconnecting = None;
    let options = ZmqOptions::new().linger(Duration::ZERO);
    let worker = ZmqDealerConnection::with_options(
        &inner.factory,
        ZmqEndpoint::connect(&inner.broker),
        &options,
    )?;
    let weak = Rc::downgrade(cell);
    worker.got_message(move |_, message| got_message(&weak, message));
    inner.worker = Some(worker);
    if inner.verbose {
        log(format_args!(
            "I: connecting to broker at {}...",
            inner.broker
        ));
    }
    // Register service with broker
    let service = inner.service.clone();
    send_to_broker(&inner, W_READY, Some(&service), Vec::new());

    // If liveness hits zero, queue is considered disconnected
    inner.liveness = HEARTBEAT_LIVENESS;
    let weak = Rc::downgrade(cell);
    let heartbeats = LoopingCall::new(&inner.reactor, move |_| {
        if let Some(cell) = weak.upgrade() {
            send_to_broker(&cell.borrow(), W_HEARTBEAT, None, Vec::new());
        }
    });
    if let Err(e) = heartbeats.start(inner.heartbeat, false) {
        log(format_args!("E: cannot start heartbeats: {e}"));
    }
    inner.heartbeats = Some(heartbeats);
    inner.silence = Some(watch_silence(cell, &inner));
    Ok(())
}

/// The poll's timeout: one heartbeat interval without a word from the broker.
fn watch_silence<S: 'static>(cell: &Rc<RefCell<Inner<S>>>, inner: &Inner<S>) -> DelayedCall {
    let weak = Rc::downgrade(cell);
    inner
        .reactor
        .call_later(inner.heartbeat, move |_| silent(&weak))
}

/// A heartbeat interval went by in silence.
fn silent<S: 'static>(weak: &Weak<RefCell<Inner<S>>>) {
    let Some(cell) = weak.upgrade() else { return };
    let mut inner = cell.borrow_mut();
    inner.liveness = inner.liveness.saturating_sub(1);
    if inner.liveness > 0 {
        inner.silence = Some(watch_silence(&cell, &inner));
        return;
    }
    if inner.verbose {
        log("W: disconnected from broker - retrying...");
    }
    stop_session(&mut inner);
    let weak = Rc::downgrade(&cell);
    let call = inner.reactor.call_later(inner.reconnect, move |_| {
        if let Some(cell) = weak.upgrade() {
            if let Err(e) = reconnect_to_broker(&cell) {
                log(format_args!("E: cannot reconnect to the broker: {e}"));
            }
        }
    });
    inner.reconnecting = Some(call);
}

/// A message from the broker: `["", MDPW01, command, ...]`.
fn got_message<S: 'static>(weak: &Weak<RefCell<Inner<S>>>, message: Multipart) {
    let Some(cell) = weak.upgrade() else { return };
    let mut inner = cell.borrow_mut();
    if inner.verbose {
        log("I: received message from broker: ");
        dump(&message);
    }
    inner.liveness = HEARTBEAT_LIVENESS;
    if let Some(silence) = &inner.silence {
        let _ = silence.reset(inner.heartbeat);
    }
    let (command, rest) = match &message[..] {
        [empty, header, command, rest @ ..] if empty.is_empty() && header[..] == *W_WORKER => {
            (&command[..], rest)
        }
        _ => {
            log("E: invalid input message: ");
            dump(&message);
            return;
        }
    };
    match command {
        W_REQUEST => {
            // [client, "", body...]: one return address, as the original
            // keeps.
            let [client, empty, body @ ..] = rest else {
                log("E: invalid input message: ");
                dump(&message);
                return;
            };
            if !empty.is_empty() {
                log("E: invalid input message: ");
                dump(&message);
                return;
            }
            let client = client.to_vec();
            let Some(mut handler) = inner.handler.take() else {
                return;
            };
            drop(inner);
            let reply = handler(frames(body));
            let mut inner = cell.borrow_mut();
            inner.handler = Some(handler);
            let mut framed = vec![client, Vec::new()];
            framed.extend(reply);
            send_to_broker(&inner, W_REPLY, None, framed);
        }
        W_HEARTBEAT => {} // Do nothing for heartbeats
        W_DISCONNECT => {
            drop(inner);
            if let Err(e) = reconnect_to_broker(&cell) {
                log(format_args!("E: cannot reconnect to the broker: {e}"));
            }
        }
        _ => {
            log("E: invalid input message: ");
            dump(&message);
        }
    }
}
