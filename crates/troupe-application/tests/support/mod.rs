//! Shared scenario support for the handler tests: a `World` of testkit fakes wired into `Deps`,
//! a request builder, and helpers that read the key facts of ADR 0002 out of a reply.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::sync::Arc;

use troupe_application::handlers::NewSystem;
use troupe_application::{
    AppConfig, Arguments, CommandName, CommandOutcome, CommandRequest, CommandSystem, Deps,
    Invoker, Location, OutcomeClass, Permissions, RequestSource,
};
use troupe_domain::personality::{
    Alias, AvatarUrl, DisplayName, Personality, PersonalityName, Profile,
};
use troupe_domain::{ChannelId, GuildId, MessageId, Timestamp, UserId};
use troupe_ports::PersonalityRepository;
use troupe_testkit::{
    FakeAuthProvider, FakeClock, FakePlatform, FakeProfileSource, FakeVolume, InMemoryStore,
};

/// The personality owner in most scenarios.
pub const OWNER: u64 = 1;
/// A user who owns nothing.
pub const STRANGER: u64 = 2;
/// A configured bot owner.
pub const BOT_OWNER: u64 = 3;
/// The guild of guild requests.
pub const GUILD: u64 = 10;
/// The default guild channel (age-restricted unless a test says otherwise).
pub const CHANNEL: u64 = 100;
/// The DM channel of DM requests.
pub const DM_CHANNEL: u64 = 200;
/// 2025-06-14T10:30:00Z: the clock's start.
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
pub fn alias(raw: &str) -> Alias {
    Alias::parse(raw).unwrap()
}

/// The fakes behind one command system.
#[derive(Debug)]
pub struct World {
    pub store: Arc<InMemoryStore>,
    pub platform: Arc<FakePlatform>,
    pub clock: Arc<FakeClock>,
    pub volume: Arc<FakeVolume>,
    pub profiles: Option<Arc<FakeProfileSource>>,
    pub auth_provider: Option<Arc<FakeAuthProvider>>,
    pub config: AppConfig,
}

impl World {
    /// Empty store, local personalities, no OAuth provider, age gate on, user 3 a bot owner.
    pub fn new() -> Self {
        Self {
            store: Arc::new(InMemoryStore::new()),
            platform: Arc::new(FakePlatform::new()),
            clock: Arc::new(FakeClock::new(Timestamp::from_millis(NOW_MILLIS))),
            volume: Arc::new(FakeVolume::new()),
            profiles: None,
            auth_provider: None,
            config: AppConfig {
                bot_owners: BTreeSet::from([user(BOT_OWNER)]),
                ..AppConfig::default()
            },
        }
    }

    /// The same world with a profile source.
    pub fn with_profiles(mut self, source: FakeProfileSource) -> Self {
        self.profiles = Some(Arc::new(source));
        self
    }

    /// The same world with an OAuth provider requiring user authentication.
    pub fn with_auth_provider(mut self) -> Self {
        self.auth_provider = Some(Arc::new(FakeAuthProvider::new(true)));
        self
    }

    /// The ports of this world.
    pub fn deps(&self) -> Deps {
        Deps {
            personalities: self.store.clone(),
            conversations: self.store.clone(),
            auth: self.store.clone(),
            preferences: self.store.clone(),
            processed: self.store.clone(),
            platform: self.platform.clone(),
            clock: self.clock.clone(),
            volume: self.volume.clone(),
            profiles: self
                .profiles
                .clone()
                .map(|p| p as Arc<dyn troupe_ports::ProfileSource>),
            auth_provider: self
                .auth_provider
                .clone()
                .map(|p| p as Arc<dyn troupe_ports::AuthProvider>),
            config: Arc::new(self.config.clone()),
        }
    }

    pub fn now(&self) -> Timestamp {
        troupe_ports::Clock::now(self.clock.as_ref())
    }

    /// Runs a request through a fresh `NewSystem` over this world.
    pub async fn run(&self, request: impl Into<CommandRequest>) -> CommandOutcome {
        NewSystem::new(self.deps()).execute(&request.into()).await
    }

    /// Stores a local personality owned by `owner` with `aliases`.
    pub async fn seed(&self, raw_name: &str, owner: u64, aliases: &[&str]) -> Personality {
        self.seed_with(raw_name, owner, aliases, |_| {}).await
    }

    /// Stores a personality whose profile `tweak` adjusts.
    pub async fn seed_with(
        &self,
        raw_name: &str,
        owner: u64,
        aliases: &[&str],
        tweak: impl FnOnce(&mut Profile),
    ) -> Personality {
        let n = name(raw_name);
        let mut profile = Profile::local(&n, None);
        tweak(&mut profile);
        let now = self.now();
        let (mut p, _) = Personality::create(n, user(owner), profile, now);
        for a in aliases {
            p.attach_alias(alias(a), now).unwrap();
        }
        self.store.insert(&p).await.unwrap();
        p
    }

    /// The stored personality called `raw_name`.
    pub async fn personality(&self, raw_name: &str) -> Option<Personality> {
        self.store.get(&name(raw_name)).await.unwrap()
    }

    /// The stored alias keys of `raw_name`, sorted.
    pub async fn aliases_of(&self, raw_name: &str) -> Vec<String> {
        let mut keys: Vec<String> = self
            .personality(raw_name)
            .await
            .map(|p| p.aliases().iter().map(|a| a.key().to_owned()).collect())
            .unwrap_or_default();
        keys.sort();
        keys
    }
}

/// A display name for profile tweaks.
pub fn display(raw: &str) -> DisplayName {
    DisplayName::parse(raw).unwrap()
}

/// An avatar URL for profile tweaks.
pub fn avatar(raw: &str) -> AvatarUrl {
    AvatarUrl::parse(raw).unwrap()
}

/// Builds a `CommandRequest`: by default user 1 in guild channel 100 (age-restricted), no
/// permissions, a prefix message.
#[derive(Debug)]
pub struct Req(CommandRequest);

/// A request for `command` with these words.
pub fn req(command: CommandName, words: &[&str]) -> Req {
    Req(CommandRequest {
        invoker: Invoker {
            id: user(OWNER),
            display_name: "Ann".into(),
            is_bot_owner: false,
            permissions: Permissions::default(),
            via_proxy: false,
        },
        location: Location::Guild {
            guild: GuildId::new(GUILD).unwrap(),
            channel: channel(CHANNEL),
            age_restricted: true,
            visible_age_restricted: Vec::new(),
        },
        source: RequestSource::Message(MessageId::new(1).unwrap()),
        command,
        invoked_as: command.as_str().to_owned(),
        args: Arguments {
            words: words.iter().map(|w| (*w).to_owned()).collect(),
            ..Arguments::default()
        },
        received_at: Timestamp::from_millis(NOW_MILLIS),
    })
}

impl Req {
    /// Run by `id` (a bot owner flag follows the configuration for user 3).
    pub fn by(mut self, id: u64) -> Self {
        self.0.invoker.id = user(id);
        self.0.invoker.is_bot_owner = id == BOT_OWNER;
        self
    }
    /// In a DM.
    pub fn in_dm(mut self) -> Self {
        self.0.location = Location::Dm {
            channel: channel(DM_CHANNEL),
        };
        self
    }
    /// In a guild channel that is not age-restricted.
    pub fn in_sfw_channel(mut self) -> Self {
        if let Location::Guild { age_restricted, .. } = &mut self.0.location {
            *age_restricted = false;
        }
        self
    }
    /// In guild channel `id`.
    pub fn in_channel(mut self, id: u64) -> Self {
        if let Location::Guild { channel: c, .. } = &mut self.0.location {
            *c = channel(id);
        }
        self
    }
    /// The invoker sees these age-restricted channels in the guild.
    pub fn seeing(mut self, channels: &[u64]) -> Self {
        if let Location::Guild {
            visible_age_restricted,
            ..
        } = &mut self.0.location
        {
            *visible_age_restricted = channels
                .iter()
                .map(|id| (channel(*id), format!("nsfw-{id}")))
                .collect();
        }
        self
    }
    pub fn admin(mut self) -> Self {
        self.0.invoker.permissions.administrator = true;
        self
    }
    pub fn manage_messages(mut self) -> Self {
        self.0.invoker.permissions.manage_messages = true;
        self
    }
    pub fn via_proxy(mut self) -> Self {
        self.0.invoker.via_proxy = true;
        self
    }
    pub fn tail(mut self, tail: &str) -> Self {
        self.0.args.tail = Some(tail.to_owned());
        self
    }
    pub fn option(mut self, key: &str, value: &str) -> Self {
        self.0.args.options.insert(key.to_owned(), value.to_owned());
        self
    }
}

impl From<Req> for CommandRequest {
    fn from(r: Req) -> Self {
        r.0
    }
}

/// The `**bold**` and `` `code` `` spans of the reply text, in order, with their markers.
pub fn spans(outcome: &CommandOutcome) -> Vec<String> {
    let text = outcome.reply.as_ref().map_or("", |r| r.text.as_str());
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            '*' if chars.get(i + 1) == Some(&'*') => {
                let rest: String = chars[i + 2..].iter().collect();
                let Some(end) = rest.find("**") else { break };
                out.push(format!("**{}**", &rest[..end]));
                i += 2 + rest[..end].chars().count() + 2;
            }
            '`' => {
                let rest: String = chars[i + 1..].iter().collect();
                let Some(end) = rest.find('`') else { break };
                out.push(format!("`{}`", &rest[..end]));
                i += 1 + rest[..end].chars().count() + 1;
            }
            _ => i += 1,
        }
    }
    out
}

/// The embed fields as (name, value).
pub fn fields(outcome: &CommandOutcome) -> Vec<(String, String)> {
    outcome.reply.as_ref().map_or_else(Vec::new, |r| {
        r.fields
            .iter()
            .map(|f| (f.name.clone(), f.value.clone()))
            .collect()
    })
}

/// The value of the field `name`.
pub fn field(outcome: &CommandOutcome, name: &str) -> Option<String> {
    fields(outcome)
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
}

/// The names of the embed fields, in order.
pub fn field_names(outcome: &CommandOutcome) -> Vec<String> {
    fields(outcome).into_iter().map(|(n, _)| n).collect()
}

pub fn is_ephemeral(outcome: &CommandOutcome) -> bool {
    outcome.reply.as_ref().is_some_and(|r| r.ephemeral)
}

/// Asserts the class and that the outcome reports no state change.
#[track_caller]
pub fn assert_no_state_change(outcome: &CommandOutcome, class: OutcomeClass) {
    assert_eq!(outcome.class, class, "{outcome:#?}");
    assert!(outcome.events.is_empty(), "{:?}", outcome.events);
}

/// Asserts an internal error whose reply carries its reference id.
#[track_caller]
pub fn assert_internal_error(outcome: &CommandOutcome) {
    assert_eq!(outcome.class, OutcomeClass::InternalError, "{outcome:#?}");
    let reference = outcome
        .reference
        .expect("an internal error has a reference");
    let text = &outcome.reply.as_ref().unwrap().text;
    assert!(text.contains(&reference.to_string()), "{text}");
    assert!(outcome.events.is_empty());
}
