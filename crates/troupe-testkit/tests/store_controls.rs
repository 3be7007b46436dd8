//! The in-memory store's own controls: failure injection, snapshots, scale.

use std::sync::Arc;
use std::time::Instant;

use troupe_domain::auth::{AccessToken, UserAuth};
use troupe_domain::personality::{Alias, Personality, PersonalityName, Profile};
use troupe_domain::{Duration, MessageId, Timestamp, UserId};
use troupe_ports::{FlagChange, FlagStore, PersonalityRepository, ProcessedMessages, StoreError};
use troupe_testkit::{InMemoryStore, Stores};

fn personality(name: &str, owner: u64, aliases: &[&str]) -> Personality {
    let name = PersonalityName::parse(name).unwrap();
    let profile = Profile::local(&name, None);
    let aliases = aliases.iter().map(|a| Alias::parse(a).unwrap()).collect();
    Personality::restore(
        name,
        UserId::new(owner).unwrap(),
        profile,
        aliases,
        Timestamp::EPOCH,
        Timestamp::EPOCH,
    )
}

fn injected() -> StoreError {
    StoreError::Unavailable("injected".into())
}

#[tokio::test]
async fn injected_write_failures_change_nothing_and_then_stop() {
    let store = InMemoryStore::new();
    store.fail_next_writes(2);

    let p = personality("einstein", 1, &["albert"]);
    assert_eq!(store.insert(&p).await, Err(injected()));
    assert_eq!(
        PersonalityRepository::count(&store).await,
        Ok(0),
        "reads still work and see no change"
    );
    assert_eq!(
        store.alias_owner(&Alias::parse("albert").unwrap()).await,
        Ok(None)
    );
    let claim = store
        .claim(
            MessageId::new(1).unwrap(),
            Timestamp::EPOCH,
            Duration::from_secs(1),
        )
        .await;
    assert_eq!(claim, Err(injected()), "every port's writes count");
    assert_eq!(ProcessedMessages::count(&store).await, Ok(0));

    assert_eq!(store.insert(&p).await, Ok(()), "the third write succeeds");
    assert_eq!(PersonalityRepository::count(&store).await, Ok(1));
}

#[tokio::test]
async fn an_injected_failure_of_a_refused_write_is_still_injected() {
    let store = InMemoryStore::new();
    store
        .insert(&personality("einstein", 1, &[]))
        .await
        .unwrap();
    store.fail_next_writes(1);
    assert_eq!(
        store.insert(&personality("einstein", 2, &[])).await,
        Err(injected()),
        "the injected failure comes before any check"
    );
    assert!(matches!(
        store.insert(&personality("einstein", 2, &[])).await,
        Err(StoreError::NameTaken(_))
    ));
}

#[tokio::test]
async fn a_failing_store_refuses_reads_and_writes_until_it_recovers() {
    let (stores, store) = Stores::in_memory();
    let user = UserId::new(7).unwrap();
    let auth = UserAuth::issue(
        user,
        AccessToken::parse("secret").unwrap(),
        Timestamp::EPOCH,
        Duration::from_secs(60),
    );
    stores.auth.save_token(&auth).await.unwrap();

    store.fail_all(true);
    assert_eq!(stores.auth.token(user).await, Err(injected()));
    assert_eq!(stores.auth.delete_token(user).await, Err(injected()));
    assert_eq!(stores.flags.version().await, Err(injected()));
    assert_eq!(
        stores.conversations.autorespond(user).await,
        Err(injected())
    );

    store.fail_all(false);
    assert_eq!(
        stores.auth.token(user).await,
        Ok(Some(auth)),
        "nothing was deleted"
    );
}

#[tokio::test]
async fn a_snapshot_is_an_independent_deep_copy() {
    let store = InMemoryStore::new();
    store
        .insert(&personality("einstein", 1, &["albert"]))
        .await
        .unwrap();
    let copy = store.snapshot();

    copy.delete(&PersonalityName::parse("einstein").unwrap())
        .await
        .unwrap();
    store.insert(&personality("curie", 1, &[])).await.unwrap();

    assert_eq!(PersonalityRepository::count(&store).await, Ok(2));
    assert_eq!(PersonalityRepository::count(&copy).await, Ok(0));
    assert!(copy.lookup("curie").await.unwrap().is_none());
    assert!(copy.lookup("albert").await.unwrap().is_none());
    assert!(store.lookup("albert").await.unwrap().is_some());
}

#[tokio::test]
async fn a_snapshot_does_not_inherit_injected_failures() {
    let store = InMemoryStore::new();
    store.fail_all(true);
    let copy = store.snapshot();
    assert_eq!(PersonalityRepository::count(&copy).await, Ok(0));
    assert_eq!(PersonalityRepository::count(&store).await, Err(injected()));
}

#[tokio::test]
async fn stores_built_in_memory_share_one_state_across_ports() {
    let (stores, store) = Stores::in_memory();
    stores
        .personalities
        .insert(&personality("einstein", 1, &[]))
        .await
        .unwrap();
    let change = FlagChange {
        name: "x".into(),
        value: Some(true),
        actor: "a".into(),
        reason: "r".into(),
        at: Timestamp::EPOCH,
    };
    stores.flags.apply(&change).await.unwrap();
    assert_eq!(PersonalityRepository::count(&*store).await, Ok(1));
    assert_eq!(store.values().await.unwrap().len(), 1);
    let shared: Arc<InMemoryStore> = Arc::clone(&store);
    assert_eq!(
        Arc::strong_count(&shared),
        8,
        "six ports, the handle and this clone"
    );
}

#[tokio::test]
async fn lookup_and_listing_stay_fast_with_ten_thousand_personalities() {
    let store = InMemoryStore::new();
    for i in 0..10_000_u64 {
        let p = personality(
            &format!("persona {i:05}"),
            1 + i % 10,
            &[&format!("alias {i:05}")],
        );
        store.insert(&p).await.unwrap();
    }
    let start = Instant::now();
    for i in (0..10_000_u64).step_by(7) {
        let found = store.lookup(&format!("ALIAS {i:05}")).await.unwrap();
        assert_eq!(found.unwrap().name().as_str(), format!("persona {i:05}"));
    }
    let page = store
        .list_by_owner(UserId::new(3).unwrap(), 990, 10)
        .await
        .unwrap();
    assert_eq!(page.total, 1000);
    assert_eq!(page.items.len(), 10);
    assert!(
        start.elapsed() < std::time::Duration::from_secs(2),
        "lookups are O(1), not scans: {:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn history_appends_are_visible_through_the_conversation_port() {
    let (stores, _) = Stores::in_memory();
    let channel = troupe_domain::ChannelId::new(1).unwrap();
    let name = PersonalityName::parse("einstein").unwrap();
    let entry = troupe_domain::conversation::HistoryEntry::new(
        troupe_domain::conversation::Speaker::User,
        troupe_domain::UserId::new(1).unwrap(),
        "ann",
        "hi",
        Timestamp::EPOCH,
    );
    stores
        .conversations
        .append_history(channel, &name, &entry, 5)
        .await
        .unwrap();
    assert_eq!(
        stores.conversations.history(channel, &name, 5).await,
        Ok(vec![entry])
    );
}
