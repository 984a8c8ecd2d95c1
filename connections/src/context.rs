//! [`ZmqContext`]: a ZeroMQ context whose limits (sockets, I/O threads) can
//! be raised, and which reactors on several threads can share.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::error::{Error, Result};
pub(crate) use raw::set_socket_option;

/// libzmq's default for the most sockets one context holds
/// (`ZMQ_MAX_SOCKETS_DFLT`).
pub const DEFAULT_MAX_SOCKETS: i32 = 1023;

/// A ZeroMQ context: the I/O threads and the socket table that sockets
/// share. Sockets talk over `inproc://` only within one context, so
/// reactors on several threads that talk to each other share one (clone it:
/// clones are handles to the same context, and it is `Send` and `Sync`).
///
/// [`ZmqFactory::new`](crate::ZmqFactory::new) makes a context of its own
/// with libzmq's defaults: one I/O thread and at most
/// [`DEFAULT_MAX_SOCKETS`] sockets. For more, build one with
/// [`builder`](Self::builder) and give it to
/// [`ZmqFactory::with_context`](crate::ZmqFactory::with_context). A
/// context the `zmq` crate made (another library's, say) converts with
/// `From`.
///
/// The context ends (`zmq_ctx_term`, which waits for each socket's linger)
/// when its last handle and its last socket are dropped.
///
/// ```
/// use tx0mq_connections::ZmqContext;
///
/// let context = ZmqContext::builder().max_sockets(5_000).io_threads(2).build()?;
/// assert_eq!(context.max_sockets(), Some(5_000));
/// assert_eq!(context.io_threads()?, 2);
/// let socket = context.socket(zmq::PAIR)?; // a zmq::Socket for a worker thread
/// socket.bind("inproc://work")?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct ZmqContext {
    repr: Repr,
}

#[derive(Clone)]
enum Repr {
    /// Made here: limits set before the first socket, sockets counted.
    Own(Arc<raw::Context>),
    /// Made by the `zmq` crate, whose sockets we cannot all count.
    Zmq(zmq::Context),
}

impl fmt::Debug for ZmqContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("ZmqContext");
        if let Repr::Own(raw) = &self.repr {
            d.field("sockets", &raw.sockets())
                .field("max_sockets", &raw.max_sockets);
        }
        d.field("io_threads", &self.io_threads().ok()).finish()
    }
}

impl Default for ZmqContext {
    /// As [`new`](Self::new).
    fn default() -> Self {
        Self::new()
    }
}

impl From<zmq::Context> for ZmqContext {
    /// Wraps a context made with the `zmq` crate. Its socket limit is
    /// whatever it was made with (libzmq's default, 1,023, unless raised
    /// before its first socket), and [`max_sockets`](Self::max_sockets)
    /// cannot tell.
    fn from(context: zmq::Context) -> Self {
        ZmqContext {
            repr: Repr::Zmq(context),
        }
    }
}

impl ZmqContext {
    /// A context with libzmq's defaults: one I/O thread, at most
    /// [`DEFAULT_MAX_SOCKETS`] sockets.
    pub fn new() -> Self {
        // The defaults are in range: no need for `build`'s checks.
        ContextBuilder::default().create().unwrap_or_else(|e| {
            // Only if libzmq cannot make a context at all (no memory, no
            // file descriptor), where the `zmq` crate's own attempt fails
            // the same way, as it does.
            log::error!("cannot create a ZeroMQ context: {e}");
            ZmqContext::from(zmq::Context::new())
        })
    }

    /// Shuts the context down (`zmq_ctx_shutdown`, pyzmq's and txZMQ's
    /// `term` without the wait): every blocking call on one of its sockets,
    /// in any thread, returns [`zmq::Error::ETERM`] at once, and so does
    /// every later call, so that each thread can close its sockets and end.
    /// No new socket can be made. The connections of a factory on this
    /// context close with
    /// [`LostReason::ContextTerminated`](crate::LostReason::ContextTerminated)
    /// on the reactor's next pass, their queued messages unsent. The
    /// context itself ends once the last socket is closed and the last
    /// handle dropped. Calling it again does nothing.
    ///
    /// ```
    /// use tx0mq_connections::ZmqContext;
    ///
    /// let context = ZmqContext::new();
    /// let socket = context.socket(zmq::PULL)?;
    /// socket.bind("inproc://jobs")?;
    /// let worker = std::thread::spawn(move || socket.recv_bytes(0)); // blocks
    /// context.shutdown()?;
    /// assert_eq!(worker.join().unwrap(), Err(zmq::Error::ETERM));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Socket`] for a context made by the `zmq` crate (see `From`),
    /// which offers no way to shut one down: terminate it with
    /// [`zmq::Context::destroy`] instead.
    pub fn shutdown(&self) -> Result<()> {
        let (outcome, context) = match &self.repr {
            Repr::Own(raw) => (raw.shutdown(), "shut the ZeroMQ context down"),
            Repr::Zmq(_) => (
                Err(zmq::Error::ENOTSUP),
                "shut down a context the zmq crate made (it has no zmq_ctx_shutdown; \
                 zmq::Context::destroy terminates it)",
            ),
        };
        outcome.map_err(|source| Error::Socket {
            context: context.to_string(),
            source,
        })
    }

    /// A builder for a context with other limits.
    pub fn builder() -> ContextBuilder {
        ContextBuilder::default()
    }

    /// The most sockets this context holds, or `None` for a context the
    /// `zmq` crate made (whose limit cannot be read).
    pub fn max_sockets(&self) -> Option<i32> {
        match &self.repr {
            Repr::Own(raw) => Some(raw.max_sockets),
            Repr::Zmq(_) => None,
        }
    }

    /// How many of this context's sockets are open, or `None` for a context
    /// the `zmq` crate made.
    pub fn socket_count(&self) -> Option<usize> {
        match &self.repr {
            Repr::Own(raw) => Some(raw.sockets()),
            Repr::Zmq(_) => None,
        }
    }

    /// The number of I/O threads.
    ///
    /// # Errors
    ///
    /// [`Error::Socket`] if libzmq cannot say.
    pub fn io_threads(&self) -> Result<i32> {
        let threads = match &self.repr {
            Repr::Own(raw) => raw.get(zmq_sys::ZMQ_IO_THREADS as i32),
            Repr::Zmq(context) => context.get_io_threads(),
        };
        threads.map_err(|source| Error::Socket {
            context: "read the ZeroMQ context's I/O thread count".to_string(),
            source,
        })
    }

    /// The `zmq` crate's context, if this one was made by it (see `From`).
    pub fn as_zmq_context(&self) -> Option<&zmq::Context> {
        match &self.repr {
            Repr::Zmq(context) => Some(context),
            Repr::Own(_) => None,
        }
    }

    /// A new socket of `kind`, for use outside a reactor (a worker thread's
    /// blocking socket talking to a connection over `inproc://`, say), as
    /// `zmq::Context::socket` makes one. It keeps the context alive until
    /// it is dropped.
    ///
    /// # Errors
    ///
    /// What libzmq says: `EMFILE` once the context holds its most sockets
    /// (or the process has no file descriptor left). Connections made by a
    /// factory get [`Error::SocketLimit`] instead, which says which limit
    /// was reached.
    pub fn socket(&self, kind: zmq::SocketType) -> zmq::Result<ZmqSocket> {
        match &self.repr {
            Repr::Own(raw) => Ok(ZmqSocket {
                socket: raw::Context::socket(raw, kind)?,
                _context: Some(SocketGuard(raw.clone())),
            }),
            Repr::Zmq(context) => Ok(ZmqSocket {
                socket: context.socket(kind)?,
                _context: None,
            }),
        }
    }

    /// [`socket`](Self::socket) with the error the factory reports.
    pub(crate) fn create(&self, kind: zmq::SocketType) -> Result<ZmqSocket> {
        self.socket(kind).map_err(|source| {
            let count = match &self.repr {
                Repr::Own(raw) => Some((raw.sockets(), raw.max_sockets)),
                Repr::Zmq(_) => None,
            };
            creation_error(kind, source, count)
        })
    }
}

/// The error for a socket libzmq would not create. libzmq says EMFILE both
/// when the context's socket table is full and when the process is out of
/// file descriptors; opening a file tells which. A closed socket keeps its
/// slot until libzmq has finished closing it (after its linger), so the
/// table can be full with fewer sockets open than its maximum.
fn creation_error(kind: zmq::SocketType, source: zmq::Error, count: Option<(usize, i32)>) -> Error {
    if source != zmq::Error::EMFILE {
        return Error::Socket {
            context: format!("create a {kind:?} socket"),
            source,
        };
    }
    // A socket takes a few descriptors (its mailbox's, its poller's); see
    // whether that many are free.
    let probes: Vec<_> = (0..4).map(|_| std::fs::File::open("/dev/null")).collect();
    let out_of_files = probes.iter().any(
        |probe| matches!(probe, Err(e) if e.raw_os_error() == Some(zmq::Error::EMFILE.to_raw())),
    );
    drop(probes);
    let limit = if out_of_files {
        let open = count.map_or(String::new(), |(open, _)| {
            format!(" ({open} sockets open in this context)")
        });
        format!(
            "the process is out of file descriptors{open}; raise its open-file limit (ulimit -n)"
        )
    } else {
        match count {
            Some((open, max)) => {
                let closing = usize::try_from(max)
                    .unwrap_or(usize::MAX)
                    .saturating_sub(open);
                let closing = if closing > 0 {
                    format!(
                        " ({open} open, {closing} closed but still lingering); wait for them \
                         to close or"
                    )
                } else {
                    ";".to_string()
                };
                format!(
                    "the ZeroMQ context already holds its maximum of {max} sockets{closing} raise \
                     it with ZmqContext::builder().max_sockets(n)"
                )
            }
            None => "the ZeroMQ context already holds its maximum of sockets (1023 unless \
                     raised); raise it with ZmqContext::builder().max_sockets(n)"
                .to_string(),
        }
    };
    Error::SocketLimit {
        kind: format!("{kind:?}"),
        limit,
    }
}

/// Builds a [`ZmqContext`] with limits other than libzmq's defaults.
///
/// libzmq reads them when the context makes its first socket, so they are
/// set here, before any socket exists.
///
/// ```
/// use tx0mq_connections::ZmqContext;
///
/// let context = ZmqContext::builder().max_sockets(10_000).build()?;
/// assert_eq!(context.max_sockets(), Some(10_000));
///
/// let err = ZmqContext::builder().max_sockets(0).build().unwrap_err();
/// assert!(err.to_string().contains("max_sockets"), "{err}");
/// # Ok::<(), tx0mq_connections::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct ContextBuilder {
    io_threads: i32,
    max_sockets: i32,
}

impl Default for ContextBuilder {
    fn default() -> Self {
        ContextBuilder {
            io_threads: 1,
            max_sockets: DEFAULT_MAX_SOCKETS,
        }
    }
}

impl ContextBuilder {
    /// The number of libzmq I/O threads (default 1). One per gigabyte per
    /// second of traffic is libzmq's rule of thumb; `inproc://` needs none.
    pub fn io_threads(mut self, threads: i32) -> Self {
        self.io_threads = threads;
        self
    }

    /// The most sockets the context holds (default [`DEFAULT_MAX_SOCKETS`],
    /// at most [`socket_limit`]). Each open socket also takes a file
    /// descriptor, so a process with thousands of sockets needs its
    /// open-file limit (`ulimit -n`) raised too.
    pub fn max_sockets(mut self, sockets: i32) -> Self {
        self.max_sockets = sockets;
        self
    }

    /// The context.
    ///
    /// # Errors
    ///
    /// [`Error::ContextOption`] naming the option if a value is out of range
    /// or libzmq refuses it.
    pub fn build(self) -> Result<ZmqContext> {
        let limit = socket_limit();
        if self.max_sockets < 1 || self.max_sockets > limit {
            return Err(Error::ContextOption {
                option: "max_sockets",
                value: self.max_sockets,
                reason: format!("must be between 1 and {limit} (libzmq's ZMQ_SOCKET_LIMIT)"),
            });
        }
        if self.io_threads < 0 {
            return Err(Error::ContextOption {
                option: "io_threads",
                value: self.io_threads,
                reason: "must not be negative".to_string(),
            });
        }
        self.create()
    }

    /// The context, its values taken as checked.
    fn create(self) -> Result<ZmqContext> {
        let raw = raw::Context::new(self.max_sockets).ok_or_else(|| Error::ContextOption {
            option: "max_sockets",
            value: self.max_sockets,
            reason: "libzmq could not create the context".to_string(),
        })?;
        for (option, name, value) in [
            (zmq_sys::ZMQ_MAX_SOCKETS, "max_sockets", self.max_sockets),
            (zmq_sys::ZMQ_IO_THREADS, "io_threads", self.io_threads),
        ] {
            raw.set(option as i32, value)
                .map_err(|source| Error::ContextOption {
                    option: name,
                    value,
                    reason: source.message().to_string(),
                })?;
        }
        Ok(ZmqContext {
            repr: Repr::Own(Arc::new(raw)),
        })
    }
}

/// The largest [`max_sockets`](ContextBuilder::max_sockets) libzmq accepts
/// on this system (`ZMQ_SOCKET_LIMIT`).
pub fn socket_limit() -> i32 {
    raw::socket_limit()
}

/// A socket made by [`ZmqContext::socket`]: a [`zmq::Socket`] (through
/// `Deref`) that keeps its context alive.
pub struct ZmqSocket {
    // Dropped in this order: the socket closes, then the context may end.
    socket: zmq::Socket,
    _context: Option<SocketGuard>,
}

/// One open socket of a [`raw::Context`]: counted until dropped.
struct SocketGuard(Arc<raw::Context>);

impl Drop for SocketGuard {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::SeqCst);
    }
}

impl fmt::Debug for ZmqSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ZmqSocket")
            .field("type", &self.socket.get_socket_type().ok())
            .finish()
    }
}

impl Deref for ZmqSocket {
    type Target = zmq::Socket;

    fn deref(&self) -> &zmq::Socket {
        &self.socket
    }
}

impl DerefMut for ZmqSocket {
    fn deref_mut(&mut self) -> &mut zmq::Socket {
        &mut self.socket
    }
}

/// The only unsafe code in the crate: the `zmq` crate has no way to set a
/// context's socket limit, so contexts with other limits are made here,
/// with libzmq's C API; nor has it a setter for every socket option, so the
/// integer options it lacks are set here too.
#[allow(unsafe_code)]
mod raw {
    use std::ffi::c_void;
    use std::ptr::NonNull;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A libzmq context this module created, terminated when dropped.
    pub(super) struct Context {
        ptr: NonNull<c_void>,
        pub(super) max_sockets: i32,
        /// Sockets made and not yet dropped (see `SocketGuard`).
        pub(super) open: AtomicUsize,
    }

    // SAFETY: libzmq contexts are thread-safe: every zmq_ctx_* call and
    // zmq_socket may be made from any thread.
    unsafe impl Send for Context {}
    // SAFETY: as above.
    unsafe impl Sync for Context {}

    impl Context {
        pub(super) fn new(max_sockets: i32) -> Option<Self> {
            // SAFETY: zmq_ctx_new takes nothing and returns a new context or null.
            let ptr = NonNull::new(unsafe { zmq_sys::zmq_ctx_new() })?;
            Some(Context {
                ptr,
                max_sockets,
                open: AtomicUsize::new(0),
            })
        }

        pub(super) fn set(&self, option: i32, value: i32) -> Result<(), zmq::Error> {
            // SAFETY: `ptr` is a live context (terminated only in drop).
            let rc = unsafe { zmq_sys::zmq_ctx_set(self.ptr.as_ptr(), option, value) };
            if rc == -1 {
                return Err(last_error());
            }
            Ok(())
        }

        pub(super) fn get(&self, option: i32) -> Result<i32, zmq::Error> {
            // SAFETY: `ptr` is a live context.
            let rc = unsafe { zmq_sys::zmq_ctx_get(self.ptr.as_ptr(), option) };
            if rc == -1 {
                return Err(last_error());
            }
            Ok(rc)
        }

        /// `zmq_ctx_shutdown`: every call on the context's sockets returns
        /// `ETERM` from now on.
        pub(super) fn shutdown(&self) -> Result<(), zmq::Error> {
            // SAFETY: `ptr` is a live context (terminated only in drop);
            // shutting it down more than once is allowed.
            let rc = unsafe { zmq_sys::zmq_ctx_shutdown(self.ptr.as_ptr()) };
            if rc == -1 {
                return Err(last_error());
            }
            Ok(())
        }

        pub(super) fn sockets(&self) -> usize {
            self.open.load(Ordering::SeqCst)
        }

        /// A socket, counted in `open` (the caller keeps a `SocketGuard`
        /// holding the context for as long as the socket lives).
        pub(super) fn socket(
            this: &std::sync::Arc<Self>,
            kind: zmq::SocketType,
        ) -> Result<zmq::Socket, zmq::Error> {
            // SAFETY: `ptr` is a live context.
            let sock = unsafe { zmq_sys::zmq_socket(this.ptr.as_ptr(), raw_type(kind)) };
            if sock.is_null() {
                return Err(last_error());
            }
            this.open.fetch_add(1, Ordering::SeqCst);
            // SAFETY: `sock` is a socket libzmq just created and nothing else
            // owns; the zmq::Socket closes it when dropped. The context
            // outlives it: the caller's guard holds the context until after
            // the socket is dropped.
            Ok(unsafe { zmq::Socket::from_raw(sock) })
        }
    }

    impl Drop for Context {
        fn drop(&mut self) {
            loop {
                // SAFETY: `ptr` is a live context, terminated once, here.
                let rc = unsafe { zmq_sys::zmq_ctx_term(self.ptr.as_ptr()) };
                if rc == 0 || last_error() != zmq::Error::EINTR {
                    return;
                }
            }
        }
    }

    pub(super) fn socket_limit() -> i32 {
        // SAFETY: a short-lived context, made and terminated here with no sockets.
        unsafe {
            let ctx = zmq_sys::zmq_ctx_new();
            if ctx.is_null() {
                return super::DEFAULT_MAX_SOCKETS;
            }
            let limit = zmq_sys::zmq_ctx_get(ctx, zmq_sys::ZMQ_SOCKET_LIMIT as i32);
            zmq_sys::zmq_ctx_term(ctx);
            if limit < 1 {
                super::DEFAULT_MAX_SOCKETS
            } else {
                limit
            }
        }
    }

    /// libzmq's number for a socket type.
    fn raw_type(kind: zmq::SocketType) -> i32 {
        use zmq::SocketType::*;
        let raw = match kind {
            PAIR => zmq_sys::ZMQ_PAIR,
            PUB => zmq_sys::ZMQ_PUB,
            SUB => zmq_sys::ZMQ_SUB,
            REQ => zmq_sys::ZMQ_REQ,
            REP => zmq_sys::ZMQ_REP,
            DEALER => zmq_sys::ZMQ_DEALER,
            ROUTER => zmq_sys::ZMQ_ROUTER,
            PULL => zmq_sys::ZMQ_PULL,
            PUSH => zmq_sys::ZMQ_PUSH,
            XPUB => zmq_sys::ZMQ_XPUB,
            XSUB => zmq_sys::ZMQ_XSUB,
            STREAM => zmq_sys::ZMQ_STREAM,
        };
        raw as i32
    }

    /// Sets an integer socket option the `zmq` crate has no setter for.
    pub(crate) fn set_socket_option(
        socket: &mut zmq::Socket,
        option: u32,
        value: i32,
    ) -> Result<(), zmq::Error> {
        let option = i32::try_from(option).map_err(|_| zmq::Error::EINVAL)?;
        let ptr = socket.as_mut_ptr();
        // SAFETY: `ptr` is the live socket `socket` owns, borrowed mutably
        // for the call (no other thread uses it); the value is an `int`
        // read by libzmq for the length given, during the call only.
        let rc = unsafe {
            zmq_sys::zmq_setsockopt(
                ptr,
                option,
                (&value as *const i32).cast::<c_void>(),
                std::mem::size_of::<i32>(),
            )
        };
        if rc == -1 {
            return Err(last_error());
        }
        Ok(())
    }

    fn last_error() -> zmq::Error {
        // SAFETY: zmq_errno reads the calling thread's errno.
        zmq::Error::from_raw(unsafe { zmq_sys::zmq_errno() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_raised_limit_holds_more_than_the_default_and_names_itself_when_reached() {
        let files = tx0mq_test_support::limits::raise_open_files(4_096);
        assert!(
            files >= 1_300,
            "the open-file limit is {files}: too low for 1,100 sockets"
        );
        let context = ZmqContext::builder().max_sockets(1_100).build().unwrap();
        let mut sockets = Vec::new();
        let err = loop {
            match context.create(zmq::PAIR) {
                Ok(socket) => sockets.push(socket),
                Err(e) => break e,
            }
            assert!(sockets.len() <= 1_100, "the limit was not enforced");
        };
        assert_eq!(sockets.len(), 1_100);
        assert_eq!(context.socket_count(), Some(1_100));
        assert!(matches!(&err, Error::SocketLimit { kind, .. } if kind == "PAIR"));
        assert!(err.to_string().contains("maximum of 1100 sockets"), "{err}");
        sockets.pop();
        assert_eq!(context.socket_count(), Some(1_099));
        // libzmq frees the closed socket's slot once its reaper has closed
        // it: room comes back, soon.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let again = loop {
            match context.create(zmq::PAIR) {
                Ok(socket) => break socket,
                Err(e) => {
                    assert!(e.to_string().contains("still lingering"), "{e}");
                    assert!(
                        std::time::Instant::now() < deadline,
                        "no room after a close: {e}"
                    );
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
            }
        };
        drop(again);
        drop(sockets);
        assert_eq!(context.socket_count(), Some(0));
    }

    #[test]
    fn out_of_range_limits_are_refused_with_the_option_named() {
        for (builder, option) in [
            (ZmqContext::builder().max_sockets(0), "max_sockets"),
            (
                ZmqContext::builder().max_sockets(socket_limit() + 1),
                "max_sockets",
            ),
            (ZmqContext::builder().io_threads(-1), "io_threads"),
        ] {
            let err = builder.build().unwrap_err();
            assert!(
                matches!(&err, Error::ContextOption { option: o, .. } if *o == option),
                "{err:?}"
            );
            assert!(err.to_string().contains(option), "{err}");
        }
    }

    #[test]
    fn a_socket_keeps_its_context_alive_after_the_last_handle_goes() {
        let context = ZmqContext::builder().io_threads(2).build().unwrap();
        assert_eq!(context.io_threads().unwrap(), 2);
        let server = context.socket(zmq::PAIR).unwrap();
        let client = context.socket(zmq::PAIR).unwrap();
        drop(context);
        server.bind("inproc://alive").unwrap();
        client.connect("inproc://alive").unwrap();
        client.send("still here", 0).unwrap();
        assert_eq!(server.recv_bytes(0).unwrap(), b"still here");
    }

    #[test]
    fn the_default_context_is_ours_so_it_counts_its_sockets_and_can_shut_down() {
        let context = ZmqContext::new();
        assert_eq!(context.max_sockets(), Some(DEFAULT_MAX_SOCKETS));
        assert_eq!(context.io_threads().unwrap(), 1);
        let socket = context.socket(zmq::PAIR).unwrap();
        assert_eq!(context.socket_count(), Some(1));
        context.shutdown().unwrap();
        assert_eq!(socket.recv_bytes(0), Err(zmq::Error::ETERM));
        assert_eq!(context.socket(zmq::PAIR).err(), Some(zmq::Error::ETERM));
    }

    #[test]
    fn a_zmq_crate_context_shares_inproc_with_its_own_sockets() {
        let zmq_context = zmq::Context::new();
        let context = ZmqContext::from(zmq_context.clone());
        assert_eq!(context.max_sockets(), None);
        let server = zmq_context.socket(zmq::PAIR).unwrap();
        server.bind("inproc://shared").unwrap();
        let client = context.socket(zmq::PAIR).unwrap();
        client.connect("inproc://shared").unwrap();
        client.send("hello", 0).unwrap();
        assert_eq!(server.recv_bytes(0).unwrap(), b"hello");
        assert!(context.as_zmq_context().is_some());
    }
}
