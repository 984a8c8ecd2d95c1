//! Security: CURVE keys, certificates, and the ZAP authenticator.
//!
//! ZeroMQ secures a connection with a *mechanism* chosen by socket options
//! (see [`ZmqOptions`](crate::ZmqOptions)): NULL (none), PLAIN (user name and
//! password, in clear) or CURVE (encryption and server authentication with
//! Curve25519 keys). A server asks its *ZAP handler*, a socket bound to
//! `inproc://zeromq.zap.01` in the same context, whether to accept each
//! client.

mod cert;
mod keys;

pub use cert::{create_certificates, load_certificate, load_certificates, Certificate};
pub(crate) use keys::require_curve;
pub use keys::{curve_available, CurveKey, CurveKeypair};
