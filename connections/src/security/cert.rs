// TEMPORARY local stand-in until the certificates module lands; not committed.
use super::keys::CurveKey;
use crate::error::{Error, Result};
use std::path::Path;
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
