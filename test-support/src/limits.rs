//! Process limits that tests with thousands of sockets or connections need.

/// Raises this process's soft open-file limit (`RLIMIT_NOFILE`) to at least
/// `wanted`, as far as the hard limit allows, and returns the soft limit it
/// leaves. Many systems start processes at 1,024, below what a test of
/// 5,000 sockets needs; the caller asserts on the result, so a machine whose
/// hard limit is too low fails the test with the figure.
#[allow(unsafe_code)]
pub fn raise_open_files(wanted: u64) -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return 0;
    }
    let target = wanted.min(limit.rlim_max);
    if target > limit.rlim_cur {
        let raised = libc::rlimit {
            rlim_cur: target,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: setrlimit reads the struct we own.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            limit.rlim_cur = target;
        }
    }
    limit.rlim_cur
}

/// Lowers this process's soft open-file limit to `limit` (for a test of
/// what happens when a process runs out of descriptors; run it in a test
/// binary of its own, since the limit is process-wide). Returns whether the
/// limit was set.
#[allow(unsafe_code)]
pub fn lower_open_files(limit: u64) -> bool {
    let mut current = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut current) } != 0 {
        return false;
    }
    let lowered = libc::rlimit {
        rlim_cur: limit.min(current.rlim_max),
        rlim_max: current.rlim_max,
    };
    // SAFETY: setrlimit reads the struct we own.
    unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lowered) == 0 }
}
