//! The console adapter: talk to Troupe from a terminal, without Discord. Reads lines from
//! standard input, prints the bot's answers, exits 0 at end of input (so it can be scripted).

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use tokio::io::{AsyncBufReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use troupe_application::dispatch::Dispatched;
use troupe_application::flow::{Author, FlowConfig, FlowOutcome, IncomingMessage, MessageFlow};
use troupe_application::{FollowUp, Invoker, Location, Permissions, RequestSource};
use troupe_domain::{ChannelId, GuildId, MessageId, UserId};
use troupe_ports::{
    ChatPlatform, DmMessage, DmMessageKind, OutgoingMessage, PersonaIdentity, PlatformError,
    PlatformStatus,
};

use crate::wiring::App;

/// The simulated guild, its age-restricted channel, and the DM channel.
const GUILD: u64 = 1_000_000_000_000_001;
const CHANNEL: u64 = 1_000_000_000_000_010;
const DM_CHANNEL: u64 = 1_000_000_000_000_020;
/// The speaker when no bot owner is configured.
const LOCAL_USER: u64 = 1_000_000_000_000_100;

/// A [`ChatPlatform`] that prints to a buffer the console flushes after each line.
#[derive(Debug, Default)]
pub struct ConsolePlatform {
    out: Mutex<Vec<String>>,
    dm: Mutex<VecDeque<DmMessage>>,
    next_id: AtomicU64,
}

impl ConsolePlatform {
    pub fn new() -> Self {
        Self {
            next_id: AtomicU64::new(2_000_000_000_000_000),
            ..Self::default()
        }
    }

    fn id(&self) -> MessageId {
        MessageId::new(self.next_id.fetch_add(1, Ordering::Relaxed))
            .unwrap_or(MessageId::new(1).expect("1 is a valid id"))
    }

    fn print(&self, line: String) {
        if let Ok(mut out) = self.out.lock() {
            out.push(line);
        }
    }

    /// Records a message the bot sent in the DM channel (for `purgbot`).
    fn remember_dm(&self, id: MessageId, kind: DmMessageKind) {
        if let Ok(mut dm) = self.dm.lock() {
            dm.push_front(DmMessage { id, kind });
        }
    }

    fn take_output(&self) -> Vec<String> {
        self.out
            .lock()
            .map(|mut o| std::mem::take(&mut *o))
            .unwrap_or_default()
    }
}

#[async_trait]
impl ChatPlatform for ConsolePlatform {
    fn status(&self) -> PlatformStatus {
        PlatformStatus {
            latency: None,
            guilds: 1,
        }
    }
    async fn send_dm(
        &self,
        _user: UserId,
        message: OutgoingMessage,
    ) -> Result<MessageId, PlatformError> {
        let id = self.id();
        self.print(format!("[DM] {}", render_message(&message)));
        self.remember_dm(id, DmMessageKind::System);
        Ok(id)
    }
    async fn send_message(
        &self,
        channel: ChannelId,
        message: OutgoingMessage,
    ) -> Result<MessageId, PlatformError> {
        let id = self.id();
        self.print(render_message(&message));
        if channel.get() == DM_CHANNEL {
            self.remember_dm(id, DmMessageKind::System);
        }
        Ok(id)
    }
    async fn send_as_personality(
        &self,
        channel: ChannelId,
        persona: &PersonaIdentity,
        text: &str,
    ) -> Result<MessageId, PlatformError> {
        let id = self.id();
        self.print(format!("{}: {text}", persona.display_name));
        if channel.get() == DM_CHANNEL {
            self.remember_dm(id, DmMessageKind::Personality);
        }
        Ok(id)
    }
    async fn delete_message(
        &self,
        _channel: ChannelId,
        message: MessageId,
    ) -> Result<(), PlatformError> {
        if let Ok(mut dm) = self.dm.lock() {
            dm.retain(|m| m.id != message);
        }
        Ok(())
    }
    async fn trigger_typing(&self, _channel: ChannelId) -> Result<(), PlatformError> {
        Ok(())
    }
    async fn dm_history(
        &self,
        _channel: ChannelId,
        before: Option<MessageId>,
        limit: u8,
    ) -> Result<Vec<DmMessage>, PlatformError> {
        let dm = self
            .dm
            .lock()
            .map_err(|_| PlatformError::Unexpected("console state poisoned".into()))?;
        Ok(dm
            .iter()
            .filter(|m| before.is_none_or(|b| m.id < b))
            .take(usize::from(limit))
            .cloned()
            .collect())
    }
    async fn clear_webhook_cache(&self) -> u64 {
        0
    }
    async fn webhook_cache_size(&self) -> u64 {
        0
    }
}

fn render_message(message: &OutgoingMessage) -> String {
    let mut out = message.content.clone();
    if let Some(embed) = &message.embed {
        if !embed.title.is_empty() {
            out.push_str(&format!("\n== {} ==", embed.title));
        }
        if !embed.description.is_empty() {
            out.push('\n');
            out.push_str(&embed.description);
        }
        for field in &embed.fields {
            out.push_str(&format!("\n{}: {}", field.name, field.value));
        }
    }
    out.trim().to_owned()
}

/// Renders a command outcome as readable text.
pub fn render_outcome(d: &Dispatched) -> String {
    let Some(reply) = &d.outcome.reply else {
        return String::new();
    };
    let mut out = String::new();
    if let Some(title) = &reply.title {
        out.push_str(&format!("== {title} ==\n"));
    }
    if !reply.text.is_empty() {
        out.push_str(&reply.text);
        out.push('\n');
    }
    for field in &reply.fields {
        out.push_str(&format!("{}: {}\n", field.name, field.value));
    }
    for follow_up in &d.outcome.follow_ups {
        if let FollowUp::SendDm { message, .. } = follow_up {
            out.push_str(&format!("[DM] {}\n", render_message(message)));
        }
    }
    out
}

/// Who is speaking and where.
#[derive(Debug, Clone, Copy)]
struct Speaker {
    user: UserId,
    admin: bool,
    in_dm: bool,
}

const HELP: &str = "Console commands:\n  :help          this list\n  :dm            talk in a direct message\n  :guild         talk in the simulated age-restricted server channel (default)\n  :as <user id>  speak as another user (a member without permissions)\n  :quit          leave (end of input works too)\nOther lines starting with `:` and a letter are refused; everything else is sent as a message, e.g. `!tz help`.";

/// Longest input line read; a longer one is answered with an error line and skipped.
const MAX_LINE_BYTES: usize = 64 * 1024;

/// Discord markdown as terminal text: backslash escapes removed, `**bold**` and `*italic*` /
/// `_italic_` as terminal styles when `styled` (standard output is a terminal), else their
/// markers dropped. Code spans are kept as written.
pub fn terminal_text(text: &str, styled: bool) -> String {
    let (bold_on, bold_off, it_on, it_off) = if styled {
        ("\x1b[1m", "\x1b[22m", "\x1b[3m", "\x1b[23m")
    } else {
        ("", "", "", "")
    };
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let (mut bold, mut italic, mut code) = (false, None::<char>, false);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if code {
            out.push(c);
            code = c != '`';
            i += 1;
            continue;
        }
        match c {
            '\\' if next.is_some_and(|n| n.is_ascii_punctuation()) => {
                out.extend(next);
                i += 2;
                continue;
            }
            '`' => {
                code = chars[i + 1..].contains(&'`');
                out.push(c);
            }
            '*' if next == Some('*') => {
                let closes = bold || chars[i + 2..].windows(2).any(|w| w == ['*', '*']);
                if closes {
                    out.push_str(if bold { bold_off } else { bold_on });
                    bold = !bold;
                } else {
                    out.push_str("**");
                }
                i += 2;
                continue;
            }
            '*' | '_' => {
                let prev = i.checked_sub(1).map(|p| chars[p]);
                let opens = italic.is_none()
                    && next.is_some_and(|n| !n.is_whitespace())
                    && prev.is_none_or(|p| !p.is_alphanumeric())
                    && chars[i + 1..].contains(&c);
                let closes = italic == Some(c)
                    && prev.is_some_and(|p| !p.is_whitespace())
                    && next.is_none_or(|n| !n.is_alphanumeric());
                if opens {
                    out.push_str(it_on);
                    italic = Some(c);
                } else if closes {
                    out.push_str(it_off);
                    italic = None;
                } else {
                    out.push(c);
                }
            }
            _ => out.push(c),
        }
        i += 1;
    }
    if bold {
        out.push_str(bold_off);
    }
    if italic.is_some() {
        out.push_str(it_off);
    }
    out
}

/// Message ids of this console, Snowflake-style: the time since the Discord epoch (unique
/// across restarts), a worker number from the process id (two consoles on one store never
/// share an id — the guard would drop the second as a replay) and a sequence; strictly
/// increasing within a process (256 ids a millisecond, then the next millisecond is borrowed).
struct MessageIds {
    worker: u64,
    millis: u64,
    sequence: u64,
}

impl MessageIds {
    const WORKER_BITS: u32 = 14;
    const SEQUENCE_BITS: u32 = 8;

    fn new(worker: u32) -> Self {
        Self {
            worker: u64::from(worker) & ((1 << Self::WORKER_BITS) - 1),
            millis: 0,
            sequence: 0,
        }
    }

    fn next(&mut self, now_millis: i64) -> MessageId {
        let since_epoch = u64::try_from(now_millis - 1_420_070_400_000).unwrap_or(1);
        if since_epoch > self.millis {
            self.millis = since_epoch;
            self.sequence = 0;
        } else {
            self.sequence += 1;
            if self.sequence >> Self::SEQUENCE_BITS != 0 {
                self.millis += 1;
                self.sequence = 0;
            }
        }
        let id = (self.millis << (Self::WORKER_BITS + Self::SEQUENCE_BITS))
            | (self.worker << Self::SEQUENCE_BITS)
            | self.sequence;
        MessageId::new(id).expect("a nonzero id")
    }
}

/// Runs the console over standard input and output (styled when standard output is a
/// terminal).
pub async fn run(app: App, platform: std::sync::Arc<ConsolePlatform>) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    let styled = std::io::stdout().is_terminal();
    let stdin = BufReader::new(tokio::io::stdin());
    let mut stdout = tokio::io::stdout();
    run_with(app, platform, stdin, &mut stdout, styled).await
}

/// Runs the console over any reader and writer (tests drive it with strings).
pub async fn run_with<R, W>(
    app: App,
    platform: std::sync::Arc<ConsolePlatform>,
    mut input: R,
    output: &mut W,
    styled: bool,
) -> anyhow::Result<()>
where
    R: tokio::io::AsyncBufRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let owner = app.config.bot_owners.iter().next().copied();
    let default_user = owner.unwrap_or(UserId::new(LOCAL_USER).expect("valid id"));
    let mut speaker = Speaker {
        user: default_user,
        admin: true,
        in_dm: false,
    };
    let mut ids = MessageIds::new(std::process::id());
    // The console has no proxy systems, so the flow answers at once.
    let flow = app.ai.as_ref().map(|ai| {
        MessageFlow::new(
            app.deps.clone(),
            std::sync::Arc::clone(ai),
            std::sync::Arc::new(crate::wiring::TokioPause),
            FlowConfig {
                proxy_recheck: std::time::Duration::ZERO,
                ..FlowConfig::default()
            },
        )
    });
    output
        .write_all(
            format!(
                "Troupe console ({}). Type `{} help` for commands, `:help` for console commands.\n",
                app.config.database_label(),
                app.config.prefix
            )
            .as_bytes(),
        )
        .await?;
    if app.ai.is_some() {
        let (model, defaulted) = crate::wiring::ai_model(&app.config);
        let note = if defaulted {
            " (the default; set TROUPE_AI_MODEL to change it)"
        } else {
            ""
        };
        output
            .write_all(format!("AI model: {model}{note}.\n").as_bytes())
            .await?;
    }
    let mut raw = Vec::new();
    let mut number = 0_u64;
    loop {
        raw.clear();
        if input.read_until(b'\n', &mut raw).await? == 0 {
            break;
        }
        number += 1;
        // A line that is not UTF-8 (or absurdly long) is refused on its own; the rest runs.
        let decoded = match std::str::from_utf8(&raw) {
            _ if raw.len() > MAX_LINE_BYTES => Err(format!(
                "(Line {number} skipped: longer than {MAX_LINE_BYTES} bytes.)"
            )),
            Ok(text) => Ok(text.to_owned()),
            Err(e) => Err(format!(
                "(Line {number} skipped: it is not valid UTF-8 (bad byte at position {}).)",
                e.valid_up_to() + 1
            )),
        };
        let line = match decoded {
            Ok(line) => line,
            Err(note) => {
                output.write_all(note.as_bytes()).await?;
                output.write_all(b"\n").await?;
                output.flush().await?;
                continue;
            }
        };
        let line = line.trim_end_matches(['\r', '\n']);
        let trimmed = line.trim();
        let directive = trimmed
            .strip_prefix(':')
            .filter(|rest| rest.starts_with(|c: char| c.is_ascii_alphabetic()))
            .map(|rest| {
                let word = rest.split_whitespace().next().unwrap_or_default();
                (
                    word.to_ascii_lowercase(),
                    rest[word.len()..].trim().to_owned(),
                )
            });
        let reply = match directive.as_ref().map(|(w, a)| (w.as_str(), a.as_str())) {
            _ if trimmed.is_empty() => continue,
            Some(("quit" | "q", _)) => break,
            Some(("help", _)) => HELP.to_owned(),
            Some(("dm", _)) => {
                speaker.in_dm = true;
                "Now talking in a direct message.".to_owned()
            }
            Some(("guild", _)) => {
                speaker.in_dm = false;
                "Now talking in the server channel #general (age-restricted).".to_owned()
            }
            Some(("as", user)) => match UserId::parse(user) {
                Ok(user) => {
                    speaker = Speaker {
                        user,
                        admin: user == default_user,
                        in_dm: speaker.in_dm,
                    };
                    format!("Now speaking as {user}.")
                }
                Err(e) => format!("Usage: :as <user id> ({e})"),
            },
            Some((word, _)) => format!(
                "Unknown console command `:{word}` (not sent as a message). Type `:help` for the list."
            ),
            None => {
                let id = ids.next(app.deps.clock.now().as_millis());
                handle_message(&app, &platform, flow.as_ref(), speaker, line, id).await
            }
        };
        let mut printed: Vec<String> = platform.take_output();
        if !reply.is_empty() {
            printed.push(reply);
        }
        for text in printed {
            let text = terminal_text(text.trim_end(), styled);
            output.write_all(text.as_bytes()).await?;
            output.write_all(b"\n").await?;
        }
        output.flush().await?;
    }
    Ok(())
}

async fn handle_message(
    app: &App,
    platform: &ConsolePlatform,
    flow: Option<&MessageFlow>,
    speaker: Speaker,
    line: &str,
    id: MessageId,
) -> String {
    let invoker = Invoker {
        id: speaker.user,
        display_name: format!("user-{}", speaker.user),
        is_bot_owner: app.config.bot_owners.contains(&speaker.user),
        permissions: if speaker.in_dm || !speaker.admin {
            Permissions::default()
        } else {
            Permissions {
                administrator: true,
                manage_messages: true,
            }
        },
        via_proxy: false,
    };
    let channel =
        ChannelId::new(if speaker.in_dm { DM_CHANNEL } else { CHANNEL }).expect("valid id");
    let location = if speaker.in_dm {
        Location::Dm { channel }
    } else {
        Location::Guild {
            guild: GuildId::new(GUILD).expect("valid id"),
            channel,
            age_restricted: true,
            visible_age_restricted: vec![(channel, "general".into())],
        }
    };
    let now = app.deps.clock.now();
    let author = Author {
        id: speaker.user,
        display_name: invoker.display_name.clone(),
        is_bot: false,
        is_own_webhook: false,
        via_proxy: false,
    };
    match app
        .dispatcher
        .dispatch_text(
            line,
            invoker,
            location.clone(),
            RequestSource::Message(id),
            now,
        )
        .await
    {
        Some(mut dispatched) => {
            if let Some(suppressed) = dispatched.suppressed {
                return suppressed.note().to_owned();
            }
            let text = render_outcome(&dispatched);
            if speaker.in_dm && dispatched.outcome.reply.is_some() {
                platform.remember_dm(platform.id(), DmMessageKind::System);
            }
            if let Some(job) = dispatched.take_shadow_job() {
                crate::wiring::run_shadow(job).await;
            }
            text
        }
        None => match flow {
            Some(flow) => {
                let message = IncomingMessage {
                    id,
                    author,
                    location,
                    content: line.to_owned(),
                    reply_to: None,
                    quoted: None,
                    images: Vec::new(),
                    received_at: now,
                };
                match flow.process(&message).await {
                    FlowOutcome::Ignored => format!(
                        "(Nobody answered: mention a personality, e.g. `{}name hello`, or see `{} list`.)",
                        app.config.mention_char, app.config.prefix
                    ),
                    _ => String::new(),
                }
            }
            None => format!(
                "(Not a command. Talking to personalities needs an AI provider: set TROUPE_AI_BASE_URL to an OpenAI-compatible endpoint; try `{} help`.)",
                app.config.prefix
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_becomes_plain_terminal_text_with_styles_only_on_a_terminal() {
        let cases = [
            ("Desidara \\| תשב", "Desidara | תשב"),
            ("**bob** could not answer", "bob could not answer"),
            ("moved from **p00** to **p01**.", "moved from p00 to p01."),
            ("an *italic* and _other_ word", "an italic and other word"),
            ("snake_case_name and 2*3*4", "snake_case_name and 2*3*4"),
            ("`code \\| stays` as is", "`code \\| stays` as is"),
            ("a lone ** stays", "a lone ** stays"),
        ];
        for (markdown, plain) in cases {
            assert_eq!(terminal_text(markdown, false), plain, "{markdown}");
        }
        assert_eq!(
            terminal_text("**bob** and *it*", true),
            "\x1b[1mbob\x1b[22m and \x1b[3mit\x1b[23m"
        );
    }

    #[test]
    fn message_ids_increase_and_differ_between_two_consoles_started_together() {
        let now = 1_750_000_000_000;
        // Two processes started together have different process ids.
        let (mut a, mut b) = (MessageIds::new(4_000), MessageIds::new(4_001));
        let mut seen = std::collections::HashSet::new();
        let mut previous = 0;
        for _ in 0..5_000 {
            let id = a.next(now).get();
            assert!(id > previous);
            previous = id;
            assert!(seen.insert(id));
            assert!(seen.insert(b.next(now).get()), "shared id");
        }
    }
}
