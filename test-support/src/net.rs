//! Endpoints no other test uses: free TCP ports, `ipc://` files in a
//! temporary directory, unique `inproc://` names. Tests run in parallel, and
//! several test binaries may run at once, so nothing here is a fixed name.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Bind here and read the connection's `last_endpoint()` for a port the OS
/// chose: the race-free way to a free TCP port.
pub const TCP_ANY: &str = "tcp://127.0.0.1:*";

/// A free TCP port on 127.0.0.1, bound and released. Another process could
/// take it in between; good enough for a child process that binds it at
/// once. Prefer [`TCP_ANY`] where the binding side can report its port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// `tcp://127.0.0.1:PORT` on a [`free_port`].
pub fn tcp() -> String {
    format!("tcp://127.0.0.1:{}", free_port())
}

/// `name` made unique in this machine's running tests: the process id and a
/// counter are appended.
pub fn unique(name: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{name}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// An `inproc://` address no other test uses.
pub fn inproc(name: &str) -> String {
    format!("inproc://{}", unique(name))
}

/// An `ipc://` address (a socket file in the system's temporary directory)
/// no other test uses. libzmq removes the file when the bound socket
/// closes; use a [`TempDir`] when a crash must not leave it behind, or for
/// endpoints a child process binds.
pub fn ipc(name: &str) -> String {
    let path = std::env::temp_dir().join(format!("tx0mq-{}", unique(name)));
    format!("ipc://{}", path.display())
}

/// A fresh temporary directory, unique to the test, removed with everything
/// in it when dropped: for `ipc://` endpoints and scratch files.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// Creates `<tmp>/tx0mq-<label>-<pid>-<n>`. Keep `label` short: a unix
    /// socket's path is limited to 107 bytes.
    pub fn new(label: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("tx0mq-{}", unique(label)));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        TempDir(dir)
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.0
    }

    /// `ipc://<dir>/<name>`.
    pub fn ipc(&self, name: &str) -> String {
        format!("ipc://{}", self.0.join(name).display())
    }

    /// `<dir>/<name>`, as text (for a command line).
    pub fn path(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
