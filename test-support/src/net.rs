//! Endpoints no other test uses: free TCP ports, `ipc://` files in a
//! temporary directory, unique `inproc://` names. Tests run in parallel, and
//! several test binaries may run at once, so nothing here is a fixed name.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Bind here and read the connection's `last_endpoint()` for a port the OS
/// chose: the race-free way to a free TCP port.
pub const TCP_ANY: &str = "tcp://127.0.0.1:*";

/// A free TCP port on 127.0.0.1 that a child process can bind at once.
/// Prefer [`TCP_ANY`] where the binding side can report its port.
///
/// The port is taken from below the kernel's ephemeral range
/// (`net.ipv4.ip_local_port_range`), not from it: a port the kernel hands
/// out for `bind(0)` is one it also hands out as the source port of any
/// outgoing connection, so between our release and the child's bind, any
/// test's `connect` could take it. Below the range only an explicit bind
/// can. Each process starts at its own place in that range and never gives
/// the same port twice, and a port is given only if 127.0.0.1 and the
/// wildcard address both bind it now.
pub fn free_port() -> u16 {
    free_ports(1)
}

/// The first of `count` consecutive free ports (as [`free_port`]), for a
/// program that takes a base port and uses the ones after it (a Clone
/// server's three). None of them is given again by this process.
pub fn free_ports(count: u16) -> u16 {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let (low, high) = ports_below_ephemeral();
    let span = usize::from(high - low);
    let count = count.max(1);
    let start = (std::process::id() as usize).wrapping_mul(7919) % span;
    for _ in 0..span {
        let offset = (start + NEXT.fetch_add(usize::from(count), Ordering::Relaxed)) % span;
        let Ok(offset) = u16::try_from(offset) else {
            continue;
        };
        let base = low + offset;
        if u32::from(base) + u32::from(count) > u32::from(high) {
            continue;
        }
        if (base..base + count).all(binds) {
            return base;
        }
    }
    // Every port below the range is taken: let the kernel choose.
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The ports [`free_port`] chooses from: 10000 up to the start of the
/// ephemeral range (32768 when it cannot be read).
fn ports_below_ephemeral() -> (u16, u16) {
    const LOW: u16 = 10_000;
    let first_ephemeral = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u16>().ok())
        .filter(|&first| first > LOW + 1_000)
        .unwrap_or(32_768);
    (LOW, first_ephemeral)
}

/// Whether both 127.0.0.1 and 0.0.0.0 can bind `port` now (examples bind
/// either).
fn binds(port: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
        && std::net::TcpListener::bind(("0.0.0.0", port)).is_ok()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_ports_are_distinct_bindable_and_below_the_ephemeral_range() {
        let (low, high) = ports_below_ephemeral();
        let ports: Vec<u16> = (0..200).map(|_| free_port()).collect();
        let distinct: std::collections::HashSet<u16> = ports.iter().copied().collect();
        assert_eq!(
            distinct.len(),
            ports.len(),
            "a port was given twice: {ports:?}"
        );
        for &port in &ports {
            assert!(
                (low..high).contains(&port),
                "{port} is outside {low}..{high}"
            );
        }
        let last = ports[ports.len() - 1];
        std::net::TcpListener::bind(("127.0.0.1", last)).expect("the port binds");
    }

    #[test]
    fn a_block_of_ports_is_free_and_shares_no_port_with_the_next() {
        let first = free_ports(3);
        let next = free_port();
        assert!((first..first + 3).all(binds));
        assert!(
            !(first..first + 3).contains(&next),
            "{next} is in {first}..+3"
        );
    }

    #[test]
    fn a_port_someone_listens_on_is_not_given() {
        let taken = free_port();
        let _listener = std::net::TcpListener::bind(("127.0.0.1", taken)).expect("bind");
        assert!(!binds(taken));
    }
}
