//! Security against real pyzmq: PLAIN and CURVE, both ways. Our
//! authenticator serves pyzmq clients; our clients get past pyzmq's
//! `ThreadAuthenticator`; certificates pyzmq made are the ones both sides
//! use. The peer is `tests/peers/zap_peer.py`, run in the interop
//! environment (see `tests/interop.rs` for how a missing one is reported).
//!
//! The CURVE tests need a libzmq with CURVE on our side: on one without,
//! they check the error that says so, and `TX0MQ_REQUIRE_CURVE=1` (set by
//! CI's CURVE build) makes a missing CURVE a failure.

use std::path::Path;
use std::time::{Duration, Instant};

use tx0mq::connections::security::{load_certificate, Authenticator, MessageMetadata};
use tx0mq::connections::{
    Error, ZmqEndpoint, ZmqFactory, ZmqOptions, ZmqPullConnection, ZmqPushConnection,
};
use tx0mq::Reactor;
use tx0mq_test_support::curve::{require_or_absent, Curve};
use tx0mq_test_support::net::TempDir;
use tx0mq_test_support::process::Proc;
use tx0mq_test_support::python_or_skip;
use tx0mq_test_support::reactor::{iterate_until_cond, reactor};

const DEADLINE: Duration = Duration::from_secs(30);

/// What our server received: body and user id.
type Got = Vec<(String, Option<String>)>;

/// Iterates `reactor` while reading `peer`'s output, until a line starts
/// with `prefix`; returns it. Fails the test naming `what` after
/// [`DEADLINE`].
fn until_line<S: 'static>(
    reactor: &Reactor<S>,
    peer: &mut Proc,
    prefix: &str,
    what: &str,
) -> String {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(line) = peer.drain().iter().find(|l| l.starts_with(prefix)) {
            return line.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no {what} within {DEADLINE:?}: {:?}",
            peer.drain()
        );
        reactor.iterate(Duration::from_millis(10)).expect("iterate");
    }
}

/// Our PULL server with `options`, recording bodies and user ids.
fn our_server(factory: &ZmqFactory<Got>, options: &ZmqOptions) -> (ZmqPullConnection<Got>, String) {
    let pull =
        ZmqPullConnection::with_options(factory, ZmqEndpoint::bind("tcp://127.0.0.1:*"), options)
            .expect("bind our server");
    pull.on_pull(|cx, mut message| {
        let user = message.user_id().map(str::to_string);
        cx.state
            .push((String::from_utf8_lossy(&message[0]).into_owned(), user));
    });
    let endpoint = pull.last_endpoint().expect("endpoint");
    (pull, endpoint)
}

fn received(reactor: &Reactor<Got>) -> Got {
    reactor.access_state(|got| got.clone()).expect("state")
}

/// pyzmq PLAIN clients against our server and authenticator: the right
/// password is let in, named by its user; the wrong one receives nothing.
#[test]
fn pyzmq_plain_clients_meet_our_authenticator() {
    let env = python_or_skip!("pyzmq_plain_clients_meet_our_authenticator");
    let reactor = reactor(Got::new());
    let factory = ZmqFactory::new(&reactor).unwrap();
    let auth = Authenticator::new(&factory);
    auth.configure_plain("*", [("admin", "secret")]);
    auth.start().unwrap();
    let (_server, endpoint) = our_server(&factory, &ZmqOptions::new().plain_server(true));
    let mut bad = env.run_peer(
        "zap_peer.py",
        &["plain-client", &endpoint, "admin", "wrong", "bad"],
    );
    let mut good = env.run_peer(
        "zap_peer.py",
        &["plain-client", &endpoint, "admin", "secret", "good"],
    );
    iterate_until_cond(&reactor, "the good client's message", || {
        !received(&reactor).is_empty()
    });
    iterate_until_cond(&reactor, "the bad client's refusal", || {
        auth.stats().refused >= 1
    });
    until_line(&reactor, &mut bad, "SENT", "the bad client's send");
    for _ in 0..20 {
        reactor.iterate(Duration::from_millis(5)).unwrap();
    }
    assert_eq!(
        received(&reactor),
        [("good".to_string(), Some("admin".to_string()))]
    );
    good.close_stdin();
    bad.close_stdin();
}

/// Our PLAIN client gets past pyzmq's ThreadAuthenticator, which names it
/// by its user.
#[test]
fn our_plain_client_meets_pyzmq_authenticator() {
    let env = python_or_skip!("our_plain_client_meets_pyzmq_authenticator");
    let mut peer = env.run_peer("zap_peer.py", &["plain-server", "admin", "secret"]);
    let endpoint = peer.expect_containing("ENDPOINT ", DEADLINE);
    let endpoint = endpoint.trim_start_matches("ENDPOINT ").to_string();
    let reactor = reactor(Got::new());
    let factory = ZmqFactory::new(&reactor).unwrap();
    let push = ZmqPushConnection::with_options(
        &factory,
        ZmqEndpoint::connect(&endpoint),
        &ZmqOptions::new().plain_client("admin", "secret"),
    )
    .unwrap();
    push.push(&b"hello"[..]).unwrap();
    let line = until_line(&reactor, &mut peer, "GOT ", "pyzmq's receipt");
    assert_eq!(line, "GOT hello admin");
    peer.close_stdin();
}

/// Skips a CURVE test's body on a libzmq without CURVE after checking that
/// CURVE options say so, unless CI requires CURVE.
fn curve_or_check_error(test: &str, factory: &ZmqFactory<Got>) -> bool {
    if require_or_absent(test) == Curve::Available {
        return true;
    }
    let err = ZmqPullConnection::with_options(
        factory,
        ZmqEndpoint::bind("tcp://127.0.0.1:*"),
        &ZmqOptions::new().curve_server([7u8; 32]),
    )
    .expect_err("a CURVE option on a libzmq without CURVE is refused");
    assert!(matches!(err, Error::CurveUnavailable { .. }), "{err}");
    false
}

/// Certificates pyzmq made: `(server public, client public)` in Z85, in
/// `dir/private` (both files) and `dir/public` (public files).
fn pyzmq_keys(env: &tx0mq_test_support::python::PythonEnv, dir: &Path) -> (String, String) {
    let mut maker = env.run_peer("zap_peer.py", &["make-keys", &dir.to_string_lossy()]);
    let line = maker.expect_containing("KEYS ", DEADLINE);
    let words: Vec<&str> = line.split(' ').collect();
    assert_eq!(words.len(), 3, "{line}");
    (words[1].to_string(), words[2].to_string())
}

/// A pyzmq ironhouse-style client, with certificates pyzmq made, against
/// our CURVE server and authenticator reading the same certificates.
#[test]
fn pyzmq_curve_client_meets_our_authenticator() {
    const TEST: &str = "pyzmq_curve_client_meets_our_authenticator";
    let env = python_or_skip!(TEST);
    let reactor = reactor(Got::new());
    let factory = ZmqFactory::new(&reactor).unwrap();
    if !curve_or_check_error(TEST, &factory) {
        return;
    }
    let dir = TempDir::new("curve-ours");
    let (server_public, client_public) = pyzmq_keys(env, dir.dir());
    let (public, secret) = load_certificate(dir.dir().join("private/server.key_secret")).unwrap();
    assert_eq!(public.to_z85(), server_public);
    let auth = Authenticator::new(&factory);
    auth.configure_curve("*", dir.dir().join("public")).unwrap();
    auth.start().unwrap();
    let secret = secret.expect("the secret file holds the secret key");
    let (_server, endpoint) = our_server(&factory, &ZmqOptions::new().curve_server(secret));
    let dir_text = dir.dir().to_string_lossy().into_owned();
    let mut client = env.run_peer(
        "zap_peer.py",
        &["curve-client", &endpoint, &dir_text, "ironhouse"],
    );
    iterate_until_cond(&reactor, "the pyzmq client's message", || {
        !received(&reactor).is_empty()
    });
    assert_eq!(
        received(&reactor),
        [("ironhouse".to_string(), Some(client_public))]
    );
    client.close_stdin();
}

/// Our CURVE client, with certificates pyzmq made, against a pyzmq server
/// authenticated by pyzmq's ThreadAuthenticator.
#[test]
fn our_curve_client_meets_pyzmq_authenticator() {
    const TEST: &str = "our_curve_client_meets_pyzmq_authenticator";
    let env = python_or_skip!(TEST);
    let reactor = reactor(Got::new());
    let factory = ZmqFactory::new(&reactor).unwrap();
    if !curve_or_check_error(TEST, &factory) {
        return;
    }
    let dir = TempDir::new("curve-theirs");
    let (_, client_public) = pyzmq_keys(env, dir.dir());
    let dir_text = dir.dir().to_string_lossy().into_owned();
    let mut peer = env.run_peer("zap_peer.py", &["curve-server", &dir_text]);
    let endpoint = peer.expect_containing("ENDPOINT ", DEADLINE);
    let endpoint = endpoint.trim_start_matches("ENDPOINT ").to_string();
    let (public, secret) = load_certificate(dir.dir().join("private/client.key_secret")).unwrap();
    let (server_public, _) = load_certificate(dir.dir().join("public/server.key")).unwrap();
    let push = ZmqPushConnection::with_options(
        &factory,
        ZmqEndpoint::connect(&endpoint),
        &ZmqOptions::new().curve_client(server_public, public, secret.expect("secret key")),
    )
    .unwrap();
    push.push(&b"ironhouse"[..]).unwrap();
    let line = until_line(&reactor, &mut peer, "GOT ", "pyzmq's receipt");
    assert_eq!(line, format!("GOT ironhouse {client_public}"));
    peer.close_stdin();
}
