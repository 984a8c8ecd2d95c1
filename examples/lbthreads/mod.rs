//! The worker and client threads of the load-balancing brokers `lbbroker`,
//! `lbbroker2` and `lbbroker3` (the zguide's three Python versions repeat
//! them): plain blocking REQ sockets on the broker's context, each on a
//! thread of its own.

use tx0mq::connections::{zmq, ZmqContext};

/// Worker using a REQ socket to do load balancing.
pub fn worker_thread(worker_url: &str, context: &ZmqContext, i: usize) -> zmq::Result<()> {
    let socket = context.socket(zmq::REQ)?;
    // set worker identity
    let identity = format!("Worker-{i}");
    socket.set_identity(identity.as_bytes())?;
    socket.connect(worker_url)?;

    // Tell the broker we are ready for work
    socket.send("READY", 0)?;
    loop {
        let [address, _empty, request] = &socket.recv_multipart(0)?[..] else {
            log::warn!("{identity}: dropped a request that is not [address, \"\", request]");
            socket.send("", 0)?; // a REQ socket must answer before it can receive again
            continue;
        };
        println!("{identity}: {}", String::from_utf8_lossy(request));
        socket.send_multipart([&address[..], b"", b"OK"], 0)?;
    }
}

/// Basic request-reply client using a REQ socket.
pub fn client_thread(client_url: &str, context: &ZmqContext, i: usize) -> zmq::Result<()> {
    let socket = context.socket(zmq::REQ)?;
    // Set client identity. Makes tracing easier
    let identity = format!("Client-{i}");
    socket.set_identity(identity.as_bytes())?;
    socket.connect(client_url)?;

    // Send request, get reply
    socket.send("HELLO", 0)?;
    let reply = socket.recv_bytes(0)?;
    println!("{identity}: {}", String::from_utf8_lossy(&reply));
    Ok(())
}
