//! `troupe compare` driven as an operator runs it: the real binary, no configuration, a parity
//! table per command on standard output and the exit code telling whether the systems agree.

use std::process::Command;

use troupe_application::CommandName;

/// Runs `troupe compare` with `args` in an empty directory; returns (stdout, exit code).
fn compare(args: &[&str]) -> (String, Option<i32>) {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_troupe"))
        .arg("compare")
        .args(args)
        .env_clear()
        .env("TROUPE_DATA_DIR", dir.path())
        .env("TROUPE_LOG", "off")
        .current_dir(dir.path())
        .output()
        .expect("troupe runs");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        out.status.code(),
    )
}

#[test]
fn troupe_compare_prints_a_parity_table_per_command_and_exits_0_on_full_parity() {
    let (out, code) = compare(&[]);
    assert_eq!(code, Some(0), "{out}");
    let rows: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|cols| cols.len() == 4)
        .collect();
    assert_eq!(
        rows[0],
        ["command", "scenarios", "match", "mismatch"],
        "{out}"
    );
    for command in CommandName::ALL {
        let row = rows
            .iter()
            .find(|cols| cols[0] == command.as_str())
            .unwrap_or_else(|| panic!("no row for {command}:\n{out}"));
        let scenarios: usize = row[1].parse().unwrap();
        assert!(scenarios >= 3, "{command} has {scenarios} scenarios");
        assert_eq!(row[2], row[1], "every {command} scenario matches:\n{out}");
        assert_eq!(row[3], "0", "{out}");
    }
    let total = rows
        .iter()
        .find(|cols| cols[0] == "total")
        .expect("a total row");
    assert!(total[1].parse::<usize>().unwrap() >= 100, "{out}");
    assert!(out.contains("full parity"), "{out}");
    assert!(!out.contains("MISMATCH"), "{out}");
}

#[test]
fn troupe_compare_json_reports_parity_and_every_command() {
    let (out, code) = compare(&["--json"]);
    assert_eq!(code, Some(0), "{out}");
    let report: serde_json::Value = serde_json::from_str(&out).expect("one JSON document");
    assert_eq!(report["parity"], true);
    assert!(report["scenarios"].as_u64().unwrap() >= 100);
    assert_eq!(report["commands"].as_array().unwrap().len(), 18);
    assert_eq!(report["mismatches"].as_array().unwrap().len(), 0);
}

/// The new system, except that `ping` claims a latency nobody measured.
struct Stub(troupe_application::handlers::NewSystem);

#[async_trait::async_trait]
impl troupe_application::CommandSystem for Stub {
    fn kind(&self) -> troupe_application::SystemKind {
        troupe_application::SystemKind::New
    }
    fn handles(&self, _command: CommandName) -> bool {
        true
    }
    async fn execute(
        &self,
        request: &troupe_application::CommandRequest,
    ) -> troupe_application::CommandOutcome {
        let mut outcome = self.0.execute(request).await;
        if request.command == CommandName::Ping {
            outcome.reply.as_mut().unwrap().fields[0].value = "`999 ms`".into();
        }
        outcome
    }
}

#[tokio::test]
async fn a_deliberately_different_system_is_shown_as_a_mismatch_with_its_differences() {
    use std::sync::Arc;
    use troupe::commands::compare::{SqliteMemoryStores, render_json, render_text};
    use troupe_parity::{CORPUS, Runner};

    let runner = Runner::new(
        Arc::new(SqliteMemoryStores::new().unwrap()),
        Arc::new(|deps| {
            Arc::new(troupe_legacy::LegacySystem::new(deps))
                as Arc<dyn troupe_application::CommandSystem>
        }),
    )
    .with_candidate(Arc::new(|deps| {
        Arc::new(Stub(troupe_application::handlers::NewSystem::new(deps)))
            as Arc<dyn troupe_application::CommandSystem>
    }));
    let pings: Vec<_> = CORPUS
        .iter()
        .filter(|s| s.command_name() == Some(CommandName::Ping))
        .copied()
        .collect();
    let report = runner.run(&pings).await;
    assert!(!report.is_full_parity());
    let text = render_text(&report);
    let ping_row: Vec<&str> = text
        .lines()
        .find(|l| l.starts_with("ping "))
        .unwrap()
        .split_whitespace()
        .collect();
    let n = pings.len().to_string();
    assert_eq!(ping_row, ["ping", n.as_str(), "0", n.as_str()], "{text}");
    assert!(
        text.contains("MISMATCH ping: ping reports the heartbeat latency"),
        "{text}"
    );
    assert!(text.contains("999 ms"), "{text}");
    assert!(
        text.contains(&format!("{n} of {n} scenarios differ")),
        "{text}"
    );
    assert_eq!(render_json(&report)["parity"], false);
}
