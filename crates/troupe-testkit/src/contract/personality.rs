//! The `PersonalityRepository` contract.

use troupe_domain::conversation::{ChannelActivation, Conversation, HistoryEntry, Speaker};
use troupe_domain::personality::{
    Alias, AvatarUrl, DisplayName, ErrorMessage, ModelId, Personality, PersonalityName, Profile,
    Prompt,
};
use troupe_ports::{PersonalityMessage, StoreError};

use super::fixtures::{
    ABOVE_I64_MAX_ID, I64_MAX_ID, alias, alias_texts, assert_same_personality, at, channel,
    displayed, local, message, name, names_of, user, with_profile,
};
use crate::Stores;

/// Checks every clause of `PersonalityRepository` on a fresh store (the cascade of `delete`
/// is checked through `ConversationRepository` too).
pub async fn personality_repository(s: &Stores) {
    an_empty_registry_finds_nothing(s).await;
    a_personality_round_trips_with_every_field(s).await;
    insert_refuses_a_taken_name_and_stores_nothing(s).await;
    insert_refuses_a_taken_alias_and_stores_nothing(s).await;
    update_replaces_the_profile_and_the_alias_set(s).await;
    update_refuses_unknown_personalities_and_taken_aliases_and_changes_nothing(s).await;
    move_alias_moves_an_alias_between_personalities(s).await;
    lookup_prefers_name_then_alias_then_display_name(s).await;
    list_by_owner_pages_in_name_key_order_with_the_total(s).await;
    delete_removes_everything_that_refers_to_the_personality(s).await;
    racing_inserts_of_one_name_or_alias_store_exactly_one(s).await;
}

async fn count(s: &Stores) -> u64 {
    s.personalities.count().await.expect("count succeeds")
}

async fn insert(s: &Stores, p: &Personality) {
    s.personalities
        .insert(p)
        .await
        .unwrap_or_else(|e| panic!("inserting {} failed: {e}", p.name()));
}

async fn an_empty_registry_finds_nothing(s: &Stores) {
    let repo = &s.personalities;
    assert_eq!(count(s).await, 0, "a fresh store has no personality");
    assert_eq!(
        repo.get(&name("nobody")).await,
        Ok(None),
        "get on an empty store"
    );
    assert_eq!(
        repo.lookup("nobody").await,
        Ok(None),
        "lookup on an empty store"
    );
    assert_eq!(
        repo.alias_owner(&alias("nobody")).await,
        Ok(None),
        "alias_owner on an empty store"
    );
    let page = repo
        .list_by_owner(user(1), 0, 10)
        .await
        .expect("list succeeds");
    assert!(page.items.is_empty(), "an empty store lists nothing");
    assert_eq!(page.total, 0, "an empty store has a total of 0");
}

/// A personality using every field with awkward values.
fn rich() -> Personality {
    let raw_name = format!("Zoë Dupont-{}", "x".repeat(39));
    assert_eq!(
        raw_name.chars().count(),
        50,
        "the fixture name is 50 characters"
    );
    let n = name(&raw_name);
    let prompt = format!(
        "You are Zoë.\n\tSpeak «softly»; it's 'fine' & \"quoted\"; DROP TABLE x;--\n{}",
        "é".repeat(3900)
    );
    let profile = Profile {
        display_name: DisplayName::parse("Ángel 🌸 Dust \"the\" 'third'").expect("valid"),
        avatar_url: Some(AvatarUrl::parse("https://cdn.example/a.png?size=128&v=2").expect("ok")),
        error_message: Some(ErrorMessage::parse("Oops… my brain\nhurts 🤯").expect("valid")),
        prompt: Prompt::parse(&prompt).expect("valid"),
        model: Some(ModelId::parse("meta-llama/Llama-3.1-8B:free@latest").expect("valid")),
        fetched_at: Some(at(5)),
    };
    let long_alias = format!("Long Alias {}", "q".repeat(39));
    assert_eq!(
        long_alias.chars().count(),
        50,
        "the fixture alias is 50 characters"
    );
    Personality::restore(
        n,
        user(u64::MAX),
        profile,
        vec![
            alias("Angel Dust"),
            alias("zd"),
            alias("Big.Al_x-y"),
            alias(&long_alias),
        ],
        at(0),
        at(7),
    )
}

async fn a_personality_round_trips_with_every_field(s: &Stores) {
    let repo = &s.personalities;
    let before = count(s).await;
    let p = rich();
    insert(s, &p).await;
    assert_eq!(count(s).await, before + 1, "insert adds one personality");

    let exact = repo.get(p.name()).await.expect("get succeeds");
    assert_same_personality(exact.as_ref(), &p, "get by the exact name");
    let shouted = name(&p.name().as_str().to_uppercase());
    let upper = repo.get(&shouted).await.expect("get succeeds");
    assert_same_personality(upper.as_ref(), &p, "get is case-insensitive");

    for a in p.aliases() {
        let variant = alias(&a.as_str().to_uppercase());
        let owner = repo
            .alias_owner(&variant)
            .await
            .expect("alias_owner succeeds");
        assert_eq!(
            owner.as_ref().map(PersonalityName::as_str),
            Some(p.name().as_str()),
            "alias_owner finds the holder of {a} case-insensitively, name as written"
        );
    }
    assert_eq!(
        repo.alias_owner(&alias("not an alias")).await,
        Ok(None),
        "alias_owner of an unknown alias"
    );
    let found = repo
        .lookup(p.name().as_str())
        .await
        .expect("lookup succeeds");
    assert_same_personality(
        found.as_ref(),
        &p,
        "lookup by the name returns the whole aggregate",
    );
}

async fn insert_refuses_a_taken_name_and_stores_nothing(s: &Stores) {
    let repo = &s.personalities;
    insert(s, &local("Einstein", user(1), &["albert"])).await;
    let before = count(s).await;

    let duplicate = local("EINSTEIN", user(2), &["fresh alias"]);
    match repo.insert(&duplicate).await {
        Err(StoreError::NameTaken(taken)) => {
            assert_eq!(taken.key(), "einstein", "NameTaken names the taken name");
        }
        other => panic!("inserting a name taken in another case must be NameTaken, got {other:?}"),
    }
    assert_eq!(count(s).await, before, "a refused insert stores nothing");

    // A name equal to an existing alias would break "no alias equals a name".
    match repo.insert(&local("ALBERT", user(2), &[])).await {
        Err(StoreError::NameTaken(taken)) => assert_eq!(taken.key(), "albert"),
        other => panic!("a name equal to an existing alias must be NameTaken, got {other:?}"),
    }
    assert_eq!(
        count(s).await,
        before,
        "a name equal to an alias stores nothing"
    );
    assert_eq!(
        repo.alias_owner(&alias("fresh alias")).await,
        Ok(None),
        "a refused insert stores none of its aliases"
    );
    let kept = repo.get(&name("einstein")).await.expect("get succeeds");
    assert_eq!(
        kept.map(|p| p.owner()),
        Some(user(1)),
        "the original personality is untouched"
    );
}

async fn insert_refuses_a_taken_alias_and_stores_nothing(s: &Stores) {
    let repo = &s.personalities;
    insert(s, &local("Holder", user(1), &["shared one"])).await;
    let before = count(s).await;

    let second = local("Second", user(2), &["second own", "SHARED  ONE"]);
    match repo.insert(&second).await {
        Err(StoreError::AliasTaken { alias: a, owner }) => {
            assert_eq!(a.key(), "shared one", "AliasTaken names the taken alias");
            assert_eq!(owner.key(), "holder", "AliasTaken names the holder");
        }
        other => panic!("inserting with a held alias must be AliasTaken, got {other:?}"),
    }
    assert_eq!(repo.get(&name("second")).await, Ok(None), "nothing stored");
    assert_eq!(
        repo.alias_owner(&alias("second own")).await,
        Ok(None),
        "none of the refused personality's aliases is stored"
    );
    let holder = repo.alias_owner(&alias("shared one")).await.expect("ok");
    assert_eq!(
        holder.map(|n| n.key().to_owned()),
        Some("holder".into()),
        "alias kept"
    );

    let third = local("Third", user(2), &["HOLDER"]);
    match repo.insert(&third).await {
        Err(StoreError::AliasTaken { owner, .. }) => {
            assert_eq!(
                owner.key(),
                "holder",
                "an alias equal to a name is taken by that name"
            );
        }
        other => panic!("an alias equal to an existing name must be AliasTaken, got {other:?}"),
    }
    assert_eq!(repo.get(&name("third")).await, Ok(None), "nothing stored");
    assert_eq!(count(s).await, before, "refused inserts store nothing");
}

async fn update_replaces_the_profile_and_the_alias_set(s: &Stores) {
    let repo = &s.personalities;
    let original = displayed("Updatable", "Old Look", user(1), &["up one", "up two"]);
    insert(s, &original).await;
    let before = count(s).await;

    let mut profile = original.profile().clone();
    profile.display_name = DisplayName::parse("Shiny New Look").expect("valid");
    profile.model = Some(ModelId::parse("gpt-4o-mini").expect("valid"));
    profile.fetched_at = Some(at(50));
    profile.error_message = Some(ErrorMessage::parse("Brb").expect("valid"));
    let updated = with_profile(
        &original,
        profile,
        vec![alias("up two"), alias("Up Three")],
        at(60),
    );
    repo.update(&updated)
        .await
        .expect("update of an existing personality succeeds");

    let got = repo.get(&name("updatable")).await.expect("get succeeds");
    assert_same_personality(got.as_ref(), &updated, "get after update");
    assert_eq!(count(s).await, before, "update adds no personality");
    assert_eq!(
        repo.alias_owner(&alias("up one")).await,
        Ok(None),
        "an alias dropped by update is released"
    );
    let three = repo.alias_owner(&alias("UP THREE")).await.expect("ok");
    assert_eq!(
        three.map(|n| n.key().to_owned()),
        Some("updatable".into()),
        "new alias"
    );
    assert_eq!(
        repo.lookup("old look").await,
        Ok(None),
        "the old display name is gone"
    );
    let by_display = repo.lookup("shiny new look").await.expect("ok");
    assert_eq!(
        by_display.map(|p| p.name().key().to_owned()),
        Some("updatable".into()),
        "lookup finds the new display name"
    );
    insert(s, &local("Taker", user(2), &["up one"])).await;
}

async fn update_refuses_unknown_personalities_and_taken_aliases_and_changes_nothing(s: &Stores) {
    let repo = &s.personalities;
    let ghost = local("Ghost", user(1), &["ghostly"]);
    assert_eq!(
        repo.update(&ghost).await,
        Err(StoreError::NotFound),
        "update of a missing personality is NotFound"
    );
    assert_eq!(
        repo.get(&name("ghost")).await,
        Ok(None),
        "update never creates"
    );
    assert_eq!(
        repo.alias_owner(&alias("ghostly")).await,
        Ok(None),
        "nor aliases"
    );

    let keeper = local("Keeper", user(1), &["keeper alias"]);
    insert(s, &keeper).await;
    insert(s, &local("Other", user(1), &["other alias"])).await;

    let mut profile = keeper.profile().clone();
    profile.display_name = DisplayName::parse("Changed").expect("valid");
    for (taken, holder) in [("OTHER ALIAS", "other"), ("other", "other")] {
        let changed = with_profile(
            &keeper,
            profile.clone(),
            vec![alias("keeper alias"), alias("new free alias"), alias(taken)],
            at(90),
        );
        match repo.update(&changed).await {
            Err(StoreError::AliasTaken { alias: a, owner }) => {
                assert_eq!(a.key(), taken.to_lowercase(), "AliasTaken names the alias");
                assert_eq!(owner.key(), holder, "AliasTaken names the holder");
            }
            other => panic!("update adding {taken:?} must be AliasTaken, got {other:?}"),
        }
        let got = repo.get(&name("keeper")).await.expect("get succeeds");
        assert_same_personality(got.as_ref(), &keeper, "a refused update changes nothing");
        assert_eq!(
            repo.alias_owner(&alias("new free alias")).await,
            Ok(None),
            "a refused update stores none of its aliases"
        );
    }
}

async fn move_alias_moves_an_alias_between_personalities(s: &Stores) {
    let repo = &s.personalities;
    insert(s, &local("Mover From", user(1), &["traveller", "stays"])).await;
    insert(s, &local("Mover To", user(2), &["own"])).await;

    repo.move_alias(&alias("TRAVELLER"), &name("mover to"))
        .await
        .expect("moving an alias to an existing personality succeeds");
    let owner = repo.alias_owner(&alias("traveller")).await.expect("ok");
    assert_eq!(
        owner.map(|n| n.key().to_owned()),
        Some("mover to".into()),
        "new holder"
    );
    let from = repo
        .get(&name("mover from"))
        .await
        .expect("ok")
        .expect("still there");
    assert_eq!(
        alias_texts(&from),
        ["stays"],
        "the losing side lost only that alias"
    );
    let to = repo
        .get(&name("mover to"))
        .await
        .expect("ok")
        .expect("still there");
    let mut to_keys: Vec<&str> = to.aliases().iter().map(Alias::key).collect();
    to_keys.sort_unstable();
    assert_eq!(to_keys, ["own", "traveller"], "the winning side gained it");
    let found = repo.lookup("traveller").await.expect("ok");
    assert_eq!(
        found.map(|p| p.name().key().to_owned()),
        Some("mover to".into()),
        "lookup follows the move"
    );

    assert_eq!(
        repo.move_alias(&alias("traveller"), &name("nobody here"))
            .await,
        Err(StoreError::NotFound),
        "moving to a missing personality is NotFound"
    );
    let owner = repo.alias_owner(&alias("traveller")).await.expect("ok");
    assert_eq!(
        owner.map(|n| n.key().to_owned()),
        Some("mover to".into()),
        "a refused move changes nothing"
    );
}

async fn lookup_prefers_name_then_alias_then_display_name(s: &Stores) {
    let repo = &s.personalities;
    // Inserted first so that precedence cannot come from insertion order.
    insert(s, &displayed("Spark", "Glow Worm", user(3), &[])).await;
    insert(s, &displayed("Beacon", "Glow", user(3), &[])).await;
    insert(s, &displayed("Lumen", "Radiance", user(3), &["glow worm"])).await;
    insert(s, &displayed("glow", "Lantern", user(3), &["radiant"])).await;
    insert(s, &local("Émile", user(3), &[])).await;
    insert(s, &local("שלום", user(3), &["שָׁלוֹם"])).await;
    insert(s, &displayed("Sokrates", "ΣΩΚΡΑΤΗΣ", user(3), &["лилит"])).await;

    let cases = [
        ("lumen", "Lumen", "exact name"),
        ("LUMEN", "Lumen", "name in another case"),
        (
            "  GLOW   worm ",
            "Lumen",
            "multi-word alias, spaces collapsed, beats a display name",
        ),
        ("glow", "glow", "a name beats another's display name"),
        ("radiance", "Lumen", "display name"),
        ("RADIANT", "glow", "alias in another case"),
        ("lantern", "glow", "display name in another case"),
        ("ÉMILE", "Émile", "non-ASCII letters fold case"),
        ("émile", "Émile", "non-ASCII letters fold case"),
        (
            "\u{200F}שלום\u{200F}",
            "שלום",
            "a Hebrew name, RTL marks ignored",
        ),
        ("שָׁלוֹם", "שלום", "a Hebrew alias with vowel points"),
        (
            "σωκρατης",
            "Sokrates",
            "a Greek display name, final sigma folded",
        ),
        ("ЛИЛИТ", "Sokrates", "a Cyrillic alias in another case"),
        (
            "ＬＵＭＥＮ",
            "Lumen",
            "full-width letters are the same name (NFKC)",
        ),
        (
            "E\u{0301}mile",
            "Émile",
            "a decomposed accent is the same letter",
        ),
        ("beacon", "Beacon", "name"),
        ("spark", "Spark", "name"),
    ];
    for (query, expected, why) in cases {
        let found = repo.lookup(query).await.expect("lookup succeeds");
        assert_eq!(
            found.as_ref().map(|p| p.name().as_str()),
            Some(expected),
            "lookup({query:?}): {why}"
        );
    }
    for miss in [
        "",
        "   ",
        "lume",
        "glow\u{200b}",
        "nobody at all",
        "glow worm glow",
    ] {
        assert_eq!(
            repo.lookup(miss).await,
            Ok(None),
            "lookup({miss:?}) finds nothing"
        );
    }

    insert(s, &displayed("Twin One", "Twin Face", user(3), &[])).await;
    insert(s, &displayed("Twin Two", "Twin Face", user(3), &[])).await;
    let twin = repo
        .lookup("twin face")
        .await
        .expect("ok")
        .expect("a shared display name matches");
    assert_eq!(
        twin.display_name().as_str(),
        "Twin Face",
        "one of the twins answers"
    );
}

async fn list_by_owner_pages_in_name_key_order_with_the_total(s: &Stores) {
    let repo = &s.personalities;
    let owner = user(I64_MAX_ID);
    let other = user(ABOVE_I64_MAX_ID);
    let mut raw: Vec<String> = [
        "list a b",
        "LIST A-b",
        "list a.b",
        "List a_b",
        "list ab",
        "List Émile",
        "list zed",
    ]
    .iter()
    .map(|n| (*n).to_owned())
    .collect();
    raw.extend((0..18).map(|i| format!("list member {i:02}")));
    for (i, n) in raw.iter().enumerate().rev() {
        insert(s, &local(n, owner, &[])).await;
        if i < 3 {
            insert(s, &local(&format!("list other {i}"), other, &[])).await;
        }
    }
    let mut expected = raw.clone();
    expected.sort_by_key(|n| n.to_lowercase());
    assert_eq!(
        (expected[..5].join("|"), expected[24].as_str()),
        (
            "list a b|LIST A-b|list a.b|List a_b|list ab".to_owned(),
            "List Émile"
        ),
        "fixture check: the name key orders bytewise (space < '-' < '.' < '_' < letters < 'é'), \
         as COLLATE \"C\" / BINARY does"
    );

    let mut listed = Vec::new();
    for (offset, len) in [(0, 10), (10, 10), (20, 5)] {
        let page = repo
            .list_by_owner(owner, offset, 10)
            .await
            .expect("list succeeds");
        assert_eq!(
            page.total, 25,
            "the total counts all the owner's personalities"
        );
        assert_eq!(page.items.len(), len, "page at offset {offset} holds {len}");
        listed.extend(names_of(&page.items));
    }
    assert_eq!(
        listed, expected,
        "pages follow the name key order, names as written"
    );

    for (offset, limit, what) in [
        (25, 10, "an offset at the end"),
        (u64::MAX, 10, "an offset of u64::MAX"),
        (0, 0, "a limit of 0"),
    ] {
        let page = repo
            .list_by_owner(owner, offset, limit)
            .await
            .expect("list succeeds");
        assert!(page.items.is_empty(), "{what} lists nothing");
        assert_eq!(page.total, 25, "{what} still reports the total");
    }
    let all = repo
        .list_by_owner(owner, 0, u64::MAX)
        .await
        .expect("list succeeds");
    assert_eq!(
        names_of(&all.items),
        expected,
        "a limit of u64::MAX lists everything"
    );
    let page = repo
        .list_by_owner(owner, 23, 10)
        .await
        .expect("list succeeds");
    assert_eq!(
        names_of(&page.items),
        expected[23..],
        "an offset inside the last page"
    );

    let theirs = repo
        .list_by_owner(other, 0, 10)
        .await
        .expect("list succeeds");
    assert_eq!(
        (names_of(&theirs.items), theirs.total),
        (
            vec![
                "list other 0".into(),
                "list other 1".into(),
                "list other 2".into()
            ],
            3
        ),
        "another owner's listing holds only theirs"
    );
    let none = repo
        .list_by_owner(user(424_242), 0, 10)
        .await
        .expect("list succeeds");
    assert_eq!(
        (none.items.len(), none.total),
        (0, 0),
        "an owner of nothing"
    );
}

async fn delete_removes_everything_that_refers_to_the_personality(s: &Stores) {
    let repo = &s.personalities;
    let conv = &s.conversations;
    let doomed = local("Doomed One", user(1), &["doomed alias", "dd"]);
    let survivor = local("Survivor", user(1), &["survivor alias"]);
    insert(s, &doomed).await;
    insert(s, &survivor).await;
    let before = count(s).await;

    let (guild, guild2, dm) = (
        channel(u64::MAX),
        channel(ABOVE_I64_MAX_ID),
        channel(I64_MAX_ID),
    );
    let activate = |ch, p: &Personality| ChannelActivation {
        channel: ch,
        personality: p.name().clone(),
        activated_by: user(9),
        activated_at: at(20),
    };
    let talk = |u, ch, p: &Personality, is_dm| {
        Conversation::after_exchange(user(u), ch, p.name().clone(), is_dm, true, at(21))
    };
    let entry = HistoryEntry::new(Speaker::User, user(9), "ann", "hello", at(22));
    let said = |id, ch, p: &Personality| PersonalityMessage {
        message: message(id),
        channel: ch,
        personality: p.name().clone(),
        user: user(1),
        at: at(23),
    };

    conv.activate(&activate(guild, &doomed))
        .await
        .expect("activate");
    conv.activate(&activate(guild2, &survivor))
        .await
        .expect("activate");
    for c in [
        talk(1, guild, &doomed, false),
        talk(2, dm, &doomed, true),
        talk(1, guild2, &survivor, false),
    ] {
        conv.save_conversation(&c).await.expect("save conversation");
    }
    for (ch, p) in [(guild, &doomed), (dm, &doomed), (guild, &survivor)] {
        conv.append_history(ch, p.name(), &entry, 20)
            .await
            .expect("append history");
    }
    conv.record_personality_message(&said(u64::MAX, guild, &doomed))
        .await
        .expect("record");
    conv.record_personality_message(&said(77, guild, &survivor))
        .await
        .expect("record");

    assert_eq!(
        repo.delete(&name("DOOMED ONE")).await,
        Ok(true),
        "delete reports it existed"
    );

    assert_eq!(count(s).await, before - 1, "delete removes one personality");
    assert_eq!(
        repo.get(&name("doomed one")).await,
        Ok(None),
        "deleted personality is gone"
    );
    assert_eq!(
        repo.lookup("dd").await,
        Ok(None),
        "its aliases no longer resolve"
    );
    assert_eq!(
        repo.alias_owner(&alias("doomed alias")).await,
        Ok(None),
        "aliases deleted"
    );
    assert_eq!(
        conv.activation(guild).await,
        Ok(None),
        "its activation is deleted"
    );
    assert_eq!(
        conv.conversation(user(1), guild).await,
        Ok(None),
        "conversations with it are deleted"
    );
    assert_eq!(
        conv.conversation(user(2), dm).await,
        Ok(None),
        "in every channel"
    );
    assert_eq!(
        conv.history(guild, doomed.name(), 20).await,
        Ok(vec![]),
        "its history is deleted"
    );
    assert_eq!(
        conv.history(dm, doomed.name(), 20).await,
        Ok(vec![]),
        "in every channel"
    );
    assert_eq!(
        conv.personality_message(message(u64::MAX)).await,
        Ok(None),
        "its message map entries are deleted"
    );

    let kept = conv.activation(guild2).await.expect("ok");
    assert_eq!(
        kept.map(|a| a.personality),
        Some(survivor.name().clone()),
        "others stay"
    );
    assert!(
        conv.conversation(user(1), guild2)
            .await
            .expect("ok")
            .is_some(),
        "other conversations stay"
    );
    assert_eq!(
        conv.history(guild, survivor.name(), 20)
            .await
            .expect("ok")
            .len(),
        1,
        "other history in the same channel stays"
    );
    assert!(
        conv.personality_message(message(77))
            .await
            .expect("ok")
            .is_some(),
        "other message map entries stay"
    );
    let survivor_alias = repo
        .alias_owner(&alias("survivor alias"))
        .await
        .expect("ok");
    assert_eq!(
        survivor_alias,
        Some(survivor.name().clone()),
        "other aliases stay"
    );

    assert_eq!(
        repo.delete(&name("doomed one")).await,
        Ok(false),
        "a second delete is false"
    );
    insert(s, &local("Alias Heir", user(2), &["doomed alias"])).await;
    insert(s, &local("Doomed One", user(3), &["dd"])).await;
    assert_eq!(
        conv.history(guild, &name("doomed one"), 20).await,
        Ok(vec![]),
        "a personality created again under the name starts without history"
    );
    assert_eq!(conv.activation(guild).await, Ok(None), "nor activation");
}

async fn racing_inserts_of_one_name_or_alias_store_exactly_one(s: &Stores) {
    let repo = &s.personalities;
    let (a, b) = (local("Racer", user(1), &[]), local("RACER", user(2), &[]));
    let (ra, rb) = tokio::join!(repo.insert(&a), repo.insert(&b));
    let winner = match (&ra, &rb) {
        (Ok(()), Err(StoreError::NameTaken(_))) => user(1),
        (Err(StoreError::NameTaken(_)), Ok(())) => user(2),
        other => panic!("racing inserts of one name: exactly one must win, got {other:?}"),
    };
    let stored = repo
        .get(&name("racer"))
        .await
        .expect("ok")
        .expect("the winner is stored");
    assert_eq!(stored.owner(), winner, "the winner is the one stored");

    let (a, b) = (
        local("Photo A", user(1), &["photo finish"]),
        local("Photo B", user(2), &["PHOTO FINISH"]),
    );
    let (ra, rb) = tokio::join!(repo.insert(&a), repo.insert(&b));
    let stored_count = [&ra, &rb].iter().filter(|r| r.is_ok()).count();
    assert_eq!(
        stored_count, 1,
        "racing inserts of one alias: exactly one wins ({ra:?}, {rb:?})"
    );
    assert!(
        matches!(
            (&ra, &rb),
            (Err(StoreError::AliasTaken { .. }), _) | (_, Err(StoreError::AliasTaken { .. }))
        ),
        "the loser of an alias race gets AliasTaken ({ra:?}, {rb:?})"
    );
}
