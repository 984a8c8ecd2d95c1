//! What pyzmq's `pubsub/publisher.py` and `subscriber.py` share (not an
//! example itself): the synchronization endpoint, the publisher's port plus
//! one, where a REQ/REP exchange (`READY`, then `GO`) tells the publisher
//! that the subscriber is connected.
#![allow(dead_code)]

/// `tcp://host:PORT` with PORT + 1, as the originals compute it: the text
/// after the last `:` must be a port number below 65535.
pub fn sync_endpoint(endpoint: &str) -> Result<String, String> {
    let (head, port) = endpoint
        .rsplit_once(':')
        .ok_or_else(|| format!("{endpoint:?} has no port to add one to"))?;
    let port: u16 = port
        .parse()
        .map_err(|_| format!("{endpoint:?}: {port:?} is not a port number"))?;
    let next = port
        .checked_add(1)
        .ok_or_else(|| format!("{endpoint:?}: no port after {port}"))?;
    Ok(format!("{head}:{next}"))
}

#[cfg(test)]
mod tests {
    use super::sync_endpoint;

    #[test]
    fn the_port_after() {
        assert_eq!(
            sync_endpoint("tcp://127.0.0.1:5555").as_deref(),
            Ok("tcp://127.0.0.1:5556")
        );
        assert!(sync_endpoint("inproc://x").is_err());
        assert!(sync_endpoint("tcp://*:65535").is_err());
    }
}
