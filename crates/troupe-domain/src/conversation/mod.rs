//! Conversations: channel activations, per-user conversations with their timeouts, bounded
//! history, the autorespond preference, and the "who answers this message" decision.

mod responder;
pub mod split;

pub use responder::{Incoming, Responder, ResponderReason, decide_responder};
pub use split::{Layout, MAX_MESSAGE_CHARS, split_reply};

use crate::ids::{ChannelId, UserId};
use crate::personality::PersonalityName;
use crate::time::{Duration, Timestamp};

/// A conversation in a guild channel goes quiet after 30 minutes without an exchange.
pub const GUILD_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// A DM conversation goes quiet after 2 hours without an exchange.
pub const DM_TIMEOUT: Duration = Duration::from_secs(2 * 60 * 60);
/// Default number of history messages kept and sent to the AI per (channel, personality).
pub const DEFAULT_HISTORY_LIMIT: usize = 20;

/// A personality that answers every message in a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelActivation {
    pub channel: ChannelId,
    pub personality: PersonalityName,
    pub activated_by: UserId,
    pub activated_at: Timestamp,
}

/// How a conversation was started, which decides whether it continues without a mention.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConversationMode {
    /// Follow-up messages continue the conversation (autorespond on, or a DM).
    Continuation,
    /// Only explicit mentions or replies reach the personality.
    MentionOnly,
}

/// The state of one user's conversation in one channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    pub user: UserId,
    pub channel: ChannelId,
    pub personality: PersonalityName,
    pub last_activity: Timestamp,
    pub mode: ConversationMode,
    pub is_dm: bool,
}

impl Conversation {
    /// A conversation after an exchange at `now`. In DMs it always continues; in guilds it
    /// continues only when the user has autorespond on.
    pub fn after_exchange(
        user: UserId,
        channel: ChannelId,
        personality: PersonalityName,
        is_dm: bool,
        autorespond: bool,
        now: Timestamp,
    ) -> Self {
        let mode = if is_dm || autorespond {
            ConversationMode::Continuation
        } else {
            ConversationMode::MentionOnly
        };
        Self {
            user,
            channel,
            personality,
            last_activity: now,
            mode,
            is_dm,
        }
    }

    /// 30 minutes in guilds, 2 hours in DMs.
    pub fn timeout(&self) -> Duration {
        if self.is_dm {
            DM_TIMEOUT
        } else {
            GUILD_TIMEOUT
        }
    }

    /// Whether the conversation is still within its window at `now`.
    pub fn is_live(&self, now: Timestamp) -> bool {
        now.since(self.last_activity) <= self.timeout()
    }

    /// Whether a plain message (no mention, no reply) continues this conversation at `now`.
    pub fn continues_without_mention(&self, now: Timestamp) -> bool {
        self.mode == ConversationMode::Continuation && self.is_live(now)
    }
}

/// Who wrote a history entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Speaker {
    User,
    Personality,
}

/// One message of conversation history.
///
/// The history of a (channel, personality) is shared: everyone talking to the personality in
/// the channel adds to it, and the AI sees all of it. Each entry also records whose exchange it
/// belongs to, so `reset` forgets only the caller's turns (ADR 0017).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    pub speaker: Speaker,
    /// The user whose exchange this turn belongs to: the writer of a user turn, the user a
    /// personality turn answered. `None` for turns recorded before the store knew (migration
    /// 0030) and that could not be attributed then.
    pub user: Option<UserId>,
    /// The speaker's display name (the user's, or the personality's).
    pub author: String,
    pub content: String,
    pub at: Timestamp,
}

impl HistoryEntry {
    /// Longest stored content; longer messages are cut at a character boundary.
    pub const MAX_CONTENT: usize = 4000;

    /// A turn of `user`'s exchange: their message (`Speaker::User`) or the personality's answer
    /// to them (`Speaker::Personality`).
    pub fn new(speaker: Speaker, user: UserId, author: &str, content: &str, at: Timestamp) -> Self {
        let content = match content.char_indices().nth(Self::MAX_CONTENT) {
            Some((cut, _)) => content[..cut].to_owned(),
            None => content.to_owned(),
        };
        Self {
            speaker,
            user: Some(user),
            author: author.chars().take(80).collect(),
            content,
            at,
        }
    }

    /// Whether `reset` by `user` forgets this turn: the user's own turns, and turns nobody is
    /// recorded for (they may be the user's; forgetting errs towards forgetting, ADR 0017).
    pub fn forgotten_by_reset_of(&self, user: UserId) -> bool {
        self.user.is_none_or(|u| u == user)
    }
}

/// A bounded history: pushing beyond the limit drops the oldest entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct History {
    limit: usize,
    entries: std::collections::VecDeque<HistoryEntry>,
}

impl History {
    pub fn new(limit: usize) -> Self {
        Self {
            limit: limit.max(1),
            entries: std::collections::VecDeque::new(),
        }
    }

    pub fn push(&mut self, entry: HistoryEntry) {
        while self.entries.len() >= self.limit {
            self.entries.pop_front();
        }
        self.entries.push_back(entry);
    }

    pub fn entries(&self) -> impl Iterator<Item = &HistoryEntry> {
        self.entries.iter()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(is_dm: bool, autorespond: bool) -> Conversation {
        Conversation::after_exchange(
            UserId::new(1).unwrap(),
            ChannelId::new(2).unwrap(),
            PersonalityName::parse("bob").unwrap(),
            is_dm,
            autorespond,
            Timestamp::EPOCH,
        )
    }

    #[test]
    fn conversations_time_out_after_30_minutes_in_guilds_and_2_hours_in_dms() {
        let min = |m: u64| Timestamp::EPOCH.plus(Duration::from_secs(m * 60));
        let cases = [
            (false, 29, true),
            (false, 30, true),
            (false, 31, false),
            (true, 119, true),
            (true, 120, true),
            (true, 121, false),
        ];
        for (dm, minutes, live) in cases {
            assert_eq!(
                conv(dm, true).is_live(min(minutes)),
                live,
                "dm={dm} t={minutes}"
            );
        }
    }

    #[test]
    fn only_continuation_conversations_continue_without_a_mention() {
        let now = Timestamp::EPOCH.plus(Duration::from_secs(60));
        assert!(conv(false, true).continues_without_mention(now));
        assert!(
            !conv(false, false).continues_without_mention(now),
            "mention-only in a guild"
        );
        assert!(
            conv(true, false).continues_without_mention(now),
            "DMs always continue"
        );
        assert_eq!(conv(true, false).mode, ConversationMode::Continuation);
    }

    #[test]
    fn history_keeps_only_the_newest_entries() {
        let mut h = History::new(3);
        for i in 0..5 {
            h.push(HistoryEntry::new(
                Speaker::User,
                UserId::new(1).unwrap(),
                "ann",
                &format!("m{i}"),
                Timestamp::from_millis(i),
            ));
        }
        let kept: Vec<_> = h.entries().map(|e| e.content.as_str()).collect();
        assert_eq!(kept, ["m2", "m3", "m4"]);
        assert_eq!(
            History::new(0).limit,
            1,
            "a zero limit still keeps the last message"
        );
    }

    #[test]
    fn history_entries_are_bounded_in_size() {
        let huge = "é".repeat(10_000);
        let e = HistoryEntry::new(
            Speaker::User,
            UserId::new(1).unwrap(),
            &"n".repeat(500),
            &huge,
            Timestamp::EPOCH,
        );
        assert_eq!(e.content.chars().count(), HistoryEntry::MAX_CONTENT);
        assert_eq!(e.author.chars().count(), 80);
    }

    #[test]
    fn a_reset_forgets_the_caller_s_turns_and_unattributed_ones_only() {
        let ann = UserId::new(1).unwrap();
        let bob = UserId::new(2).unwrap();
        let anns = HistoryEntry::new(Speaker::Personality, ann, "p", "hi ann", Timestamp::EPOCH);
        assert!(anns.forgotten_by_reset_of(ann));
        assert!(!anns.forgotten_by_reset_of(bob));
        let unknown = HistoryEntry { user: None, ..anns };
        assert!(unknown.forgotten_by_reset_of(ann));
        assert!(unknown.forgotten_by_reset_of(bob));
    }
}
