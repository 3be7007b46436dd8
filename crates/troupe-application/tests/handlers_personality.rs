//! Scenarios for the personality commands: add, remove, info, alias, list (ADR 0002 table,
//! commands.md §2 Personality), including hostile input.

mod support;

use std::time::Duration;

use support::*;
use troupe_application::{CommandName as C, OutcomeClass};
use troupe_domain::DomainEvent;
use troupe_domain::conversation::{ChannelActivation, Conversation};
use troupe_domain::personality::{ErrorMessage, RESERVED_NAMES};
use troupe_ports::{ConversationRepository, PersonalityRepository, SourceProfile};
use troupe_testkit::FakeProfileSource;

// ---------------------------------------------------------------- add

#[tokio::test]
async fn add_without_a_name_asks_for_one() {
    let world = World::new();
    let outcome = world.run(req(C::Add, &[])).await;
    assert_no_state_change(&outcome, OutcomeClass::InvalidInput);
    assert!(spans(&outcome).is_empty());
}

#[tokio::test]
async fn add_refuses_invalid_names_aliases_prompts_avatars_and_models_with_the_reason() {
    let world = World::new();
    let long = "x".repeat(4000);
    let cases = [
        (req(C::Add, &["a"]), "at least 2"),
        (req(C::Add, &[&long]), "at most 50"),
        (req(C::Add, &["ein\u{200b}stein"]), "invisible"),
        (req(C::Add, &["robert'); drop"]), "cannot contain"),
        (req(C::Add, &["\"quoted\""]), "cannot contain"),
        (req(C::Add, &["Admin"]), "reserved"),
        (
            req(C::Add, &["einstein", "\u{202e}evil"]),
            "text-direction control",
        ),
        (req(C::Add, &["einstein", &long]), "at most 50"),
        (
            req(C::Add, &["einstein"]).tail(&"p".repeat(4001)),
            "at most 4000",
        ),
        (
            req(C::Add, &["einstein"]).tail("esc\u{1b}[31m"),
            "invisible",
        ),
        (
            req(C::Add, &["einstein"]).option("avatar", "javascript:alert(1)"),
            "URL",
        ),
        (
            req(C::Add, &["einstein"]).option("model", "has space"),
            "cannot contain",
        ),
    ];
    for (request, reason) in cases {
        let outcome = world.run(request).await;
        assert_no_state_change(&outcome, OutcomeClass::InvalidInput);
        let shown = spans(&outcome);
        assert_eq!(shown.len(), 1, "{shown:?}");
        assert!(shown[0].contains(reason), "{shown:?} should say {reason}");
        assert!(shown[0].chars().count() <= 103, "echo is bounded");
    }
    assert_eq!(world.store.count().await.unwrap(), 0);
}

#[tokio::test]
async fn add_refuses_every_reserved_name_in_any_case() {
    let world = World::new();
    for reserved in RESERVED_NAMES {
        for variant in [reserved.to_string(), reserved.to_uppercase()] {
            let outcome = world.run(req(C::Add, &[&variant])).await;
            assert_no_state_change(&outcome, OutcomeClass::InvalidInput);
        }
    }
    assert_eq!(world.store.count().await.unwrap(), 0);
}

#[tokio::test]
async fn add_refuses_an_alias_equal_to_the_new_name() {
    let world = World::new();
    let outcome = world.run(req(C::Add, &["einstein", "EINSTEIN"])).await;
    assert_no_state_change(&outcome, OutcomeClass::InvalidInput);
    assert!(spans(&outcome).is_empty());
    assert!(world.personality("einstein").await.is_none());
}

#[tokio::test]
async fn add_of_an_existing_name_is_a_conflict_naming_the_stored_personality() {
    let world = World::new();
    world.seed("Einstein", STRANGER, &[]).await;
    let outcome = world.run(req(C::Add, &["einstein"])).await;
    assert_no_state_change(&outcome, OutcomeClass::Conflict);
    assert_eq!(spans(&outcome), ["**Einstein**"]);
    assert_eq!(
        world.personality("einstein").await.unwrap().owner(),
        user(STRANGER)
    );
}

#[tokio::test]
async fn add_with_a_taken_alias_is_refused_and_never_takes_it() {
    let world = World::new();
    world.seed("curie", STRANGER, &["albert e"]).await;
    world.seed("bohr", STRANGER, &[]).await;

    let held = world.run(req(C::Add, &["einstein", "Albert E"])).await;
    assert_no_state_change(&held, OutcomeClass::Conflict);
    assert_eq!(spans(&held), ["**Albert E**", "**curie**"]);

    let a_name = world.run(req(C::Add, &["einstein", "bohr"])).await;
    assert_no_state_change(&a_name, OutcomeClass::Conflict);
    assert_eq!(spans(&a_name), ["**bohr**"]);
    let text = &a_name.reply.as_ref().unwrap().text;
    assert!(text.contains("is the name of a personality"), "{text}");
    assert!(text.contains(&format!("<@{STRANGER}>")), "{text}");

    assert!(world.personality("einstein").await.is_none());
    assert_eq!(world.aliases_of("curie").await, ["albert e"]);
}

#[tokio::test]
async fn add_defines_a_local_personality_and_shows_its_card() {
    let world = World::new();
    let outcome = world.run(req(C::Add, &["einstein"])).await;
    assert_eq!(outcome.class, OutcomeClass::Success);
    assert_eq!(
        outcome.events,
        [DomainEvent::PersonalityCreated {
            name: name("einstein"),
            owner: user(OWNER)
        }]
    );
    assert!(spans(&outcome).is_empty(), "the facts are in the fields");
    let expected: Vec<(String, String)> = [
        ("Name", "einstein"),
        ("Display name", "einstein"),
        ("Aliases", "none"),
        ("Owner", "<@1>"),
        ("Talk to it", "`@einstein`"),
    ]
    .iter()
    .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
    .collect();
    assert_eq!(fields(&outcome), expected);

    let stored = world.personality("einstein").await.unwrap();
    assert_eq!(stored.owner(), user(OWNER));
    assert_eq!(stored.profile().prompt.as_str(), "You are einstein.");
    assert_eq!(stored.profile().model, None, "the configured default");
    assert_eq!(stored.profile().fetched_at, None);
}

#[tokio::test]
async fn add_with_alias_prompt_avatar_and_model_stores_them_all() {
    let world = World::new();
    let outcome = world
        .run(
            req(C::Add, &["einstein", "albert e"])
                .tail("You are Albert Einstein.\nBe kind.")
                .option("avatar", "https://cdn.example/einstein.png")
                .option("model", "gpt-4o"),
        )
        .await;
    assert_eq!(outcome.class, OutcomeClass::Success);
    assert_eq!(
        outcome.events,
        [
            DomainEvent::PersonalityCreated {
                name: name("einstein"),
                owner: user(OWNER)
            },
            DomainEvent::AliasAdded {
                name: name("einstein"),
                alias: alias("albert e")
            }
        ]
    );
    assert_eq!(field(&outcome, "Aliases").as_deref(), Some("`albert e`"));
    let stored = world.personality("einstein").await.unwrap();
    assert_eq!(
        stored.profile().prompt.as_str(),
        "You are Albert Einstein.\nBe kind."
    );
    assert_eq!(
        stored
            .profile()
            .avatar_url
            .as_ref()
            .map(troupe_domain::personality::AvatarUrl::as_str),
        Some("https://cdn.example/einstein.png")
    );
    assert_eq!(
        stored
            .profile()
            .model
            .as_ref()
            .map(troupe_domain::personality::ModelId::as_str),
        Some("gpt-4o")
    );
    assert_eq!(world.aliases_of("einstein").await, ["albert e"]);
    assert_eq!(
        world
            .store
            .lookup("ALBERT   E")
            .await
            .unwrap()
            .map(|p| p.name().clone()),
        Some(name("einstein"))
    );
}

#[tokio::test]
async fn add_joins_unquoted_words_after_the_name_into_one_alias() {
    let world = World::new();
    let outcome = world.run(req(C::Add, &["einstein", "albert", "e"])).await;
    assert_eq!(outcome.class, OutcomeClass::Success);
    assert_eq!(world.aliases_of("einstein").await, ["albert e"]);
}

fn source_profile(display_name: &str) -> SourceProfile {
    SourceProfile {
        display_name: display(display_name),
        avatar_url: Some(avatar("https://profiles.example/a.png")),
        error_message: Some(ErrorMessage::parse("My halo slipped.").unwrap()),
    }
}

#[tokio::test]
async fn add_with_a_profile_source_uses_the_fetched_profile_and_auto_aliases_the_display_name() {
    let world = World::new()
        .with_profiles(FakeProfileSource::new().with("angel-dust", source_profile("Angel Dust")));
    let outcome = world.run(req(C::Add, &["angel-dust", "angel"])).await;
    assert_eq!(outcome.class, OutcomeClass::Success);
    assert_eq!(
        outcome.events,
        [
            DomainEvent::PersonalityCreated {
                name: name("angel-dust"),
                owner: user(OWNER)
            },
            DomainEvent::AliasAdded {
                name: name("angel-dust"),
                alias: alias("angel")
            },
            DomainEvent::AliasAdded {
                name: name("angel-dust"),
                alias: alias("angel dust")
            }
        ]
    );
    assert_eq!(
        field(&outcome, "Display name").as_deref(),
        Some("Angel Dust")
    );
    assert_eq!(
        field(&outcome, "Aliases").as_deref(),
        Some("`angel`, `angel dust`")
    );
    let stored = world.personality("angel-dust").await.unwrap();
    assert_eq!(stored.profile().fetched_at, Some(world.now()));
    assert_eq!(
        stored
            .profile()
            .error_message
            .as_ref()
            .map(ErrorMessage::as_str),
        Some("My halo slipped.")
    );
    assert_eq!(world.profiles.as_ref().unwrap().fetches(), ["angel-dust"]);
}

#[tokio::test]
async fn add_skips_the_auto_alias_when_another_personality_holds_it() {
    let world = World::new()
        .with_profiles(FakeProfileSource::new().with("angel-dust", source_profile("Angel Dust")));
    world.seed("other", STRANGER, &["angel dust"]).await;
    let outcome = world.run(req(C::Add, &["angel-dust"])).await;
    assert_eq!(outcome.class, OutcomeClass::Success);
    assert_eq!(outcome.events.len(), 1, "{:?}", outcome.events);
    assert_eq!(field(&outcome, "Aliases").as_deref(), Some("none"));
    assert_eq!(world.aliases_of("other").await, ["angel dust"]);
}

#[tokio::test]
async fn add_of_a_name_unknown_to_the_profile_source_is_not_found() {
    let world = World::new().with_profiles(FakeProfileSource::new());
    let outcome = world.run(req(C::Add, &["nobody"])).await;
    assert_no_state_change(&outcome, OutcomeClass::NotFound);
    assert_eq!(spans(&outcome), ["`nobody`"]);
    assert_eq!(world.store.count().await.unwrap(), 0);
}

#[tokio::test]
async fn add_with_the_profile_source_down_is_an_internal_error_storing_nothing() {
    let source = FakeProfileSource::new().with("einstein", source_profile("Albert"));
    source.fail(true);
    let world = World::new().with_profiles(source);
    let outcome = world.run(req(C::Add, &["einstein"])).await;
    assert_internal_error(&outcome);
    assert_eq!(world.store.count().await.unwrap(), 0);
}

#[tokio::test]
async fn add_escapes_markdown_in_a_fetched_display_name() {
    let world = World::new()
        .with_profiles(FakeProfileSource::new().with("sneaky", source_profile("**Boss** `x`")));
    let outcome = world.run(req(C::Add, &["sneaky"])).await;
    assert_eq!(outcome.class, OutcomeClass::Success);
    assert_eq!(
        field(&outcome, "Display name").as_deref(),
        Some("\\*\\*Boss\\*\\* \\`x\\`")
    );
}

// ---------------------------------------------------------------- remove

#[tokio::test]
async fn remove_without_argument_asks_which_personality() {
    let world = World::new();
    let outcome = world.run(req(C::Remove, &[])).await;
    assert_no_state_change(&outcome, OutcomeClass::InvalidInput);
}

#[tokio::test]
async fn remove_of_an_unknown_personality_echoes_the_query() {
    let world = World::new();
    let outcome = world.run(req(C::Remove, &["ghost"])).await;
    assert_no_state_change(&outcome, OutcomeClass::NotFound);
    assert_eq!(spans(&outcome), ["`ghost`"]);
}

#[tokio::test]
async fn remove_by_someone_else_is_refused() {
    let world = World::new();
    world.seed("einstein", OWNER, &[]).await;
    let outcome = world
        .run(req(C::Remove, &["einstein"]).by(STRANGER).admin())
        .await;
    assert_no_state_change(&outcome, OutcomeClass::Denied);
    assert_eq!(spans(&outcome), ["**einstein**"]);
    assert!(world.personality("einstein").await.is_some());
}

#[tokio::test]
async fn remove_deletes_the_personality_with_aliases_activations_and_conversations() {
    let world = World::new();
    world.seed("angel-dust", OWNER, &["angel dust"]).await;
    let now = world.now();
    world
        .store
        .activate(&ChannelActivation {
            channel: channel(CHANNEL),
            personality: name("angel-dust"),
            activated_by: user(OWNER),
            activated_at: now,
        })
        .await
        .unwrap();
    world
        .store
        .save_conversation(&Conversation::after_exchange(
            user(STRANGER),
            channel(CHANNEL),
            name("angel-dust"),
            false,
            true,
            now,
        ))
        .await
        .unwrap();
    let outcome = world.run(req(C::Remove, &["angel", "dust"])).await;
    assert_eq!(outcome.class, OutcomeClass::Success);
    assert_eq!(
        outcome.events,
        [DomainEvent::PersonalityRemoved {
            name: name("angel-dust")
        }]
    );
    assert_eq!(spans(&outcome), ["**angel-dust**"]);
    assert!(world.personality("angel-dust").await.is_none());
    assert!(world.store.lookup("angel dust").await.unwrap().is_none());
    assert!(
        world
            .store
            .activation(channel(CHANNEL))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        world
            .store
            .conversation(user(STRANGER), channel(CHANNEL))
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_bot_owner_may_remove_anyones_personality() {
    let world = World::new();
    world.seed("einstein", OWNER, &[]).await;
    let outcome = world.run(req(C::Remove, &["einstein"]).by(BOT_OWNER)).await;
    assert_eq!(outcome.class, OutcomeClass::Success);
    assert!(world.personality("einstein").await.is_none());
}

// ---------------------------------------------------------------- info

#[tokio::test]
async fn info_without_argument_asks_which_personality() {
    let world = World::new();
    let outcome = world.run(req(C::Info, &[])).await;
    assert_no_state_change(&outcome, OutcomeClass::InvalidInput);
}

#[tokio::test]
async fn info_of_an_unknown_personality_echoes_the_query() {
    let world = World::new();
    let outcome = world.run(req(C::Info, &["no", "such", "one"])).await;
    assert_no_state_change(&outcome, OutcomeClass::NotFound);
    assert_eq!(spans(&outcome), ["`no such one`"]);
}

#[tokio::test]
async fn info_of_a_local_personality_shows_every_field() {
    let world = World::new();
    world.seed("einstein", OWNER, &["albert", "ae"]).await;
    let outcome = world.run(req(C::Info, &["ALBERT"]).by(STRANGER)).await;
    assert_eq!(outcome.class, OutcomeClass::Success);
    assert!(outcome.events.is_empty());
    let expected: Vec<(String, String)> = [
        ("Name", "einstein"),
        ("Display name", "einstein"),
        ("Aliases", "`albert`, `ae`"),
        ("Owner", "<@1>"),
        ("Model", "default"),
        ("Created", "2025-06-14"),
        ("Avatar", "none"),
        ("Profile", "local"),
    ]
    .iter()
    .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
    .collect();
    assert_eq!(fields(&outcome), expected);
}

#[tokio::test]
async fn info_says_whether_a_fetched_profile_is_current_or_stale() {
    let world = World::new();
    let fetched = world.now();
    world
        .seed_with("lilith", OWNER, &[], |p| {
            p.display_name = display("Lilith 🌙");
            p.avatar_url = Some(avatar("https://profiles.example/l.png"));
            p.model = Some(troupe_domain::personality::ModelId::parse("gpt-4o").unwrap());
            p.fetched_at = Some(fetched);
        })
        .await;
    let fresh = world.run(req(C::Info, &["lilith 🌙"])).await;
    assert_eq!(field(&fresh, "Display name").as_deref(), Some("Lilith 🌙"));
    assert_eq!(field(&fresh, "Model").as_deref(), Some("gpt-4o"));
    assert_eq!(field(&fresh, "Avatar").as_deref(), Some("current"));
    assert_eq!(field(&fresh, "Profile").as_deref(), Some("current"));
    assert_eq!(
        fresh.reply.as_ref().unwrap().thumbnail.as_deref(),
        Some("https://profiles.example/l.png")
    );

    world.clock.advance(Duration::from_secs(25 * 3600));
    let stale = world.run(req(C::Info, &["lilith"])).await;
    assert_eq!(field(&stale, "Profile").as_deref(), Some("stale"));
}

// ---------------------------------------------------------------- alias

#[tokio::test]
async fn alias_with_fewer_than_two_words_asks_for_both() {
    let world = World::new();
    world.seed("einstein", OWNER, &[]).await;
    for words in [&[][..], &["einstein"]] {
        let outcome = world.run(req(C::Alias, words)).await;
        assert_no_state_change(&outcome, OutcomeClass::InvalidInput);
    }
}

#[tokio::test]
async fn alias_of_an_unknown_personality_echoes_the_query() {
    let world = World::new();
    let outcome = world.run(req(C::Alias, &["ghost", "boo"])).await;
    assert_no_state_change(&outcome, OutcomeClass::NotFound);
    assert_eq!(spans(&outcome), ["`ghost`"]);
}

#[tokio::test]
async fn alias_by_someone_else_is_refused() {
    let world = World::new();
    world.seed("einstein", OWNER, &[]).await;
    let outcome = world
        .run(req(C::Alias, &["einstein", "albert"]).by(STRANGER))
        .await;
    assert_no_state_change(&outcome, OutcomeClass::Denied);
    assert_eq!(spans(&outcome), ["**einstein**"]);
    assert!(world.aliases_of("einstein").await.is_empty());
}

#[tokio::test]
async fn alias_refuses_invalid_aliases_before_looking_anything_up() {
    let world = World::new();
    world.seed("einstein", OWNER, &[]).await;
    let long = "a".repeat(4000);
    for bad in [
        "zero\u{200b}width",
        "mod",
        "**bold**",
        "`tick`",
        long.as_str(),
    ] {
        let outcome = world.run(req(C::Alias, &["einstein", bad])).await;
        assert_no_state_change(&outcome, OutcomeClass::InvalidInput);
        assert!(spans(&outcome).is_empty(), "{:?}", spans(&outcome));
    }
    let unknown_and_invalid = world.run(req(C::Alias, &["ghost", "mod"])).await;
    assert_eq!(unknown_and_invalid.class, OutcomeClass::InvalidInput);
    assert!(world.aliases_of("einstein").await.is_empty());
}

#[tokio::test]
async fn alias_equal_to_a_personality_name_is_a_conflict() {
    let world = World::new();
    world.seed("einstein", OWNER, &[]).await;
    world.seed("curie", STRANGER, &[]).await;
    for taken in ["Curie", "EINSTEIN"] {
        let outcome = world.run(req(C::Alias, &["einstein", taken])).await;
        assert_no_state_change(&outcome, OutcomeClass::Conflict);
        assert_eq!(spans(&outcome), [format!("**{taken}**")]);
    }
    assert!(world.aliases_of("einstein").await.is_empty());
}

#[tokio::test]
async fn alias_already_on_the_personality_says_so() {
    let world = World::new();
    world.seed("einstein", OWNER, &["albert"]).await;
    let outcome = world.run(req(C::Alias, &["einstein", "Albert"])).await;
    assert_no_state_change(&outcome, OutcomeClass::Info);
    assert_eq!(spans(&outcome), ["**Albert**", "**einstein**"]);
}

#[tokio::test]
async fn alias_adds_a_multi_word_alias() {
    let world = World::new();
    world.seed("einstein", OWNER, &[]).await;
    let outcome = world
        .run(req(C::Alias, &["einstein", "albert", "the", "great"]))
        .await;
    assert_eq!(outcome.class, OutcomeClass::Success);
    assert_eq!(
        outcome.events,
        [DomainEvent::AliasAdded {
            name: name("einstein"),
            alias: alias("albert the great")
        }]
    );
    assert_eq!(spans(&outcome), ["**albert the great**", "**einstein**"]);
    assert_eq!(world.aliases_of("einstein").await, ["albert the great"]);
}

#[tokio::test]
async fn alias_held_by_someone_elses_personality_is_refused_and_stays_there() {
    let world = World::new();
    world.seed("einstein", OWNER, &[]).await;
    world.seed("curie", STRANGER, &["genius"]).await;
    let outcome = world.run(req(C::Alias, &["einstein", "genius"])).await;
    assert_no_state_change(&outcome, OutcomeClass::Conflict);
    assert_eq!(spans(&outcome), ["**genius**", "**curie**"]);
    assert_eq!(world.aliases_of("curie").await, ["genius"]);
    assert!(world.aliases_of("einstein").await.is_empty());
}

#[tokio::test]
async fn alias_held_by_another_of_the_callers_personalities_moves() {
    let world = World::new();
    world.seed("einstein", OWNER, &[]).await;
    world.seed("curie", OWNER, &["genius", "marie"]).await;
    let outcome = world.run(req(C::Alias, &["einstein", "Genius"])).await;
    assert_eq!(outcome.class, OutcomeClass::Success);
    assert_eq!(
        outcome.events,
        [
            DomainEvent::AliasRemoved {
                name: name("curie"),
                alias: alias("genius")
            },
            DomainEvent::AliasAdded {
                name: name("einstein"),
                alias: alias("genius")
            }
        ]
    );
    assert_eq!(spans(&outcome), ["**Genius**", "**curie**", "**einstein**"]);
    assert_eq!(world.aliases_of("curie").await, ["marie"]);
    assert_eq!(world.aliases_of("einstein").await, ["genius"]);
}

#[tokio::test]
async fn a_bot_owner_moves_an_alias_between_other_peoples_personalities() {
    let world = World::new();
    world.seed("einstein", OWNER, &[]).await;
    world.seed("curie", STRANGER, &["genius"]).await;
    let outcome = world
        .run(req(C::Alias, &["einstein", "genius"]).by(BOT_OWNER))
        .await;
    assert_eq!(outcome.class, OutcomeClass::Success);
    assert_eq!(outcome.events.len(), 2);
    assert!(world.aliases_of("curie").await.is_empty());
    assert_eq!(world.aliases_of("einstein").await, ["genius"]);
}

#[tokio::test]
async fn alias_takes_a_quoted_multi_word_personality_first() {
    let world = World::new();
    world.seed("angel-dust", OWNER, &["angel dust"]).await;
    let outcome = world.run(req(C::Alias, &["angel dust", "angie"])).await;
    assert_eq!(outcome.class, OutcomeClass::Success);
    assert_eq!(
        world.aliases_of("angel-dust").await,
        ["angel dust", "angie"]
    );
}

// ---------------------------------------------------------------- list

#[tokio::test]
async fn list_with_a_page_that_is_not_a_number_is_invalid() {
    let world = World::new();
    world.seed("einstein", OWNER, &[]).await;
    for page in ["two", "1.5", "", "1\u{200b}"] {
        let outcome = world.run(req(C::List, &[page])).await;
        assert_no_state_change(&outcome, OutcomeClass::InvalidInput);
        assert!(spans(&outcome).is_empty(), "{page:?}");
    }
}

#[tokio::test]
async fn list_without_personalities_says_how_to_add_one() {
    let world = World::new();
    world.seed("curie", STRANGER, &[]).await;
    let outcome = world.run(req(C::List, &[])).await;
    assert_no_state_change(&outcome, OutcomeClass::Info);
    assert_eq!(spans(&outcome), ["`add`"]);
}

async fn seed_many(world: &World, count: usize) {
    for i in 0..count {
        let n = format!("p{i:02}");
        let a = format!("alias{i:02}");
        world.seed(&n, OWNER, &[a.as_str()]).await;
    }
}

#[tokio::test]
async fn list_out_of_range_gives_the_valid_range() {
    let world = World::new();
    seed_many(&world, 23).await;
    for page in ["0", "4", "-1", "99999999999999999999999"] {
        let outcome = world.run(req(C::List, &[page])).await;
        assert_no_state_change(&outcome, OutcomeClass::InvalidInput);
        assert_eq!(spans(&outcome), ["`1`", "`3`"], "{page}");
    }
}

#[tokio::test]
async fn list_shows_ten_of_the_callers_personalities_per_page() {
    let world = World::new();
    seed_many(&world, 23).await;
    world.seed("zz-stranger", STRANGER, &[]).await;

    let first = world.run(req(C::List, &[])).await;
    assert_eq!(first.class, OutcomeClass::Success);
    let shown = spans(&first);
    assert_eq!(shown.len(), 10 * 2 + 1);
    assert_eq!(shown[..2], ["**p00**", "`alias00`"]);
    assert_eq!(shown.last().unwrap(), "`page 1 of 3`");

    let last = world.run(req(C::List, &["3"])).await;
    assert_eq!(
        spans(&last),
        [
            "**p20**",
            "`alias20`",
            "**p21**",
            "`alias21`",
            "**p22**",
            "`alias22`",
            "`page 3 of 3`"
        ]
    );
    let text = &last.reply.as_ref().unwrap().text;
    assert!(text.contains("**p20** — p20 — `alias20`"), "{text}");
    assert!(!text.contains("zz-stranger"));
}

#[tokio::test]
async fn list_escapes_markdown_in_display_names() {
    let world = World::new();
    world
        .seed_with("sneaky", OWNER, &[], |p| {
            p.display_name = display("**Boss**");
        })
        .await;
    let outcome = world.run(req(C::List, &[])).await;
    assert_eq!(spans(&outcome), ["**sneaky**", "`page 1 of 1`"]);
}

// ---------------------------------------------------------------- hostile lookups

#[tokio::test]
async fn hostile_personality_queries_are_not_found_with_a_bounded_safe_echo() {
    let world = World::new();
    world.seed("einstein", OWNER, &[]).await;
    let long = "é".repeat(4000);
    let queries = [
        long.as_str(),
        "ein\u{200b}stein",
        "`einstein` **x**",
        "\"einstein\"",
        "<@1> @everyone",
    ];
    for query in queries {
        for command in [C::Info, C::Reset, C::Remove] {
            let outcome = world.run(req(command, &[query])).await;
            assert_no_state_change(&outcome, OutcomeClass::NotFound);
            let shown = spans(&outcome);
            assert_eq!(shown.len(), 1, "{command}: {shown:?}");
            assert!(shown[0].chars().count() <= 103, "{command}: bounded echo");
        }
    }
    assert!(world.personality("einstein").await.is_some());
}

#[tokio::test]
async fn a_name_conflict_says_whether_a_name_or_an_alias_holds_it_and_whose() {
    let world = World::new();
    world.seed("tab", STRANGER, &["name"]).await;
    world.seed("curie", STRANGER, &[]).await;

    let by_alias = world.run(req(C::Add, &["name"])).await;
    assert_no_state_change(&by_alias, OutcomeClass::Conflict);
    assert_eq!(spans(&by_alias), ["**name**", "**tab**"]);
    let text = &by_alias.reply.as_ref().unwrap().text;
    assert!(text.contains("already an alias of **tab**"), "{text}");
    assert!(text.contains(&format!("(owner <@{STRANGER}>)")), "{text}");
    assert!(!text.contains("personality named"), "{text}");

    let by_name = world.run(req(C::Add, &["Tab"])).await;
    let text = &by_name.reply.as_ref().unwrap().text;
    assert!(
        text.contains("A personality named **tab** already exists"),
        "{text}"
    );

    let alias_is_a_name = world.run(req(C::Add, &["CURIE2", "curie"])).await;
    assert_no_state_change(&alias_is_a_name, OutcomeClass::Conflict);
    let text = &alias_is_a_name.reply.as_ref().unwrap().text;
    assert!(
        text.contains("**curie** is the name of a personality"),
        "{text}"
    );
    assert!(!text.contains("belongs to"), "{text}");
}
