// TEMPORARY local stand-in until the certificates module lands; not committed.
use super::keys::CurveKey;
use crate::error::{Error, Result};
use std::path::Path;
/// Temporary.
pub fn load_certificates(dir: &Path) -> Result<Vec<CurveKey>> {
    let mut keys = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| Error::File {
        path: dir.to_path_buf(),
        operation: "read the certificate directory",
        reason: e.to_string(),
    })?;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "key") {
            let text = std::fs::read_to_string(&path).map_err(|e| Error::File {
                path: path.clone(),
                operation: "read the certificate",
                reason: e.to_string(),
            })?;
            for line in text.lines() {
                if let Some(rest) = line.trim().strip_prefix("public-key") {
                    let z = rest.trim().trim_start_matches('=').trim().trim_matches('"');
                    keys.push(CurveKey::from_z85(z)?);
                }
            }
        }
    }
    Ok(keys)
}
/// Temporary.
pub fn load_certificate(path: impl AsRef<Path>) -> Result<(CurveKey, Option<CurveKey>)> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|e| Error::File {
        path: path.to_path_buf(),
        operation: "read the certificate",
        reason: e.to_string(),
    })?;
    let mut public = None;
    let mut secret = None;
    for line in text.lines() {
        let line = line.trim();
        for (name, slot) in [("public-key", &mut public), ("secret-key", &mut secret)] {
            if let Some(rest) = line.strip_prefix(name) {
                let z = rest.trim().trim_start_matches('=').trim().trim_matches('"');
                *slot = Some(CurveKey::from_z85(z)?);
            }
        }
    }
    Ok((
        public.ok_or_else(|| Error::File {
            path: path.to_path_buf(),
            operation: "read the certificate",
            reason: "no public key".into(),
        })?,
        secret,
    ))
}
