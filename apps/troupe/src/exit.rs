//! The exit codes of every `troupe` subcommand (one table, in `troupe --help` and
//! docs/CONFIGURATION.md), and the error that ends a command with exit code 2.

use std::process::ExitCode;

/// The operation failed: the database is unreachable, a file is unreadable, … — or what the
/// command verifies does not hold (`smoke`, `compare`).
pub const FAILED: u8 = 1;
/// Invalid configuration or usage, or a database schema this binary must not use; nothing
/// was changed.
pub const USAGE: u8 = 2;
/// The command examined data and found a problem: `check` (violations), `restore` (the backup
/// is refused; the store is untouched), `migrate --check` (migrations are pending), `tokens
/// reencrypt` (tokens still need an old key).
pub const FOUND: u8 = 3;

/// A flag change was stored but not every live process of the fleet confirmed applying it
/// within the wait (`flags set|unset --confirm`); the output names them. The change keeps
/// spreading (polling is the safety net); a process that never applies it is stuck.
pub const NOT_CONFIRMED: u8 = 4;

/// The text after the subcommands in `troupe --help`: the exit codes, true for every
/// subcommand, and where the configuration comes from.
pub const HELP: &str = "Exit codes (every subcommand):\n  \
0  success\n  \
1  the operation failed (database unreachable, file unreadable, …), or what `smoke`/`compare` verify does not hold\n  \
2  invalid configuration or usage, or a database schema this binary must not use (nothing changed)\n  \
3  a problem found in the data: `check` violations, `restore` refused the backup (store untouched), `migrate --check` pending migrations, `tokens reencrypt` tokens still under an old key, `fleet --check` a lagging process or a shard overlap/gap\n  \
4  `flags set|unset --confirm`: the change is stored, but not every live process confirmed it in time (they are named)\n\
Configuration: troupe.toml (or --config) and environment variables; an unknown TROUPE_* or FEATURE_FLAG_* variable is an error. See docs/CONFIGURATION.md.";

/// A configuration or usage error found while running a command (exit code 2): the message
/// names the setting or says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

impl UsageError {
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

/// The exit code of a command that ended with `error`: 2 for a [`UsageError`] anywhere in its
/// chain, 1 otherwise.
pub fn code_of(error: &anyhow::Error) -> ExitCode {
    if error.chain().any(<dyn std::error::Error>::is::<UsageError>) {
        ExitCode::from(USAGE)
    } else {
        ExitCode::from(FAILED)
    }
}

/// Whether `error` is a write to a closed pipe (`troupe flags list | head -1`): the reader has
/// all it wanted, so the command ends quietly.
pub fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// `print!` that returns the write error instead of panicking (a closed pipe ends the
/// command quietly, see [`is_broken_pipe`]). Use inside a function returning `anyhow::Result`.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let mut stdout = std::io::stdout().lock();
        write!(stdout, $($arg)*).and_then(|()| stdout.flush())?;
    }};
}

/// `println!` that returns the write error instead of panicking (see [`out!`]).
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)?;
    }};
}
