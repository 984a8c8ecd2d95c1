//! CURVE certificates shared with pyzmq, both ways: what
//! `zmq.auth.create_certificates` writes loads here with the keys pyzmq
//! reads back, and what we write loads in `zmq.auth.load_certificate` and
//! `load_certificates` with our keys.
//!
//! The Python side is `tests/peers/certs_peer.py`, run in the interop
//! environment (`scripts/interop-env`); without it each test says on stderr
//! that it skipped, and with `TX0MQ_REQUIRE_INTEROP=1` (as `.ci/run` sets)
//! it fails. pyzmq's wheel has CURVE, so pyzmq generates the keys of the
//! first test whatever libzmq we are linked with; the last test generates
//! here, so it needs CURVE in our build (see `tx0mq_test_support::curve`).

use std::path::Path;
use std::time::Duration;

use tx0mq::connections::security::{
    create_certificates, load_certificate, load_certificates, Certificate, CurveKey,
};
use tx0mq::connections::Error;
use tx0mq_test_support::curve::{require_or_absent, Curve};
use tx0mq_test_support::net::TempDir;
use tx0mq_test_support::python::PythonEnv;
use tx0mq_test_support::python_or_skip;

/// How long the peer may take (start-up, key generation, file I/O).
const PEER: Duration = Duration::from_secs(60);

use tx0mq_test_support::curve::rfc26::{
    CLIENT_PUBLIC, CLIENT_SECRET, SERVER_PUBLIC, SERVER_SECRET,
};

fn key(z85: &str) -> CurveKey {
    CurveKey::from_z85(z85).unwrap()
}

/// Runs `certs_peer.py args...` to the end and returns its stdout lines,
/// failing the test if it did not print `DONE` and exit 0.
fn peer(env: &PythonEnv, args: &[&str]) -> Vec<String> {
    let mut proc = env.run_peer("certs_peer.py", args);
    proc.close_stdin();
    let status = proc.wait(PEER);
    let lines = proc.seen.clone();
    assert!(
        status.success() && lines.last().is_some_and(|l| l == "DONE"),
        "certs_peer.py {args:?} failed ({status}): {lines:?}\nstderr: {:?}",
        proc.stderr()
    );
    lines
}

/// The words of the one line starting with `tag `, after the tag.
fn words<'a>(lines: &'a [String], tag: &str) -> Vec<&'a str> {
    let found: Vec<&String> = lines
        .iter()
        .filter(|l| l.split(' ').next() == Some(tag))
        .collect();
    assert_eq!(found.len(), 1, "one {tag} line expected in {lines:?}");
    found[0].split(' ').skip(1).collect()
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

#[cfg(unix)]
fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn certificates_pyzmq_creates_load_here_with_its_keys() {
    let env = python_or_skip!("certificates_pyzmq_creates_load_here_with_its_keys");
    let dir = TempDir::new("certs-py");
    let d = dir.path("");
    let lines = peer(
        env,
        &[
            "create",
            &d,
            "server",
            "name=the server",
            "email=ops@example.com",
        ],
    );
    let files = words(&lines, "FILES");
    let keys = words(&lines, "KEYS");
    let (public, secret) = (key(keys[0]), key(keys[1]));
    assert_eq!(words(&lines, "DERIVED"), [keys[0]], "pyzmq's own pair");
    let public_file = dir.dir().join("server.key");
    let secret_file = dir.dir().join("server.key_secret");
    assert_eq!(Path::new(files[0]), public_file);
    assert_eq!(Path::new(files[1]), secret_file);

    // pyzmq writes the secret file with the process's umask (0644 here):
    // we refuse to load a secret others can read, and say how to fix it.
    #[cfg(unix)]
    if mode(&secret_file) & 0o044 != 0 {
        let err = Certificate::load(&secret_file).unwrap_err();
        assert!(matches!(err, Error::File { .. }), "{err:?}");
        let text = err.to_string();
        assert!(text.contains("chmod 600"), "{text}");
        chmod(&secret_file, 0o600);
    }
    let cert = Certificate::load(&secret_file).unwrap();
    assert_eq!((cert.public, cert.secret), (public, Some(secret)));
    // pyzmq writes metadata values bare, and only in the secret file.
    assert_eq!(cert.meta("name"), Some("the server"));
    assert_eq!(cert.meta("email"), Some("ops@example.com"));
    assert_eq!(cert.metadata.len(), 2);
    let public_cert = Certificate::load(&public_file).unwrap();
    assert_eq!(public_cert.public, public);
    assert_eq!(public_cert.secret, None);
    assert_eq!(public_cert.metadata, []);
    assert_eq!(load_certificate(&public_file).unwrap(), (public, None));

    // A second pair: the directory holds both public keys.
    let lines = peer(env, &["create", &d, "client"]);
    let client = key(words(&lines, "KEYS")[0]);
    assert_ne!(client, public);
    assert_eq!(load_certificates(dir.dir()).unwrap(), [client, public]);
}

#[test]
fn certificates_saved_here_load_in_pyzmq_with_our_keys() {
    let env = python_or_skip!("certificates_saved_here_load_in_pyzmq_with_our_keys");
    let dir = TempDir::new("certs-rs");
    let server = Certificate {
        public: key(SERVER_PUBLIC),
        secret: Some(key(SERVER_SECRET)),
        metadata: vec![
            ("name".to_string(), "the server".to_string()),
            ("motto".to_string(), "say \"hi\" # kindly".to_string()),
        ],
    };
    let client = Certificate {
        public: key(CLIENT_PUBLIC),
        secret: Some(key(CLIENT_SECRET)),
        metadata: vec![],
    };
    let path = |name: &str| dir.path(name);
    server.save_public(path("server.key")).unwrap();
    server.save_secret(path("server.key_secret")).unwrap();
    client.save_public(path("client.key")).unwrap();
    client.save_secret(path("client.key_secret")).unwrap();

    let lines = peer(
        env,
        &[
            "load",
            &path("server.key"),
            &path("server.key_secret"),
            &path("client.key"),
            &path("client.key_secret"),
        ],
    );
    let certs: Vec<&String> = lines.iter().filter(|l| l.starts_with("CERT ")).collect();
    assert_eq!(
        certs,
        [
            &format!("CERT {} {SERVER_PUBLIC} -", path("server.key")),
            &format!(
                "CERT {} {SERVER_PUBLIC} {SERVER_SECRET}",
                path("server.key_secret")
            ),
            &format!("CERT {} {CLIENT_PUBLIC} -", path("client.key")),
            &format!(
                "CERT {} {CLIENT_PUBLIC} {CLIENT_SECRET}",
                path("client.key_secret")
            ),
        ],
        "{lines:?}"
    );

    let lines = peer(env, &["loaddir", &dir.path("")]);
    let mut expected = [CLIENT_PUBLIC, SERVER_PUBLIC];
    expected.sort();
    let listed = words(&lines, "DIR");
    assert_eq!(listed[0], "2", "{lines:?}");
    assert_eq!(listed[1..], expected, "{lines:?}");
}

#[test]
fn certificates_created_here_are_key_pairs_pyzmq_accepts() {
    let env = python_or_skip!("certificates_created_here_are_key_pairs_pyzmq_accepts");
    let dir = TempDir::new("certs-new");
    let result = create_certificates(dir.dir(), "node", &[("name", "node one")]);
    match require_or_absent("certificates_created_here_are_key_pairs_pyzmq_accepts") {
        Curve::Available => {
            let (public_file, secret_file) = result.unwrap();
            let ours = Certificate::load(&secret_file).unwrap();
            let (public, secret) = (ours.public.to_z85(), ours.secret.unwrap().to_z85());
            let p = public_file.display().to_string();
            let s = secret_file.display().to_string();
            let lines = peer(env, &["load", &p, &s]);
            let certs: Vec<&String> = lines.iter().filter(|l| l.starts_with("CERT ")).collect();
            assert_eq!(
                certs,
                [
                    &format!("CERT {p} {public} -"),
                    &format!("CERT {s} {public} {secret}")
                ]
            );
            // libzmq, through pyzmq, derives our public key from our secret.
            assert_eq!(words(&lines, "DERIVED"), [s.as_str(), public.as_str()]);
            let lines = peer(env, &["loaddir", &dir.path("")]);
            assert_eq!(words(&lines, "DIR"), ["1", public.as_str()]);
        }
        Curve::Absent => {
            match result {
                Err(Error::CurveUnavailable { what }) => {
                    assert!(what.contains("key pair"), "{what}")
                }
                other => panic!("expected CurveUnavailable, got {other:?}"),
            }
            // Nothing half-made for pyzmq to find.
            let lines = peer(env, &["loaddir", &dir.path("")]);
            assert_eq!(words(&lines, "DIR"), ["0"]);
        }
    }
}
