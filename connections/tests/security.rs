//! The ZAP authenticator in the reactor, the security options and their
//! errors. Each test names the behaviour it guards. CURVE tests run in full
//! on a libzmq with CURVE and check the "needs CURVE" error on one without
//! (CI runs both builds; `TX0MQ_REQUIRE_CURVE=1` makes a missing CURVE a
//! failure).

use std::time::Duration;

use log::Level;
use tx0mq_connections::security::{Authenticator, CurveKey, MessageMetadata, ZAP_ENDPOINT};
use tx0mq_connections::{
    Error, ZmqEndpoint, ZmqFactory, ZmqOptions, ZmqPullConnection, ZmqPushConnection,
};
use tx0mq_reactor::Reactor;
use tx0mq_test_support::curve::{require_or_absent, Curve};
use tx0mq_test_support::log as logs;
use tx0mq_test_support::net::TCP_ANY;
use tx0mq_test_support::reactor::{iterate_until_cond, reactor, settle};

/// What the server received: body, user id, peer address.
type Got = Vec<(Vec<u8>, Option<String>, Option<String>)>;

/// A PULL server with `options`, recording each message with its metadata.
fn server(factory: &ZmqFactory<Got>, options: ZmqOptions) -> (ZmqPullConnection<Got>, String) {
    let pull = ZmqPullConnection::with_options(factory, ZmqEndpoint::bind(TCP_ANY), &options)
        .expect("bind the server");
    pull.on_pull(|cx, mut message| {
        let user = message.user_id().map(str::to_string);
        let address = message.peer_address().map(str::to_string);
        cx.state.push((message[0].to_vec(), user, address));
    });
    let endpoint = pull.last_endpoint().expect("last endpoint");
    (pull, endpoint)
}

fn client(
    factory: &ZmqFactory<Got>,
    endpoint: &str,
    options: ZmqOptions,
    body: &[u8],
) -> ZmqPushConnection<Got> {
    let push = ZmqPushConnection::with_options(
        factory,
        ZmqEndpoint::connect(endpoint),
        &options.handshake_ivl(Duration::from_millis(2_000)),
    )
    .expect("connect a client");
    push.push(body).expect("queue the message");
    push
}

/// A reactor, its factory and an authenticator not yet started.
fn fixture() -> (Reactor<Got>, ZmqFactory<Got>, Authenticator<Got>) {
    let reactor = reactor(Got::new());
    let factory = ZmqFactory::new(&reactor).expect("factory");
    let auth = Authenticator::new(&factory);
    (reactor, factory, auth)
}

/// A PLAIN client's options.
fn plain(user: &str, password: &str) -> ZmqOptions {
    ZmqOptions::new().plain_client(user, password)
}

/// Iterates until the server has received `body`.
fn until_received(reactor: &Reactor<Got>, body: &[u8], what: &str) {
    iterate_until_cond(reactor, what, || bodies(reactor).iter().any(|b| b == body));
}

fn bodies(reactor: &Reactor<Got>) -> Vec<Vec<u8>> {
    reactor
        .access_state(|got| got.iter().map(|(b, _, _)| b.clone()).collect())
        .expect("state")
}

/// Iterates until the authenticator has made `decisions` decisions, then a
/// little longer so that anything wrongly let in would arrive.
fn until_decided(reactor: &Reactor<Got>, auth: &Authenticator<Got>, decisions: u64, what: &str) {
    iterate_until_cond(reactor, what, || {
        let s = auth.stats();
        s.accepted + s.refused + s.malformed + s.failed >= decisions
    });
    for _ in 0..20 {
        reactor.iterate(Duration::from_millis(5)).expect("iterate");
    }
}

/// A PLAIN client with the right password is served and its messages carry
/// its user name and address; one with a wrong password beside it receives
/// nothing and the refusal is logged with its address and reason.
#[test]
fn plain_wrong_password_is_refused_and_the_good_client_served() {
    logs::capture();
    let (reactor, factory, auth) = fixture();
    auth.configure_plain("*", [("admin", "secret")]);
    auth.start().unwrap();
    let (_server, endpoint) = server(&factory, ZmqOptions::new().plain_server(true));
    let _bad = client(&factory, &endpoint, plain("admin", "guess"), b"bad");
    let _good = client(&factory, &endpoint, plain("admin", "secret"), b"good");
    iterate_until_cond(&reactor, "the good client's message", || {
        !bodies(&reactor).is_empty()
    });
    until_decided(&reactor, &auth, 2, "both decisions");
    let got = reactor.access_state(|g| g.clone()).unwrap();
    assert_eq!(
        got,
        [(
            b"good".to_vec(),
            Some("admin".to_string()),
            Some("127.0.0.1".to_string())
        )]
    );
    let stats = auth.stats();
    assert_eq!((stats.accepted, stats.refused), (1, 1), "{stats:?}");
    assert!(
        logs::contains(Level::Info, "refused PLAIN client \"admin\" from 127.0.0.1"),
        "{:?}",
        logs::records()
    );
    assert!(logs::contains(Level::Info, "Invalid password"));
}

/// An unknown PLAIN user is refused with its own reason.
#[test]
fn plain_unknown_user_is_refused() {
    logs::capture();
    let (reactor, factory, auth) = fixture();
    auth.configure_plain("*", [("admin", "secret")]);
    auth.start().unwrap();
    let (_server, endpoint) = server(&factory, ZmqOptions::new().plain_server(true));
    let _c = client(&factory, &endpoint, plain("mallory", "secret"), b"x");
    until_decided(&reactor, &auth, 1, "the decision");
    assert!(bodies(&reactor).is_empty());
    assert!(logs::contains(Level::Info, "Invalid username"));
}

/// Without an authenticator, libzmq refuses every PLAIN client; started,
/// the same server lets the client in.
#[test]
fn plain_needs_a_running_authenticator() {
    let reactor = reactor(Got::new());
    let factory = ZmqFactory::new(&reactor).unwrap();
    let (_server, endpoint) = server(&factory, ZmqOptions::new().plain_server(true));
    let _c = client(&factory, &endpoint, plain("admin", "secret"), b"early");
    for _ in 0..30 {
        reactor.iterate(Duration::from_millis(10)).unwrap();
    }
    assert!(bodies(&reactor).is_empty(), "no handler: nothing may pass");
    let auth = Authenticator::new(&factory);
    auth.configure_plain("*", [("admin", "secret")]);
    auth.start().unwrap();
    let _c2 = client(&factory, &endpoint, plain("admin", "secret"), b"late");
    until_received(&reactor, b"late", "the client let in");
}

/// Domains: a password map for one domain does not serve another; the `*`
/// domain serves every domain without its own.
#[test]
fn plain_passwords_are_per_domain_with_star_as_fallback() {
    logs::capture();
    let (reactor, factory, auth) = fixture();
    auth.configure_plain("sales", [("ann", "a")]);
    auth.start().unwrap();
    let plain_in = |domain: &str| ZmqOptions::new().plain_server(true).zap_domain(domain);
    let (_s1, sales) = server(&factory, plain_in("sales"));
    let (_s2, other) = server(&factory, plain_in("support"));
    let _a = client(&factory, &sales, plain("ann", "a"), b"sales");
    let _b = client(&factory, &other, plain("ann", "a"), b"support");
    until_decided(&reactor, &auth, 2, "two decisions");
    assert_eq!(bodies(&reactor), [b"sales".to_vec()]);
    assert!(logs::contains(Level::Info, "Invalid domain"));
    auth.configure_plain("*", [("ann", "a")]);
    let _c = client(&factory, &other, plain("ann", "a"), b"star");
    until_received(&reactor, b"star", "the * domain's client");
}

/// NULL with a ZAP domain goes through the address policy (the strawhouse
/// case): a denied address receives nothing, an allowed one is served, and
/// the allow list decides alone when both are set.
#[test]
fn null_clients_follow_the_address_lists() {
    logs::capture();
    let (reactor, factory, auth) = fixture();
    auth.deny(["127.0.0.1"]);
    auth.start().unwrap();
    let (_server, endpoint) = server(&factory, ZmqOptions::new().zap_domain("global"));
    let _denied = client(&factory, &endpoint, ZmqOptions::new(), b"denied");
    until_decided(&reactor, &auth, 1, "the denial");
    assert!(bodies(&reactor).is_empty());
    assert!(logs::contains(
        Level::Info,
        "refused NULL client from 127.0.0.1"
    ));
    assert!(logs::contains(Level::Info, "Address is denied"));

    auth.allow(["127.0.0.1"]);
    let _allowed = client(&factory, &endpoint, ZmqOptions::new(), b"allowed");
    until_received(&reactor, b"allowed", "the allowed client");
    let got = reactor.access_state(|g| g.clone()).unwrap();
    assert_eq!(got[0].1.as_deref(), Some("anonymous"));
}

/// An allow list keeps out every address not on it.
#[test]
fn an_allow_list_refuses_other_addresses() {
    logs::capture();
    let (reactor, factory, auth) = fixture();
    auth.allow(["192.0.2.1"]);
    auth.start().unwrap();
    let (_server, endpoint) = server(&factory, ZmqOptions::new().zap_domain("global"));
    let _c = client(&factory, &endpoint, ZmqOptions::new(), b"x");
    until_decided(&reactor, &auth, 1, "the refusal");
    assert!(bodies(&reactor).is_empty());
    assert!(logs::contains(Level::Info, "Address not in the allow list"));
}

/// Passwords load from a `name=password` file; a bad line is an error that
/// names the file and the line, and leaves the earlier passwords in place.
#[test]
fn password_files_load_and_bad_ones_name_the_line() {
    let dir = std::env::temp_dir().join(format!("tx0mq-passwords-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("passwords");
    std::fs::write(&good, "# users\nadmin=secret\n\n  bob = b0b \n").unwrap();
    let bad = dir.join("broken");
    std::fs::write(&bad, "admin=secret\nno equals sign\n").unwrap();

    let (reactor, factory, auth) = fixture();
    auth.configure_plain_file("*", &good).unwrap();
    let err = auth
        .configure_plain_file("*", &bad)
        .unwrap_err()
        .to_string();
    assert!(err.contains("broken") && err.contains("line 2"), "{err}");
    let err = auth
        .configure_plain_file("*", dir.join("missing"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("missing"), "{err}");
    auth.start().unwrap();
    let (_server, endpoint) = server(&factory, ZmqOptions::new().plain_server(true));
    let _c = client(&factory, &endpoint, plain("bob", "b0b"), b"bob");
    iterate_until_cond(&reactor, "bob, from the file", || {
        !bodies(&reactor).is_empty()
    });
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Requests that are not ZAP, sent straight to the handler, are answered
/// with a refusal when they can be and dropped when not; the handler keeps
/// serving real clients and never panics.
#[test]
fn malformed_zap_requests_are_refused_or_dropped() {
    logs::capture();
    let (reactor, factory, auth) = fixture();
    auth.configure_plain("*", [("admin", "secret")]);
    auth.start().unwrap();

    let ctx = factory.context().unwrap();
    let req = ctx.socket(zmq::REQ).unwrap();
    req.set_rcvtimeo(5_000).unwrap();
    req.connect(ZAP_ENDPOINT).unwrap();
    req.send_multipart([&b"2.0"[..], b"42", b"", b"", b"", b"NULL"], 0)
        .unwrap();
    // The reply comes once the reactor has read the request.
    let mut reply = None;
    for _ in 0..500 {
        reactor.iterate(Duration::from_millis(5)).unwrap();
        if let Ok(frames) = req.recv_multipart(zmq::DONTWAIT) {
            reply = Some(frames);
            break;
        }
    }
    let reply = reply.expect("a reply to the bad version");
    assert_eq!(reply[0], b"1.0");
    assert_eq!(reply[1], b"42");
    assert_eq!(reply[2], b"400");
    assert!(String::from_utf8_lossy(&reply[3]).contains("version"));

    let dealer = ctx.socket(zmq::DEALER).unwrap();
    dealer.connect(ZAP_ENDPOINT).unwrap();
    dealer
        .send_multipart([&b"no delimiter"[..], b"x"], 0)
        .unwrap();
    dealer.send(&b""[..], 0).unwrap();
    dealer
        .send_multipart(
            [
                &b""[..],
                b"1.0",
                b"7",
                b"d",
                b"a",
                b"i",
                b"PLAIN",
                b"only-user",
            ],
            0,
        )
        .unwrap();
    iterate_until_cond(&reactor, "three malformed requests", || {
        auth.stats().malformed >= 4
    });
    assert!(logs::contains(Level::Warn, "malformed ZAP request"));

    let (_server, endpoint) = server(&factory, ZmqOptions::new().plain_server(true));
    let _c = client(&factory, &endpoint, plain("admin", "secret"), b"ok");
    iterate_until_cond(&reactor, "a real client after the garbage", || {
        !bodies(&reactor).is_empty()
    });
}

/// A second authenticator in the same context cannot bind the ZAP endpoint
/// and says so; stopping the first frees it.
#[test]
fn one_authenticator_per_context() {
    let reactor = reactor(Got::new());
    let factory = ZmqFactory::new(&reactor).unwrap();
    let first = Authenticator::new(&factory);
    first.start().unwrap();
    first.start().unwrap();
    let second = Authenticator::new(&factory);
    let err = second.start().unwrap_err().to_string();
    assert!(err.contains("zeromq.zap.01"), "{err}");
    first.stop();
    assert!(!first.is_running());
    settle(&reactor);
    second.start().unwrap();
    assert!(second.is_running());
}

/// Shutting the factory down stops the authenticator with the rest.
#[test]
fn factory_shutdown_stops_the_authenticator() {
    let (_reactor, factory, auth) = fixture();
    auth.start().unwrap();
    factory.shutdown();
    assert!(!auth.is_running());
    assert!(matches!(auth.start(), Err(Error::Closed { .. })));
}

/// Bad keys fail the connection's creation with an error naming the option;
/// on a libzmq without CURVE, any CURVE option does, naming the cause.
#[test]
fn bad_keys_and_missing_curve_fail_at_creation() {
    let reactor = reactor(Got::new());
    let factory = ZmqFactory::new(&reactor).unwrap();
    let open = |options: ZmqOptions| {
        ZmqPullConnection::with_options(&factory, ZmqEndpoint::bind(TCP_ANY), &options)
            .err()
            .map(|e| e.to_string())
    };
    let good = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
    if require_or_absent("bad_keys_and_missing_curve_fail_at_creation") == Curve::Absent {
        let err = open(ZmqOptions::new().curve_server(good)).expect("refused");
        assert!(
            err.contains("curve_server") && err.contains("needs CURVE"),
            "{err}"
        );
        assert!(err.contains("libsodium"), "{err}");
        return;
    }
    let err = open(ZmqOptions::new().curve_server("not a key")).expect("refused");
    assert!(
        err.contains("curve_secretkey") && err.contains("9 bytes"),
        "{err}"
    );
    let mut z85 = good.to_string();
    z85.replace_range(3..4, "~");
    let err = open(ZmqOptions::new().curve_server(&z85)).expect("refused");
    assert!(err.contains("not Z85"), "{err}");
    let err = open(ZmqOptions::new().curve_serverkey(good)).expect("refused");
    assert!(err.contains("curve_publickey"), "{err}");
    let err = open(ZmqOptions::new().curve_server(good).plain_server(true)).expect("refused");
    assert!(err.contains("both CURVE and PLAIN"), "{err}");
    assert!(open(ZmqOptions::new().curve_server(CurveKey::from_z85(good).unwrap())).is_none());
}

/// CURVE, on a libzmq that has it: a client whose key is in the
/// certificate directory is served and identified by its key; one whose
/// key is not receives nothing; allow-any lets every key in; a custom check
/// decides; a check that panics refuses the client and the handler goes on.
#[test]
fn curve_keys_are_checked_against_the_policy() {
    if require_or_absent("curve_keys_are_checked_against_the_policy") == Curve::Absent {
        let err = tx0mq_connections::security::CurveKeypair::generate().unwrap_err();
        assert!(matches!(err, Error::CurveUnavailable { .. }), "{err}");
        return;
    }
    use tx0mq_connections::security::CurveKeypair;
    logs::capture();
    let server_keys = CurveKeypair::generate().unwrap();
    let known = CurveKeypair::generate().unwrap();
    let stranger = CurveKeypair::generate().unwrap();
    let dir = std::env::temp_dir().join(format!("tx0mq-curve-keys-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("known.key"),
        format!("metadata\ncurve\n    public-key = \"{}\"\n", known.public),
    )
    .unwrap();

    let (reactor, factory, auth) = fixture();
    auth.configure_curve("*", &dir).unwrap();
    auth.start().unwrap();
    let (_server, endpoint) = server(&factory, ZmqOptions::new().curve_server(server_keys.secret));
    let as_client = |pair: &CurveKeypair| {
        ZmqOptions::new().curve_client(server_keys.public, pair.public, pair.secret)
    };
    let _s = client(&factory, &endpoint, as_client(&stranger), b"stranger");
    let _k = client(&factory, &endpoint, as_client(&known), b"known");
    iterate_until_cond(&reactor, "the known client", || {
        !bodies(&reactor).is_empty()
    });
    until_decided(&reactor, &auth, 2, "both decisions");
    let got = reactor.access_state(|g| g.clone()).unwrap();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].1, Some(known.public.to_z85()));
    assert!(logs::contains(Level::Info, "Unknown key"));

    auth.configure_curve_callback("*", |_, key| key.as_bytes()[0] % 2 == 0);
    let even = loop {
        let pair = CurveKeypair::generate().unwrap();
        if pair.public.as_bytes()[0] % 2 == 0 {
            break pair;
        }
    };
    let _e = client(&factory, &endpoint, as_client(&even), b"even");
    until_received(&reactor, b"even", "the client the callback let in");

    auth.configure_curve_callback("*", |_, _| panic!("check exploded"));
    let before = auth.stats();
    let _p = client(&factory, &endpoint, as_client(&known), b"after panic");
    until_decided(
        &reactor,
        &auth,
        before.accepted + before.refused + before.malformed + 1,
        "the failed check",
    );
    assert_eq!(auth.stats().failed, 1);
    assert!(logs::contains(Level::Error, "check exploded"));

    auth.configure_curve("*", tx0mq_connections::security::CURVE_ALLOW_ANY)
        .unwrap();
    let _a = client(&factory, &endpoint, as_client(&stranger), b"anyone");
    until_received(&reactor, b"anyone", "allow-any");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Messages made locally have no metadata, and a property name libzmq
/// cannot take (an inner NUL) gives nothing rather than a panic.
#[test]
fn metadata_of_local_messages_is_empty() {
    let mut frame = zmq::Message::from(&b"local"[..]);
    assert_eq!(frame.user_id(), None);
    assert_eq!(frame.peer_address(), None);
    assert_eq!(frame.property("Bad\0Name"), None);
}
