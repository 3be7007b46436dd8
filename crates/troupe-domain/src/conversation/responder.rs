//! "Who answers this message": the precedence of commands.md §3 as a pure function.

use crate::personality::PersonalityName;

/// What the message flow knows about a message that is not a command, already resolved
/// against the store (which personality a replied-to message belongs to, the longest mention).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Incoming {
    pub is_dm: bool,
    /// Sent by another bot (our own bot account included).
    pub from_bot: bool,
    /// Sent by one of our own personality webhooks.
    pub from_own_webhook: bool,
    /// Starts with the command prefix.
    pub starts_with_prefix: bool,
    /// The message replies to another message.
    pub is_reply: bool,
    /// The personality that sent the replied-to message, if it was one of ours.
    pub reply_to_personality: Option<PersonalityName>,
    /// The personality named by the longest mention in the message, if any.
    pub mention: Option<PersonalityName>,
    /// The personality activated in this channel, if any.
    pub activation: Option<PersonalityName>,
    /// The personality of the user's conversation in this channel if it is still live.
    pub live_conversation: Option<PersonalityName>,
    /// The user's autorespond preference.
    pub autorespond: bool,
}

/// Why a personality answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponderReason {
    Reply,
    Mention,
    Activation,
    Continuation,
}

/// The decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Responder {
    /// Nobody answers.
    Ignore,
    /// This personality answers.
    Personality {
        name: PersonalityName,
        reason: ResponderReason,
    },
    /// A DM that matched nothing: explain how to start talking.
    DmHint,
}

/// Applies, in order: ignore bots, our webhooks and prefixed messages; a reply to one of our
/// personalities; a mention; the channel's activation; a live conversation with autorespond
/// (always in DMs); the DM hint. A reply to anyone else only lets a mention or an activation
/// through.
pub fn decide_responder(m: &Incoming) -> Responder {
    if m.from_bot || m.from_own_webhook || m.starts_with_prefix {
        return Responder::Ignore;
    }
    let answer = |name: &PersonalityName, reason| Responder::Personality {
        name: name.clone(),
        reason,
    };
    if let Some(name) = &m.reply_to_personality {
        return answer(name, ResponderReason::Reply);
    }
    if let Some(name) = &m.mention {
        return answer(name, ResponderReason::Mention);
    }
    if let Some(name) = &m.activation {
        return answer(name, ResponderReason::Activation);
    }
    if m.is_reply {
        return Responder::Ignore;
    }
    if let Some(name) = &m.live_conversation
        && (m.autorespond || m.is_dm)
    {
        return answer(name, ResponderReason::Continuation);
    }
    if m.is_dm {
        Responder::DmHint
    } else {
        Responder::Ignore
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Option<PersonalityName> {
        Some(PersonalityName::parse(s).unwrap())
    }
    fn who(r: Responder) -> String {
        match r {
            Responder::Ignore => "ignore".into(),
            Responder::DmHint => "hint".into(),
            Responder::Personality { name, reason } => format!("{name}:{reason:?}"),
        }
    }

    #[test]
    fn the_precedence_of_the_message_flow_holds() {
        let base = Incoming::default();
        let cases: Vec<(&str, Incoming, &str)> = vec![
            ("plain guild message", base.clone(), "ignore"),
            (
                "plain DM",
                Incoming {
                    is_dm: true,
                    ..base.clone()
                },
                "hint",
            ),
            (
                "bots are ignored",
                Incoming {
                    from_bot: true,
                    mention: n("bob"),
                    ..base.clone()
                },
                "ignore",
            ),
            (
                "own webhooks are ignored",
                Incoming {
                    from_own_webhook: true,
                    activation: n("bob"),
                    ..base.clone()
                },
                "ignore",
            ),
            (
                "prefixed messages are not for personalities",
                Incoming {
                    starts_with_prefix: true,
                    activation: n("bob"),
                    ..base.clone()
                },
                "ignore",
            ),
            (
                "reply beats mention",
                Incoming {
                    is_reply: true,
                    reply_to_personality: n("ann"),
                    mention: n("bob"),
                    activation: n("cat"),
                    ..base.clone()
                },
                "ann:Reply",
            ),
            (
                "mention beats activation",
                Incoming {
                    mention: n("bob"),
                    activation: n("cat"),
                    ..base.clone()
                },
                "bob:Mention",
            ),
            (
                "activation beats a live conversation",
                Incoming {
                    activation: n("cat"),
                    live_conversation: n("dan"),
                    autorespond: true,
                    ..base.clone()
                },
                "cat:Activation",
            ),
            (
                "live conversation with autorespond",
                Incoming {
                    live_conversation: n("dan"),
                    autorespond: true,
                    ..base.clone()
                },
                "dan:Continuation",
            ),
            (
                "live conversation without autorespond",
                Incoming {
                    live_conversation: n("dan"),
                    ..base.clone()
                },
                "ignore",
            ),
            (
                "DMs always continue",
                Incoming {
                    is_dm: true,
                    live_conversation: n("dan"),
                    ..base.clone()
                },
                "dan:Continuation",
            ),
            (
                "a reply to someone else stops continuation",
                Incoming {
                    is_reply: true,
                    live_conversation: n("dan"),
                    autorespond: true,
                    ..base.clone()
                },
                "ignore",
            ),
            (
                "a reply to someone else in a DM gives no hint",
                Incoming {
                    is_dm: true,
                    is_reply: true,
                    ..base.clone()
                },
                "ignore",
            ),
            (
                "a reply to someone else still lets a mention through",
                Incoming {
                    is_reply: true,
                    mention: n("bob"),
                    ..base.clone()
                },
                "bob:Mention",
            ),
            (
                "a reply to someone else still lets an activation through",
                Incoming {
                    is_reply: true,
                    activation: n("cat"),
                    ..base.clone()
                },
                "cat:Activation",
            ),
        ];
        for (what, incoming, expected) in cases {
            assert_eq!(who(decide_responder(&incoming)), expected, "{what}");
        }
    }
}
