//! Whether the linked libzmq has CURVE, for tests of the security code.
//!
//! The default build links the `zmq` crate's vendored libzmq, built without
//! CURVE; the opt-in build (`--config .cargo/system-libzmq.toml`) links the
//! system's libzmq, which has it. A test that needs CURVE calls
//! [`require_or_absent`] and handles both answers: with CURVE it tests the
//! real thing; without, it asserts the refusal (`CurveUnavailable`), so it
//! never passes having checked nothing. With `TX0MQ_REQUIRE_CURVE=1` (as
//! `.ci/run` sets for the CURVE build) a libzmq without CURVE fails the test
//! instead.
//!
//! ```
//! use tx0mq_test_support::curve::{require_or_absent, Curve};
//!
//! match require_or_absent("doc_example") {
//!     Curve::Available => assert_eq!(tx0mq_test_support::curve::has_curve(), true),
//!     Curve::Absent => assert_eq!(tx0mq_test_support::curve::has_curve(), false),
//! }
//! ```

/// The variable that turns a libzmq without CURVE into a test failure.
pub const REQUIRE_VAR: &str = "TX0MQ_REQUIRE_CURVE";

/// What [`require_or_absent`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "a test must check the refusal when CURVE is absent"]
pub enum Curve {
    /// The linked libzmq has CURVE: test the real thing.
    Available,
    /// It has not, and `TX0MQ_REQUIRE_CURVE` is not `1`: assert the refusal.
    Absent,
}

/// Whether the linked libzmq has CURVE (`zmq_has("curve")`).
pub fn has_curve() -> bool {
    zmq::has("curve") == Some(true)
}

/// Whether `TX0MQ_REQUIRE_CURVE=1`.
pub fn required() -> bool {
    std::env::var(REQUIRE_VAR).is_ok_and(|v| v == "1")
}

/// [`Curve::Available`] when the linked libzmq has CURVE, else
/// [`Curve::Absent`]; but when it has not and `TX0MQ_REQUIRE_CURVE=1`, fails
/// `test` saying how to get a libzmq with CURVE.
pub fn require_or_absent(test: &str) -> Curve {
    if has_curve() {
        return Curve::Available;
    }
    let (major, minor, patch) = zmq::version();
    assert!(
        !required(),
        "{test}: {REQUIRE_VAR}=1, but the libzmq this test is linked with \
         ({major}.{minor}.{patch}) has no CURVE. Install libzmq3-dev and build with \
         `--config .cargo/system-libzmq.toml` (see the README's Security section), or \
         unset {REQUIRE_VAR} to test the refusal instead."
    );
    Curve::Absent
}

/// The example key pairs of ZeroMQ RFC 26 (CurveZMQ), in Z85: fixed keys
/// for tests that save, load or compare keys without generating any.
pub mod rfc26 {
    /// The server's public key.
    pub const SERVER_PUBLIC: &str = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
    /// The server's secret key.
    pub const SERVER_SECRET: &str = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6";
    /// The client's public key.
    pub const CLIENT_PUBLIC: &str = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID";
    /// The client's secret key.
    pub const CLIENT_SECRET: &str = "D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs";
}
