//! The server's resident memory and CPU time, read from `/proc` (Linux only), and the load
//! generator's own CPU time the same way.

use std::fs;
use std::io;

/// Clock ticks per second of `/proc/PID/stat` times (`USER_HZ`): 100 on every Linux
/// architecture Bream runs on (the kernel's ABI fixes it, whatever `CONFIG_HZ` is).
pub const CLOCK_TICKS_PER_SECOND: u64 = 100;

/// `VmRSS` of `/proc/PID/status`, in bytes.
pub fn resident_bytes(pid: u32) -> io::Result<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))?;
    parse_vm_rss(&status).ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no VmRSS"))
}

/// utime + stime of `/proc/PID/stat`, in microseconds (10 ms resolution).
pub fn cpu_micros(pid: u32) -> io::Result<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    parse_cpu_ticks(&stat)
        .map(|ticks| ticks * 1_000_000 / CLOCK_TICKS_PER_SECOND)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "bad /proc stat"))
}

fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let mut words = line["VmRSS:".len()..].split_whitespace();
    let value: u64 = words.next()?.parse().ok()?;
    match words.next() {
        Some("kB") | None => Some(value * 1024),
        Some(_) => None,
    }
}

fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    // The command name (field 2) may hold spaces and parentheses: fields resume after the last
    // ')'. utime and stime are fields 14 and 15, so the 12th and 13th after it.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_files() {
        let status = "Name:\tbream-xmpp\nVmPeak:\t  999 kB\nVmRSS:\t   12345 kB\n";
        assert_eq!(parse_vm_rss(status), Some(12345 * 1024));
        assert_eq!(parse_vm_rss("Name: x\n"), None);
        let stat = "4242 (bream (x) y) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 8 0";
        assert_eq!(parse_cpu_ticks(stat), Some(300));
        assert_eq!(parse_cpu_ticks("4242 (x) S 1"), None);
    }

    #[test]
    fn reads_own_process() {
        let pid = std::process::id();
        assert!(resident_bytes(pid).unwrap() > 0);
        cpu_micros(pid).unwrap();
    }
}
