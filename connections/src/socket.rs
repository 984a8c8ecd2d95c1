//! What a connection's core sends and receives through: a libzmq socket,
//! or, for protocol tests, a fake wire with no socket and no thread.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;

use crate::frames::{Frame, Multipart};

/// What one non-blocking receive found.
pub(crate) enum Received {
    /// A message, and its bytes (all frames).
    Message(Multipart, usize),
    /// A message received into the caller's reused frames, which now hold
    /// exactly its frames; and its bytes.
    Borrowed(usize),
    /// EAGAIN: libzmq processed its commands and has nothing to deliver.
    Drained,
    /// Nothing to read for another reason (closed; a REQ socket's turn to send).
    Nothing,
}

/// What one non-blocking receive of a single frame into a caller's buffer
/// found ([`Socket::recv_frame_into`]).
pub(crate) enum FrameIn {
    /// A frame of `len` bytes, of which the first `min(len, buffer)` were
    /// copied; `more` when frames of the same message follow.
    Frame { len: usize, more: bool },
    /// EAGAIN: libzmq processed its commands and has nothing to deliver.
    Drained,
    /// Nothing to read for another reason (closed; a REQ socket's turn).
    Nothing,
}

/// The two ends a core can talk through.
pub(crate) enum Socket {
    Zmq(crate::context::ZmqSocket),
    Fake(std::rc::Rc<FakeWire>),
}

impl Socket {
    /// Sends one frame of plain bytes now; false if it cannot go now.
    pub(crate) fn send_bytes(&self, bytes: &[u8]) -> bool {
        match self {
            Socket::Zmq(socket) => socket.send(bytes, zmq::DONTWAIT).is_ok(),
            Socket::Fake(wire) => wire
                .accept(Multipart::from(vec![Frame::from(bytes)]))
                .is_ok(),
        }
    }

    /// Sends a whole message now, or hands it back with the reason.
    pub(crate) fn send(&self, message: Multipart) -> Result<(), (zmq::Error, Multipart)> {
        match self {
            Socket::Zmq(socket) => send_now(socket, message),
            Socket::Fake(wire) => wire.accept(message),
        }
    }

    /// `ZMQ_EVENTS`.
    pub(crate) fn events(&self) -> zmq::Result<zmq::PollEvents> {
        match self {
            Socket::Zmq(socket) => socket.get_events(),
            Socket::Fake(wire) => Ok(wire.events()),
        }
    }

    /// One non-blocking receive.
    #[inline(always)]
    pub(crate) fn recv(&self, count_bytes: bool) -> Result<Received, zmq::Error> {
        match self {
            Socket::Zmq(socket) => recv_now(socket, count_bytes),
            Socket::Fake(wire) => Ok(match wire.inbox.borrow_mut().pop_front() {
                Some(message) => {
                    let bytes = message.byte_len();
                    Received::Message(message, bytes)
                }
                None => Received::Drained,
            }),
        }
    }
}

impl Socket {
    /// One non-blocking receive into `frames`, reused from message to
    /// message: no allocation and no fresh `zmq_msg_t` per message (libzmq
    /// still allocates the bodies of frames over 33 bytes, as for any
    /// receive). Frames past the message's are dropped.
    pub(crate) fn recv_into(
        &self,
        frames: &mut Vec<Frame>,
        count_bytes: bool,
    ) -> Result<Received, zmq::Error> {
        match self {
            Socket::Zmq(socket) => {
                if frames.is_empty() {
                    frames.push(Frame::new());
                }
                match socket.recv(&mut frames[0], zmq::DONTWAIT) {
                    Ok(()) => {}
                    Err(zmq::Error::EAGAIN) => return Ok(Received::Drained),
                    Err(zmq::Error::EFSM) => return Ok(Received::Nothing),
                    Err(e) => return Err(e),
                }
                let mut n = 1;
                let mut bytes = if count_bytes { frames[0].len() } else { 0 };
                while frames[n - 1].get_more() {
                    if frames.len() == n {
                        frames.push(Frame::new());
                    }
                    // The rest of a multipart message is already here.
                    socket.recv(&mut frames[n], zmq::DONTWAIT)?;
                    if count_bytes {
                        bytes += frames[n].len();
                    }
                    n += 1;
                }
                frames.truncate(n);
                Ok(Received::Borrowed(bytes))
            }
            Socket::Fake(wire) => Ok(match wire.inbox.borrow_mut().pop_front() {
                Some(message) => {
                    let bytes = message.byte_len();
                    frames.clear();
                    frames.extend(message);
                    Received::Borrowed(bytes)
                }
                None => Received::Drained,
            }),
        }
    }
}

impl Socket {
    /// One non-blocking receive of **one frame** into `buffer` (pyzmq's
    /// `recv_into`), through `scratch`, the caller's reused `zmq_msg_t`:
    /// nothing is allocated on this side. A frame longer than `buffer` is cut, and
    /// its full length is reported. Between the frames of a message, the
    /// caller calls again (they are already here: atomic delivery).
    #[inline]
    pub(crate) fn recv_frame_into(
        &self,
        buffer: &mut [u8],
        scratch: &mut Frame,
    ) -> Result<FrameIn, zmq::Error> {
        match self {
            Socket::Zmq(socket) => {
                // Into the reused `scratch` (libzmq's zmq_msg_recv), then
                // copied: zmq_recv would init and close a message of its
                // own, and the MORE flag would take a getsockopt call.
                match socket.recv(scratch, zmq::DONTWAIT) {
                    Ok(()) => {}
                    Err(zmq::Error::EAGAIN) => return Ok(FrameIn::Drained),
                    Err(zmq::Error::EFSM) => return Ok(FrameIn::Nothing),
                    Err(e) => return Err(e),
                }
                let more = scratch.get_more();
                // One deref: each is two calls into libzmq (data, size).
                let frame: &[u8] = scratch;
                let copied = frame.len().min(buffer.len());
                buffer[..copied].copy_from_slice(&frame[..copied]);
                Ok(FrameIn::Frame {
                    len: frame.len(),
                    more,
                })
            }
            Socket::Fake(wire) => {
                let mut partial = wire.partial.borrow_mut();
                if partial.is_empty() {
                    match wire.inbox.borrow_mut().pop_front() {
                        Some(message) => partial.extend(message),
                        None => return Ok(FrameIn::Drained),
                    }
                }
                let Some(frame) = partial.pop_front() else {
                    // An empty message cannot be sent; read it as nothing.
                    return Ok(FrameIn::Drained);
                };
                let copied = frame.len().min(buffer.len());
                buffer[..copied].copy_from_slice(&frame[..copied]);
                Ok(FrameIn::Frame {
                    len: frame.len(),
                    more: !partial.is_empty(),
                })
            }
        }
    }
}

/// Sends all frames with DONTWAIT. Only the first frame can meet EAGAIN
/// (libzmq accepts the rest of a message once it took its first frame), so
/// it is sent by copy and the message comes back whole on EAGAIN; the rest
/// go by value.
fn send_now(socket: &zmq::Socket, message: Multipart) -> Result<(), (zmq::Error, Multipart)> {
    let count = message.len();
    let flags = |i: usize| {
        if i + 1 < count {
            zmq::DONTWAIT | zmq::SNDMORE
        } else {
            zmq::DONTWAIT
        }
    };
    if let Err(e) = socket.send(&message[0][..], flags(0)) {
        return Err((e, message));
    }
    for (i, frame) in message.into_iter().enumerate().skip(1) {
        if let Err(e) = socket.send(frame, flags(i)) {
            // Cannot happen with libzmq's atomic multipart; report it loudly.
            log::error!("a multipart message was cut after {i} frame(s): {e}");
            return Err((e, Multipart::new()));
        }
    }
    Ok(())
}

#[inline(always)]
/// `count_bytes`: whether to read each frame's size (two calls into libzmq
/// per frame, through rust-zmq's `Deref`); the bytes come back as 0 without.
fn recv_now(socket: &zmq::Socket, count_bytes: bool) -> Result<Received, zmq::Error> {
    let mut first = zmq::Message::new();
    match socket.recv(&mut first, zmq::DONTWAIT) {
        Ok(()) => {}
        // libzmq processed its pending commands and found nothing.
        Err(zmq::Error::EAGAIN) => return Ok(Received::Drained),
        // EFSM: a REQ socket waiting to send has nothing to receive.
        Err(zmq::Error::EFSM) => return Ok(Received::Nothing),
        Err(e) => return Err(e),
    }
    let mut bytes = if count_bytes { first.len() } else { 0 };
    if !first.get_more() {
        return Ok(Received::Message(Multipart::from(first), bytes));
    }
    let mut parts = Vec::with_capacity(4);
    parts.push(first);
    let mut more = true;
    while more {
        // The rest of a multipart message is already here (atomic delivery).
        let mut part = zmq::Message::new();
        socket.recv(&mut part, zmq::DONTWAIT)?;
        more = part.get_more();
        if count_bytes {
            bytes += part.len();
        }
        parts.push(part);
    }
    Ok(Received::Message(Multipart::from(parts), bytes))
}

/// The far end of a fake connection: what the protocol sent, what the test
/// delivers, and whether the "peer" takes messages now.
#[derive(Default)]
pub(crate) struct FakeWire {
    pub(crate) inbox: RefCell<VecDeque<Multipart>>,
    /// The frames left of the message a `recv_frame_into` reader is in.
    pub(crate) partial: RefCell<VecDeque<Frame>>,
    pub(crate) sent: RefCell<Vec<Multipart>>,
    pub(crate) refusing: Cell<bool>,
    pub(crate) subscriptions: RefCell<Vec<(bool, Vec<u8>)>>,
}

impl FakeWire {
    fn accept(&self, message: Multipart) -> Result<(), (zmq::Error, Multipart)> {
        if self.refusing.get() {
            return Err((zmq::Error::EAGAIN, message));
        }
        self.sent.borrow_mut().push(message);
        Ok(())
    }

    fn events(&self) -> zmq::PollEvents {
        let mut events = zmq::PollEvents::empty();
        if !self.inbox.borrow().is_empty() || !self.partial.borrow().is_empty() {
            events |= zmq::POLLIN;
        }
        if !self.refusing.get() {
            events |= zmq::POLLOUT;
        }
        events
    }
}
