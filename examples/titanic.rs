//! `titanic.py`, the zguide's Titanic service (chapter 4, "Disconnected
//! Reliability (Titanic Pattern)"), the server side of the Titanic Service
//! Protocol: a Majordomo application that stores requests on disk so that
//! none is lost while the service that answers them, or Titanic itself, is
//! down. Three Majordomo workers at the broker `tcp://localhost:5555`:
//!
//! - `titanic.request`: `[service, body...]` is saved to `.titanic/UUID.req`
//!   and queued (`-UUID` appended to `.titanic/queue`); the client gets
//!   `["200", UUID]`.
//! - `titanic.reply`: `[UUID]` is answered `["200", reply...]` from
//!   `.titanic/UUID.rep`, `["300"]` while the request is pending, `["400"]`
//!   for an unknown UUID.
//! - `titanic.close`: `[UUID]` deletes both files; `["200"]`.
//!
//! and a dispatcher, which once a second (or at once after a new request)
//! goes through the queue and, for each pending entry, prints `I:
//! processing request UUID`, asks the broker's `mmi.service` whether the
//! service is up, and if so sends the request through a Majordomo client
//! (1000 ms timeout, one try), saves the reply to `UUID.rep` and marks the
//! entry done (`+UUID`, written over the `-` in place).
//!
//! The port: the original's three worker threads and its main loop are
//! three `mdp::mdwrkapi` workers and an async dispatcher in one reactor;
//! the pipe the request thread uses to hand each UUID to the dispatcher is
//! a direct append to the queue (before the client gets its UUID, so a
//! client holding a UUID always has its request queued on disk) and a wake
//! of the dispatcher. The dispatcher's blocking `poll(1000)` is a Deferred
//! fired by the wake or by a one-second `call_later`; its client calls are
//! the `mdp::mdcliapi` Deferreds, awaited.
//!
//! Files: the original pickles each message (a Python list of frames); the
//! port writes its own format, the same for `.req` and `.rep`: the 8 bytes
//! `TITANIC1`, the number of frames (4 bytes, big-endian), then each frame
//! as its length (4 bytes, big-endian) and its bytes, and nothing after.
//! Each file is written whole to `NAME.tmp` and renamed, so a crash never
//! leaves half a message under the real name. A file that is not in this
//! format, is cut short, or has bytes after its last frame is refused with
//! an error naming the file and what is wrong with it (`E: .titanic/UUID.req:
//! cut short: ...`): a bad request file is marked done in the queue and
//! its UUID answered `["500"]` from then on, as is one whose reply file is
//! bad; a bad queue line is reported and skipped. UUIDs from clients are
//! checked (32 hex digits) before they name a file.
//!
//! ```sh
//! cargo run --example titanic -- [-v] [--broker tcp://localhost:5555] [--dir .titanic]
//! ```
//!
//! Prints `I: processing request UUID` for each pending request at each
//! pass; runs until interrupted.

use std::cell::RefCell;
use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::rc::Rc;
use std::time::Duration;

use clap::Parser;
use tx0mq::connections::ZmqFactory;
use tx0mq::{Deferred, Failure, Reactor};

mod mdp;
mod pyport;

use mdp::mdcliapi::MajorDomoClient;
use mdp::mdwrkapi::MajorDomoWorker;
use mdp::{log, Message};

/// The first bytes of every message file.
const MAGIC: &[u8; 8] = b"TITANIC1";

/// Why a message file could not be read.
#[derive(Debug)]
enum FileError {
    Io(PathBuf, io::Error),
    NotTitanic(PathBuf),
    CutShort(PathBuf, String),
    TrailingBytes(PathBuf, usize),
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileError::Io(path, e) => write!(f, "{}: {e}", path.display()),
            FileError::NotTitanic(path) => write!(
                f,
                "{}: not a titanic message file (it does not start with TITANIC1)",
                path.display()
            ),
            FileError::CutShort(path, what) => {
                write!(f, "{}: cut short: {what}", path.display())
            }
            FileError::TrailingBytes(path, n) => write!(
                f,
                "{}: {n} unexpected bytes after the last frame",
                path.display()
            ),
        }
    }
}

impl std::error::Error for FileError {}

/// Writes `message` to `path` in the message file format, whole or not at
/// all (a temporary file renamed).
fn save_message(path: &Path, message: &Message) -> io::Result<()> {
    let mut data = MAGIC.to_vec();
    let count = u32::try_from(message.len()).map_err(io::Error::other)?;
    data.extend(count.to_be_bytes());
    for frame in message {
        let len = u32::try_from(frame.len()).map_err(io::Error::other)?;
        data.extend(len.to_be_bytes());
        data.extend(frame);
    }
    let temporary = path.with_extension("tmp");
    let mut file = fs::File::create(&temporary)?;
    file.write_all(&data)?;
    file.sync_all()?;
    fs::rename(&temporary, path)
}

/// Reads a message file, refusing anything not exactly in its format.
fn load_message(path: &Path) -> Result<Message, FileError> {
    let data = fs::read(path).map_err(|e| FileError::Io(path.to_path_buf(), e))?;
    let Some(rest) = data.strip_prefix(&MAGIC[..]) else {
        return Err(if MAGIC.starts_with(&data) {
            FileError::CutShort(
                path.to_path_buf(),
                format!("{} bytes, no header", data.len()),
            )
        } else {
            FileError::NotTitanic(path.to_path_buf())
        });
    };
    let cut = |what: String| FileError::CutShort(path.to_path_buf(), what);
    let take_u32 = |rest: &[u8], what: &str| -> Result<u32, FileError> {
        rest.get(..4)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_be_bytes)
            .ok_or_else(|| cut(format!("no {what}")))
    };
    let count = take_u32(rest, "frame count")? as usize;
    let mut rest = &rest[4..];
    let mut message = Vec::new();
    for n in 1..=count {
        let len = take_u32(rest, &format!("length of frame {n} of {count}"))? as usize;
        rest = &rest[4..];
        let Some(frame) = rest.get(..len) else {
            return Err(cut(format!(
                "frame {n} of {count} needs {len} bytes, {} left",
                rest.len()
            )));
        };
        message.push(frame.to_vec());
        rest = &rest[len..];
    }
    if !rest.is_empty() {
        return Err(FileError::TrailingBytes(path.to_path_buf(), rest.len()));
    }
    Ok(message)
}

/// Whether `uuid` is what the request service hands out: 32 hex digits.
fn valid_uuid(uuid: &[u8]) -> bool {
    uuid.len() == 32 && uuid.iter().all(u8::is_ascii_hexdigit)
}

/// The store on disk and what the services share.
struct Titanic {
    dir: PathBuf,
    random: RefCell<pyport::Random>,
    /// The dispatcher's wait, when it waits.
    wake: RefCell<Option<Deferred<()>>>,
    /// A request arrived while the dispatcher was busy: no wait next time.
    woken: std::cell::Cell<bool>,
}

impl Titanic {
    /// `UUID.req`.
    fn request_filename(&self, uuid: &str) -> PathBuf {
        self.dir.join(format!("{uuid}.req"))
    }

    /// `UUID.rep`.
    fn reply_filename(&self, uuid: &str) -> PathBuf {
        self.dir.join(format!("{uuid}.rep"))
    }

    fn queue_filename(&self) -> PathBuf {
        self.dir.join("queue")
    }

    /// `uuid4().hex`: 32 hex digits of a random (version 4) UUID.
    fn new_uuid(&self) -> String {
        let mut random = self.random.borrow_mut();
        let mut bytes = [0u8; 16];
        for chunk in bytes.chunks_mut(4) {
            let word = random.randrange(0, 1 << 32) as u32;
            chunk.copy_from_slice(&word.to_be_bytes());
        }
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// titanic.request: `[service, body...]` → `["200", UUID]`.
    fn request(&self, request: Message) -> Message {
        if request.is_empty() {
            log("E: titanic.request: a request with no service");
            return vec![b"400".to_vec()];
        }
        let uuid = self.new_uuid();
        let saved = fs::create_dir_all(&self.dir)
            .and_then(|()| save_message(&self.request_filename(&uuid), &request))
            .and_then(|()| {
                // Append UUID to queue, prefixed with '-' for pending
                let mut queue = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(self.queue_filename())?;
                queue.write_all(format!("-{uuid}\n").as_bytes())?;
                queue.sync_all()
            });
        if let Err(e) = saved {
            log(format_args!("E: cannot store request {uuid}: {e}"));
            return vec![b"500".to_vec()];
        }
        match self.wake.borrow_mut().take() {
            Some(wake) => {
                let _ = wake.callback(());
            }
            None => self.woken.set(true),
        }
        vec![b"200".to_vec(), uuid.into_bytes()]
    }

    /// The UUID a reply or close request names, if it is one.
    fn uuid_of(request: &Message, service: &str) -> Option<String> {
        match request.first() {
            Some(uuid) if valid_uuid(uuid) => Some(String::from_utf8_lossy(uuid).into_owned()),
            _ => {
                log(format_args!("E: {service}: a request that names no UUID"));
                None
            }
        }
    }

    /// titanic.reply: `[UUID]` → `["200", reply...]`, `["300"]` (pending),
    /// `["400"]` (unknown), `["500"]` (a bad file).
    fn reply(&self, request: Message) -> Message {
        let Some(uuid) = Self::uuid_of(&request, "titanic.reply") else {
            return vec![b"400".to_vec()];
        };
        let (req_filename, rep_filename) =
            (self.request_filename(&uuid), self.reply_filename(&uuid));
        if rep_filename.exists() {
            match load_message(&rep_filename) {
                Ok(reply) => [vec![b"200".to_vec()], reply].concat(),
                Err(e) => {
                    log(format_args!("E: {e}"));
                    vec![b"500".to_vec()]
                }
            }
        } else if req_filename.exists() {
            match load_message(&req_filename) {
                Ok(_) => vec![b"300".to_vec()], // pending
                Err(e) => {
                    log(format_args!("E: {e}"));
                    vec![b"500".to_vec()]
                }
            }
        } else {
            vec![b"400".to_vec()] // unknown
        }
    }

    /// titanic.close: `[UUID]` → `["200"]`, both files gone.
    fn close(&self, request: Message) -> Message {
        let Some(uuid) = Self::uuid_of(&request, "titanic.close") else {
            return vec![b"400".to_vec()];
        };
        for path in [self.request_filename(&uuid), self.reply_filename(&uuid)] {
            if let Err(e) = fs::remove_file(&path) {
                if e.kind() != io::ErrorKind::NotFound {
                    log(format_args!("E: cannot delete {}: {e}", path.display()));
                }
            }
        }
        vec![b"200".to_vec()]
    }

    /// The queue's pending entries: (byte offset of the mark, UUID). A bad
    /// line is reported and skipped.
    fn pending(&self) -> io::Result<Vec<(u64, String)>> {
        let mut text = Vec::new();
        match fs::File::open(self.queue_filename()) {
            Ok(mut file) => file.read_to_end(&mut text)?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut pending = Vec::new();
        let mut offset = 0u64;
        for (n, line) in text.split_inclusive(|&b| b == b'\n').enumerate() {
            let entry = line.strip_suffix(b"\n").unwrap_or(line);
            let entry = entry.strip_suffix(b"\r").unwrap_or(entry);
            match entry.split_first() {
                _ if !line.ends_with(b"\n") => {
                    log(format_args!(
                        "E: {} line {}: cut short (no end of line), skipped",
                        self.queue_filename().display(),
                        n + 1
                    ));
                }
                Some((b'-', uuid)) if valid_uuid(uuid) => {
                    pending.push((offset, String::from_utf8_lossy(uuid).into_owned()));
                }
                Some((b'+', uuid)) if valid_uuid(uuid) => {}
                _ => log(format_args!(
                    "E: {} line {}: not '-UUID' or '+UUID', skipped",
                    self.queue_filename().display(),
                    n + 1
                )),
            }
            offset += line.len() as u64;
        }
        Ok(pending)
    }

    /// Marks the queue entry at `offset` processed (`+`).
    fn mark_done(&self, offset: u64) -> io::Result<()> {
        let mut file = OpenOptions::new().write(true).open(self.queue_filename())?;
        file.seek(SeekFrom::Start(offset))?;
        file.write_all(b"+")
    }
}

/// Attempts to process a single request: true if it is done with (answered,
/// closed by the client, or impossible to read).
async fn service_success(
    titanic: &Titanic,
    client: &MajorDomoClient,
    uuid: &str,
) -> Result<bool, Failure> {
    // Load request message, service will be first frame
    let filename = titanic.request_filename(uuid);
    // If the client already closed request, treat as successful
    if !filename.exists() {
        return Ok(true);
    }
    let mut request = match load_message(&filename) {
        Ok(request) if !request.is_empty() => request,
        Ok(_) => {
            log(format_args!(
                "E: {}: a request with no service",
                filename.display()
            ));
            return Ok(true);
        }
        Err(e) => {
            log(format_args!("E: {e}"));
            return Ok(true);
        }
    };
    let service = request.remove(0);
    // Use MMI protocol to check if service is available
    let mmi_reply = client.send(b"mmi.service", vec![service.clone()]).await?;
    let service_ok = mmi_reply.is_some_and(|r| r.first().is_some_and(|code| code == b"200"));
    if service_ok {
        if let Some(reply) = client.send(&service, request).await? {
            save_message(&titanic.reply_filename(uuid), &reply).map_err(Failure::new)?;
            return Ok(true);
        }
    }
    Ok(false)
}

/// The main dispatcher loop: a pass over the queue once a second, or at
/// once when a request arrives.
async fn dispatcher(
    reactor: Reactor,
    titanic: Rc<Titanic>,
    client: MajorDomoClient,
) -> Result<(), Failure> {
    loop {
        // Brute-force dispatcher
        match titanic.pending() {
            Ok(pending) => {
                for (offset, uuid) in pending {
                    println!("I: processing request {uuid}");
                    match service_success(&titanic, &client, &uuid).await {
                        Ok(true) => {
                            if let Err(e) = titanic.mark_done(offset) {
                                log(format_args!("E: cannot mark {uuid} done: {e}"));
                            }
                        }
                        Ok(false) => {}
                        Err(e) => log(format_args!("E: request {uuid}: {e}")),
                    }
                }
            }
            Err(e) => log(format_args!(
                "E: cannot read {}: {e}",
                titanic.queue_filename().display()
            )),
        }
        // We'll dispatch once per second, if there's no activity
        if titanic.woken.replace(false) {
            continue;
        }
        let wake = Deferred::new();
        *titanic.wake.borrow_mut() = Some(wake.clone());
        let timeout = wake.clone();
        let timer = reactor.call_later(Duration::from_secs(1), move |_| {
            if !timeout.called() {
                let _ = timeout.callback(());
            }
        });
        wake.await?;
        titanic.wake.borrow_mut().take();
        let _ = timer.cancel();
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::new()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();
    // Ensure message directory exists
    fs::create_dir_all(&args.dir)
        .map_err(|e| format!("cannot create {}: {e}", args.dir.display()))?;
    let titanic = Rc::new(Titanic {
        dir: args.dir.clone(),
        random: RefCell::new(pyport::Random::new()),
        wake: RefCell::new(None),
        woken: std::cell::Cell::new(false),
    });

    // Create MDP client session with short timeout
    let client = MajorDomoClient::new(&reactor, &factory, &args.broker, args.verbose)?;
    client.set_timeout(Duration::from_millis(1000)); // 1 sec
    client.set_retries(1); // only 1 retry

    let mut workers = Vec::new();
    let store = titanic.clone();
    workers.push(MajorDomoWorker::new(
        &reactor,
        &factory,
        &args.broker,
        b"titanic.request",
        false,
        move |r| store.request(r),
    )?);
    let store = titanic.clone();
    workers.push(MajorDomoWorker::new(
        &reactor,
        &factory,
        &args.broker,
        b"titanic.reply",
        false,
        move |r| store.reply(r),
    )?);
    let store = titanic.clone();
    workers.push(MajorDomoWorker::new(
        &reactor,
        &factory,
        &args.broker,
        b"titanic.close",
        false,
        move |r| store.close(r),
    )?);

    let main_loop = reactor.spawn(dispatcher(reactor.clone(), titanic, client));
    main_loop.add_errback(|failure| {
        log(format_args!("E: the dispatcher stopped: {failure}"));
        Ok(())
    });
    reactor.run()?;
    for worker in workers {
        worker.destroy();
    }
    Ok(())
}

/// Titanic: disk-based request store over Majordomo (zguide's titanic.py).
#[derive(Parser)]
struct Args {
    /// Print the dispatcher's client's messages
    #[arg(short, long)]
    verbose: bool,
    /// The broker
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://localhost:5555")]
    broker: String,
    /// Where requests and replies are stored
    #[arg(long, value_name = "DIR", default_value = ".titanic")]
    dir: PathBuf,
}

fn main() -> ExitCode {
    pyport::main(run)
}
