//! `volumetest`: bot owners check that the data directory is writable and survives restarts.

use crate::handlers::HandlerResult;
use crate::handlers::common::{ReplyExt, is_bot_owner, outcome, yes_no};
use crate::{CommandRequest, Deps, OutcomeClass};

/// `Denied` for everyone but bot owners; otherwise probes the volume and reports the fields
/// `Data directory`, `Writable`, `Earlier entries` and `Free space`.
pub(crate) async fn run(deps: &Deps, request: &CommandRequest) -> HandlerResult {
    if !is_bot_owner(deps, request) {
        return Ok(outcome(
            OutcomeClass::Denied,
            "Not allowed",
            "Only a bot owner may run the volume test.",
        ));
    }
    let report = deps.volume.probe(deps.clock.now()).await?;
    let text = if report.earlier_entries > 1 {
        "Storage holds entries from earlier runs: it survives restarts."
    } else {
        "A test line was written and read back."
    };
    Ok(outcome(OutcomeClass::Success, "Volume test", text)
        .field("Data directory", report.path)
        .field("Writable", yes_no(report.writable))
        .field("Earlier entries", report.earlier_entries.to_string())
        .field("Free space", free_space(report.free_bytes)))
}

/// Bytes in binary units with one decimal (`512 B`, `1.5 KiB`, `20.0 GiB`), or `unknown`.
pub(crate) fn free_space(bytes: Option<u64>) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    let Some(bytes) = bytes else {
        return "unknown".to_owned();
    };
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::free_space;

    #[test]
    fn free_space_is_shown_in_binary_units() {
        let cases = [
            (None, "unknown"),
            (Some(0), "0 B"),
            (Some(1023), "1023 B"),
            (Some(1536), "1.5 KiB"),
            (Some(20 * 1024 * 1024 * 1024), "20.0 GiB"),
            (Some(u64::MAX), "16384.0 PiB"),
        ];
        for (bytes, shown) in cases {
            assert_eq!(free_space(bytes), shown, "{bytes:?}");
        }
    }
}
