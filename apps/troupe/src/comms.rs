//! The runbook's communication plan, built in (operations.md §6): a rollout flag change posts
//! the deployment announcement, a fired alert or an automatic rollback the incident message,
//! and a resolution posts again — to the ops webhook (`TROUPE_OPS_WEBHOOK_URL`) and the
//! Discord ops channel through the bot (`TROUPE_OPS_CHANNEL`); a change users can notice also
//! posts the maintenance notice to `TROUPE_MAINTENANCE_CHANNEL`. The texts are templates from
//! the configuration (`TROUPE_COMMS_*_TEMPLATE`, ADR 0023).
//!
//! Posts run in their own tasks with a few retries, so a flag change never waits for them. The
//! announcement is posted once per store: only the process holding the `comms-announcer`
//! lease announces (the others keep their place in the audit log).

use std::sync::Arc;
use std::time::Duration;

use troupe_application::alerts::{Alert, AlertMonitor, IncidentStatus};
use troupe_application::comms::Templates;
use troupe_application::flags::{FlagName, Flags};
use troupe_domain::{ChannelId, Timestamp};
use troupe_ports::{ChatPlatform, Clock, FlagAuditEntry, OutgoingMessage};
use troupe_store::Store;

use crate::config::Config;

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

/// Where the communication plan posts, and its texts: the ops webhook, the ops channel and the
/// maintenance channel through the bot's platform (each optional), the templates.
#[derive(Clone)]
pub struct Outlets {
    webhook: Option<OpsPoster>,
    platform: Option<Arc<dyn ChatPlatform>>,
    ops_channel: Option<ChannelId>,
    maintenance_channel: Option<ChannelId>,
    templates: Arc<Templates>,
    attempts: u32,
    backoff: Duration,
}

impl std::fmt::Debug for Outlets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outlets")
            .field("webhook", &self.webhook.is_some())
            .field("ops_channel", &self.ops_channel)
            .field("maintenance_channel", &self.maintenance_channel)
            .field("templates", &self.templates)
            .finish_non_exhaustive()
    }
}

/// Discord refuses longer messages.
const MAX_CHANNEL_MESSAGE: usize = 2000;

impl Outlets {
    /// Posts only to `webhook` (when given), with the default texts.
    pub fn webhook(webhook: Option<OpsPoster>) -> Self {
        Self {
            webhook,
            platform: None,
            ops_channel: None,
            maintenance_channel: None,
            templates: Arc::new(Templates::default()),
            attempts: 4,
            backoff: Duration::from_secs(1),
        }
    }

    /// The outlets the configuration asks for, posting to channels through `platform`.
    pub fn from_config(config: &Config, platform: Arc<dyn ChatPlatform>) -> Self {
        let webhook = config
            .ops_webhook_url
            .as_ref()
            .map(|u| OpsPoster::new(u.expose().to_owned()));
        Self::webhook(webhook)
            .with_templates(config.comms.templates.clone())
            .with_channels(
                platform,
                config.comms.ops_channel,
                config.comms.maintenance_channel,
            )
    }

    pub fn with_templates(mut self, templates: Templates) -> Self {
        self.templates = Arc::new(templates);
        self
    }

    /// Also posts ops texts to `ops` and maintenance notices to `maintenance` through
    /// `platform` (the bot itself).
    pub fn with_channels(
        mut self,
        platform: Arc<dyn ChatPlatform>,
        ops: Option<ChannelId>,
        maintenance: Option<ChannelId>,
    ) -> Self {
        self.platform = Some(platform);
        self.ops_channel = ops;
        self.maintenance_channel = maintenance;
        self
    }

    /// Another retry schedule for channel posts (tests use a short backoff).
    pub fn with_retries(mut self, attempts: u32, backoff: Duration) -> Self {
        self.attempts = attempts.max(1);
        self.backoff = backoff;
        self
    }

    pub fn templates(&self) -> &Templates {
        &self.templates
    }

    /// Whether anything would be posted at all.
    pub fn is_empty(&self) -> bool {
        self.webhook.is_none()
            && (self.platform.is_none()
                || (self.ops_channel.is_none() && self.maintenance_channel.is_none()))
    }

    /// Posts an ops text (announcement, incident) to the webhook and the ops channel, in the
    /// background.
    pub fn post_ops(&self, text: String) {
        if let Some(webhook) = &self.webhook {
            webhook.post_detached(text.clone());
        }
        if let Some(channel) = self.ops_channel {
            self.post_to_channel(channel, text);
        }
    }

    /// Posts the user-facing maintenance notice, in the background.
    pub fn post_maintenance(&self, text: String) {
        if let Some(channel) = self.maintenance_channel {
            self.post_to_channel(channel, text);
        }
    }

    fn post_to_channel(&self, channel: ChannelId, text: String) {
        let Some(platform) = self.platform.clone() else {
            return;
        };
        let text: String = text.chars().take(MAX_CHANNEL_MESSAGE).collect();
        let (attempts, mut wait) = (self.attempts, self.backoff);
        tokio::spawn(async move {
            for attempt in 1..=attempts {
                match platform
                    .send_message(channel, OutgoingMessage::text(text.clone()))
                    .await
                {
                    Ok(_) => return,
                    Err(e) => tracing::warn!(
                        error = %e,
                        attempt,
                        channel = %channel,
                        "cannot post the communication plan's message to the channel"
                    ),
                }
                if attempt < attempts {
                    tokio::time::sleep(wait).await;
                    wait = wait.saturating_mul(2);
                }
            }
        });
    }
}

/// Posts the incident messages of one alert evaluation: fired alerts (Rolling back when the
/// automatic rollback changed flags for them, with those changes as actions taken), and
/// resolved ones.
pub fn post_incidents(
    outlets: &Outlets,
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
        outlets.post_ops(outlets.templates.incident(alert, status, &actions));
    }
    for alert in resolved {
        outlets.post_ops(outlets.templates.incident(
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
    outlets: Outlets,
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
        outlets: Outlets,
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
            outlets,
            holder: format!("{}:{nonce:016x}", std::process::id()),
            lease,
            seen,
        }
    }

    /// Announces the changes since the last call when this process holds the lease (and the
    /// maintenance notice of those users can notice); returns the announcements started.
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
        let mut texts = Vec::new();
        for change in new {
            let text = self.outlets.templates.announcement(change, active);
            self.outlets.post_ops(text.clone());
            if let Some(notice) = self.outlets.templates.maintenance(change) {
                self.outlets.post_maintenance(notice);
            }
            texts.push(text);
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
