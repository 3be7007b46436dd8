//! Internal errors are logged with their reference id, and a log line never carries a secret.

use std::fmt::{self, Write as _};
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};
use troupe_domain::auth::AccessToken;
use troupe_ports::{AuthProviderError, IssuedToken, MockAuthProvider};

use crate::common::*;

/// A subscriber that writes every event's fields into one shared log.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<String>>>);

struct Line<'a>(&'a mut String);

impl Visit for Line<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let _ = write!(self.0, "{}={value:?} ", field.name());
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut line = format!("{} ", event.metadata().level());
        event.record(&mut Line(&mut line));
        self.0.lock().unwrap().push(line);
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[tokio::test]
async fn an_internal_error_is_logged_with_its_reference_and_without_the_code_or_token() {
    let mut oauth = MockAuthProvider::new();
    oauth.expect_exchange_code().returning(|code| {
        Err(AuthProviderError::Unexpected(format!(
            "provider echoed code {code} and token leaked-token"
        )))
    });
    let h = Harness::new().with_oauth(Arc::new(oauth));
    let capture = Capture::default();
    let _guard = tracing::subscriber::set_default(capture.clone());

    let o = h.run(&dm(ALICE), "!tz auth code s3cret-code").await;

    expect_internal_error(&o);
    let reference = o.reference.unwrap().to_string();
    let log = capture.0.lock().unwrap().join("\n");
    assert!(log.contains(&reference), "{log}");
    assert!(log.contains("ERROR"), "{log}");
    assert!(!log.contains("s3cret-code"), "{log}");
    assert!(!log.contains("leaked-token"), "{log}");
}

#[tokio::test]
async fn a_stored_token_never_reaches_the_log_when_its_save_fails() {
    let mut oauth = MockAuthProvider::new();
    oauth.expect_exchange_code().returning(|_| {
        Ok(IssuedToken {
            token: AccessToken::parse("fresh-secret-token").unwrap(),
            expires_in: None,
        })
    });
    let h = Harness::new().with_oauth(Arc::new(oauth));
    h.store.fail_next_writes(1);
    let capture = Capture::default();
    let _guard = tracing::subscriber::set_default(capture.clone());

    let o = h.run(&dm(ALICE), "!tz auth code abc").await;

    expect_internal_error(&o);
    let log = capture.0.lock().unwrap().join("\n");
    assert!(log.contains(&o.reference.unwrap().to_string()), "{log}");
    assert!(!log.contains("fresh-secret-token"), "{log}");
}
