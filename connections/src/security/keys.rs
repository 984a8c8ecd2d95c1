//! CURVE keys: 32-byte Curve25519 keys, written as 40 Z85 characters.

use std::fmt;

use crate::error::{Error, Result};

/// Whether the libzmq this program is linked with supports CURVE
/// (`zmq_has("curve")`). The default build (the `zmq` crate's vendored
/// libzmq) does not; a build linked with a system libzmq built with
/// libsodium does.
///
/// ```
/// let curve = tx0mq_connections::security::curve_available();
/// println!("CURVE: {}", if curve { "yes" } else { "no" });
/// ```
pub fn curve_available() -> bool {
    zmq::has("curve") == Some(true)
}

/// Fails with [`Error::CurveUnavailable`] naming `what` unless
/// [`curve_available`].
pub(crate) fn require_curve(what: impl FnOnce() -> String) -> Result<()> {
    if curve_available() {
        Ok(())
    } else {
        Err(Error::CurveUnavailable { what: what() })
    }
}

/// A CURVE key (public or secret): 32 bytes, usually written as 40 Z85
/// characters (what pyzmq's `zmq.curve_keypair()` returns and certificate
/// files hold).
///
/// ```
/// use tx0mq_connections::security::CurveKey;
///
/// // The server public key of the zguide's and RFC 26's examples.
/// let key = CurveKey::from_z85("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7")?;
/// assert_eq!(key.to_z85(), "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7");
/// assert_eq!(CurveKey::parse(key.as_bytes())?, key);
/// assert!(CurveKey::parse("too short").is_err());
/// # Ok::<(), tx0mq_connections::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CurveKey([u8; 32]);

impl CurveKey {
    /// The key from its 40 Z85 characters.
    ///
    /// # Errors
    ///
    /// [`Error::Key`] if `text` is not 40 characters of Z85.
    pub fn from_z85(text: &str) -> Result<Self> {
        Self::decode_z85(text.as_bytes(), "a Z85 key")
    }

    /// The key from its 32 raw bytes.
    ///
    /// # Errors
    ///
    /// [`Error::Key`] if `bytes` is not 32 bytes long.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let key: [u8; 32] = bytes.try_into().map_err(|_| Error::Key {
            what: "raw key bytes".to_string(),
            reason: format!("{} bytes, expected 32", bytes.len()),
        })?;
        Ok(CurveKey(key))
    }

    /// The key from either form, as libzmq's key options take it: 40 bytes
    /// are Z85 text, 32 bytes are the raw key.
    ///
    /// # Errors
    ///
    /// [`Error::Key`] for any other length, or Z85 that does not decode.
    pub fn parse(input: impl AsRef<[u8]>) -> Result<Self> {
        Self::parse_for(input.as_ref(), "a key")
    }

    /// [`parse`](Self::parse), naming `what` (an option, a file) in the error.
    pub(crate) fn parse_for(input: &[u8], what: &str) -> Result<Self> {
        match input.len() {
            32 => Self::from_bytes(input),
            40 => Self::decode_z85(input, what),
            n => Err(Error::Key {
                what: what.to_string(),
                reason: format!("{n} bytes, expected 40 Z85 characters or 32 raw bytes"),
            }),
        }
    }

    fn decode_z85(text: &[u8], what: &str) -> Result<Self> {
        let bad = |reason: String| Error::Key {
            what: what.to_string(),
            reason,
        };
        if text.len() != 40 {
            return Err(bad(format!(
                "{} characters, expected 40 Z85 characters",
                text.len()
            )));
        }
        let mut key = [0u8; 32];
        for (chunk, out) in text.chunks_exact(5).zip(key.chunks_exact_mut(4)) {
            let mut value: u64 = 0;
            for &c in chunk {
                let digit = Z85_DIGITS.iter().position(|&d| d == c).ok_or_else(|| {
                    bad(format!(
                        "not Z85: {} is not a Z85 character",
                        crate::frames::escape(&[c])
                    ))
                })?;
                value = value * 85 + digit as u64;
            }
            let value = u32::try_from(value)
                .map_err(|_| bad("not Z85: a group of five characters overflows".to_string()))?;
            out.copy_from_slice(&value.to_be_bytes());
        }
        Ok(CurveKey(key))
    }

    /// The 32 raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The 40 Z85 characters.
    pub fn to_z85(&self) -> String {
        z85(&self.0)
    }
}

/// Z85's 85 digits (ZeroMQ RFC 32), by value.
const Z85_DIGITS: &[u8; 85] =
    b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

/// Z85 of 32 bytes: five digits, most significant first, per four bytes.
fn z85(bytes: &[u8; 32]) -> String {
    let mut text = String::with_capacity(40);
    for chunk in bytes.chunks_exact(4) {
        let mut value = u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        let mut digits = [0u8; 5];
        for digit in digits.iter_mut().rev() {
            *digit = Z85_DIGITS[(value % 85) as usize];
            value /= 85;
        }
        text.extend(digits.iter().map(|&d| d as char));
    }
    text
}

impl AsRef<[u8]> for CurveKey {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Display for CurveKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_z85())
    }
}

impl fmt::Debug for CurveKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CurveKey({:?})", self.to_z85())
    }
}

impl std::str::FromStr for CurveKey {
    type Err = Error;
    fn from_str(text: &str) -> Result<Self> {
        Self::from_z85(text)
    }
}

/// A CURVE key pair. Its `Debug` output shows the public key only.
///
/// ```no_run
/// use tx0mq_connections::security::CurveKeypair;
///
/// // Needs a libzmq with CURVE (see `curve_available`).
/// let pair = CurveKeypair::generate()?;
/// println!("public key: {}", pair.public);
/// # Ok::<(), tx0mq_connections::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct CurveKeypair {
    /// The public key, which peers may know.
    pub public: CurveKey,
    /// The secret key, which must stay with its owner.
    pub secret: CurveKey,
}

impl CurveKeypair {
    /// A fresh key pair from libzmq (`zmq_curve_keypair`, pyzmq's
    /// `zmq.curve_keypair()`).
    ///
    /// # Errors
    ///
    /// [`Error::CurveUnavailable`] when libzmq was built without CURVE.
    pub fn generate() -> Result<Self> {
        require_curve(|| "generating a key pair".to_string())?;
        let pair = zmq::CurveKeyPair::new().map_err(|source| Error::Socket {
            context: "generate a CURVE key pair (zmq_curve_keypair)".to_string(),
            source,
        })?;
        Ok(CurveKeypair {
            public: CurveKey(pair.public_key),
            secret: CurveKey(pair.secret_key),
        })
    }
}

impl fmt::Debug for CurveKeypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CurveKeypair")
            .field("public", &self.public)
            .field("secret", &"<hidden>")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 26's example server public key, in both forms.
    const Z85: &str = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";

    #[test]
    fn z85_and_raw_forms_name_the_same_key() {
        let key = CurveKey::from_z85(Z85).unwrap();
        assert_eq!(key.to_z85(), Z85);
        assert_eq!(CurveKey::parse(key.as_bytes()).unwrap(), key);
        assert_eq!(CurveKey::parse(Z85).unwrap(), key);
        assert_eq!(Z85.parse::<CurveKey>().unwrap(), key);
    }

    #[test]
    fn wrong_lengths_name_the_length_and_the_source() {
        let err = CurveKey::parse_for(b"short", "option curve_serverkey").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("curve_serverkey"), "{text}");
        assert!(text.contains("5 bytes"), "{text}");
        assert!(CurveKey::from_bytes(&[0; 31]).is_err());
        assert!(CurveKey::from_z85(&Z85[..35]).is_err());
    }

    #[test]
    fn characters_outside_z85_are_refused() {
        let mut text = Z85.to_string();
        text.replace_range(0..1, "\"");
        let err = CurveKey::from_z85(&text).unwrap_err().to_string();
        assert!(err.contains("not Z85"), "{err}");
        let err = CurveKey::parse_for(&[0xff; 40], "file k.key").unwrap_err();
        assert!(err.to_string().contains("k.key"), "{err}");
    }

    #[test]
    fn our_z85_matches_libzmq() {
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..200 {
            let mut bytes = [0u8; 32];
            for b in bytes.iter_mut() {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                *b = (seed >> 56) as u8;
            }
            let ours = CurveKey(bytes).to_z85();
            assert_eq!(ours, zmq::z85_encode(&bytes).unwrap());
            assert_eq!(CurveKey::from_z85(&ours).unwrap().0, bytes);
        }
        let top = CurveKey([0xff; 32]).to_z85();
        assert_eq!(CurveKey::from_z85(&top).unwrap().0, [0xff; 32]);
        let err = CurveKey::from_z85(&"#".repeat(40)).unwrap_err().to_string();
        assert!(err.contains("overflows"), "{err}");
    }

    #[test]
    fn a_key_pair_never_prints_its_secret() {
        let pair = CurveKeypair {
            public: CurveKey([1; 32]),
            secret: CurveKey([2; 32]),
        };
        let shown = format!("{pair:?}");
        assert!(!shown.contains(&CurveKey([2; 32]).to_z85()), "{shown}");
        assert!(shown.contains(&CurveKey([1; 32]).to_z85()), "{shown}");
    }

    #[test]
    fn generating_follows_the_libzmq_build() {
        match CurveKeypair::generate() {
            Ok(pair) => {
                assert!(curve_available());
                assert_ne!(pair.public, pair.secret);
            }
            Err(Error::CurveUnavailable { what }) => {
                assert!(!curve_available());
                assert!(what.contains("key pair"), "{what}");
            }
            Err(other) => panic!("unexpected error: {other}"),
        }
    }
}
