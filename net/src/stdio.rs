//! [`StandardIO`]: the process's standard input and output as a transport
//! (Twisted's `twisted.internet.stdio.StandardIO`), so a protocol (a
//! `LineReceiver`, say) reads the terminal or a pipe without blocking the
//! reactor.

use std::fmt;
use std::io::{self, IoSlice, Read, Write};
use std::ops::Deref;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use mio::unix::pipe::{Receiver, Sender};
use tx0mq_reactor::Reactor;

use crate::address::Address;
use crate::error::{Error, Result};
use crate::protocol::Protocol;
use crate::transport::{not_pollable, Channel, Core, Parts, ReadSide, Transport, WriteSide};

/// Standard input and output as a byte stream: copies of the process's
/// descriptors, made nonblocking, and made blocking again when the
/// transport closes (descriptors are dropped with the channel).
struct StdioChannel {
    input: Receiver,
    /// `None` once the write side was shut.
    output: Option<Sender>,
}

impl Channel for StdioChannel {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.input.read(buf)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self.output.as_mut() {
            Some(output) => output.write_vectored(bufs),
            None => Err(io::ErrorKind::BrokenPipe.into()),
        }
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.output.as_mut() {
            Some(output) => output.write(buf),
            None => Err(io::ErrorKind::BrokenPipe.into()),
        }
    }

    fn shutdown_write(&mut self) -> io::Result<()> {
        // Closes this copy of the descriptor: the reader sees end-of-file
        // once every other copy is closed too (the process's own fd 1
        // stays open; see StandardIO).
        if let Some(output) = self.output.take() {
            restore_blocking(&output, "standard output");
        }
        Ok(())
    }
}

impl Drop for StdioChannel {
    fn drop(&mut self) {
        restore_blocking(&self.input, "standard input");
        if let Some(output) = &self.output {
            restore_blocking(output, "standard output");
        }
    }
}

/// Makes a descriptor blocking again (the status flag is shared with every
/// copy of it, the process's own included).
fn restore_blocking(pipe: &impl SetBlocking, what: &str) {
    if let Err(e) = pipe.set_blocking() {
        log::debug!("cannot make {what} blocking again: {e}");
    }
}

trait SetBlocking {
    fn set_blocking(&self) -> io::Result<()>;
}

impl SetBlocking for Receiver {
    fn set_blocking(&self) -> io::Result<()> {
        self.set_nonblocking(false)
    }
}

impl SetBlocking for Sender {
    fn set_blocking(&self) -> io::Result<()> {
        self.set_nonblocking(false)
    }
}

/// The process's standard input and output as a [`Transport`] (Twisted's
/// `StandardIO`): what arrives on stdin goes to the protocol's
/// `data_received`, `write` goes to stdout, and end-of-file on stdin goes to
/// `read_connection_lost` (by default closing the transport, so the
/// protocol hears `connection_lost(Reason::PeerClosed)`).
///
/// Both descriptors are set nonblocking while the transport is open, and
/// blocking again when it closes. On a terminal, stdin, stdout and stderr
/// are usually one open file, so the flag reaches stderr too: while it is
/// open, write output through the transport rather than `println!` (which
/// panics on `WouldBlock` if the terminal falls behind). A regular file or
/// `/dev/null` cannot be watched by epoll; as stdin it is read on every pass
/// until its end, as stdout it is written directly (it never blocks).
///
/// The transport works on copies of fd 0 and 1: closing it (or its write
/// side) does not close the process's own descriptors, so `println!` keeps
/// working afterwards; a reader of the process's stdout sees end-of-file
/// when the process exits. [`with_fds`](Self::with_fds) takes other
/// descriptors (a pipe's ends, for tests), which it owns and closes.
///
/// ```no_run
/// use tx0mq_net::basic::{LineCtx, LineProtocol, LineReceiver};
/// use tx0mq_net::{Reason, StandardIO};
/// use tx0mq_reactor::Reactor;
///
/// /// Twisted's stdin.py: echoes each line typed, until end-of-file.
/// struct Echo;
/// impl LineProtocol for Echo {
///     fn connection_made(&mut self, cx: &mut LineCtx<'_>) {
///         let _ = cx.transport.write(b">>> ");
///     }
///     fn line_received(&mut self, cx: &mut LineCtx<'_>, line: &[u8]) {
///         let _ = cx.send_line([&b"Echo: "[..], line].concat());
///         let _ = cx.transport.write(b">>> ");
///     }
///     fn connection_lost(&mut self, cx: &mut LineCtx<'_>, _reason: &Reason) {
///         let _ = cx.reactor.stop();
///     }
/// }
///
/// let reactor = Reactor::new()?;
/// let _stdio = StandardIO::new(&reactor, LineReceiver::new(Echo).delimiter(b"\n"))?;
/// reactor.run()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct StandardIO<S: 'static = ()> {
    transport: Transport<S>,
}

impl<S: 'static> fmt::Debug for StandardIO<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StandardIO({:?})", self.transport)
    }
}

impl<S: 'static> StandardIO<S> {
    /// Runs `protocol` on the process's stdin and stdout. Its
    /// `connection_made` is called at once outside the reactor's callbacks,
    /// else early on the next pass (before any input either way).
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the descriptors cannot be copied or made
    /// nonblocking; [`Error::Reactor`] if the reactor refuses them.
    pub fn new<P: Protocol<S>>(reactor: &Reactor<S>, protocol: P) -> Result<Self> {
        let stdin = io::stdin()
            .as_fd()
            .try_clone_to_owned()
            .map_err(|e| Error::io("copy the standard input's descriptor", e))?;
        let stdout = io::stdout()
            .as_fd()
            .try_clone_to_owned()
            .map_err(|e| Error::io("copy the standard output's descriptor", e))?;
        Self::with_fds(reactor, protocol, stdin, stdout)
    }

    /// Runs `protocol` on other descriptors (Twisted's `StandardIO(proto,
    /// stdin, stdout)`), which the transport owns and closes.
    ///
    /// # Errors
    ///
    /// As for [`new`](Self::new).
    pub fn with_fds<P: Protocol<S>>(
        reactor: &Reactor<S>,
        protocol: P,
        stdin: impl Into<OwnedFd>,
        stdout: impl Into<OwnedFd>,
    ) -> Result<Self> {
        let input = Receiver::from(stdin.into());
        let output = Sender::from(stdout.into());
        input
            .set_nonblocking(true)
            .map_err(|e| Error::io("make standard input nonblocking", e))?;
        output
            .set_nonblocking(true)
            .map_err(|e| Error::io("make standard output nonblocking", e))?;
        let (in_fd, out_fd) = (input.as_raw_fd(), output.as_raw_fd());
        let channel = StdioChannel {
            input,
            output: Some(output),
        };
        // Whether epoll can watch stdout (not a regular file nor /dev/null).
        let write_side = match reactor.add_writer(out_fd, |_| ()) {
            Ok(()) => {
                reactor.remove_writer(out_fd);
                WriteSide::Poll(out_fd)
            }
            Err(e) if not_pollable(&e) => WriteSide::Direct,
            Err(e) => return Err(e.into()),
        };
        let core = Core::new(Parts {
            reactor,
            kind: "standard I/O",
            peer: Address::Pipe,
            host: Address::Pipe,
            channel: Box::new(channel),
            read_side: ReadSide::Poll(in_fd),
            write_side,
            protocol: Box::new(protocol),
            on_lost: None,
        });
        core.start_detached();
        Ok(StandardIO {
            transport: Transport { core },
        })
    }

    /// The transport (also reached through `Deref`).
    pub fn transport(&self) -> &Transport<S> {
        &self.transport
    }
}

impl<S: 'static> Deref for StandardIO<S> {
    type Target = Transport<S>;

    fn deref(&self) -> &Transport<S> {
        &self.transport
    }
}
