//! `notifications [status|on|off|level major|minor|patch]`: the caller's release-notification
//! preference (default: opted in, level `minor`).

use troupe_domain::DomainEvent;
use troupe_domain::notifications::{NotificationLevel, NotificationPreference};

use crate::handlers::HandlerResult;
use crate::handlers::common::{ReplyExt, code, on_off, outcome, subcommand};
use crate::{CommandOutcome, CommandRequest, Deps, OutcomeClass};

/// The levels a user may choose.
const LEVELS: [NotificationLevel; 3] = [
    NotificationLevel::Major,
    NotificationLevel::Minor,
    NotificationLevel::Patch,
];

/// Shows (`status`, the default), switches (`on`/`off`) or sets the level of the preference.
pub(crate) async fn run(deps: &Deps, request: &CommandRequest) -> HandlerResult {
    let user = request.invoker.id;
    let sub = subcommand(request);
    let change = match sub.as_deref() {
        None | Some("status") => None,
        Some("on") => Some(Change::OptIn(true)),
        Some("off") => Some(Change::OptIn(false)),
        Some("level") => match request.args.words.get(1).and_then(|w| choose_level(w)) {
            Some(level) => Some(Change::Level(level)),
            None => return Ok(invalid_level()),
        },
        Some(_) => {
            let typed = request.args.first().unwrap_or_default();
            return Ok(outcome(
                OutcomeClass::InvalidInput,
                "Unknown option",
                format!(
                    "{} is not a notifications option. Use status, on, off or level.",
                    code(typed)
                ),
            ));
        }
    };

    let mut preference = deps
        .preferences
        .notification_preference(user)
        .await?
        .unwrap_or_default();
    let Some(change) = change else {
        return Ok(status(&preference));
    };
    let text = match change {
        Change::OptIn(opted_in) => {
            preference.opted_in = opted_in;
            format!("Release notifications are now {}.", code(on_off(opted_in)))
        }
        Change::Level(level) => {
            preference.level = level;
            format!(
                "You will hear about {} releases and bigger.",
                code(level.as_str())
            )
        }
    };
    deps.preferences
        .save_notification_preference(user, &preference)
        .await?;
    Ok(
        outcome(OutcomeClass::Success, "Notifications updated", text).with_event(
            DomainEvent::NotificationsChanged {
                user,
                opted_in: preference.opted_in,
                level: preference.level,
            },
        ),
    )
}

enum Change {
    OptIn(bool),
    Level(NotificationLevel),
}

fn choose_level(raw: &str) -> Option<NotificationLevel> {
    LEVELS
        .into_iter()
        .find(|level| level.as_str().eq_ignore_ascii_case(raw.trim()))
}

fn invalid_level() -> CommandOutcome {
    let valid: Vec<String> = LEVELS.iter().map(|l| code(l.as_str())).collect();
    outcome(
        OutcomeClass::InvalidInput,
        "Which level?",
        format!("Choose one of {}.", valid.join(", ")),
    )
}

fn status(preference: &NotificationPreference) -> CommandOutcome {
    let last = preference
        .last_notified
        .map_or_else(|| "never".to_owned(), |v| v.to_string());
    outcome(
        OutcomeClass::Success,
        "Release notifications",
        "Your release-notification preference.",
    )
    .field("Notifications", on_off(preference.opted_in))
    .field("Level", preference.level.as_str())
    .field("Last notified", last)
}
