//! `serialsocket.py`, pyzmq's serialization example
//! (`examples/serialization/` in pyzmq): a socket class with two pairs of
//! extra methods, `send_zipped_pickle`/`recv_zipped_pickle` (pickle, then
//! zlib; it prints the compressed size) and `send_array`/`recv_array` (a
//! numpy array as two frames: JSON metadata with its dtype and shape, then
//! its raw bytes). A REQ and a REP over `inproc://a`: the REQ sends a
//! 1024×1024 array of ones zipped and pickled, the REP sends the array back
//! with `send_array`, and both copies are checked against the original.
//!
//! The port: the socket class's methods are two
//! [`Codec`](tx0mq::connections::serial::Codec)s, which is what the library
//! has for pyzmq's `send_serialized`/`recv_serialized`. The zipped pickle
//! is serde (JSON, through serde_json) compressed with zlib (flate2); the
//! numpy array is a typed array (`Array`, float64) whose frames are the
//! original's: one frame of JSON metadata `{"dtype":"float64","shape":[1024,1024]}`,
//! then the data's bytes, little-endian. The sockets are a REQ and a REP
//! connection on the reactor: the request goes with `send_msg`, the REP
//! replies from its `got_message` callback, and the REQ's Deferred fires
//! with the reply; nothing blocks.
//!
//! ```text
//! cargo run --example serialsocket
//! cargo run --example serialsocket -- --endpoint tcp://127.0.0.1:5555 --rows 64 --cols 64
//! ```
//!
//! It prints the original's lines. The sizes are the port's own: `Array is
//! 8192 bytes` is, as in the original, `len(A) * 8` with `len(A)` the
//! number of rows; the zipped size is that of zlib-compressed JSON, not of
//! a zipped pickle.
//!
//! ```text
//! Array is 8192 bytes
//! zipped pickle is 4139 bytes
//! Checking zipped pickle...
//! Okay
//! Checking send_array...
//! Okay
//! ```
//!
//! `--endpoint` (default `inproc://a`) is where the REP binds and the REQ
//! connects; `--rows` and `--cols` (default 1024 each) are the array's
//! shape. A message that does not decode is printed, naming the
//! connection, and the run fails.

use std::cell::RefCell;
use std::error::Error;
use std::io::{Read, Write};
use std::process::ExitCode;
use std::rc::Rc;

use clap::Parser;
use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;
use flate2::Compression;
use serde::{Deserialize, Serialize};
use tx0mq::connections::serial::{Codec, CodecError};
use tx0mq::connections::{
    Frame, Multipart, ZmqEndpoint, ZmqFactory, ZmqRepConnection, ZmqReqConnection,
};
use tx0mq::Reactor;

mod pyport;

/// pyzmq's `serialsocket.py`: zipped pickles and arrays over REQ/REP.
#[derive(Parser, Debug)]
struct Args {
    /// Where the REP binds and the REQ connects.
    #[arg(long, default_value = "inproc://a")]
    endpoint: String,
    /// The array's rows (the original's 1024).
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=4096))]
    rows: u32,
    /// The array's columns (the original's 1024).
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=4096))]
    cols: u32,
}

/// The most a zipped message may unzip to: a peer's zlib bomb is refused,
/// not buffered.
const MAX_UNZIPPED: u64 = 256 << 20;

/// A float64 array of any shape (what the original's numpy array is here).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Array {
    /// numpy's `dtype` name; the port has `float64` only.
    dtype: String,
    shape: Vec<usize>,
    data: Vec<f64>,
}

impl Array {
    /// `numpy.ones(shape)`.
    fn ones(shape: Vec<usize>) -> Array {
        let len = shape.iter().product();
        Array {
            dtype: "float64".into(),
            shape,
            data: vec![1.0; len],
        }
    }
}

/// `send_zipped_pickle`/`recv_zipped_pickle`: the value serialized (serde,
/// JSON) and compressed (zlib), in one frame.
struct ZippedPickle;

impl<T: Serialize + for<'de> Deserialize<'de>> Codec<T> for ZippedPickle {
    fn encode(&self, value: &T) -> Result<Multipart, CodecError> {
        let pickled = serde_json::to_vec(value)?;
        let mut zipper = ZlibEncoder::new(Vec::new(), Compression::default());
        zipper.write_all(&pickled)?;
        let zipped = zipper.finish()?;
        println!("zipped pickle is {} bytes", zipped.len());
        Ok(Multipart::from(vec![Frame::from(zipped)]))
    }

    fn decode(&self, frames: &[Frame]) -> Result<T, CodecError> {
        let [zipped] = frames else {
            return Err(format!("a zipped pickle is 1 frame, not {}", frames.len()).into());
        };
        let mut pickled = Vec::new();
        ZlibDecoder::new(&zipped[..])
            .take(MAX_UNZIPPED + 1)
            .read_to_end(&mut pickled)
            .map_err(|e| format!("not zlib data: {e}"))?;
        if pickled.len() as u64 > MAX_UNZIPPED {
            return Err(format!("unzips to more than {MAX_UNZIPPED} bytes").into());
        }
        Ok(serde_json::from_slice(&pickled)?)
    }
}

/// The metadata frame of `send_array`: pyzmq's `dict(dtype=..., shape=...)`.
#[derive(Serialize, Deserialize)]
struct ArrayMeta {
    dtype: String,
    shape: Vec<usize>,
}

/// `send_array`/`recv_array`: JSON metadata, then the raw data
/// (float64, little-endian: numpy's `<f8`).
struct ArrayFrames;

impl Codec<Array> for ArrayFrames {
    fn encode(&self, array: &Array) -> Result<Multipart, CodecError> {
        let meta = ArrayMeta {
            dtype: array.dtype.clone(),
            shape: array.shape.clone(),
        };
        let mut data = Vec::with_capacity(array.data.len() * 8);
        for x in &array.data {
            data.extend_from_slice(&x.to_le_bytes());
        }
        Ok(Multipart::from(vec![
            Frame::from(serde_json::to_vec(&meta)?),
            Frame::from(data),
        ]))
    }

    fn decode(&self, frames: &[Frame]) -> Result<Array, CodecError> {
        let [meta, data] = frames else {
            return Err(format!("an array is 2 frames, not {}", frames.len()).into());
        };
        let meta: ArrayMeta = serde_json::from_slice(meta)?;
        if meta.dtype != "float64" {
            return Err(format!("dtype {:?}: only float64 is known here", meta.dtype).into());
        }
        let len = meta
            .shape
            .iter()
            .try_fold(1usize, |n, &d| n.checked_mul(d))
            .ok_or("the shape's size overflows")?;
        if len.checked_mul(8) != Some(data.len()) {
            return Err(format!(
                "shape {:?} needs {len} float64s, the data frame has {} bytes",
                meta.shape,
                data.len()
            )
            .into());
        }
        let data = data
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
            .collect();
        Ok(Array {
            dtype: meta.dtype,
            shape: meta.shape,
            data,
        })
    }
}

/// B, the array the REP unzipped, waiting for the REQ's check.
type Unzipped = Rc<RefCell<Option<Array>>>;

fn run(args: Args) -> Result<(), Box<dyn Error>> {
    let reactor = Reactor::builder().build()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();
    let rep = ZmqRepConnection::new(&factory, ZmqEndpoint::bind(&args.endpoint))?;
    let req = ZmqReqConnection::new(&factory, ZmqEndpoint::connect(&args.endpoint))?;

    let a = Array::ones(vec![args.rows as usize, args.cols as usize]);
    println!("Array is {} bytes", args.rows as usize * 8);

    // The REP: B = recv_zipped_pickle(), then send_array(A).
    let unzipped: Unzipped = Rc::default();
    let (original, b_slot) = (a.clone(), unzipped.clone());
    rep.got_message(move |cx, message_id, message| {
        match ZippedPickle.decode(&message) {
            Ok(b) => *b_slot.borrow_mut() = Some(b),
            Err(e) => println!("E: {:?}: cannot unzip the request: {e}", cx.conn),
        }
        let frames = ArrayFrames.encode(&original).map_err(|e| e.to_string())?;
        cx.conn
            .reply(&message_id, frames)
            .map_err(|e| e.to_string())
    });

    // The REQ: send_zipped_pickle(A), then C = recv_array(), then the checks.
    let request = ZippedPickle.encode(&a).map_err(|e| e as Box<dyn Error>)?;
    let stopper = reactor.clone();
    let outcome: Rc<RefCell<Option<Result<(), String>>>> = Rc::default();
    let slot = outcome.clone();
    reactor.spawn(async move {
        let checked = check(&req, request, &a, &unzipped).await;
        *slot.borrow_mut() = Some(checked.map_err(|e| e.to_string()));
        if let Err(e) = stopper.stop() {
            println!("E: {e}");
        }
    });
    reactor.run()?;
    let outcome = outcome.borrow_mut().take();
    match outcome {
        Some(Ok(())) => Ok(()),
        Some(Err(e)) => Err(e.into()),
        None => Err("the reactor stopped before the reply came".into()),
    }
}

/// Sends the zipped pickle, reads the array that comes back, and prints
/// the original's two checks.
async fn check(
    req: &ZmqReqConnection,
    request: Multipart,
    a: &Array,
    unzipped: &Unzipped,
) -> Result<(), Box<dyn Error>> {
    let reply = req.send_msg(request).await?;
    let c = ArrayFrames
        .decode(&reply)
        .map_err(|e| format!("{req:?}: the reply is not an array: {e}"))?;
    let b = unzipped.borrow_mut().take();
    println!("Checking zipped pickle...");
    println!(
        "{}",
        if b.as_ref() == Some(a) {
            "Okay"
        } else {
            "Failed"
        }
    );
    println!("Checking send_array...");
    println!(
        "{}",
        if b.as_ref() == Some(&c) {
            "Okay"
        } else {
            "Failed"
        }
    );
    Ok(())
}

fn main() -> ExitCode {
    pyport::main(run)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_array_round_trips_in_pyzmqs_two_frames() {
        let a = Array {
            dtype: "float64".into(),
            shape: vec![2, 2],
            data: vec![1.0, -2.5, 0.0, 4.0],
        };
        let frames = ArrayFrames.encode(&a).unwrap();
        assert_eq!(&frames[0][..], br#"{"dtype":"float64","shape":[2,2]}"#);
        assert_eq!(&frames[1][..8], &1.0f64.to_le_bytes());
        assert_eq!(ArrayFrames.decode(&frames).unwrap(), a);
    }

    #[test]
    fn pyzmqs_metadata_with_spaces_decodes() {
        let frames = [
            Frame::from(&br#"{"dtype": "float64", "shape": [1]}"#[..]),
            Frame::from(&2.0f64.to_le_bytes()[..]),
        ];
        assert_eq!(ArrayFrames.decode(&frames).unwrap().data, [2.0]);
    }

    #[test]
    fn a_bad_array_is_refused_saying_why() {
        let meta = |text: &str| Frame::from(text.as_bytes());
        let e = ArrayFrames
            .decode(&[
                meta(r#"{"dtype":"float64","shape":[3]}"#),
                Frame::from(&[0u8; 16][..]),
            ])
            .unwrap_err();
        assert!(e.to_string().contains("needs 3 float64s"), "{e}");
        let e = ArrayFrames
            .decode(&[
                meta(r#"{"dtype":"int8","shape":[1]}"#),
                Frame::from(&[0u8][..]),
            ])
            .unwrap_err();
        assert!(e.to_string().contains("int8"), "{e}");
        assert!(ArrayFrames.decode(&[meta("{}")]).is_err());
    }

    #[test]
    fn the_zipped_pickle_round_trips_and_refuses_what_is_not_zlib() {
        let a = Array::ones(vec![3, 4]);
        let frames = ZippedPickle.encode(&a).unwrap();
        let back: Array = ZippedPickle.decode(&frames).unwrap();
        assert_eq!(back, a);
        let e = Codec::<Array>::decode(&ZippedPickle, &[Frame::from(&b"plain"[..])]).unwrap_err();
        assert!(e.to_string().contains("not zlib data"), "{e}");
    }
}
