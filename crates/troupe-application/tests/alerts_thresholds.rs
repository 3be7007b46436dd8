//! The alert thresholds of operations.md §4 over rolling windows: one table per rule, window
//! roll-off, fired/resolved transitions, and the auto-rollback of a category.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use troupe_application::alerts::{
    AUTO_ROLLBACK_ACTOR, AlertEngine, AlertRule, AlertSettings, Severity, auto_rollback,
};
use troupe_application::dispatch::CommandRecord;
use troupe_application::flags::{EnvFlags, FlagName, Flags};
use troupe_application::{Category, CommandName, OutcomeClass, SystemKind};
use troupe_domain::Timestamp;
use troupe_ports::FlagStore;
use troupe_testkit::InMemoryStore;

/// A whole minute, so that `at(0..60)` is one minute of the rolling windows.
const T0: i64 = 1_750_000_020_000;

fn at(secs: u64) -> Timestamp {
    Timestamp::from_millis(T0).plus(Duration::from_secs(secs))
}

fn record(command: CommandName, system: SystemKind, ok: bool, ms: u64) -> CommandRecord {
    CommandRecord {
        command,
        category: command.category(),
        system,
        class: if ok {
            OutcomeClass::Success
        } else {
            OutcomeClass::InternalError
        },
        fell_back: false,
        elapsed: Duration::from_millis(ms),
    }
}

fn engine() -> AlertEngine {
    AlertEngine::new(AlertSettings::default())
}

/// `n` commands of `system`, `errors` of them failing, spread over one minute starting at `t`.
fn feed(e: &mut AlertEngine, system: SystemKind, n: u64, errors: u64, t: u64) {
    for i in 0..n {
        let r = record(CommandName::Ping, system, i >= errors, 10);
        e.record(&r, at(t + i % 60));
    }
}

fn find(alerts: &[troupe_application::alerts::Alert], rule: AlertRule) -> Option<Severity> {
    alerts.iter().find(|a| a.rule == rule).map(|a| a.severity)
}

#[test]
fn error_rate_of_a_system_warns_above_a_tenth_of_a_percent_and_is_critical_above_one_percent() {
    let cases: [(u64, u64, Option<Severity>); 6] = [
        (10_000, 0, None),
        (10_000, 10, None),                     // exactly 0.1 %: not above
        (10_000, 11, Some(Severity::Warning)),  // 0.11 %
        (10_000, 100, Some(Severity::Warning)), // exactly 1 %: warning only
        (10_000, 101, Some(Severity::Critical)),
        (1_000, 500, Some(Severity::Critical)),
    ];
    for (n, errors, expected) in cases {
        let mut e = engine();
        feed(&mut e, SystemKind::New, n, errors, 0);
        let eval = e.evaluate(at(60));
        assert_eq!(
            find(&eval.active, AlertRule::ErrorRate(SystemKind::New)),
            expected,
            "{errors} of {n}"
        );
        assert_eq!(
            find(&eval.active, AlertRule::ErrorRate(SystemKind::Legacy)),
            None,
            "legacy ran nothing"
        );
    }
}

#[test]
fn an_error_rate_is_not_judged_on_fewer_commands_than_the_minimum() {
    let mut e = engine();
    feed(&mut e, SystemKind::Legacy, 99, 50, 0);
    let eval = e.evaluate(at(60));
    assert_eq!(
        find(&eval.active, AlertRule::ErrorRate(SystemKind::Legacy)),
        None
    );
    // …but the failed-commands rule still sees the 50 failures.
    assert_eq!(
        find(&eval.active, AlertRule::FailedCommands),
        Some(Severity::Critical)
    );
}

#[test]
fn a_fallback_counts_as_an_error_of_the_new_system_and_of_its_category() {
    let mut e = engine();
    for i in 0..200u64 {
        let mut r = record(CommandName::Add, SystemKind::Legacy, true, 10);
        r.fell_back = i < 3; // 1.5 % of the new system's attempts failed
        if !r.fell_back {
            r.system = SystemKind::New;
        }
        e.record(&r, at(i % 60));
    }
    let eval = e.evaluate(at(60));
    assert_eq!(
        find(&eval.active, AlertRule::ErrorRate(SystemKind::New)),
        Some(Severity::Critical)
    );
    assert_eq!(
        find(
            &eval.active,
            AlertRule::CategoryErrorRate(Category::Personality)
        ),
        Some(Severity::Critical)
    );
    assert_eq!(
        find(
            &eval.active,
            AlertRule::CategoryErrorRate(Category::Utility)
        ),
        None
    );
    assert_eq!(
        find(&eval.active, AlertRule::FailedCommands),
        None,
        "users got legacy's answers: nothing failed for them"
    );
}

#[test]
fn errors_roll_off_the_window_and_the_alert_resolves() {
    let mut e = engine();
    feed(&mut e, SystemKind::New, 1_000, 50, 0);
    let first = e.evaluate(at(60));
    assert_eq!(first.fired.len(), first.active.len());
    assert!(
        first
            .fired
            .iter()
            .any(|a| a.rule == AlertRule::ErrorRate(SystemKind::New))
    );
    // 10 minutes later: still inside the 15-minute window, nothing fires again.
    feed(&mut e, SystemKind::New, 200, 0, 600);
    let later = e.evaluate(at(660));
    assert!(later.fired.is_empty(), "{:?}", later.fired);
    assert_eq!(
        find(&later.active, AlertRule::ErrorRate(SystemKind::New)),
        Some(Severity::Critical)
    );
    assert_eq!(
        later.active[0].since,
        at(60),
        "active since the first evaluation"
    );
    // 20 minutes after the errors: only clean traffic is inside the window.
    feed(&mut e, SystemKind::New, 200, 0, 1_200);
    let clean = e.evaluate(at(1_260));
    assert_eq!(
        find(&clean.active, AlertRule::ErrorRate(SystemKind::New)),
        None
    );
    assert!(
        clean
            .resolved
            .iter()
            .any(|a| a.rule == AlertRule::ErrorRate(SystemKind::New))
    );
}

#[test]
fn failed_commands_warn_above_five_an_hour_and_are_critical_above_twenty() {
    let cases: [(u64, Option<Severity>); 5] = [
        (5, None),
        (6, Some(Severity::Warning)),
        (20, Some(Severity::Warning)),
        (21, Some(Severity::Critical)),
        (60, Some(Severity::Critical)),
    ];
    for (failed, expected) in cases {
        let mut e = engine();
        // Spread over 50 minutes: all inside the hour.
        for i in 0..failed {
            e.record(
                &record(CommandName::Info, SystemKind::Legacy, false, 5),
                at(i * 3_000 / failed.max(1)),
            );
        }
        let eval = e.evaluate(at(3_000));
        assert_eq!(
            find(&eval.active, AlertRule::FailedCommands),
            expected,
            "{failed}"
        );
    }
}

#[test]
fn failed_commands_older_than_an_hour_no_longer_count() {
    let mut e = engine();
    for i in 0..10 {
        e.record(
            &record(CommandName::Info, SystemKind::Legacy, false, 5),
            at(i),
        );
    }
    assert_eq!(
        find(&e.evaluate(at(60)).active, AlertRule::FailedCommands),
        Some(Severity::Warning)
    );
    let eval = e.evaluate(at(3_700));
    assert_eq!(find(&eval.active, AlertRule::FailedCommands), None);
    assert_eq!(eval.resolved.len(), 1);
}

fn timing_case(new_ms: u64) -> Option<Severity> {
    let mut e = engine();
    // Legacy baseline: ping 10 ms, list 100 ms.
    for i in 0..100 {
        e.record(
            &record(CommandName::Ping, SystemKind::Legacy, true, 10),
            at(i),
        );
        e.record(
            &record(CommandName::List, SystemKind::Legacy, true, 100),
            at(i),
        );
    }
    // An hour later the new system serves list only, at `new_ms`.
    for i in 0..50 {
        e.record(
            &record(CommandName::List, SystemKind::New, true, new_ms),
            at(3_600 + i),
        );
    }
    find(&e.evaluate(at(3_660)).active, AlertRule::ResponseTime)
}

#[test]
fn response_time_is_compared_command_by_command_with_the_legacy_baseline() {
    // list's baseline is 100 ms: ping's 10 ms must not make 110 ms look fast.
    let cases = [
        (100, None),
        (119, None),
        (121, Some(Severity::Warning)),
        (149, Some(Severity::Warning)),
        (151, Some(Severity::Critical)),
        (40, None),
    ];
    for (ms, expected) in cases {
        assert_eq!(timing_case(ms), expected, "{ms} ms");
    }
}

#[test]
fn the_last_known_legacy_baseline_is_kept_after_legacy_stops_serving() {
    let settings = AlertSettings {
        baseline_window: Duration::from_secs(3_600),
        ..AlertSettings::default()
    };
    let mut e = AlertEngine::new(settings);
    for i in 0..30 {
        e.record(
            &record(CommandName::Ping, SystemKind::Legacy, true, 10),
            at(i),
        );
    }
    assert!(e.evaluate(at(60)).active.is_empty());
    // Three hours later, legacy is out of the baseline window; the new system is slow.
    for i in 0..30 {
        e.record(
            &record(CommandName::Ping, SystemKind::New, true, 30),
            at(10_800 + i),
        );
    }
    assert_eq!(
        find(&e.evaluate(at(10_860)).active, AlertRule::ResponseTime),
        Some(Severity::Critical)
    );
}

#[test]
fn memory_is_compared_with_a_configured_baseline() {
    let cases = [
        (100, None),
        (125, None),
        (126, Some(Severity::Warning)),
        (150, Some(Severity::Warning)),
        (151, Some(Severity::Critical)),
    ];
    for (mib, expected) in cases {
        let settings = AlertSettings {
            memory_baseline: Some(100 << 20),
            ..AlertSettings::default()
        };
        let mut e = AlertEngine::new(settings);
        e.record_memory(mib << 20, at(0));
        assert_eq!(
            find(&e.evaluate(at(1)).active, AlertRule::Memory),
            expected,
            "{mib} MiB"
        );
    }
}

#[test]
fn without_a_configured_baseline_memory_is_measured_after_the_process_settles() {
    let mut e = engine();
    // Start-up: 50 MiB; settled (5–15 min): 100 MiB; then growth to 160 MiB.
    e.record_memory(50 << 20, at(0));
    for minute in 5..15 {
        e.record_memory(100 << 20, at(minute * 60));
    }
    assert!(e.evaluate(at(14 * 60)).active.is_empty());
    assert_eq!(e.memory_baseline(), None, "still settling");
    assert!(e.evaluate(at(15 * 60)).active.is_empty());
    assert_eq!(e.memory_baseline(), Some(100 << 20));
    for minute in 16..30 {
        e.record_memory(160 << 20, at(minute * 60));
    }
    let eval = e.evaluate(at(30 * 60));
    assert_eq!(
        find(&eval.active, AlertRule::Memory),
        Some(Severity::Critical)
    );
    assert!(eval.active[0].message.contains("160 MiB vs 100 MiB"));
}

#[test]
fn an_escalation_fires_again_and_a_steady_alert_does_not() {
    let mut e = engine();
    for i in 0..6 {
        e.record(
            &record(CommandName::Info, SystemKind::Legacy, false, 5),
            at(i),
        );
    }
    assert_eq!(e.evaluate(at(60)).fired.len(), 1);
    assert!(e.evaluate(at(120)).fired.is_empty());
    for i in 0..20 {
        e.record(
            &record(CommandName::Info, SystemKind::Legacy, false, 5),
            at(130 + i),
        );
    }
    let eval = e.evaluate(at(180));
    assert_eq!(eval.fired.len(), 1);
    assert_eq!(eval.fired[0].severity, Severity::Critical);
    assert_eq!(eval.fired[0].since, at(180));
}

async fn flags(env: &[(&str, &str)]) -> (Arc<Flags>, Arc<InMemoryStore>) {
    let store = Arc::new(InMemoryStore::default());
    let env = EnvFlags::from_vars(env.iter().copied()).unwrap();
    let flags = Flags::load(env, BTreeMap::new(), store.clone() as Arc<dyn FlagStore>)
        .await
        .unwrap();
    (Arc::new(flags), store)
}

#[tokio::test]
async fn a_critical_category_error_rate_turns_that_category_and_its_overrides_off() {
    let (flags, store) = flags(&[
        ("FEATURE_FLAG_DDD_COMMANDS_ENABLED", "true"),
        ("FEATURE_FLAG_DDD_COMMANDS_INTEGRATION", "true"),
        ("FEATURE_FLAG_DDD_COMMANDS_PERSONALITY", "true"),
        ("FEATURE_FLAG_DDD_COMMANDS_UTILITY", "true"),
        ("FEATURE_FLAG_DDD_COMMANDS_LIST", "true"),
    ])
    .await;
    let mut e = engine();
    for i in 0..200u64 {
        let r = record(CommandName::Add, SystemKind::New, i >= 10, 10);
        e.record(&r, at(i % 60));
    }
    let eval = e.evaluate(at(60));
    let changed = auto_rollback(&flags, &eval.fired, at(60)).await;
    let names: Vec<FlagName> = changed.iter().map(|(f, _)| *f).collect();
    assert_eq!(
        names,
        vec![
            FlagName::Category(Category::Personality),
            FlagName::Command(CommandName::List)
        ]
    );
    assert!(changed.iter().all(|(_, r)| r.is_ok()));
    let snap = flags.snapshot();
    assert!(!snap.get(FlagName::Category(Category::Personality)));
    assert!(!snap.get(FlagName::Command(CommandName::List)));
    assert!(snap.get(FlagName::Category(Category::Utility)), "untouched");
    let audit = store.audit(10).await.unwrap();
    assert!(audit.iter().all(|a| a.actor == AUTO_ROLLBACK_ACTOR));
    assert!(
        audit[0]
            .reason
            .contains("error rate of the ddd personality")
    );
}

#[tokio::test]
async fn warnings_and_system_wide_alerts_never_roll_back() {
    let (flags, _) = flags(&[
        ("FEATURE_FLAG_DDD_COMMANDS_ENABLED", "true"),
        ("FEATURE_FLAG_DDD_COMMANDS_INTEGRATION", "true"),
        ("FEATURE_FLAG_DDD_COMMANDS_UTILITY", "true"),
    ])
    .await;
    let mut e = engine();
    // 0.5 %: a warning for the category, and the system.
    for i in 0..1_000u64 {
        e.record(
            &record(CommandName::Ping, SystemKind::New, i >= 5, 10),
            at(i % 60),
        );
    }
    let eval = e.evaluate(at(60));
    assert_eq!(
        find(&eval.fired, AlertRule::CategoryErrorRate(Category::Utility)),
        Some(Severity::Warning)
    );
    assert!(auto_rollback(&flags, &eval.fired, at(60)).await.is_empty());
    assert!(flags.snapshot().get(FlagName::Category(Category::Utility)));
}
