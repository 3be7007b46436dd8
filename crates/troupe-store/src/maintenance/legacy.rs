//! Import of the original bot's JSON data files.
//!
//! A file that is not the expected JSON shape (not JSON, a wrong top-level type, an entry that
//! is not an object, a field of the wrong JSON type) is *malformed*: the import fails naming the
//! file and the entry, and nothing is imported. An entry of the right shape whose values the
//! domain refuses (an invalid or reserved name, an id of 0, an alias already taken, a
//! personality that does not exist, an expired token…) is *skipped*, and the report says why.
//! Everything is written in one transaction, and only what is not there yet: importing the same
//! files again changes nothing (every entry is then skipped as already present).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::Path;

use serde_json::{Map, Value};
use troupe_domain::auth::{AccessToken, UserAuth};
use troupe_domain::conversation::ConversationMode;
use troupe_domain::notifications::{NotificationLevel, Version};
use troupe_domain::personality::{
    Alias, AvatarUrl, DisplayName, ErrorMessage, PersonalityName, Prompt,
};
use troupe_domain::{ChannelId, MessageId, Timestamp, UserId};
use troupe_ports::{Clock as _, SystemClock};

use super::{MaintenanceError, io_error};
use crate::Store;
use crate::backend::{WritePool as _, db, on_pool};

/// What happened to one file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileReport {
    /// The file name, e.g. `aliases.json`.
    pub file: String,
    /// Whether the file was there (absent files are not an error).
    pub present: bool,
    /// Entries written.
    pub imported: u64,
    /// Entries not written: (entry, reason).
    pub skipped: Vec<(String, String)>,
    /// Fields dropped or altered in entries that were imported: (entry, what changed).
    pub altered: Vec<(String, String)>,
}

/// What an import did, per file, in the order the files were read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub files: Vec<FileReport>,
}

impl ImportReport {
    /// Entries written, over all files.
    pub fn imported(&self) -> u64 {
        self.files.iter().map(|f| f.imported).sum()
    }

    /// Entries skipped, over all files.
    pub fn skipped(&self) -> usize {
        self.files.iter().map(|f| f.skipped.len()).sum()
    }

    /// Fields dropped or altered, over all files.
    pub fn altered(&self) -> usize {
        self.files.iter().map(|f| f.altered.len()).sum()
    }

    fn alter(&mut self, file: &str, entry: impl Into<String>, change: impl Into<String>) {
        self.file(file).altered.push((entry.into(), change.into()));
    }

    fn file(&mut self, name: &str) -> &mut FileReport {
        if let Some(i) = self.files.iter().position(|f| f.file == name) {
            &mut self.files[i]
        } else {
            self.files.push(FileReport {
                file: name.to_owned(),
                ..FileReport::default()
            });
            self.files.last_mut().expect("just pushed")
        }
    }

    fn skip(&mut self, file: &str, entry: impl Into<String>, reason: impl Into<String>) {
        self.file(file).skipped.push((entry.into(), reason.into()));
    }

    fn imported_one(&mut self, file: &str) {
        self.file(file).imported += 1;
    }

    /// Imported when a row was written, else skipped as already present.
    fn outcome(&mut self, file: &str, entry: &str, written: u64) {
        if written == 0 {
            self.skip(file, entry, "already present");
        } else {
            self.imported_one(file);
        }
    }
}

impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "legacy import: {} imported, {} skipped, {} fields dropped or altered",
            self.imported(),
            self.skipped(),
            self.altered()
        )?;
        for file in &self.files {
            if !file.present {
                writeln!(f, "  {}: not present", file.file)?;
                continue;
            }
            writeln!(
                f,
                "  {}: {} imported, {} skipped",
                file.file,
                file.imported,
                file.skipped.len()
            )?;
            for (entry, reason) in &file.skipped {
                writeln!(f, "    - {entry}: {reason}")?;
            }
            for (entry, change) in &file.altered {
                writeln!(f, "    ~ {entry}: {change}")?;
            }
        }
        Ok(())
    }
}

const PERSONALITIES: &str = "personalities.json";
const ALIASES: &str = "aliases.json";
const TOKENS: &str = "auth_tokens.json";
const NSFW: &str = "nsfw_verified.json";
const CONVERSATIONS: &str = "conversations.json";
const MESSAGE_MAP: &str = "message_map.json";
const ACTIVATIONS: &str = "channel_activations.json";
const AUTO_RESPONSE: &str = "auto_response.json";
const PREFERENCES: &str = "releaseNotificationPreferences.json";

/// Every file, in import order.
const FILES: &[&str] = &[
    PERSONALITIES,
    ALIASES,
    TOKENS,
    NSFW,
    CONVERSATIONS,
    MESSAGE_MAP,
    ACTIVATIONS,
    AUTO_RESPONSE,
    PREFERENCES,
];

fn malformed(file: &str, entry: &str, reason: impl Into<String>) -> MaintenanceError {
    MaintenanceError::Malformed {
        file: file.to_owned(),
        entry: entry.to_owned(),
        reason: reason.into(),
    }
}

/// Field access that turns shape errors into `Malformed`.
struct Entry<'a> {
    file: &'a str,
    key: &'a str,
    map: &'a Map<String, Value>,
}

impl<'a> Entry<'a> {
    fn of(file: &'a str, key: &'a str, value: &'a Value) -> Result<Self, MaintenanceError> {
        match value {
            Value::Object(map) => Ok(Self { file, key, map }),
            _ => Err(malformed(file, key, "the entry is not a JSON object")),
        }
    }

    fn bad(&self, field: &str, expected: &str) -> MaintenanceError {
        malformed(
            self.file,
            self.key,
            format!("field {field:?} must be {expected}"),
        )
    }

    fn get(&self, field: &str) -> Option<&'a Value> {
        self.map.get(field).filter(|v| !v.is_null())
    }

    fn text(&self, field: &str) -> Result<Option<&'a str>, MaintenanceError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(self.bad(field, "a string")),
        }
    }

    fn flag(&self, field: &str) -> Result<Option<bool>, MaintenanceError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(self.bad(field, "true or false")),
        }
    }

    /// An id written as a string of digits or as a number (`None` when absent).
    fn id(&self, field: &str) -> Result<Option<String>, MaintenanceError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) if n.is_u64() => Ok(Some(n.to_string())),
            Some(_) => Err(self.bad(field, "an id (a string of digits)")),
        }
    }

    /// A time as epoch milliseconds or an ISO 8601 UTC string.
    fn time(&self, field: &str) -> Result<Option<Timestamp>, MaintenanceError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .or_else(|| n.as_f64().map(|f| f as i64))
                .map(|ms| Some(Timestamp::from_millis(ms)))
                .ok_or_else(|| self.bad(field, "a time")),
            Some(Value::String(s)) => parse_iso(s)
                .map(Some)
                .ok_or_else(|| self.bad(field, "a time (milliseconds or ISO 8601)")),
            Some(_) => Err(self.bad(field, "a time")),
        }
    }

    fn object(&self, field: &str) -> Result<Option<Entry<'a>>, MaintenanceError> {
        match self.get(field) {
            None => Ok(None),
            Some(v @ Value::Object(_)) => Entry::of(self.file, self.key, v).map(Some),
            Some(_) => Err(self.bad(field, "an object")),
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM)` → a timestamp.
fn parse_iso(s: &str) -> Option<Timestamp> {
    let s = s.trim();
    let num = |a: usize, b: usize| -> Option<i64> { s.get(a..b)?.parse().ok() };
    if s.len() < 19
        || s.as_bytes().get(4) != Some(&b'-')
        || s.as_bytes()
            .get(10)
            .is_none_or(|c| !matches!(c, b'T' | b' '))
    {
        return None;
    }
    let (y, mo, d, h, mi, sec) = (
        num(0, 4)?,
        num(5, 7)?,
        num(8, 10)?,
        num(11, 13)?,
        num(14, 16)?,
        num(17, 19)?,
    );
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut rest = &s[19..];
    let mut millis = 0i64;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits: String = frac.chars().take_while(char::is_ascii_digit).collect();
        rest = &frac[digits.len()..];
        let padded = format!("{digits:0<3}");
        millis = padded.get(..3)?.parse().ok()?;
    }
    let offset_min = match rest {
        "" | "Z" | "z" => 0,
        tz if tz.len() == 6 && (tz.starts_with('+') || tz.starts_with('-')) => {
            let sign = if tz.starts_with('-') { -1 } else { 1 };
            let oh: i64 = tz.get(1..3)?.parse().ok()?;
            let om: i64 = tz.get(4..6)?.parse().ok()?;
            sign * (oh * 60 + om)
        }
        _ => return None,
    };
    // Howard Hinnant's days-from-civil.
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec - offset_min * 60;
    Some(Timestamp::from_millis(secs * 1000 + millis))
}

/// The parsed personality of either legacy form.
struct LegacyPersonality {
    entry: String,
    name: PersonalityName,
    owner: UserId,
    display: DisplayName,
    avatar: Option<AvatarUrl>,
    error: Option<ErrorMessage>,
    fetched_at: Option<Timestamp>,
    created_at: Timestamp,
    updated_at: Timestamp,
    /// Aliases listed in the personality itself (later form), as written.
    own_aliases: Vec<String>,
}

/// (entry, user, channel, personality, time, is_dm, mention_only, message ids)
type LegacyConversation = (
    String,
    String,
    String,
    String,
    Option<Timestamp>,
    bool,
    bool,
    Vec<String>,
);

/// Everything read from the files, checked for shape; values are checked when applied.
#[derive(Default)]
struct Plan {
    personalities: Vec<LegacyPersonality>,
    /// (entry, alias as written, target as written: a name, or a later-form id, file).
    aliases: Vec<(String, String, String, &'static str)>,
    /// Later-form id → name as written.
    ids: HashMap<String, String>,
    tokens: Vec<(String, String, Option<Timestamp>, Option<Timestamp>)>,
    verifications: Vec<(String, bool, Option<Timestamp>)>,
    conversations: Vec<LegacyConversation>,
    /// (message, user, channel, personality, time)
    messages: Vec<(String, String, String, String, Option<Timestamp>)>,
    /// (channel, personality, by, time)
    activations: Vec<(String, String, String, Option<Timestamp>)>,
    auto_response: Vec<String>,
    /// (user, opted out, level, last notified)
    preferences: Vec<(String, bool, Option<String>, Option<String>)>,
}

fn read_json(dir: &Path, file: &str) -> Result<Option<Value>, MaintenanceError> {
    let path = dir.join(file);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| malformed(file, "(whole file)", format!("not valid JSON: {e}"))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_error(path, &e)),
    }
}

fn object_of<'a>(file: &str, value: &'a Value) -> Result<&'a Map<String, Value>, MaintenanceError> {
    value
        .as_object()
        .ok_or_else(|| malformed(file, "(whole file)", "the file must hold a JSON object"))
}

fn plan(dir: &Path, report: &mut ImportReport, now: Timestamp) -> Result<Plan, MaintenanceError> {
    let mut plan = Plan::default();
    let mut files: BTreeMap<&str, Value> = BTreeMap::new();
    for &file in FILES {
        let found = read_json(dir, file)?;
        report.file(file).present = found.is_some();
        if let Some(v) = found {
            files.insert(file, v);
        }
    }

    if let Some(v) = files.get(PERSONALITIES) {
        let top = object_of(PERSONALITIES, v)?;
        let later = top
            .get("personalities")
            .and_then(Value::as_object)
            .is_some_and(|m| !m.contains_key("fullName"));
        if later {
            for (key, value) in top["personalities"].as_object().into_iter().flatten() {
                let e = Entry::of(PERSONALITIES, key, value)?;
                let profile = e.object("profile")?;
                let raw_name = match profile
                    .as_ref()
                    .map(|p| p.text("name"))
                    .transpose()?
                    .flatten()
                {
                    Some(n) => n.to_owned(),
                    None => e.id("id")?.unwrap_or_else(|| key.clone()),
                };
                if let Some(id) = e.id("id")? {
                    plan.ids.insert(id, raw_name.clone());
                }
                plan.ids.insert(key.clone(), raw_name.clone());
                if e.flag("removed")? == Some(true) {
                    report.skip(PERSONALITIES, key, "marked removed in the legacy data");
                    continue;
                }
                let mut own_aliases = Vec::new();
                match e.get("aliases") {
                    None => {}
                    Some(Value::Array(list)) => {
                        for a in list {
                            let a = Entry::of(PERSONALITIES, key, a)?;
                            if let Some(text) = a.text("original")?.or(a.text("value")?) {
                                own_aliases.push(text.to_owned());
                            }
                        }
                    }
                    Some(_) => return Err(e.bad("aliases", "a list")),
                }
                let p = match &profile {
                    Some(p) => p,
                    None => &e,
                };
                if let Some(lp) = legacy_personality(
                    report,
                    key,
                    &raw_name,
                    e.id("ownerId")?,
                    p.text("displayName")?,
                    p.text("avatarUrl")?,
                    p.text("errorMessage")?,
                    p.time("lastFetched")?,
                    e.time("createdAt")?.unwrap_or(now),
                    e.time("updatedAt")?,
                    own_aliases,
                ) {
                    plan.personalities.push(lp);
                }
            }
            match top.get("aliases") {
                None | Some(Value::Null) => {}
                Some(Value::Object(map)) => {
                    for (alias, target) in map {
                        let Some(target) = target.as_str() else {
                            return Err(malformed(
                                PERSONALITIES,
                                alias,
                                "an alias must map to a personality id",
                            ));
                        };
                        plan.aliases.push((
                            alias.clone(),
                            alias.clone(),
                            target.to_owned(),
                            PERSONALITIES,
                        ));
                    }
                }
                Some(_) => return Err(malformed(PERSONALITIES, "aliases", "must be an object")),
            }
        } else {
            for (key, value) in top {
                let e = Entry::of(PERSONALITIES, key, value)?;
                let raw_name = e.text("fullName")?.unwrap_or(key).to_owned();
                if let Some(lp) = legacy_personality(
                    report,
                    key,
                    &raw_name,
                    e.id("addedBy")?,
                    e.text("displayName")?,
                    e.text("avatarUrl")?,
                    e.text("errorMessage")?,
                    e.time("lastUpdated")?,
                    e.time("addedAt")?.unwrap_or(now),
                    e.time("lastUpdated")?,
                    Vec::new(),
                ) {
                    plan.personalities.push(lp);
                }
            }
        }
    }

    if let Some(v) = files.get(ALIASES) {
        for (alias, target) in object_of(ALIASES, v)? {
            let Some(target) = target.as_str() else {
                return Err(malformed(
                    ALIASES,
                    alias,
                    "an alias must map to a personality name",
                ));
            };
            plan.aliases
                .push((alias.clone(), alias.clone(), target.to_owned(), ALIASES));
        }
    }

    if let Some(v) = files.get(TOKENS) {
        for (user, value) in object_of(TOKENS, v)? {
            let e = Entry::of(TOKENS, user, value)?;
            let token = e.text("token")?.ok_or_else(|| e.bad("token", "a string"))?;
            plan.tokens.push((
                user.clone(),
                token.to_owned(),
                e.time("createdAt")?,
                e.time("expiresAt")?,
            ));
        }
    }

    if let Some(v) = files.get(NSFW) {
        for (user, value) in object_of(NSFW, v)? {
            let e = Entry::of(NSFW, user, value)?;
            let at = match e.time("verifiedAt")? {
                Some(t) => Some(t),
                None => e.time("timestamp")?,
            };
            plan.verifications
                .push((user.clone(), e.flag("verified")?.unwrap_or(false), at));
        }
    }

    if let Some(v) = files.get(CONVERSATIONS) {
        for (key, value) in object_of(CONVERSATIONS, v)? {
            let e = Entry::of(CONVERSATIONS, key, value)?;
            let Some((user, channel)) = key.split_once('-') else {
                return Err(malformed(
                    CONVERSATIONS,
                    key,
                    "the key must be <userId>-<channelId>",
                ));
            };
            let personality = e
                .text("personalityName")?
                .ok_or_else(|| e.bad("personalityName", "a string"))?;
            let ids = match e.get("messageIds") {
                None => Vec::new(),
                Some(Value::Array(list)) => list
                    .iter()
                    .map(|m| match m {
                        Value::String(s) => Ok(s.clone()),
                        Value::Number(n) if n.is_u64() => Ok(n.to_string()),
                        _ => Err(e.bad("messageIds", "a list of ids")),
                    })
                    .collect::<Result<_, _>>()?,
                Some(_) => return Err(e.bad("messageIds", "a list of ids")),
            };
            plan.conversations.push((
                key.clone(),
                user.to_owned(),
                channel.to_owned(),
                personality.to_owned(),
                e.time("timestamp")?,
                e.flag("isDM")?.unwrap_or(false),
                e.flag("isMentionOnly")?.unwrap_or(false),
                ids,
            ));
        }
    }

    if let Some(v) = files.get(MESSAGE_MAP) {
        for (message, value) in object_of(MESSAGE_MAP, v)? {
            let e = Entry::of(MESSAGE_MAP, message, value)?;
            let personality = e
                .text("personalityName")?
                .ok_or_else(|| e.bad("personalityName", "a string"))?;
            plan.messages.push((
                message.clone(),
                e.id("userId")?.unwrap_or_default(),
                e.id("channelId")?.unwrap_or_default(),
                personality.to_owned(),
                e.time("timestamp")?,
            ));
        }
    }

    if let Some(v) = files.get(ACTIVATIONS) {
        for (channel, value) in object_of(ACTIVATIONS, v)? {
            let e = Entry::of(ACTIVATIONS, channel, value)?;
            let personality = e
                .text("personalityName")?
                .ok_or_else(|| e.bad("personalityName", "a string"))?;
            plan.activations.push((
                channel.clone(),
                personality.to_owned(),
                e.id("activatedBy")?.unwrap_or_default(),
                e.time("timestamp")?,
            ));
        }
    }

    if let Some(v) = files.get(AUTO_RESPONSE) {
        let Value::Array(list) = v else {
            return Err(malformed(
                AUTO_RESPONSE,
                "(whole file)",
                "the file must hold a list of user ids",
            ));
        };
        for (i, user) in list.iter().enumerate() {
            match user {
                Value::String(s) => plan.auto_response.push(s.clone()),
                Value::Number(n) if n.is_u64() => plan.auto_response.push(n.to_string()),
                _ => {
                    return Err(malformed(
                        AUTO_RESPONSE,
                        &format!("#{i}"),
                        "must be a user id",
                    ));
                }
            }
        }
    }

    if let Some(v) = files.get(PREFERENCES) {
        for (user, value) in object_of(PREFERENCES, v)? {
            let e = Entry::of(PREFERENCES, user, value)?;
            plan.preferences.push((
                user.clone(),
                e.flag("optedOut")?.unwrap_or(false),
                e.text("notificationLevel")?.map(str::to_owned),
                e.text("lastNotified")?.map(str::to_owned),
            ));
        }
    }
    Ok(plan)
}

#[allow(clippy::too_many_arguments)]
fn legacy_personality(
    report: &mut ImportReport,
    key: &str,
    raw_name: &str,
    owner: Option<String>,
    display: Option<&str>,
    avatar: Option<&str>,
    error: Option<&str>,
    fetched_at: Option<Timestamp>,
    created_at: Timestamp,
    updated_at: Option<Timestamp>,
    own_aliases: Vec<String>,
) -> Option<LegacyPersonality> {
    let name = match PersonalityName::parse(raw_name) {
        Ok(n) => n,
        Err(e) => {
            report.skip(PERSONALITIES, key, format!("invalid name: {e}"));
            return None;
        }
    };
    let Some(owner) = owner.and_then(|o| UserId::parse(&o).ok()) else {
        report.skip(PERSONALITIES, key, "no valid owner id");
        return None;
    };
    // A field the new system refuses is dropped, and the report says so (never silently).
    let mut kept = |field: &str, raw: Option<&str>, parsed: Result<(), String>, instead: &str| {
        if let (Some(raw), Err(why)) = (raw, parsed) {
            let shown: String = raw.chars().take(40).collect();
            let more = if raw.chars().count() > 40 { "…" } else { "" };
            report.alter(
                PERSONALITIES,
                key,
                format!("{field} {shown:?}{more} dropped ({why}); {instead}"),
            );
        }
    };
    let display = display.and_then(|d| match DisplayName::parse(d) {
        Ok(v) => Some(v),
        Err(e) => {
            kept(
                "displayName",
                Some(d),
                Err(e.to_string()),
                "the name is shown instead",
            );
            None
        }
    });
    let avatar = avatar.and_then(|a| match AvatarUrl::parse(a) {
        Ok(v) => Some(v),
        Err(e) => {
            kept("avatarUrl", Some(a), Err(e.to_string()), "no avatar");
            None
        }
    });
    let error = error.and_then(|m| match ErrorMessage::parse(m) {
        Ok(v) => Some(v),
        Err(e) => {
            kept(
                "errorMessage",
                Some(m),
                Err(e.to_string()),
                "the bot's own error messages are used",
            );
            None
        }
    });
    Some(LegacyPersonality {
        entry: key.to_owned(),
        display: display.unwrap_or_else(|| DisplayName::from_name(&name)),
        avatar,
        error,
        fetched_at,
        created_at,
        updated_at: updated_at.unwrap_or(created_at),
        owner,
        name,
        own_aliases,
    })
}

/// Imports the original bot's data files from `dir` into `store`, in one transaction, adding
/// only what is not there yet. See the module documentation for malformed versus skipped.
pub async fn import_legacy(store: &Store, dir: &Path) -> Result<ImportReport, MaintenanceError> {
    import_legacy_with(store, dir, false).await
}

/// [`import_legacy`]; with `strict`, an import that would skip an entry or drop or alter a
/// field is refused before anything is written, with the report as the reason.
pub async fn import_legacy_with(
    store: &Store,
    dir: &Path,
    strict: bool,
) -> Result<ImportReport, MaintenanceError> {
    if !dir.is_dir() {
        return Err(MaintenanceError::Invalid(format!(
            "{} is not a directory",
            dir.display()
        )));
    }
    let now = SystemClock.now();
    let mut report = ImportReport::default();
    let plan = plan(dir, &mut report, now)?;
    if strict && (report.skipped() > 0 || report.altered() > 0) {
        return Err(MaintenanceError::Invalid(format!(
            "--strict: nothing imported, because the import would change data:\n{report}"
        )));
    }
    apply(store, plan, &mut report, now).await?;
    Ok(report)
}

fn id_or_skip<T>(
    report: &mut ImportReport,
    file: &str,
    entry: &str,
    what: &str,
    raw: &str,
    parse: impl Fn(&str) -> Result<T, troupe_domain::IdError>,
) -> Option<T> {
    match parse(raw) {
        Ok(id) => Some(id),
        Err(e) => {
            report.skip(file, entry, format!("invalid {what} id {raw:?}: {e}"));
            None
        }
    }
}

async fn apply(
    store: &Store,
    plan: Plan,
    report: &mut ImportReport,
    now: Timestamp,
) -> Result<(), MaintenanceError> {
    on_pool!(store.backend(), |pool| {
        let mut tx = pool.begin_registry().await?;
        // The registry's key space: name keys and alias keys → the name holding them.
        let mut names: HashMap<String, String> = HashMap::new();
        let mut alias_keys: HashMap<String, String> = HashMap::new();
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT name_key, name FROM personalities")
                .fetch_all(&mut *tx)
                .await
                .map_err(db)?;
        names.extend(rows);
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT alias_key, personality_key FROM aliases")
                .fetch_all(&mut *tx)
                .await
                .map_err(db)?;
        alias_keys.extend(rows);
        let mut positions: HashMap<String, i64> = HashMap::new();

        let mut later_aliases = Vec::new();
        for p in plan.personalities {
            let key = p.name.key().to_owned();
            if names.contains_key(&key) {
                report.skip(PERSONALITIES, &p.entry, "already present");
                continue;
            }
            if let Some(owner) = alias_keys.get(&key) {
                report.skip(
                    PERSONALITIES,
                    &p.entry,
                    format!("the name is an alias of {owner}"),
                );
                continue;
            }
            sqlx::query(
                "INSERT INTO personalities (name_key, name, owner_id, display_name, display_key, \
                 avatar_url, error_message, prompt, model, fetched_at, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, $9, $10, $11)",
            )
            .bind(&key)
            .bind(p.name.as_str())
            .bind(p.owner.to_i64())
            .bind(p.display.as_str())
            .bind(p.display.key())
            .bind(p.avatar.as_ref().map(AvatarUrl::as_str))
            .bind(p.error.as_ref().map(ErrorMessage::as_str))
            .bind(Prompt::default_for(&p.name).as_str())
            .bind(p.fetched_at.map(Timestamp::as_millis))
            .bind(p.created_at.as_millis())
            .bind(p.updated_at.as_millis())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
            names.insert(key, p.name.as_str().to_owned());
            report.imported_one(PERSONALITIES);
            for a in p.own_aliases {
                later_aliases.push((
                    format!("{} (of {})", a, p.entry),
                    a,
                    p.name.as_str().to_owned(),
                    PERSONALITIES,
                ));
            }
        }

        let listed = plan.aliases.into_iter();
        for (entry, raw_alias, target, file) in later_aliases.into_iter().chain(listed) {
            let target_name = plan.ids.get(&target).cloned().unwrap_or(target);
            let Ok(alias) = Alias::parse(&raw_alias) else {
                report.skip(file, &entry, "invalid alias");
                continue;
            };
            let Some(owner_key) = PersonalityName::parse(&target_name)
                .ok()
                .map(|n| n.key().to_owned())
                .filter(|k| names.contains_key(k))
            else {
                report.skip(
                    file,
                    &entry,
                    format!("personality {target_name:?} does not exist"),
                );
                continue;
            };
            if let Some(holder) = alias_keys.get(alias.key()) {
                let reason = if *holder == owner_key {
                    "already present".to_owned()
                } else {
                    format!("already an alias of {holder}")
                };
                report.skip(file, &entry, reason);
                continue;
            }
            if let Some(named) = names.get(alias.key()) {
                report.skip(file, &entry, format!("equals the name of {named}"));
                continue;
            }
            let position = if let Some(p) = positions.get(&owner_key) {
                *p
            } else {
                let max: Option<i64> = sqlx::query_scalar(
                    "SELECT MAX(position) FROM aliases WHERE personality_key = $1",
                )
                .bind(&owner_key)
                .fetch_one(&mut *tx)
                .await
                .map_err(db)?;
                max.map_or(0, |m| m + 1)
            };
            positions.insert(owner_key.clone(), position + 1);
            sqlx::query("INSERT INTO aliases (alias_key, alias, personality_key, position) VALUES ($1, $2, $3, $4)")
                .bind(alias.key())
                .bind(alias.as_str())
                .bind(&owner_key)
                .bind(position)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            alias_keys.insert(alias.key().to_owned(), owner_key);
            report.imported_one(file);
        }

        // Resolves a personality reference (a name, or a later-form id) to an existing key.
        let resolve = |raw: &str| -> Option<String> {
            let name = plan.ids.get(raw).map_or(raw, String::as_str);
            PersonalityName::parse(name)
                .ok()
                .map(|n| n.key().to_owned())
                .filter(|k| names.contains_key(k))
        };

        for (user, token, created, expires) in plan.tokens {
            let Some(uid) = id_or_skip(report, TOKENS, &user, "user", &user, UserId::parse) else {
                continue;
            };
            let Ok(token) = AccessToken::parse(&token) else {
                report.skip(TOKENS, &user, "the token is not a valid token");
                continue;
            };
            let Some(expires) = expires else {
                report.skip(TOKENS, &user, "no expiry time");
                continue;
            };
            if expires <= now {
                report.skip(TOKENS, &user, "expired");
                continue;
            }
            let auth = UserAuth {
                user: uid,
                token,
                created_at: created.unwrap_or(now),
                expires_at: expires,
            };
            let Ok(sealed) = store.cipher().encrypt(uid, &auth.token) else {
                report.skip(
                    TOKENS,
                    &user,
                    "no token key configured (set TROUPE_TOKEN_KEY and import again)",
                );
                continue;
            };
            let done = sqlx::query(
                "INSERT INTO auth_tokens (user_id, token_ciphertext, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (user_id) DO NOTHING",
            )
            .bind(uid.to_i64())
            .bind(sealed.as_slice())
            .bind(auth.created_at.as_millis())
            .bind(auth.expires_at.as_millis())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
            report.outcome(TOKENS, &user, done.rows_affected());
        }

        for (user, verified, at) in plan.verifications {
            let Some(uid) = id_or_skip(report, NSFW, &user, "user", &user, UserId::parse) else {
                continue;
            };
            if !verified {
                report.skip(NSFW, &user, "not verified");
                continue;
            }
            let done = sqlx::query("INSERT INTO age_verifications (user_id, verified_at) VALUES ($1, $2) ON CONFLICT (user_id) DO NOTHING")
                .bind(uid.to_i64())
                .bind(at.unwrap_or(now).as_millis())
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            report.outcome(NSFW, &user, done.rows_affected());
        }

        for (entry, user, channel, personality, at, is_dm, mention_only, ids) in plan.conversations
        {
            let Some(uid) = id_or_skip(report, CONVERSATIONS, &entry, "user", &user, UserId::parse)
            else {
                continue;
            };
            let Some(cid) = id_or_skip(
                report,
                CONVERSATIONS,
                &entry,
                "channel",
                &channel,
                ChannelId::parse,
            ) else {
                continue;
            };
            let Some(key) = resolve(&personality) else {
                report.skip(
                    CONVERSATIONS,
                    &entry,
                    format!("personality {personality:?} does not exist"),
                );
                continue;
            };
            let at = at.unwrap_or(now);
            let mode = if mention_only {
                ConversationMode::MentionOnly
            } else {
                ConversationMode::Continuation
            };
            let mode = match mode {
                ConversationMode::Continuation => "continuation",
                ConversationMode::MentionOnly => "mention_only",
            };
            let done = sqlx::query(
                "INSERT INTO conversations (user_id, channel_id, personality_key, last_activity, mode, is_dm) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (user_id, channel_id) DO NOTHING",
            )
            .bind(uid.to_i64())
            .bind(cid.to_i64())
            .bind(&key)
            .bind(at.as_millis())
            .bind(mode)
            .bind(is_dm)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
            report.outcome(CONVERSATIONS, &entry, done.rows_affected());
            for raw in ids {
                let Ok(mid) = MessageId::parse(&raw) else {
                    report.skip(
                        CONVERSATIONS,
                        format!("{entry} message {raw}"),
                        "invalid message id",
                    );
                    continue;
                };
                sqlx::query(
                    "INSERT INTO message_map (message_id, channel_id, personality_key, user_id, at) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (message_id) DO NOTHING",
                )
                .bind(mid.to_i64())
                .bind(cid.to_i64())
                .bind(&key)
                .bind(uid.to_i64())
                .bind(at.as_millis())
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            }
        }

        for (message, user, channel, personality, at) in plan.messages {
            let Some(mid) = id_or_skip(
                report,
                MESSAGE_MAP,
                &message,
                "message",
                &message,
                MessageId::parse,
            ) else {
                continue;
            };
            let Some(uid) = id_or_skip(report, MESSAGE_MAP, &message, "user", &user, UserId::parse)
            else {
                continue;
            };
            let Some(cid) = id_or_skip(
                report,
                MESSAGE_MAP,
                &message,
                "channel",
                &channel,
                ChannelId::parse,
            ) else {
                continue;
            };
            let Some(key) = resolve(&personality) else {
                report.skip(
                    MESSAGE_MAP,
                    &message,
                    format!("personality {personality:?} does not exist"),
                );
                continue;
            };
            let done = sqlx::query(
                "INSERT INTO message_map (message_id, channel_id, personality_key, user_id, at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (message_id) DO NOTHING",
            )
            .bind(mid.to_i64())
            .bind(cid.to_i64())
            .bind(&key)
            .bind(uid.to_i64())
            .bind(at.unwrap_or(now).as_millis())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
            report.outcome(MESSAGE_MAP, &message, done.rows_affected());
        }

        for (channel, personality, by, at) in plan.activations {
            let Some(cid) = id_or_skip(
                report,
                ACTIVATIONS,
                &channel,
                "channel",
                &channel,
                ChannelId::parse,
            ) else {
                continue;
            };
            let Some(uid) = id_or_skip(
                report,
                ACTIVATIONS,
                &channel,
                "activating user",
                &by,
                UserId::parse,
            ) else {
                continue;
            };
            let Some(key) = resolve(&personality) else {
                report.skip(
                    ACTIVATIONS,
                    &channel,
                    format!("personality {personality:?} does not exist"),
                );
                continue;
            };
            let done = sqlx::query(
                "INSERT INTO channel_activations (channel_id, personality_key, activated_by, activated_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (channel_id) DO NOTHING",
            )
            .bind(cid.to_i64())
            .bind(&key)
            .bind(uid.to_i64())
            .bind(at.unwrap_or(now).as_millis())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
            report.outcome(ACTIVATIONS, &channel, done.rows_affected());
        }

        for user in plan.auto_response {
            let Some(uid) = id_or_skip(report, AUTO_RESPONSE, &user, "user", &user, UserId::parse)
            else {
                continue;
            };
            let done = sqlx::query("INSERT INTO autorespond (user_id, enabled) VALUES ($1, TRUE) ON CONFLICT (user_id) DO NOTHING")
                .bind(uid.to_i64())
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            report.outcome(AUTO_RESPONSE, &user, done.rows_affected());
        }

        for (user, opted_out, level, last) in plan.preferences {
            let Some(uid) = id_or_skip(report, PREFERENCES, &user, "user", &user, UserId::parse)
            else {
                continue;
            };
            let raw_level = level.as_deref().unwrap_or("minor");
            let Some(level) = NotificationLevel::parse(raw_level) else {
                report.skip(
                    PREFERENCES,
                    &user,
                    format!("unknown notification level {raw_level:?}"),
                );
                continue;
            };
            let last = last
                .as_deref()
                .and_then(Version::parse)
                .map(|v| v.to_string());
            let done = sqlx::query(
                "INSERT INTO notification_preferences (user_id, opted_in, level, last_notified) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (user_id) DO NOTHING",
            )
            .bind(uid.to_i64())
            .bind(!opted_out)
            .bind(level.as_str())
            .bind(last)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
            report.outcome(PREFERENCES, &user, done.rows_affected());
        }

        tx.commit().await.map_err(db)?;
        Ok::<_, MaintenanceError>(())
    })?;
    store.read_model_reload().await;
    Ok(())
}
