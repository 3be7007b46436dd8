//! Port failures: a failing store, provider or platform gives an `InternalError` reply with a
//! reference id that is logged (never a secret), and leaves no partial state. Races the
//! repositories report (`NameTaken`, `AliasTaken`) stay expected outcomes.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use support::*;
use troupe_application::handlers::NewSystem;
use troupe_application::{CommandName as C, CommandOutcome, CommandSystem, OutcomeClass};
use troupe_ports::{
    AuthProviderError, ConversationRepository, MockAuthProvider, MockPersonalityRepository,
    PersonalityRepository, StoreError,
};

/// Runs `request` against `world` with a mocked personality repository.
async fn with_personalities(
    world: &World,
    repo: MockPersonalityRepository,
    request: Req,
) -> CommandOutcome {
    let mut deps = world.deps();
    deps.personalities = Arc::new(repo);
    NewSystem::new(deps).execute(&request.into()).await
}

#[tokio::test]
async fn add_with_the_store_failing_on_insert_replies_with_a_reference_and_stores_nothing() {
    let world = World::new();
    world.store.fail_next_writes(1);
    let outcome = world
        .run(req(C::Add, &["einstein", "albert e"]).tail("You are Einstein."))
        .await;
    assert_internal_error(&outcome);
    assert_eq!(world.store.count().await.unwrap(), 0);
    assert!(world.store.lookup("albert e").await.unwrap().is_none());

    let retry = world.run(req(C::Add, &["einstein", "albert e"])).await;
    assert_eq!(
        retry.class,
        OutcomeClass::Success,
        "nothing half-written blocks a retry"
    );
}

#[tokio::test]
async fn add_writes_the_personality_and_its_aliases_in_one_insert_call() {
    let world = World::new();
    let mut repo = MockPersonalityRepository::new();
    repo.expect_get().returning(|_| Ok(None));
    repo.expect_alias_owner().returning(|_| Ok(None));
    repo.expect_insert()
        .times(1)
        .withf(|p| p.aliases().len() == 1 && p.name().as_str() == "einstein")
        .returning(|_| Err(StoreError::Unavailable("db down".into())));
    repo.expect_update().never();
    repo.expect_move_alias().never();
    let outcome = with_personalities(&world, repo, req(C::Add, &["einstein", "albert e"])).await;
    assert_internal_error(&outcome);
}

#[tokio::test]
async fn add_losing_a_race_for_the_name_or_alias_is_a_conflict_not_an_error() {
    let world = World::new();
    let mut repo = MockPersonalityRepository::new();
    repo.expect_get().returning(|_| Ok(None));
    repo.expect_alias_owner().returning(|_| Ok(None));
    repo.expect_insert()
        .times(1)
        .returning(|p| Err(StoreError::NameTaken(p.name().clone())));
    let outcome = with_personalities(&world, repo, req(C::Add, &["einstein"])).await;
    assert_no_state_change(&outcome, OutcomeClass::Conflict);
    assert_eq!(spans(&outcome), ["**einstein**"]);

    let mut repo = MockPersonalityRepository::new();
    repo.expect_get().returning(|_| Ok(None));
    repo.expect_alias_owner().returning(|_| Ok(None));
    repo.expect_insert().times(1).returning(|_| {
        Err(StoreError::AliasTaken {
            alias: alias("ae"),
            owner: name("curie"),
        })
    });
    let outcome = with_personalities(&world, repo, req(C::Add, &["einstein", "ae"])).await;
    assert_no_state_change(&outcome, OutcomeClass::Conflict);
    assert_eq!(spans(&outcome), ["**ae**", "**curie**"]);
}

#[tokio::test]
async fn alias_move_failing_leaves_both_personalities_unchanged() {
    let world = World::new();
    world.seed("einstein", OWNER, &[]).await;
    world.seed("curie", OWNER, &["genius"]).await;
    world.store.fail_next_writes(1);
    let outcome = world.run(req(C::Alias, &["einstein", "genius"])).await;
    assert_internal_error(&outcome);
    assert_eq!(world.aliases_of("curie").await, ["genius"]);
    assert!(world.aliases_of("einstein").await.is_empty());
}

#[tokio::test]
async fn alias_move_is_one_atomic_move_alias_call() {
    let world = World::new();
    let einstein = world.seed("einstein", OWNER, &[]).await;
    let curie = world.seed("curie", OWNER, &["genius"]).await;
    let mut repo = MockPersonalityRepository::new();
    repo.expect_lookup()
        .returning(move |_| Ok(Some(einstein.clone())));
    repo.expect_get()
        .returning(move |n| Ok((n.as_str() == "curie").then(|| curie.clone())));
    repo.expect_alias_owner()
        .returning(|_| Ok(Some(name("curie"))));
    repo.expect_move_alias()
        .times(1)
        .withf(|a, to| a.key() == "genius" && to.as_str() == "einstein")
        .returning(|_, _| Err(StoreError::Unexpected("connection reset".into())));
    repo.expect_update().never();
    let outcome = with_personalities(&world, repo, req(C::Alias, &["einstein", "genius"])).await;
    assert_internal_error(&outcome);
}

#[tokio::test]
async fn alias_add_failing_stores_nothing() {
    let world = World::new();
    world.seed("einstein", OWNER, &[]).await;
    world.store.fail_next_writes(1);
    let outcome = world.run(req(C::Alias, &["einstein", "albert"])).await;
    assert_internal_error(&outcome);
    assert!(world.aliases_of("einstein").await.is_empty());
}

#[tokio::test]
async fn remove_failing_keeps_the_personality() {
    let world = World::new();
    world.seed("einstein", OWNER, &["albert"]).await;
    world.store.fail_next_writes(1);
    let outcome = world.run(req(C::Remove, &["einstein"])).await;
    assert_internal_error(&outcome);
    assert_eq!(world.aliases_of("einstein").await, ["albert"]);
}

#[tokio::test]
async fn activate_failing_activates_nothing() {
    let world = World::new();
    world.seed("einstein", OWNER, &[]).await;
    world.store.fail_next_writes(1);
    let outcome = world.run(req(C::Activate, &["einstein"]).admin()).await;
    assert_internal_error(&outcome);
    assert!(
        world
            .store
            .activation(channel(CHANNEL))
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn every_command_that_reads_or_writes_the_store_fails_cleanly_when_it_is_down() {
    let world = World::new().with_auth_provider();
    world.seed("einstein", OWNER, &[]).await;
    world.store.fail_all(true);
    let requests = [
        req(C::Status, &[]),
        req(C::Notifications, &[]),
        req(C::Notifications, &["off"]),
        req(C::Debug, &["stats"]).admin(),
        req(C::Debug, &["unverify"]).admin(),
        req(C::Debug, &["clearconversation"]).admin(),
        req(C::Debug, &["clearauth"]).admin(),
        req(C::Debug, &["clearmessages"]).admin(),
        req(C::Auth, &["start"]).in_dm(),
        req(C::Auth, &["status"]),
        req(C::Auth, &["revoke"]),
        req(C::Auth, &["cleanup"]).admin(),
        req(C::Verify, &[]),
        req(C::Activate, &["einstein"]).admin(),
        req(C::Deactivate, &[]).admin(),
        req(C::Reset, &["einstein"]),
        req(C::Autorespond, &[]),
        req(C::Autorespond, &["on"]),
        req(C::Add, &["curie"]),
        req(C::Remove, &["einstein"]),
        req(C::Info, &["einstein"]),
        req(C::Alias, &["einstein", "albert"]),
        req(C::List, &[]),
    ];
    let mut references = Vec::new();
    for request in requests {
        let label = format!("{request:?}");
        let outcome = world.run(request).await;
        assert_eq!(outcome.class, OutcomeClass::InternalError, "{label}");
        assert_internal_error(&outcome);
        references.push(outcome.reference.unwrap());
    }
    references.sort_by_key(ToString::to_string);
    references.dedup();
    assert_eq!(references.len(), 23, "every failure has its own reference");

    for request in [
        req(C::Ping, &[]),
        req(C::Help, &[]),
        req(C::Purgbot, &[]).in_dm(),
    ] {
        let outcome = world.run(request).await;
        assert_eq!(outcome.class, OutcomeClass::Success, "no store needed");
    }
}

#[tokio::test]
async fn purgbot_with_the_platform_unavailable_is_an_internal_error() {
    let world = World::new();
    world.platform.set_unavailable(true);
    let outcome = world.run(req(C::Purgbot, &[]).in_dm()).await;
    assert_internal_error(&outcome);
}

/// Collects everything the fmt subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[tokio::test]
async fn the_reference_is_logged_and_the_code_never_is() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let mut provider = MockAuthProvider::new();
    provider
        .expect_exchange_code()
        .times(1)
        .returning(|_| Err(AuthProviderError::Unexpected("status 502".into())));
    let world = World::new();
    let mut deps = world.deps();
    deps.auth_provider = Some(Arc::new(provider));
    let outcome = NewSystem::new(deps)
        .execute(&req(C::Auth, &["code", "sup3r-s3cret-code"]).in_dm().into())
        .await;

    assert_internal_error(&outcome);
    let logged = logs.text();
    let reference = outcome.reference.unwrap().to_string();
    assert!(logged.contains(&reference), "{logged}");
    assert!(logged.contains("status 502"), "{logged}");
    assert!(!logged.contains("sup3r-s3cret-code"), "{logged}");
    let reply = outcome.reply.unwrap();
    assert!(
        !reply.text.contains("502"),
        "no internal detail for the user"
    );
}
