//! Hostile input never panics, never fails internally and never produces an oversized reply;
//! the system identifies itself correctly; a store that is down gives a reference, not a crash.

use troupe_application::{CommandName, CommandSystem, OutcomeClass, SystemKind};

use crate::common::*;

/// Inputs that have broken bots before: huge, invisible, quoted, markdown and mention noise.
fn hostile_inputs() -> Vec<String> {
    vec![
        "x".repeat(4000),
        format!("\"{}\"", "angel dust ".repeat(360)),
        "ein\u{200b}stein".to_owned(),
        "\u{feff}\u{202e}\u{200d}".to_owned(),
        "\"unterminated quote".to_owned(),
        "\"\" \"   \"".to_owned(),
        "**bold** `code` ||spoiler|| <@123> @everyone".to_owned(),
        "a | b | c".to_owned(),
        "model: avatar: :".to_owned(),
        "level major minor patch".to_owned(),
        "😀".repeat(1500),
        "-18446744073709551616".to_owned(),
    ]
}

#[tokio::test]
async fn every_command_survives_hostile_arguments_with_a_bounded_reply() {
    let h = Harness::new();
    h.seed("einstein", ALICE, &["albert"]).await;
    let people = [
        member(ALICE),
        member(ALICE).admin(),
        dm(ROOT),
        member(BOB).manager(),
    ];
    for command in CommandName::ALL {
        for input in hostile_inputs() {
            for who in &people {
                let text = format!("{PREFIX} {command} {input}");
                let request = match troupe_application::parser::parse(&text, PREFIX) {
                    troupe_application::parser::Parsed::Command { .. } => who.request(&text),
                    // The parser refuses some inputs; hand the words to the command anyway.
                    _ => who.raw(command, &input.split_whitespace().collect::<Vec<_>>(), None),
                };
                let o = h.system().execute(&request).await;
                assert_ne!(o.class, OutcomeClass::InternalError, "{command} {input:?}");
                let reply = o.reply.as_ref().expect("a reply");
                assert!(
                    reply.text.chars().count() <= 2000,
                    "{command}: reply of {} characters",
                    reply.text.chars().count()
                );
                for f in &reply.fields {
                    assert!(
                        f.value.chars().count() <= 1024,
                        "{command}: field {}",
                        f.name
                    );
                }
                // Spans stay balanced: the key-fact extraction finds no unclosed span.
                let _ = facts(&o);
            }
        }
    }
}

#[tokio::test]
async fn blank_and_empty_words_count_as_missing_arguments() {
    let h = Harness::new();
    h.seed("einstein", ALICE, &[]).await;
    let who = member(ALICE).admin();
    for command in [
        CommandName::Activate,
        CommandName::Reset,
        CommandName::Remove,
        CommandName::Info,
    ] {
        let o = h
            .system()
            .execute(&who.raw(command, &["", "  "], None))
            .await;
        expect(&o, OutcomeClass::InvalidInput, &[], &[], &[]);
    }
    let o = h
        .system()
        .execute(&who.raw(CommandName::Alias, &["einstein", " "], None))
        .await;
    expect(&o, OutcomeClass::InvalidInput, &[], &[], &[]);
    // A blank prompt after `|` means no prompt.
    let o = h
        .system()
        .execute(&who.raw(CommandName::Add, &["curie"], Some("  ")))
        .await;
    assert_eq!(o.class, OutcomeClass::Success);
    let stored = h.stored("curie").await.unwrap();
    assert_eq!(stored.profile().prompt.as_str(), "You are curie.");
}

#[tokio::test]
async fn a_long_query_is_echoed_clipped_in_its_code_span() {
    let h = Harness::new();
    let query = "q".repeat(4000);
    let o = h.run(&member(ALICE), &format!("!tz info {query}")).await;
    assert_eq!(o.class, OutcomeClass::NotFound);
    let code = facts(&o).code;
    assert_eq!(code.len(), 1);
    assert_eq!(code[0], format!("{}…", "q".repeat(100)));
}

#[tokio::test]
async fn the_legacy_system_handles_all_eighteen_commands() {
    let system = Harness::new().system();
    assert_eq!(system.kind(), SystemKind::Legacy);
    for command in CommandName::ALL {
        assert!(system.handles(command), "{command}");
    }
}

#[tokio::test]
async fn every_command_that_reads_or_writes_the_store_gives_a_reference_when_it_is_down() {
    let h = Harness::new();
    h.seed("einstein", ALICE, &[]).await;
    h.store.fail_all(true);
    let cases = [
        (member(ALICE), "!tz status"),
        (member(ALICE), "!tz notifications"),
        (dm(ROOT), "!tz debug stats"),
        (dm(ROOT), "!tz debug unverify"),
        (member(ALICE), "!tz auth status"),
        (member(ALICE), "!tz auth revoke"),
        (member(ALICE).admin(), "!tz auth cleanup"),
        (member(ALICE), "!tz verify"),
        (member(ALICE).admin(), "!tz activate einstein"),
        (member(ALICE).admin(), "!tz deactivate"),
        (member(ALICE), "!tz reset einstein"),
        (member(ALICE), "!tz autorespond"),
        (member(ALICE), "!tz add curie"),
        (member(ALICE), "!tz remove einstein"),
        (member(ALICE), "!tz info einstein"),
        (member(ALICE), "!tz alias einstein albert"),
        (member(ALICE), "!tz list"),
    ];
    let mut references = std::collections::HashSet::new();
    for (who, text) in cases {
        let o = h.run(&who, text).await;
        expect_internal_error(&o);
        assert!(
            references.insert(o.reference.unwrap()),
            "{text}: a fresh reference"
        );
    }
    // Commands that do not touch the store keep working.
    assert_eq!(
        h.run(&member(ALICE), "!tz ping").await.class,
        OutcomeClass::Success
    );
    assert_eq!(
        h.run(&member(ALICE), "!tz help").await.class,
        OutcomeClass::Success
    );
}
