//! [`MessageFlow`]: the message handler of commands.md §3.

use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::pin::pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::Poll;

use async_trait::async_trait;
use troupe_domain::auth::{AccessToken, AgeVerification};
use troupe_domain::conversation::{
    Conversation, HistoryEntry, Incoming, Layout, Responder, ResponderReason, Speaker,
    decide_responder,
};
use troupe_domain::personality::{Personality, PersonalityName, mention_candidates};
use troupe_domain::{ChannelId, Duration, MessageId, UserId};
use troupe_ports::{
    AiChat, AiError, ChatPlatform, OutgoingMessage, PersonaIdentity, PersonalityMessage,
    ProxyAuthors, StoreError,
};

use super::request::build_request;
use super::turns::Turns;
use super::{IncomingMessage, MessageHandler, texts};
use crate::Deps;
use crate::guard::MESSAGE_ID_TTL;
use crate::model::ReferenceId;

/// Waiting, provided by the adapter (the application has no runtime of its own).
#[async_trait]
pub trait Pause: Send + Sync {
    /// Completes after `duration` (it must really wait: the typing loop relies on it).
    async fn pause(&self, duration: Duration);
}

/// Settings of the message flow beyond [`crate::AppConfig`].
#[derive(Debug, Clone)]
pub struct FlowConfig {
    /// How long to wait before answering a guild message that was not relayed by a proxy
    /// system, and then check that it was not deleted (a proxy system deletes the original and
    /// re-posts it). Zero disables the wait.
    pub proxy_recheck: Duration,
    /// How often the typing indicator is renewed while the AI works (Discord shows it ~10 s).
    pub typing_every: Duration,
    /// Longest mention looked up, in words.
    pub max_mention_words: usize,
    /// Most mention candidates looked up for one message.
    pub max_mention_lookups: usize,
    /// Deleted message ids remembered for the proxy recheck.
    pub remembered_deletions: usize,
    /// Most messages of one user in one channel waiting for that user's exchange there to
    /// finish (they are then answered in order); more are dropped (`FlowOutcome::QueueFull`).
    pub max_queued_per_user_channel: usize,
    /// Longest wait for the proxy system (PluralKit) to say who wrote a proxied message; after
    /// it the webhook counts as the author, as for Tupperbox.
    pub proxy_lookup_bound: Duration,
}

impl Default for FlowConfig {
    fn default() -> Self {
        Self {
            proxy_recheck: Duration::from_millis(1500),
            typing_every: Duration::from_secs(8),
            max_mention_words: 6,
            max_mention_lookups: 48,
            remembered_deletions: 4096,
            max_queued_per_user_channel: 8,
            proxy_lookup_bound: Duration::from_millis(2500),
        }
    }
}

/// Why a personality did not answer a message addressed to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The age gate is on and the channel is not age-restricted.
    AgeRestrictedChannel,
    /// The age gate is on and the user of a DM is not age-verified.
    UnverifiedDm,
    /// The provider needs per-user authentication and the user has none.
    NotAuthenticated,
    /// The user's token expired.
    AuthExpired,
}

/// What the flow did with one message (for tests, metrics and benchmarks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlowOutcome {
    /// Not for a personality (a bot, our webhook, a prefixed or unaddressed message).
    Ignored,
    /// A proxy system deleted the message during the recheck wait (its re-post is answered).
    ReplacedByProxy,
    /// Already handled (a duplicate delivery of the same message id).
    Duplicate,
    /// Too many messages of this user in this channel were already waiting for the exchange in
    /// flight (`FlowConfig::max_queued_per_user_channel`): this one was dropped (logged).
    QueueFull,
    /// A DM that matched nothing: the hint was sent.
    DmHint,
    /// The personality may not answer; the user was told what to do (silently for
    /// activation and continuation messages in a channel that is not age-restricted).
    Refused(Refusal),
    /// The personality answered in `chunks` messages.
    Answered {
        personality: PersonalityName,
        reason: ResponderReason,
        chunks: usize,
    },
    /// The AI or a dependency failed; the user got a message carrying `reference`.
    Failed {
        personality: Option<PersonalityName>,
        reference: ReferenceId,
    },
}

/// The message flow: implements [`MessageHandler`] over the ports in [`Deps`] and an
/// [`AiChat`].
pub struct MessageFlow {
    deps: Deps,
    ai: Arc<dyn AiChat>,
    pause: Arc<dyn Pause>,
    config: FlowConfig,
    /// One message at a time per (user, channel), in arrival order.
    turns: Turns,
    /// Who really wrote a proxied message (PluralKit); `None`: the webhook is the author.
    proxies: Option<Arc<dyn ProxyAuthors>>,
    deleted: Mutex<Deletions>,
}

impl std::fmt::Debug for MessageFlow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageFlow")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Default)]
struct Deletions {
    order: VecDeque<MessageId>,
    set: HashSet<MessageId>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What a failure while answering was about, for the log.
enum Failure {
    Store(StoreError),
    Platform(troupe_ports::PlatformError),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Store(e) => write!(f, "store: {e}"),
            Self::Platform(e) => write!(f, "platform: {e}"),
        }
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

impl MessageFlow {
    /// A flow over `deps` (ports and [`crate::AppConfig`]), asking `ai`, waiting with `pause`.
    pub fn new(deps: Deps, ai: Arc<dyn AiChat>, pause: Arc<dyn Pause>, config: FlowConfig) -> Self {
        let turns = Turns::new(config.max_queued_per_user_channel);
        Self {
            deps,
            ai,
            pause,
            config,
            turns,
            proxies: None,
            deleted: Mutex::new(Deletions::default()),
        }
    }

    /// Resolves the real author of proxied messages through `proxies` (PluralKit's API),
    /// within `FlowConfig::proxy_lookup_bound`.
    #[must_use]
    pub fn with_proxy_authors(mut self, proxies: Arc<dyn ProxyAuthors>) -> Self {
        self.proxies = Some(proxies);
        self
    }

    /// Remembers that `message` was deleted (bounded; the oldest are forgotten first).
    pub fn note_deleted(&self, message: MessageId) {
        let mut deleted = lock(&self.deleted);
        if deleted.set.insert(message) {
            deleted.order.push_back(message);
            while deleted.order.len() > self.config.remembered_deletions.max(1) {
                if let Some(old) = deleted.order.pop_front() {
                    deleted.set.remove(&old);
                }
            }
        }
    }

    fn was_deleted(&self, message: MessageId) -> bool {
        lock(&self.deleted).set.contains(&message)
    }

    /// Handles one message and says what was done. Never panics on input; every failure is
    /// logged (with the reference the user sees when they are told).
    ///
    /// Messages of one user in one channel are handled one at a time, in the order they
    /// reach this method: a message arriving while that user's exchange there is in flight
    /// waits (bounded) and is decided and answered after it, with what it recorded.
    pub async fn process(&self, message: &IncomingMessage) -> FlowOutcome {
        let author = &message.author;
        if author.is_bot
            || author.is_own_webhook
            || starts_with_prefix(&message.content, &self.deps.config.prefix)
        {
            return FlowOutcome::Ignored;
        }
        let resolved;
        let message = match self.real_author(message).await {
            Some(real) if real != message.author.id => {
                let mut with_author = message.clone();
                with_author.author.id = real;
                resolved = with_author;
                &resolved
            }
            _ => message,
        };
        let author = &message.author;
        let Ok(place) = self.turns.enter(author.id, message.location.channel()) else {
            tracing::info!(
                user = author.id.get(),
                message = message.id.get(),
                "message flow: too many messages waiting for this user's exchange in this channel; dropped"
            );
            return FlowOutcome::QueueFull;
        };
        place.turn().await;
        self.process_in_turn(message).await
    }

    /// The user behind a proxied message when the proxy system says (PluralKit), within the
    /// bound; `None` — the webhook stays the author — when it is not proxied, not one of the
    /// proxy system's messages (Tupperbox), or the proxy system cannot say in time.
    async fn real_author(&self, message: &IncomingMessage) -> Option<UserId> {
        let proxies = self.proxies.as_ref()?;
        if !message.author.via_proxy {
            return None;
        }
        let bound = self.config.proxy_lookup_bound;
        let lookup = proxies.real_author(message.id);
        match race(lookup, self.pause.pause(bound)).await {
            Some(Ok(Some(user))) => {
                tracing::debug!(
                    message = message.id.get(),
                    user = user.get(),
                    "message flow: proxied message, real author resolved"
                );
                Some(user)
            }
            Some(Ok(None)) => {
                tracing::debug!(
                    message = message.id.get(),
                    "message flow: not a PluralKit message; the webhook is its author"
                );
                None
            }
            Some(Err(error)) => {
                tracing::warn!(
                    message = message.id.get(),
                    %error,
                    "message flow: cannot learn who wrote a proxied message; the webhook counts as its author"
                );
                None
            }
            None => {
                tracing::warn!(
                    message = message.id.get(),
                    bound_ms = u64::try_from(bound.as_millis()).unwrap_or(u64::MAX),
                    "message flow: the proxy system did not say who wrote a proxied message in time; the webhook counts as its author"
                );
                None
            }
        }
    }

    async fn process_in_turn(&self, message: &IncomingMessage) -> FlowOutcome {
        let (incoming, personality) = match self.decide(message).await {
            Ok(decided) => decided,
            Err(error) => {
                let reference = ReferenceId::generate(self.deps.clock.now());
                tracing::warn!(%reference, %error, "message flow: cannot decide who answers");
                return FlowOutcome::Ignored;
            }
        };
        let (name, reason) = match decide_responder(&incoming) {
            Responder::Ignore => return FlowOutcome::Ignored,
            Responder::DmHint => {
                let hint = texts::dm_hint(&self.deps.config.prefix, self.deps.config.mention_char);
                self.say(message.location.channel(), hint).await;
                return FlowOutcome::DmHint;
            }
            Responder::Personality { name, reason } => (name, reason),
        };
        let personality = match personality {
            Some(p) if *p.name() == name => p,
            _ => match self.deps.personalities.get(&name).await {
                Ok(Some(p)) => p,
                Ok(None) => return FlowOutcome::Ignored,
                Err(error) => return self.fail_internal(message, Some(name), &error.into()).await,
            },
        };
        self.answer(message, &incoming, personality, reason).await
    }

    /// Resolves what the precedence needs, lazily (each step only when the earlier ones found
    /// nothing), and the personality when a lookup already loaded it.
    async fn decide(
        &self,
        message: &IncomingMessage,
    ) -> Result<(Incoming, Option<Personality>), StoreError> {
        let config = &self.deps.config;
        let mut incoming = Incoming {
            is_dm: message.location.is_dm(),
            from_bot: message.author.is_bot,
            from_own_webhook: message.author.is_own_webhook,
            starts_with_prefix: starts_with_prefix(&message.content, &config.prefix),
            is_reply: message.reply_to.is_some(),
            ..Incoming::default()
        };
        if incoming.from_bot || incoming.from_own_webhook || incoming.starts_with_prefix {
            return Ok((incoming, None));
        }
        let conversations = &self.deps.conversations;
        if let Some(replied) = message.reply_to
            && let Some(sent) = conversations.personality_message(replied).await?
        {
            incoming.reply_to_personality = Some(sent.personality);
            return Ok((incoming, None));
        }
        let candidates = mention_candidates(
            &message.content,
            config.mention_char,
            self.config.max_mention_words,
        );
        for candidate in candidates.iter().take(self.config.max_mention_lookups) {
            if let Some(found) = self.deps.personalities.lookup(candidate).await? {
                incoming.mention = Some(found.name().clone());
                return Ok((incoming, Some(found)));
            }
        }
        let channel = message.location.channel();
        if let Some(activation) = conversations.activation(channel).await? {
            incoming.activation = Some(activation.personality);
            return Ok((incoming, None));
        }
        if incoming.is_reply {
            return Ok((incoming, None));
        }
        let now = self.deps.clock.now();
        if let Some(conversation) = conversations
            .conversation(message.author.id, channel)
            .await?
            && conversation.is_live(now)
        {
            incoming.live_conversation = Some(conversation.personality);
            incoming.autorespond =
                incoming.is_dm || conversations.autorespond(message.author.id).await?;
        }
        Ok((incoming, None))
    }

    async fn answer(
        &self,
        message: &IncomingMessage,
        incoming: &Incoming,
        personality: Personality,
        reason: ResponderReason,
    ) -> FlowOutcome {
        let channel = message.location.channel();
        if !message.author.via_proxy
            && !message.location.is_dm()
            && !self.config.proxy_recheck.is_zero()
        {
            self.pause.pause(self.config.proxy_recheck).await;
            if self.was_deleted(message.id) {
                tracing::debug!(
                    message = message.id.get(),
                    "message replaced by a proxy system"
                );
                return FlowOutcome::ReplacedByProxy;
            }
        }
        let now = self.deps.clock.now();
        match self
            .deps
            .processed
            .claim(message.id, now, MESSAGE_ID_TTL)
            .await
        {
            Ok(true) => {}
            Ok(false) => return FlowOutcome::Duplicate,
            Err(error) => {
                tracing::warn!(%error, "message flow: cannot claim the message id; answering anyway");
            }
        }
        if let Some(refusal) = self.age_gate(message, reason).await {
            return refusal;
        }
        let token = match self.user_token(message).await {
            Ok(token) => token,
            Err(outcome) => return outcome,
        };
        let history = match self
            .deps
            .conversations
            .history(channel, personality.name(), self.deps.config.history_limit)
            .await
        {
            Ok(history) => history,
            Err(error) => {
                return self
                    .fail_internal(message, Some(personality.name().clone()), &error.into())
                    .await;
            }
        };
        let request = build_request(
            &personality,
            &history,
            message,
            self.deps.config.default_model.as_deref(),
            token,
        );
        let answer = self.ask_with_typing(channel, request).await;
        let text = match answer {
            Ok(text) if !text.trim().is_empty() => text,
            Ok(_) => {
                return self
                    .fail_ai(message, &personality, &AiError::EmptyAnswer)
                    .await;
            }
            Err(error) => return self.fail_ai(message, &personality, &error).await,
        };
        match self.deliver(message, &personality, incoming, &text).await {
            Ok(chunks) => FlowOutcome::Answered {
                personality: personality.name().clone(),
                reason,
                chunks,
            },
            Err(failure) => {
                self.fail_internal(message, Some(personality.name().clone()), &failure)
                    .await
            }
        }
    }

    /// `Some(refusal)` when the age gate stops this message. Talking in an age-restricted
    /// channel verifies the user.
    async fn age_gate(
        &self,
        message: &IncomingMessage,
        reason: ResponderReason,
    ) -> Option<FlowOutcome> {
        let user = message.author.id;
        let channel = message.location.channel();
        if message.location.is_age_restricted() {
            match self.deps.auth.verification(user).await {
                Ok(Some(_)) => {}
                Ok(None) => {
                    let verification = AgeVerification {
                        user,
                        verified_at: self.deps.clock.now(),
                    };
                    if let Err(error) = self.deps.auth.save_verification(&verification).await {
                        tracing::warn!(%error, "message flow: cannot record the age verification");
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "message flow: cannot read the age verification");
                }
            }
            return None;
        }
        if !self.deps.config.age_gate {
            return None;
        }
        if message.location.is_dm() {
            let verified = match self.deps.auth.verification(user).await {
                Ok(v) => v.is_some(),
                Err(error) => {
                    return Some(self.fail_internal(message, None, &error.into()).await);
                }
            };
            if verified {
                return None;
            }
            self.say(channel, texts::unverified_dm(&self.deps.config.prefix))
                .await;
            return Some(FlowOutcome::Refused(Refusal::UnverifiedDm));
        }
        if matches!(reason, ResponderReason::Mention | ResponderReason::Reply) {
            self.say(channel, texts::age_restricted_channel()).await;
        }
        Some(FlowOutcome::Refused(Refusal::AgeRestrictedChannel))
    }

    /// The user's token when the provider needs per-user authentication; the refusal otherwise.
    async fn user_token(
        &self,
        message: &IncomingMessage,
    ) -> Result<Option<AccessToken>, FlowOutcome> {
        let Some(provider) = &self.deps.auth_provider else {
            return Ok(None);
        };
        if !provider.requires_user_auth() {
            return Ok(None);
        }
        let prefix = &self.deps.config.prefix;
        let channel = message.location.channel();
        match self.deps.auth.token(message.author.id).await {
            Ok(Some(auth)) if !auth.is_expired(self.deps.clock.now()) => Ok(Some(auth.token)),
            Ok(Some(_)) => {
                self.say(channel, texts::auth_expired(prefix)).await;
                Err(FlowOutcome::Refused(Refusal::AuthExpired))
            }
            Ok(None) => {
                self.say(channel, texts::not_authenticated(prefix)).await;
                Err(FlowOutcome::Refused(Refusal::NotAuthenticated))
            }
            Err(error) => Err(self.fail_internal(message, None, &error.into()).await),
        }
    }

    /// Asks the AI while keeping the typing indicator on.
    async fn ask_with_typing(
        &self,
        channel: ChannelId,
        request: troupe_ports::ChatRequest,
    ) -> Result<String, AiError> {
        if let Err(error) = self.deps.platform.trigger_typing(channel).await {
            tracing::debug!(%error, "message flow: typing indicator failed");
        }
        let ai = self.ai.complete(request);
        if self.config.typing_every.is_zero() {
            return ai.await;
        }
        let typing = typing_loop(
            self.deps.platform.as_ref(),
            self.pause.as_ref(),
            channel,
            self.config.typing_every,
        );
        first_of(ai, typing).await
    }

    /// Splits and sends the answer, records each sent chunk in the message map, then the
    /// exchange (a recording failure is logged: the answer is out already). Returns the number
    /// of chunks sent; fails only when not even the first chunk could be sent.
    async fn deliver(
        &self,
        message: &IncomingMessage,
        personality: &Personality,
        incoming: &Incoming,
        text: &str,
    ) -> Result<usize, Failure> {
        let channel = message.location.channel();
        let user = message.author.id;
        let persona = persona(personality);
        // One split, sized for the destination: in a DM every chunk gets the `**Name:** `
        // prefix, so the prefix is part of the budget.
        let chunks =
            Layout::personality(message.location.is_dm(), &persona.display_name).split_bodies(text);
        let conversations = &self.deps.conversations;
        let mut sent = 0;
        for chunk in &chunks {
            let id = match self
                .deps
                .platform
                .send_as_personality(channel, &persona, chunk)
                .await
            {
                Ok(id) => id,
                Err(error) if sent == 0 => return Err(Failure::Platform(error)),
                Err(error) => {
                    tracing::warn!(%error, sent, total = chunks.len(), "message flow: answer cut short");
                    break;
                }
            };
            sent += 1;
            let record = PersonalityMessage {
                message: id,
                channel,
                personality: personality.name().clone(),
                user,
                at: self.deps.clock.now(),
            };
            if let Err(error) = conversations.record_personality_message(&record).await {
                tracing::warn!(%error, "message flow: cannot record a personality message");
            }
        }
        if let Err(error) = self
            .record_exchange(message, personality, incoming, text)
            .await
        {
            let reference = ReferenceId::generate(self.deps.clock.now());
            tracing::error!(%reference, %error, "message flow: answer sent but the conversation was not recorded");
        }
        Ok(sent)
    }

    /// Records an answered exchange: the conversation (`Conversation::after_exchange`), then
    /// the user's message and the answer in the bounded history.
    async fn record_exchange(
        &self,
        message: &IncomingMessage,
        personality: &Personality,
        incoming: &Incoming,
        text: &str,
    ) -> Result<(), StoreError> {
        let conversations = &self.deps.conversations;
        let user = message.author.id;
        let channel = message.location.channel();
        let now = self.deps.clock.now();
        let keep = self.deps.config.history_limit;
        let name = personality.name();
        let autorespond = if incoming.live_conversation.is_some() || incoming.is_dm {
            incoming.autorespond
        } else {
            conversations.autorespond(user).await?
        };
        let conversation = Conversation::after_exchange(
            user,
            channel,
            name.clone(),
            incoming.is_dm,
            autorespond,
            now,
        );
        let user_entry = HistoryEntry::new(
            Speaker::User,
            user,
            &message.author.display_name,
            &message.content,
            message.received_at,
        );
        let answer_entry = HistoryEntry::new(
            Speaker::Personality,
            user,
            personality.display_name().as_str(),
            text,
            now,
        );
        // One commit for the conversation and both entries (a durable commit is the dearest
        // part of an exchange on SQLite, and the channel's next message waits for it).
        conversations
            .record_exchange(&conversation, &[user_entry, answer_entry], keep)
            .await
    }

    /// Tells the user the AI failed (in the personality's voice when it has an error message),
    /// with a reference that is also logged. Nothing is recorded.
    async fn fail_ai(
        &self,
        message: &IncomingMessage,
        personality: &Personality,
        error: &AiError,
    ) -> FlowOutcome {
        let reference = ReferenceId::generate(self.deps.clock.now());
        tracing::warn!(
            %reference,
            %error,
            personality = personality.name().as_str(),
            channel = message.location.channel().get(),
            "message flow: the AI did not answer"
        );
        let channel = message.location.channel();
        let per_user = self
            .deps
            .auth_provider
            .as_ref()
            .is_some_and(|p| p.requires_user_auth());
        let sent = if let Some(voice) = &personality.profile().error_message {
            let text = texts::in_voice(voice.as_str(), reference);
            self.deps
                .platform
                .send_as_personality(channel, &persona(personality), &text)
                .await
                .map(|_| ())
        } else {
            let reason = texts::ai_reason(
                error,
                per_user,
                &self.deps.config.prefix,
                personality.name().as_str(),
            );
            let text = texts::ai_failed(personality.display_name().as_str(), &reason, reference);
            self.deps
                .platform
                .send_message(channel, OutgoingMessage::text(text))
                .await
                .map(|_| ())
        };
        if let Err(error) = sent {
            tracing::warn!(%reference, %error, "message flow: cannot deliver the error message");
        }
        FlowOutcome::Failed {
            personality: Some(personality.name().clone()),
            reference,
        }
    }

    async fn fail_internal(
        &self,
        message: &IncomingMessage,
        personality: Option<PersonalityName>,
        failure: &Failure,
    ) -> FlowOutcome {
        let reference = ReferenceId::generate(self.deps.clock.now());
        tracing::error!(%reference, error = %failure, "message flow: cannot answer");
        self.say(message.location.channel(), texts::internal(reference))
            .await;
        FlowOutcome::Failed {
            personality,
            reference,
        }
    }

    /// Sends a bot message, logging (not propagating) a failure.
    async fn say(&self, channel: ChannelId, text: String) {
        if let Err(error) = self
            .deps
            .platform
            .send_message(channel, OutgoingMessage::text(text))
            .await
        {
            tracing::info!(%error, "message flow: cannot send a bot message");
        }
    }
}

#[async_trait]
impl MessageHandler for MessageFlow {
    async fn handle(&self, message: IncomingMessage) {
        let outcome = self.process(&message).await;
        tracing::debug!(?outcome, message = message.id.get(), "message flow");
    }

    async fn message_deleted(&self, _channel: ChannelId, message: MessageId) {
        self.note_deleted(message);
    }
}

/// The name and avatar a personality speaks with.
fn persona(personality: &Personality) -> PersonaIdentity {
    PersonaIdentity {
        display_name: personality.display_name().as_str().to_owned(),
        avatar_url: personality
            .profile()
            .avatar_url
            .as_ref()
            .map(|a| a.as_str().to_owned()),
    }
}

fn starts_with_prefix(content: &str, prefix: &str) -> bool {
    !prefix.is_empty()
        && content
            .trim_start()
            .get(..prefix.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}

/// Most typing renewals for one answer (the AI adapter's own timeout ends it much sooner).
const MAX_TYPING_RENEWALS: usize = 64;

/// Renews the typing indicator every `every` (never completes on its own before
/// [`MAX_TYPING_RENEWALS`] renewals).
async fn typing_loop(
    platform: &dyn ChatPlatform,
    pause: &dyn Pause,
    channel: ChannelId,
    every: Duration,
) {
    for _ in 0..MAX_TYPING_RENEWALS {
        pause.pause(every).await;
        if platform.trigger_typing(channel).await.is_err() {
            break;
        }
    }
    std::future::pending::<()>().await;
}

/// Runs `main` and `deadline` together: `Some(main's output)` when it is ready first, `None`
/// when `deadline` completes first.
async fn race<T>(main: impl Future<Output = T>, deadline: impl Future<Output = ()>) -> Option<T> {
    let mut main = pin!(main);
    let mut deadline = pin!(deadline);
    std::future::poll_fn(move |cx| {
        if let Poll::Ready(out) = main.as_mut().poll(cx) {
            return Poll::Ready(Some(out));
        }
        if deadline.as_mut().poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        Poll::Pending
    })
    .await
}

/// Runs `main` and `side` together and returns `main`'s output as soon as it is ready
/// (`side` is dropped then).
async fn first_of<T>(main: impl Future<Output = T>, side: impl Future<Output = ()>) -> T {
    let mut main = pin!(main);
    let mut side = pin!(side);
    let mut side_done = false;
    std::future::poll_fn(move |cx| {
        if let Poll::Ready(out) = main.as_mut().poll(cx) {
            return Poll::Ready(out);
        }
        if !side_done && side.as_mut().poll(cx).is_ready() {
            side_done = true;
        }
        Poll::Pending
    })
    .await
}
