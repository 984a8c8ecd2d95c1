//! The log capture: per thread by default, every thread with `AllThreads`.

use log::Level;
use tx0mq_test_support::log as logs;

#[test]
fn records_are_per_thread_and_queryable() {
    logs::capture();
    log::warn!("warned twice");
    log::warn!("warned twice");
    log::debug!("a detail");
    std::thread::spawn(|| log::error!("on another thread"))
        .join()
        .unwrap();
    assert_eq!(logs::count(Level::Warn, "twice"), 2);
    assert!(logs::contains(Level::Debug, "detail"));
    assert!(!logs::contains(Level::Error, "another thread"));
    assert_eq!(logs::errors(), Vec::<String>::new());
    assert_eq!(logs::records().len(), 3);
}

#[test]
fn errors_during_returns_the_errors_logged_meanwhile() {
    logs::capture();
    log::error!("before");
    let errors = logs::errors_during(|| {
        log::warn!("not an error");
        log::error!("during");
    });
    assert_eq!(errors, ["during"]);
}

#[test]
fn all_threads_sees_other_threads_while_it_lives() {
    let all = logs::AllThreads::start();
    let marker = format!("from a helper thread {:?}", std::thread::current().id());
    let text = marker.clone();
    std::thread::spawn(move || log::info!("{text}"))
        .join()
        .unwrap();
    assert!(all.contains(Level::Info, &marker), "{:?}", all.records());
}
