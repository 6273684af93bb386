//! Free loopback ports for servers and nodes that tests start.
//!
//! A port the system hands out for port 0 is in the ephemeral range (32768 and up on Linux),
//! where any outgoing connection — the thousand clients of another test — can take it before
//! the server binds it. These ports are below that range, free when handed out, and handed
//! out in turn from a per-process start, so tests of one process never get the same one and
//! parallel test processes rarely collide.

use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicU32, Ordering};

/// The first port handed out.
const FIRST: u32 = 20_000;
/// How many ports from [`FIRST`] on are used (below 32768).
const COUNT: u32 = 12_000;

/// A port on 127.0.0.1 that is free now (bound, then released for the caller to take).
///
/// Panics when none of the range is free.
pub fn free_port() -> u16 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let start = std::process::id().wrapping_mul(7_919) % COUNT;
    for _ in 0..COUNT {
        let offset = (start + NEXT.fetch_add(1, Ordering::Relaxed)) % COUNT;
        let Ok(port) = u16::try_from(FIRST + offset) else {
            continue;
        };
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in {FIRST}..{}", FIRST + COUNT)
}

/// `127.0.0.1:` a [`free_port`].
pub fn free_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], free_port()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_free_and_distinct() {
        let ports: Vec<u16> = (0..20).map(|_| free_port()).collect();
        let mut unique = ports.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), ports.len());
        for port in ports {
            assert!((FIRST..FIRST + COUNT).contains(&u32::from(port)));
            TcpListener::bind(("127.0.0.1", port)).expect("still free");
        }
    }
}
