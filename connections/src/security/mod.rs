//! Security: CURVE keys, certificates, and the ZAP authenticator.
//!
//! ZeroMQ secures a connection with a *mechanism* chosen by socket options
//! (see [`ZmqOptions`](crate::ZmqOptions)): NULL (none), PLAIN (user name and
//! password, in clear) or CURVE (encryption and server authentication with
//! Curve25519 keys). A server asks its *ZAP handler*, a socket bound to
//! [`ZAP_ENDPOINT`] in the same context, whether to let each client in: the
//! [`Authenticator`] is that handler, running in the reactor.

mod authenticator;
mod cert;
mod keys;
mod metadata;
mod zap;

pub use authenticator::{
    AuthStats, Authenticator, ANONYMOUS, ANY_DOMAIN, CURVE_ALLOW_ANY, ZAP_ENDPOINT,
};
pub use cert::{create_certificates, load_certificate, load_certificates, Certificate};
pub(crate) use keys::require_curve;
pub use keys::{curve_available, CurveKey, CurveKeypair};
pub use metadata::MessageMetadata;
pub use zap::Mechanism;
