//! The runbook's communication plan, built in (operations.md §6): a rollout flag change posts
//! the deployment announcement, a fired alert or an automatic rollback the incident message,
//! and a resolution posts again — to the ops webhook (`TROUPE_OPS_WEBHOOK_URL`).
//!
//! Posts run in their own tasks with a few retries, so a flag change never waits for them. The
//! announcement is posted once per store: only the process holding the `comms-announcer`
//! lease announces (the others keep their place in the audit log).

use std::sync::Arc;
use std::time::Duration;

use troupe_application::alerts::{
    Alert, AlertMonitor, IncidentStatus, deployment_announcement, incident_message,
};
use troupe_application::flags::{FlagName, Flags};
use troupe_domain::Timestamp;
use troupe_ports::{Clock, FlagAuditEntry};
use troupe_store::Store;

/// The lease of the one process that announces flag changes for a store.
pub const ANNOUNCER_LEASE: &str = "comms-announcer";

/// Posts texts to an ops webhook as `{"text": …, "content": …}` (Slack and Discord webhooks
/// both accept it), retried with backoff; the URL (which may hold a secret) is never logged.
#[derive(Debug, Clone)]
pub struct OpsPoster {
    url: String,
    client: reqwest::Client,
    attempts: u32,
    backoff: Duration,
}

impl OpsPoster {
    pub fn new(url: String) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        Self {
            url,
            client,
            attempts: 4,
            backoff: Duration::from_secs(1),
        }
    }

    /// The same poster with another retry schedule (tests use a short backoff).
    pub fn with_retries(mut self, attempts: u32, backoff: Duration) -> Self {
        self.attempts = attempts.max(1);
        self.backoff = backoff;
        self
    }

    /// Posts `text`, retrying failures and non-2xx answers; `true` once accepted.
    pub async fn post(&self, text: &str) -> bool {
        let body = serde_json::json!({ "text": text, "content": text }).to_string();
        let mut wait = self.backoff;
        for attempt in 1..=self.attempts {
            let result = self
                .client
                .post(&self.url)
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await;
            match result {
                Ok(r) if r.status().is_success() => return true,
                Ok(r) => tracing::warn!(
                    status = r.status().as_u16(),
                    attempt,
                    "the ops webhook refused a message"
                ),
                Err(e) => {
                    tracing::warn!(error = %e.without_url(), attempt, "cannot post to the ops webhook");
                }
            }
            if attempt < self.attempts {
                tokio::time::sleep(wait).await;
                wait = wait.saturating_mul(2);
            }
        }
        false
    }

    /// Posts in the background: the caller never waits.
    pub fn post_detached(&self, text: String) {
        let poster = self.clone();
        tokio::spawn(async move {
            poster.post(&text).await;
        });
    }
}

/// Posts the incident messages of one alert evaluation: fired alerts (Rolling back when the
/// automatic rollback changed flags for them, with those changes as actions taken), and
/// resolved ones.
pub fn post_incidents(
    poster: &OpsPoster,
    fired: &[Alert],
    resolved: &[Alert],
    rolled_back: &[(FlagName, bool)],
) {
    for alert in fired {
        let actions: Vec<String> = rolled_back
            .iter()
            .filter(|(flag, _)| match (alert.rule, flag) {
                (
                    troupe_application::alerts::AlertRule::CategoryErrorRate(category),
                    FlagName::Category(c),
                ) => *c == category,
                (
                    troupe_application::alerts::AlertRule::CategoryErrorRate(category),
                    FlagName::Command(c),
                ) => c.category() == category,
                _ => false,
            })
            .map(|(flag, ok)| {
                if *ok {
                    format!(
                        "automatic rollback: {} set off (commands back on legacy)",
                        flag.key()
                    )
                } else {
                    format!(
                        "automatic rollback of {} FAILED: roll back by hand",
                        flag.key()
                    )
                }
            })
            .collect();
        let status = if actions.is_empty() {
            IncidentStatus::Investigating
        } else {
            IncidentStatus::RollingBack
        };
        poster.post_detached(incident_message(alert, status, &actions));
    }
    for alert in resolved {
        poster.post_detached(incident_message(
            alert,
            IncidentStatus::Resolved,
            &["the alert cleared".to_owned()],
        ));
    }
}

/// Watches the flag audit log and announces every new change once per store.
#[derive(Debug)]
pub struct Announcer {
    store: Store,
    flags: Arc<Flags>,
    alerts: Option<Arc<AlertMonitor>>,
    poster: OpsPoster,
    holder: String,
    lease: Duration,
    /// The newest change already seen (announced, or seen while another process announced).
    seen: Option<(Timestamp, String, String)>,
}

fn identity(e: &FlagAuditEntry) -> (Timestamp, String, String) {
    (e.at, e.name.clone(), e.reason.clone())
}

impl Announcer {
    /// Starts after the changes already in the audit log (they were announced before).
    pub async fn new(
        store: Store,
        flags: Arc<Flags>,
        alerts: Option<Arc<AlertMonitor>>,
        poster: OpsPoster,
        lease: Duration,
    ) -> Self {
        use std::hash::BuildHasher as _;
        let nonce = std::collections::hash_map::RandomState::new().hash_one(std::process::id());
        let seen = flags
            .audit(1)
            .await
            .ok()
            .and_then(|e| e.first().map(identity));
        Self {
            store,
            flags,
            alerts,
            poster,
            holder: format!("{}:{nonce:016x}", std::process::id()),
            lease,
            seen,
        }
    }

    /// Announces the changes since the last call when this process holds the lease; returns
    /// the announcements started.
    pub async fn tick(&mut self, now: Timestamp) -> Vec<String> {
        let Ok(entries) = self.flags.audit(50).await else {
            return Vec::new();
        };
        // Newest first: keep those after the last one seen, then announce oldest first.
        let mut new: Vec<&FlagAuditEntry> = entries
            .iter()
            .take_while(|e| self.seen.as_ref() != Some(&identity(e)))
            .collect();
        new.reverse();
        let Some(newest) = entries.first() else {
            return Vec::new();
        };
        let leader = self
            .store
            .acquire_lease(ANNOUNCER_LEASE, &self.holder, self.lease, now)
            .await
            .unwrap_or(false);
        self.seen = Some(identity(newest));
        if !leader {
            return Vec::new();
        }
        let active = self.alerts.as_ref().map_or(0, |a| a.active().len());
        let texts: Vec<String> = new
            .into_iter()
            .map(|e| deployment_announcement(e, active))
            .collect();
        for text in &texts {
            self.poster.post_detached(text.clone());
        }
        texts
    }

    /// Ticks every `every`.
    pub fn spawn(mut self, clock: Arc<dyn Clock>, every: Duration) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                self.tick(clock.now()).await;
            }
        })
    }
}
