//! A process's CPU time from `/proc/<pid>/stat`, shared by the load generator and
//! `wakeup_floor` (an example's module, not an example: Cargo builds `examples/*.rs` only).

use std::time::Duration;

/// CPU time of a process: in its own code (user) and in the kernel on its behalf (system: its
/// system calls, and loopback TCP delivered in its context).
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuTime {
    pub user: Duration,
    pub system: Duration,
}

impl CpuTime {
    /// Process `pid`'s CPU time so far; zero when it cannot be read.
    pub fn of(pid: u32) -> Self {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        let fields: Vec<u64> = after
            .split_whitespace()
            .map(|f| f.parse().unwrap_or(0))
            .collect();
        // utime and stime are fields 14 and 15 (1-based) of the whole line: 12 and 13 after ')'.
        let ticks = |i: usize| Duration::from_millis(fields.get(i).copied().unwrap_or(0) * 10); // CLK_TCK = 100 on Linux
        Self {
            user: ticks(11),
            system: ticks(12),
        }
    }

    /// The CPU time spent since `before`, an earlier reading of the same process.
    pub fn since(self, before: Self) -> Self {
        Self {
            user: self.user.saturating_sub(before.user),
            system: self.system.saturating_sub(before.system),
        }
    }

    pub fn total(self) -> Duration {
        self.user + self.system
    }
}
