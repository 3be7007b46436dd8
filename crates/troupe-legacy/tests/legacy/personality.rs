//! ADR 0002 scenarios of the personality commands: add, remove, info, alias, list.

use std::sync::Arc;

use troupe_application::OutcomeClass;
use troupe_domain::conversation::ChannelActivation;
use troupe_domain::personality::{
    Alias, AvatarUrl, DisplayName, ModelId, PersonalityName, Profile, Prompt,
};
use troupe_domain::{DomainEvent, Duration};
use troupe_ports::{ConversationRepository, PersonalityRepository, SourceProfile};
use troupe_testkit::FakeProfileSource;

use crate::common::*;

fn created(raw_name: &str, owner: u64) -> DomainEvent {
    DomainEvent::PersonalityCreated {
        name: name(raw_name),
        owner: user(owner),
    }
}

fn alias_added(raw_name: &str, raw_alias: &str) -> DomainEvent {
    DomainEvent::AliasAdded {
        name: name(raw_name),
        alias: alias(raw_alias),
    }
}

fn angel_dust_source() -> Arc<FakeProfileSource> {
    Arc::new(FakeProfileSource::new().with(
        "angel-dust",
        SourceProfile {
            display_name: DisplayName::parse("Angel Dust").unwrap(),
            avatar_url: Some(AvatarUrl::parse("https://cdn.example/angel.png").unwrap()),
            error_message: None,
        },
    ))
}

// ---------------------------------------------------------------- add: refusals

#[tokio::test]
async fn add_without_a_name_asks_for_one() {
    let h = Harness::new();
    let o = h.run(&member(ALICE), "!tz add").await;
    expect(&o, OutcomeClass::InvalidInput, &[], &[], &[]);
    let o = h.run(&member(ALICE), "!tz new | only a prompt").await;
    expect(&o, OutcomeClass::InvalidInput, &[], &[], &[]);
}

#[tokio::test]
async fn add_with_an_invalid_value_shows_the_parse_error_and_stores_nothing() {
    let h = Harness::new();
    let cases = [
        (
            "!tz add a!",
            PersonalityName::parse("a!").unwrap_err().to_string(),
        ),
        (
            "!tz add Admin",
            PersonalityName::parse("Admin").unwrap_err().to_string(),
        ),
        (
            "!tz add einstein al!bert",
            Alias::parse("al!bert").unwrap_err().to_string(),
        ),
        (
            "!tz add einstein | bad \u{1b}[31m prompt",
            Prompt::parse("bad \u{1b}[31m prompt")
                .unwrap_err()
                .to_string(),
        ),
        (
            "!tz add einstein avatar:ftp://x",
            AvatarUrl::parse("ftp://x").unwrap_err().to_string(),
        ),
        (
            "!tz add einstein model:gpt°4",
            ModelId::parse("gpt°4").unwrap_err().to_string(),
        ),
    ];
    for (text, error) in cases {
        let o = h.run(&member(ALICE), text).await;
        expect(&o, OutcomeClass::InvalidInput, &[], &[], &[&error]);
    }
    assert_eq!(h.store.count().await.unwrap(), 0);
}

#[tokio::test]
async fn add_with_an_alias_equal_to_the_new_name_is_refused() {
    let h = Harness::new();
    let o = h.run(&member(ALICE), "!tz add einstein EINSTEIN").await;
    expect(&o, OutcomeClass::InvalidInput, &[], &[], &[]);
    assert_eq!(h.store.count().await.unwrap(), 0);
}

#[tokio::test]
async fn add_with_a_taken_name_is_a_conflict_naming_the_stored_personality() {
    let h = Harness::new();
    h.seed("Einstein", BOB, &[]).await;
    let o = h.run(&member(ALICE), "!tz add einstein").await;
    expect(&o, OutcomeClass::Conflict, &[], &["Einstein"], &[]);
    assert_eq!(h.stored("einstein").await.unwrap().owner(), user(BOB));
}

#[tokio::test]
async fn add_with_a_taken_alias_is_a_conflict_naming_alias_and_holder() {
    let h = Harness::new();
    h.seed("curie", BOB, &["albert e"]).await;
    h.seed("albert", BOB, &[]).await;
    let o = h
        .run(&member(ALICE), "!tz add einstein \"Albert  E\"")
        .await;
    expect(&o, OutcomeClass::Conflict, &[], &["Albert E", "curie"], &[]);
    // An alias may not equal another personality's name either.
    let o = h.run(&member(ALICE), "!tz add einstein ALBERT").await;
    expect(&o, OutcomeClass::Conflict, &[], &["ALBERT"], &[]);
    let text = &o.reply.as_ref().unwrap().text;
    assert!(text.contains("is the name of a personality"), "{text}");
    assert!(text.contains(&format!("<@{BOB}>")), "{text}");
    assert_eq!(h.stored("einstein").await, None);
    assert_eq!(h.aliases_of("curie").await, ["albert e"]);
}

#[tokio::test]
async fn add_of_a_name_unknown_to_the_profile_source_is_not_found() {
    let h = Harness::new().with_profiles(angel_dust_source());
    let o = h.run(&member(ALICE), "!tz add Lilith").await;
    expect(&o, OutcomeClass::NotFound, &[], &[], &["Lilith"]);
    assert_eq!(h.store.count().await.unwrap(), 0);
}

#[tokio::test]
async fn add_while_the_profile_source_is_down_is_an_internal_error() {
    let source = angel_dust_source();
    source.fail(true);
    let h = Harness::new().with_profiles(source);
    expect_internal_error(&h.run(&member(ALICE), "!tz add angel-dust").await);
    assert_eq!(h.store.count().await.unwrap(), 0);
}

#[tokio::test]
async fn add_that_cannot_be_stored_is_an_internal_error_and_leaves_no_trace() {
    let h = Harness::new();
    h.store.fail_next_writes(1);
    expect_internal_error(&h.run(&member(ALICE), "!tz add einstein albert").await);
    assert_eq!(h.store.count().await.unwrap(), 0);
    assert_eq!(h.store.alias_owner(&alias("albert")).await.unwrap(), None);
}

// ---------------------------------------------------------------- add: success

#[tokio::test]
async fn add_registers_a_local_personality_with_its_alias_and_prompt() {
    let h = Harness::new();
    let o = h
        .run(
            &member(ALICE),
            "!tz add einstein \"albert e\" | You are Albert Einstein, the physicist.",
        )
        .await;
    expect(
        &o,
        OutcomeClass::Success,
        &[
            created("einstein", ALICE),
            alias_added("einstein", "albert e"),
        ],
        &[],
        &[],
    );
    assert_eq!(
        facts(&o).fields,
        [
            ("Name", "einstein"),
            ("Display name", "einstein"),
            ("Aliases", "`albert e`"),
            ("Owner", "<@101>"),
            ("Talk to it", "`@einstein`"),
        ]
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
    );
    let stored = h.stored("einstein").await.unwrap();
    assert_eq!(stored.owner(), user(ALICE));
    assert_eq!(
        stored.profile().prompt.as_str(),
        "You are Albert Einstein, the physicist."
    );
    assert_eq!(stored.profile().model, None, "the configured default model");
    assert_eq!(stored.profile().fetched_at, None);
    assert_eq!(stored.created_at(), at(0));
    assert_eq!(h.aliases_of("einstein").await, ["albert e"]);
}

#[tokio::test]
async fn add_without_alias_or_prompt_uses_the_defaults() {
    let h = Harness::new();
    let o = h.run(&dm(ALICE), "!tz create Einstein").await;
    expect(
        &o,
        OutcomeClass::Success,
        &[created("Einstein", ALICE)],
        &[],
        &[],
    );
    assert_eq!(field(&o, "Aliases"), "none");
    assert_eq!(field(&o, "Name"), "Einstein");
    let stored = h.stored("einstein").await.unwrap();
    assert_eq!(stored.profile().prompt.as_str(), "You are Einstein.");
    assert_eq!(stored.display_name().as_str(), "Einstein");
}

#[tokio::test]
async fn add_joins_unquoted_words_after_the_name_into_one_alias() {
    let h = Harness::new();
    let o = h.run(&member(ALICE), "!tz add einstein albert e").await;
    assert_eq!(
        o.events,
        [
            created("einstein", ALICE),
            alias_added("einstein", "albert e")
        ]
    );
    assert_eq!(h.aliases_of("einstein").await, ["albert e"]);
}

#[tokio::test]
async fn add_stores_the_model_and_avatar_options() {
    let h = Harness::new();
    let o = h
        .run(
            &member(ALICE),
            "!tz add einstein model:gpt-4o avatar:https://cdn.example/e.png",
        )
        .await;
    assert_eq!(o.class, OutcomeClass::Success);
    let stored = h.stored("einstein").await.unwrap();
    assert_eq!(
        stored.profile().model.as_ref().map(ModelId::as_str),
        Some("gpt-4o")
    );
    assert_eq!(
        stored.profile().avatar_url.as_ref().map(AvatarUrl::as_str),
        Some("https://cdn.example/e.png")
    );
}

#[tokio::test]
async fn add_with_a_profile_source_uses_its_profile_and_adds_the_display_name_alias() {
    let h = Harness::new().with_profiles(angel_dust_source());
    let o = h.run(&member(ALICE), "!tz add angel-dust angel").await;
    expect(
        &o,
        OutcomeClass::Success,
        &[
            created("angel-dust", ALICE),
            alias_added("angel-dust", "angel"),
            alias_added("angel-dust", "angel dust"),
        ],
        &[],
        &[],
    );
    assert_eq!(field(&o, "Display name"), "Angel Dust");
    assert_eq!(field(&o, "Aliases"), "`angel`, `angel dust`");
    let stored = h.stored("angel-dust").await.unwrap();
    assert_eq!(stored.profile().fetched_at, Some(at(0)));
    assert_eq!(
        stored.profile().avatar_url.as_ref().map(AvatarUrl::as_str),
        Some("https://cdn.example/angel.png")
    );
    assert_eq!(stored.profile().prompt.as_str(), "You are angel-dust.");
}

#[tokio::test]
async fn add_skips_the_display_name_alias_when_it_is_taken() {
    let h = Harness::new().with_profiles(angel_dust_source());
    h.seed("other", BOB, &["Angel Dust"]).await;
    let o = h.run(&member(ALICE), "!tz add angel-dust").await;
    expect(
        &o,
        OutcomeClass::Success,
        &[created("angel-dust", ALICE)],
        &[],
        &[],
    );
    assert_eq!(field(&o, "Aliases"), "none");
    assert_eq!(h.aliases_of("other").await, ["Angel Dust"]);
}

// ---------------------------------------------------------------- remove

#[tokio::test]
async fn remove_without_a_personality_asks_for_one() {
    let h = Harness::new();
    let o = h.run(&member(ALICE), "!tz remove").await;
    expect(&o, OutcomeClass::InvalidInput, &[], &[], &[]);
}

#[tokio::test]
async fn remove_with_an_unknown_personality_names_the_query() {
    let h = Harness::new();
    let o = h.run(&member(ALICE), "!tz delete angel dust").await;
    expect(&o, OutcomeClass::NotFound, &[], &[], &["angel dust"]);
}

#[tokio::test]
async fn remove_of_someone_elses_personality_is_denied() {
    let h = Harness::new();
    h.seed("einstein", BOB, &["albert"]).await;
    let o = h.run(&member(ALICE).admin(), "!tz remove albert").await;
    expect(&o, OutcomeClass::Denied, &[], &["einstein"], &[]);
    assert!(h.stored("einstein").await.is_some());
}

#[tokio::test]
async fn remove_deletes_the_personality_with_its_aliases_and_activations() {
    let h = Harness::new();
    h.seed("einstein", ALICE, &["albert"]).await;
    h.store
        .activate(&ChannelActivation {
            channel: channel(CHANNEL),
            personality: name("einstein"),
            activated_by: user(ALICE),
            activated_at: at(0),
        })
        .await
        .unwrap();
    let o = h.run(&member(ALICE), "!tz remove ALBERT").await;
    expect(
        &o,
        OutcomeClass::Success,
        &[DomainEvent::PersonalityRemoved {
            name: name("einstein"),
        }],
        &["einstein"],
        &[],
    );
    assert_eq!(h.stored("einstein").await, None);
    assert_eq!(h.store.alias_owner(&alias("albert")).await.unwrap(), None);
    assert_eq!(h.store.activation(channel(CHANNEL)).await.unwrap(), None);
}

#[tokio::test]
async fn remove_by_a_bot_owner_works_on_anyones_personality() {
    let h = Harness::new();
    h.seed("einstein", BOB, &[]).await;
    let o = h.run(&dm(ROOT), "!tz remove einstein").await;
    assert_eq!(o.class, OutcomeClass::Success);
    assert_eq!(h.stored("einstein").await, None);
}

#[tokio::test]
async fn remove_that_cannot_delete_is_an_internal_error_and_keeps_everything() {
    let h = Harness::new();
    h.seed("einstein", ALICE, &["albert"]).await;
    h.store.fail_next_writes(1);
    expect_internal_error(&h.run(&member(ALICE), "!tz remove einstein").await);
    assert_eq!(h.aliases_of("einstein").await, ["albert"]);
}

// ---------------------------------------------------------------- info

#[tokio::test]
async fn info_without_a_personality_asks_for_one() {
    let h = Harness::new();
    let o = h.run(&member(ALICE), "!tz info").await;
    expect(&o, OutcomeClass::InvalidInput, &[], &[], &[]);
}

#[tokio::test]
async fn info_with_an_unknown_personality_names_the_query() {
    let h = Harness::new();
    let o = h.run(&member(ALICE), "!tz info nobody here").await;
    expect(&o, OutcomeClass::NotFound, &[], &[], &["nobody here"]);
}

#[tokio::test]
async fn info_of_a_local_personality_shows_every_field() {
    let h = Harness::new();
    h.seed_displayed("angel-dust", "Angel Dust", BOB, &["angel", "a d"])
        .await;
    let o = h.run(&dm(ALICE), "!tz info angel dust").await;
    expect(&o, OutcomeClass::Success, &[], &[], &[]);
    assert_eq!(
        facts(&o).fields,
        [
            ("Name", "angel-dust"),
            ("Display name", "Angel Dust"),
            ("Aliases", "`angel`, `a d`"),
            ("Owner", "<@102>"),
            ("Model", "default"),
            ("Created", "2025-06-14"),
            ("Avatar", "none"),
            ("Profile", "local"),
        ]
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
    );
}

#[tokio::test]
async fn info_shows_the_model_avatar_and_whether_the_fetched_profile_is_stale() {
    let h = Harness::new().with_profiles(angel_dust_source());
    h.run(&member(ALICE), "!tz add angel-dust model:gpt-4o")
        .await;
    let o = h.run(&member(BOB), "!tz info angel-dust").await;
    assert_eq!(field(&o, "Model"), "gpt-4o");
    assert_eq!(field(&o, "Avatar"), "current");
    assert_eq!(field(&o, "Profile"), "current");

    h.clock.advance(Duration::from_secs(2 * 86_400));
    let o = h.run(&member(BOB), "!tz info angel-dust").await;
    assert_eq!(field(&o, "Profile"), "stale");
}

#[tokio::test]
async fn info_escapes_markdown_in_display_names() {
    let h = Harness::new();
    let n = name("star");
    let mut profile = Profile::local(&n, None);
    profile.display_name = DisplayName::parse("**Star** `x`").unwrap();
    let p = troupe_domain::personality::Personality::restore(
        n,
        user(BOB),
        profile,
        Vec::new(),
        at(0),
        at(0),
    );
    h.store.insert(&p).await.unwrap();
    let o = h.run(&member(ALICE), "!tz info star").await;
    expect(&o, OutcomeClass::Success, &[], &[], &[]);
    assert_eq!(field(&o, "Display name"), "\\*\\*Star\\*\\* \\`x\\`");
}

// ---------------------------------------------------------------- alias

#[tokio::test]
async fn alias_with_fewer_than_two_words_is_refused() {
    let h = Harness::new();
    h.seed("einstein", ALICE, &[]).await;
    for text in ["!tz alias", "!tz alias einstein"] {
        let o = h.run(&member(ALICE), text).await;
        expect(&o, OutcomeClass::InvalidInput, &[], &[], &[]);
    }
}

#[tokio::test]
async fn alias_that_is_not_a_valid_alias_is_refused_before_the_lookup() {
    let h = Harness::new();
    h.seed("einstein", ALICE, &[]).await;
    for text in ["!tz alias einstein al!bert", "!tz alias nobody al!bert"] {
        let o = h.run(&member(ALICE), text).await;
        expect(&o, OutcomeClass::InvalidInput, &[], &[], &[]);
    }
    assert!(h.aliases_of("einstein").await.is_empty());
}

#[tokio::test]
async fn alias_of_an_unknown_personality_names_the_query() {
    let h = Harness::new();
    let o = h
        .run(&member(ALICE), "!tz alias \"angel dust\" angel")
        .await;
    expect(&o, OutcomeClass::NotFound, &[], &[], &["angel dust"]);
}

#[tokio::test]
async fn alias_of_someone_elses_personality_is_denied() {
    let h = Harness::new();
    h.seed("einstein", BOB, &[]).await;
    let o = h.run(&member(ALICE), "!tz alias einstein albert").await;
    expect(&o, OutcomeClass::Denied, &[], &["einstein"], &[]);
    assert!(h.aliases_of("einstein").await.is_empty());
}

#[tokio::test]
async fn alias_equal_to_a_personality_name_is_a_conflict() {
    let h = Harness::new();
    h.seed("einstein", ALICE, &[]).await;
    h.seed("curie", BOB, &[]).await;
    for (text, shown) in [
        ("!tz alias einstein Curie", "Curie"),
        ("!tz alias einstein EINSTEIN", "EINSTEIN"),
    ] {
        let o = h.run(&member(ALICE), text).await;
        expect(&o, OutcomeClass::Conflict, &[], &[shown], &[]);
    }
    assert!(h.aliases_of("einstein").await.is_empty());
}

#[tokio::test]
async fn alias_already_on_the_personality_says_so() {
    let h = Harness::new();
    h.seed("einstein", ALICE, &["albert"]).await;
    let o = h.run(&member(ALICE), "!tz alias einstein Albert").await;
    expect(&o, OutcomeClass::Info, &[], &["Albert", "einstein"], &[]);
    assert_eq!(h.aliases_of("einstein").await, ["albert"]);
}

#[tokio::test]
async fn alias_held_by_another_personality_of_the_caller_moves() {
    let h = Harness::new();
    h.seed("einstein", ALICE, &[]).await;
    h.seed("bohr", ALICE, &["prof", "niels"]).await;
    let o = h.run(&member(ALICE), "!tz alias einstein prof").await;
    expect(
        &o,
        OutcomeClass::Success,
        &[
            DomainEvent::AliasRemoved {
                name: name("bohr"),
                alias: alias("prof"),
            },
            alias_added("einstein", "prof"),
        ],
        &["prof", "bohr", "einstein"],
        &[],
    );
    assert_eq!(h.aliases_of("einstein").await, ["prof"]);
    assert_eq!(h.aliases_of("bohr").await, ["niels"]);
}

#[tokio::test]
async fn alias_held_by_anyone_moves_when_a_bot_owner_asks() {
    let h = Harness::new();
    h.seed("einstein", ALICE, &[]).await;
    h.seed("bohr", BOB, &["prof"]).await;
    let o = h.run(&dm(ROOT), "!tz alias einstein prof").await;
    assert_eq!(o.class, OutcomeClass::Success);
    assert_eq!(facts(&o).bold, ["prof", "bohr", "einstein"]);
    assert_eq!(h.aliases_of("einstein").await, ["prof"]);
    assert!(h.aliases_of("bohr").await.is_empty());
}

#[tokio::test]
async fn alias_held_by_someone_elses_personality_is_a_conflict() {
    let h = Harness::new();
    h.seed("einstein", ALICE, &[]).await;
    h.seed("bohr", BOB, &["prof"]).await;
    let o = h.run(&member(ALICE), "!tz alias einstein PROF").await;
    expect(&o, OutcomeClass::Conflict, &[], &["PROF", "bohr"], &[]);
    assert_eq!(h.aliases_of("bohr").await, ["prof"]);
    assert!(h.aliases_of("einstein").await.is_empty());
}

#[tokio::test]
async fn alias_adds_a_multi_word_alias_found_by_alias_or_display_name() {
    let h = Harness::new();
    h.seed_displayed("einstein", "Albert Einstein", ALICE, &[])
        .await;
    let o = h
        .run(
            &member(ALICE),
            "!tz alias \"albert einstein\" the   professor",
        )
        .await;
    expect(
        &o,
        OutcomeClass::Success,
        &[alias_added("einstein", "the professor")],
        &["the professor", "einstein"],
        &[],
    );
    assert_eq!(h.aliases_of("einstein").await, ["the professor"]);
    let stored = h.stored("einstein").await.unwrap();
    assert_eq!(stored.created_at(), at(0), "creation time is kept");
}

#[tokio::test]
async fn alias_that_cannot_be_stored_is_an_internal_error_and_changes_nothing() {
    let h = Harness::new();
    h.seed("einstein", ALICE, &[]).await;
    h.seed("bohr", ALICE, &["prof"]).await;
    h.store.fail_next_writes(1);
    expect_internal_error(&h.run(&member(ALICE), "!tz alias einstein albert").await);
    h.store.fail_next_writes(1);
    expect_internal_error(&h.run(&member(ALICE), "!tz alias einstein prof").await);
    assert!(h.aliases_of("einstein").await.is_empty());
    assert_eq!(h.aliases_of("bohr").await, ["prof"]);
}

// ---------------------------------------------------------------- list

#[tokio::test]
async fn list_with_a_page_that_is_not_a_number_is_refused() {
    let h = Harness::new();
    h.seed("einstein", ALICE, &[]).await;
    for text in ["!tz list two", "!tz list 1.5"] {
        let o = h.run(&member(ALICE), text).await;
        expect(&o, OutcomeClass::InvalidInput, &[], &[], &[]);
    }
}

#[tokio::test]
async fn list_without_personalities_points_to_add() {
    let h = Harness::new();
    h.seed("einstein", BOB, &[]).await;
    for text in ["!tz list", "!tz list 3"] {
        let o = h.run(&member(ALICE), text).await;
        expect(&o, OutcomeClass::Info, &[], &[], &["add"]);
    }
}

#[tokio::test]
async fn list_with_a_page_out_of_range_gives_the_valid_range() {
    let h = Harness::new();
    for i in 0..12 {
        h.seed(&format!("p{i:02}"), ALICE, &[]).await;
    }
    for text in [
        "!tz list 3",
        "!tz list 0",
        "!tz list -1",
        "!tz list 99999999999999999999999",
    ] {
        let o = h.run(&member(ALICE), text).await;
        expect(&o, OutcomeClass::InvalidInput, &[], &[], &["1", "2"]);
    }
}

#[tokio::test]
async fn list_shows_ten_of_the_callers_personalities_per_page_with_aliases() {
    let h = Harness::new();
    for i in 0..12 {
        h.seed(&format!("p{i:02}"), ALICE, &[]).await;
    }
    h.seed_displayed("angel-dust", "Angel *Dust*", ALICE, &["angel", "ad"])
        .await;
    h.seed("someone-else", BOB, &[]).await;

    let first = h.run(&member(ALICE), "!tz list").await;
    let mut bold = vec!["angel-dust".to_owned()];
    bold.extend((0..9).map(|i| format!("p{i:02}")));
    let f = facts(&first);
    assert_eq!(first.class, OutcomeClass::Success);
    assert!(first.events.is_empty());
    assert_eq!(f.bold, bold);
    assert_eq!(f.code, ["angel", "ad", "page 1 of 2"]);
    assert!(
        first
            .reply
            .as_ref()
            .unwrap()
            .text
            .contains("Angel \\*Dust\\*")
    );

    let second = h.run(&member(ALICE), "!tz list 2").await;
    expect(
        &second,
        OutcomeClass::Success,
        &[],
        &["p09", "p10", "p11"],
        &["page 2 of 2"],
    );
}

#[tokio::test]
async fn list_fails_with_a_reference_when_the_store_is_down() {
    let h = Harness::new();
    h.store.fail_all(true);
    expect_internal_error(&h.run(&member(ALICE), "!tz list").await);
}
