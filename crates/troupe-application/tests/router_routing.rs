//! The routing table for all 18 commands under the runbook's stages 1–4 and its rollbacks.

use std::collections::BTreeMap;

use troupe_application::flags::{EnvFlags, FlagName, FlagSnapshot, Targeting};
use troupe_application::router::{Route, route, should_use_new_system};
use troupe_application::{Category, CommandName};
use troupe_domain::GuildId;

fn env(vars: &[(&str, &str)]) -> EnvFlags {
    EnvFlags::from_vars(vars.iter().copied()).expect("valid flag environment")
}

fn snapshot(vars: &[(&str, &str)]) -> FlagSnapshot {
    FlagSnapshot::build(&env(vars), &BTreeMap::new(), &BTreeMap::new())
}

/// Which commands a snapshot sends to the new system (resolving every alias like a user would).
fn new_system_commands(flags: &FlagSnapshot) -> Vec<&'static str> {
    let mut out = Vec::new();
    for command in CommandName::ALL {
        let by_name = should_use_new_system(flags, command, true, None);
        for alias in command.aliases() {
            let resolved = CommandName::resolve(alias).expect("alias resolves");
            assert_eq!(
                should_use_new_system(flags, resolved, true, None),
                by_name,
                "alias {alias} routes like {command}"
            );
        }
        if by_name {
            out.push(command.as_str());
        }
    }
    out
}

const UTILITY: &[&str] = &[
    "ping",
    "status",
    "help",
    "notifications",
    "debug",
    "purgbot",
    "volumetest",
];
const AUTHENTICATION: &[&str] = &["auth", "verify"];
const CONVERSATION: &[&str] = &["activate", "deactivate", "reset", "autorespond"];
const PERSONALITY: &[&str] = &["add", "remove", "info", "alias", "list"];

fn union(parts: &[&[&'static str]]) -> Vec<&'static str> {
    let mut all: Vec<&str> = parts.iter().flat_map(|p| p.iter().copied()).collect();
    all.sort_by_key(|name| CommandName::ALL.iter().position(|c| c.as_str() == *name));
    all
}

#[test]
fn deployment_with_the_new_system_disabled_routes_everything_to_legacy() {
    let flags = snapshot(&[
        ("FEATURE_FLAG_DDD_COMMANDS_ENABLED", "false"),
        ("FEATURE_FLAG_DDD_COMMANDS_INTEGRATION", "false"),
    ]);
    assert!(new_system_commands(&flags).is_empty());
    assert!(
        new_system_commands(&FlagSnapshot::defaults()).is_empty(),
        "the safe default is legacy"
    );
}

/// The flags a stage adds, and the commands it then serves with the new system.
type Stage = (&'static [(&'static str, &'static str)], Vec<&'static str>);

#[test]
fn each_runbook_stage_moves_exactly_its_category() {
    let base = [
        ("FEATURE_FLAG_DDD_COMMANDS_ENABLED", "true"),
        ("FEATURE_FLAG_DDD_COMMANDS_INTEGRATION", "true"),
    ];
    let stages: [Stage; 4] = [
        (
            &[("FEATURE_FLAG_DDD_COMMANDS_UTILITY", "true")],
            union(&[UTILITY]),
        ),
        (
            &[
                ("FEATURE_FLAG_DDD_COMMANDS_UTILITY", "true"),
                ("FEATURE_FLAG_DDD_COMMANDS_AUTHENTICATION", "true"),
            ],
            union(&[UTILITY, AUTHENTICATION]),
        ),
        (
            &[
                ("FEATURE_FLAG_DDD_COMMANDS_UTILITY", "true"),
                ("FEATURE_FLAG_DDD_COMMANDS_AUTHENTICATION", "true"),
                ("FEATURE_FLAG_DDD_COMMANDS_CONVERSATION", "true"),
            ],
            union(&[UTILITY, AUTHENTICATION, CONVERSATION]),
        ),
        (
            &[
                ("FEATURE_FLAG_DDD_COMMANDS_UTILITY", "true"),
                ("FEATURE_FLAG_DDD_COMMANDS_AUTHENTICATION", "true"),
                ("FEATURE_FLAG_DDD_COMMANDS_CONVERSATION", "true"),
                ("FEATURE_FLAG_DDD_COMMANDS_PERSONALITY", "true"),
            ],
            union(&[UTILITY, AUTHENTICATION, CONVERSATION, PERSONALITY]),
        ),
    ];
    for (i, (vars, expected)) in stages.iter().enumerate() {
        let all: Vec<(&str, &str)> = base.iter().chain(vars.iter()).copied().collect();
        assert_eq!(
            &new_system_commands(&snapshot(&all)),
            expected,
            "stage {}",
            i + 1
        );
    }
    let stage4: Vec<(&str, &str)> = base.iter().chain(stages[3].0.iter()).copied().collect();
    assert_eq!(new_system_commands(&snapshot(&stage4)).len(), 18);
}

#[test]
fn the_emergency_rollback_sends_every_command_to_legacy() {
    let flags = snapshot(&[
        ("FEATURE_FLAG_DDD_COMMANDS_ENABLED", "false"),
        ("FEATURE_FLAG_DDD_COMMANDS_INTEGRATION", "true"),
        ("FEATURE_FLAG_DDD_COMMANDS_UTILITY", "true"),
        ("FEATURE_FLAG_DDD_COMMANDS_AUTHENTICATION", "true"),
        ("FEATURE_FLAG_DDD_COMMANDS_CONVERSATION", "true"),
        ("FEATURE_FLAG_DDD_COMMANDS_PERSONALITY", "true"),
        ("FEATURE_FLAG_DDD_COMMANDS_PING", "true"),
        ("FEATURE_FLAG_DDD_COMMANDS_SHADOW_UTILITY", "true"),
    ]);
    assert!(
        new_system_commands(&flags).is_empty(),
        "the kill switch beats overrides"
    );
    assert!(
        CommandName::ALL
            .iter()
            .all(|c| route(&flags, *c, true, None) == Route::Legacy),
        "and shadow runs"
    );
}

#[test]
fn selective_rollbacks_move_only_their_category_back() {
    let all_on = [
        ("FEATURE_FLAG_DDD_COMMANDS_ENABLED", "true"),
        ("FEATURE_FLAG_DDD_COMMANDS_INTEGRATION", "true"),
        ("FEATURE_FLAG_DDD_COMMANDS_UTILITY", "true"),
        ("FEATURE_FLAG_DDD_COMMANDS_AUTHENTICATION", "true"),
        ("FEATURE_FLAG_DDD_COMMANDS_CONVERSATION", "true"),
        ("FEATURE_FLAG_DDD_COMMANDS_PERSONALITY", "true"),
    ];
    let rollbacks = [
        (
            "FEATURE_FLAG_DDD_COMMANDS_PERSONALITY",
            union(&[UTILITY, AUTHENTICATION, CONVERSATION]),
        ),
        (
            "FEATURE_FLAG_DDD_COMMANDS_CONVERSATION",
            union(&[UTILITY, AUTHENTICATION, PERSONALITY]),
        ),
        (
            "FEATURE_FLAG_DDD_COMMANDS_AUTHENTICATION",
            union(&[UTILITY, CONVERSATION, PERSONALITY]),
        ),
        (
            "FEATURE_FLAG_DDD_COMMANDS_UTILITY",
            union(&[AUTHENTICATION, CONVERSATION, PERSONALITY]),
        ),
    ];
    for (off, expected) in rollbacks {
        let vars: Vec<(&str, &str)> = all_on
            .iter()
            .map(|(k, v)| if *k == off { (*k, "false") } else { (*k, *v) })
            .collect();
        assert_eq!(
            new_system_commands(&snapshot(&vars)),
            expected,
            "rollback of {off}"
        );
    }
}

#[test]
fn integration_off_keeps_everything_on_legacy() {
    let flags = snapshot(&[
        ("FEATURE_FLAG_DDD_COMMANDS_ENABLED", "true"),
        ("FEATURE_FLAG_DDD_COMMANDS_UTILITY", "true"),
    ]);
    assert!(new_system_commands(&flags).is_empty());
}

#[test]
fn a_per_command_override_beats_its_category_both_ways() {
    let flags = snapshot(&[
        ("FEATURE_FLAG_DDD_COMMANDS_ENABLED", "true"),
        ("FEATURE_FLAG_DDD_COMMANDS_INTEGRATION", "true"),
        ("FEATURE_FLAG_DDD_COMMANDS_UTILITY", "true"),
        ("FEATURE_FLAG_DDD_COMMANDS_DEBUG", "false"),
        ("FEATURE_FLAG_DDD_COMMANDS_ADD", "true"),
    ]);
    let mut expected: Vec<&str> = UTILITY.iter().copied().filter(|c| *c != "debug").collect();
    expected.push("add");
    assert_eq!(new_system_commands(&flags), expected);
}

#[test]
fn a_command_without_a_new_handler_always_goes_to_legacy() {
    let flags = snapshot(&[
        ("FEATURE_FLAG_DDD_COMMANDS_ENABLED", "true"),
        ("FEATURE_FLAG_DDD_COMMANDS_INTEGRATION", "true"),
        ("FEATURE_FLAG_DDD_COMMANDS_UTILITY", "true"),
        ("FEATURE_FLAG_DDD_COMMANDS_PING", "true"),
    ]);
    assert!(!should_use_new_system(
        &flags,
        CommandName::Ping,
        false,
        None
    ));
}

#[test]
fn shadow_mode_keeps_legacy_authoritative_for_its_category_only() {
    let flags = snapshot(&[
        ("FEATURE_FLAG_DDD_COMMANDS_ENABLED", "true"),
        ("FEATURE_FLAG_DDD_COMMANDS_SHADOW_PERSONALITY", "true"),
    ]);
    for command in CommandName::ALL {
        let expected = if command.category() == Category::Personality {
            Route::Shadow
        } else {
            Route::Legacy
        };
        assert_eq!(route(&flags, command, true, None), expected, "{command}");
    }
}

#[test]
fn targeting_limits_an_enabled_category_to_its_guilds() {
    let env = env(&[
        ("FEATURE_FLAG_DDD_COMMANDS_ENABLED", "true"),
        ("FEATURE_FLAG_DDD_COMMANDS_INTEGRATION", "true"),
        ("FEATURE_FLAG_DDD_COMMANDS_PERSONALITY", "true"),
    ]);
    let pilot = GuildId::new(111).unwrap();
    let other = GuildId::new(222).unwrap();
    let targeting = BTreeMap::from([(
        Category::Personality,
        Targeting {
            guilds: [pilot].into_iter().collect(),
            percentage: Some(0),
        },
    )]);
    let flags = FlagSnapshot::build(&env, &BTreeMap::new(), &targeting);
    assert!(should_use_new_system(
        &flags,
        CommandName::Add,
        true,
        Some(pilot)
    ));
    assert!(!should_use_new_system(
        &flags,
        CommandName::Add,
        true,
        Some(other)
    ));
    assert!(!should_use_new_system(&flags, CommandName::Add, true, None));
    assert!(!flags.get(FlagName::Category(Category::Utility)));
}
