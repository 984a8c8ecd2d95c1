//! CURVE certificates on disk, in the format pyzmq's `zmq.auth.certs` and
//! CZMQ's `zcert` read and write.
//!
//! A certificate is a pair of text files in ZPL (ZeroMQ RFC 4): `NAME.key`
//! holds the public key, `NAME.key_secret` the public and the secret key.
//! Both start with a comment banner, then a `metadata` section of
//! `name = "value"` lines and a `curve` section:
//!
//! ```text
//! #   Written by tx0mq on 2026-01-01 12:00:00 UTC
//! #   CURVE certificate, public part: the public key only.
//!
//! metadata
//!     name = "server"
//! curve
//!     public-key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
//! ```
//!
//! The secret file adds `secret-key = "..."` to the `curve` section and is
//! written with mode 0600; loading one that group or others can read fails.
//!
//! # What the reader accepts
//!
//! Everything pyzmq and CZMQ write, and hand-edited files in the same
//! spirit: `#` comments (whole lines, or after a value), blank lines, CRLF
//! line ends, entries indented by any spaces or tabs, values in double or
//! single quotes or bare (pyzmq writes metadata values bare; a bare value
//! ends at a `#` that follows a space, so `http://host/#top` stays whole). Sections other than `metadata` and `curve` are ignored. The
//! keys are read from the `curve` section only, as CZMQ does (pyzmq's loader
//! takes any line starting with `public-key`).
//!
//! # What the writer refuses
//!
//! Metadata that one of the two readers would misread: a name outside ZPL's
//! name characters (ASCII letters and digits, `$ - _ @ . & + /`, no `/` at
//! either end), a name starting with `public-key` or `secret-key` (pyzmq's
//! loader would take its value for a key), a value with a control character
//! or with both kinds of quote (ZPL has no escapes), or a line over 1024
//! bytes (CZMQ cuts longer lines).

use std::fmt;
use std::fs;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use super::keys::{CurveKey, CurveKeypair};
use crate::error::{Error, Result};

/// The largest certificate file read. Real ones are well under 1 KiB; the
/// limit keeps a wrong path (a device, a log file) from being read whole.
const MAX_FILE_BYTES: u64 = 1 << 20;
/// CZMQ's ZPL reader cuts lines at 1024 bytes.
const MAX_LINE_BYTES: usize = 1024;
/// Permission bits that let group or others read a file.
#[cfg(unix)]
const READABLE_BY_OTHERS: u32 = 0o044;

/// A CURVE certificate: a public key, the secret key when it is known, and
/// metadata (name/value pairs, in file order).
///
/// Its `Debug` output never shows the secret key.
///
/// ```
/// use tx0mq_connections::security::{Certificate, CurveKey};
///
/// let dir = std::env::temp_dir().join(format!("tx0mq-doc-cert-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// // The server key pair of RFC 26's examples.
/// let cert = Certificate {
///     public: CurveKey::from_z85("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7")?,
///     secret: Some(CurveKey::from_z85("JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6")?),
///     metadata: vec![("name".to_string(), "server".to_string())],
/// };
/// cert.save_public(dir.join("server.key"))?;
/// cert.save_secret(dir.join("server.key_secret"))?;
///
/// let public = Certificate::load(dir.join("server.key"))?;
/// assert_eq!(public.public, cert.public);
/// assert_eq!(public.secret, None);
/// assert_eq!(public.meta("name"), Some("server"));
/// assert_eq!(Certificate::load(dir.join("server.key_secret"))?, cert);
/// assert!(!format!("{cert:?}").contains("JTKVSB"));
/// std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Certificate {
    /// The public key (`curve/public-key`).
    pub public: CurveKey,
    /// The secret key (`curve/secret-key`): `None` for a public certificate.
    pub secret: Option<CurveKey>,
    /// The `metadata` section's entries, in order.
    pub metadata: Vec<(String, String)>,
}

impl Certificate {
    /// The value of the first metadata entry called `name`.
    ///
    /// ```
    /// use tx0mq_connections::security::{Certificate, CurveKey};
    ///
    /// let cert = Certificate {
    ///     public: CurveKey::from_bytes(&[7; 32])?,
    ///     secret: None,
    ///     metadata: vec![("email".to_string(), "ops@example.com".to_string())],
    /// };
    /// assert_eq!(cert.meta("email"), Some("ops@example.com"));
    /// assert_eq!(cert.meta("name"), None);
    /// # Ok::<(), tx0mq_connections::Error>(())
    /// ```
    pub fn meta(&self, name: &str) -> Option<&str> {
        self.metadata
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Reads a certificate file, public (`NAME.key`) or secret
    /// (`NAME.key_secret`): CZMQ's `zcert_load` of one file.
    ///
    /// # Errors
    ///
    /// [`Error::File`] naming the file when it cannot be read (missing, a
    /// directory, not UTF-8, over 1 MiB), when a line does not parse, when it
    /// has no `public-key` in a `curve` section, or when it holds a secret
    /// key and group or others may read it (fix with `chmod 600`);
    /// [`Error::Key`] naming the file and line when a key is not 40 Z85
    /// characters.
    ///
    /// ```
    /// use tx0mq_connections::security::Certificate;
    /// use tx0mq_connections::Error;
    ///
    /// let missing = std::env::temp_dir().join("tx0mq-doc-no-such-cert.key");
    /// match Certificate::load(&missing) {
    ///     Err(Error::File { path, .. }) => assert_eq!(path, missing),
    ///     other => panic!("expected a file error, got {other:?}"),
    /// }
    /// ```
    pub fn load(path: impl AsRef<Path>) -> Result<Certificate> {
        let path = path.as_ref();
        let (text, mode) = read_text(path)?;
        let cert = parse(path, &text)?;
        if cert.secret.is_some() {
            check_private(path, mode)?;
        }
        Ok(cert)
    }

    /// Writes the public certificate (public key and metadata, no secret)
    /// to `path`, conventionally `NAME.key`, replacing any file there.
    ///
    /// The file is written beside `path` under a temporary name and renamed
    /// into place, so a reader never sees half of it.
    ///
    /// # Errors
    ///
    /// [`Error::File`] naming `path` when the metadata cannot be written in
    /// the format (see the module's documentation) or the file cannot be
    /// written.
    ///
    /// ```
    /// use tx0mq_connections::security::{Certificate, CurveKey};
    ///
    /// let path = std::env::temp_dir().join(format!("tx0mq-doc-public-{}.key", std::process::id()));
    /// let cert = Certificate {
    ///     public: CurveKey::from_z85("Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID")?,
    ///     secret: None,
    ///     metadata: vec![],
    /// };
    /// cert.save_public(&path)?;
    /// let text = std::fs::read_to_string(&path)?;
    /// assert!(text.contains("public-key = \"Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID\""));
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn save_public(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        const OPERATION: &str = "save the public certificate";
        let text = self
            .render(None)
            .map_err(|reason| file_error(path, OPERATION, reason))?;
        write_replacing(path, &text, 0o644, OPERATION)
    }

    /// Writes the secret certificate (both keys and the metadata) to
    /// `path`, conventionally `NAME.key_secret`, replacing any file there.
    ///
    /// On unix the file is created with mode 0600 under a temporary name
    /// and renamed into place: at no moment can group or others read it,
    /// even when it replaces a file that they could.
    ///
    /// # Errors
    ///
    /// [`Error::File`] naming `path` when the certificate has no secret key,
    /// when the metadata cannot be written in the format, or when the file
    /// cannot be written.
    ///
    /// ```
    /// use tx0mq_connections::security::{Certificate, CurveKey};
    ///
    /// let path = std::env::temp_dir().join(format!("tx0mq-doc-secret-{}.key_secret", std::process::id()));
    /// let cert = Certificate {
    ///     public: CurveKey::from_z85("Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID")?,
    ///     secret: Some(CurveKey::from_z85("D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs")?),
    ///     metadata: vec![],
    /// };
    /// cert.save_secret(&path)?;
    /// #[cfg(unix)]
    /// {
    ///     use std::os::unix::fs::PermissionsExt;
    ///     assert_eq!(std::fs::metadata(&path)?.permissions().mode() & 0o777, 0o600);
    /// }
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn save_secret(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        const OPERATION: &str = "save the secret certificate";
        let secret = self.secret.ok_or_else(|| {
            file_error(
                path,
                OPERATION,
                "the certificate has no secret key (it was loaded from a public certificate?)",
            )
        })?;
        let text = self
            .render(Some(&secret))
            .map_err(|reason| file_error(path, OPERATION, reason))?;
        write_replacing(path, &text, 0o600, OPERATION)
    }

    /// The file's text: the banner, then the metadata and curve sections,
    /// with `secret` in the curve section when it is given.
    fn render(&self, secret: Option<&CurveKey>) -> std::result::Result<String, String> {
        let mut text = String::new();
        text.push_str(&format!(
            "#   Written by tx0mq on {}\n",
            utc_timestamp(SystemTime::now())
        ));
        if secret.is_some() {
            text.push_str(
                "#   CURVE certificate, SECRET part: the public and the secret key.\n\
                 #   Keep it to yourself: give it to no one, and leave its mode at 0600.\n",
            );
        } else {
            text.push_str(
                "#   CURVE certificate, public part: the public key only.\n\
                 #   Give it to the peers that must know this key, by a route that\n\
                 #   keeps it from being altered (or compare it by eye once copied).\n",
            );
        }
        text.push_str("\nmetadata\n");
        for (name, value) in &self.metadata {
            text.push_str(&metadata_line(name, value)?);
        }
        text.push_str("curve\n");
        text.push_str(&format!("    public-key = \"{}\"\n", self.public.to_z85()));
        if let Some(secret) = secret {
            text.push_str(&format!("    secret-key = \"{}\"\n", secret.to_z85()));
        }
        Ok(text)
    }
}

impl From<CurveKeypair> for Certificate {
    /// A certificate holding both keys of `pair`, with no metadata.
    fn from(pair: CurveKeypair) -> Self {
        Certificate {
            public: pair.public,
            secret: Some(pair.secret),
            metadata: Vec::new(),
        }
    }
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("public", &self.public)
            .field("secret", &self.secret.map(|_| "<hidden>"))
            .field("metadata", &self.metadata)
            .finish()
    }
}

/// Creates a key pair and writes it as a certificate in `dir`: the public
/// certificate `dir/NAME.key` and the secret one `dir/NAME.key_secret`
/// (mode 0600), both holding `metadata`. Returns their paths, public first
/// (pyzmq's `zmq.auth.create_certificates`; pyzmq puts the metadata in the
/// secret file only, CZMQ in both, as here).
///
/// # Errors
///
/// [`Error::CurveUnavailable`] when the libzmq this program is linked with
/// has no CURVE (see [`curve_available`](super::curve_available));
/// [`Error::File`] when `name` is not a plain file name, the metadata cannot
/// be written in the format, or a file cannot be written (then neither file
/// is left behind).
///
/// ```
/// use tx0mq_connections::security::{create_certificates, load_certificate};
/// use tx0mq_connections::Error;
///
/// let dir = std::env::temp_dir().join(format!("tx0mq-doc-create-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// match create_certificates(&dir, "server", &[("name", "server")]) {
///     Ok((public_file, secret_file)) => {
///         let (public, secret) = load_certificate(&secret_file)?;
///         assert_eq!(load_certificate(&public_file)?, (public, None));
///         assert!(secret.is_some());
///     }
///     // The default build's libzmq has no CURVE to generate keys with.
///     Err(Error::CurveUnavailable { .. }) => {}
///     Err(other) => return Err(other.into()),
/// }
/// std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn create_certificates(
    dir: impl AsRef<Path>,
    name: &str,
    metadata: &[(&str, &str)],
) -> Result<(PathBuf, PathBuf)> {
    let dir = dir.as_ref();
    const OPERATION: &str = "create certificates";
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\0']) {
        return Err(file_error(
            &dir.join(name),
            OPERATION,
            format!("{name:?} is not a plain file name (no '/', not empty, not . or ..)"),
        ));
    }
    let mut cert = Certificate::from(CurveKeypair::generate()?);
    cert.metadata = metadata
        .iter()
        .map(|&(n, v)| (n.to_string(), v.to_string()))
        .collect();
    let public_file = dir.join(format!("{name}.key"));
    let secret_file = dir.join(format!("{name}.key_secret"));
    cert.save_public(&public_file)?;
    if let Err(e) = cert.save_secret(&secret_file) {
        let _ = fs::remove_file(&public_file);
        return Err(e);
    }
    Ok((public_file, secret_file))
}

/// The public key and, for a secret certificate, the secret key of the
/// certificate file `path`, public or secret (pyzmq's
/// `zmq.auth.load_certificate`).
///
/// # Errors
///
/// As [`Certificate::load`].
///
/// ```
/// use tx0mq_connections::security::{load_certificate, Certificate, CurveKey};
///
/// let path = std::env::temp_dir().join(format!("tx0mq-doc-load-{}.key", std::process::id()));
/// let public = CurveKey::from_z85("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7")?;
/// Certificate { public, secret: None, metadata: vec![] }.save_public(&path)?;
/// assert_eq!(load_certificate(&path)?, (public, None));
/// std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn load_certificate(path: impl AsRef<Path>) -> Result<(CurveKey, Option<CurveKey>)> {
    let cert = Certificate::load(path)?;
    Ok((cert.public, cert.secret))
}

/// The public keys of every public certificate (`*.key`, not hidden) in
/// `dir`, each once, in file name order (pyzmq's
/// `zmq.auth.load_certificates`, which returns them as a dict's keys). The
/// secret certificates (`*.key_secret`) are not read.
///
/// # Errors
///
/// [`Error::File`] naming `dir` when it cannot be listed (missing, not a
/// directory), or any error of [`Certificate::load`] for the first `*.key`
/// file that does not load: one bad file fails the whole directory, rather
/// than leaving a client silently refused.
///
/// ```
/// use tx0mq_connections::security::{load_certificates, Certificate, CurveKey};
///
/// let dir = std::env::temp_dir().join(format!("tx0mq-doc-certs-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let client = CurveKey::from_z85("Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID")?;
/// Certificate { public: client, secret: None, metadata: vec![] }
///     .save_public(dir.join("client.key"))?;
/// assert_eq!(load_certificates(&dir)?, vec![client]);
/// std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn load_certificates(dir: impl AsRef<Path>) -> Result<Vec<CurveKey>> {
    let dir = dir.as_ref();
    const OPERATION: &str = "list the certificate directory";
    let entries = fs::read_dir(dir).map_err(|e| file_error(dir, OPERATION, e.to_string()))?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| file_error(dir, OPERATION, e.to_string()))?;
        let path = entry.path();
        // Like the shell pattern `*.key`: hidden files do not match.
        let hidden = entry.file_name().as_encoded_bytes().starts_with(b".");
        if !hidden && path.extension().is_some_and(|ext| ext == "key") {
            files.push(path);
        }
    }
    files.sort();
    let mut keys: Vec<CurveKey> = Vec::with_capacity(files.len());
    for file in files {
        let key = Certificate::load(&file)?.public;
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    Ok(keys)
}

// ---------------------------------------------------------------------------
// Reading

/// The file's text and (on unix) its permission bits, read from one open
/// handle so that the mode checked is the mode of the file read.
fn read_text(path: &Path) -> Result<(String, u32)> {
    const OPERATION: &str = "read the certificate";
    let fail = |reason: String| file_error(path, OPERATION, reason);
    let file = fs::File::open(path).map_err(|e| fail(e.to_string()))?;
    let info = file.metadata().map_err(|e| fail(e.to_string()))?;
    if info.is_dir() {
        return Err(fail(
            "it is a directory, not a certificate file".to_string(),
        ));
    }
    #[cfg(unix)]
    let mode = std::os::unix::fs::PermissionsExt::mode(&info.permissions());
    #[cfg(not(unix))]
    let mode = 0;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| fail(e.to_string()))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(fail(format!(
            "it is over {} KiB, too large for a certificate",
            MAX_FILE_BYTES >> 10
        )));
    }
    match String::from_utf8(bytes) {
        Ok(text) => Ok((text, mode)),
        Err(e) => {
            let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let line = good.iter().filter(|&&b| b == b'\n').count() + 1;
            Err(fail(format!("line {line} is not UTF-8 text")))
        }
    }
}

/// Fails unless group and others cannot read the secret certificate
/// `path`, whose permission bits are `mode`.
#[cfg(unix)]
fn check_private(path: &Path, mode: u32) -> Result<()> {
    if mode & READABLE_BY_OTHERS == 0 {
        return Ok(());
    }
    Err(file_error(
        path,
        "load the secret certificate",
        format!(
            "it holds a secret key, but its mode {:04o} lets {} read it; \
             make it private with `chmod 600 {}`",
            mode & 0o7777,
            match (mode & 0o040 != 0, mode & 0o004 != 0) {
                (true, true) => "group and others",
                (true, false) => "its group",
                _ => "others",
            },
            path.display()
        ),
    ))
}

/// No permission bits to check off unix.
#[cfg(not(unix))]
fn check_private(_: &Path, _: u32) -> Result<()> {
    Ok(())
}

/// A certificate from its ZPL text (see the module's documentation for
/// what is accepted); errors name `path` and the line.
fn parse(path: &Path, text: &str) -> Result<Certificate> {
    const OPERATION: &str = "load the certificate";
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut section: Option<&str> = None;
    let mut public: Option<(CurveKey, usize)> = None;
    let mut secret: Option<(CurveKey, usize)> = None;
    let mut metadata = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let number = index + 1;
        let line = raw.trim_end();
        let body = line.trim_start_matches([' ', '\t']);
        if body.is_empty() || body.starts_with('#') {
            continue;
        }
        let (name, value) = entry(body)
            .map_err(|reason| file_error(path, OPERATION, format!("line {number}: {reason}")))?;
        if body.len() == line.len() {
            // Not indented: a section heading (or a property of the root,
            // which no certificate has; it ends the section before it).
            section = value.is_none().then_some(name);
            continue;
        }
        match (section, name) {
            (None, _) => {
                return Err(file_error(
                    path,
                    OPERATION,
                    format!("line {number}: an indented entry outside any section"),
                ))
            }
            (Some("curve"), "public-key" | "secret-key") => {
                let slot = if name == "public-key" {
                    &mut public
                } else {
                    &mut secret
                };
                if let Some((_, first)) = slot {
                    return Err(file_error(
                        path,
                        OPERATION,
                        format!("line {number}: a second {name} (the first is on line {first})"),
                    ));
                }
                let value = value.unwrap_or_default();
                let key = CurveKey::from_z85(&value).map_err(|e| match e {
                    Error::Key { reason, .. } => Error::Key {
                        what: format!("{} ({name}, line {number})", path.display()),
                        reason,
                    },
                    other => other,
                })?;
                *slot = Some((key, number));
            }
            (Some("metadata"), _) => {
                metadata.push((name.to_string(), value.unwrap_or_default()));
            }
            _ => {}
        }
    }
    let Some((public, _)) = public else {
        return Err(file_error(
            path,
            OPERATION,
            "it has no public-key in a curve section (is it a ZeroMQ certificate?)",
        ));
    };
    Ok(Certificate {
        public,
        secret: secret.map(|(key, _)| key),
        metadata,
    })
}

/// One entry, `name`, `name = value` or `name = "value"`, with an optional
/// `# comment` after it: the name and the value, if there is an `=`.
fn entry(body: &str) -> std::result::Result<(&str, Option<String>), String> {
    let (name, value) = match body.split_once('=') {
        Some((name, rest)) if !name.contains('#') => (name.trim_end(), Some(value(rest)?)),
        _ => {
            let name = body.split_once('#').map_or(body, |(name, _)| name);
            (name.trim_end(), None)
        }
    };
    if name.is_empty() {
        return Err("an entry with no name before its '='".to_string());
    }
    if name.contains([' ', '\t']) && value.is_none() {
        return Err(format!("expected `name` or `name = value`, found {body:?}"));
    }
    Ok((name, value))
}

/// A value after its `=`: quoted (`"..."` or `'...'`, no escapes), or bare
/// up to a `#` comment.
fn value(rest: &str) -> std::result::Result<String, String> {
    let rest = rest.trim_start();
    let Some(quote) = rest.chars().next().filter(|&c| c == '"' || c == '\'') else {
        return Ok(bare_value(rest).to_string());
    };
    let inner = &rest[1..];
    let Some((value, after)) = inner.split_once(quote) else {
        return Err(format!("a value with no closing {quote}"));
    };
    let after = after.trim_start();
    if !after.is_empty() && !after.starts_with('#') {
        return Err(format!("{after:?} after the closing {quote}"));
    }
    Ok(value.to_string())
}

/// A bare value: up to a `#` that starts it or follows a space or tab (a
/// comment), without the spaces before that. CZMQ ends a bare value at any
/// `#`; a `#` inside a word is kept here, since Z85 keys and pyzmq's bare
/// metadata values (a URL's `#fragment`) can hold one.
fn bare_value(rest: &str) -> &str {
    let mut previous = ' ';
    for (at, c) in rest.char_indices() {
        if c == '#' && (previous == ' ' || previous == '\t') {
            return rest[..at].trim_end();
        }
        previous = c;
    }
    rest.trim_end()
}

// ---------------------------------------------------------------------------
// Writing

/// `    name = "value"\n`, or why the pair cannot be written so that both
/// pyzmq and CZMQ read it back.
fn metadata_line(name: &str, value: &str) -> std::result::Result<String, String> {
    let zpl_name_char = |c: char| {
        c.is_ascii_alphanumeric() || matches!(c, '$' | '-' | '_' | '@' | '.' | '&' | '+' | '/')
    };
    if name.is_empty() || !name.chars().all(zpl_name_char) {
        return Err(format!(
            "metadata name {name:?}: use ASCII letters, digits and $-_@.&+/ only"
        ));
    }
    if name.starts_with('/') || name.ends_with('/') {
        return Err(format!(
            "metadata name {name:?}: '/' cannot start or end a name"
        ));
    }
    if name.starts_with("public-key") || name.starts_with("secret-key") {
        return Err(format!(
            "metadata name {name:?}: pyzmq would read it as the certificate's key"
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(format!(
            "metadata {name}: the value {value:?} has a control character"
        ));
    }
    let quote = match (value.contains('"'), value.contains('\'')) {
        (false, _) => '"',
        (true, false) => '\'',
        (true, true) => {
            return Err(format!(
                "metadata {name}: the value {value:?} has both kinds of quote, which the format cannot hold"
            ))
        }
    };
    let line = format!("    {name} = {quote}{value}{quote}\n");
    if line.len() - 1 > MAX_LINE_BYTES {
        return Err(format!(
            "metadata {name}: the line would be {} bytes; CZMQ reads {MAX_LINE_BYTES} at most",
            line.len() - 1
        ));
    }
    Ok(line)
}

/// Writes `text` to a new file beside `path` with permission bits `mode`
/// (before the umask), then renames it over `path`.
fn write_replacing(path: &Path, text: &str, mode: u32, operation: &'static str) -> Result<()> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let fail = |reason: String| file_error(path, operation, reason);
    let Some(file_name) = path.file_name() else {
        return Err(fail("the path does not end in a file name".to_string()));
    };
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(file_name);
    temp_name.push(format!(
        ".tmp-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let temp = path.with_file_name(temp_name);
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(&temp).map_err(|e| fail(e.to_string()))?;
    let written = file
        .write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .and_then(|()| {
            drop(file);
            fs::rename(&temp, path)
        });
    written.map_err(|e| {
        let _ = fs::remove_file(&temp);
        fail(e.to_string())
    })
}

fn file_error(path: &Path, operation: &'static str, reason: impl Into<String>) -> Error {
    Error::File {
        path: path.to_path_buf(),
        operation,
        reason: reason.into(),
    }
}

/// `YYYY-MM-DD HH:MM:SS UTC` for the banner.
fn utc_timestamp(time: SystemTime) -> String {
    let seconds = time
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    let (year, month, day) = civil_from_days((seconds / 86_400) as i64);
    let rest = seconds % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

/// The proleptic Gregorian date of a day counted from 1970-01-01, by the
/// era arithmetic of Howard Hinnant's `civil_from_days`.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month as u32, day as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tx0mq_test_support::curve::{require_or_absent, Curve};
    use tx0mq_test_support::net::TempDir;

    use tx0mq_test_support::curve::rfc26::{
        CLIENT_PUBLIC, CLIENT_SECRET, SERVER_PUBLIC, SERVER_SECRET,
    };

    fn key(z85: &str) -> CurveKey {
        CurveKey::from_z85(z85).unwrap()
    }

    fn server() -> Certificate {
        Certificate {
            public: key(SERVER_PUBLIC),
            secret: Some(key(SERVER_SECRET)),
            metadata: vec![
                ("name".to_string(), "server one".to_string()),
                ("email".to_string(), "ops@example.com".to_string()),
            ],
        }
    }

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    #[cfg(unix)]
    fn chmod(path: &Path, mode: u32) {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }

    /// Writes `text` as the file `name` in `dir`, mode 0600.
    fn write(dir: &TempDir, name: &str, text: &str) -> PathBuf {
        let path = dir.dir().join(name);
        fs::write(&path, text).unwrap();
        #[cfg(unix)]
        chmod(&path, 0o600);
        path
    }

    /// The error's text, which must name `path`.
    fn error_naming(result: Result<Certificate>, path: &Path) -> String {
        let text = result.unwrap_err().to_string();
        assert!(
            text.contains(&path.display().to_string()),
            "{text:?} does not name {}",
            path.display()
        );
        text
    }

    #[test]
    fn saved_certificates_load_back_with_their_keys_and_metadata() {
        let dir = TempDir::new("cert-round");
        let cert = server();
        let public_file = dir.dir().join("server.key");
        let secret_file = dir.dir().join("server.key_secret");
        cert.save_public(&public_file).unwrap();
        cert.save_secret(&secret_file).unwrap();

        assert_eq!(Certificate::load(&secret_file).unwrap(), cert);
        let public = Certificate::load(&public_file).unwrap();
        assert_eq!(public.public, cert.public);
        assert_eq!(public.secret, None);
        assert_eq!(public.metadata, cert.metadata);
        assert_eq!(public.meta("name"), Some("server one"));
        assert_eq!(public.meta("nothing"), None);

        assert_eq!(
            load_certificate(&secret_file).unwrap(),
            (key(SERVER_PUBLIC), Some(key(SERVER_SECRET)))
        );
        assert_eq!(
            load_certificate(&public_file).unwrap(),
            (key(SERVER_PUBLIC), None)
        );
        // Saving again replaces the files.
        let client = Certificate {
            public: key(CLIENT_PUBLIC),
            secret: Some(key(CLIENT_SECRET)),
            metadata: vec![],
        };
        client.save_secret(&secret_file).unwrap();
        assert_eq!(Certificate::load(&secret_file).unwrap(), client);
        // No temporary file is left beside them.
        let mut names: Vec<String> = fs::read_dir(dir.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["server.key", "server.key_secret"]);
    }

    #[test]
    fn the_files_have_the_banner_and_sections_pyzmq_and_czmq_write() {
        let dir = TempDir::new("cert-text");
        let cert = server();
        let public_file = dir.dir().join("s.key");
        let secret_file = dir.dir().join("s.key_secret");
        cert.save_public(&public_file).unwrap();
        cert.save_secret(&secret_file).unwrap();
        let public = fs::read_to_string(&public_file).unwrap();
        let secret = fs::read_to_string(&secret_file).unwrap();
        let body =
            "\nmetadata\n    name = \"server one\"\n    email = \"ops@example.com\"\ncurve\n";
        for text in [&public, &secret] {
            let first = text.lines().next().unwrap();
            assert!(first.starts_with("#   Written by tx0mq on "), "{text}");
            assert!(first.ends_with(" UTC"), "{text}");
            let banner_end = text.find("\n\n").unwrap();
            assert!(
                text[..banner_end].lines().all(|l| l.starts_with('#')),
                "{text}"
            );
            assert!(text.contains(body), "{text}");
            assert!(
                text.contains(&format!("    public-key = \"{SERVER_PUBLIC}\"\n")),
                "{text}"
            );
        }
        assert!(public.ends_with(&format!("public-key = \"{SERVER_PUBLIC}\"\n")));
        assert!(!public.contains(SERVER_SECRET), "{public}");
        assert!(!public.contains("secret-key"), "{public}");
        assert!(secret.ends_with(&format!(
            "    public-key = \"{SERVER_PUBLIC}\"\n    secret-key = \"{SERVER_SECRET}\"\n"
        )));
        assert!(secret.contains("SECRET part"), "{secret}");
    }

    #[cfg(unix)]
    #[test]
    fn the_secret_file_is_private_from_its_creation() {
        let dir = TempDir::new("cert-mode");
        let cert = server();
        let secret_file = dir.dir().join("s.key_secret");
        // A world-readable file in the way keeps neither its mode nor its
        // inode: the new file is created 0600 and renamed over it.
        fs::write(&secret_file, "old").unwrap();
        chmod(&secret_file, 0o644);
        cert.save_secret(&secret_file).unwrap();
        assert_eq!(mode(&secret_file), 0o600);
        assert_eq!(Certificate::load(&secret_file).unwrap(), cert);

        let public_file = dir.dir().join("s.key");
        cert.save_public(&public_file).unwrap();
        assert_eq!(mode(&public_file) & 0o600, 0o600);
        assert_eq!(mode(&public_file) & 0o022, 0, "writable by others");
    }

    #[cfg(unix)]
    #[test]
    fn a_secret_file_others_can_read_is_refused_with_the_fix() {
        let dir = TempDir::new("cert-open");
        let cert = server();
        let secret_file = dir.dir().join("s.key_secret");
        cert.save_secret(&secret_file).unwrap();
        for (bits, who) in [
            (0o644, "group and others"),
            (0o640, "its group"),
            (0o604, "others"),
        ] {
            chmod(&secret_file, bits);
            let result = Certificate::load(&secret_file);
            assert!(matches!(result, Err(Error::File { .. })), "{result:?}");
            let text = error_naming(result, &secret_file);
            assert!(text.contains(&format!("mode {bits:04o}")), "{text}");
            assert!(text.contains(who), "{text}");
            assert!(
                text.contains(&format!("chmod 600 {}", secret_file.display())),
                "{text}"
            );
            assert!(load_certificate(&secret_file).is_err());
        }
        // Group or others may write or run it: only reading exposes the key.
        chmod(&secret_file, 0o620);
        assert_eq!(Certificate::load(&secret_file).unwrap(), cert);
        // A public certificate may be read by anyone.
        let public_file = dir.dir().join("s.key");
        cert.save_public(&public_file).unwrap();
        chmod(&public_file, 0o644);
        assert_eq!(Certificate::load(&public_file).unwrap().secret, None);
    }

    #[test]
    fn what_czmq_writes_loads() {
        let dir = TempDir::new("cert-czmq");
        // As zcert_save writes it: comments, a blank line, quoted values,
        // the metadata in the public file too.
        let public = write(
            &dir,
            "czmq.key",
            &format!(
                "#   (zcert_save's banner: a date, then what the file is)\n\
                 #   (and how to exchange it)\n\
                 \n\
                 metadata\n    email = \"ph@example.com\"\n    version = \"1\"\n\
                 curve\n    public-key = \"{CLIENT_PUBLIC}\"\n"
            ),
        );
        let cert = Certificate::load(&public).unwrap();
        assert_eq!(cert.public, key(CLIENT_PUBLIC));
        assert_eq!(cert.secret, None);
        assert_eq!(
            cert.metadata,
            [
                ("email".to_string(), "ph@example.com".to_string()),
                ("version".to_string(), "1".to_string())
            ]
        );
        let secret = write(
            &dir,
            "czmq.key_secret",
            &format!(
                "#   (the secret banner)\n\nmetadata\ncurve\n    \
                 public-key = \"{CLIENT_PUBLIC}\"\n    secret-key = \"{CLIENT_SECRET}\"\n"
            ),
        );
        assert_eq!(
            load_certificate(&secret).unwrap(),
            (key(CLIENT_PUBLIC), Some(key(CLIENT_SECRET)))
        );
    }

    #[test]
    fn what_pyzmq_writes_loads() {
        let dir = TempDir::new("cert-pyzmq");
        // pyzmq writes metadata values bare, and none in the public file.
        let secret = write(
            &dir,
            "py.key_secret",
            &format!(
                "#   (pyzmq's banner: a date, then what the file is)\n\
                 #   (and a warning to keep it private)\n\n\
                 metadata\n    name = the server  \n    url = http://example.com/#top\n\
                 \x20   note = bare # a comment\n    empty =\n    hash = #\n\
                 curve\n    public-key = \"{SERVER_PUBLIC}\"\n    secret-key = \"{SERVER_SECRET}\"\n"
            ),
        );
        let cert = Certificate::load(&secret).unwrap();
        assert_eq!(cert.public, key(SERVER_PUBLIC));
        assert_eq!(cert.secret, Some(key(SERVER_SECRET)));
        // A bare value ends at a '#' after a space: a comment.
        let pairs: Vec<(&str, &str)> = cert
            .metadata
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("name", "the server"),
                ("url", "http://example.com/#top"),
                ("note", "bare"),
                ("empty", ""),
                ("hash", ""),
            ]
        );
        // A bare key with a '#' in it is read whole.
        let hashed = format!("0000#{}", "0".repeat(35));
        let hashed_key = CurveKey::from_z85(&hashed).unwrap();
        let path = write(
            &dir,
            "bare.key",
            &format!("curve\n    public-key = {hashed}   # bare\n"),
        );
        assert_eq!(Certificate::load(&path).unwrap().public, hashed_key);
    }

    #[test]
    fn hand_edited_files_load() {
        let dir = TempDir::new("cert-hand");
        let text = format!(
            "\u{feff}# a comment\r\n\
             \r\n\
             other\r\n    ignored = \"x\"\r\n\
             metadata   # the owner\r\n\
             \tname='it''s'\r\n\
             \tquote = 'say \"hi\"'   # a comment after a value\r\n\
             \tflag\r\n\
             \x20\x20# an indented comment\r\n\
             curve\r\n\
             \x20\x20public-key='{SERVER_PUBLIC}'\r\n\
             \x20\x20\x20\x20\x20\x20secret-key   =   {SERVER_SECRET}   \r\n"
        );
        // 'it''s' is 'it' then junk after the closing quote: refused...
        let path = write(&dir, "hand.key_secret", &text);
        let err = error_naming(Certificate::load(&path), &path);
        assert!(err.contains("line 6"), "{err}");
        assert!(err.contains("after the closing '"), "{err}");
        // ...and without it the rest loads.
        let path = write(
            &dir,
            "hand.key_secret",
            &text.replace("'it''s'", "\"it's\""),
        );
        let cert = Certificate::load(&path).unwrap();
        assert_eq!(cert.public, key(SERVER_PUBLIC));
        assert_eq!(cert.secret, Some(key(SERVER_SECRET)));
        assert_eq!(
            cert.metadata,
            [
                ("name".to_string(), "it's".to_string()),
                ("quote".to_string(), "say \"hi\"".to_string()),
                ("flag".to_string(), String::new()),
            ]
        );
    }

    #[test]
    fn missing_and_unreadable_files_are_errors_naming_them() {
        let dir = TempDir::new("cert-unread");
        let missing = dir.dir().join("missing.key");
        let text = error_naming(Certificate::load(&missing), &missing);
        assert!(text.contains("cannot read the certificate"), "{text}");
        assert!(text.contains("No such file"), "{text}");
        assert!(load_certificate(&missing).is_err());

        let text = error_naming(Certificate::load(dir.dir()), dir.dir());
        assert!(text.contains("is a directory"), "{text}");

        let binary = dir.dir().join("binary.key");
        fs::write(&binary, b"metadata\ncurve\n    public-key = \"\xff\xfe\"\n").unwrap();
        let text = error_naming(Certificate::load(&binary), &binary);
        assert!(text.contains("line 3 is not UTF-8"), "{text}");

        let huge = dir.dir().join("huge.key");
        fs::write(&huge, vec![b'#'; (MAX_FILE_BYTES + 1) as usize]).unwrap();
        let text = error_naming(Certificate::load(&huge), &huge);
        assert!(text.contains("too large"), "{text}");
    }

    #[test]
    fn a_file_without_a_public_key_is_refused() {
        let dir = TempDir::new("cert-nokey");
        for (name, text) in [
            ("empty.key", String::new()),
            ("comments.key", "# only a comment\n\n".to_string()),
            ("nocurve.key", "metadata\n    name = \"x\"\n".to_string()),
            // In the wrong section, where CZMQ does not look either.
            (
                "misplaced.key",
                format!("metadata\n    public-key = \"{SERVER_PUBLIC}\"\ncurve\n"),
            ),
            (
                "secretonly.key",
                format!("curve\n    secret-key = \"{SERVER_SECRET}\"\n"),
            ),
        ] {
            let path = write(&dir, name, &text);
            let result = Certificate::load(&path);
            assert!(
                matches!(result, Err(Error::File { .. })),
                "{name}: {result:?}"
            );
            let text = error_naming(result, &path);
            assert!(text.contains("no public-key"), "{name}: {text}");
        }
    }

    #[test]
    fn malformed_keys_and_lines_are_errors_naming_the_file_and_line() {
        let dir = TempDir::new("cert-bad");
        let key_line = |value: &str| format!("metadata\ncurve\n    public-key = {value}\n");
        for (name, text, expected) in [
            ("short.key", key_line("\"abc\""), "3 characters"),
            (
                "long.key",
                key_line(&format!("\"{SERVER_PUBLIC}x\"")),
                "41 characters",
            ),
            // 32 characters are not taken for a raw key in a text file.
            (
                "raw.key",
                key_line(&format!("\"{}\"", &SERVER_PUBLIC[..32])),
                "32 characters",
            ),
            (
                "notz85.key",
                key_line(&format!("\"{}~\"", &SERVER_PUBLIC[..39])),
                "not Z85",
            ),
            (
                "nokey.key",
                "curve\n    public-key\n".to_string(),
                "0 characters",
            ),
        ] {
            let path = write(&dir, name, &text);
            let result = Certificate::load(&path);
            match &result {
                Err(Error::Key { what, .. }) => {
                    assert!(what.contains("public-key"), "{name}: {what}")
                }
                other => panic!("{name}: expected a key error, got {other:?}"),
            }
            let text = error_naming(result, &path);
            assert!(text.contains(expected), "{name}: {text}");
            assert!(text.contains("line "), "{name}: {text}");
        }
        let secret = write(
            &dir,
            "badsecret.key_secret",
            &format!("curve\n    public-key = \"{SERVER_PUBLIC}\"\n    secret-key = \"x\"\n"),
        );
        let text = error_naming(Certificate::load(&secret), &secret);
        assert!(text.contains("secret-key, line 3"), "{text}");

        for (name, text, expected) in [
            (
                "twice.key",
                format!(
                    "curve\n    public-key = \"{SERVER_PUBLIC}\"\n    public-key = \"{CLIENT_PUBLIC}\"\n"
                ),
                "line 3: a second public-key (the first is on line 2)",
            ),
            (
                "unclosed.key",
                format!("curve\n    public-key = \"{SERVER_PUBLIC}\n"),
                "line 2: a value with no closing \"",
            ),
            (
                "junk.key",
                format!("curve\n    public-key = \"{SERVER_PUBLIC}\" junk\n"),
                "line 2: \"junk\" after the closing \"",
            ),
            (
                "orphan.key",
                format!("    public-key = \"{SERVER_PUBLIC}\"\n"),
                "line 1: an indented entry outside any section",
            ),
            (
                "noname.key",
                "curve\n    = \"x\"\n".to_string(),
                "line 2: an entry with no name",
            ),
            (
                "words.key",
                "curve and more\n".to_string(),
                "line 1: expected `name` or `name = value`",
            ),
        ] {
            let path = write(&dir, name, &text);
            let result = Certificate::load(&path);
            assert!(matches!(result, Err(Error::File { .. })), "{name}: {result:?}");
            let text = error_naming(result, &path);
            assert!(text.contains(expected), "{name}: {text}");
        }
    }

    #[test]
    fn metadata_a_reader_would_misread_is_refused() {
        let dir = TempDir::new("cert-meta");
        let path = dir.dir().join("m.key");
        let with = |name: &str, value: &str| Certificate {
            public: key(SERVER_PUBLIC),
            secret: Some(key(SERVER_SECRET)),
            metadata: vec![(name.to_string(), value.to_string())],
        };
        let long = "x".repeat(MAX_LINE_BYTES);
        for (name, value, expected) in [
            ("", "v", "letters, digits"),
            ("my name", "v", "letters, digits"),
            ("nâme", "v", "letters, digits"),
            ("a=b", "v", "letters, digits"),
            ("/name", "v", "'/' cannot start or end"),
            ("public-key-owner", "v", "pyzmq would read it"),
            ("secret-key", "v", "pyzmq would read it"),
            ("note", "two\nlines", "control character"),
            ("note", "tab\there", "control character"),
            ("note", "both \" and '", "both kinds of quote"),
            ("note", &long, "CZMQ reads 1024 at most"),
        ] {
            for result in [
                with(name, value).save_public(&path),
                with(name, value).save_secret(&path),
            ] {
                let text = result.unwrap_err().to_string();
                assert!(text.contains(expected), "{name:?}={value:?}: {text}");
                assert!(text.contains(&path.display().to_string()), "{text}");
            }
            assert!(!path.exists(), "a refused certificate was written");
        }
        // What the format can hold round-trips, quotes included.
        let fine = Certificate {
            metadata: vec![
                ("say".to_string(), "\"hi\" # not a comment".to_string()),
                ("it".to_string(), "it's".to_string()),
                ("a.b/c$-_@&+9".to_string(), "  spaced  ".to_string()),
                ("empty".to_string(), String::new()),
                ("utf8".to_string(), "zoë ✓".to_string()),
            ],
            ..with("x", "y")
        };
        fine.save_secret(&path).unwrap();
        assert_eq!(Certificate::load(&path).unwrap(), fine);
    }

    #[test]
    fn a_certificate_without_its_secret_key_saves_no_secret_file() {
        let dir = TempDir::new("cert-nosecret");
        let path = dir.dir().join("p.key_secret");
        let cert = Certificate {
            public: key(CLIENT_PUBLIC),
            secret: None,
            metadata: vec![],
        };
        let text = cert.save_secret(&path).unwrap_err().to_string();
        assert!(text.contains("no secret key"), "{text}");
        assert!(!path.exists());
        let missing_dir = dir.dir().join("nowhere").join("p.key");
        let result = cert.save_public(&missing_dir);
        assert!(matches!(result, Err(Error::File { .. })), "{result:?}");
        let text = result.unwrap_err().to_string();
        assert!(text.contains(&missing_dir.display().to_string()), "{text}");
    }

    #[test]
    fn debug_output_never_shows_the_secret_key() {
        let cert = server();
        let shown = format!("{cert:?} {cert:#?}");
        assert!(!shown.contains(SERVER_SECRET), "{shown}");
        assert!(shown.contains(SERVER_PUBLIC), "{shown}");
        assert!(shown.contains("<hidden>"), "{shown}");
        assert!(shown.contains("server one"), "{shown}");
        let public = Certificate {
            secret: None,
            ..server()
        };
        assert!(format!("{public:?}").contains("secret: None"));
    }

    #[test]
    fn load_certificates_reads_every_public_certificate_in_a_directory() {
        let dir = TempDir::new("cert-dir");
        let server = server();
        let client = Certificate {
            public: key(CLIENT_PUBLIC),
            secret: Some(key(CLIENT_SECRET)),
            metadata: vec![],
        };
        assert_eq!(load_certificates(dir.dir()).unwrap(), []);
        client.save_public(dir.dir().join("b-client.key")).unwrap();
        client
            .save_secret(dir.dir().join("b-client.key_secret"))
            .unwrap();
        server.save_public(dir.dir().join("c-server.key")).unwrap();
        // The same key twice is one key.
        server.save_public(dir.dir().join("a-again.key")).unwrap();
        // Neither hidden files nor other names are read.
        write(&dir, ".hidden.key", "not a certificate");
        write(&dir, "notes.txt", "not a certificate");
        write(&dir, "c-server.key.bak", "not a certificate");
        assert_eq!(
            load_certificates(dir.dir()).unwrap(),
            [key(SERVER_PUBLIC), key(CLIENT_PUBLIC)]
        );

        // One bad certificate fails the directory, naming it.
        let bad = write(&dir, "d-bad.key", "curve\n    public-key = \"short\"\n");
        let text = load_certificates(dir.dir()).unwrap_err().to_string();
        assert!(text.contains(&bad.display().to_string()), "{text}");
        fs::remove_file(&bad).unwrap();
        // A world-readable secret certificate among them too.
        #[cfg(unix)]
        {
            let open = dir.dir().join("e-open.key");
            server.save_secret(&open).unwrap();
            chmod(&open, 0o644);
            let text = load_certificates(dir.dir()).unwrap_err().to_string();
            assert!(text.contains("chmod 600"), "{text}");
            assert!(text.contains(&open.display().to_string()), "{text}");
        }

        let missing = dir.dir().join("missing");
        let result = load_certificates(&missing);
        assert!(matches!(result, Err(Error::File { .. })), "{result:?}");
        let text = result.unwrap_err().to_string();
        assert!(
            text.contains("cannot list the certificate directory"),
            "{text}"
        );
        assert!(text.contains(&missing.display().to_string()), "{text}");
        let file = dir.dir().join("notes.txt");
        let text = load_certificates(&file).unwrap_err().to_string();
        assert!(text.contains(&file.display().to_string()), "{text}");
    }

    #[test]
    fn create_certificates_follows_the_libzmq_build() {
        let dir = TempDir::new("cert-create");
        let result = create_certificates(dir.dir(), "node", &[("name", "node one")]);
        match require_or_absent("create_certificates_follows_the_libzmq_build") {
            Curve::Available => {
                let (public_file, secret_file) = result.unwrap();
                assert_eq!(public_file, dir.dir().join("node.key"));
                assert_eq!(secret_file, dir.dir().join("node.key_secret"));
                #[cfg(unix)]
                assert_eq!(mode(&secret_file), 0o600);
                let secret = Certificate::load(&secret_file).unwrap();
                let public = Certificate::load(&public_file).unwrap();
                assert_eq!(public.public, secret.public);
                assert_eq!(public.secret, None);
                assert!(secret.secret.is_some_and(|s| s != secret.public));
                for cert in [&public, &secret] {
                    assert_eq!(cert.meta("name"), Some("node one"));
                }
                assert_eq!(load_certificates(dir.dir()).unwrap(), [secret.public]);
                // A second pair is a different pair.
                let (other, _) = create_certificates(dir.dir(), "other", &[]).unwrap();
                assert_ne!(load_certificate(other).unwrap().0, secret.public);
                assert_eq!(load_certificates(dir.dir()).unwrap().len(), 2);
            }
            Curve::Absent => {
                match result {
                    Err(Error::CurveUnavailable { what }) => {
                        assert!(what.contains("key pair"), "{what}")
                    }
                    other => panic!("expected CurveUnavailable, got {other:?}"),
                }
                assert_eq!(fs::read_dir(dir.dir()).unwrap().count(), 0);
            }
        }
    }

    #[test]
    fn create_certificates_wants_a_plain_file_name() {
        let dir = TempDir::new("cert-name");
        for name in ["", ".", "..", "a/b", "../up"] {
            let result = create_certificates(dir.dir(), name, &[]);
            assert!(
                matches!(result, Err(Error::File { .. })),
                "{name:?}: {result:?}"
            );
            let text = result.unwrap_err().to_string();
            assert!(text.contains("not a plain file name"), "{text}");
        }
        // Metadata the format cannot hold leaves no file behind (checked
        // only where keys can be generated at all).
        let result = create_certificates(dir.dir(), "n", &[("bad name", "v")]);
        match require_or_absent("create_certificates_wants_a_plain_file_name") {
            Curve::Available => {
                let text = result.unwrap_err().to_string();
                assert!(text.contains("letters, digits"), "{text}");
            }
            Curve::Absent => assert!(matches!(result, Err(Error::CurveUnavailable { .. }))),
        }
        assert_eq!(fs::read_dir(dir.dir()).unwrap().count(), 0);
    }

    #[test]
    fn banner_dates_are_utc_calendar_dates() {
        let at = |seconds: u64| utc_timestamp(UNIX_EPOCH + std::time::Duration::from_secs(seconds));
        assert_eq!(at(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(at(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(at(1_709_164_800), "2024-02-29 00:00:00 UTC");
        assert_eq!(at(4_102_444_799), "2099-12-31 23:59:59 UTC");
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }
}
