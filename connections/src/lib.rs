//! ZeroMQ connections on the tx0mq reactor (in progress).
#![deny(missing_docs)]
