//! The ZAP authenticator: a connection in the reactor that answers libzmq's
//! authentication requests (pyzmq's `IOLoopAuthenticator`, CZMQ's `zauth`).

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use super::keys::CurveKey;
use super::zap::{self, Credentials, Mechanism, Request};
use crate::endpoint::ZmqEndpoint;
use crate::error::{Error, Result};
use crate::factory::ZmqFactory;
use crate::frames::Multipart;
use crate::options::ZmqOptions;
use crate::pattern::ZmqConnection;
use crate::warn_limit::WarnLimit;

/// Where libzmq sends ZAP requests: the handler binds it in the context of
/// the sockets it serves.
pub const ZAP_ENDPOINT: &str = "inproc://zeromq.zap.01";

/// The CURVE location that accepts every client key (pyzmq's
/// `zmq.auth.CURVE_ALLOW_ANY`): for a server that wants encryption but
/// does not know its clients.
pub const CURVE_ALLOW_ANY: &str = "*";

/// The domain whose policies serve every domain without policies of its own.
pub const ANY_DOMAIN: &str = "*";

/// The user id a NULL client gets when it is let in.
pub const ANONYMOUS: &str = "anonymous";

/// Counts of the authenticator's decisions since it was made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AuthStats {
    /// Clients let in (status 200).
    pub accepted: u64,
    /// Clients refused (status 400): a denied address, a wrong password, an
    /// unknown key...
    pub refused: u64,
    /// Requests that were not well-formed ZAP (answered with 400 when they
    /// could be, dropped otherwise).
    pub malformed: u64,
    /// Custom CURVE checks that panicked (the client was refused with 500).
    pub failed: u64,
}

/// A custom CURVE check: `(domain, client key) -> let it in?`.
type CurveCheck = Rc<dyn Fn(&str, &CurveKey) -> bool>;

/// Maps a CURVE client's key to its user id.
type CurveUserId = Rc<dyn Fn(&CurveKey) -> String>;

/// How one domain's CURVE clients are checked.
#[derive(Clone)]
enum CurvePolicy {
    AllowAny,
    Keys {
        location: PathBuf,
        keys: Rc<HashSet<CurveKey>>,
    },
    Callback(CurveCheck),
}

#[derive(Default)]
struct Policy {
    allow: HashSet<String>,
    deny: HashSet<String>,
    passwords: HashMap<String, Rc<HashMap<String, String>>>,
    curve: HashMap<String, CurvePolicy>,
    curve_user_id: Option<CurveUserId>,
}

impl Policy {
    fn for_domain<'a, T>(map: &'a HashMap<String, T>, domain: &str) -> Option<&'a T> {
        map.get(domain).or_else(|| map.get(ANY_DOMAIN))
    }
}

/// One decision: status code, status text and the user id of a client let in.
#[derive(Debug, PartialEq, Eq)]
struct Verdict {
    status: u16,
    text: String,
    user_id: String,
}

impl Verdict {
    fn accept(user_id: impl Into<String>) -> Self {
        Verdict {
            status: 200,
            text: "OK".to_string(),
            user_id: user_id.into(),
        }
    }
    fn refuse(text: impl Into<String>) -> Self {
        Verdict {
            status: 400,
            text: text.into(),
            user_id: String::new(),
        }
    }
}

struct Shared {
    policy: RefCell<Policy>,
    stats: Cell<AuthStats>,
    malformed: RefCell<WarnLimit>,
}

/// Answers ZAP requests for the sockets of one factory, from the reactor:
/// no thread of its own (pyzmq's `IOLoopAuthenticator`, CZMQ's `zauth`).
///
/// Until policies are added, NULL clients are let in (when the server set
/// a ZAP domain) and PLAIN and CURVE clients are refused, as in pyzmq.
/// Policies:
///
/// - addresses: [`allow`](Self::allow) lets in only the listed addresses
///   (to go on to their mechanism's check); [`deny`](Self::deny) keeps out
///   the listed ones. When both lists are set the allow list decides alone.
/// - PLAIN: [`configure_plain`](Self::configure_plain) (or
///   [`configure_plain_file`](Self::configure_plain_file)), user names and
///   passwords per ZAP domain.
/// - CURVE: [`configure_curve`](Self::configure_curve) with a directory of
///   public certificates or [`CURVE_ALLOW_ANY`], or
///   [`configure_curve_callback`](Self::configure_curve_callback) for a check
///   of your own.
///
/// Policies for the domain [`ANY_DOMAIN`] (`"*"`) serve every domain that
/// has none of its own. Every decision is logged (refusals at info,
/// acceptances at debug, with the peer's address, mechanism and reason) and
/// counted in [`stats`](Self::stats). The user id of a client let in (its
/// PLAIN user name, or its CURVE key in Z85) comes with each of its
/// messages: see [`MessageMetadata`](super::MessageMetadata).
///
/// The authenticator is a connection of the factory: shutting the factory
/// down stops it.
///
/// ```
/// use tx0mq_connections::security::Authenticator;
/// use tx0mq_connections::{ZmqEndpoint, ZmqFactory, ZmqOptions, ZmqPullConnection};
/// use tx0mq_reactor::Reactor;
///
/// let reactor = Reactor::builder().handle_signals(false).build()?;
/// let factory = ZmqFactory::new(&reactor)?;
/// let auth = Authenticator::new(&factory);
/// auth.allow(["127.0.0.1"]);
/// auth.configure_plain("*", [("admin", "secret")]);
/// auth.start()?;
/// let server = ZmqPullConnection::with_options(
///     &factory,
///     ZmqEndpoint::bind("tcp://127.0.0.1:*"),
///     &ZmqOptions::new().plain_server(true),
/// )?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Authenticator<S: 'static = ()> {
    factory: ZmqFactory<S>,
    shared: Rc<Shared>,
    conn: RefCell<Option<ZmqConnection<S>>>,
}

impl<S: 'static> fmt::Debug for Authenticator<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator")
            .field("running", &self.is_running())
            .field("stats", &self.stats())
            .finish()
    }
}

impl<S: 'static> Authenticator<S> {
    /// An authenticator for the sockets of `factory`, with no policies and
    /// not yet answering: call [`start`](Self::start).
    pub fn new(factory: &ZmqFactory<S>) -> Self {
        Authenticator {
            factory: factory.clone(),
            shared: Rc::new(Shared {
                policy: RefCell::new(Policy::default()),
                stats: Cell::new(AuthStats::default()),
                malformed: RefCell::new(WarnLimit::default()),
            }),
            conn: RefCell::new(None),
        }
    }

    /// Binds [`ZAP_ENDPOINT`] in the factory's context and starts answering.
    /// Policies may be changed before or after. Starting twice does nothing.
    ///
    /// # Errors
    ///
    /// `Error::Endpoint` if another handler is bound in this context;
    /// `Error::Closed` after the factory's shutdown.
    pub fn start(&self) -> Result<()> {
        if self.is_running() {
            return Ok(());
        }
        let conn = ZmqConnection::with_options(
            &self.factory,
            zmq::ROUTER,
            ZmqEndpoint::bind(ZAP_ENDPOINT),
            &ZmqOptions::new().linger(std::time::Duration::from_millis(1)),
        )?;
        let shared = self.shared.clone();
        conn.message_received(move |cx, request| shared.handle(cx.conn, request));
        *self.conn.borrow_mut() = Some(conn);
        Ok(())
    }

    /// Stops answering and unbinds: later handshakes that need ZAP fail
    /// (PLAIN and CURVE clients are refused by libzmq). Stopping twice does
    /// nothing.
    pub fn stop(&self) {
        if let Some(conn) = self.conn.borrow_mut().take() {
            // Unbinding first frees the endpoint now; a closed socket frees
            // it only when libzmq's reaper gets to it.
            let _ = conn.with_socket(|socket| socket.unbind(ZAP_ENDPOINT));
            conn.shutdown();
        }
    }

    /// Whether it is answering requests.
    pub fn is_running(&self) -> bool {
        self.conn
            .borrow()
            .as_ref()
            .is_some_and(|conn| !conn.is_closed())
    }

    /// Lets in only these addresses (IPv4 or IPv6 text, as libzmq reports
    /// the peer: `"127.0.0.1"`); every other address is refused. PLAIN and
    /// CURVE clients from an allowed address still go through their
    /// mechanism's check. Adds to the list.
    pub fn allow<A: Into<String>>(&self, addresses: impl IntoIterator<Item = A>) {
        let mut policy = self.shared.policy.borrow_mut();
        policy.allow.extend(addresses.into_iter().map(Into::into));
        if !policy.deny.is_empty() {
            log::warn!("ZAP authenticator: both an allow list and a deny list are set; the allow list decides alone");
        }
    }

    /// Refuses these addresses. Ignored while an allow list is set. Adds to
    /// the list.
    pub fn deny<A: Into<String>>(&self, addresses: impl IntoIterator<Item = A>) {
        let mut policy = self.shared.policy.borrow_mut();
        policy.deny.extend(addresses.into_iter().map(Into::into));
        if !policy.allow.is_empty() {
            log::warn!("ZAP authenticator: both an allow list and a deny list are set; the allow list decides alone");
        }
    }

    /// PLAIN user names and passwords for `domain` (or [`ANY_DOMAIN`]),
    /// replacing the domain's earlier ones (pyzmq's `configure_plain`).
    pub fn configure_plain<U: Into<String>, P: Into<String>>(
        &self,
        domain: &str,
        passwords: impl IntoIterator<Item = (U, P)>,
    ) {
        let passwords: HashMap<String, String> = passwords
            .into_iter()
            .map(|(u, p)| (u.into(), p.into()))
            .collect();
        self.shared
            .policy
            .borrow_mut()
            .passwords
            .insert(domain.to_string(), Rc::new(passwords));
    }

    /// PLAIN user names and passwords for `domain` from a file of
    /// `name=password` lines (CZMQ's `zauth` format; blank lines and lines
    /// starting with `#` are skipped). Read now; call again to reload.
    ///
    /// # Errors
    ///
    /// `Error::File` naming the file, and the line, when it cannot be read
    /// or a line has no `=` or an empty name. The domain's earlier
    /// passwords stay in place.
    pub fn configure_plain_file(&self, domain: &str, path: impl AsRef<Path>) -> Result<()> {
        let passwords = read_password_file(path.as_ref())?;
        self.configure_plain(domain, passwords);
        Ok(())
    }

    /// CURVE for `domain` (or [`ANY_DOMAIN`]): `location` is a directory of
    /// public certificates (`*.key` files) whose keys are let in, or
    /// [`CURVE_ALLOW_ANY`] to let in every key (pyzmq's `configure_curve`).
    /// The directory is read now; [`reload_certificates`](Self::reload_certificates)
    /// reads it again.
    ///
    /// # Errors
    ///
    /// `Error::File` naming the directory or certificate that cannot be read
    /// or parsed; the domain's earlier policy stays in place.
    pub fn configure_curve(&self, domain: &str, location: impl AsRef<Path>) -> Result<()> {
        let location = location.as_ref();
        let policy = if location == Path::new(CURVE_ALLOW_ANY) {
            CurvePolicy::AllowAny
        } else {
            CurvePolicy::Keys {
                location: location.to_path_buf(),
                keys: Rc::new(load_keys(location)?),
            }
        };
        self.shared
            .policy
            .borrow_mut()
            .curve
            .insert(domain.to_string(), policy);
        Ok(())
    }

    /// CURVE for `domain` decided by `check(domain, client_key)` (pyzmq's
    /// `configure_curve_callback`). A check that panics refuses the client
    /// with status 500; the panic is logged and counted.
    pub fn configure_curve_callback(
        &self,
        domain: &str,
        check: impl Fn(&str, &CurveKey) -> bool + 'static,
    ) {
        self.shared
            .policy
            .borrow_mut()
            .curve
            .insert(domain.to_string(), CurvePolicy::Callback(Rc::new(check)));
    }

    /// Reads every domain's certificate directory again, for keys added or
    /// removed since.
    ///
    /// # Errors
    ///
    /// `Error::File` for the first directory that cannot be read; domains
    /// read before it are updated, the others keep their keys.
    pub fn reload_certificates(&self) -> Result<()> {
        let locations: Vec<(String, PathBuf)> = self
            .shared
            .policy
            .borrow()
            .curve
            .iter()
            .filter_map(|(domain, policy)| match policy {
                CurvePolicy::Keys { location, .. } => Some((domain.clone(), location.clone())),
                _ => None,
            })
            .collect();
        for (domain, location) in locations {
            let keys = Rc::new(load_keys(&location)?);
            self.shared
                .policy
                .borrow_mut()
                .curve
                .insert(domain, CurvePolicy::Keys { location, keys });
        }
        Ok(())
    }

    /// The user id a CURVE client gets once let in (pyzmq's
    /// `curve_user_id`); by default its public key in Z85.
    pub fn set_curve_user_id(&self, user_id: impl Fn(&CurveKey) -> String + 'static) {
        self.shared.policy.borrow_mut().curve_user_id = Some(Rc::new(user_id));
    }

    /// Counts of the decisions so far.
    pub fn stats(&self) -> AuthStats {
        self.shared.stats.get()
    }
}

fn load_keys(location: &Path) -> Result<HashSet<CurveKey>> {
    Ok(super::cert::load_certificates(location)?
        .into_iter()
        .collect())
}

fn read_password_file(path: &Path) -> Result<Vec<(String, String)>> {
    let bad = |reason: String| Error::File {
        path: path.to_path_buf(),
        operation: "read the PLAIN password file",
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    let mut passwords = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((name, password)) = line.split_once('=') else {
            return Err(bad(format!(
                "line {} has no '=' (expected name=password)",
                number + 1
            )));
        };
        let name = name.trim();
        if name.is_empty() {
            return Err(bad(format!("line {} has an empty user name", number + 1)));
        }
        passwords.push((name.to_string(), password.trim().to_string()));
    }
    Ok(passwords)
}

impl Shared {
    fn handle<S: 'static>(&self, conn: &ZmqConnection<S>, request: Multipart) {
        let (envelope, request_id, verdict) = match zap::parse(&request) {
            Ok(request) => {
                let verdict = self.decide(&request);
                self.log(&request, &verdict);
                (request.envelope, request.request_id, verdict)
            }
            Err(malformed) => {
                self.count(|s| s.malformed += 1);
                let answered = malformed.reply_to.is_some();
                self.malformed.borrow_mut().warn(
                    || "ZAP authenticator".to_string(),
                    "malformed ZAP requests",
                    || {
                        format!(
                            "malformed ZAP request ({}); {}",
                            malformed.why,
                            if answered { "refused" } else { "dropped" }
                        )
                    },
                );
                let Some((envelope, request_id)) = malformed.reply_to else {
                    return;
                };
                (envelope, request_id, Verdict::refuse(malformed.why))
            }
        };
        let reply = zap::reply(
            envelope,
            &request_id,
            verdict.status,
            &verdict.text,
            &verdict.user_id,
        );
        if let Err(e) = conn.send(reply.into_iter().collect::<Multipart>()) {
            log::warn!(
                "ZAP authenticator: cannot send the reply to request {}: {e}",
                crate::frames::escape(&request_id)
            );
        }
    }

    fn count(&self, f: impl FnOnce(&mut AuthStats)) {
        let mut stats = self.stats.get();
        f(&mut stats);
        self.stats.set(stats);
    }

    fn log(&self, request: &Request, verdict: &Verdict) {
        match verdict.status {
            200 => {
                self.count(|s| s.accepted += 1);
                log::debug!(
                    "ZAP: accepted {} as {:?}",
                    describe(request),
                    verdict.user_id
                );
            }
            500 => {
                self.count(|s| s.failed += 1);
                log::error!("ZAP: refused {}: {}", describe(request), verdict.text);
            }
            _ => {
                self.count(|s| s.refused += 1);
                log::info!("ZAP: refused {}: {}", describe(request), verdict.text);
            }
        }
    }

    fn decide(&self, request: &Request) -> Verdict {
        let policy = self.policy.borrow();
        let address = request.address.as_str();
        if !policy.allow.is_empty() {
            if !policy.allow.contains(address) {
                return Verdict::refuse("Address not in the allow list");
            }
        } else if policy.deny.contains(address) {
            return Verdict::refuse("Address is denied");
        }
        let domain = request.domain.as_str();
        match &request.credentials {
            Credentials::Null => Verdict::accept(ANONYMOUS),
            Credentials::Plain { username, password } => {
                if policy.passwords.is_empty() {
                    return Verdict::refuse("No passwords defined");
                }
                let Some(passwords) = Policy::for_domain(&policy.passwords, domain) else {
                    return Verdict::refuse("Invalid domain");
                };
                match passwords.get(username) {
                    None => Verdict::refuse("Invalid username"),
                    Some(expected) if expected == password => Verdict::accept(username.as_str()),
                    Some(_) => Verdict::refuse("Invalid password"),
                }
            }
            Credentials::Curve(key) => {
                let Some(curve) = Policy::for_domain(&policy.curve, domain).cloned() else {
                    return Verdict::refuse(if policy.curve.is_empty() {
                        "No CURVE policy defined"
                    } else {
                        "Unknown domain"
                    });
                };
                let user_id = policy.curve_user_id.clone();
                // User code runs below: no borrow of the policy may be held,
                // so that it can reconfigure the authenticator.
                drop(policy);
                let allowed = match curve {
                    CurvePolicy::AllowAny => true,
                    CurvePolicy::Keys { keys, .. } => keys.contains(key),
                    CurvePolicy::Callback(check) => {
                        match catch_unwind(AssertUnwindSafe(|| check(domain, key))) {
                            Ok(allowed) => allowed,
                            Err(panic) => {
                                return Verdict {
                                    status: 500,
                                    text: format!(
                                        "the CURVE check panicked: {}",
                                        panic_message(&panic)
                                    ),
                                    user_id: String::new(),
                                }
                            }
                        }
                    }
                };
                if !allowed {
                    return Verdict::refuse("Unknown key");
                }
                let user_id = match user_id {
                    None => key.to_z85(),
                    Some(f) => match catch_unwind(AssertUnwindSafe(|| f(key))) {
                        Ok(id) => id,
                        Err(panic) => {
                            return Verdict {
                                status: 500,
                                text: format!(
                                    "the CURVE user id mapping panicked: {}",
                                    panic_message(&panic)
                                ),
                                user_id: String::new(),
                            }
                        }
                    },
                };
                Verdict::accept(user_id)
            }
            Credentials::Gssapi => Verdict::refuse("GSSAPI is not supported"),
        }
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-text panic".to_string())
}

/// `"PLAIN client \"admin\" from 127.0.0.1 (domain \"global\")"`, for the log.
fn describe(request: &Request) -> String {
    let who = match &request.credentials {
        Credentials::Plain { username, .. } => format!(" {username:?}"),
        Credentials::Curve(key) => format!(" {key}"),
        Credentials::Null | Credentials::Gssapi => String::new(),
    };
    let from = if request.address.is_empty() {
        "a local peer".to_string()
    } else {
        request.address.clone()
    };
    format!(
        "{} client{who} from {from} (domain {:?})",
        Mechanism::name(request.mechanism),
        request.domain
    )
}
