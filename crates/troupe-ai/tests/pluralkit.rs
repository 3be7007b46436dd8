//! The PluralKit client against the fake PluralKit API on loopback: the sender of a proxied
//! message, "not PluralKit's" for other webhooks, the lag before PluralKit knows a message,
//! failures reported (never waited out beyond the bound), answers cached.

use std::time::Instant;

use troupe_ai::{PluralKitAuthors, PluralKitConfig};
use troupe_domain::{Duration, MessageId, UserId};
use troupe_ports::{ProxyAuthors, ProxyError};
use troupe_testkit::pluralkit::{FakePluralKit, PluralKitMode};

fn client(pk: &FakePluralKit, timeout_ms: u64) -> PluralKitAuthors {
    PluralKitAuthors::new(PluralKitConfig {
        base_url: pk.base_url(),
        timeout: Duration::from_millis(timeout_ms),
        not_found_retry: Duration::from_millis(50),
        ..PluralKitConfig::default()
    })
    .unwrap()
}

fn msg(id: u64) -> MessageId {
    MessageId::new(id).unwrap()
}

#[tokio::test]
async fn a_proxied_message_resolves_to_its_sender_and_is_cached() {
    let pk = FakePluralKit::start().await;
    pk.proxied(1_000_000_000_000_000_001, 200_000_000_000_000_007);
    let authors = client(&pk, 2_000);
    let sender = Some(UserId::new(200_000_000_000_000_007).unwrap());
    assert_eq!(
        authors.real_author(msg(1_000_000_000_000_000_001)).await,
        Ok(sender)
    );
    assert_eq!(
        authors.real_author(msg(1_000_000_000_000_000_001)).await,
        Ok(sender)
    );
    assert_eq!(
        pk.lookups().len(),
        1,
        "the second answer came from the cache"
    );
}

#[tokio::test]
async fn a_message_pluralkit_stores_a_moment_later_is_asked_again() {
    let pk = FakePluralKit::start().await;
    pk.proxied_after(42, 7, 1);
    let authors = client(&pk, 2_000);
    assert_eq!(
        authors.real_author(msg(42)).await,
        Ok(Some(UserId::new(7).unwrap()))
    );
    assert_eq!(pk.lookups(), ["42", "42"]);
}

#[tokio::test]
async fn another_webhook_s_message_is_not_pluralkit_s_after_the_retries() {
    let pk = FakePluralKit::start().await;
    let authors = client(&pk, 2_000);
    assert_eq!(authors.real_author(msg(43)).await, Ok(None));
    assert_eq!(pk.lookups().len(), 3, "one try and two retries");
    assert_eq!(authors.real_author(msg(43)).await, Ok(None));
    assert_eq!(pk.lookups().len(), 3, "\"not PluralKit's\" is cached too");
}

#[tokio::test]
async fn pluralkit_down_or_limiting_is_an_error_and_not_cached() {
    let pk = FakePluralKit::start().await;
    pk.proxied(44, 7);
    let authors = client(&pk, 2_000);
    pk.set_mode(PluralKitMode::Down);
    assert!(matches!(
        authors.real_author(msg(44)).await,
        Err(ProxyError::Unavailable(_))
    ));
    pk.set_mode(PluralKitMode::RateLimited);
    assert_eq!(
        authors.real_author(msg(44)).await,
        Err(ProxyError::RateLimited)
    );
    pk.set_mode(PluralKitMode::Normal);
    assert_eq!(
        authors.real_author(msg(44)).await,
        Ok(Some(UserId::new(7).unwrap())),
        "failures were not cached"
    );
}

#[tokio::test]
async fn a_hanging_pluralkit_ends_in_a_timeout_within_the_bound() {
    let pk = FakePluralKit::start().await;
    pk.set_mode(PluralKitMode::Hang);
    let authors = client(&pk, 300);
    let started = Instant::now();
    assert_eq!(authors.real_author(msg(45)).await, Err(ProxyError::Timeout));
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "bounded: {:?}",
        started.elapsed()
    );
}
