//! What pyzmq's security examples share (`grasslands`, `strawhouse`,
//! `woodhouse`, `stonehouse`, `ironhouse`, `ioloop_ironhouse`,
//! `asyncio_ironhouse`, `generate_certificates`), so that each example keeps
//! what makes its level of security what it is: the mechanism, the
//! authenticator's configuration, the clients it lets in or refuses.
//!
//! - Their flags: [`Endpoints`] (`--bind`, `--connect`), [`Verbose`]
//!   (`-v`), [`BaseDir`] (`--base-dir`), and [`CurveFlags`], all of these
//!   and `--timeout-ms` as the CURVE examples take them. An example whose
//!   flag means a little more than the shared help says (its clients, what
//!   `-v` shows) rewords it with `#[command(mut_arg(...))]`.
//! - The key directories ([`KeyDirs`]), the check that the libzmq has CURVE
//!   ([`require_curve`]), and the CURVE options that the server and the
//!   client get from their certificates ([`curve_server`],
//!   [`curve_client`]).
//! - The authenticator as every original starts it, letting in 127.0.0.1
//!   ([`start_authenticator`]).
//! - The tests they run, reported as [`Report`] says: strawhouse's and
//!   woodhouse's "the first client gets in, the second is refused"
//!   ([`LetInThenRefused`]), stonehouse's and ironhouse's "`Hello`
//!   arrives within the timeout over CURVE" ([`curve_hello`]).

use std::error::Error;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tx0mq::connections::security::{curve_available, load_certificate, Authenticator, CurveKey};
use tx0mq::connections::{
    ZmqEndpoint, ZmqFactory, ZmqOptions, ZmqPullConnection, ZmqPushConnection,
};
use tx0mq::{Ctx, Reactor};

use super::{first, millis, Logging};

// ------------------------------------------------------------------ flags

/// `--bind` and `--connect`: where the server binds and where the client
/// connects, by default the originals' endpoints.
#[derive(clap::Args)]
pub struct Endpoints {
    /// Endpoint the server binds
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://*:9000")]
    pub bind: String,
    /// Endpoint the client connects to (from 127.0.0.1, the address the
    /// authenticator allows)
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://127.0.0.1:9000")]
    pub connect: String,
}

/// `-v`: the originals' debug logging.
#[derive(clap::Args)]
pub struct Verbose {
    /// The original's -v (debug logging): this port has no debug lines;
    /// RUST_LOG=debug shows the authenticator's decisions
    #[arg(short)]
    pub verbose: bool,
}

impl Verbose {
    /// The originals' `logging`, at debug level with `-v`.
    pub fn logging(&self) -> Logging {
        Logging {
            verbose: self.verbose,
        }
    }
}

/// `--base-dir`: where the key directories are (the originals use the
/// directory their script is in, which a compiled example does not have).
#[derive(clap::Args)]
pub struct BaseDir {
    /// Directory holding certificates/, public_keys/ and private_keys/
    /// (made by generate_certificates)
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub base_dir: PathBuf,
}

impl BaseDir {
    /// The key directories under `--base-dir`, which `generate_certificates`
    /// makes. If any is missing, logs the original's critical line
    /// `missing` (each original words it its own way) and fails naming the
    /// base directory, as the originals exit 1.
    pub fn key_dirs(&self, logging: Logging, missing: &str) -> Result<KeyDirs, Box<dyn Error>> {
        let dirs = KeyDirs::new(&self.base_dir);
        if !dirs.exist() {
            logging.critical(missing);
            return Err(format!(
                "no certificates/, public_keys/ and private_keys/ in {}",
                self.base_dir.display()
            )
            .into());
        }
        Ok(dirs)
    }
}

/// The flags of the CURVE examples with a server and a client on two
/// endpoints and a wait for the message (`stonehouse`, `ironhouse`,
/// `asyncio_ironhouse`).
#[derive(clap::Args)]
pub struct CurveFlags {
    #[command(flatten)]
    pub base_dir: BaseDir,
    #[command(flatten)]
    pub endpoints: Endpoints,
    /// How long the client waits for the message, in milliseconds
    #[arg(long = "timeout-ms", value_name = "MS", default_value = "1000", value_parser = millis)]
    pub timeout: Duration,
    #[command(flatten)]
    pub verbose: Verbose,
}

// ----------------------------------------------------- keys and CURVE

/// The key directories of pyzmq's security examples under one base
/// directory: `certificates/` (where `generate_certificates` creates the
/// key pairs), `public_keys/` (`*.key`) and `private_keys/` (`*.key_secret`).
#[derive(Clone, Debug)]
pub struct KeyDirs {
    /// `certificates/`.
    pub keys: PathBuf,
    /// `public_keys/`.
    pub public_keys: PathBuf,
    /// `private_keys/`.
    pub secret_keys: PathBuf,
}

impl KeyDirs {
    /// The three directories under `base`.
    pub fn new(base: &Path) -> Self {
        KeyDirs {
            keys: base.join("certificates"),
            public_keys: base.join("public_keys"),
            secret_keys: base.join("private_keys"),
        }
    }

    /// The three, in the order the originals name them.
    pub fn all(&self) -> [&Path; 3] {
        [&self.keys, &self.public_keys, &self.secret_keys]
    }

    /// Whether all three exist (the originals' "Certificates are missing"
    /// check).
    pub fn exist(&self) -> bool {
        self.all().iter().all(|dir| dir.is_dir())
    }

    /// The server's secret certificate, `private_keys/server.key_secret`.
    pub fn server_secret_file(&self) -> PathBuf {
        self.secret_keys.join("server.key_secret")
    }

    /// The server's public certificate, `public_keys/server.key`.
    pub fn server_public_file(&self) -> PathBuf {
        self.public_keys.join("server.key")
    }

    /// The client's secret certificate, `private_keys/client.key_secret`.
    pub fn client_secret_file(&self) -> PathBuf {
        self.secret_keys.join("client.key_secret")
    }
}

/// What the security originals check first (`zmq.zmq_version_info() < (4,
/// 0)`: security needs libzmq 4), for the examples that use CURVE: the
/// libzmq this program is linked with must have it. Fails with the
/// library's `Error::CurveUnavailable`, which says how to get a build with
/// CURVE, before anything is created or removed.
pub fn require_curve() -> Result<(), tx0mq::connections::Error> {
    if curve_available() {
        Ok(())
    } else {
        Err(tx0mq::connections::Error::CurveUnavailable {
            what: "this example".to_string(),
        })
    }
}

/// The CURVE server's options: the key pair of its secret certificate, and
/// the server role (the originals' `load_certificate(server_secret_file)`,
/// then `curve_secretkey`, `curve_publickey` and `curve_server = True`).
pub fn curve_server(server_secret_file: &Path) -> Result<ZmqOptions, Box<dyn Error>> {
    let (server_public, server_secret) = load_key_pair(server_secret_file)?;
    Ok(ZmqOptions::new()
        .curve_secretkey(server_secret)
        .curve_publickey(server_public)
        .curve_server_flag(true))
}

/// A CURVE client's options: the client has its own key pair, and needs
/// the server's public key to know whom it talks to.
pub fn curve_client(
    client_secret_file: &Path,
    server_public_file: &Path,
) -> Result<ZmqOptions, Box<dyn Error>> {
    let (client_public, client_secret) = load_key_pair(client_secret_file)?;
    let (server_public, _) = load_certificate(server_public_file)?;
    Ok(ZmqOptions::new()
        .curve_secretkey(client_secret)
        .curve_publickey(client_public)
        .curve_serverkey(server_public))
}

/// The public and secret key of a secret certificate. One without a secret
/// key is an error naming the file (the original would fail setting the
/// option).
fn load_key_pair(path: &Path) -> Result<(CurveKey, CurveKey), Box<dyn Error>> {
    match load_certificate(path)? {
        (public, Some(secret)) => Ok((public, secret)),
        (_, None) => Err(format!("{} holds no secret key", path.display()).into()),
    }
}

// ------------------------------------------------------ authenticator

/// A factory for `reactor`'s sockets, closed when the reactor shuts down,
/// and the ZAP handler for them, started and letting in clients from
/// 127.0.0.1: the originals' `auth.start()` and `auth.allow('127.0.0.1')`.
/// tx0mq's [`Authenticator`] answers ZAP requests in the reactor, where
/// pyzmq's runs on a thread of its own or on the event loop.
pub fn start_authenticator<S: 'static>(
    reactor: &Reactor<S>,
) -> tx0mq::connections::Result<(ZmqFactory<S>, Authenticator<S>)> {
    let factory = ZmqFactory::new(reactor)?;
    factory.register_for_shutdown();

    let auth = Authenticator::new(&factory);
    auth.start()?;
    auth.allow(["127.0.0.1"]);
    Ok((factory, auth))
}

// -------------------------------------------------------------- tests

/// How a security example reports its test, as the original logs it:
/// `[INFO] NAME test OK` or `[ERROR] NAME test FAIL`.
#[derive(Clone, Copy, Debug)]
pub struct Report {
    /// The example's name as the originals log it (`"Ironhouse"`).
    pub name: &'static str,
    pub logging: Logging,
}

impl Report {
    /// `logging.info("NAME test OK")`.
    pub fn ok(self) {
        self.logging.info(format_args!("{} test OK", self.name));
    }

    /// `logging.error("NAME test FAIL")`.
    pub fn fail(self) {
        self.logging.error(format_args!("{} test FAIL", self.name));
    }
}

/// How long [`LetInThenRefused`] waits for the authenticator's decision
/// on the client to refuse before it looks for a message anyway (the
/// decision takes milliseconds; this bounds the wait should no request ever
/// come).
const DECISION_WAIT: Duration = Duration::from_secs(5);
/// How often it looks at the authenticator's decisions meanwhile.
const TICK: Duration = Duration::from_millis(5);
/// How long the refused client is then given to receive (the originals'
/// `poll(50)`).
const POLL: Duration = Duration::from_millis(50);

/// The reactor's state in [`LetInThenRefused`]: what its two checks found,
/// or what went wrong.
#[derive(Default)]
pub struct Outcome {
    /// The first client, let in, received `Hello`.
    let_in_pass: bool,
    /// The second client, to refuse, received nothing.
    refused_pass: bool,
    /// A message reached the client to refuse.
    refused_received: bool,
    /// An error in the second check, which ends the program.
    failed: Option<Box<dyn Error>>,
}

/// The client that must be refused, and the authenticator that decides on
/// it.
pub struct Refused {
    pub auth: Authenticator<Outcome>,
    pub client: ZmqPullConnection<Outcome>,
}

/// Strawhouse's and woodhouse's test, but for the security they set up:
/// a client that must get in, then one that must be refused.
///
/// [`start`](Self::start) makes the reactor, the factory for its sockets
/// and the authenticator ([`start_authenticator`]); the example sets them
/// up, makes the server and the first client, and calls
/// [`run`](Self::run).
pub struct LetInThenRefused {
    pub reactor: Reactor<Outcome>,
    pub factory: ZmqFactory<Outcome>,
    pub auth: Authenticator<Outcome>,
    report: Report,
}

impl LetInThenRefused {
    /// The test of the example the originals log as `name`.
    pub fn start(name: &'static str, verbose: &Verbose) -> Result<Self, Box<dyn Error>> {
        let reactor = Reactor::with_state(Outcome::default())?;
        let (factory, auth) = start_authenticator(&reactor)?;
        Ok(LetInThenRefused {
            reactor,
            factory,
            auth,
            report: Report {
                name,
                logging: verbose.logging(),
            },
        })
    }

    /// Runs the test. `server` sends `Hello`, which `client` must receive
    /// (the first check). The first message closes `client` and calls
    /// `second` with the authenticator, which makes the client to refuse
    /// and names the authenticator that decides on it (this one or a new
    /// one). Once that authenticator has decided (or after
    /// [`DECISION_WAIT`]), `server` sends `message`, and the second check
    /// passes if it has not reached the refused client within [`POLL`].
    /// Runs the reactor until then, and reports `OK` if both checks passed,
    /// `FAIL` otherwise. An error making the second client ends the program
    /// with it.
    ///
    /// The originals send the second message before the handshake is done
    /// (strawhouse as soon as the server can send, which its `poll(50,
    /// POLLOUT)` bounds). Sent that early, it could go to the first client's
    /// connection, closed but not yet seen closed by the server, and be lost
    /// there: the check would pass even with the client let in.
    pub fn run(
        self,
        server: ZmqPushConnection<Outcome>,
        client: ZmqPullConnection<Outcome>,
        second: impl FnOnce(Authenticator<Outcome>) -> Result<Refused, Box<dyn Error>> + 'static,
        message: &'static str,
    ) -> Result<(), Box<dyn Error>> {
        let LetInThenRefused {
            reactor,
            factory: _,
            auth,
            report,
        } = self;
        server.push("Hello")?;

        let mut second_check = Some((second, auth, server));
        client.on_pull(move |cx, received| {
            let Some((second, auth, server)) = second_check.take() else {
                return; // only the first message counts
            };
            if first(&received) == b"Hello" {
                cx.state.let_in_pass = true;
            }
            cx.conn.shutdown();
            let mut cx = cx.ctx();
            match second(auth) {
                Ok(refused) => {
                    refused
                        .client
                        .on_pull(|cx, _message| cx.state.refused_received = true);
                    let check = SecondCheck {
                        decided_before: decisions(&refused.auth),
                        refused,
                        server,
                        message,
                    };
                    let deadline = cx.reactor.seconds() + DECISION_WAIT;
                    wait_for_decision(&mut cx, check, deadline);
                }
                Err(e) => {
                    cx.state.failed = Some(e);
                    let _ = cx.reactor.stop();
                }
            }
        });

        reactor.run()?;

        let outcome = reactor.access_state(std::mem::take)?;
        if let Some(e) = outcome.failed {
            return Err(e);
        }
        if outcome.let_in_pass && outcome.refused_pass {
            report.ok();
        } else {
            report.fail();
        }
        Ok(())
    }
}

/// The client to refuse, and what checks it.
struct SecondCheck {
    refused: Refused,
    server: ZmqPushConnection<Outcome>,
    message: &'static str,
    /// The authenticator's decisions before the client came.
    decided_before: u64,
}

/// How many clients `auth` has decided on.
fn decisions<S>(auth: &Authenticator<S>) -> u64 {
    let stats = auth.stats();
    stats.accepted + stats.refused + stats.malformed + stats.failed
}

/// Waits until the authenticator has decided on the client (or the
/// reactor's clock has reached `deadline`), then sends and gives the message
/// [`POLL`] to reach the client.
fn wait_for_decision(cx: &mut Ctx<'_, Outcome>, check: SecondCheck, deadline: Duration) {
    let auth = &check.refused.auth;
    if decisions(auth) == check.decided_before && cx.reactor.seconds() < deadline {
        cx.reactor.call_later(TICK, move |cx| {
            wait_for_decision(cx, check, deadline);
        });
        return;
    }
    // Sent only now (see `LetInThenRefused::run`). It waits in the outbox until
    // a client takes it; the refused client must not get it.
    if let Err(e) = check.server.push(check.message) {
        cx.state.failed = Some(e.into());
        let _ = cx.reactor.stop();
        return;
    }
    cx.reactor.call_later(POLL, move |cx| {
        cx.state.refused_pass = !cx.state.refused_received;
        check.refused.client.shutdown();
        check.refused.auth.stop();
        cx.reactor.stop()
    });
}

/// Stonehouse and Ironhouse, which differ only in the client keys that
/// their authenticator lets in: `configure` sets that up, given the key
/// directories (`configure_curve`).
///
/// Checks that the libzmq has CURVE and that the key directories under
/// `--base-dir` are there (else logs `missing`, the original's line), starts
/// the authenticator ([`start_authenticator`]) and has `configure` set it
/// up, binds a CURVE server (PUSH) with the server's secret certificate and
/// connects a CURVE client (PULL) with the client's key pair and the
/// server's public key. The server sends `Hello`; if the client has it
/// within `--timeout-ms`, reports `OK`, otherwise `FAIL`. Then it stops the
/// authenticator.
///
/// The client's `poll(1000)` and `recv()` are its callback, raced by a
/// timer.
pub fn curve_hello(
    flags: CurveFlags,
    name: &'static str,
    missing: &str,
    configure: impl FnOnce(&Authenticator, &KeyDirs) -> tx0mq::connections::Result<()>,
) -> Result<(), Box<dyn Error>> {
    require_curve()?;
    let report = Report {
        name,
        logging: flags.verbose.logging(),
    };
    let dirs = flags.base_dir.key_dirs(report.logging, missing)?;

    let reactor = Reactor::new()?;
    let (factory, auth) = start_authenticator(&reactor)?;
    configure(&auth, &dirs)?;

    let server = ZmqPushConnection::with_options(
        &factory,
        ZmqEndpoint::bind(flags.endpoints.bind),
        &curve_server(&dirs.server_secret_file())?,
    )?;
    let client = ZmqPullConnection::with_options(
        &factory,
        ZmqEndpoint::connect(flags.endpoints.connect),
        &curve_client(&dirs.client_secret_file(), &dirs.server_public_file())?,
    )?;

    server.push("Hello")?;

    let too_late = reactor.call_later(flags.timeout, move |cx| {
        report.fail();
        cx.reactor.stop()
    });
    client.on_pull(move |cx, message| {
        let _ = too_late.cancel();
        if first(&message) == b"Hello" {
            report.ok();
        }
        cx.reactor.stop()
    });

    reactor.run()?;

    auth.stop();
    Ok(())
}
