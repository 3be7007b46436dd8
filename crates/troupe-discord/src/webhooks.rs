//! Personality webhooks: one per channel (threads use their parent's), found or created once
//! per channel with single flight (concurrent sends to one channel share one creation; other
//! channels never wait on it), and executed so that an ambiguous failure (a timeout, a 5xx:
//! Discord may have posted the message) is checked before another try — never posted twice.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use moka::future::Cache as MokaCache;
use twilight_model::channel::message::{AllowedMentions, MentionType};
use twilight_model::id::Id;
use twilight_model::id::marker::{ChannelMarker, MessageMarker, WebhookMarker};

use crate::cache::Cache;
use crate::rest::{BACKOFF, Rest, RestError, code, fresh};

/// The name of the webhook Troupe creates in a channel.
const WEBHOOK_NAME: &str = "Troupe";
/// Channels whose webhook is remembered.
const CAPACITY: u64 = 50_000;
/// How far back the check after an ambiguous failure looks (clock differences with Discord).
const CHECK_MARGIN: Duration = Duration::from_secs(5);
/// Discord's epoch (2015-01-01T00:00:00Z) in Unix milliseconds.
const DISCORD_EPOCH_MS: u64 = 1_420_070_400_000;

/// A channel's webhook (its token lets anyone post as it: never logged).
#[derive(Clone)]
pub(crate) struct WebhookHandle {
    pub id: Id<WebhookMarker>,
    token: String,
}

impl std::fmt::Debug for WebhookHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookHandle")
            .field("id", &self.id)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// What a personality message is: where, as whom, what.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Post<'a> {
    /// The channel owning the webhook (never a thread).
    pub parent: Id<ChannelMarker>,
    pub thread: Option<Id<ChannelMarker>>,
    pub username: &'a str,
    pub avatar: Option<&'a str>,
    pub content: &'a str,
}

/// The webhooks of the channels the bot speaks in.
pub(crate) struct Webhooks {
    by_channel: MokaCache<Id<ChannelMarker>, WebhookHandle>,
}

impl std::fmt::Debug for Webhooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhooks")
            .field("cached", &self.by_channel.entry_count())
            .finish()
    }
}

impl Webhooks {
    pub(crate) fn new() -> Self {
        Self {
            by_channel: MokaCache::builder().max_capacity(CAPACITY).build(),
        }
    }

    /// The channel's webhook: cached, else one of ours already there, else a new one. One
    /// lookup per channel at a time; callers for the same channel share its result.
    pub(crate) async fn handle(
        &self,
        rest: &Rest,
        cache: &Cache,
        channel: Id<ChannelMarker>,
    ) -> Result<WebhookHandle, Arc<RestError>> {
        self.by_channel
            .try_get_with(channel, find_or_create(rest, cache, channel))
            .await
    }

    /// Forgets the channel's webhook if it is still `id` (it was deleted on Discord).
    pub(crate) async fn forget(
        &self,
        cache: &Cache,
        channel: Id<ChannelMarker>,
        id: Id<WebhookMarker>,
    ) {
        if self
            .by_channel
            .get(&channel)
            .await
            .is_some_and(|h| h.id == id)
        {
            self.by_channel.invalidate(&channel).await;
        }
        cache.remove_own_webhook(id);
    }

    /// Forgets every webhook; returns how many were cached.
    pub(crate) async fn clear(&self) -> u64 {
        self.by_channel.run_pending_tasks().await;
        let count = self.by_channel.entry_count();
        self.by_channel.invalidate_all();
        self.by_channel.run_pending_tasks().await;
        count
    }

    pub(crate) async fn len(&self) -> u64 {
        self.by_channel.run_pending_tasks().await;
        self.by_channel.entry_count()
    }

    /// Posts `post` through the parent channel's webhook; when Discord says the webhook is
    /// gone, once more through a new one.
    pub(crate) async fn send(
        &self,
        rest: &Rest,
        cache: &Cache,
        post: Post<'_>,
    ) -> Result<Id<MessageMarker>, Arc<RestError>> {
        let handle = self.handle(rest, cache, post.parent).await?;
        match execute(rest, &handle, post).await {
            Err(e) if e.discord_code() == Some(code::UNKNOWN_WEBHOOK) => {
                tracing::info!(channel = %post.parent, "webhook was deleted; creating a new one");
                self.forget(cache, post.parent, handle.id).await;
                let handle = self.handle(rest, cache, post.parent).await?;
                execute(rest, &handle, post).await.map_err(Arc::new)
            }
            other => other.map_err(Arc::new),
        }
    }
}

/// One of our webhooks in `channel` (made by this application, named Troupe, with a token).
async fn find_ours(
    rest: &Rest,
    cache: &Cache,
    channel: Id<ChannelMarker>,
) -> Result<Option<WebhookHandle>, RestError> {
    let application = cache.application();
    let found = rest
        .global("list webhooks", || async {
            Ok(fresh(rest.http().channel_webhooks(channel))
                .await?
                .model()
                .await?)
        })
        .await?
        .into_iter()
        .find(|w| {
            w.token.is_some()
                && w.name.as_deref() == Some(WEBHOOK_NAME)
                && (application.is_none() || w.application_id == application)
        });
    Ok(found.and_then(|w| w.token.map(|token| WebhookHandle { id: w.id, token })))
}

async fn find_or_create(
    rest: &Rest,
    cache: &Cache,
    channel: Id<ChannelMarker>,
) -> Result<WebhookHandle, RestError> {
    let handle = match find_ours(rest, cache, channel).await? {
        Some(handle) => handle,
        None => create(rest, cache, channel).await?,
    };
    cache.add_own_webhook(handle.id);
    Ok(handle)
}

/// Creates the channel's webhook. After an ambiguous failure the webhook may exist: look
/// before creating again (a channel holds at most 15).
async fn create(
    rest: &Rest,
    cache: &Cache,
    channel: Id<ChannelMarker>,
) -> Result<WebhookHandle, RestError> {
    let mut attempt = 0;
    loop {
        let created = rest
            .once(true, || async {
                Ok(fresh(rest.http().create_webhook(channel, WEBHOOK_NAME))
                    .await?
                    .model()
                    .await?)
            })
            .await;
        match created {
            Ok(webhook) => {
                return webhook
                    .token
                    .map(|token| WebhookHandle {
                        id: webhook.id,
                        token,
                    })
                    .ok_or_else(|| RestError::Decode("webhook without a token".into()));
            }
            Err(e) if e.is_ambiguous() && attempt < BACKOFF.len() => {
                tracing::warn!(error = %e, attempt, "creating a webhook failed; looking before trying again");
                tokio::time::sleep(BACKOFF[attempt]).await;
                attempt += 1;
                if let Some(handle) = find_ours(rest, cache, channel).await? {
                    return Ok(handle);
                }
            }
            Err(e) => return Err(e),
        }
    }
}

/// The smallest snowflake of a message created at or after `at` (less the margin).
fn snowflake_before(at: SystemTime) -> u64 {
    let ms = at
        .checked_sub(CHECK_MARGIN)
        .unwrap_or(UNIX_EPOCH)
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    ms.saturating_sub(DISCORD_EPOCH_MS) << 22
}

/// Executes the webhook (`wait=true`: Discord answers with the message). After an ambiguous
/// failure, looks in the channel for the message before trying again; when it cannot look,
/// gives up rather than risk posting twice.
async fn execute(
    rest: &Rest,
    handle: &WebhookHandle,
    post: Post<'_>,
) -> Result<Id<MessageMarker>, RestError> {
    let mentions = AllowedMentions {
        parse: vec![MentionType::Users],
        ..AllowedMentions::default()
    };
    let mut attempt = 0;
    loop {
        let since = snowflake_before(SystemTime::now());
        let sent = rest
            .once(false, || async {
                let mut request = rest
                    .http()
                    .execute_webhook(handle.id, &handle.token)
                    .content(post.content)
                    .username(post.username)
                    .allowed_mentions(Some(&mentions));
                if let Some(avatar) = post.avatar {
                    request = request.avatar_url(avatar);
                }
                if let Some(thread) = post.thread {
                    request = request.thread_id(thread);
                }
                crate::rest::created_id(request.wait().await?).await
            })
            .await;
        match sent {
            Ok(id) => return Ok(id),
            Err(e) if e.is_ambiguous() && attempt < BACKOFF.len() => {
                tokio::time::sleep(BACKOFF[attempt]).await;
                attempt += 1;
                match posted_since(rest, handle.id, post, since).await {
                    Ok(Some(id)) => {
                        tracing::info!(error = %e, "webhook message was posted despite the error");
                        return Ok(id);
                    }
                    Ok(None) => {
                        tracing::warn!(error = %e, attempt, "webhook message not posted; trying again");
                    }
                    Err(check) => {
                        tracing::warn!(error = %e, check = %check, "cannot tell whether the webhook message was posted; not trying again");
                        return Err(e);
                    }
                }
            }
            Err(e) => return Err(e),
        }
    }
}

/// The message `post` made through `webhook` since `since`, if Discord has it.
async fn posted_since(
    rest: &Rest,
    webhook: Id<WebhookMarker>,
    post: Post<'_>,
    since: u64,
) -> Result<Option<Id<MessageMarker>>, RestError> {
    let channel = post.thread.unwrap_or(post.parent);
    let after = Id::new(since.max(1));
    let messages = rest
        .global("check a webhook message", || async {
            Ok(fresh(
                rest.http()
                    .channel_messages(channel)
                    .after(after)
                    .limit(100),
            )
            .await?
            .model()
            .await?)
        })
        .await?;
    Ok(messages
        .into_iter()
        .find(|m| m.webhook_id == Some(webhook) && m.content == post.content)
        .map(|m| m.id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_check_looks_back_from_a_little_before_the_attempt() {
        let at = UNIX_EPOCH + Duration::from_millis(DISCORD_EPOCH_MS + 10_000);
        assert_eq!(snowflake_before(at), 5_000 << 22);
        assert_eq!(snowflake_before(UNIX_EPOCH), 0);
    }

    #[test]
    fn a_webhook_handle_never_shows_its_token() {
        let handle = WebhookHandle {
            id: Id::new(5),
            token: "secret-token".into(),
        };
        assert!(!format!("{handle:?}").contains("secret-token"));
    }
}
