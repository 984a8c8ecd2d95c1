//! A process out of file descriptors: connection creation fails with an
//! error that says so (alone in its test binary: the limit is process-wide).

use tx0mq_connections::{Error, ZmqEndpoint, ZmqFactory, ZmqPullConnection};
use tx0mq_reactor::Reactor;
use tx0mq_test_support::limits::lower_open_files;

#[test]
fn running_out_of_file_descriptors_is_named_as_such_not_as_the_socket_limit() {
    let reactor = Reactor::builder().handle_signals(false).build().unwrap();
    let factory = ZmqFactory::new(&reactor).unwrap();
    assert!(lower_open_files(200), "could not lower the open-file limit");
    let mut open = Vec::new();
    let err = loop {
        let endpoint = ZmqEndpoint::bind(format!("inproc://fd-limit-{}", open.len()));
        match ZmqPullConnection::new(&factory, endpoint) {
            Ok(pull) => open.push(pull),
            Err(e) => break e,
        }
        assert!(open.len() < 1_000, "no failure with 200 descriptors");
    };
    assert!(
        open.len() < 200,
        "{} connections on 200 descriptors",
        open.len()
    );
    assert!(matches!(err, Error::SocketLimit { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("out of file descriptors"), "{message}");
    assert!(message.contains("ulimit -n"), "{message}");
    drop(open);
    factory.shutdown();
}
