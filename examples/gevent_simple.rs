//! `gevent/simple.py`, pyzmq's first green-socket example: a PUSH socket
//! binds `ipc:///tmp/zmqtest` and greenlets send five Python objects with
//! `send_pyobj` (pickled), at once and then one a second (a tuple, a dict,
//! a nested tuple, the string `foobar`, then `quit`); a PULL socket connects
//! and a greenlet prints each object as it arrives, until `quit`; meanwhile a
//! callback rescheduling itself prints `printing every half second`.
//!
//! The port: green threads become callbacks on the reactor.
//! `spawn_later(t, f)` is `call_later(t, f)`; the receiving greenlet is the
//! PULL connection's `on_pull` callback, which stops the reactor on `quit`
//! (the original's `spawn(get_objs).join()`); `print_every` is a timer
//! rescheduling itself. The objects travel as pickles, as `send_pyobj`
//! sends them, so a pyzmq peer's `recv_pyobj`/`send_pyobj` reads ours and
//! we read theirs: the port writes pickle protocol 2 and reads the opcodes
//! Python's pickle uses for strings, integers, tuples, lists, dicts,
//! `None` and booleans (protocols 2 to 5); any other opcode is reported as
//! a malformed message and the object skipped.
//!
//! ```text
//! cargo run --example gevent_simple -- [--endpoint ipc:///tmp/zmqtest]
//!     [--unit-ms 1000] [--print-ms 500] [--role both|push|pull]
//! ```
//!
//! It prints `<class 'zmq.green.core._Context'>` where the original prints
//! its context class (the port prints `<class 'tx0mq::connections::ZmqFactory'>`),
//! `printing every half second` every half second, `received python
//! object: ('this', 'is', 'a', 'python', 'tuple')`, `received python object:
//! {'hi': 1234}`, `received python object: ({'this': ['is a more
//! complicated object', ':)']}, 42, 42, 42)`, `received python object:
//! foobar`, `received python object: quit`, `exiting.`, and exits.
//! `--role push` runs the sending half only (it exits a second after
//! sending `quit`), `--role pull` the receiving half only, to pair either
//! with a pyzmq peer.

use std::process::ExitCode;
use std::rc::Rc;
use std::time::Duration;

use clap::Parser;
use tx0mq::connections::{ZmqEndpoint, ZmqFactory, ZmqPullConnection, ZmqPushConnection};
use tx0mq::Reactor;

mod pyport;

/// A Python object, as far as this example's objects go.
#[derive(Clone, Debug, PartialEq)]
enum PyObj {
    None,
    Bool(bool),
    Int(i64),
    Str(String),
    Tuple(Vec<PyObj>),
    List(Vec<PyObj>),
    Dict(Vec<(PyObj, PyObj)>),
}

impl PyObj {
    fn s(text: &str) -> PyObj {
        PyObj::Str(text.to_string())
    }

    /// Python's `repr(obj)`.
    fn repr(&self) -> String {
        let join = |items: &[PyObj]| items.iter().map(PyObj::repr).collect::<Vec<_>>().join(", ");
        match self {
            PyObj::None => "None".into(),
            PyObj::Bool(true) => "True".into(),
            PyObj::Bool(false) => "False".into(),
            PyObj::Int(n) => n.to_string(),
            PyObj::Str(text) => pyport::str_repr(text),
            PyObj::Tuple(items) if items.len() == 1 => format!("({},)", items[0].repr()),
            PyObj::Tuple(items) => format!("({})", join(items)),
            PyObj::List(items) => format!("[{}]", join(items)),
            PyObj::Dict(pairs) => {
                let pairs: Vec<String> = pairs
                    .iter()
                    .map(|(k, v)| format!("{}: {}", k.repr(), v.repr()))
                    .collect();
                format!("{{{}}}", pairs.join(", "))
            }
        }
    }

    /// Python's `str(obj)`: a string as itself, anything else as its repr.
    fn str(&self) -> String {
        match self {
            PyObj::Str(text) => text.clone(),
            other => other.repr(),
        }
    }
}

/// `pickle.dumps(obj, protocol=2)`.
fn pickle(obj: &PyObj) -> Vec<u8> {
    fn write(obj: &PyObj, out: &mut Vec<u8>) {
        match obj {
            PyObj::None => out.push(b'N'),
            PyObj::Bool(true) => out.push(0x88),
            PyObj::Bool(false) => out.push(0x89),
            PyObj::Int(n) => match (u8::try_from(*n), i32::try_from(*n)) {
                (Ok(byte), _) => out.extend([b'K', byte]),
                (_, Ok(word)) => {
                    out.push(b'J');
                    out.extend(word.to_le_bytes());
                }
                // LONG1: little-endian two's complement, length first.
                _ => {
                    out.extend([0x8a, 8]);
                    out.extend(n.to_le_bytes());
                }
            },
            PyObj::Str(text) => {
                out.push(b'X');
                out.extend((text.len() as u32).to_le_bytes());
                out.extend(text.as_bytes());
            }
            PyObj::Tuple(items) => {
                out.push(b'(');
                items.iter().for_each(|item| write(item, out));
                out.push(b't');
            }
            PyObj::List(items) => {
                out.extend(b"](");
                items.iter().for_each(|item| write(item, out));
                out.push(b'e');
            }
            PyObj::Dict(pairs) => {
                out.extend(b"}(");
                for (key, value) in pairs {
                    write(key, out);
                    write(value, out);
                }
                out.push(b'u');
            }
        }
    }
    let mut out = vec![0x80, 2];
    write(obj, &mut out);
    out.push(b'.');
    out
}

/// `pickle.loads(data)` for the objects [`PyObj`] holds; an error names
/// what could not be read.
fn unpickle(data: &[u8]) -> Result<PyObj, String> {
    let mut stack: Vec<PyObj> = Vec::new();
    let mut marks: Vec<usize> = Vec::new();
    let mut memo: Vec<PyObj> = Vec::new();
    let mut at = 0;
    let take = |at: &mut usize, n: usize| -> Result<&[u8], String> {
        let bytes = data
            .get(*at..at.saturating_add(n))
            .ok_or_else(|| format!("truncated pickle at byte {at}"))?;
        *at += n;
        Ok(bytes)
    };
    let uint = |bytes: &[u8]| {
        bytes
            .iter()
            .rev()
            .fold(0usize, |n, b| n << 8 | usize::from(*b))
    };
    let text = |bytes: &[u8]| {
        String::from_utf8(bytes.to_vec()).map_err(|_| "a string that is not UTF-8".to_string())
    };
    let pop_mark = |stack: &mut Vec<PyObj>, marks: &mut Vec<usize>| -> Result<Vec<PyObj>, String> {
        let mark = marks.pop().ok_or("an item list without a mark")?;
        Ok(stack.split_off(mark.min(stack.len())))
    };
    loop {
        let opcode = take(&mut at, 1)?[0];
        match opcode {
            0x80 => drop(take(&mut at, 1)?), // PROTO
            0x95 => drop(take(&mut at, 8)?), // FRAME
            b'.' => return stack.pop().ok_or_else(|| "an empty pickle".to_string()),
            b'N' => stack.push(PyObj::None),
            0x88 => stack.push(PyObj::Bool(true)),
            0x89 => stack.push(PyObj::Bool(false)),
            b'K' => stack.push(PyObj::Int(take(&mut at, 1)?[0].into())),
            b'M' => stack.push(PyObj::Int(uint(take(&mut at, 2)?) as i64)),
            b'J' => {
                let bytes = take(&mut at, 4)?;
                let word = i32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
                stack.push(PyObj::Int(word.into()));
            }
            0x8a => {
                // LONG1
                let n = uint(take(&mut at, 1)?);
                let bytes = take(&mut at, n)?;
                if n > 8 {
                    return Err(format!("an integer of {n} bytes"));
                }
                let fill = if bytes.last().is_some_and(|b| b & 0x80 != 0) {
                    0xff
                } else {
                    0
                };
                let mut word = [fill; 8];
                word[..n].copy_from_slice(bytes);
                stack.push(PyObj::Int(i64::from_le_bytes(word)));
            }
            0x8c | b'X' | 0x8d => {
                // SHORT_BINUNICODE, BINUNICODE, BINUNICODE8
                let width = match opcode {
                    0x8c => 1,
                    b'X' => 4,
                    _ => 8,
                };
                let n = uint(take(&mut at, width)?);
                stack.push(PyObj::Str(text(take(&mut at, n)?)?));
            }
            0x94 => memo.push(stack.last().cloned().ok_or("MEMOIZE on an empty stack")?),
            b'q' | b'r' => {
                // BINPUT, LONG_BINPUT
                let index = uint(take(&mut at, if opcode == b'q' { 1 } else { 4 })?);
                let top = stack.last().cloned().ok_or("PUT on an empty stack")?;
                // Python numbers its memo entries in order: a PUT past the
                // end would only make us allocate what a peer asks for.
                match index.cmp(&memo.len()) {
                    std::cmp::Ordering::Less => memo[index] = top,
                    std::cmp::Ordering::Equal => memo.push(top),
                    std::cmp::Ordering::Greater => {
                        return Err(format!("a memo entry {index} out of order"))
                    }
                }
            }
            b'h' | b'j' => {
                // BINGET, LONG_BINGET
                let index = uint(take(&mut at, if opcode == b'h' { 1 } else { 4 })?);
                stack.push(
                    memo.get(index)
                        .cloned()
                        .ok_or("GET of an unknown memo entry")?,
                );
            }
            b'(' => marks.push(stack.len()),
            b')' => stack.push(PyObj::Tuple(Vec::new())),
            0x85..=0x87 => {
                let n = usize::from(opcode - 0x84);
                if stack.len() < n {
                    return Err("a tuple of missing items".into());
                }
                let items = stack.split_off(stack.len() - n);
                stack.push(PyObj::Tuple(items));
            }
            b't' => {
                let items = pop_mark(&mut stack, &mut marks)?;
                stack.push(PyObj::Tuple(items));
            }
            b']' => stack.push(PyObj::List(Vec::new())),
            b'}' => stack.push(PyObj::Dict(Vec::new())),
            b'a' | b'e' => {
                let items = if opcode == b'a' {
                    vec![stack.pop().ok_or("APPEND on an empty stack")?]
                } else {
                    pop_mark(&mut stack, &mut marks)?
                };
                match stack.last_mut() {
                    Some(PyObj::List(list)) => list.extend(items),
                    _ => return Err("APPEND(S) to something not a list".into()),
                }
            }
            b's' | b'u' => {
                let items = if opcode == b's' {
                    let value = stack.pop().ok_or("SETITEM on an empty stack")?;
                    let key = stack.pop().ok_or("SETITEM on an empty stack")?;
                    vec![key, value]
                } else {
                    pop_mark(&mut stack, &mut marks)?
                };
                if items.len() % 2 != 0 {
                    return Err("a key without a value".into());
                }
                let mut items = items.into_iter();
                match stack.last_mut() {
                    Some(PyObj::Dict(dict)) => {
                        while let (Some(key), Some(value)) = (items.next(), items.next()) {
                            dict.push((key, value));
                        }
                    }
                    _ => return Err("SETITEM(S) on something not a dict".into()),
                }
            }
            other => {
                return Err(format!(
                    "unsupported pickle opcode 0x{other:02x} at byte {}",
                    at - 1
                ))
            }
        }
    }
}

/// The five objects the original sends, and when (in `unit`s).
fn objects() -> Vec<(u32, PyObj)> {
    vec![
        (
            0,
            PyObj::Tuple(
                ["this", "is", "a", "python", "tuple"]
                    .map(PyObj::s)
                    .to_vec(),
            ),
        ),
        (1, PyObj::Dict(vec![(PyObj::s("hi"), PyObj::Int(1234))])),
        (
            2,
            PyObj::Tuple(vec![
                PyObj::Dict(vec![(
                    PyObj::s("this"),
                    PyObj::List(vec![
                        PyObj::s("is a more complicated object"),
                        PyObj::s(":)"),
                    ]),
                )]),
                PyObj::Int(42),
                PyObj::Int(42),
                PyObj::Int(42),
            ]),
        ),
        (3, PyObj::s("foobar")),
        (4, PyObj::s("quit")),
    ]
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::new()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();

    // server
    println!("<class 'tx0mq::connections::ZmqFactory'>");
    if args.role != Role::Pull {
        let sock = Rc::new(ZmqPushConnection::new(
            &factory,
            ZmqEndpoint::bind(&args.endpoint),
        )?);
        let mut last = 0;
        for (units, obj) in objects() {
            let sock = Rc::clone(&sock);
            last = units;
            // spawn_later(units, sock.send_pyobj, obj)
            reactor.call_later(args.unit * units, move |_cx| sock.push(pickle(&obj)));
        }
        if args.role == Role::Push {
            reactor.call_later(args.unit * (last + 1), |cx| cx.reactor.stop());
        }
    }

    // client
    if args.role != Role::Push {
        let sock = ZmqPullConnection::new(&factory, ZmqEndpoint::connect(&args.endpoint))?;
        // get_objs(sock)
        sock.on_pull(|cx, message| {
            let o = match unpickle(pyport::first(&message)) {
                Ok(o) => o,
                Err(e) => {
                    println!("malformed object from the PUSH peer ({e}): skipped");
                    return Ok(());
                }
            };
            println!("received python object: {}", o.str());
            if o == PyObj::s("quit") {
                println!("exiting.");
                cx.reactor.stop()?;
            }
            Ok::<(), Box<dyn std::error::Error>>(())
        });
        // print_every('printing every half second', 0.5)
        print_every(&reactor, "printing every half second", args.print);
    }
    reactor.run()?;
    Ok(())
}

/// `print_every(s, t)`: prints `s` now and every `t` after.
fn print_every(reactor: &Reactor, s: &'static str, t: Duration) {
    println!("{s}");
    if !t.is_zero() {
        reactor.call_later(t, move |cx| print_every(cx.reactor, s, t));
    }
}

/// Pickled Python objects over PUSH/PULL, sent by timers (pyzmq's
/// gevent/simple.py).
#[derive(Parser)]
struct Args {
    /// Where the PUSH side binds and the PULL side connects
    #[arg(long, default_value = "ipc:///tmp/zmqtest")]
    endpoint: String,
    /// The original's second: the objects go at 0, 1, 2, 3 and 4 of these
    #[arg(long = "unit-ms", value_name = "MS", default_value = "1000", value_parser = pyport::millis)]
    unit: Duration,
    /// How often `printing every half second` is printed, in milliseconds
    #[arg(long = "print-ms", value_name = "MS", default_value = "500", value_parser = pyport::millis)]
    print: Duration,
    /// Which half to run
    #[arg(long, value_enum, default_value_t = Role::Both)]
    role: Role,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Role {
    /// Sender and receiver in one reactor, as the original
    Both,
    /// The PUSH side only
    Push,
    /// The PULL side only
    Pull,
}

fn main() -> ExitCode {
    pyport::main(run)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_survive_a_round_trip() {
        for (_, obj) in objects() {
            assert_eq!(unpickle(&pickle(&obj)), Ok(obj));
        }
    }

    #[test]
    fn reprs_read_as_python_prints_them() {
        let printed: Vec<String> = objects().iter().map(|(_, o)| o.str()).collect();
        assert_eq!(printed[0], "('this', 'is', 'a', 'python', 'tuple')");
        assert_eq!(printed[1], "{'hi': 1234}");
        assert_eq!(
            printed[2],
            "({'this': ['is a more complicated object', ':)']}, 42, 42, 42)"
        );
        assert_eq!(printed[3], "foobar");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(unpickle(b"").is_err());
        assert!(unpickle(b"\x80\x02X\xff\xff\xff\xff").is_err());
        assert!(unpickle(b"t.").is_err());
        assert!(unpickle(b"\x80\x02c").is_err());
    }
}
