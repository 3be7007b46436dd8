//! docs/RUNBOOK.md end to end, across the crates, as operators run it: two `troupe run`
//! processes (one shard each) share one PostgreSQL database and the fake Discord. The flags
//! change through the command line (`troupe flags set`, run as a third process) and through
//! the admin API of one process, and every change reaches both: stages 1–4, the personality
//! commands shadowed with zero mismatches, the emergency rollback, and a full rollback to
//! legacy (every category off, both processes restarted with the new system disabled by
//! environment, runtime values removed). Around every flag change the rows of every data table
//! are compared: a flag change never moves data, and what one system wrote the other reads.
//!
//! Needs a PostgreSQL server (`TROUPE_TEST_POSTGRES_URL`) and `psql`; says SKIPPED and passes
//! without them.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use troupe_runbook_tests::{
    DEADLINE, Database, Process, command, fingerprint, get_json, http, metric, run_cli,
};
use troupe_testkit::discord::{FakeDiscord, TOKEN};

const OWNER: u64 = 200_000_000_000_000_001;
const SHARDS: u64 = 2;
const ADMIN_TOKEN: &str = "runbook-suite-admin-token-0123456789abcdef";

/// A guild id on `shard` (Discord routes a guild to `(id >> 22) % shards`).
fn guild_on(shard: u64) -> u64 {
    ((1_000_000 * SHARDS + shard) << 22) | 1
}

/// The (age-restricted) channel of the guild on `shard`.
fn channel_of(shard: u64) -> u64 {
    300_000_000_000_000_000 + shard
}

/// The fleet under test: the fake Discord, the shared database, the two processes.
struct Runbook {
    fake: FakeDiscord,
    db: Database,
    dir: tempfile::TempDir,
    procs: Vec<Process>,
    bases: Vec<String>,
}

impl Runbook {
    /// The environment every `troupe` of this fleet shares.
    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("TROUPE_DATABASE_URL", self.db.url()),
            ("TROUPE_DATA_DIR", self.dir.path().display().to_string()),
            ("TROUPE_BOT_OWNERS", OWNER.to_string()),
            ("TROUPE_ADMIN_TOKEN", ADMIN_TOKEN.to_owned()),
            ("USER", "runbook-operator".to_owned()),
        ]
    }

    /// `troupe <args>` as the operator's shell runs it; asserts exit 0, returns stdout.
    fn cli(&self, args: &[&str]) -> String {
        let out = run_cli(&self.env(), args, self.dir.path());
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(
            out.status.code(),
            Some(0),
            "troupe {args:?}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }

    /// Starts process `shard` (running that shard of [`SHARDS`]) with `extra` settings.
    async fn start(&mut self, shard: u64, extra: &[(&'static str, &str)]) {
        let mut env = self.env();
        env.extend([
            ("DISCORD_TOKEN", TOKEN.to_owned()),
            ("TROUPE_DISCORD_GATEWAY_URL", self.fake.gateway_url()),
            ("TROUPE_DISCORD_API_PROXY", self.fake.api_proxy()),
            ("TROUPE_SHARDS", SHARDS.to_string()),
            ("TROUPE_SHARD_RANGE", format!("{shard}..{}", shard + 1)),
            ("TROUPE_BACKUP_SCHEDULE", "off".to_owned()),
        ]);
        env.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
        let mut cmd: Command = command(&env);
        cmd.arg("run").current_dir(self.dir.path());
        let mut process = Process::spawn(&format!("process {shard}"), cmd);
        let base = process.http().await;
        self.bases.push(format!("http://{base}"));
        self.procs.push(process);
    }

    /// Starts both processes and waits until both hold a gateway session.
    async fn start_fleet(&mut self, extra: &[(&'static str, &str)]) {
        self.procs.clear();
        self.bases.clear();
        let sessions = self.fake.live_sessions();
        for shard in 0..SHARDS {
            self.start(shard, extra).await;
        }
        let connected = self
            .fake
            .wait_until(DEADLINE, |f| f.live_sessions() >= sessions + 2)
            .await;
        assert!(connected, "both processes connected:\n{}", self.logs());
    }

    async fn stop_fleet(&mut self) {
        self.bases.clear();
        for process in self.procs.drain(..) {
            let name = process.name.clone();
            assert_eq!(process.stop().await, Some(0), "{name} stopped cleanly");
        }
    }

    fn logs(&self) -> String {
        self.procs
            .iter()
            .map(|p| format!("--- {}\n{}", p.name, p.logs()))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// A prefix command by the owner in the guild on `shard` (so process `shard` answers);
    /// waits for the reply and returns its text (content, embed title, description, fields).
    async fn say(&self, shard: u64, content: &str) -> String {
        let id = self.fake.send_message(channel_of(shard), OWNER, content);
        let answered = self
            .fake
            .wait_until(DEADLINE, |f| !f.replies_to(id).is_empty())
            .await;
        assert!(answered, "no reply to {content:?}:\n{}", self.logs());
        let reply = &self.fake.replies_to(id)[0];
        let mut text = reply.content.clone();
        for embed in reply.embeds.as_array().into_iter().flatten() {
            for key in ["title", "description"] {
                text.push(' ');
                text.push_str(embed[key].as_str().unwrap_or_default());
            }
            for field in embed["fields"].as_array().into_iter().flatten() {
                text.push_str(&format!(
                    " {} {}",
                    field["name"].as_str().unwrap_or_default(),
                    field["value"].as_str().unwrap_or_default()
                ));
            }
        }
        assert!(
            !text.to_lowercase().contains("something went wrong"),
            "{content}: {text}"
        );
        text
    }

    async fn metrics(&self, process: usize) -> String {
        let (status, body) = http(&self.bases[process], "GET", "/metrics", None, None).await;
        assert_eq!(status, 200);
        body
    }

    /// How many times `command` was served by `system` in `process` (every outcome).
    async fn served(&self, process: usize, command: &str, system: &str) -> f64 {
        metric(
            &self.metrics(process).await,
            "troupe_commands_total",
            &[("command", command), ("system", system)],
        )
    }

    /// Waits until `/health/commands` of every process satisfies `holds`; how long it took.
    async fn wait_commands(&self, what: &str, holds: impl Fn(&Value) -> bool) -> Duration {
        let started = Instant::now();
        for base in &self.bases {
            loop {
                let commands = get_json(base, "/health/commands", None).await;
                if holds(&commands) {
                    break;
                }
                assert!(
                    started.elapsed() < DEADLINE,
                    "{what}: {base} still shows {commands}"
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        started.elapsed()
    }

    /// Makes one flag change (`change`), waits until every process shows it (`holds` on
    /// `/health/commands`), and asserts that no row of any data table changed meanwhile.
    async fn flag_change(
        &self,
        what: &str,
        change: impl AsyncFnOnce(&Self),
        holds: impl Fn(&Value) -> bool,
    ) -> Duration {
        let before = fingerprint(&self.db);
        change(self).await;
        let took = self.wait_commands(what, holds).await;
        let after = fingerprint(&self.db);
        assert_unchanged(what, &before, &after);
        eprintln!("{what}: both processes applied it within {took:?}");
        took
    }

    /// `PUT /admin/flags/<flag>` on `process`, as stage 2 of the runbook does.
    async fn put_flag(&self, process: usize, flag: &str, value: bool, reason: &str) -> Value {
        let body = json!({"value": value, "reason": reason, "actor": "oncall"});
        let (status, answer) = http(
            &self.bases[process],
            "PUT",
            &format!("/admin/flags/{flag}"),
            Some(ADMIN_TOKEN),
            Some(&body),
        )
        .await;
        assert_eq!(status, 200, "PUT {flag}: {answer}");
        serde_json::from_str(&answer).expect("JSON")
    }
}

fn assert_unchanged(
    what: &str,
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
) {
    assert_eq!(before.len(), troupe_runbook_tests::DATA_TABLES.len());
    for (table, print) in before {
        assert_eq!(
            Some(print),
            after.get(table),
            "{what}: the rows of {table} changed"
        );
    }
}

fn migrated(n: u64) -> impl Fn(&Value) -> bool {
    move |c| c["commands_migrated"] == n
}

fn system_of(c: &Value, command: &str) -> String {
    c["commands"][command]["system"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runbook_rolls_out_and_back_across_two_processes_without_moving_data() {
    let Some(db) = Database::create("troupe_runbook") else {
        eprintln!(
            "runbook suite SKIPPED: set TROUPE_TEST_POSTGRES_URL to a postgres:// URL whose user \
             may create databases, and install psql"
        );
        return;
    };
    let fake = FakeDiscord::start().await.expect("the fake Discord starts");
    for shard in 0..SHARDS {
        fake.add_guild(guild_on(shard), OWNER);
        fake.add_text_channel(guild_on(shard), channel_of(shard), "general", true);
    }
    let mut rb = Runbook {
        fake,
        db,
        dir: tempfile::tempdir().expect("a temporary directory"),
        procs: Vec::new(),
        bases: Vec::new(),
    };

    // Step 1: deploy with the new system disabled (schema first, explicitly).
    let migrate = rb.cli(&["migrate"]);
    assert!(migrate.contains("migrated"), "{migrate}");
    rb.start_fleet(&[
        ("FEATURE_FLAG_DDD_COMMANDS_ENABLED", "false"),
        ("FEATURE_FLAG_DDD_COMMANDS_INTEGRATION", "false"),
    ])
    .await;
    for base in rb.bases.clone() {
        let live = get_json(&base, "/health/live", None).await;
        assert_eq!(live["status"], "alive");
        let ready = get_json(&base, "/health/ready", None).await;
        assert_eq!(ready["ready"], true, "{base}: {ready}");
    }

    // Step 2: baseline on legacy; the two processes share one store.
    rb.wait_commands("baseline", |c| {
        c["commands_migrated"] == 0 && c["legacy_active"] == true
    })
    .await;
    let added = rb.say(0, "!tz add tesla").await;
    assert!(added.to_lowercase().contains("tesla"), "{added}");
    let aliased = rb.say(1, "!tz alias tesla nikola").await;
    assert!(aliased.contains("nikola"), "{aliased}");
    let info = rb.say(0, "!tz info nikola").await;
    assert!(info.to_lowercase().contains("tesla"), "{info}");
    for process in 0..2 {
        assert!(
            rb.served(process, "add", "legacy").await + rb.served(process, "alias", "legacy").await
                >= 1.0
        );
        assert!(
            rb.served(process, "add", "ddd").await + rb.served(process, "alias", "ddd").await < 1.0
        );
    }

    // Stage 1 (CLI): the global switches and utility.
    rb.flag_change(
        "stage 1",
        async |rb: &Runbook| {
            rb.cli(&[
                "flags",
                "set",
                "ddd.commands.enabled",
                "true",
                "--reason",
                "stage 1: core",
            ]);
            rb.cli(&[
                "flags",
                "set",
                "ddd.commands.integration",
                "true",
                "--reason",
                "stage 1: core",
            ]);
            let out = rb.cli(&[
                "flags",
                "set",
                "ddd.commands.utility",
                "true",
                "--reason",
                "stage 1: utility",
            ]);
            assert!(
                out.contains("ddd.commands.utility false -> true (runtime)"),
                "{out}"
            );
        },
        |c| migrated(7)(c) && system_of(c, "ping") == "ddd",
    )
    .await;
    for shard in 0..SHARDS {
        rb.say(shard, "!tz ping").await;
        assert!(
            rb.served(shard as usize, "ping", "ddd").await >= 1.0,
            "process {shard}"
        );
    }

    // Stage 2 (admin API of process 0; process 1 follows through the store).
    rb.flag_change(
        "stage 2",
        async |rb: &Runbook| {
            let answer = rb
                .put_flag(
                    0,
                    "ddd.commands.authentication",
                    true,
                    "stage 2: authentication",
                )
                .await;
            assert_eq!(answer["before"], false, "{answer}");
            assert_eq!(answer["value"], true, "{answer}");
            assert_eq!(answer["source"], "runtime", "{answer}");
        },
        |c| migrated(9)(c) && system_of(c, "auth") == "ddd",
    )
    .await;
    rb.say(1, "!tz auth status").await;
    assert!(rb.served(1, "auth", "ddd").await >= 1.0);

    // Stage 3 (CLI): conversation; the new system activates legacy's personality.
    rb.flag_change(
        "stage 3",
        async |rb: &Runbook| {
            rb.cli(&[
                "flags",
                "set",
                "ddd.commands.conversation",
                "true",
                "--reason",
                "stage 3: conversation",
            ]);
        },
        migrated(13),
    )
    .await;
    let activated = rb.say(0, "!tz activate nikola").await;
    assert!(activated.to_lowercase().contains("tesla"), "{activated}");
    assert!(rb.served(0, "activate", "ddd").await >= 1.0);

    // Stage 4: a verified backup, then shadow first (admin API of process 1).
    let backup = rb.cli(&["backup"]);
    assert!(backup.contains("verified"), "{backup}");
    rb.flag_change(
        "stage 4 shadow",
        async |rb: &Runbook| {
            rb.put_flag(
                1,
                "ddd.commands.shadow.personality",
                true,
                "stage 4: shadow first",
            )
            .await;
        },
        |c| migrated(13)(c) && system_of(c, "list") == "shadow",
    )
    .await;
    // Writes and reads in both processes: legacy answers, the new system is compared.
    let script: [(u64, &str, &str); 6] = [
        (0, "!tz add curie", "curie"),
        (1, "!tz alias curie marie", "marie"),
        (0, "!tz info marie", "curie"),
        (1, "!tz list", "tesla"),
        (1, "!tz add bohr", "bohr"),
        (0, "!tz remove bohr", "bohr"),
    ];
    let mut expected = [0.0_f64; 2];
    for (shard, line, needle) in script {
        let reply = rb.say(shard, line).await;
        assert!(reply.to_lowercase().contains(needle), "{line}: {reply}");
        expected[shard as usize] += 1.0;
    }
    // Each comparison runs after legacy's reply went out: wait for all of them.
    for (process, want) in expected.iter().enumerate() {
        let until = Instant::now() + DEADLINE;
        loop {
            let text = rb.metrics(process).await;
            let done = metric(
                &text,
                "troupe_shadow_comparisons_total",
                &[("category", "personality")],
            );
            if done >= *want {
                let matched = metric(
                    &text,
                    "troupe_shadow_comparisons_total",
                    &[("category", "personality"), ("result", "match")],
                );
                assert!(
                    (matched - want).abs() < 1e-9,
                    "process {process}: {matched} of {want} comparisons matched:\n{text}"
                );
                break;
            }
            assert!(
                Instant::now() < until,
                "process {process}: {done} of {want} compared"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let mismatches = get_json(
            &rb.bases[process],
            "/admin/shadow/mismatches",
            Some(ADMIN_TOKEN),
        )
        .await;
        assert_eq!(mismatches["total"], 0, "process {process}: {mismatches}");
        assert_eq!(mismatches["mismatches"], json!([]), "process {process}");
        assert!(
            rb.served(process, "add", "ddd").await < 1.0,
            "legacy stayed authoritative"
        );
    }

    // Stage 4: the switch (CLI), shadow removed.
    rb.flag_change(
        "stage 4 personality",
        async |rb: &Runbook| {
            rb.cli(&[
                "flags",
                "set",
                "ddd.commands.personality",
                "true",
                "--reason",
                "stage 4: personality",
            ]);
            let out = rb.cli(&[
                "flags",
                "unset",
                "ddd.commands.shadow.personality",
                "--reason",
                "stage 4: shadow done",
            ]);
            assert!(
                out.contains("ddd.commands.shadow.personality true -> false (default)"),
                "{out}"
            );
        },
        |c| migrated(18)(c) && c["legacy_active"] == false,
    )
    .await;
    // The new system reads what legacy wrote, and writes what legacy will read.
    let info = rb.say(1, "!tz info marie").await;
    assert!(info.to_lowercase().contains("curie"), "{info}");
    let added = rb.say(0, "!tz add einstein").await;
    assert!(added.to_lowercase().contains("einstein"), "{added}");
    rb.say(1, "!tz alias einstein albert").await;
    assert!(rb.served(0, "add", "ddd").await >= 1.0);
    assert!(rb.served(1, "alias", "ddd").await >= 1.0);
    let audit = rb.cli(&["flags", "audit", "--limit", "3"]);
    assert!(
        audit.contains("ddd.commands.shadow.personality true -> unset by"),
        "{audit}"
    );

    // Emergency rollback: one call on process 1; process 0 follows through the store.
    let took = rb
        .flag_change(
            "emergency rollback",
            async |rb: &Runbook| {
                let (status, body) = http(
                    &rb.bases[1],
                    "POST",
                    "/admin/rollback",
                    Some(ADMIN_TOKEN),
                    None,
                )
                .await;
                assert_eq!(status, 200, "{body}");
                let answer: Value = serde_json::from_str(&body).expect("JSON");
                assert_eq!(answer["flag"], "ddd.commands.enabled", "{answer}");
                assert_eq!(answer["value"], false, "{answer}");
            },
            |c| migrated(0)(c) && c["ddd_active"] == false,
        )
        .await;
    eprintln!("emergency rollback in effect in both processes after {took:?}");
    for base in &rb.bases {
        let features = get_json(base, "/health/features", None).await;
        assert_eq!(features["ddd.commands.enabled"], false, "{features}");
    }
    let before = rb.served(0, "info", "legacy").await;
    let info = rb.say(0, "!tz info albert").await;
    assert!(
        info.to_lowercase().contains("einstein"),
        "legacy reads the new system's rows: {info}"
    );
    assert!(rb.served(0, "info", "legacy").await > before);

    // Full rollback to legacy: resume, then every category back (selective rollback) …
    rb.flag_change(
        "selective rollback of every category",
        async |rb: &Runbook| {
            rb.cli(&[
                "flags",
                "set",
                "ddd.commands.enabled",
                "true",
                "--reason",
                "resume after the emergency",
            ]);
            for category in ["personality", "conversation", "authentication", "utility"] {
                let flag = format!("ddd.commands.{category}");
                rb.cli(&["flags", "set", &flag, "false", "--reason", "full rollback"]);
            }
        },
        |c| migrated(0)(c) && c["legacy_active"] == true && c["ddd_active"] == false,
    )
    .await;
    // … then the processes restarted with the new system disabled by environment, and every
    // runtime value removed: legacy by configuration alone, on the same rows.
    let before = fingerprint(&rb.db);
    rb.stop_fleet().await;
    rb.start_fleet(&[("FEATURE_FLAG_DDD_COMMANDS_ENABLED", "false")])
        .await;
    for flag in [
        "enabled",
        "integration",
        "utility",
        "authentication",
        "conversation",
        "personality",
    ] {
        rb.cli(&[
            "flags",
            "unset",
            &format!("ddd.commands.{flag}"),
            "--reason",
            "full rollback",
        ]);
    }
    rb.wait_commands("full rollback", |c| {
        migrated(0)(c) && c["legacy_active"] == true && c["ddd_active"] == false
    })
    .await;
    for base in &rb.bases {
        let features = get_json(base, "/health/features", None).await;
        assert_eq!(
            features["sources"]["ddd.commands.enabled"], "environment",
            "{features}"
        );
        assert_eq!(
            features["sources"]["ddd.commands.utility"], "default",
            "{features}"
        );
    }
    assert_unchanged("full rollback", &before, &fingerprint(&rb.db));
    let list = rb.say(1, "!tz list").await.to_lowercase();
    for name in ["tesla", "curie", "einstein"] {
        assert!(list.contains(name), "legacy lists {name}: {list}");
    }
    assert!(!list.contains("bohr"), "{list}");
    rb.say(0, "!tz ping").await;
    assert!(rb.served(0, "ping", "legacy").await >= 1.0);
    assert!(rb.served(0, "ping", "ddd").await < 1.0);
    let check = rb.cli(&["check"]);
    assert!(check.starts_with("check passed"), "{check}");
    rb.stop_fleet().await;
}

#[test]
fn guilds_land_on_the_shard_of_their_process() {
    for shard in 0..SHARDS {
        assert_eq!((guild_on(shard) >> 22) % SHARDS, shard);
    }
}
