//! What the zguide's three file-transfer models (`fileio1`, `fileio2`,
//! `fileio3`, chapter 7, "Transferring Files") share in their ports: the
//! flags, which side runs (both in one process, as the originals do, or
//! one of them, to pair with another process), the file served, where the
//! received bytes go, the client's last lines and the memory report.
#![allow(dead_code)]

use std::error::Error;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use tx0mq::connections::{
    bytes_repr, zmq, Frame, ZmqConnection, ZmqEndpoint, ZmqFactory, ZmqOptions,
};

/// The originals' `CHUNK_SIZE`: bytes per chunk.
pub const CHUNK_SIZE: usize = 250_000;

/// Which side(s) a run plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    /// Server and client in one process, as in the original (it exits when
    /// the client has the whole file).
    Both,
    /// The server alone (it serves until Ctrl-C).
    Server,
    /// The client alone (it exits when it has the whole file).
    Client,
}

/// The flags every model takes.
#[derive(clap::Args, Debug)]
pub struct Common {
    /// Which side(s) to run
    #[arg(long, value_enum, default_value_t = Role::Both)]
    pub role: Role,
    /// The file the server sends
    #[arg(long, default_value = "testdata")]
    pub file: PathBuf,
    /// Where the client writes what arrives [default: nowhere, as in the original]
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Where the server binds
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://*:6000")]
    pub bind: String,
    /// Where the client connects
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://127.0.0.1:6000")]
    pub connect: String,
    /// At the end, print the process's peak resident memory (`peak RSS: N KiB`)
    #[arg(long)]
    pub report_memory: bool,
}

impl Common {
    /// Whether this run has a server.
    pub fn serves(&self) -> bool {
        self.role != Role::Client
    }

    /// Whether this run has a client.
    pub fn fetches(&self) -> bool {
        self.role != Role::Server
    }

    /// The file to serve, opened (only if this run serves).
    pub fn open_file(&self) -> Result<Option<File>, Box<dyn Error>> {
        if !self.serves() {
            return Ok(None);
        }
        let file = File::open(&self.file)
            .map_err(|e| format!("cannot open {}: {e}", self.file.display()))?;
        Ok(Some(file))
    }

    /// Where received chunks go.
    pub fn sink(&self) -> Result<Sink, Box<dyn Error>> {
        Sink::create(self.output.as_deref())
    }
}

/// Up to `size` bytes of `file` from `offset` (fewer at its end, none
/// past it): `file.seek(offset); file.read(size)`. Only what the file has
/// is allocated, whatever size a peer asks for.
pub fn read_chunk(file: &File, offset: u64, size: u64) -> std::io::Result<Vec<u8>> {
    let left = file.metadata()?.len().saturating_sub(offset);
    let size = usize::try_from(size.min(left)).unwrap_or(usize::MAX);
    let mut data = vec![0; size];
    let mut filled = 0;
    while filled < size {
        match file.read_at(&mut data[filled..], offset + filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    data.truncate(filled);
    Ok(data)
}

/// What the client does with the bytes it receives: counts them (as the
/// original does) and writes them to `--output` if given.
pub struct Sink {
    out: Option<(BufWriter<File>, PathBuf)>,
    /// Chunks received.
    pub chunks: u64,
    /// Bytes received.
    pub total: u64,
}

impl Sink {
    fn create(path: Option<&Path>) -> Result<Sink, Box<dyn Error>> {
        let out = match path {
            Some(path) => {
                let file = File::create(path)
                    .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
                Some((BufWriter::new(file), path.to_path_buf()))
            }
            None => None,
        };
        Ok(Sink {
            out,
            chunks: 0,
            total: 0,
        })
    }

    /// Takes one chunk.
    pub fn take(&mut self, chunk: &[u8]) -> std::io::Result<()> {
        self.chunks += 1;
        self.total += chunk.len() as u64;
        if let Some((out, _)) = &mut self.out {
            out.write_all(chunk)?;
        }
        Ok(())
    }

    /// The whole file is in: flushes the output and prints the original's
    /// lines, the client's count and the main thread's `b'OK'`.
    pub fn finish(&mut self) -> std::io::Result<()> {
        if let Some((out, _)) = &mut self.out {
            out.flush()?;
        }
        println!("{} chunks received, {} bytes", self.chunks, self.total);
        println!("b'OK'");
        Ok(())
    }
}

/// The process's peak resident set size in KiB (`VmHWM` in
/// `/proc/self/status`), if the system says.
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Prints `peak RSS: N KiB` if `--report-memory` asked for it.
pub fn report_memory(common: &Common) {
    if common.report_memory {
        match peak_rss_kib() {
            Some(kib) => println!("peak RSS: {kib} KiB"),
            None => println!("peak RSS: unknown"),
        }
    }
}

/// Where a client's callbacks leave the error that ended the transfer.
pub type Failed = std::rc::Rc<std::cell::RefCell<Option<String>>>;

/// Runs the reactor until the transfer ends, prints the memory report if
/// asked, and returns the error a callback left in `failed`, if any.
pub fn run_until_done(
    reactor: &tx0mq::Reactor,
    common: &Common,
    failed: &Failed,
) -> Result<(), Box<dyn Error>> {
    reactor.run()?;
    report_memory(common);
    let failure = failed.borrow_mut().take();
    match failure {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

/// A number frame (`b"%i" % n`), parsed.
pub fn parse_number(frame: &[u8]) -> Option<u64> {
    std::str::from_utf8(frame).ok()?.parse().ok()
}

/// The server of models 2 and 3, a ROUTER bound at `bind`: each
/// `[identity, fetch, offset, size]` is answered with `[identity, chunk]`;
/// anything else is printed, naming its sender, and ignored.
pub fn chunk_server(
    factory: &ZmqFactory,
    options: &ZmqOptions,
    bind: &str,
    file: std::fs::File,
) -> Result<ZmqConnection, Box<dyn std::error::Error>> {
    let router =
        ZmqConnection::with_options(factory, zmq::ROUTER, ZmqEndpoint::bind(bind), options)?;
    let reply = router.clone();
    router.message_received(move |_cx, message| {
        let mut frames: Vec<Frame> = message.into();
        let request = match &frames[..] {
            [_, command, offset, size] if &command[..] == b"fetch" => {
                parse_number(offset).zip(parse_number(size))
            }
            _ => None,
        };
        let Some((offset, size)) = request else {
            let sender = frames.first().map_or_else(String::new, |id| bytes_repr(id));
            let body: Vec<Frame> = frames.drain(1.min(frames.len())..).collect();
            println!(
                "E: malformed request from {sender}: {}",
                crate::pyport::bytes_list_repr(&body)
            );
            return Ok(());
        };
        let identity = frames.swap_remove(0);
        match read_chunk(&file, offset, size) {
            Ok(data) => reply
                .send(vec![identity, Frame::from(data)])
                .map_err(Into::into),
            Err(e) => Err(Box::<dyn std::error::Error>::from(format!(
                "cannot read the file: {e}"
            ))),
        }
    });
    Ok(router)
}
