//! Socket options, set when a connection is created.

use std::time::Duration;

use crate::context::set_socket_option;
use crate::error::{Error, Result};
use crate::security::{require_curve, CurveKey};

/// The high-water mark this crate sets unless told otherwise: libzmq's own
/// default, 1000 messages per peer in each direction.
///
/// txZMQ sets 0 (no limit) on every socket, which lets a slow peer grow a
/// process's memory without bound; this crate keeps libzmq's limit and makes
/// the sender see backpressure instead (see the outbox). Use
/// [`ZmqOptions::high_water_mark`]`(0)` for txZMQ's behaviour.
pub const DEFAULT_HIGH_WATER_MARK: i32 = 1000;

/// How many messages a connection's outbox holds by default (ten times the
/// default high-water mark). See [`ZmqOptions::outbox_limit`].
pub const DEFAULT_OUTBOX_LIMIT: usize = 10_000;

/// How many bytes a connection's outbox holds by default: 64 MiB. Beside
/// the message count, this bounds the memory a peer that stopped reading
/// can make a sender hold (10,000 messages of 64 KiB would be 640 MiB).
/// See [`ZmqOptions::outbox_bytes_limit`].
pub const DEFAULT_OUTBOX_BYTES: usize = 64 * 1024 * 1024;

/// The largest inbound message this crate accepts by default: 64 MiB
/// (`ZMQ_MAXMSGSIZE`). libzmq's own default is no limit, which lets a peer
/// that declares an 8 GiB frame make the receiver reserve 8 GiB. A peer
/// that sends more is disconnected by libzmq. Servers that take larger
/// messages raise it with [`ZmqOptions::maxmsgsize`] (`-1`: no limit, as
/// txZMQ and pyzmq leave it).
pub const DEFAULT_MAX_MESSAGE_SIZE: i64 = 64 * 1024 * 1024;

/// Socket options for a new connection: everything txZMQ sets from class
/// attributes, and the modern ones. Unset options keep libzmq's defaults
/// (except the high-water mark, see [`DEFAULT_HIGH_WATER_MARK`]).
///
/// ```
/// use std::time::Duration;
/// use tx0mq_connections::ZmqOptions;
///
/// let options = ZmqOptions::new()
///     .high_water_mark(10_000)
///     .identity(b"worker-1")
///     .heartbeat(Duration::from_secs(1), Duration::from_secs(3))
///     .immediate(true);
/// # let _ = options;
/// ```
#[derive(Clone, Debug, Default)]
#[must_use]
pub struct ZmqOptions {
    pub(crate) sndhwm: Option<i32>,
    pub(crate) rcvhwm: Option<i32>,
    pub(crate) identity: Option<Vec<u8>>,
    /// Milliseconds; -1 waits forever.
    pub(crate) linger: Option<i32>,
    pub(crate) rate: Option<i32>,
    pub(crate) recovery_ivl: Option<Duration>,
    pub(crate) tcp_keepalive: Option<(i32, i32, i32, i32)>,
    pub(crate) reconnect_ivl: Option<Duration>,
    pub(crate) reconnect_ivl_max: Option<Duration>,
    pub(crate) heartbeat: Option<(Duration, Duration)>,
    pub(crate) heartbeat_ttl: Option<Duration>,
    pub(crate) immediate: Option<bool>,
    pub(crate) conflate: Option<bool>,
    pub(crate) router_mandatory: Option<bool>,
    pub(crate) probe_router: Option<bool>,
    pub(crate) xpub_verbose: Option<bool>,
    pub(crate) xpub_nodrop: Option<bool>,
    pub(crate) maxmsgsize: Option<i64>,
    pub(crate) ipv6: Option<bool>,
    pub(crate) connect_timeout: Option<Duration>,
    pub(crate) handshake_ivl: Option<Duration>,
    pub(crate) sndbuf: Option<i32>,
    pub(crate) rcvbuf: Option<i32>,
    pub(crate) tos: Option<i32>,
    pub(crate) backlog: Option<i32>,
    pub(crate) router_handover: Option<bool>,
    pub(crate) req_relaxed: Option<bool>,
    pub(crate) req_correlate: Option<bool>,
    pub(crate) curve_server: Option<bool>,
    pub(crate) curve_publickey: Option<Vec<u8>>,
    pub(crate) curve_secretkey: Option<Vec<u8>>,
    pub(crate) curve_serverkey: Option<Vec<u8>>,
    pub(crate) plain_server: Option<bool>,
    pub(crate) plain_credentials: Option<(String, String)>,
    pub(crate) zap_domain: Option<String>,
    pub(crate) subscriptions: Vec<Vec<u8>>,
    pub(crate) outbox_limit: Option<usize>,
    pub(crate) count_received_bytes: bool,
    pub(crate) outbox_bytes: Option<usize>,
}

fn millis(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}

impl ZmqOptions {
    /// No options set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Both high-water marks (txZMQ's `highWaterMark`); 0 means no limit.
    pub fn high_water_mark(mut self, messages: i32) -> Self {
        self.sndhwm = Some(messages);
        self.rcvhwm = Some(messages);
        self
    }
    /// The send high-water mark (`ZMQ_SNDHWM`).
    pub fn sndhwm(mut self, messages: i32) -> Self {
        self.sndhwm = Some(messages);
        self
    }
    /// The receive high-water mark (`ZMQ_RCVHWM`).
    pub fn rcvhwm(mut self, messages: i32) -> Self {
        self.rcvhwm = Some(messages);
        self
    }
    /// The socket's identity (`ZMQ_ROUTING_ID`; txZMQ's `identity` argument).
    pub fn identity(mut self, identity: impl AsRef<[u8]>) -> Self {
        self.identity = Some(identity.as_ref().to_vec());
        self
    }
    /// How long closing waits for queued messages (`ZMQ_LINGER`); defaults to
    /// the factory's linger.
    pub fn linger(mut self, linger: Duration) -> Self {
        self.linger = Some(millis(linger));
        self
    }
    /// Closing waits until every queued message is sent (`ZMQ_LINGER` -1):
    /// for programs that must deliver everything before they exit.
    pub fn linger_forever(mut self) -> Self {
        self.linger = Some(-1);
        self
    }
    /// Multicast rate in kbit/s (`ZMQ_RATE`; txZMQ's `multicastRate`).
    pub fn rate(mut self, kbps: i32) -> Self {
        self.rate = Some(kbps);
        self
    }
    /// Multicast recovery interval (`ZMQ_RECOVERY_IVL`).
    pub fn recovery_ivl(mut self, ivl: Duration) -> Self {
        self.recovery_ivl = Some(ivl);
        self
    }
    /// TCP keepalive: on (1), off (0) or OS default (-1), with count, idle and
    /// interval (-1 for the OS default); txZMQ's `tcpKeepalive*`.
    pub fn tcp_keepalive(mut self, keepalive: i32, count: i32, idle: i32, interval: i32) -> Self {
        self.tcp_keepalive = Some((keepalive, count, idle, interval));
        self
    }
    /// Reconnect interval (`ZMQ_RECONNECT_IVL`; txZMQ's `reconnectInterval`).
    pub fn reconnect_ivl(mut self, ivl: Duration) -> Self {
        self.reconnect_ivl = Some(ivl);
        self
    }
    /// Maximum reconnect interval (`ZMQ_RECONNECT_IVL_MAX`).
    pub fn reconnect_ivl_max(mut self, ivl: Duration) -> Self {
        self.reconnect_ivl_max = Some(ivl);
        self
    }
    /// ZMTP heartbeats: send a PING every `interval`, drop the peer after
    /// `timeout` without traffic (`ZMQ_HEARTBEAT_IVL`, `ZMQ_HEARTBEAT_TIMEOUT`).
    pub fn heartbeat(mut self, interval: Duration, timeout: Duration) -> Self {
        self.heartbeat = Some((interval, timeout));
        self
    }
    /// The time-to-live the peer should apply to our heartbeats (`ZMQ_HEARTBEAT_TTL`).
    pub fn heartbeat_ttl(mut self, ttl: Duration) -> Self {
        self.heartbeat_ttl = Some(ttl);
        self
    }
    /// Queue only to completed connections (`ZMQ_IMMEDIATE`).
    pub fn immediate(mut self, on: bool) -> Self {
        self.immediate = Some(on);
        self
    }
    /// Keep only the last message (`ZMQ_CONFLATE`).
    pub fn conflate(mut self, on: bool) -> Self {
        self.conflate = Some(on);
        self
    }
    /// ROUTER: fail sends to unknown peers instead of dropping them (`ZMQ_ROUTER_MANDATORY`).
    pub fn router_mandatory(mut self, on: bool) -> Self {
        self.router_mandatory = Some(on);
        self
    }
    /// Send an empty message to ROUTER peers on connect (`ZMQ_PROBE_ROUTER`).
    pub fn probe_router(mut self, on: bool) -> Self {
        self.probe_router = Some(on);
        self
    }
    /// XPUB: pass every subscription up, duplicates included (`ZMQ_XPUB_VERBOSE`).
    pub fn xpub_verbose(mut self, on: bool) -> Self {
        self.xpub_verbose = Some(on);
        self
    }
    /// PUB, XPUB: at a subscriber's high-water mark, make the send wait
    /// instead of dropping the message (`ZMQ_XPUB_NODROP`). Here the wait
    /// is the connection's outbox: `publish` keeps returning `Ok`, the
    /// message is queued and goes out when the subscriber has read enough,
    /// and a full outbox is [`Error::OutboxFull`]. This makes a lossless
    /// publisher, at the price that one slow subscriber holds back all.
    pub fn xpub_nodrop(mut self, on: bool) -> Self {
        self.xpub_nodrop = Some(on);
        self
    }
    /// Largest inbound message in bytes; a peer that sends a larger one is
    /// disconnected (`ZMQ_MAXMSGSIZE`, -1 for no limit). Default:
    /// [`DEFAULT_MAX_MESSAGE_SIZE`] (64 MiB), not libzmq's unlimited.
    pub fn maxmsgsize(mut self, bytes: i64) -> Self {
        self.maxmsgsize = Some(bytes);
        self
    }
    /// Enable IPv6 on the socket (`ZMQ_IPV6`).
    pub fn ipv6(mut self, on: bool) -> Self {
        self.ipv6 = Some(on);
        self
    }
    /// Give up a TCP connect after this long (`ZMQ_CONNECT_TIMEOUT`).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }
    /// Maximum time for the ZMTP handshake (`ZMQ_HANDSHAKE_IVL`).
    pub fn handshake_ivl(mut self, ivl: Duration) -> Self {
        self.handshake_ivl = Some(ivl);
        self
    }
    /// The kernel's send buffer for each TCP connection, in bytes
    /// (`ZMQ_SNDBUF`; 0 or -1 keeps the system's default).
    pub fn sndbuf(mut self, bytes: i32) -> Self {
        self.sndbuf = Some(bytes);
        self
    }
    /// The kernel's receive buffer for each TCP connection, in bytes
    /// (`ZMQ_RCVBUF`; 0 or -1 keeps the system's default).
    pub fn rcvbuf(mut self, bytes: i32) -> Self {
        self.rcvbuf = Some(bytes);
        self
    }
    /// The IP type-of-service byte of outgoing packets (`ZMQ_TOS`, DSCP).
    pub fn tos(mut self, tos: i32) -> Self {
        self.tos = Some(tos);
        self
    }
    /// How many TCP connections may wait to be accepted on a bound
    /// endpoint (`ZMQ_BACKLOG`; libzmq's default is 100).
    pub fn backlog(mut self, connections: i32) -> Self {
        self.backlog = Some(connections);
        self
    }
    /// ROUTER: a new peer with the routing id of a connected one takes
    /// over that id, instead of being refused (`ZMQ_ROUTER_HANDOVER`).
    pub fn router_handover(mut self, on: bool) -> Self {
        self.router_handover = Some(on);
        self
    }
    /// REQ: allow a new request before the reply to the last one came
    /// (`ZMQ_REQ_RELAXED`; use with [`req_correlate`](Self::req_correlate)).
    pub fn req_relaxed(mut self, on: bool) -> Self {
        self.req_relaxed = Some(on);
        self
    }
    /// REQ: tag each request, and drop replies that do not answer the last
    /// one (`ZMQ_REQ_CORRELATE`).
    pub fn req_correlate(mut self, on: bool) -> Self {
        self.req_correlate = Some(on);
        self
    }
    /// Act as a CURVE server with this secret key (`ZMQ_CURVE_SERVER`,
    /// `ZMQ_CURVE_SECRETKEY`; pyzmq's `socket.curve_secretkey = ...;
    /// socket.curve_server = True`). Keys are 40 Z85 characters, 32 raw
    /// bytes or a [`CurveKey`](crate::security::CurveKey); a bad key, or a
    /// libzmq without CURVE, fails the connection's creation with an error
    /// naming the option.
    pub fn curve_server(mut self, secret_key: impl AsRef<[u8]>) -> Self {
        self.curve_server = Some(true);
        self.curve_secretkey = Some(secret_key.as_ref().to_vec());
        self
    }
    /// Act as a CURVE client of the server whose public key is
    /// `server_key`, with our own key pair (`ZMQ_CURVE_SERVERKEY`,
    /// `ZMQ_CURVE_PUBLICKEY`, `ZMQ_CURVE_SECRETKEY`). Keys as for
    /// [`curve_server`](Self::curve_server).
    pub fn curve_client(
        mut self,
        server_key: impl AsRef<[u8]>,
        public_key: impl AsRef<[u8]>,
        secret_key: impl AsRef<[u8]>,
    ) -> Self {
        self.curve_serverkey = Some(server_key.as_ref().to_vec());
        self.curve_publickey = Some(public_key.as_ref().to_vec());
        self.curve_secretkey = Some(secret_key.as_ref().to_vec());
        self
    }
    /// Our CURVE public key alone (`ZMQ_CURVE_PUBLICKEY`, pyzmq's
    /// `socket.curve_publickey`). A server does not need it; a client needs
    /// it with [`curve_secretkey`](Self::curve_secretkey) and
    /// [`curve_serverkey`](Self::curve_serverkey).
    pub fn curve_publickey(mut self, key: impl AsRef<[u8]>) -> Self {
        self.curve_publickey = Some(key.as_ref().to_vec());
        self
    }
    /// Our CURVE secret key alone (`ZMQ_CURVE_SECRETKEY`).
    pub fn curve_secretkey(mut self, key: impl AsRef<[u8]>) -> Self {
        self.curve_secretkey = Some(key.as_ref().to_vec());
        self
    }
    /// The server's public key, which makes this socket a CURVE client
    /// (`ZMQ_CURVE_SERVERKEY`).
    pub fn curve_serverkey(mut self, key: impl AsRef<[u8]>) -> Self {
        self.curve_serverkey = Some(key.as_ref().to_vec());
        self
    }
    /// Act as a CURVE server or not (`ZMQ_CURVE_SERVER`); the secret key
    /// comes from [`curve_secretkey`](Self::curve_secretkey).
    pub fn curve_server_flag(mut self, on: bool) -> Self {
        self.curve_server = Some(on);
        self
    }
    /// Act as a PLAIN server (`ZMQ_PLAIN_SERVER`).
    pub fn plain_server(mut self, on: bool) -> Self {
        self.plain_server = Some(on);
        self
    }
    /// PLAIN client credentials (`ZMQ_PLAIN_USERNAME`, `ZMQ_PLAIN_PASSWORD`).
    pub fn plain_client(mut self, username: &str, password: &str) -> Self {
        self.plain_credentials = Some((username.to_string(), password.to_string()));
        self
    }
    /// The ZAP domain (`ZMQ_ZAP_DOMAIN`).
    pub fn zap_domain(mut self, domain: &str) -> Self {
        self.zap_domain = Some(domain.to_string());
        self
    }
    /// SUB: subscribe to messages starting with `prefix` (`ZMQ_SUBSCRIBE`;
    /// `b""` for all) before the first connect, so no message published
    /// after the connection is made is missed for want of a subscription.
    /// Call it once per prefix. For a raw `ZmqConnection` of type SUB (and
    /// pyzmq's `sock.setsockopt(zmq.SUBSCRIBE, prefix)` before `connect`);
    /// a `ZmqSubConnection` has [`subscribe`](crate::ZmqSubConnection::subscribe)
    /// as well. On a socket of another type, the constructor fails with
    /// [`Error::Option`] naming `subscribe`.
    pub fn subscribe(mut self, prefix: impl AsRef<[u8]>) -> Self {
        self.subscriptions.push(prefix.as_ref().to_vec());
        self
    }
    /// Count the bytes of received messages in the connection's
    /// [`stats`](crate::Connection::stats) (`bytes_in`; off by default).
    /// Reading each received frame's size costs two calls into libzmq per
    /// frame, about 5 % of the instructions of receiving a 1 B message, so a
    /// connection pays it only when asked. Messages are always counted.
    pub fn count_received_bytes(mut self, on: bool) -> Self {
        self.count_received_bytes = on;
        self
    }
    /// How many messages may wait in the connection's outbox when libzmq
    /// refuses them (default [`DEFAULT_OUTBOX_LIMIT`]). Past it, sends fail
    /// with `Error::OutboxFull`.
    pub fn outbox_limit(mut self, messages: usize) -> Self {
        self.outbox_limit = Some(messages);
        self
    }
    /// How many bytes (all frames of all queued messages) may wait in the
    /// outbox (default [`DEFAULT_OUTBOX_BYTES`]). Past it, sends fail with
    /// `Error::OutboxFull`; a single message larger than the limit may still
    /// wait alone in an empty outbox.
    pub fn outbox_bytes_limit(mut self, bytes: usize) -> Self {
        self.outbox_bytes = Some(bytes);
        self
    }

    /// Applies the options to a new socket.
    /// The CURVE options, each key checked and named in its error; nothing
    /// is set unless every key is good and libzmq has CURVE.
    fn apply_curve(
        &self,
        socket: &zmq::Socket,
        connection: &str,
        check: &dyn Fn(&'static str, zmq::Result<()>) -> Result<()>,
    ) -> Result<()> {
        let keys = [
            ("curve_publickey", &self.curve_publickey),
            ("curve_secretkey", &self.curve_secretkey),
            ("curve_serverkey", &self.curve_serverkey),
        ];
        let server = self.curve_server == Some(true);
        if !server && keys.iter().all(|(_, key)| key.is_none()) {
            return Ok(());
        }
        let first = if server {
            "curve_server"
        } else {
            keys.iter()
                .find(|(_, key)| key.is_some())
                .map_or("curve_server", |(name, _)| *name)
        };
        require_curve(|| format!("option {first} on {connection}"))?;
        let mut parsed = [None; 3];
        for ((name, key), out) in keys.iter().zip(parsed.iter_mut()) {
            if let Some(bytes) = key {
                *out = Some(CurveKey::parse_for(
                    bytes,
                    &format!("option {name} on {connection}"),
                )?);
            }
        }
        let missing = |name: &str, why: &str| Error::Key {
            what: format!("option {name} on {connection}"),
            reason: format!("not set, and {why}"),
        };
        if server && parsed[1].is_none() {
            return Err(missing(
                "curve_secretkey",
                "a CURVE server needs its secret key",
            ));
        }
        if !server {
            if parsed[2].is_none() {
                return Err(missing(
                    "curve_serverkey",
                    "a CURVE client needs the server's public key",
                ));
            }
            for (i, name) in [(0, "curve_publickey"), (1, "curve_secretkey")] {
                if parsed[i].is_none() {
                    return Err(missing(name, "a CURVE client needs its own key pair"));
                }
            }
        }
        if self.plain_server == Some(true) || self.plain_credentials.is_some() {
            return Err(Error::Key {
                what: format!("the options of {connection}"),
                reason: "both CURVE and PLAIN are set; a socket uses one mechanism".to_string(),
            });
        }
        if let Some(v) = self.curve_server {
            check("curve_server", socket.set_curve_server(v))?;
        }
        if let Some(key) = &parsed[0] {
            check(
                "curve_publickey",
                socket.set_curve_publickey(key.as_bytes()),
            )?;
        }
        if let Some(key) = &parsed[1] {
            check(
                "curve_secretkey",
                socket.set_curve_secretkey(key.as_bytes()),
            )?;
        }
        if let Some(key) = &parsed[2] {
            check(
                "curve_serverkey",
                socket.set_curve_serverkey(key.as_bytes()),
            )?;
        }
        Ok(())
    }

    pub(crate) fn apply(
        &self,
        socket: &mut zmq::Socket,
        connection: &str,
        default_linger: Duration,
    ) -> Result<()> {
        let check = |option: &'static str, r: zmq::Result<()>| {
            r.map_err(|source| Error::Option {
                option,
                connection: connection.to_string(),
                source,
            })
        };
        check(
            "sndhwm",
            socket.set_sndhwm(self.sndhwm.unwrap_or(DEFAULT_HIGH_WATER_MARK)),
        )?;
        check(
            "rcvhwm",
            socket.set_rcvhwm(self.rcvhwm.unwrap_or(DEFAULT_HIGH_WATER_MARK)),
        )?;
        check(
            "linger",
            socket.set_linger(self.linger.unwrap_or(millis(default_linger))),
        )?;
        if let Some(id) = &self.identity {
            check("identity", socket.set_identity(id))?;
        }
        // Each option that is set, named by its field in errors; durations
        // in milliseconds.
        macro_rules! set {
            ($($field:ident => $setter:ident $(($convert:ident))?),* $(,)?) => {
                $(if let Some(v) = self.$field {
                    check(stringify!($field), socket.$setter($($convert)?(v)))?;
                })*
            };
        }
        set!(
            rate => set_rate,
            recovery_ivl => set_recovery_ivl(millis),
            reconnect_ivl => set_reconnect_ivl(millis),
            reconnect_ivl_max => set_reconnect_ivl_max(millis),
            heartbeat_ttl => set_heartbeat_ttl(millis),
            immediate => set_immediate,
            conflate => set_conflate,
            router_mandatory => set_router_mandatory,
            router_handover => set_router_handover,
            probe_router => set_probe_router,
            xpub_verbose => set_xpub_verbose,
            req_relaxed => set_req_relaxed,
            req_correlate => set_req_correlate,
            ipv6 => set_ipv6,
            connect_timeout => set_connect_timeout(millis),
            handshake_ivl => set_handshake_ivl(millis),
            sndbuf => set_sndbuf,
            rcvbuf => set_rcvbuf,
            tos => set_tos,
            backlog => set_backlog,
        );
        if let Some((on, count, idle, interval)) = self.tcp_keepalive {
            check("tcp_keepalive", socket.set_tcp_keepalive(on))?;
            check("tcp_keepalive_cnt", socket.set_tcp_keepalive_cnt(count))?;
            check("tcp_keepalive_idle", socket.set_tcp_keepalive_idle(idle))?;
            check(
                "tcp_keepalive_intvl",
                socket.set_tcp_keepalive_intvl(interval),
            )?;
        }
        if let Some((ivl, timeout)) = self.heartbeat {
            check("heartbeat_ivl", socket.set_heartbeat_ivl(millis(ivl)))?;
            check(
                "heartbeat_timeout",
                socket.set_heartbeat_timeout(millis(timeout)),
            )?;
        }
        if let Some(v) = self.xpub_nodrop {
            check(
                "xpub_nodrop",
                set_socket_option(socket, zmq_sys::ZMQ_XPUB_NODROP, i32::from(v)),
            )?;
        }
        let maxmsgsize = self.maxmsgsize.unwrap_or(DEFAULT_MAX_MESSAGE_SIZE);
        check("maxmsgsize", socket.set_maxmsgsize(maxmsgsize))?;
        self.apply_curve(socket, connection, &check)?;
        set!(plain_server => set_plain_server);
        if let Some((user, password)) = &self.plain_credentials {
            check("plain_username", socket.set_plain_username(Some(user)))?;
            check("plain_password", socket.set_plain_password(Some(password)))?;
        }
        if let Some(v) = &self.zap_domain {
            check("zap_domain", socket.set_zap_domain(v))?;
        }
        for prefix in &self.subscriptions {
            check("subscribe", socket.set_subscribe(prefix))?;
        }
        Ok(())
    }
}
