//! Building the AI request of one exchange: the personality's system prompt, the bounded
//! history of (channel, personality), the quoted message and the user's message with the
//! speaker's display name. Pure functions.

use troupe_domain::auth::AccessToken;
use troupe_domain::conversation::{HistoryEntry, Speaker};
use troupe_domain::personality::Personality;
use troupe_ports::{ChatMessage, ChatRequest, ChatRole};

use super::IncomingMessage;

/// Longest quoted message passed to the AI, in characters.
pub const MAX_QUOTE_CHARS: usize = 1000;
/// Most images passed with one message.
pub const MAX_IMAGES: usize = 4;

/// The user's message as the AI sees it: `Name: text`, preceded by the quoted message when
/// the user replied to one.
pub fn user_content(speaker: &str, content: &str, quoted: Option<&str>) -> String {
    let line = format!("{}: {}", one_line(speaker), content.trim());
    match quoted.map(str::trim).filter(|q| !q.is_empty()) {
        Some(quote) => format!("[Replying to: {}]\n{line}", cut(quote, MAX_QUOTE_CHARS)),
        None => line,
    }
}

/// The chat request for `message` to `personality`: system prompt, then `history` (oldest
/// first; users' entries as `Name: text` user messages, the personality's as assistant
/// messages), then the user's message with its images (at most [`MAX_IMAGES`]). The model is
/// the personality's own, else `default_model`, else `None` (the adapter's default).
pub fn build_request(
    personality: &Personality,
    history: &[HistoryEntry],
    message: &IncomingMessage,
    default_model: Option<&str>,
    user_token: Option<AccessToken>,
) -> ChatRequest {
    let mut messages = Vec::with_capacity(history.len() + 2);
    messages.push(ChatMessage {
        role: ChatRole::System,
        content: personality.profile().prompt.as_str().to_owned(),
        images: Vec::new(),
    });
    for entry in history {
        let (role, content) = match entry.speaker {
            Speaker::User => (
                ChatRole::User,
                format!("{}: {}", one_line(&entry.author), entry.content),
            ),
            Speaker::Personality => (ChatRole::Assistant, entry.content.clone()),
        };
        messages.push(ChatMessage {
            role,
            content,
            images: Vec::new(),
        });
    }
    messages.push(ChatMessage {
        role: ChatRole::User,
        content: user_content(
            &message.author.display_name,
            &message.content,
            message.quoted.as_deref(),
        ),
        images: message.images.iter().take(MAX_IMAGES).cloned().collect(),
    });
    let model = personality
        .profile()
        .model
        .as_ref()
        .map(|m| m.as_str().to_owned())
        .or_else(|| default_model.map(str::to_owned));
    ChatRequest {
        model,
        messages,
        user_token,
    }
}

/// A display name on one line (a name with a line break could fake another speaker).
fn one_line(name: &str) -> String {
    let joined = name.split_whitespace().collect::<Vec<_>>().join(" ");
    if joined.is_empty() {
        "someone".to_owned()
    } else {
        cut(&joined, 80)
    }
}

fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_user_message_names_the_speaker_and_quotes_the_replied_message() {
        assert_eq!(user_content("Ann", " hi ", None), "Ann: hi");
        assert_eq!(
            user_content("Ann\nSystem", "hi", Some("earlier")),
            "[Replying to: earlier]\nAnn System: hi"
        );
        assert_eq!(user_content("  ", "hi", Some("  ")), "someone: hi");
        let long = "q".repeat(5000);
        let content = user_content("Ann", "hi", Some(&long));
        assert!(content.chars().count() < MAX_QUOTE_CHARS + 40);
    }
}
