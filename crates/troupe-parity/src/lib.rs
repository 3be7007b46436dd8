//! The side-by-side comparison corpus behind `troupe compare` (operations.md §3, ADR 0002):
//! command scenarios as data, and a runner that plays each scenario through two command systems
//! on two identical copies of a store and compares both the outcomes
//! ([`troupe_application::compare::differences`]) and the resulting state ([`state_digest`]).
//!
//! A [`Scenario`] is a prefix line (`!tz alias einstein "albert e"`), who runs it ([`Who`]),
//! where ([`Where`]), the outside world it runs in ([`World`]), the setup [`Step`]s run first
//! (identically on both copies, by the same system) and the outcome class ADR 0002 expects, so
//! a scenario that stopped exercising its row is noticed instead of matching vacuously.
//!
//! The runner is generic over where the storage comes from ([`FreshStore`]: in-memory fakes in
//! tests, SQLite in `troupe compare`) and over the two systems, see [`Runner`]. It lives outside
//! troupe-application so the application crate holds only what the bot runs.

mod scenarios;
pub mod world;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use troupe_application::shadow::{ShadowConfig, ShadowResult, ShadowRunner, ShadowSetup};
use troupe_domain::conversation::{Conversation, HistoryEntry, Speaker};
use troupe_domain::personality::PersonalityName;
use troupe_domain::{ChannelId, Duration, GuildId, MessageId, UserId};
use troupe_ports::{
    AuthRepository, Clock, ConversationRepository, PersonalityRepository, PreferencesRepository,
    ProcessedMessages, SnapshotSource, StoreError,
};

pub use scenarios::CORPUS;
pub use world::World;

use troupe_application::command::CommandName;
use troupe_application::compare::differences;
use troupe_application::context::{AppConfig, Deps};
use troupe_application::handlers::NewSystem;
use troupe_application::model::{
    CommandRequest, CommandSystem, Invoker, Location, OutcomeClass, Permissions, RequestSource,
};
use troupe_application::parser::{Parsed, parse};
use world::{
    Profiles, Provider, ScenarioAuthProvider, ScenarioClock, ScenarioPlatform, ScenarioProfiles,
    ScenarioVolume,
};

/// The prefix of every scenario line.
pub const PREFIX: &str = "!tz";

/// Who runs a command. Every user is a member of the scenario guild.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Who {
    /// Owns the personalities the setup creates (user 1).
    Owner,
    /// Owns nothing, has no permissions (user 2).
    Stranger,
    /// A configured bot owner (user 3).
    BotOwner,
    /// A guild Administrator (user 4).
    Admin,
    /// A member with Manage Messages (user 5).
    Moderator,
    /// The owner, relayed by a proxy system (PluralKit, Tupperbox).
    Proxied,
}

impl Who {
    /// Everyone whose state the digest reads.
    pub const ALL: [Self; 5] = [
        Self::Owner,
        Self::Stranger,
        Self::BotOwner,
        Self::Admin,
        Self::Moderator,
    ];

    /// The user id.
    pub fn user(self) -> UserId {
        let raw = match self {
            Self::Owner | Self::Proxied => 1,
            Self::Stranger => 2,
            Self::BotOwner => 3,
            Self::Admin => 4,
            Self::Moderator => 5,
        };
        UserId::new(raw).unwrap_or_else(|_| unreachable!("scenario ids are non-zero"))
    }

    fn invoker(self, in_dm: bool) -> Invoker {
        let permissions = if in_dm {
            Permissions::default()
        } else {
            Permissions {
                administrator: self == Self::Admin,
                manage_messages: self == Self::Moderator,
            }
        };
        Invoker {
            id: self.user(),
            display_name: format!("{self:?}"),
            is_bot_owner: self == Self::BotOwner,
            permissions,
            via_proxy: self == Self::Proxied,
        }
    }

    /// Lower-case label for tables.
    pub fn label(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Stranger => "stranger",
            Self::BotOwner => "bot owner",
            Self::Admin => "admin",
            Self::Moderator => "moderator",
            Self::Proxied => "proxied",
        }
    }
}

/// Where a command runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Where {
    /// The age-restricted channel 100 of guild 10.
    Nsfw,
    /// The plain channel 101 of guild 10; the user sees no age-restricted channel.
    Plain,
    /// The plain channel 101, where the user can see the age-restricted channels 100 and 102.
    Seeing,
    /// The user's DM with the bot (channel 200 + user id).
    Dm,
}

/// The guild of the scenarios.
const GUILD: u64 = 10;
const NSFW_CHANNEL: u64 = 100;
const PLAIN_CHANNEL: u64 = 101;
const OTHER_NSFW_CHANNEL: u64 = 102;
const DM_BASE: u64 = 200;

fn channel(raw: u64) -> ChannelId {
    ChannelId::new(raw).unwrap_or_else(|_| unreachable!("scenario ids are non-zero"))
}

impl Where {
    fn location(self, who: Who) -> Location {
        let guild = GuildId::new(GUILD).unwrap_or_else(|_| unreachable!("non-zero"));
        match self {
            Self::Nsfw => Location::Guild {
                guild,
                channel: channel(NSFW_CHANNEL),
                age_restricted: true,
                visible_age_restricted: vec![(channel(NSFW_CHANNEL), "after-dark".into())],
            },
            Self::Plain => Location::Guild {
                guild,
                channel: channel(PLAIN_CHANNEL),
                age_restricted: false,
                visible_age_restricted: Vec::new(),
            },
            Self::Seeing => Location::Guild {
                guild,
                channel: channel(PLAIN_CHANNEL),
                age_restricted: false,
                visible_age_restricted: vec![
                    (channel(NSFW_CHANNEL), "after-dark".into()),
                    (channel(OTHER_NSFW_CHANNEL), "late-night".into()),
                ],
            },
            Self::Dm => Location::Dm {
                channel: dm_channel(who),
            },
        }
    }

    /// Lower-case label for tables.
    pub fn label(self) -> &'static str {
        match self {
            Self::Nsfw => "age-restricted channel",
            Self::Plain => "plain channel",
            Self::Seeing => "guild with visible age-restricted channels",
            Self::Dm => "DM",
        }
    }
}

fn dm_channel(who: Who) -> ChannelId {
    channel(DM_BASE + who.user().get())
}

/// One setup step, run identically on both copies before the command under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// A prefix line by a user in the age-restricted channel; must succeed (Success or Info).
    Run(Who, &'static str),
    /// A prefix line by a user at a place; must succeed (Success or Info).
    RunAt(Who, Where, &'static str),
    /// An exchange of the message flow: the user talked to a personality here (stores the
    /// conversation and one history entry, as the flow does).
    Talk(Who, Where, &'static str),
    /// The processed-message cache remembers this many message ids.
    Processed(u64),
    /// Time passes.
    Advance(Duration),
}

/// One comparison scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scenario {
    /// What it shows, as a sentence fragment (`alias moves from a personality the caller owns`).
    pub name: &'static str,
    /// The command under test, as a prefix line.
    pub command: &'static str,
    pub by: Who,
    pub at: Where,
    pub setup: &'static [Step],
    pub world: World,
    /// The outcome class ADR 0002 gives this case.
    pub expect: OutcomeClass,
}

impl Scenario {
    /// A scenario run by the owner in the age-restricted channel of the default world.
    pub const fn new(name: &'static str, command: &'static str, expect: OutcomeClass) -> Self {
        Self {
            name,
            command,
            by: Who::Owner,
            at: Where::Nsfw,
            setup: &[],
            world: World::DEFAULT,
            expect,
        }
    }

    pub const fn by(mut self, who: Who) -> Self {
        self.by = who;
        self
    }

    pub const fn at(mut self, place: Where) -> Self {
        self.at = place;
        self
    }

    pub const fn setup(mut self, steps: &'static [Step]) -> Self {
        self.setup = steps;
        self
    }

    pub const fn world(mut self, world: World) -> Self {
        self.world = world;
        self
    }

    /// The command this scenario runs, when its line parses.
    pub fn command_name(&self) -> Option<CommandName> {
        match parse(self.command, PREFIX) {
            Parsed::Command { command, .. } => Some(command),
            _ => None,
        }
    }
}

/// The storage ports of one copy of a store.
#[derive(Clone)]
pub struct StoragePorts {
    pub personalities: Arc<dyn PersonalityRepository>,
    pub conversations: Arc<dyn ConversationRepository>,
    pub auth: Arc<dyn AuthRepository>,
    pub preferences: Arc<dyn PreferencesRepository>,
    pub processed: Arc<dyn ProcessedMessages>,
    /// Pinned snapshots of this copy, for shadow replays ([`Runner::shadow`]); `None` when
    /// the store cannot give them (an in-memory SQLite database).
    pub snapshots: Option<Arc<dyn SnapshotSource>>,
}

impl std::fmt::Debug for StoragePorts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoragePorts").finish_non_exhaustive()
    }
}

impl StoragePorts {
    /// Every storage port from one store implementing them all.
    pub fn of<S>(store: &Arc<S>) -> Self
    where
        S: PersonalityRepository
            + ConversationRepository
            + AuthRepository
            + PreferencesRepository
            + ProcessedMessages
            + 'static,
    {
        Self {
            personalities: store.clone(),
            conversations: store.clone(),
            auth: store.clone(),
            preferences: store.clone(),
            processed: store.clone(),
            snapshots: None,
        }
    }

    /// The same ports, with a snapshot source for shadow replays.
    pub fn with_snapshots(mut self, snapshots: Arc<dyn SnapshotSource>) -> Self {
        self.snapshots = Some(snapshots);
        self
    }
}

/// Makes a fresh, empty store for one copy of a scenario.
#[async_trait]
pub trait FreshStore: Send + Sync {
    async fn fresh(&self) -> Result<StoragePorts, StoreError>;
}

/// Builds a command system over a copy's ports.
pub type SystemBuilder = Arc<dyn Fn(Deps) -> Arc<dyn CommandSystem> + Send + Sync>;

/// One copy: its ports, its world and the systems over them.
struct Copy {
    deps: Deps,
    snapshots: Option<Arc<dyn SnapshotSource>>,
    clock: Arc<ScenarioClock>,
    platform: Arc<ScenarioPlatform>,
    volume: Arc<ScenarioVolume>,
    next_message: AtomicU64,
}

impl Copy {
    fn new(storage: StoragePorts, scenario: &Scenario) -> Self {
        let world = &scenario.world;
        let clock = Arc::new(ScenarioClock::new());
        let platform = Arc::new(ScenarioPlatform::new(
            world,
            scenario.by.user(),
            dm_channel(scenario.by),
        ));
        let volume = Arc::new(ScenarioVolume::new(world.volume_writable));
        let config = AppConfig {
            bot_owners: [Who::BotOwner.user()].into_iter().collect(),
            started_at: clock.now(),
            ..AppConfig::default()
        };
        let snapshots = storage.snapshots;
        let deps = Deps {
            personalities: storage.personalities,
            conversations: storage.conversations,
            auth: storage.auth,
            preferences: storage.preferences,
            processed: storage.processed,
            platform: platform.clone(),
            clock: clock.clone(),
            volume: volume.clone(),
            profiles: match world.profiles {
                Profiles::Local => None,
                Profiles::Known => Some(Arc::new(ScenarioProfiles::new(false))),
                Profiles::Down => Some(Arc::new(ScenarioProfiles::new(true))),
            },
            auth_provider: match world.provider {
                Provider::None => None,
                Provider::Working => Some(Arc::new(ScenarioAuthProvider::new(false))),
                Provider::Down => Some(Arc::new(ScenarioAuthProvider::new(true))),
            },
            config: Arc::new(config),
        };
        Self {
            deps,
            snapshots,
            clock,
            platform,
            volume,
            next_message: AtomicU64::new(1000),
        }
    }

    /// The request a line makes, or why it is not one.
    fn request(&self, who: Who, place: Where, line: &str) -> Result<CommandRequest, String> {
        let Parsed::Command {
            command,
            invoked_as,
            args,
        } = parse(line, PREFIX)
        else {
            return Err(format!("{line:?} is not a command line"));
        };
        let id = self.next_message.fetch_add(1, Ordering::SeqCst);
        Ok(CommandRequest {
            invoker: who.invoker(place == Where::Dm),
            location: place.location(who),
            source: RequestSource::Message(
                MessageId::new(id).map_err(|e| format!("message id: {e}"))?,
            ),
            command,
            invoked_as,
            args,
            received_at: self.clock.now(),
        })
    }

    async fn step(&self, system: &dyn CommandSystem, step: Step) -> Result<(), String> {
        match step {
            Step::Run(who, line) => self.run_setup_line(system, who, Where::Nsfw, line).await,
            Step::RunAt(who, place, line) => self.run_setup_line(system, who, place, line).await,
            Step::Talk(who, place, name) => {
                let name = PersonalityName::parse(name).map_err(|e| format!("{name}: {e}"))?;
                let now = self.clock.now();
                let location = place.location(who);
                let autorespond = self
                    .deps
                    .conversations
                    .autorespond(who.user())
                    .await
                    .map_err(|e| e.to_string())?;
                let conversation = Conversation::after_exchange(
                    who.user(),
                    location.channel(),
                    name.clone(),
                    location.is_dm(),
                    autorespond,
                    now,
                );
                self.deps
                    .conversations
                    .save_conversation(&conversation)
                    .await
                    .map_err(|e| e.to_string())?;
                let entry = HistoryEntry::new(Speaker::User, who.user(), who.label(), "hello", now);
                self.deps
                    .conversations
                    .append_history(location.channel(), &name, &entry, 20)
                    .await
                    .map_err(|e| e.to_string())
            }
            Step::Processed(n) => {
                for k in 0..n {
                    let id = MessageId::new(500_000 + k).map_err(|e| e.to_string())?;
                    self.deps
                        .processed
                        .claim(id, self.clock.now(), Duration::from_secs(3600))
                        .await
                        .map_err(|e| e.to_string())?;
                }
                Ok(())
            }
            Step::Advance(by) => {
                self.clock.advance(by);
                Ok(())
            }
        }
    }

    async fn run_setup_line(
        &self,
        system: &dyn CommandSystem,
        who: Who,
        place: Where,
        line: &str,
    ) -> Result<(), String> {
        let request = self.request(who, place, line)?;
        let outcome = system.execute(&request).await;
        if matches!(outcome.class, OutcomeClass::Success | OutcomeClass::Info) {
            Ok(())
        } else {
            Err(format!(
                "setup {line:?} by {} gave {}",
                who.label(),
                outcome.class.as_str()
            ))
        }
    }
}

/// The state of a copy after a scenario, as comparable lines, read through the ports: the
/// personalities of every scenario user (name, display name, aliases, model, avatar), the
/// activations and the users' conversations and history in the scenario channels, autorespond,
/// token presence and expiry, verification, pending authorizations, notification preferences,
/// counts, and what the simulated platform and volume were asked to do.
pub async fn state_digest(deps: &Deps) -> Result<Vec<String>, StoreError> {
    let mut out = Vec::new();
    let mut channels: Vec<ChannelId> = [NSFW_CHANNEL, PLAIN_CHANNEL, OTHER_NSFW_CHANNEL]
        .into_iter()
        .map(channel)
        .collect();
    channels.extend(Who::ALL.iter().map(|w| dm_channel(*w)));
    let mut names = Vec::new();
    out.push(format!(
        "personalities: {}",
        deps.personalities.count().await?
    ));
    for who in Who::ALL {
        let user = who.user();
        let page = deps.personalities.list_by_owner(user, 0, 1000).await?;
        for p in page.items {
            let mut aliases: Vec<&str> = p
                .aliases()
                .iter()
                .map(troupe_domain::personality::Alias::as_str)
                .collect();
            aliases.sort_unstable();
            let profile = p.profile();
            out.push(format!(
                "personality {} of {user}: display {:?}, aliases {aliases:?}, model {:?}, avatar {:?}, prompt {:?}",
                p.name(),
                p.display_name().as_str(),
                profile.model.as_ref().map(ToString::to_string),
                profile.avatar_url.as_ref().map(|a| a.as_str().to_owned()),
                profile.prompt.as_str(),
            ));
            names.push(p.name().clone());
        }
        out.push(format!(
            "user {user}: autorespond {}",
            deps.conversations.autorespond(user).await?
        ));
        if let Some(token) = deps.auth.token(user).await? {
            out.push(format!(
                "user {user}: token created {} expires {}",
                token.created_at.as_millis(),
                token.expires_at.as_millis()
            ));
        }
        if let Some(v) = deps.auth.verification(user).await? {
            out.push(format!(
                "user {user}: verified at {}",
                v.verified_at.as_millis()
            ));
        }
        if deps.auth.take_pending(user).await?.is_some() {
            out.push(format!("user {user}: authorization pending"));
        }
        if let Some(pref) = deps.preferences.notification_preference(user).await? {
            out.push(format!("user {user}: notifications {pref:?}"));
        }
        for c in &channels {
            if let Some(conv) = deps.conversations.conversation(user, *c).await? {
                out.push(format!(
                    "user {user}: conversation in {c} with {} ({:?})",
                    conv.personality, conv.mode
                ));
            }
        }
    }
    for c in &channels {
        if let Some(a) = deps.conversations.activation(*c).await? {
            out.push(format!(
                "channel {c}: {} activated by {}",
                a.personality, a.activated_by
            ));
        }
        for name in &names {
            let history = deps.conversations.history(*c, name, 100).await?;
            if !history.is_empty() {
                let users: Vec<String> = history
                    .iter()
                    .map(|e| {
                        e.user
                            .map_or_else(|| "unknown".to_owned(), |u| u.to_string())
                    })
                    .collect();
                out.push(format!(
                    "channel {c}: {} history entries with {name}, of users {users:?}",
                    history.len()
                ));
            }
        }
    }
    out.push(format!(
        "activations: {}",
        deps.conversations.count_activations().await?
    ));
    out.push(format!("tokens: {}", deps.auth.count_tokens().await?));
    out.push(format!(
        "processed messages: {}",
        deps.processed.count().await?
    ));
    Ok(out)
}

/// How a scenario came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Same outcome (ADR 0002), same state, and the class the corpus expects.
    Match,
    /// The systems differ, or one of them missed the expected class.
    Mismatch,
    /// The scenario could not run (setup failed, a store could not be made).
    Broken,
}

/// The result of one scenario.
#[derive(Debug, Clone)]
pub struct ScenarioResult {
    pub name: &'static str,
    pub line: &'static str,
    /// `None` when the line does not parse (then the verdict is `Broken`).
    pub command: Option<CommandName>,
    pub verdict: Verdict,
    /// Outcome differences, state differences and missed expectations, in that order.
    pub differences: Vec<String>,
    /// The class each system gave (reference, candidate).
    pub classes: Option<(OutcomeClass, OutcomeClass)>,
}

/// One row of the parity table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParityRow {
    pub command: CommandName,
    pub scenarios: usize,
    pub matches: usize,
    pub mismatches: usize,
}

/// The results of a corpus run.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub results: Vec<ScenarioResult>,
}

impl Report {
    /// One row per command (all 18, in catalog order), counting broken scenarios as
    /// mismatches.
    pub fn table(&self) -> Vec<ParityRow> {
        let mut rows: BTreeMap<CommandName, ParityRow> = CommandName::ALL
            .into_iter()
            .map(|command| {
                (
                    command,
                    ParityRow {
                        command,
                        scenarios: 0,
                        matches: 0,
                        mismatches: 0,
                    },
                )
            })
            .collect();
        for result in &self.results {
            let Some(row) = result.command.and_then(|c| rows.get_mut(&c)) else {
                continue;
            };
            row.scenarios += 1;
            if result.verdict == Verdict::Match {
                row.matches += 1;
            } else {
                row.mismatches += 1;
            }
        }
        CommandName::ALL
            .iter()
            .filter_map(|c| rows.remove(c))
            .collect()
    }

    /// The scenarios that did not match.
    pub fn failures(&self) -> impl Iterator<Item = &ScenarioResult> {
        self.results.iter().filter(|r| r.verdict != Verdict::Match)
    }

    /// Every scenario matched.
    pub fn is_full_parity(&self) -> bool {
        !self.results.is_empty() && self.failures().next().is_none()
    }

    /// The parity table as text, with a total line.
    pub fn render_table(&self) -> String {
        let mut out = format!(
            "{:<14} {:>9} {:>7} {:>10}\n",
            "command", "scenarios", "match", "mismatch"
        );
        let (mut total, mut matched, mut mismatched) = (0, 0, 0);
        for row in self.table() {
            out.push_str(&format!(
                "{:<14} {:>9} {:>7} {:>10}\n",
                row.command.as_str(),
                row.scenarios,
                row.matches,
                row.mismatches
            ));
            total += row.scenarios;
            matched += row.matches;
            mismatched += row.mismatches;
        }
        let unparsed = self.results.iter().filter(|r| r.command.is_none()).count();
        out.push_str(&format!(
            "{:<14} {:>9} {:>7} {:>10}\n",
            "total",
            total + unparsed,
            matched,
            mismatched + unparsed
        ));
        out
    }
}

/// A scenario made ready to run: a fresh copy of the store with the setup done, its simulated
/// world, and the request of the command under test.
pub struct Prepared {
    copy: Copy,
    /// The command under test, as the scenario's user sends it at the scenario's place.
    pub request: CommandRequest,
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared")
            .field("request", &self.request)
            .finish_non_exhaustive()
    }
}

impl Prepared {
    /// The ports of this copy, to build a command system over.
    pub fn deps(&self) -> &Deps {
        &self.copy.deps
    }

    /// The snapshot source of this copy's store, if it gives snapshots.
    pub fn snapshots(&self) -> Option<Arc<dyn SnapshotSource>> {
        self.copy.snapshots.clone()
    }

    /// The shadow setup of this copy: `authoritative` serves, `candidate` is compared, over
    /// this copy's snapshots. `None` without a snapshot source.
    pub fn shadow_setup(
        &self,
        authoritative: SystemBuilder,
        candidate: SystemBuilder,
    ) -> Option<ShadowSetup> {
        Some(ShadowSetup {
            deps: self.copy.deps.clone(),
            authoritative,
            candidate,
            snapshots: self.snapshots()?,
        })
    }
}

/// The result of one scenario replayed in shadow mode ([`Runner::shadow`]).
#[derive(Debug, Clone)]
pub struct ShadowReplay {
    pub name: &'static str,
    pub command: Option<CommandName>,
    pub result: ShadowResult,
    /// The authoritative (reference) system's outcome class.
    pub served: OutcomeClass,
    /// The named differences of a mismatch; why it could not run otherwise.
    pub differences: Vec<String>,
}

/// Plays scenarios through a reference system (legacy) and a candidate (new) on two copies.
#[derive(Clone)]
pub struct Runner {
    stores: Arc<dyn FreshStore>,
    reference: SystemBuilder,
    candidate: SystemBuilder,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner").finish_non_exhaustive()
    }
}

impl Runner {
    /// Compares `reference` (the legacy system, built over a copy's ports) with the new
    /// system, over stores from `stores`.
    pub fn new(stores: Arc<dyn FreshStore>, reference: SystemBuilder) -> Self {
        Self {
            stores,
            reference,
            candidate: Arc::new(|deps| Arc::new(NewSystem::new(deps))),
        }
    }

    /// The same runner with another candidate system.
    #[must_use]
    pub fn with_candidate(mut self, candidate: SystemBuilder) -> Self {
        self.candidate = candidate;
        self
    }

    /// Runs every scenario, one after the other.
    pub async fn run(&self, scenarios: &[Scenario]) -> Report {
        let mut results = Vec::with_capacity(scenarios.len());
        for scenario in scenarios {
            results.push(self.run_one(scenario).await);
        }
        Report { results }
    }

    /// Runs one scenario: two fresh copies, the setup on both by the reference system, the
    /// command by the reference on one and by the candidate on the other, then compares.
    pub async fn run_one(&self, scenario: &Scenario) -> ScenarioResult {
        let mut result = ScenarioResult {
            name: scenario.name,
            line: scenario.command,
            command: scenario.command_name(),
            verdict: Verdict::Broken,
            differences: Vec::new(),
            classes: None,
        };
        match self.play(scenario).await {
            Ok((classes, differences)) => {
                result.verdict = if differences.is_empty() {
                    Verdict::Match
                } else {
                    Verdict::Mismatch
                };
                result.classes = Some(classes);
                result.differences = differences;
            }
            Err(reason) => result.differences.push(reason),
        }
        result
    }

    /// A fresh copy of `scenario` with its setup run by the reference system, and the request
    /// of its command: for benchmarks and tools that run the command themselves.
    pub async fn prepare(&self, scenario: &Scenario) -> Result<Prepared, String> {
        let storage = self
            .stores
            .fresh()
            .await
            .map_err(|e| format!("cannot make a store: {e}"))?;
        let copy = Copy::new(storage, scenario);
        let setup_system = (self.reference)(copy.deps.clone());
        for step in scenario.setup {
            copy.step(setup_system.as_ref(), *step).await?;
        }
        let request = copy.request(scenario.by, scenario.at, scenario.command)?;
        Ok(Prepared { copy, request })
    }

    /// Replays `scenario` in shadow mode, as the router does it: the snapshot is pinned, the
    /// reference system (legacy) serves the command for real over recording ports, then the
    /// candidate runs over the snapshot, a dry run and the replayed outside world, and the
    /// two outcomes are compared. The store must give snapshots ([`StoragePorts::snapshots`]).
    pub async fn shadow(&self, scenario: &Scenario) -> ShadowReplay {
        let command = scenario.command_name();
        let broken = |why: String| ShadowReplay {
            name: scenario.name,
            command,
            result: ShadowResult::Error,
            served: OutcomeClass::InternalError,
            differences: vec![why],
        };
        let prepared = match self.prepare(scenario).await {
            Ok(p) => p,
            Err(e) => return broken(e),
        };
        let Some(setup) = prepared.shadow_setup(self.reference.clone(), self.candidate.clone())
        else {
            return broken("the store gives no snapshots".into());
        };
        let runner = ShadowRunner::new(
            setup,
            Arc::clone(&prepared.copy.deps.clock),
            ShadowConfig::default(),
        );
        let Some(started) = runner.start(&prepared.request).await else {
            return broken("no snapshot could be pinned".into());
        };
        let served = started.authoritative.execute(&prepared.request).await;
        let result = started
            .ticket
            .into_job(&prepared.request, &served)
            .run()
            .await;
        let differences = runner
            .mismatches()
            .into_iter()
            .flat_map(|m| m.differences)
            .collect();
        ShadowReplay {
            name: scenario.name,
            command,
            result,
            served: served.class,
            differences,
        }
    }

    /// [`Self::shadow`] for every scenario, one after the other.
    pub async fn shadow_all(&self, scenarios: &[Scenario]) -> Vec<ShadowReplay> {
        let mut out = Vec::with_capacity(scenarios.len());
        for scenario in scenarios {
            out.push(self.shadow(scenario).await);
        }
        out
    }

    async fn play(
        &self,
        scenario: &Scenario,
    ) -> Result<((OutcomeClass, OutcomeClass), Vec<String>), String> {
        let left = self.prepare(scenario).await?;
        let right = self.prepare(scenario).await?;
        let a = (self.reference)(left.deps().clone())
            .execute(&left.request)
            .await;
        let b = (self.candidate)(right.deps().clone())
            .execute(&right.request)
            .await;
        let mut out = differences(&a, &b);
        out.extend(Self::state_differences(&left.copy, &right.copy).await?);
        for (who, outcome) in [("legacy", &a), ("new", &b)] {
            if outcome.class != scenario.expect {
                out.push(format!(
                    "expected {} but {who} gave {}",
                    scenario.expect.as_str(),
                    outcome.class.as_str()
                ));
            }
        }
        Ok(((a.class, b.class), out))
    }

    async fn state_differences(left: &Copy, right: &Copy) -> Result<Vec<String>, String> {
        let digest = |copy: &Copy| {
            let deps = copy.deps.clone();
            let mut extra = copy.platform.digest();
            extra.push(format!("volume entries {}", copy.volume.entries()));
            async move {
                let mut lines = state_digest(&deps)
                    .await
                    .map_err(|e| format!("cannot read the state: {e}"))?;
                lines.extend(extra);
                Ok::<_, String>(lines)
            }
        };
        let (a, b) = (digest(left).await?, digest(right).await?);
        if a == b {
            return Ok(Vec::new());
        }
        let only = |x: &[String], y: &[String]| -> Vec<String> {
            x.iter().filter(|l| !y.contains(l)).cloned().collect()
        };
        Ok(vec![format!(
            "state: legacy only {:?}, new only {:?}",
            only(&a, &b),
            only(&b, &a)
        )])
    }
}
