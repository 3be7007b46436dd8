//! A process's CPU time from `/proc/<pid>/stat`, shared by the load generator and
//! `wakeup_floor` (an example's module, not an example: Cargo builds `examples/*.rs` only).

use std::time::Duration;

/// CPU time of process `pid` so far in its own code (user) and in the kernel on its behalf
/// (system: its system calls, and loopback TCP delivered in its context); zero when it cannot
/// be read.
pub fn user_system(pid: u32) -> (Duration, Duration) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<u64> = after
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    // utime and stime are fields 14 and 15 (1-based) of the whole line: 12 and 13 after ')'.
    let ticks = |i: usize| Duration::from_millis(fields.get(i).copied().unwrap_or(0) * 10); // CLK_TCK = 100 on Linux
    (ticks(11), ticks(12))
}
