//! Process limits that tests with thousands of sockets or connections need.

/// The soft and hard open-file limits (`RLIMIT_NOFILE`), if readable.
#[allow(unsafe_code)]
fn open_files() -> Option<libc::rlimit> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own.
    (unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0).then_some(limit)
}

/// Sets the soft open-file limit to `soft` (at most the hard limit);
/// whether it was set.
#[allow(unsafe_code)]
fn set_open_files(limit: libc::rlimit, soft: libc::rlim_t) -> bool {
    let wanted = libc::rlimit {
        rlim_cur: soft.min(limit.rlim_max),
        rlim_max: limit.rlim_max,
    };
    // SAFETY: setrlimit reads the struct we own.
    unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &wanted) == 0 }
}

/// Raises this process's soft open-file limit to at least `wanted`, as far
/// as the hard limit allows, and returns the soft limit it leaves. Many
/// systems start processes at 1,024, below what a test of 5,000 sockets
/// needs; the caller asserts on the result, so a machine whose hard limit
/// is too low fails the test with the figure.
pub fn raise_open_files(wanted: u64) -> u64 {
    let Some(limit) = open_files() else {
        return 0;
    };
    if wanted > limit.rlim_cur && set_open_files(limit, wanted) {
        return wanted.min(limit.rlim_max);
    }
    limit.rlim_cur
}

/// Lowers this process's soft open-file limit to `limit` (for a test of
/// what happens when a process runs out of descriptors; run it in a test
/// binary of its own, since the limit is process-wide). Returns whether the
/// limit was set.
pub fn lower_open_files(limit: u64) -> bool {
    open_files().is_some_and(|current| set_open_files(current, limit))
}
