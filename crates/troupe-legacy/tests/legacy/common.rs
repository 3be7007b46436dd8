//! The scenario harness: the legacy system over the testkit fakes, requests written as the
//! message a user would type, and the key facts of ADR 0002 extracted from an outcome.

use std::collections::BTreeSet;
use std::sync::Arc;

use troupe_application::parser::{Parsed, parse};
use troupe_application::{
    AppConfig, CommandName, CommandOutcome, CommandRequest, CommandSystem, Deps, Invoker, Location,
    OutcomeClass, Permissions, RequestSource,
};
use troupe_domain::personality::{Alias, DisplayName, Personality, PersonalityName, Profile};
use troupe_domain::{ChannelId, DomainEvent, GuildId, MessageId, Timestamp, UserId};
use troupe_legacy::LegacySystem;
use troupe_ports::{AuthProvider, PersonalityRepository, ProfileSource};
use troupe_testkit::{FakeClock, FakePlatform, FakeProfileSource, FakeVolume, InMemoryStore};

/// 2025-06-14T10:30:00Z.
pub const T0: i64 = 1_749_897_000_000;
pub const PREFIX: &str = "!tz";

pub const ALICE: u64 = 101;
pub const BOB: u64 = 102;
/// A bot owner (in the configuration).
pub const ROOT: u64 = 900;
pub const GUILD: u64 = 500;
pub const CHANNEL: u64 = 600;
pub const OTHER_CHANNEL: u64 = 601;
pub const DM_CHANNEL: u64 = 700;

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

pub fn at(offset_millis: i64) -> Timestamp {
    Timestamp::from_millis(T0 + offset_millis)
}

/// The legacy system over fresh fakes, with handles to inspect and steer them.
pub struct Harness {
    pub store: Arc<InMemoryStore>,
    pub platform: Arc<FakePlatform>,
    pub clock: Arc<FakeClock>,
    pub volume: Arc<FakeVolume>,
    pub profiles: Option<Arc<dyn ProfileSource>>,
    pub oauth: Option<Arc<dyn AuthProvider>>,
    pub config: AppConfig,
}

impl Harness {
    /// Local personalities, no OAuth provider, `ROOT` as bot owner, the age gate on, the clock
    /// at `T0` and the process started one hour earlier.
    pub fn new() -> Self {
        let config = AppConfig {
            prefix: PREFIX.into(),
            bot_owners: BTreeSet::from([user(ROOT)]),
            started_at: at(-3_600_000),
            ..AppConfig::default()
        };
        Self {
            store: Arc::new(InMemoryStore::new()),
            platform: Arc::new(FakePlatform::new()),
            clock: Arc::new(FakeClock::new(at(0))),
            volume: Arc::new(FakeVolume::new()),
            profiles: None,
            oauth: None,
            config,
        }
    }

    pub fn with_profiles(mut self, source: Arc<FakeProfileSource>) -> Self {
        self.profiles = Some(source);
        self
    }

    pub fn with_oauth(mut self, provider: Arc<dyn AuthProvider>) -> Self {
        self.oauth = Some(provider);
        self
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
            volume: self.volume.clone(),
            profiles: self.profiles.clone(),
            auth_provider: self.oauth.clone(),
            config: Arc::new(self.config.clone()),
        }
    }

    pub fn system(&self) -> LegacySystem {
        LegacySystem::new(self.deps())
    }

    /// Runs `text` (a prefix command, e.g. `!tz info einstein`) as `who`.
    pub async fn run(&self, who: &Who, text: &str) -> CommandOutcome {
        self.system().execute(&who.request(text)).await
    }

    /// Stores a local personality owned by `owner` with these aliases, created at `T0`.
    pub async fn seed(&self, raw_name: &str, owner: u64, aliases: &[&str]) -> Personality {
        self.seed_displayed(raw_name, raw_name, owner, aliases)
            .await
    }

    /// Like [`Self::seed`], showing `display` as its display name.
    pub async fn seed_displayed(
        &self,
        raw_name: &str,
        display: &str,
        owner: u64,
        aliases: &[&str],
    ) -> Personality {
        let n = name(raw_name);
        let mut profile = Profile::local(&n, None);
        profile.display_name = DisplayName::parse(display).unwrap();
        let p = Personality::restore(
            n,
            user(owner),
            profile,
            aliases.iter().map(|a| alias(a)).collect(),
            at(0),
            at(0),
        );
        self.store.insert(&p).await.unwrap();
        p
    }

    /// The stored personality called `raw_name`.
    pub async fn stored(&self, raw_name: &str) -> Option<Personality> {
        self.store.get(&name(raw_name)).await.unwrap()
    }

    /// The stored aliases of `raw_name`, as written.
    pub async fn aliases_of(&self, raw_name: &str) -> Vec<String> {
        self.stored(raw_name)
            .await
            .map(|p| p.aliases().iter().map(|a| a.as_str().to_owned()).collect())
            .unwrap_or_default()
    }
}

/// Who runs a command, and where.
#[derive(Debug, Clone)]
pub struct Who {
    pub invoker: Invoker,
    pub location: Location,
}

/// `id` in `CHANNEL`, an age-restricted channel of `GUILD`, without special permissions.
pub fn member(id: u64) -> Who {
    Who {
        invoker: Invoker {
            id: user(id),
            display_name: format!("user{id}"),
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
    }
}

/// `id` in a DM with the bot.
pub fn dm(id: u64) -> Who {
    member(id).in_dm()
}

impl Who {
    pub fn admin(mut self) -> Self {
        self.invoker.permissions.administrator = true;
        self
    }

    pub fn manager(mut self) -> Self {
        self.invoker.permissions.manage_messages = true;
        self
    }

    /// Marked as bot owner by the request (the adapter resolved it).
    pub fn bot_owner(mut self) -> Self {
        self.invoker.is_bot_owner = true;
        self
    }

    pub fn via_proxy(mut self) -> Self {
        self.invoker.via_proxy = true;
        self
    }

    pub fn in_dm(mut self) -> Self {
        self.invoker.permissions = Permissions::default();
        self.location = Location::Dm {
            channel: channel(DM_CHANNEL),
        };
        self
    }

    /// In a channel that is not age-restricted, seeing these age-restricted channels.
    pub fn not_age_restricted(mut self, visible: &[u64]) -> Self {
        if let Location::Guild {
            age_restricted,
            visible_age_restricted,
            ..
        } = &mut self.location
        {
            *age_restricted = false;
            *visible_age_restricted = visible
                .iter()
                .map(|id| (channel(*id), format!("nsfw-{id}")))
                .collect();
        }
        self
    }

    /// The request for `text`, parsed by the real prefix parser.
    pub fn request(&self, text: &str) -> CommandRequest {
        let Parsed::Command {
            command,
            invoked_as,
            args,
        } = parse(text, PREFIX)
        else {
            panic!("not a command: {text:?}");
        };
        CommandRequest {
            invoker: self.invoker.clone(),
            location: self.location.clone(),
            source: RequestSource::Message(MessageId::new(42).unwrap()),
            command,
            invoked_as,
            args,
            received_at: at(0),
        }
    }
}

impl Who {
    /// A request with these exact arguments, bypassing the parser (for inputs the parser would
    /// never produce, such as empty or blank words).
    pub fn raw(&self, command: CommandName, words: &[&str], tail: Option<&str>) -> CommandRequest {
        let mut request = self.request(&format!("{PREFIX} {command}"));
        request.args.words = words.iter().map(|w| (*w).to_owned()).collect();
        request.args.tail = tail.map(str::to_owned);
        request
    }
}

/// The key facts of a reply (ADR 0002): bold spans, code spans and fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub bold: Vec<String>,
    pub code: Vec<String>,
    pub fields: Vec<(String, String)>,
}

/// Extracts `**bold**` and `` `code` `` spans (in order) and the fields of the reply.
pub fn facts(outcome: &CommandOutcome) -> Facts {
    let reply = outcome.reply.as_ref().expect("a reply");
    let mut bold = Vec::new();
    let mut code = Vec::new();
    let text = reply.text.as_str();
    let mut rest = text;
    loop {
        let next_bold = find_unescaped(rest, "**");
        let next_code = find_unescaped(rest, "`");
        match (next_bold, next_code) {
            (Some(b), c) if c.is_none_or(|c| b < c) => {
                let after = &rest[b + 2..];
                let end = find_unescaped(after, "**").expect("an unclosed bold span");
                bold.push(after[..end].to_owned());
                rest = &after[end + 2..];
            }
            (_, Some(c)) => {
                let after = &rest[c + 1..];
                let end = find_unescaped(after, "`").expect("an unclosed code span");
                code.push(after[..end].to_owned());
                rest = &after[end + 1..];
            }
            _ => break,
        }
    }
    let fields = reply
        .fields
        .iter()
        .map(|f| (f.name.clone(), f.value.clone()))
        .collect();
    Facts { bold, code, fields }
}

/// The first `marker` not preceded by a backslash.
fn find_unescaped(text: &str, marker: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = text[from..].find(marker) {
        let at = from + i;
        if at > 0 && text.as_bytes()[at - 1] == b'\\' {
            from = at + marker.len();
            continue;
        }
        return Some(at);
    }
    None
}

/// The value of field `name`.
pub fn field(outcome: &CommandOutcome, name: &str) -> String {
    facts(outcome)
        .fields
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no field {name:?} in {outcome:#?}"))
        .1
}

/// The field names, in order.
pub fn field_names(outcome: &CommandOutcome) -> Vec<String> {
    facts(outcome).fields.into_iter().map(|(n, _)| n).collect()
}

/// Asserts class, events, bold spans and code spans exactly (fields are checked separately).
#[track_caller]
pub fn expect(
    outcome: &CommandOutcome,
    class: OutcomeClass,
    events: &[DomainEvent],
    bold: &[&str],
    code: &[&str],
) {
    assert_eq!(outcome.class, class, "class of {outcome:#?}");
    assert_eq!(outcome.events, events, "events of {outcome:#?}");
    let f = facts(outcome);
    assert_eq!(f.bold, bold, "bold spans of {outcome:#?}");
    assert_eq!(f.code, code, "code spans of {outcome:#?}");
    assert!(
        outcome.reference.is_none(),
        "only internal errors carry a reference"
    );
}

/// Asserts an internal error that shows and carries a reference, and has no events.
#[track_caller]
pub fn expect_internal_error(outcome: &CommandOutcome) {
    assert_eq!(outcome.class, OutcomeClass::InternalError, "{outcome:#?}");
    let reference = outcome.reference.expect("a reference id");
    let reply = outcome.reply.as_ref().expect("a reply");
    assert!(reply.text.contains(&reference.to_string()));
    assert!(outcome.events.is_empty());
}

/// Whether the reply is ephemeral.
pub fn ephemeral(outcome: &CommandOutcome) -> bool {
    outcome.reply.as_ref().is_some_and(|r| r.ephemeral)
}
