//! The corpus: every command's success and error cases of ADR 0002, row by row, plus the
//! aliases of each command and the places and people that change an answer.

use troupe_domain::Duration;

use crate::world::{Profiles, Provider, World};
use crate::{Scenario, Step, Where, Who};
use troupe_application::model::OutcomeClass;

const SUCCESS: OutcomeClass = OutcomeClass::Success;
const INFO: OutcomeClass = OutcomeClass::Info;
const DENIED: OutcomeClass = OutcomeClass::Denied;
const INVALID: OutcomeClass = OutcomeClass::InvalidInput;
const NOT_FOUND: OutcomeClass = OutcomeClass::NotFound;
const CONFLICT: OutcomeClass = OutcomeClass::Conflict;
const INTERNAL: OutcomeClass = OutcomeClass::InternalError;

const fn s(name: &'static str, command: &'static str, expect: OutcomeClass) -> Scenario {
    Scenario::new(name, command, expect)
}

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

const OAUTH: World = World {
    provider: Provider::Working,
    ..World::DEFAULT
};
const OAUTH_DOWN: World = World {
    provider: Provider::Down,
    ..World::DEFAULT
};
const PROFILES: World = World {
    profiles: Profiles::Known,
    ..World::DEFAULT
};
const PROFILES_DOWN: World = World {
    profiles: Profiles::Down,
    ..World::DEFAULT
};

use Step::{Advance, Processed, Run, RunAt, Talk};
use Where::{Dm, Nsfw, Plain, Seeing};
use Who::{Admin, BotOwner, Moderator, Owner, Proxied, Stranger};

/// The owner's einstein with the alias `albert e`.
const EINSTEIN: &[Step] = &[Run(Owner, r#"!tz add einstein "albert e""#)];
/// Einstein and the stranger's newton.
const TWO_OWNERS: &[Step] = &[
    Run(Owner, r#"!tz add einstein "albert e""#),
    Run(Stranger, "!tz add newton isaac"),
];
/// The owner holds a token issued now.
const TOKEN: &[Step] = &[RunAt(Owner, Dm, "!tz auth code good-code")];
/// The owner's token expired.
const EXPIRED_TOKEN: &[Step] = &[
    RunAt(Owner, Dm, "!tz auth code good-code"),
    Advance(Duration::from_secs(31 * 24 * 60 * 60)),
];
/// Twelve personalities of the owner: two pages.
const TWELVE: &[Step] = &[
    Run(Owner, "!tz add ada"),
    Run(Owner, "!tz add bohr"),
    Run(Owner, "!tz add curie"),
    Run(Owner, "!tz add darwin"),
    Run(Owner, "!tz add euler"),
    Run(Owner, "!tz add faraday"),
    Run(Owner, "!tz add gauss"),
    Run(Owner, "!tz add hopper"),
    Run(Owner, "!tz add input"),
    Run(Owner, "!tz add joule"),
    Run(Owner, "!tz add kepler"),
    Run(Owner, "!tz add lovelace"),
];

/// Every scenario of `troupe compare`.
pub const CORPUS: &[Scenario] = &[
    // ---------------------------------------------------------------- ping
    s("ping reports the heartbeat latency", "!tz ping", SUCCESS),
    s(
        "ping before the first heartbeat says measuring",
        "!tz ping",
        SUCCESS,
    )
    .world(World {
        latency_micros: None,
        ..World::DEFAULT
    }),
    s(
        "ping never shows a sub-millisecond latency as 0 ms",
        "!tz ping",
        SUCCESS,
    )
    .world(World {
        latency_micros: Some(400),
        ..World::DEFAULT
    }),
    s("ping works in a DM for anyone", "!tz ping", SUCCESS)
        .by(Stranger)
        .at(Dm),
    // ---------------------------------------------------------------- status
    s("status of a newcomer", "!tz status", SUCCESS)
        .by(Stranger)
        .at(Plain),
    s(
        "status counts personalities, activation, autorespond and verification",
        "!tz status",
        SUCCESS,
    )
    .setup(&[
        Run(Owner, r#"!tz add einstein "albert e""#),
        Run(Owner, "!tz add newton"),
        Run(Admin, "!tz activate einstein"),
        Run(Owner, "!tz autorespond on"),
        Run(Owner, "!tz verify"),
    ]),
    s("status shows an authenticated user", "!tz status", SUCCESS)
        .world(OAUTH)
        .setup(TOKEN),
    s(
        "status treats an expired token as not authenticated",
        "!tz status",
        SUCCESS,
    )
    .world(OAUTH)
    .setup(EXPIRED_TOKEN),
    s(
        "status in a DM has nothing active there",
        "!tz status",
        SUCCESS,
    )
    .at(Dm)
    .setup(&[
        Run(Admin, "!tz add einstein"),
        Run(Admin, "!tz activate einstein"),
    ]),
    s(
        "status with a sub-millisecond latency shows 1 ms",
        "!tz status",
        SUCCESS,
    )
    .world(World {
        latency_micros: Some(10),
        ..World::DEFAULT
    }),
    // ---------------------------------------------------------------- help
    s(
        "help lists the four groups to a member",
        "!tz help",
        SUCCESS,
    )
    .by(Stranger),
    s(
        "help adds the Admin group for an administrator",
        "!tz help",
        SUCCESS,
    )
    .by(Admin),
    s(
        "help adds the Owner group for a bot owner",
        "!tz help",
        SUCCESS,
    )
    .by(BotOwner),
    s("the bare prefix means help", "!tz", SUCCESS).at(Dm),
    s("help for a command by name", "!tz help add", SUCCESS),
    s("help for a command by its alias", "!tz h act", SUCCESS),
    s("help for an unknown name", "!tz ? teleport", NOT_FOUND),
    s(
        "help for volumetest is restricted for a member",
        "!tz help volumetest",
        DENIED,
    )
    .by(Stranger),
    s(
        "help for debug is restricted for a moderator",
        "!tz help debug",
        DENIED,
    )
    .by(Moderator),
    s(
        "help for debug is shown to an administrator",
        "!tz help debug",
        SUCCESS,
    )
    .by(Admin),
    // ---------------------------------------------------------------- notifications
    s(
        "notifications status of a user without a record",
        "!tz notifications",
        SUCCESS,
    ),
    s(
        "notifications status after changes",
        "!tz notifications status",
        SUCCESS,
    )
    .setup(&[
        Run(Owner, "!tz notifications off"),
        Run(Owner, "!tz notifications level patch"),
    ]),
    s("notifications on", "!tz notifications on", SUCCESS)
        .setup(&[Run(Owner, "!tz notifications off")]),
    s("notifications off", "!tz notify off", SUCCESS),
    s(
        "notifications level major keeps the opt-in",
        "!tz notif level major",
        SUCCESS,
    )
    .setup(&[Run(Owner, "!tz notifications off")]),
    s(
        "notifications level without a level lists them",
        "!tz notifications level",
        INVALID,
    ),
    s(
        "notifications level with an invalid level",
        "!tz notifications level loud",
        INVALID,
    ),
    s(
        "notifications with an unknown setting",
        "!tz notifications maybe",
        INVALID,
    )
    .at(Dm),
    // ---------------------------------------------------------------- debug
    s("debug is denied to a member", "!tz debug stats", DENIED).by(Stranger),
    s(
        "debug is denied to Manage Messages alone",
        "!tz debug stats",
        DENIED,
    )
    .by(Moderator),
    s(
        "debug is denied to an administrator in a DM",
        "!tz debug stats",
        DENIED,
    )
    .by(Admin)
    .at(Dm),
    s("debug without a subcommand lists them", "!tz debug", INFO).by(Admin),
    s(
        "debug clearwebhooks reports how many",
        "!tz debug clearwebhooks",
        SUCCESS,
    )
    .by(Admin),
    s(
        "debug unverify removes the verification",
        "!tz debug unverify",
        SUCCESS,
    )
    .by(Admin)
    .setup(&[Run(Admin, "!tz verify")]),
    s(
        "debug unverify when not verified",
        "!tz debug unverify",
        INFO,
    )
    .by(BotOwner)
    .at(Dm),
    s(
        "debug clearconversation clears it",
        "!tz debug clearconversation",
        SUCCESS,
    )
    .by(Admin)
    .setup(&[
        Run(Owner, "!tz add einstein"),
        Talk(Admin, Nsfw, "einstein"),
    ]),
    s(
        "debug clearconversation with none",
        "!tz debug clearconversation",
        INFO,
    )
    .by(Admin),
    s(
        "debug clearauth purges expired tokens",
        "!tz debug clearauth",
        SUCCESS,
    )
    .by(BotOwner)
    .world(OAUTH)
    .setup(EXPIRED_TOKEN),
    s(
        "debug clearmessages forgets processed ids",
        "!tz debug clearmessages",
        SUCCESS,
    )
    .by(Admin)
    .setup(&[Processed(3)]),
    s("debug stats counts everything", "!tz debug stats", SUCCESS)
        .by(BotOwner)
        .world(OAUTH)
        .setup(&[
            Run(Owner, r#"!tz add einstein "albert e""#),
            Run(Admin, "!tz activate einstein"),
            RunAt(Owner, Dm, "!tz auth code good-code"),
            Processed(2),
        ]),
    s(
        "debug with an unknown subcommand",
        "!tz debug explode",
        INVALID,
    )
    .by(Admin),
    // ---------------------------------------------------------------- purgbot
    s("purgbot is refused in a guild", "!tz purgbot", DENIED),
    s(
        "purgbot with an unknown mode",
        "!tz purgbot everything",
        INVALID,
    )
    .at(Dm),
    s(
        "purgbot pages through the whole DM history",
        "!tz purgbot",
        SUCCESS,
    )
    .at(Dm)
    .world(World {
        dm_history: 250,
        ..World::DEFAULT
    }),
    s(
        "purgbot all also deletes personality messages",
        "!tz cleandm all",
        SUCCESS,
    )
    .at(Dm)
    .world(World {
        dm_history: 30,
        ..World::DEFAULT
    }),
    s(
        "purgbot counts messages it could not delete",
        "!tz purgebot system",
        SUCCESS,
    )
    .by(Stranger)
    .at(Dm)
    .world(World {
        dm_history: 9,
        deletes_fail: true,
        ..World::DEFAULT
    }),
    s("purgbot in an empty DM", "!tz clearbot", SUCCESS).at(Dm),
    // ---------------------------------------------------------------- volumetest
    s(
        "volumetest is refused to a member",
        "!tz volumetest",
        DENIED,
    )
    .by(Stranger),
    s(
        "volumetest is refused to an administrator",
        "!tz volumetest",
        DENIED,
    )
    .by(Admin),
    s(
        "volumetest reports the data directory",
        "!tz volumetest",
        SUCCESS,
    )
    .by(BotOwner),
    s(
        "volumetest counts earlier entries",
        "!tz volumetest",
        SUCCESS,
    )
    .by(BotOwner)
    .at(Dm)
    .setup(&[
        Run(BotOwner, "!tz volumetest"),
        Run(BotOwner, "!tz volumetest"),
    ]),
    s(
        "volumetest on a read-only volume",
        "!tz volumetest",
        SUCCESS,
    )
    .by(BotOwner)
    .world(World {
        volume_writable: false,
        ..World::DEFAULT
    }),
    // ---------------------------------------------------------------- auth
    s(
        "auth relayed by a proxy system is refused",
        "!tz auth status",
        DENIED,
    )
    .by(Proxied)
    .world(OAUTH),
    s(
        "auth start relayed by a proxy system is refused",
        "!tz auth start",
        DENIED,
    )
    .by(Proxied)
    .at(Dm)
    .world(OAUTH),
    s("auth without a subcommand lists them", "!tz auth", INFO).world(OAUTH),
    s(
        "auth without a subcommand shows cleanup to an administrator",
        "!tz auth",
        INFO,
    )
    .by(Admin)
    .world(OAUTH),
    s("auth with an unknown subcommand", "!tz auth login", INVALID).world(OAUTH),
    s(
        "auth start without an OAuth provider",
        "!tz auth start",
        INFO,
    )
    .at(Dm),
    s(
        "auth start in a DM gives the link",
        "!tz auth start",
        SUCCESS,
    )
    .at(Dm)
    .world(OAUTH),
    s(
        "auth start in a guild sends the link by DM",
        "!tz auth start",
        SUCCESS,
    )
    .world(OAUTH),
    s(
        "auth start in a guild with closed DMs says how to open them",
        "!tz auth start",
        INFO,
    )
    .world(World {
        dms_closed: true,
        ..OAUTH
    }),
    s(
        "auth code in a guild is refused and never used",
        "!tz auth code good-code",
        DENIED,
    )
    .world(OAUTH),
    s("auth code without a code", "!tz auth code", INVALID)
        .at(Dm)
        .world(OAUTH),
    s(
        "auth code without an OAuth provider",
        "!tz auth code good-code",
        INFO,
    )
    .at(Dm),
    s(
        "auth code the provider refuses",
        "!tz auth code wrong-code",
        INVALID,
    )
    .at(Dm)
    .world(OAUTH),
    s(
        "auth code while the provider is down",
        "!tz auth code good-code",
        INTERNAL,
    )
    .at(Dm)
    .world(OAUTH_DOWN),
    s(
        "auth code accepted stores the token",
        "!tz auth code good-code",
        SUCCESS,
    )
    .at(Dm)
    .world(OAUTH),
    s(
        "auth code inside spoiler markup",
        "!tz auth code ||good-code||",
        SUCCESS,
    )
    .at(Dm)
    .world(OAUTH),
    s("auth status without a token", "!tz auth status", SUCCESS).world(OAUTH),
    s("auth status with a valid token", "!tz auth status", SUCCESS)
        .world(OAUTH)
        .setup(&[
            RunAt(Owner, Dm, "!tz auth code good-code"),
            Advance(Duration::from_secs(2 * 24 * 60 * 60)),
        ]),
    s(
        "auth status warns when fewer than 7 days are left",
        "!tz auth status",
        SUCCESS,
    )
    .at(Dm)
    .world(OAUTH)
    .setup(&[RunAt(Owner, Dm, "!tz auth code short-code")]),
    s(
        "auth status with an expired token",
        "!tz auth status",
        SUCCESS,
    )
    .world(OAUTH)
    .setup(EXPIRED_TOKEN),
    s("auth revoke deletes the token", "!tz auth revoke", SUCCESS)
        .world(OAUTH)
        .setup(TOKEN),
    s(
        "auth revoke without a token still confirms",
        "!tz auth revoke",
        SUCCESS,
    )
    .world(OAUTH),
    s(
        "auth cleanup is refused to a member",
        "!tz auth cleanup",
        DENIED,
    )
    .world(OAUTH),
    s(
        "auth cleanup by an administrator",
        "!tz auth cleanup",
        SUCCESS,
    )
    .by(Admin)
    .world(OAUTH)
    .setup(EXPIRED_TOKEN),
    s(
        "auth cleanup by a bot owner in a DM",
        "!tz auth cleanup",
        SUCCESS,
    )
    .by(BotOwner)
    .at(Dm)
    .world(OAUTH)
    .setup(TOKEN),
    // ---------------------------------------------------------------- verify
    s("verify in a DM is refused", "!tz verify", DENIED).at(Dm),
    s("verify when already verified", "!tz verify", INFO).setup(&[Run(Owner, "!tz verify")]),
    s("verify in an age-restricted channel", "!tz verify", SUCCESS),
    s(
        "verify by a user who can see age-restricted channels",
        "!tz nsfw",
        SUCCESS,
    )
    .by(Stranger)
    .at(Seeing),
    s("verify otherwise explains how", "!tz verify", DENIED)
        .by(Stranger)
        .at(Plain),
    // ---------------------------------------------------------------- activate
    s(
        "activate in a DM is refused",
        "!tz activate einstein",
        DENIED,
    )
    .by(Admin)
    .at(Dm)
    .setup(EINSTEIN),
    s(
        "activate without Manage Messages is refused",
        "!tz activate einstein",
        DENIED,
    )
    .by(Stranger)
    .setup(EINSTEIN),
    s(
        "activate outside an age-restricted channel is refused",
        "!tz act einstein",
        DENIED,
    )
    .by(Moderator)
    .at(Plain)
    .setup(EINSTEIN),
    s("activate without a personality", "!tz activate", INVALID).by(Moderator),
    s(
        "activate an unknown personality",
        "!tz activate nobody here",
        NOT_FOUND,
    )
    .by(Moderator),
    s(
        "activate by Manage Messages",
        "!tz activate einstein",
        SUCCESS,
    )
    .by(Moderator)
    .setup(EINSTEIN),
    s(
        "activate by alias, as an administrator",
        "!tz act albert e",
        SUCCESS,
    )
    .by(Admin)
    .setup(EINSTEIN),
    s(
        "activate replaces the active personality",
        "!tz activate newton",
        SUCCESS,
    )
    .by(Admin)
    .setup(&[
        Run(Owner, "!tz add einstein"),
        Run(Owner, "!tz add newton"),
        Run(Admin, "!tz activate einstein"),
    ]),
    // ---------------------------------------------------------------- deactivate
    s("deactivate in a DM is refused", "!tz deactivate", DENIED)
        .by(Admin)
        .at(Dm),
    s(
        "deactivate without Manage Messages is refused",
        "!tz deactivate",
        DENIED,
    )
    .by(Stranger)
    .setup(&[
        Run(Owner, "!tz add einstein"),
        Run(Admin, "!tz activate einstein"),
    ]),
    s("deactivate with nothing active", "!tz deact", INFO).by(Moderator),
    s(
        "deactivate the active personality",
        "!tz deactivate",
        SUCCESS,
    )
    .by(Moderator)
    .setup(&[
        Run(Owner, "!tz add einstein"),
        Run(Admin, "!tz activate einstein"),
    ]),
    // ---------------------------------------------------------------- reset
    s("reset without a personality", "!tz reset", INVALID),
    s(
        "reset an unknown personality",
        "!tz reset nobody",
        NOT_FOUND,
    ),
    s("reset with nothing to clear", "!tz reset einstein", INFO).setup(EINSTEIN),
    s(
        "reset clears the conversation",
        "!tz reset albert e",
        SUCCESS,
    )
    .setup(&[
        Run(Owner, r#"!tz add einstein "albert e""#),
        Talk(Owner, Nsfw, "einstein"),
    ]),
    s(
        "reset in a DM clears only the DM conversation",
        "!tz reset einstein",
        SUCCESS,
    )
    .at(Dm)
    .setup(&[
        Run(Owner, "!tz add einstein"),
        Talk(Owner, Dm, "einstein"),
        Talk(Owner, Nsfw, "einstein"),
    ]),
    s(
        "reset forgets only the caller's turns",
        "!tz reset einstein",
        SUCCESS,
    )
    .setup(&[
        Run(Owner, "!tz add einstein"),
        Talk(Owner, Nsfw, "einstein"),
        Talk(Stranger, Nsfw, "einstein"),
    ]),
    s(
        "reset by someone who never talked keeps the others' turns",
        "!tz reset einstein",
        INFO,
    )
    .by(Stranger)
    .setup(&[
        Run(Owner, "!tz add einstein"),
        Talk(Owner, Nsfw, "einstein"),
    ]),
    s(
        "reset of another personality leaves the conversation",
        "!tz reset newton",
        INFO,
    )
    .setup(&[
        Run(Owner, "!tz add einstein"),
        Run(Owner, "!tz add newton"),
        Talk(Owner, Nsfw, "einstein"),
    ]),
    // ---------------------------------------------------------------- autorespond
    s("autorespond status by default", "!tz autorespond", SUCCESS),
    s(
        "autorespond status after turning it on",
        "!tz ar status",
        SUCCESS,
    )
    .setup(&[Run(Owner, "!tz autorespond on")]),
    s("autorespond on", "!tz autorespond on", SUCCESS),
    s("autorespond off", "!tz auto off", SUCCESS)
        .at(Dm)
        .setup(&[Run(Owner, "!tz autorespond on")]),
    s(
        "autorespond with another word",
        "!tz autorespond sometimes",
        INVALID,
    ),
    // ---------------------------------------------------------------- add
    s("add without a name", "!tz add", INVALID),
    s("add with a reserved name", "!tz add admin", INVALID),
    s("add with a name too short", "!tz add x", INVALID),
    s(
        "add with an invalid alias",
        concat!(
            "!tz add einstein ",
            "a123456789b123456789c123456789d123456789e123456789f"
        ),
        INVALID,
    ),
    s(
        "add with an invalid prompt",
        "!tz add einstein | hidden\u{200B}text",
        INVALID,
    ),
    s(
        "add with an invalid avatar",
        "!tz add einstein avatar:ftp://x",
        INVALID,
    ),
    s(
        "add with an invalid model",
        "!tz add einstein model:gpt!4",
        INVALID,
    ),
    s(
        "add with an alias equal to the name",
        "!tz add einstein Einstein",
        INVALID,
    ),
    s(
        "add a name that exists, in another case",
        "!tz add EINSTEIN",
        CONFLICT,
    )
    .by(Stranger)
    .setup(EINSTEIN),
    s(
        "add with a requested alias that is taken",
        r#"!tz add newton "albert e""#,
        CONFLICT,
    )
    .by(Stranger)
    .setup(EINSTEIN),
    s(
        "add with a requested alias equal to a name",
        "!tz add newton einstein",
        CONFLICT,
    )
    .setup(EINSTEIN),
    s(
        "add a name that is another personality's alias says so (issue 15)",
        "!tz add name",
        CONFLICT,
    )
    .by(Stranger)
    .setup(&[Run(Owner, "!tz add tab name")]),
    s(
        "add a name the profile source does not know",
        "!tz add nobody",
        NOT_FOUND,
    )
    .world(PROFILES),
    s(
        "add while the profile source is down",
        "!tz add einstein",
        INTERNAL,
    )
    .world(PROFILES_DOWN),
    s("add a local personality", "!tz add einstein", SUCCESS),
    s(
        "add with an alias and a prompt",
        r#"!tz add einstein "albert e" | You are Albert Einstein."#,
        SUCCESS,
    ),
    s(
        "add with a model and an avatar",
        "!tz new einstein model:gpt-4o avatar:https://cdn.example.invalid/e.png",
        SUCCESS,
    ),
    s(
        "add from the profile source gets the display name as an alias",
        "!tz add einstein",
        SUCCESS,
    )
    .world(PROFILES),
    s(
        "add from the profile source with a requested alias too",
        "!tz create einstein ae",
        SUCCESS,
    )
    .world(PROFILES),
    s(
        "add skips the auto-alias when it is taken",
        "!tz add newton",
        SUCCESS,
    )
    .world(PROFILES)
    .setup(&[Run(Stranger, r#"!tz add curie "isaac newton""#)]),
    s("add by a second user in a DM", "!tz add newton", SUCCESS)
        .by(Stranger)
        .at(Dm)
        .setup(EINSTEIN),
    // ---------------------------------------------------------------- remove
    s("remove without a personality", "!tz remove", INVALID),
    s(
        "remove an unknown personality",
        "!tz remove nobody",
        NOT_FOUND,
    ),
    s(
        "remove is refused to a non-owner",
        "!tz remove einstein",
        DENIED,
    )
    .by(Stranger)
    .setup(EINSTEIN),
    s(
        "remove by the owner, by alias",
        "!tz delete albert e",
        SUCCESS,
    )
    .setup(EINSTEIN),
    s(
        "remove by a bot owner takes activations and conversations along",
        "!tz remove einstein",
        SUCCESS,
    )
    .by(BotOwner)
    .setup(&[
        Run(Owner, r#"!tz add einstein "albert e""#),
        Run(Admin, "!tz activate einstein"),
        Talk(Owner, Nsfw, "einstein"),
    ]),
    // ---------------------------------------------------------------- info
    s("info without a personality", "!tz info", INVALID),
    s(
        "info of an unknown personality",
        "!tz info nobody",
        NOT_FOUND,
    ),
    s("info of a local personality", "!tz info einstein", SUCCESS)
        .by(Stranger)
        .setup(EINSTEIN),
    s("info by a multi-word alias", "!tz info albert e", SUCCESS)
        .at(Dm)
        .setup(EINSTEIN),
    s("info with a model and avatar", "!tz info einstein", SUCCESS).setup(&[Run(
        Owner,
        "!tz add einstein model:gpt-4o avatar:https://cdn.example.invalid/e.png",
    )]),
    s(
        "info of a fetched profile that is current",
        "!tz info albert einstein",
        SUCCESS,
    )
    .world(PROFILES)
    .setup(&[Run(Owner, "!tz add einstein")]),
    s(
        "info of a fetched profile that is stale",
        "!tz info einstein",
        SUCCESS,
    )
    .world(PROFILES)
    .setup(&[Run(Owner, "!tz add einstein"), Advance(DAY), Advance(DAY)]),
    // ---------------------------------------------------------------- alias
    s("alias with one word", "!tz alias einstein", INVALID).setup(EINSTEIN),
    s(
        "alias of an unknown personality",
        "!tz alias nobody nobo",
        NOT_FOUND,
    ),
    s(
        "alias by a non-owner is refused",
        "!tz alias einstein al",
        DENIED,
    )
    .by(Stranger)
    .setup(EINSTEIN),
    s(
        "alias that is invalid",
        concat!(
            "!tz alias einstein ",
            "a123456789b123456789c123456789d123456789e123456789f"
        ),
        INVALID,
    )
    .setup(EINSTEIN),
    s(
        "alias equal to a personality name",
        "!tz alias einstein newton",
        CONFLICT,
    )
    .setup(TWO_OWNERS),
    s(
        "alias already on this personality",
        "!tz alias einstein Albert E",
        INFO,
    )
    .setup(EINSTEIN),
    s(
        "alias moves from a personality the caller owns",
        "!tz alias newton albert e",
        SUCCESS,
    )
    .setup(&[
        Run(Owner, r#"!tz add einstein "albert e""#),
        Run(Owner, "!tz add newton"),
    ]),
    s(
        "alias moves for a bot owner",
        "!tz alias newton albert e",
        SUCCESS,
    )
    .by(BotOwner)
    .setup(TWO_OWNERS),
    s(
        "alias held by someone else's personality is refused",
        "!tz alias einstein isaac",
        CONFLICT,
    )
    .setup(TWO_OWNERS),
    s("alias added", "!tz alias einstein ae", SUCCESS).setup(EINSTEIN),
    s(
        "alias with several words",
        "!tz alias \"albert e\" the professor",
        SUCCESS,
    )
    .setup(EINSTEIN),
    s(
        "alias added by a bot owner to someone else's personality",
        "!tz alias einstein prof",
        SUCCESS,
    )
    .by(BotOwner)
    .at(Dm)
    .setup(EINSTEIN),
    // ---------------------------------------------------------------- list
    s(
        "list with a page that is not a number",
        "!tz list two",
        INVALID,
    )
    .setup(EINSTEIN),
    s("list with no personalities", "!tz list", INFO),
    s("list with a page out of range", "!tz list 3", INVALID).setup(EINSTEIN),
    s("list the first page", "!tz list", SUCCESS).setup(TWO_OWNERS),
    s("list the second page of twelve", "!tz list 2", SUCCESS).setup(TWELVE),
    s("list the first page of twelve", "!tz list 1", SUCCESS)
        .at(Dm)
        .setup(TWELVE),
    s(
        "list shows only the caller's personalities",
        "!tz list",
        SUCCESS,
    )
    .by(Stranger)
    .setup(TWO_OWNERS),
];
