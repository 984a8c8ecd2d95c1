//! The ZAP wire format (ZeroMQ RFC 27) as a ROUTER handler sees it.
//!
//! libzmq sends each request from a connection's session as
//! `[routing id, "", "1.0", request id, domain, address, identity,
//! mechanism, credentials...]`; the handler answers
//! `[routing id, "", "1.0", request id, status code, status text, user id,
//! metadata]`. Requests come from libzmq itself or from any socket of the
//! process that connects to the handler's endpoint, so the parser takes any
//! frames and names what is wrong; it never panics.

use std::fmt;

use super::keys::CurveKey;

/// The only ZAP version there is.
pub(crate) const VERSION: &[u8] = b"1.0";

/// A security mechanism, as a ZAP request names it (libzmq may add more).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Mechanism {
    /// No security; a ZAP request is sent only when the server set a ZAP
    /// domain.
    Null,
    /// User name and password, in clear.
    Plain,
    /// Curve25519 keys.
    Curve,
    /// Kerberos; accepted by libzmq builds with GSSAPI, refused here.
    Gssapi,
}

impl Mechanism {
    /// The mechanism's name on the wire (`"NULL"`, `"PLAIN"`...).
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Null => "NULL",
            Mechanism::Plain => "PLAIN",
            Mechanism::Curve => "CURVE",
            Mechanism::Gssapi => "GSSAPI",
        }
    }

    fn parse(name: &[u8]) -> Option<Self> {
        match name {
            b"NULL" => Some(Mechanism::Null),
            b"PLAIN" => Some(Mechanism::Plain),
            b"CURVE" => Some(Mechanism::Curve),
            b"GSSAPI" => Some(Mechanism::Gssapi),
            _ => None,
        }
    }
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a client presented.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Credentials {
    Null,
    Plain { username: String, password: String },
    Curve(CurveKey),
    Gssapi,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Null => f.write_str("Null"),
            Credentials::Plain { username, .. } => {
                write!(f, "Plain {{ username: {username:?}, password: <hidden> }}")
            }
            Credentials::Curve(key) => write!(f, "Curve({key})"),
            Credentials::Gssapi => f.write_str("Gssapi"),
        }
    }
}

/// One well-formed ZAP request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Request {
    /// The envelope to answer to: every frame up to and including the empty
    /// delimiter.
    pub(crate) envelope: Vec<Vec<u8>>,
    pub(crate) request_id: Vec<u8>,
    pub(crate) domain: String,
    pub(crate) address: String,
    pub(crate) mechanism: Mechanism,
    pub(crate) credentials: Credentials,
}

/// A request that cannot be served, and whether it can be answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Malformed {
    /// The envelope and request id to answer with a refusal, when the
    /// request got that far.
    pub(crate) reply_to: Option<(Vec<Vec<u8>>, Vec<u8>)>,
    /// What is wrong, for the log.
    pub(crate) why: String,
}

/// Parses one request as a ROUTER receives it.
pub(crate) fn parse<F: std::ops::Deref<Target = [u8]>>(frames: &[F]) -> Result<Request, Malformed> {
    let malformed = |reply_to, why: String| Malformed { reply_to, why };
    let Some(delimiter) = frames.iter().position(|f| f[..].is_empty()) else {
        return Err(malformed(
            None,
            format!(
                "no empty delimiter frame in {} frames; cannot tell where to answer",
                frames.len()
            ),
        ));
    };
    if delimiter == 0 {
        return Err(malformed(
            None,
            "no routing id before the delimiter; cannot tell where to answer".to_string(),
        ));
    }
    let envelope: Vec<Vec<u8>> = frames[..=delimiter]
        .iter()
        .map(|f| f[..].to_vec())
        .collect();
    let body = &frames[delimiter + 1..];
    let [version, request_id, rest @ ..] = body else {
        return Err(malformed(
            None,
            format!(
                "{} frames after the delimiter, need at least a version and a request id",
                body.len()
            ),
        ));
    };
    let reply_to = || Some((envelope.clone(), request_id[..].to_vec()));
    if &version[..] != VERSION {
        return Err(malformed(
            reply_to(),
            format!(
                "version {}, expected \"1.0\"",
                crate::frames::escape(&version[..])
            ),
        ));
    }
    let [domain, address, _identity, mechanism, credentials @ ..] = rest else {
        return Err(malformed(
            reply_to(),
            format!(
                "{} frames after the request id, need domain, address, identity and mechanism",
                rest.len()
            ),
        ));
    };
    let text = |frame: &F, what: &str| {
        String::from_utf8(frame[..].to_vec()).map_err(|_| {
            malformed(
                reply_to(),
                format!("{what} {} is not UTF-8", crate::frames::escape(&frame[..])),
            )
        })
    };
    let domain = text(domain, "domain")?;
    let address = text(address, "address")?;
    let Some(mechanism) = Mechanism::parse(&mechanism[..]) else {
        return Err(malformed(
            reply_to(),
            format!(
                "unknown mechanism {}",
                crate::frames::escape(&mechanism[..])
            ),
        ));
    };
    let wrong_count = |need: usize| {
        malformed(
            reply_to(),
            format!(
                "{mechanism} with {} credential frames, expected {need}",
                credentials.len()
            ),
        )
    };
    let credentials = match (mechanism, credentials) {
        (Mechanism::Null, []) => Credentials::Null,
        (Mechanism::Null, _) => return Err(wrong_count(0)),
        (Mechanism::Plain, [username, password]) => Credentials::Plain {
            username: text(username, "PLAIN user name")?,
            password: text(password, "PLAIN password")?,
        },
        (Mechanism::Plain, _) => return Err(wrong_count(2)),
        (Mechanism::Curve, [key]) => {
            let key = CurveKey::from_bytes(&key[..])
                .map_err(|e| malformed(reply_to(), format!("CURVE client key: {e}")))?;
            Credentials::Curve(key)
        }
        (Mechanism::Curve, _) => return Err(wrong_count(1)),
        (Mechanism::Gssapi, _) => Credentials::Gssapi,
    };
    Ok(Request {
        envelope,
        request_id: request_id[..].to_vec(),
        domain,
        address,
        mechanism,
        credentials,
    })
}

/// The reply frames: the envelope, then version, request id, status code,
/// status text, user id and (empty) metadata.
pub(crate) fn reply(
    envelope: Vec<Vec<u8>>,
    request_id: &[u8],
    status: u16,
    text: &str,
    user_id: &str,
) -> Vec<Vec<u8>> {
    let mut frames = envelope;
    frames.extend([
        VERSION.to_vec(),
        request_id.to_vec(),
        status.to_string().into_bytes(),
        text.as_bytes().to_vec(),
        user_id.as_bytes().to_vec(),
        Vec::new(),
    ]);
    frames
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(mechanism: &[u8], credentials: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut frames: Vec<Vec<u8>> = [
            &b"\x00\x80\x00\x00\x01"[..],
            b"",
            b"1.0",
            b"7",
            b"global",
            b"127.0.0.1",
            b"",
            mechanism,
        ]
        .iter()
        .map(|f| f.to_vec())
        .collect();
        frames.extend(credentials.iter().map(|c| c.to_vec()));
        frames
    }

    #[test]
    fn a_plain_request_parses_with_its_envelope() {
        let req = parse(&request(b"PLAIN", &[b"admin", b"secret"])).unwrap();
        assert_eq!(req.envelope.len(), 2);
        assert_eq!(req.request_id, b"7");
        assert_eq!(req.domain, "global");
        assert_eq!(req.address, "127.0.0.1");
        assert_eq!(
            req.credentials,
            Credentials::Plain {
                username: "admin".into(),
                password: "secret".into()
            }
        );
        assert!(!format!("{req:?}").contains("secret"));
    }

    #[test]
    fn curve_and_null_requests_parse() {
        let req = parse(&request(b"CURVE", &[&[9; 32]])).unwrap();
        assert_eq!(
            req.credentials,
            Credentials::Curve(CurveKey::from_bytes(&[9; 32]).unwrap())
        );
        let req = parse(&request(b"NULL", &[])).unwrap();
        assert_eq!(req.mechanism, Mechanism::Null);
    }

    #[test]
    fn a_bad_version_is_answerable() {
        let mut frames = request(b"NULL", &[]);
        frames[2] = b"2.0".to_vec();
        let err = parse(&frames).unwrap_err();
        assert!(err.why.contains("version"), "{}", err.why);
        let (envelope, id) = err.reply_to.unwrap();
        assert_eq!(envelope.len(), 2);
        assert_eq!(id, b"7");
    }

    #[test]
    fn wrong_credentials_name_the_mechanism() {
        let err = parse(&request(b"PLAIN", &[b"only-user"])).unwrap_err();
        assert!(err.why.contains("PLAIN with 1 credential"), "{}", err.why);
        assert!(err.reply_to.is_some());
        let err = parse(&request(b"CURVE", &[&[1; 31]])).unwrap_err();
        assert!(err.why.contains("31 bytes"), "{}", err.why);
        let err = parse(&request(b"KERBEROS5", &[])).unwrap_err();
        assert!(err.why.contains("unknown mechanism"), "{}", err.why);
    }

    #[test]
    fn without_an_envelope_there_is_no_one_to_answer() {
        assert!(parse::<Vec<u8>>(&[]).unwrap_err().reply_to.is_none());
        assert!(parse(&[b"1.0".to_vec()]).unwrap_err().reply_to.is_none());
        assert!(parse(&[Vec::new(), b"1.0".to_vec()])
            .unwrap_err()
            .reply_to
            .is_none());
        let err = parse(&[b"id".to_vec(), Vec::new(), b"1.0".to_vec()]).unwrap_err();
        assert!(err.reply_to.is_none(), "no request id to answer with");
    }

    #[test]
    fn a_reply_carries_envelope_status_and_user() {
        let frames = reply(vec![b"id".to_vec(), Vec::new()], b"7", 200, "OK", "admin");
        let expect: Vec<&[u8]> = vec![b"id", b"", b"1.0", b"7", b"200", b"OK", b"admin", b""];
        assert_eq!(frames, expect);
    }

    proptest::proptest! {
        /// Whatever frames arrive, parsing names a fault or yields a
        /// request, and an answerable fault carries the envelope it read.
        #[test]
        fn any_frames_parse_without_panicking(
            frames in proptest::collection::vec(
                proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40), 0..12),
        ) {
            match parse(&frames) {
                Ok(req) => {
                    proptest::prop_assert!(req.envelope.last().is_some_and(|f| f.is_empty()));
                }
                Err(Malformed { reply_to: Some((envelope, _)), .. }) => {
                    proptest::prop_assert!(envelope.len() >= 2);
                }
                Err(_) => {}
            }
        }

        /// Well-formed requests with random fields round-trip their fields.
        #[test]
        fn plain_requests_keep_their_fields(
            id in "[a-z0-9]{1,8}", domain in "[a-z]{0,8}", user in "[ -~]{0,16}",
        ) {
            let frames: Vec<Vec<u8>> = vec![
                b"peer".to_vec(), Vec::new(), b"1.0".to_vec(), id.clone().into_bytes(),
                domain.clone().into_bytes(), b"10.0.0.1".to_vec(), Vec::new(),
                b"PLAIN".to_vec(), user.clone().into_bytes(), b"pw".to_vec(),
            ];
            let req = parse(&frames).unwrap();
            proptest::prop_assert_eq!(req.request_id, id.into_bytes());
            proptest::prop_assert_eq!(req.domain, domain);
            proptest::prop_assert_eq!(
                req.credentials,
                Credentials::Plain { username: user, password: "pw".into() }
            );
        }
    }
}
