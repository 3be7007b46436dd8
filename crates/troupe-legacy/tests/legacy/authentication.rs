//! ADR 0002 scenarios of the authentication commands: auth and verify.

use std::sync::Arc;

use troupe_application::{FollowUp, OutcomeClass};
use troupe_domain::auth::{AccessToken, AgeVerification, UserAuth};
use troupe_domain::{DomainEvent, Duration};
use troupe_ports::{AuthRepository, MockAuthProvider};
use troupe_testkit::FakeAuthProvider;

use crate::common::*;

fn provider() -> Arc<FakeAuthProvider> {
    Arc::new(FakeAuthProvider::new(true))
}

fn token(raw: &str) -> AccessToken {
    AccessToken::parse(raw).unwrap()
}

async fn store_token(h: &Harness, owner: u64, issued_days_ago: i64, ttl_days: u64) {
    let auth = UserAuth::issue(
        user(owner),
        token("stored-token"),
        at(-issued_days_ago * 86_400_000),
        Duration::from_secs(ttl_days * 86_400),
    );
    h.store.save_token(&auth).await.unwrap();
}

/// Every user-visible text and field of an outcome, to check a secret never appears.
fn visible(outcome: &troupe_application::CommandOutcome) -> String {
    let reply = outcome.reply.as_ref().unwrap();
    let mut all = format!("{} {}", reply.title.clone().unwrap_or_default(), reply.text);
    for f in &reply.fields {
        all.push_str(&f.name);
        all.push_str(&f.value);
    }
    all
}

// ---------------------------------------------------------------- auth: place, proxy, overview

#[tokio::test]
async fn auth_is_denied_to_messages_relayed_by_a_proxy_system() {
    let h = Harness::new().with_oauth(provider());
    for text in [
        "!tz auth",
        "!tz auth start",
        "!tz auth status",
        "!tz auth revoke",
    ] {
        let o = h.run(&dm(ALICE).via_proxy(), text).await;
        expect(&o, OutcomeClass::Denied, &[], &[], &[]);
    }
}

#[tokio::test]
async fn auth_without_subcommand_lists_the_subcommands_and_cleanup_only_for_admins() {
    let h = Harness::new();
    let o = h.run(&member(ALICE), "!tz auth").await;
    expect(
        &o,
        OutcomeClass::Info,
        &[],
        &[],
        &["start", "code", "status", "revoke"],
    );
    for who in [member(ALICE).admin(), dm(ROOT)] {
        let o = h.run(&who, "!tz auth").await;
        expect(
            &o,
            OutcomeClass::Info,
            &[],
            &[],
            &["start", "code", "status", "revoke", "cleanup"],
        );
    }
}

#[tokio::test]
async fn auth_with_an_unknown_subcommand_names_it() {
    let h = Harness::new();
    let o = h.run(&dm(ALICE), "!tz auth Login").await;
    expect(&o, OutcomeClass::InvalidInput, &[], &[], &["Login"]);
}

// ---------------------------------------------------------------- auth start

#[tokio::test]
async fn auth_start_without_an_oauth_provider_says_none_is_needed() {
    let h = Harness::new();
    let o = h.run(&dm(ALICE), "!tz auth start").await;
    expect(&o, OutcomeClass::Info, &[], &[], &[]);
}

#[tokio::test]
async fn auth_start_in_a_dm_replies_with_a_personal_link_bound_to_a_stored_state() {
    let h = Harness::new().with_oauth(provider());
    let o = h.run(&dm(ALICE), "!tz auth start").await;
    expect(
        &o,
        OutcomeClass::Success,
        &[DomainEvent::AuthorizationStarted { user: user(ALICE) }],
        &[],
        &[],
    );
    assert!(ephemeral(&o));
    let link = field(&o, "Authorization link");
    let pending = h.store.take_pending(user(ALICE)).await.unwrap().unwrap();
    assert_eq!(
        link,
        format!("http://127.0.0.1/oauth/authorize?state={}", pending.state)
    );
    assert!(pending.state.len() >= 32, "an unguessable state");
    assert!(h.platform.sent_dms().is_empty());
}

#[tokio::test]
async fn auth_start_in_a_server_sends_the_link_by_dm_and_keeps_it_out_of_the_channel() {
    let h = Harness::new().with_oauth(provider());
    let o = h.run(&member(ALICE), "!tz auth start").await;
    expect(
        &o,
        OutcomeClass::Success,
        &[DomainEvent::AuthorizationStarted { user: user(ALICE) }],
        &[],
        &[],
    );
    assert!(ephemeral(&o));
    assert!(facts(&o).fields.is_empty());
    assert!(!visible(&o).contains("oauth/authorize"));
    let dms = h.platform.sent_dms();
    assert_eq!(dms.len(), 1);
    assert_eq!(dms[0].0, user(ALICE));
    let pending = h.store.take_pending(user(ALICE)).await.unwrap().unwrap();
    assert!(dms[0].1.content.contains(&pending.state));
}

#[tokio::test]
async fn auth_start_in_a_server_with_closed_dms_explains_how_to_open_them() {
    let h = Harness::new().with_oauth(provider());
    h.platform.close_dms(user(ALICE));
    let o = h.run(&member(ALICE), "!tz auth start").await;
    expect(
        &o,
        OutcomeClass::Info,
        &[DomainEvent::AuthorizationStarted { user: user(ALICE) }],
        &[],
        &[],
    );
    assert!(ephemeral(&o));
    assert!(visible(&o).to_lowercase().contains("direct messages"));
}

#[tokio::test]
async fn auth_start_fails_with_a_reference_when_the_state_cannot_be_stored() {
    let h = Harness::new().with_oauth(provider());
    h.store.fail_next_writes(1);
    expect_internal_error(&h.run(&dm(ALICE), "!tz auth start").await);
    assert_eq!(h.store.take_pending(user(ALICE)).await.unwrap(), None);
}

// ---------------------------------------------------------------- auth code

#[tokio::test]
async fn auth_code_in_a_server_is_denied_deleted_and_never_used() {
    let mut mock = MockAuthProvider::new();
    mock.expect_exchange_code().never();
    mock.expect_requires_user_auth().return_const(true);
    let h = Harness::new().with_oauth(Arc::new(mock));
    // Even through a proxy system, the code message goes away.
    for who in [member(ALICE), member(ALICE).via_proxy()] {
        let o = h.run(&who, "!tz auth code abc123").await;
        expect(&o, OutcomeClass::Denied, &[], &[], &[]);
        assert_eq!(o.follow_ups, [FollowUp::DeleteInvokingMessage]);
        assert!(!visible(&o).contains("abc123"));
    }
    assert_eq!(h.store.token(user(ALICE)).await.unwrap(), None);
}

#[tokio::test]
async fn auth_code_without_a_code_asks_for_it() {
    let h = Harness::new().with_oauth(provider());
    for text in ["!tz auth code", "!tz auth code ||||"] {
        let o = h.run(&dm(ALICE), text).await;
        expect(&o, OutcomeClass::InvalidInput, &[], &[], &[]);
    }
}

#[tokio::test]
async fn auth_code_without_an_oauth_provider_says_none_is_needed() {
    let h = Harness::new();
    let o = h.run(&dm(ALICE), "!tz auth code abc123").await;
    expect(&o, OutcomeClass::Info, &[], &[], &[]);
}

#[tokio::test]
async fn auth_code_refused_by_the_provider_is_invalid_and_stores_nothing() {
    let h = Harness::new().with_oauth(provider());
    let o = h.run(&dm(ALICE), "!tz auth code nope").await;
    expect(&o, OutcomeClass::InvalidInput, &[], &[], &[]);
    assert!(ephemeral(&o));
    assert_eq!(h.store.token(user(ALICE)).await.unwrap(), None);
}

#[tokio::test]
async fn auth_code_when_the_provider_is_down_is_an_internal_error() {
    let oauth = provider();
    oauth.accept_code("abc123", token("fresh-token"), None);
    oauth.fail(true);
    let h = Harness::new().with_oauth(oauth);
    expect_internal_error(&h.run(&dm(ALICE), "!tz auth code abc123").await);
    assert_eq!(h.store.token(user(ALICE)).await.unwrap(), None);
}

#[tokio::test]
async fn auth_code_accepted_stores_the_token_with_the_default_lifetime() {
    let oauth = provider();
    oauth.accept_code("abc123", token("fresh-token"), None);
    let h = Harness::new().with_oauth(oauth);
    // Spoiler markup is stripped, including spaced-out spoilers.
    let o = h.run(&dm(ALICE), "!tz auth code || abc123 ||").await;
    expect(
        &o,
        OutcomeClass::Success,
        &[DomainEvent::TokenStored { user: user(ALICE) }],
        &[],
        &["30 days"],
    );
    assert!(ephemeral(&o));
    assert!(!visible(&o).contains("fresh-token"));
    let stored = h.store.token(user(ALICE)).await.unwrap().unwrap();
    assert_eq!(stored.token.expose(), "fresh-token");
    assert_eq!(stored.expires_at, at(30 * 86_400_000));
}

#[tokio::test]
async fn auth_code_uses_the_lifetime_the_provider_gives() {
    let oauth = provider();
    oauth.accept_code(
        "short",
        token("fresh-token"),
        Some(Duration::from_secs(3 * 86_400)),
    );
    let h = Harness::new().with_oauth(oauth);
    let o = h.run(&dm(ALICE), "!tz auth code ||short||").await;
    expect(
        &o,
        OutcomeClass::Success,
        &[DomainEvent::TokenStored { user: user(ALICE) }],
        &[],
        &["3 days"],
    );
}

#[tokio::test]
async fn auth_code_whose_token_cannot_be_saved_is_an_internal_error() {
    let oauth = provider();
    oauth.accept_code("abc123", token("fresh-token"), None);
    let h = Harness::new().with_oauth(oauth);
    h.store.fail_next_writes(1);
    expect_internal_error(&h.run(&dm(ALICE), "!tz auth code abc123").await);
    assert_eq!(h.store.token(user(ALICE)).await.unwrap(), None);
}

// ---------------------------------------------------------------- auth status, revoke, cleanup

#[tokio::test]
async fn auth_status_without_a_token_says_no() {
    let h = Harness::new();
    let o = h.run(&member(ALICE), "!tz auth status").await;
    expect(&o, OutcomeClass::Success, &[], &[], &[]);
    assert!(ephemeral(&o));
    assert_eq!(field_names(&o), ["Authenticated"]);
    assert_eq!(field(&o, "Authenticated"), "no");
}

#[tokio::test]
async fn auth_status_with_an_expired_token_says_expired() {
    let h = Harness::new();
    store_token(&h, ALICE, 31, 30).await;
    let o = h.run(&dm(ALICE), "!tz auth status").await;
    expect(&o, OutcomeClass::Success, &[], &[], &[]);
    assert_eq!(field_names(&o), ["Authenticated"]);
    assert_eq!(field(&o, "Authenticated"), "expired");
}

#[tokio::test]
async fn auth_status_with_a_valid_token_shows_its_age_and_days_left() {
    let h = Harness::new();
    store_token(&h, ALICE, 3, 30).await;
    let o = h.run(&dm(ALICE), "!tz auth status").await;
    expect(&o, OutcomeClass::Success, &[], &[], &[]);
    assert!(ephemeral(&o));
    assert_eq!(field_names(&o), ["Authenticated", "Token age", "Days left"]);
    assert_eq!(field(&o, "Authenticated"), "yes");
    assert_eq!(field(&o, "Token age"), "72h");
    assert_eq!(field(&o, "Days left"), "27");
    assert!(!visible(&o).to_lowercase().contains("warning"));
    assert!(!visible(&o).contains("stored-token"));
}

#[tokio::test]
async fn auth_status_warns_when_fewer_than_seven_days_are_left() {
    let h = Harness::new();
    store_token(&h, ALICE, 25, 30).await;
    let o = h.run(&dm(ALICE), "!tz auth status").await;
    expect(&o, OutcomeClass::Success, &[], &[], &[]);
    assert_eq!(field(&o, "Days left"), "5");
    assert!(visible(&o).to_lowercase().contains("warning"));
}

#[tokio::test]
async fn auth_revoke_deletes_the_token_and_confirms_also_when_there_was_none() {
    let h = Harness::new();
    store_token(&h, ALICE, 1, 30).await;
    let o = h.run(&member(ALICE), "!tz auth revoke").await;
    expect(
        &o,
        OutcomeClass::Success,
        &[DomainEvent::TokenRevoked { user: user(ALICE) }],
        &[],
        &[],
    );
    assert!(ephemeral(&o));
    assert_eq!(h.store.token(user(ALICE)).await.unwrap(), None);

    let again = h.run(&member(ALICE), "!tz auth revoke").await;
    expect(&again, OutcomeClass::Success, &[], &[], &[]);
    assert!(ephemeral(&again));
}

#[tokio::test]
async fn auth_revoke_that_cannot_delete_is_an_internal_error_and_keeps_the_token() {
    let h = Harness::new();
    store_token(&h, ALICE, 1, 30).await;
    h.store.fail_next_writes(1);
    expect_internal_error(&h.run(&member(ALICE), "!tz auth revoke").await);
    assert!(h.store.token(user(ALICE)).await.unwrap().is_some());
}

#[tokio::test]
async fn auth_cleanup_is_denied_to_members_and_in_dms_to_non_owners() {
    let h = Harness::new();
    store_token(&h, BOB, 40, 30).await;
    for who in [member(ALICE), member(ALICE).manager(), dm(ALICE).admin()] {
        let o = h.run(&who, "!tz auth cleanup").await;
        expect(&o, OutcomeClass::Denied, &[], &[], &["Administrator"]);
    }
    assert!(h.store.token(user(BOB)).await.unwrap().is_some());
}

#[tokio::test]
async fn auth_cleanup_deletes_expired_tokens_and_reports_the_count() {
    let h = Harness::new();
    store_token(&h, ALICE, 40, 30).await;
    store_token(&h, BOB, 31, 30).await;
    store_token(&h, ROOT, 1, 30).await;
    let o = h.run(&member(ALICE).admin(), "!tz auth cleanup").await;
    expect(
        &o,
        OutcomeClass::Success,
        &[DomainEvent::ExpiredTokensPurged { count: 2 }],
        &[],
        &["2"],
    );
    assert_eq!(h.store.count_tokens().await.unwrap(), 1);
    let o = h.run(&dm(ROOT), "!tz auth cleanup").await;
    expect(
        &o,
        OutcomeClass::Success,
        &[DomainEvent::ExpiredTokensPurged { count: 0 }],
        &[],
        &["0"],
    );
}

// ---------------------------------------------------------------- verify

#[tokio::test]
async fn verify_in_a_dm_is_denied() {
    let h = Harness::new();
    let o = h.run(&dm(ALICE), "!tz verify").await;
    expect(&o, OutcomeClass::Denied, &[], &[], &[]);
    assert!(ephemeral(&o));
}

#[tokio::test]
async fn verify_when_already_verified_says_so() {
    let h = Harness::new();
    h.store
        .save_verification(&AgeVerification {
            user: user(ALICE),
            verified_at: at(-5),
        })
        .await
        .unwrap();
    let o = h
        .run(&member(ALICE).not_age_restricted(&[]), "!tz nsfw")
        .await;
    expect(&o, OutcomeClass::Info, &[], &[], &[]);
    assert!(ephemeral(&o));
}

#[tokio::test]
async fn verify_in_an_age_restricted_channel_verifies_and_persists() {
    let h = Harness::new();
    let o = h.run(&member(ALICE), "!tz verify").await;
    expect(
        &o,
        OutcomeClass::Success,
        &[DomainEvent::UserVerified { user: user(ALICE) }],
        &[],
        &[],
    );
    assert!(ephemeral(&o));
    let stored = h.store.verification(user(ALICE)).await.unwrap().unwrap();
    assert_eq!(stored.verified_at, at(0));
}

#[tokio::test]
async fn verify_elsewhere_verifies_when_the_caller_sees_age_restricted_channels_and_lists_five() {
    let h = Harness::new();
    let who = member(ALICE).not_age_restricted(&[11, 12, 13, 14, 15, 16, 17]);
    let o = h.run(&who, "!tz verify").await;
    expect(
        &o,
        OutcomeClass::Success,
        &[DomainEvent::UserVerified { user: user(ALICE) }],
        &[],
        &["<#11>", "<#12>", "<#13>", "<#14>", "<#15>"],
    );
    assert!(ephemeral(&o));
    assert!(h.store.verification(user(ALICE)).await.unwrap().is_some());
}

#[tokio::test]
async fn verify_elsewhere_without_visible_age_restricted_channels_explains_how() {
    let h = Harness::new();
    let o = h
        .run(&member(ALICE).not_age_restricted(&[]), "!tz verify")
        .await;
    expect(&o, OutcomeClass::Denied, &[], &[], &[]);
    assert!(ephemeral(&o));
    assert_eq!(h.store.verification(user(ALICE)).await.unwrap(), None);
}

#[tokio::test]
async fn verify_that_cannot_be_saved_is_an_internal_error() {
    let h = Harness::new();
    h.store.fail_next_writes(1);
    expect_internal_error(&h.run(&member(ALICE), "!tz verify").await);
    assert_eq!(h.store.verification(user(ALICE)).await.unwrap(), None);
}
