//! Shared support of the message-flow scenarios: a world of testkit fakes, the scripted AI, a
//! message builder and readers of what the platform was asked to send.
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use troupe_application::flow::{
    Author, FlowConfig, FlowOutcome, IncomingMessage, MessageFlow, Pause,
};
use troupe_application::{AppConfig, Deps, Location};
use troupe_domain::auth::{AccessToken, AgeVerification, UserAuth};
use troupe_domain::personality::{Alias, Personality, PersonalityName, Profile};
use troupe_domain::{ChannelId, Duration, GuildId, MessageId, Timestamp, UserId};
use troupe_ports::{AuthRepository, PersonalityRepository};
use troupe_testkit::ai::ScriptedAi;
use troupe_testkit::{FakeAuthProvider, FakeClock, FakePlatform, FakeVolume, InMemoryStore};

pub const ANN: u64 = 1;
pub const BEN: u64 = 2;
pub const GUILD: u64 = 10;
/// An age-restricted guild channel.
pub const NSFW: u64 = 100;
/// A guild channel that is not age-restricted.
pub const SFW: u64 = 101;
pub const DM: u64 = 200;
pub const NOW_MILLIS: i64 = 1_749_897_000_000;

pub fn user(id: u64) -> UserId {
    UserId::new(id).unwrap()
}
pub fn channel(id: u64) -> ChannelId {
    ChannelId::new(id).unwrap()
}
pub fn name(raw: &str) -> PersonalityName {
    PersonalityName::parse(raw).unwrap()
}

/// Waits for real (tokio), as the adapters do.
#[derive(Debug)]
pub struct TokioPause;

#[async_trait]
impl Pause for TokioPause {
    async fn pause(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

/// The fakes behind one flow.
pub struct World {
    pub store: Arc<InMemoryStore>,
    pub platform: Arc<FakePlatform>,
    pub clock: Arc<FakeClock>,
    pub ai: Arc<ScriptedAi>,
    pub auth_provider: Option<Arc<FakeAuthProvider>>,
    pub config: AppConfig,
    pub flow_config: FlowConfig,
    next_id: AtomicU64,
}

impl World {
    /// Age gate on, no per-user authentication, no proxy wait.
    pub fn new() -> Self {
        Self {
            store: Arc::new(InMemoryStore::new()),
            platform: Arc::new(FakePlatform::new()),
            clock: Arc::new(FakeClock::at_millis(NOW_MILLIS)),
            ai: Arc::new(ScriptedAi::new()),
            auth_provider: None,
            config: AppConfig::default(),
            flow_config: FlowConfig {
                proxy_recheck: Duration::ZERO,
                ..FlowConfig::default()
            },
            next_id: AtomicU64::new(1000),
        }
    }

    pub fn deps(&self) -> Deps {
        Deps {
            personalities: self.store.clone(),
            conversations: self.store.clone(),
            auth: self.store.clone(),
            preferences: self.store.clone(),
            processed: self.store.clone(),
            platform: self.platform.clone(),
            clock: self.clock.clone(),
            volume: Arc::new(FakeVolume::new()),
            profiles: None,
            auth_provider: self
                .auth_provider
                .clone()
                .map(|p| p as Arc<dyn troupe_ports::AuthProvider>),
            config: Arc::new(self.config.clone()),
        }
    }

    /// A flow over this world (build it after changing the configuration).
    pub fn flow(&self) -> MessageFlow {
        MessageFlow::new(
            self.deps(),
            self.ai.clone(),
            Arc::new(TokioPause),
            self.flow_config.clone(),
        )
    }

    pub fn now(&self) -> Timestamp {
        troupe_ports::Clock::now(self.clock.as_ref())
    }

    /// Stores a personality with aliases; `tweak` adjusts its profile.
    pub async fn seed(
        &self,
        raw: &str,
        aliases: &[&str],
        tweak: impl FnOnce(&mut Profile),
    ) -> Personality {
        let n = name(raw);
        let mut profile = Profile::local(&n, None);
        tweak(&mut profile);
        let (mut p, _) = Personality::create(n, user(99), profile, self.now());
        for a in aliases {
            p.attach_alias(Alias::parse(a).unwrap(), self.now())
                .unwrap();
        }
        self.store.insert(&p).await.unwrap();
        p
    }

    pub async fn verify(&self, id: u64) {
        self.store
            .save_verification(&AgeVerification {
                user: user(id),
                verified_at: self.now(),
            })
            .await
            .unwrap();
    }

    pub async fn give_token(&self, id: u64, token: &str, ttl: Duration) {
        let auth = UserAuth::issue(
            user(id),
            AccessToken::parse(token).unwrap(),
            self.now(),
            ttl,
        );
        self.store.save_token(&auth).await.unwrap();
    }

    /// A message from `author` in age-restricted guild channel [`NSFW`].
    pub fn msg(&self, author: u64, content: &str) -> IncomingMessage {
        IncomingMessage {
            id: MessageId::new(self.next_id.fetch_add(1, Ordering::Relaxed)).unwrap(),
            author: Author {
                id: user(author),
                display_name: if author == ANN {
                    "Ann".into()
                } else {
                    format!("user{author}")
                },
                is_bot: false,
                is_own_webhook: false,
                via_proxy: false,
            },
            location: guild(NSFW, true),
            content: content.to_owned(),
            reply_to: None,
            quoted: None,
            images: Vec::new(),
            received_at: self.now(),
        }
    }

    /// A DM from `author`.
    pub fn dm(&self, author: u64, content: &str) -> IncomingMessage {
        IncomingMessage {
            location: Location::Dm {
                channel: channel(DM),
            },
            ..self.msg(author, content)
        }
    }

    /// Texts sent as personalities, with the display name: `Name: text`.
    pub fn said(&self) -> Vec<String> {
        self.platform
            .personality_messages()
            .into_iter()
            .map(|(_, persona, text, _)| format!("{}: {text}", persona.display_name))
            .collect()
    }

    /// Texts the bot sent as itself.
    pub fn bot_said(&self) -> Vec<String> {
        self.platform
            .sent_messages()
            .into_iter()
            .map(|(_, m)| m.content)
            .collect()
    }
}

/// A guild location.
pub fn guild(id: u64, age_restricted: bool) -> Location {
    Location::Guild {
        guild: GuildId::new(GUILD).unwrap(),
        channel: channel(id),
        age_restricted,
        visible_age_restricted: Vec::new(),
    }
}

/// The personality that answered, or a short name of the outcome.
pub fn who(outcome: &FlowOutcome) -> String {
    match outcome {
        FlowOutcome::Answered { personality, .. } => personality.as_str().to_owned(),
        other => format!("{other:?}"),
    }
}
