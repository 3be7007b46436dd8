//! Outcomes and outgoing messages → Discord embeds and message bodies, within Discord's limits.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde_json::value::RawValue;
use troupe_application::Reply;
use troupe_ports::{Embed as PortEmbed, OutgoingMessage};
use twilight_model::channel::message::embed::{Embed, EmbedField, EmbedThumbnail};

/// Discord's limits (characters).
const TITLE_MAX: usize = 256;
const DESCRIPTION_MAX: usize = 4096;
const FIELDS_MAX: usize = 25;
const FIELD_NAME_MAX: usize = 256;
const FIELD_VALUE_MAX: usize = 1024;
const USERNAME_MAX: usize = 80;

/// Cuts `text` to at most `max` characters, ending with `…` when cut (a [`Cut`], copied).
pub fn truncate(text: &str, max: usize) -> String {
    let cut = Cut::new(text, max);
    let mut out = String::with_capacity(cut.len());
    out.push_str(cut.kept);
    if cut.cut {
        out.push('…');
    }
    out
}

/// A webhook username Discord accepts: 1–80 characters, never containing "discord" or
/// "clyde" (any case; those letters are broken up with a zero-width space instead of dropped,
/// so the name still reads the same), no leading or trailing whitespace.
pub fn sanitize_username(name: &str) -> String {
    let mut out = name.trim().to_owned();
    for banned in ["discord", "clyde"] {
        loop {
            let lower = out.to_lowercase();
            let Some(pos) = lower.find(banned) else { break };
            // `to_lowercase` can change byte lengths for some scripts; fall back to removal
            // when the position does not map onto the original.
            if lower.len() == out.len() && out.is_char_boundary(pos + 1) {
                out.insert(pos + 1, '\u{200B}');
            } else {
                out = lower.replacen(banned, "", 1);
            }
        }
    }
    let out = out.trim().chars().take(USERNAME_MAX).collect::<String>();
    let out = out.trim().to_owned();
    if out.is_empty() {
        "Personality".to_owned()
    } else {
        out
    }
}

/// The embed of a command reply.
pub fn reply_embed(reply: &Reply) -> Embed {
    embed(
        reply.title.as_deref().unwrap_or_default(),
        &reply.text,
        reply
            .fields
            .iter()
            .map(|f| (f.name.as_str(), f.value.as_str(), f.inline)),
        reply.colour,
        reply.thumbnail.as_deref(),
    )
}

/// Long command replies' embeds, written as JSON once (a message create's `embeds` array) and
/// kept: `help`'s overview is the same 1.5 KB or more for every caller of an audience, and
/// escaping it byte by byte into each reply's body cost about 34,000 instructions per `help`
/// (docs/PERFORMANCE.md, twelfth pass). A reply is found again by equality, never by a hash, so
/// a kept body is only ever sent for the reply it was written from. At most [`KEPT`] are kept;
/// a new one replaces the oldest. Short replies are written each time (see [`KEEP_FROM`]).
#[derive(Default)]
pub(crate) struct ReplyEmbeds {
    /// Oldest first.
    kept: Mutex<VecDeque<(Reply, Arc<RawValue>)>>,
}

/// Replies whose text and fields are shorter than this (bytes) are not kept: writing them costs
/// little more than finding them.
const KEEP_FROM: usize = 1024;
/// Long replies kept at most (a few kilobytes each).
const KEPT: usize = 8;

impl ReplyEmbeds {
    /// The JSON of `reply`'s embeds when the reply is long enough to keep (written now if it was
    /// not kept yet); `None` for a short reply, which the caller writes with the message.
    pub(crate) fn long(&self, reply: &Reply) -> Option<Arc<RawValue>> {
        let length = reply.title.as_ref().map_or(0, String::len)
            + reply.text.len()
            + reply
                .fields
                .iter()
                .map(|f| f.name.len() + f.value.len())
                .sum::<usize>();
        if length < KEEP_FROM {
            return None;
        }
        let mut kept = self.lock();
        if let Some((_, json)) = kept.iter().find(|(kept, _)| kept == reply) {
            return Some(Arc::clone(json));
        }
        let json: Arc<RawValue> = serde_json::value::to_raw_value(&[EmbedView::of_reply(reply)])
            .ok()?
            .into();
        if kept.len() == KEPT {
            kept.pop_front();
        }
        kept.push_back((reply.clone(), Arc::clone(&json)));
        Some(json)
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<(Reply, Arc<RawValue>)>> {
        self.kept.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The embed of an outgoing message's card (as twilight's model: what [`EmbedView`] writes).
#[cfg(test)]
fn port_embed(card: &PortEmbed) -> Embed {
    embed(
        &card.title,
        &card.description,
        card.fields
            .iter()
            .map(|f| (f.name.as_str(), f.value.as_str(), f.inline)),
        card.colour,
        card.thumbnail.as_deref(),
    )
}

fn embed<'a>(
    title: &str,
    description: &str,
    fields: impl Iterator<Item = (&'a str, &'a str, bool)>,
    colour: u32,
    thumbnail: Option<&str>,
) -> Embed {
    let non_empty = |s: String| (!s.trim().is_empty()).then_some(s);
    Embed {
        author: None,
        flags: None,
        color: Some(colour),
        description: non_empty(truncate(description, DESCRIPTION_MAX)),
        fields: fields
            .take(FIELDS_MAX)
            .map(|(name, value, inline)| EmbedField {
                inline,
                name: non_empty(truncate(name, FIELD_NAME_MAX))
                    .unwrap_or_else(|| "\u{200B}".into()),
                value: non_empty(truncate(value, FIELD_VALUE_MAX))
                    .unwrap_or_else(|| "\u{200B}".into()),
            })
            .collect(),
        footer: None,
        image: None,
        kind: "rich".to_owned(),
        provider: None,
        thumbnail: thumbnail.map(|url| EmbedThumbnail {
            height: None,
            proxy_url: None,
            url: url.to_owned(),
            width: None,
        }),
        timestamp: None,
        title: non_empty(truncate(title, TITLE_MAX)),
        url: None,
        video: None,
    }
}

/// The content and embed of an outgoing message (content cut to 2,000 characters).
pub(crate) fn outgoing(message: &OutgoingMessage) -> (Cut<'_>, Option<EmbedView<'_>>) {
    (
        Cut::new(
            &message.content,
            troupe_domain::conversation::MAX_MESSAGE_CHARS,
        ),
        message.embed.as_ref().map(EmbedView::of_card),
    )
}

/// Text cut as [`truncate`] cuts it, without copying it: the part kept, and whether `…`
/// follows. Written to JSON as one string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cut<'a> {
    kept: &'a str,
    cut: bool,
}

impl<'a> Cut<'a> {
    /// No text.
    pub(crate) const EMPTY: Cut<'static> = Cut::whole("");

    /// All of `text`.
    pub(crate) const fn whole(text: &'a str) -> Self {
        Self {
            kept: text,
            cut: false,
        }
    }

    /// `text` cut to at most `max` (at least 1) characters.
    pub(crate) fn new(text: &'a str, max: usize) -> Self {
        // No more bytes than `max`: no more characters either.
        if text.len() <= max {
            return Self {
                kept: text,
                cut: false,
            };
        }
        let mut starts = text.char_indices().map(|(i, _)| i);
        match starts.nth(max.saturating_sub(1)) {
            // A character after the first `max`: keep `max - 1` and add `…`.
            Some(end) if starts.next().is_some() => Self {
                kept: &text[..end],
                cut: true,
            },
            _ => Self {
                kept: text,
                cut: false,
            },
        }
    }

    /// Whether nothing but whitespace is left.
    fn is_blank(self) -> bool {
        !self.cut && self.kept.trim().is_empty()
    }

    pub(crate) fn is_empty(&self) -> bool {
        !self.cut && self.kept.is_empty()
    }

    /// The text, with `…` when it was cut.
    pub(crate) fn len(self) -> usize {
        self.kept.len() + if self.cut { '…'.len_utf8() } else { 0 }
    }
}

impl serde::Serialize for Cut<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.cut {
            serializer.collect_str(&format_args!("{}…", self.kept))
        } else {
            serializer.serialize_str(self.kept)
        }
    }
}

/// An embed as a message create carries it, written from the reply's or card's own text: the
/// same JSON as the twilight `Embed` that [`reply_embed`] (and the tests' `port_embed`) build,
/// checked by the tests, without building that model for every reply (two strings copied per
/// field, a model of fourteen members filled, serialized and dropped; docs/PERFORMANCE.md,
/// fourteenth pass).
#[derive(Debug, Clone, Copy)]
pub(crate) struct EmbedView<'a> {
    title: &'a str,
    description: &'a str,
    fields: &'a [troupe_ports::EmbedField],
    colour: u32,
    thumbnail: Option<&'a str>,
}

impl<'a> EmbedView<'a> {
    pub(crate) fn of_reply(reply: &'a Reply) -> Self {
        Self {
            title: reply.title.as_deref().unwrap_or_default(),
            description: &reply.text,
            fields: &reply.fields,
            colour: reply.colour,
            thumbnail: reply.thumbnail.as_deref(),
        }
    }

    pub(crate) fn of_card(card: &'a PortEmbed) -> Self {
        Self {
            title: &card.title,
            description: &card.description,
            fields: &card.fields,
            colour: card.colour,
            thumbnail: card.thumbnail.as_deref(),
        }
    }

    /// The bytes of text it carries at most (to size a body).
    pub(crate) fn text_len(&self) -> usize {
        self.title.len()
            + self.description.len()
            + self
                .fields
                .iter()
                .take(FIELDS_MAX)
                .map(|f| f.name.len() + f.value.len())
                .sum::<usize>()
    }
}

impl serde::Serialize for EmbedView<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        // twilight's member order, and its omissions: no empty title, description or fields.
        let description = Cut::new(self.description, DESCRIPTION_MAX);
        let title = Cut::new(self.title, TITLE_MAX);
        let fields = FieldsView(&self.fields[..self.fields.len().min(FIELDS_MAX)]);
        let mut embed = serializer.serialize_struct("Embed", 6)?;
        embed.serialize_field("color", &self.colour)?;
        if !description.is_blank() {
            embed.serialize_field("description", &description)?;
        }
        if !fields.0.is_empty() {
            embed.serialize_field("fields", &fields)?;
        }
        embed.serialize_field("type", "rich")?;
        if let Some(url) = self.thumbnail {
            embed.serialize_field("thumbnail", &ThumbnailView { url })?;
        }
        if !title.is_blank() {
            embed.serialize_field("title", &title)?;
        }
        embed.end()
    }
}

struct FieldsView<'a>(&'a [troupe_ports::EmbedField]);

impl serde::Serialize for FieldsView<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeSeq as _, SerializeStruct as _};
        /// A blank name or value is sent as a zero-width space (Discord refuses empty ones).
        fn or_blank(text: Cut<'_>) -> Cut<'_> {
            if text.is_blank() {
                Cut::whole("\u{200B}")
            } else {
                text
            }
        }
        struct FieldView<'a>(&'a troupe_ports::EmbedField);
        impl serde::Serialize for FieldView<'_> {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut field = serializer.serialize_struct("EmbedField", 3)?;
                field.serialize_field("inline", &self.0.inline)?;
                field.serialize_field("name", &or_blank(Cut::new(&self.0.name, FIELD_NAME_MAX)))?;
                field.serialize_field(
                    "value",
                    &or_blank(Cut::new(&self.0.value, FIELD_VALUE_MAX)),
                )?;
                field.end()
            }
        }
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for field in self.0 {
            seq.serialize_element(&FieldView(field))?;
        }
        seq.end()
    }
}

#[derive(serde::Serialize)]
struct ThumbnailView<'a> {
    url: &'a str,
}

/// Whether a message the bot sent in a DM is a personality's (`**Name:** …`).
pub fn is_personality_dm(content: &str) -> bool {
    content.starts_with("**")
        && content[2..]
            .find(":**")
            .is_some_and(|end| end > 0 && !content[2..2 + end].contains('\n'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_never_contain_discord_or_clyde() {
        for name in ["Discord Bot", "clyde", "My DISCORDian ClYdE friend"] {
            let clean = sanitize_username(name);
            let lower = clean.to_lowercase();
            assert!(
                !lower.contains("discord") && !lower.contains("clyde"),
                "{clean}"
            );
            assert!(!clean.is_empty());
        }
        assert_eq!(sanitize_username("Albert Einstein"), "Albert Einstein");
    }

    #[test]
    fn usernames_are_at_most_80_characters_and_never_empty() {
        assert_eq!(sanitize_username(&"x".repeat(200)).chars().count(), 80);
        assert_eq!(sanitize_username("   "), "Personality");
    }

    #[test]
    fn embeds_respect_discord_limits() {
        let reply = Reply {
            title: Some("t".repeat(300)),
            text: "d".repeat(5000),
            fields: (0..30)
                .map(|i| troupe_ports::EmbedField {
                    name: format!("f{i}"),
                    value: "v".repeat(2000),
                    inline: false,
                })
                .collect(),
            ..Reply::default()
        };
        let embed = reply_embed(&reply);
        assert_eq!(embed.title.unwrap().chars().count(), 256);
        assert_eq!(embed.description.unwrap().chars().count(), 4096);
        assert_eq!(embed.fields.len(), 25);
        assert!(embed.fields.iter().all(|f| f.value.chars().count() <= 1024));
    }

    /// What twilight's model writes for `reply`: the reference the view must match.
    fn modelled(reply: &Reply) -> String {
        serde_json::to_string(&reply_embed(reply)).unwrap()
    }

    fn viewed(reply: &Reply) -> String {
        serde_json::to_string(&EmbedView::of_reply(reply)).unwrap()
    }

    #[test]
    fn the_embed_view_writes_what_twilights_model_writes() {
        let field = |name: &str, value: &str, inline| troupe_ports::EmbedField {
            name: name.into(),
            value: value.into(),
            inline,
        };
        let texts = [
            String::new(),
            "   ".into(),
            "pong".into(),
            "quotes \" and \\ and\nlines\t\u{1}".into(),
            "ünïcödé 🎭 text".into(),
            "x".repeat(255),
            "x".repeat(256),
            "x".repeat(257),
            "é".repeat(256),
            "é".repeat(257),
            "🎭".repeat(1024),
            "🎭".repeat(1025),
            format!("{}\"", "a".repeat(1023)),
            "d".repeat(4096),
            "d".repeat(4097),
            format!("{}   ", " ".repeat(300)),
        ];
        for text in &texts {
            let reply = Reply {
                title: Some(text.clone()),
                text: text.clone(),
                fields: vec![
                    field(text, text, false),
                    field("", text, true),
                    field(text, "  ", false),
                ],
                colour: 0x0058_65F2,
                thumbnail: Some(format!("https://cdn.example/{}", text.len())),
                ..Reply::default()
            };
            assert_eq!(viewed(&reply), modelled(&reply), "{text:?}");
        }
        let bare = Reply::default();
        assert_eq!(viewed(&bare), modelled(&bare));
        let many = Reply {
            title: None,
            fields: (0..30)
                .map(|i| field(&format!("f{i}"), "v", i % 2 == 0))
                .collect(),
            ..Reply::default()
        };
        assert_eq!(viewed(&many), modelled(&many));
        // A card (bot messages and DMs) the same way.
        let card = PortEmbed {
            title: "Card".into(),
            description: "é".repeat(5000),
            fields: vec![field("a", "b", true)],
            colour: 1,
            thumbnail: None,
        };
        assert_eq!(
            serde_json::to_string(&EmbedView::of_card(&card)).unwrap(),
            serde_json::to_string(&port_embed(&card)).unwrap()
        );
    }

    #[test]
    fn a_cut_keeps_max_characters_or_max_minus_one_and_an_ellipsis() {
        for text in ["", "a", "ab", "abc", "é", "éé", "ééé", "🎭🎭🎭", "a🎭b"] {
            for max in 1..5 {
                let cut = Cut::new(text, max);
                let expected = if text.chars().count() <= max {
                    text.to_owned()
                } else {
                    let kept: String = text.chars().take(max - 1).collect();
                    format!("{kept}…")
                };
                assert_eq!(
                    serde_json::to_string(&cut).unwrap(),
                    serde_json::to_string(&expected).unwrap(),
                    "{text:?} to {max}"
                );
                assert_eq!(cut.len(), expected.len());
                assert_eq!(truncate(text, max), expected);
            }
        }
    }

    fn long_reply(text: &str) -> Reply {
        Reply {
            title: Some("Troupe commands".into()),
            text: text.repeat(1100 / text.len() + 1),
            fields: vec![troupe_ports::EmbedField {
                name: "Utility".into(),
                value: "`ping` — \"quoted\"\nnext line".into(),
                inline: false,
            }],
            ..Reply::default()
        }
    }

    fn written(reply: &Reply) -> String {
        serde_json::to_string(&[reply_embed(reply)]).unwrap()
    }

    #[test]
    fn a_long_reply_is_written_once_and_kept() {
        let replies = ReplyEmbeds::default();
        let reply = long_reply("help ");
        let first = replies.long(&reply).expect("a long reply is kept");
        assert_eq!(first.get(), written(&reply));
        let again = replies.long(&reply.clone()).expect("kept");
        assert!(
            Arc::ptr_eq(&first, &again),
            "the second reply reuses the kept JSON"
        );
    }

    #[test]
    fn a_kept_body_is_only_sent_for_its_own_reply() {
        let replies = ReplyEmbeds::default();
        // Same length, different text; then the same text with another colour.
        let a = long_reply("aaaa ");
        let b = long_reply("bbbb ");
        let c = Reply {
            colour: 7,
            ..a.clone()
        };
        for reply in [&a, &b, &c, &a, &b, &c] {
            assert_eq!(replies.long(reply).unwrap().get(), written(reply));
        }
    }

    #[test]
    fn short_replies_are_not_kept_and_at_most_eight_long_ones_are() {
        let replies = ReplyEmbeds::default();
        assert!(replies.long(&Reply::default()).is_none());
        assert!(
            replies
                .long(&Reply {
                    text: "pong".into(),
                    ..Reply::default()
                })
                .is_none()
        );
        let many: Vec<Reply> = (0..20).map(|i| long_reply(&format!("r{i:02} "))).collect();
        for round in 0..2 {
            for reply in &many {
                assert_eq!(
                    replies.long(reply).unwrap().get(),
                    written(reply),
                    "round {round}"
                );
            }
        }
        assert_eq!(replies.lock().len(), KEPT);
    }

    #[test]
    fn personality_dms_are_recognised_by_their_bold_name_prefix() {
        assert!(is_personality_dm("**Einstein:** hello"));
        assert!(!is_personality_dm("**Title**\nnot: a persona"));
        assert!(!is_personality_dm("plain reply"));
    }
}
