//! What the ports of pyzmq's `examples/monitoring` print as pyzmq prints
//! it: the table of `zmq.EVENT_*` constants and each event as the dict
//! `zmq.utils.monitor.recv_monitor_message` returns.
//!
//! pyzmq 27 (the interop environment's) wraps both the event id and the
//! event's value in its `zmq.Event` flag type, so a descriptor 13 prints as
//! `<Event.CONNECTED|CONNECT_RETRIED|LISTENING: 13>`: [`event_repr`] writes
//! that repr (Python 3.11's `IntFlag`) for the values events carry.

use tx0mq::connections::{bytes_repr, MonitorEvent, MonitorEvents, ProtocolError};

/// The `zmq.EVENT_*` constants pyzmq 27 has, as `dir(zmq)` lists them
/// (sorted by name): ours, plus the ones only libzmq's version-2 events
/// use, which this crate does not read.
pub fn event_names() -> Vec<(String, u32)> {
    let mut names: Vec<(String, u32)> = MonitorEvents::named()
        .map(|(kind, name)| (format!("EVENT_{name}"), u32::from(kind.bits())))
        .collect();
    let all = u32::from(MonitorEvents::ALL.bits());
    names.extend([
        ("EVENT_ALL".to_string(), all),
        ("EVENT_ALL_V1".to_string(), all),
        ("EVENT_ALL_V2".to_string(), 0x1ffff),
        ("EVENT_PIPES_STATS".to_string(), 0x10000),
    ]);
    names.sort();
    names
}

/// The original's `EVENT_MAP[event]`: the last name in [`event_names`]
/// with the event's value.
pub fn description(event: &MonitorEvent) -> String {
    event_names()
        .into_iter()
        .rev()
        .find(|(_, value)| *value == u32::from(event.id()))
        .map_or_else(|| "EVENT_UNKNOWN".to_string(), |(name, _)| name)
}

/// `Event: {'event': ..., 'value': ..., 'endpoint': b'...', 'description': '...'}`:
/// the original's line for one event.
pub fn event_line(event: &MonitorEvent) -> String {
    format!(
        "Event: {{'event': {}, 'value': {}, 'endpoint': {}, 'description': '{}'}}",
        event_repr(i64::from(event.id())),
        // pyzmq reads the value as a signed 32-bit number.
        event_repr(i64::from(event.value() as i32)),
        bytes_repr(event.endpoint().as_bytes()),
        description(event)
    )
}

/// The single-bit members of `zmq.Event`, by bit.
fn flag_name(bit: u32) -> Option<String> {
    if bit == 16 {
        return Some("PIPES_STATS".to_string());
    }
    let kind = MonitorEvents::from_bits(u16::try_from(1u32 << bit).ok()?);
    kind.name().map(str::to_string)
}

/// `repr(zmq.Event(value))`: `<Event.NAME: n>` for a member,
/// `<Event.A|B: n>` for a combination of single-bit members (with any
/// bits no member has after them, in decimal), `<Event: n>` when no member
/// bit is set.
pub fn event_repr(value: i64) -> String {
    let exact = match value {
        0xffff => Some("ALL_V1".to_string()),
        0x1ffff => Some("ALL_V2".to_string()),
        v if v > 0 && v.count_ones() == 1 => flag_name(v.trailing_zeros()),
        v => u32::try_from(v)
            .ok()
            .and_then(|v| ProtocolError(v).name())
            .map(|name| format!("PROTOCOL_ERROR_{name}")),
    };
    if let Some(name) = exact {
        return format!("<Event.{name}: {value}>");
    }
    if value < 0 {
        return format!("<Event: {value}>");
    }
    let mut names = Vec::new();
    let mut rest = value;
    for bit in 0..=16 {
        if value & (1 << bit) != 0 {
            if let Some(name) = flag_name(bit) {
                names.push(name);
                rest &= !(1 << bit);
            }
        }
    }
    match (names.is_empty(), rest) {
        (true, _) => format!("<Event: {value}>"),
        (false, 0) => format!("<Event.{}: {value}>", names.join("|")),
        (false, rest) => format!("<Event.{}|{rest}: {value}>", names.join("|")),
    }
}
