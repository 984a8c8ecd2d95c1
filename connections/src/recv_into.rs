//! Receiving into a buffer the connection owns (pyzmq's
//! `socket.recv_into(buffer)`): [`Connection::on_recv_into`] and the
//! [`FrameInto`] each call of its callback gets.
//!
//! Each frame goes through libzmq's `zmq_recv` straight into the buffer
//! given once, when the callback is set: no `zmq_msg_t` is kept, no
//! [`Multipart`](crate::Multipart) is built, nothing is allocated per
//! message on the reactor's side. The edge-trigger discipline is the core's
//! (`core.rs`): the batch loop receives until EAGAIN or [`BATCH`](crate::BATCH)
//! messages, and the usual re-check of `ZMQ_EVENTS` follows.

use std::fmt;
use std::rc::Rc;

use tx0mq_reactor::{CallbackResult, Ctx};

use crate::connection::{with_zcx, Connection, Listener, ZmqCtx};
use crate::core::Core;
use crate::frames::Frame;
use crate::pattern::{BorrowedFrames, Pattern};

/// One frame received into the connection's buffer: the bytes that fit,
/// the frame's full length, and where it stands in its message.
///
/// A frame longer than the buffer is cut to the buffer's size, and
/// [`len`](Self::len) still says how long it was (pyzmq's `recv_into`
/// returns that length, libzmq's `zmq_recv` too), so a cut is visible:
/// [`is_truncated`](Self::is_truncated). With an empty buffer every frame
/// is discarded unread but for its length (pyzmq's `discard.py`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct FrameInto<'a> {
    bytes: &'a [u8],
    len: usize,
    index: usize,
    more: bool,
}

impl<'a> FrameInto<'a> {
    pub(crate) fn new(bytes: &'a [u8], len: usize, index: usize, more: bool) -> Self {
        FrameInto {
            bytes,
            len,
            index,
            more,
        }
    }

    /// The frame's bytes that fit in the buffer: all of them unless
    /// [`is_truncated`](Self::is_truncated).
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The frame's full length, which may exceed the buffer (pyzmq's
    /// `recv_into` return value).
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the frame was longer than the buffer and was cut.
    pub fn is_truncated(&self) -> bool {
        self.len > self.bytes.len()
    }

    /// The frame's place in its message, from 0.
    pub fn index(&self) -> usize {
        self.index
    }

    /// Whether frames of the same message follow (`ZMQ_RCVMORE`, pyzmq's
    /// `socket.rcvmore`).
    pub fn more(&self) -> bool {
        self.more
    }

    /// Whether this is the first frame of a message.
    pub fn is_first(&self) -> bool {
        self.index == 0
    }
}

impl fmt::Debug for FrameInto<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FrameInto")
            .field("bytes", &crate::bytes_repr(self.bytes))
            .field("len", &self.len)
            .field("index", &self.index)
            .field("more", &self.more)
            .finish()
    }
}

/// The largest frame whose bytes `OnRecvInto::scratch` keeps between
/// batches.
const SCRATCH_KEPT: usize = 4096;

/// The listener of [`Connection::on_recv_into`]: the buffer and the callback.
struct OnRecvInto<F> {
    buffer: Box<[u8]>,
    /// The message libzmq receives each frame into before it is copied to
    /// `buffer`: one `zmq_msg_t`, reused.
    scratch: Frame,
    /// The index of the next frame to read: 0 between messages.
    next_index: usize,
    f: F,
}

impl<K: Pattern, S: 'static, F, R> Listener<K, S> for OnRecvInto<F>
where
    F: FnMut(&mut ZmqCtx<'_, S, Connection<K, S>>, FrameInto<'_>) -> R + 'static,
    R: CallbackResult,
{
    fn received(&mut self, _cx: &mut ZmqCtx<'_, S, Connection<K, S>>, _event: K::Event) {}

    fn receive_batch(
        &mut self,
        cx: &mut Ctx<'_, S>,
        core: &Rc<Core<S>>,
        conn: &Connection<K, S>,
    ) -> Option<Option<u64>> {
        let f = &mut self.f;
        let drained = core.receive_into(
            cx,
            &mut self.buffer,
            &mut self.scratch,
            &mut self.next_index,
            |cx, frame| {
                with_zcx(cx, conn, |zcx| f(zcx, frame).report("on_recv_into"));
            },
        );
        // The last frame's bytes stay in `scratch` until the next receive:
        // a large one is let go now rather than held while the socket is
        // quiet (one check per batch; small frames live inside the message).
        if self.scratch.len() > SCRATCH_KEPT {
            self.scratch = Frame::new();
        }
        Some(drained)
    }
}

impl<K: BorrowedFrames, S: 'static> Connection<K, S> {
    /// Sets a closure that receives each **frame** into `buffer` (pyzmq's
    /// `socket.recv_into(buffer)`), which the connection keeps and reuses:
    /// nothing is allocated per message. The closure gets a [`FrameInto`]:
    /// the bytes that fit, the frame's full length (a longer frame is cut,
    /// and says so), its index in its message and whether more follow.
    /// The frames are the message's as they came, before the pattern's
    /// decoding (as [`on_frames`](Self::on_frames)); a message's frames
    /// all reach the closure before the reactor turns to anything else. It
    /// replaces the protocol. The buffer's length (not its capacity) is
    /// what is received into; an empty buffer discards every frame, its
    /// length aside. The closure may return `()` or a `Result`, whose error
    /// is logged.
    ///
    /// ```
    /// use tx0mq_connections::{ZmqEndpoint, ZmqFactory, ZmqPullConnection, ZmqPushConnection};
    /// use tx0mq_reactor::Reactor;
    ///
    /// let reactor = Reactor::builder().state(Vec::new()).handle_signals(false).build()?;
    /// let factory = ZmqFactory::new(&reactor)?;
    /// let pull = ZmqPullConnection::new(&factory, ZmqEndpoint::bind("inproc://doc-into"))?;
    /// pull.on_recv_into(vec![0; 4], |cx, frame| {
    ///     cx.state.push((frame.bytes().to_vec(), frame.len(), frame.more()));
    ///     if !frame.more() {
    ///         cx.reactor.stop()?;
    ///     }
    ///     Ok::<(), tx0mq_reactor::Error>(())
    /// });
    /// let push = ZmqPushConnection::new(&factory, ZmqEndpoint::connect("inproc://doc-into"))?;
    /// push.push([&b"abc"[..], b"defghi"])?;
    /// reactor.run()?;
    /// let seen = reactor.access_state(|s| s.clone())?;
    /// assert_eq!(seen, [(b"abc".to_vec(), 3, true), (b"defg".to_vec(), 6, false)]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn on_recv_into<F, R>(&self, buffer: Vec<u8>, f: F)
    where
        F: FnMut(&mut ZmqCtx<'_, S, Connection<K, S>>, FrameInto<'_>) -> R + 'static,
        R: CallbackResult,
    {
        self.set_or_warn(OnRecvInto {
            buffer: buffer.into_boxed_slice(),
            scratch: Frame::new(),
            next_index: 0,
            f,
        });
    }
}
