//! Scenarios for the authentication commands: auth (start, code, status, revoke, cleanup) and
//! verify (ADR 0002 table, commands.md §2 Authentication).

mod support;

use std::sync::Arc;
use std::time::Duration;

use support::*;
use troupe_application::handlers::NewSystem;
use troupe_application::{CommandName as C, CommandSystem, FollowUp, OutcomeClass};
use troupe_domain::DomainEvent;
use troupe_domain::auth::{AccessToken, AgeVerification, UserAuth};
use troupe_ports::{AuthRepository, MockAuthProvider};

fn token(raw: &str) -> AccessToken {
    AccessToken::parse(raw).unwrap()
}

#[tokio::test]
async fn auth_relayed_by_a_proxy_system_is_refused() {
    let world = World::new().with_auth_provider();
    for words in [&["start"][..], &["status"], &[]] {
        let outcome = world.run(req(C::Auth, words).via_proxy().in_dm()).await;
        assert_no_state_change(&outcome, OutcomeClass::Denied);
    }
    assert!(
        world
            .store
            .take_pending(user(OWNER))
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn auth_without_subcommand_lists_them_with_cleanup_only_for_admins() {
    let world = World::new().with_auth_provider();
    let member = world.run(req(C::Auth, &[])).await;
    assert_no_state_change(&member, OutcomeClass::Info);
    assert_eq!(
        spans(&member),
        ["`start`", "`code`", "`status`", "`revoke`"]
    );
    for request in [
        req(C::Auth, &[]).admin(),
        req(C::Auth, &[]).by(BOT_OWNER).in_dm(),
    ] {
        let outcome = world.run(request).await;
        assert_eq!(
            spans(&outcome),
            ["`start`", "`code`", "`status`", "`revoke`", "`cleanup`"]
        );
    }
}

#[tokio::test]
async fn auth_with_an_unknown_subcommand_echoes_it() {
    let world = World::new().with_auth_provider();
    let outcome = world.run(req(C::Auth, &["login"])).await;
    assert_no_state_change(&outcome, OutcomeClass::InvalidInput);
    assert_eq!(spans(&outcome), ["`login`"]);
}

#[tokio::test]
async fn auth_start_without_a_provider_explains_that_none_is_needed() {
    let world = World::new();
    let outcome = world.run(req(C::Auth, &["start"]).in_dm()).await;
    assert_no_state_change(&outcome, OutcomeClass::Info);
}

#[tokio::test]
async fn auth_start_in_a_dm_gives_the_link_bound_to_a_stored_state() {
    let world = World::new().with_auth_provider();
    let outcome = world.run(req(C::Auth, &["start"]).in_dm()).await;
    assert_eq!(outcome.class, OutcomeClass::Success);
    assert!(is_ephemeral(&outcome));
    assert_eq!(
        outcome.events,
        [DomainEvent::AuthorizationStarted { user: user(OWNER) }]
    );
    assert!(spans(&outcome).is_empty());
    let link = field(&outcome, "Authorization link").unwrap();
    let pending = world
        .store
        .take_pending(user(OWNER))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(pending.user, user(OWNER));
    assert!(
        link.ends_with(&format!("state={}", pending.state)),
        "{link}"
    );
    assert!(world.platform.sent_dms().is_empty());
}

#[tokio::test]
async fn auth_start_in_a_guild_sends_the_link_by_dm_only() {
    let world = World::new().with_auth_provider();
    let outcome = world.run(req(C::Auth, &["start"])).await;
    assert_eq!(outcome.class, OutcomeClass::Success);
    assert!(is_ephemeral(&outcome));
    assert_eq!(
        outcome.events,
        [DomainEvent::AuthorizationStarted { user: user(OWNER) }]
    );
    assert!(fields(&outcome).is_empty(), "no link in the channel");
    assert!(spans(&outcome).is_empty());
    assert!(!outcome.reply.as_ref().unwrap().text.contains("state="));
    let dms = world.platform.sent_dms();
    assert_eq!(dms.len(), 1);
    assert_eq!(dms[0].0, user(OWNER));
    let pending = world
        .store
        .take_pending(user(OWNER))
        .await
        .unwrap()
        .unwrap();
    let body = dms[0].1.embed.as_ref().unwrap().description.clone();
    assert!(body.contains(&format!("state={}", pending.state)), "{body}");
}

#[tokio::test]
async fn auth_start_in_a_guild_with_closed_dms_says_how_to_open_them() {
    let world = World::new().with_auth_provider();
    world.platform.close_dms(user(OWNER));
    let outcome = world.run(req(C::Auth, &["start"])).await;
    assert_eq!(outcome.class, OutcomeClass::Info);
    assert!(is_ephemeral(&outcome));
    assert_eq!(
        outcome.events,
        [DomainEvent::AuthorizationStarted { user: user(OWNER) }]
    );
    let text = &outcome.reply.as_ref().unwrap().text;
    assert!(text.contains("Direct Messages"), "{text}");
    assert!(fields(&outcome).is_empty());
}

#[tokio::test]
async fn auth_code_in_a_guild_is_refused_deleted_and_never_used() {
    let mut provider = MockAuthProvider::new();
    provider.expect_exchange_code().never();
    let world = World::new();
    let mut deps = world.deps();
    deps.auth_provider = Some(Arc::new(provider));
    let outcome = NewSystem::new(deps)
        .execute(&req(C::Auth, &["code", "secret-code"]).into())
        .await;
    assert_no_state_change(&outcome, OutcomeClass::Denied);
    assert_eq!(outcome.follow_ups, [FollowUp::DeleteInvokingMessage]);
    assert!(!outcome.reply.as_ref().unwrap().text.contains("secret-code"));
    assert!(world.store.token(user(OWNER)).await.unwrap().is_none());
}

#[tokio::test]
async fn auth_code_in_a_guild_is_deleted_even_when_relayed_by_a_proxy() {
    let world = World::new().with_auth_provider();
    let outcome = world.run(req(C::Auth, &["code", "abc"]).via_proxy()).await;
    assert_no_state_change(&outcome, OutcomeClass::Denied);
    assert_eq!(outcome.follow_ups, [FollowUp::DeleteInvokingMessage]);
}

#[tokio::test]
async fn auth_code_without_a_code_asks_for_one() {
    let world = World::new().with_auth_provider();
    for words in [&["code"][..], &["code", "||||"], &["code", "||", "||"]] {
        let outcome = world.run(req(C::Auth, words).in_dm()).await;
        assert_no_state_change(&outcome, OutcomeClass::InvalidInput);
    }
}

#[tokio::test]
async fn auth_code_without_a_provider_explains_that_none_is_needed() {
    let world = World::new();
    let outcome = world.run(req(C::Auth, &["code", "abc"]).in_dm()).await;
    assert_no_state_change(&outcome, OutcomeClass::Info);
}

#[tokio::test]
async fn auth_code_refused_by_the_provider_is_an_invalid_or_expired_code() {
    let world = World::new().with_auth_provider();
    let outcome = world.run(req(C::Auth, &["code", "wrong"]).in_dm()).await;
    assert_no_state_change(&outcome, OutcomeClass::InvalidInput);
    assert!(is_ephemeral(&outcome));
    assert!(world.store.token(user(OWNER)).await.unwrap().is_none());
}

#[tokio::test]
async fn auth_code_with_the_provider_down_is_an_internal_error() {
    let world = World::new().with_auth_provider();
    world.auth_provider.as_ref().unwrap().fail(true);
    let outcome = world.run(req(C::Auth, &["code", "abc"]).in_dm()).await;
    assert_internal_error(&outcome);
    assert!(world.store.token(user(OWNER)).await.unwrap().is_none());
}

#[tokio::test]
async fn auth_code_accepted_stores_the_token_with_the_configured_lifetime() {
    let world = World::new().with_auth_provider();
    world
        .auth_provider
        .as_ref()
        .unwrap()
        .accept_code("good-code", token("tok-123"), None);
    let outcome = world
        .run(req(C::Auth, &["code", "||good-code||"]).in_dm())
        .await;
    assert_eq!(outcome.class, OutcomeClass::Success);
    assert!(is_ephemeral(&outcome));
    assert_eq!(
        outcome.events,
        [DomainEvent::TokenStored { user: user(OWNER) }]
    );
    assert_eq!(spans(&outcome), ["`30 days`"]);
    assert!(!outcome.reply.as_ref().unwrap().text.contains("tok-123"));
    let stored = world.store.token(user(OWNER)).await.unwrap().unwrap();
    assert_eq!(stored.token.expose(), "tok-123");
    assert_eq!(
        stored.expires_at,
        world.now().plus(Duration::from_secs(30 * 86_400))
    );
}

#[tokio::test]
async fn auth_code_uses_the_lifetime_the_provider_gives() {
    let world = World::new().with_auth_provider();
    world.auth_provider.as_ref().unwrap().accept_code(
        "c",
        token("t"),
        Some(Duration::from_secs(5 * 86_400)),
    );
    let outcome = world.run(req(C::Auth, &["code", "c"]).in_dm()).await;
    assert_eq!(spans(&outcome), ["`5 days`"]);
}

async fn store_token(world: &World, created_days_ago: u64, ttl_days: u64) {
    let created = world
        .now()
        .minus(Duration::from_secs(created_days_ago * 86_400));
    world
        .store
        .save_token(&UserAuth::issue(
            user(OWNER),
            token("t"),
            created,
            Duration::from_secs(ttl_days * 86_400),
        ))
        .await
        .unwrap();
}

#[tokio::test]
async fn auth_status_without_a_token_says_not_authenticated() {
    let world = World::new().with_auth_provider();
    let outcome = world.run(req(C::Auth, &["status"])).await;
    assert_no_state_change(&outcome, OutcomeClass::Success);
    assert!(is_ephemeral(&outcome));
    assert_eq!(fields(&outcome), [("Authenticated".into(), "no".into())]);
}

#[tokio::test]
async fn auth_status_with_an_expired_token_says_expired() {
    let world = World::new().with_auth_provider();
    store_token(&world, 31, 30).await;
    let outcome = world.run(req(C::Auth, &["status"])).await;
    assert_eq!(
        fields(&outcome),
        [("Authenticated".into(), "expired".into())]
    );
}

#[tokio::test]
async fn auth_status_with_a_valid_token_shows_its_age_and_days_left() {
    let world = World::new().with_auth_provider();
    store_token(&world, 3, 30).await;
    let outcome = world.run(req(C::Auth, &["status"])).await;
    assert_eq!(outcome.class, OutcomeClass::Success);
    assert_eq!(
        fields(&outcome),
        [
            ("Authenticated".into(), "yes".into()),
            ("Token age".into(), "72h".into()),
            ("Days left".into(), "27".into())
        ]
    );
    let text = &outcome.reply.as_ref().unwrap().text;
    assert!(!text.to_lowercase().contains("warning"), "{text}");
}

#[tokio::test]
async fn auth_status_warns_when_fewer_than_seven_days_are_left() {
    let world = World::new().with_auth_provider();
    store_token(&world, 25, 30).await;
    let outcome = world.run(req(C::Auth, &["status"])).await;
    assert_eq!(field(&outcome, "Days left").as_deref(), Some("5"));
    let text = &outcome.reply.as_ref().unwrap().text;
    assert!(text.to_lowercase().contains("warning"), "{text}");
    assert!(spans(&outcome).is_empty());
}

#[tokio::test]
async fn auth_revoke_deletes_the_token_and_confirms_also_when_there_was_none() {
    let world = World::new().with_auth_provider();
    store_token(&world, 1, 30).await;
    let first = world.run(req(C::Auth, &["revoke"])).await;
    assert_eq!(first.class, OutcomeClass::Success);
    assert!(is_ephemeral(&first));
    assert_eq!(
        first.events,
        [DomainEvent::TokenRevoked { user: user(OWNER) }]
    );
    assert!(world.store.token(user(OWNER)).await.unwrap().is_none());

    let again = world.run(req(C::Auth, &["revoke"])).await;
    assert_eq!(again.class, OutcomeClass::Success);
    assert!(again.events.is_empty());
}

#[tokio::test]
async fn auth_cleanup_is_refused_to_members_without_administrator() {
    let world = World::new().with_auth_provider();
    store_token(&world, 40, 30).await;
    for request in [
        req(C::Auth, &["cleanup"]).manage_messages(),
        req(C::Auth, &["cleanup"]).in_dm().admin(),
    ] {
        let outcome = world.run(request).await;
        assert_no_state_change(&outcome, OutcomeClass::Denied);
        assert_eq!(spans(&outcome), ["`Administrator`"]);
    }
    assert_eq!(world.store.count_tokens().await.unwrap(), 1);
}

#[tokio::test]
async fn auth_cleanup_deletes_expired_tokens_for_admins_and_bot_owners() {
    let world = World::new().with_auth_provider();
    store_token(&world, 40, 30).await;
    let outcome = world.run(req(C::Auth, &["cleanup"]).admin()).await;
    assert_eq!(outcome.class, OutcomeClass::Success);
    assert_eq!(
        outcome.events,
        [DomainEvent::ExpiredTokensPurged { count: 1 }]
    );
    assert_eq!(spans(&outcome), ["`1`"]);
    assert_eq!(world.store.count_tokens().await.unwrap(), 0);

    let owner = world
        .run(req(C::Auth, &["cleanup"]).by(BOT_OWNER).in_dm())
        .await;
    assert_eq!(
        owner.events,
        [DomainEvent::ExpiredTokensPurged { count: 0 }]
    );
    assert_eq!(spans(&owner), ["`0`"]);
}

#[tokio::test]
async fn verify_in_a_dm_explains_where_to_run_it() {
    let world = World::new();
    let outcome = world.run(req(C::Verify, &[]).in_dm()).await;
    assert_no_state_change(&outcome, OutcomeClass::Denied);
    assert!(is_ephemeral(&outcome));
    assert!(
        world
            .store
            .verification(user(OWNER))
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn verify_when_already_verified_says_so() {
    let world = World::new();
    world
        .store
        .save_verification(&AgeVerification {
            user: user(OWNER),
            verified_at: world.now(),
        })
        .await
        .unwrap();
    let outcome = world.run(req(C::Verify, &[]).in_sfw_channel()).await;
    assert_no_state_change(&outcome, OutcomeClass::Info);
    assert!(is_ephemeral(&outcome));
}

#[tokio::test]
async fn verify_in_an_age_restricted_channel_records_the_verification() {
    let world = World::new();
    let outcome = world.run(req(C::Verify, &[])).await;
    assert_eq!(outcome.class, OutcomeClass::Success);
    assert!(is_ephemeral(&outcome));
    assert_eq!(
        outcome.events,
        [DomainEvent::UserVerified { user: user(OWNER) }]
    );
    assert!(spans(&outcome).is_empty());
    let stored = world
        .store
        .verification(user(OWNER))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.verified_at, world.now());
}

#[tokio::test]
async fn verify_elsewhere_succeeds_when_the_caller_sees_age_restricted_channels_listing_five() {
    let world = World::new();
    let outcome = world
        .run(
            req(C::Verify, &[])
                .in_sfw_channel()
                .seeing(&[501, 502, 503, 504, 505, 506, 507]),
        )
        .await;
    assert_eq!(outcome.class, OutcomeClass::Success);
    assert!(is_ephemeral(&outcome));
    assert_eq!(
        outcome.events,
        [DomainEvent::UserVerified { user: user(OWNER) }]
    );
    assert_eq!(
        spans(&outcome),
        ["`<#501>`", "`<#502>`", "`<#503>`", "`<#504>`", "`<#505>`"]
    );
    assert!(
        world
            .store
            .verification(user(OWNER))
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn verify_without_any_age_restricted_channel_explains_how_to_verify() {
    let world = World::new();
    let outcome = world.run(req(C::Verify, &[]).in_sfw_channel()).await;
    assert_no_state_change(&outcome, OutcomeClass::Denied);
    assert!(is_ephemeral(&outcome));
    assert!(
        world
            .store
            .verification(user(OWNER))
            .await
            .unwrap()
            .is_none()
    );
}
