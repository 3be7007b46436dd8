//! The communication plan's texts as templates an operator can edit (operations.md §6, ADR
//! 0023): the deployment announcement, the incident message and the user-facing maintenance
//! notice. A template is text with `{placeholder}`s; each kind has its own set of
//! placeholders, checked when the template is parsed (so a typo is a configuration error, not
//! a broken post), and `{{`/`}}` for literal braces. The defaults are the runbook's texts.
//! Pure: posting is the adapters'.

use std::fmt;

use crate::alerts::{Alert, IncidentStatus, RolloutStep, alert_commands, commands_affected};
use crate::flags::FlagName;

/// The placeholders of the deployment announcement.
pub const ANNOUNCEMENT_FIELDS: &[&str] = &[
    "step",
    "flag",
    "value",
    "actor",
    "reason",
    "commands",
    "monitoring",
    "rollback",
    "next_update",
];

/// The placeholders of the incident message.
pub const INCIDENT_FIELDS: &[&str] = &[
    "icon", "rule", "severity", "impact", "commands", "status", "actions",
];

/// The placeholders of the user-facing maintenance notice.
pub const MAINTENANCE_FIELDS: &[&str] = &["step", "flag", "value", "commands", "notice"];

/// The runbook's deployment announcement.
pub const DEFAULT_ANNOUNCEMENT: &str = "📣 Troupe deployment — {step}: {flag} = {value} by {actor} \
     ({reason})\n• commands affected: {commands}\n• {monitoring}\n• {rollback}\n• {next_update}";

/// The runbook's incident message.
pub const DEFAULT_INCIDENT: &str = "{icon} Troupe incident — {rule}\n• impact: [{severity}] \
     {impact}\n• commands affected: {commands}\n• status: {status}\n• actions taken: {actions}";

/// The user-facing maintenance notice.
pub const DEFAULT_MAINTENANCE: &str = "🔧 Maintenance notice: {notice} (commands: {commands})";

/// A template that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("unknown placeholder {{{name}}}; known: {known}")]
    Unknown { name: String, known: String },
    #[error("unclosed {{ at character {at} (write {{{{ for a literal brace)")]
    Unclosed { at: usize },
    #[error("lone }} at character {at} (write }}}} for a literal brace)")]
    Lone { at: usize },
    #[error("is empty")]
    Empty,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Field(String),
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pieces: Vec<Piece>,
}

impl Template {
    /// Parses `text`, allowing the placeholders in `fields`. A literal two-character `\n` is a
    /// line break (environment variables rarely hold real ones).
    pub fn parse(text: &str, fields: &[&str]) -> Result<Self, TemplateError> {
        let text = text.replace("\\n", "\n");
        if text.trim().is_empty() {
            return Err(TemplateError::Empty);
        }
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut chars = text.char_indices().peekable();
        while let Some((at, c)) = chars.next() {
            match c {
                '{' if chars.peek().map(|(_, c)| *c) == Some('{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek().map(|(_, c)| *c) == Some('}') => {
                    chars.next();
                    literal.push('}');
                }
                '{' => {
                    let mut name = String::new();
                    loop {
                        match chars.next() {
                            Some((_, '}')) => break,
                            Some((_, c)) if c != '{' => name.push(c),
                            _ => return Err(TemplateError::Unclosed { at }),
                        }
                    }
                    if !fields.contains(&name.as_str()) {
                        return Err(TemplateError::Unknown {
                            name,
                            known: fields
                                .iter()
                                .map(|f| format!("{{{f}}}"))
                                .collect::<Vec<_>>()
                                .join(" "),
                        });
                    }
                    if !literal.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut literal)));
                    }
                    pieces.push(Piece::Field(name));
                }
                '}' => return Err(TemplateError::Lone { at }),
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            pieces.push(Piece::Text(literal));
        }
        Ok(Self { pieces })
    }

    /// The text with every placeholder replaced by its value (an absent one by nothing).
    pub fn render(&self, values: &[(&str, String)]) -> String {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Field(name) => {
                    if let Some((_, value)) = values.iter().find(|(n, _)| n == name) {
                        out.push_str(value);
                    }
                }
            }
        }
        out
    }
}

/// The three templates of the communication plan.
#[derive(Clone, PartialEq, Eq)]
pub struct Templates {
    pub announcement: Template,
    pub incident: Template,
    pub maintenance: Template,
}

impl fmt::Debug for Templates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Templates")
            .field("default", &(*self == Self::default()))
            .finish_non_exhaustive()
    }
}

impl Default for Templates {
    fn default() -> Self {
        let parse = |text, fields| Template::parse(text, fields).expect("a default template");
        Self {
            announcement: parse(DEFAULT_ANNOUNCEMENT, ANNOUNCEMENT_FIELDS),
            incident: parse(DEFAULT_INCIDENT, INCIDENT_FIELDS),
            maintenance: parse(DEFAULT_MAINTENANCE, MAINTENANCE_FIELDS),
        }
    }
}

impl Templates {
    /// The deployment announcement of a flag change, `active_alerts` active now.
    pub fn announcement(
        &self,
        change: &troupe_ports::FlagAuditEntry,
        active_alerts: usize,
    ) -> String {
        let step = RolloutStep::of(change);
        let monitoring = if active_alerts == 0 {
            "monitoring active, no alert".to_owned()
        } else {
            format!("monitoring active, {active_alerts} alert(s) active")
        };
        let rollback = match step {
            RolloutStep::StageStart => format!(
                "rollback ready: `troupe flags set {} false --reason \"rollback\"` (or \
                 FEATURE_FLAG_DDD_COMMANDS_ENABLED=false for everything)",
                change.name
            ),
            RolloutStep::Rollback | RolloutStep::EmergencyRollback => {
                "rolled back to the legacy system; re-enable with `troupe flags set` once fixed"
                    .into()
            }
        };
        let next = match step {
            RolloutStep::StageStart => "next update: in 1 hour, or at once on any alert",
            RolloutStep::Rollback | RolloutStep::EmergencyRollback => {
                "next update: when the cause is known"
            }
        };
        self.announcement.render(&[
            ("step", step.as_str().to_owned()),
            ("flag", change.name.clone()),
            ("value", value_of(change)),
            ("actor", change.actor.clone()),
            ("reason", change.reason.clone()),
            ("commands", commands_affected(&change.name)),
            ("monitoring", monitoring),
            ("rollback", rollback),
            ("next_update", next.to_owned()),
        ])
    }

    /// The incident message of an alert.
    pub fn incident(&self, alert: &Alert, status: IncidentStatus, actions: &[String]) -> String {
        let icon = match status {
            IncidentStatus::Resolved => "✅",
            IncidentStatus::RollingBack => "⏪",
            IncidentStatus::Investigating => "🚨",
        };
        let actions = if actions.is_empty() {
            "none yet (on call investigating)".to_owned()
        } else {
            actions.join("; ")
        };
        self.incident.render(&[
            ("icon", icon.to_owned()),
            ("rule", alert.rule.name().to_string()),
            ("severity", alert.severity.as_str().to_owned()),
            ("impact", alert.message.clone()),
            ("commands", alert_commands(alert.rule)),
            ("status", status.as_str().to_owned()),
            ("actions", actions),
        ])
    }

    /// The user-facing maintenance notice of a flag change, or `None` when users see no
    /// difference (shadow comparison, the fallback switch, an unknown flag).
    pub fn maintenance(&self, change: &troupe_ports::FlagAuditEntry) -> Option<String> {
        match FlagName::parse(&change.name)? {
            FlagName::Shadow(_) | FlagName::FallbackOnError => return None,
            _ => {}
        }
        let step = RolloutStep::of(change);
        let notice = match step {
            RolloutStep::StageStart => {
                "we are switching these commands to their new version; if anything looks \
                 wrong, tell the moderators"
            }
            RolloutStep::Rollback | RolloutStep::EmergencyRollback => {
                "these commands are back on their previous version while we look into a problem"
            }
        };
        Some(self.maintenance.render(&[
            ("step", step.as_str().to_owned()),
            ("flag", change.name.clone()),
            ("value", value_of(change)),
            ("commands", commands_affected(&change.name)),
            ("notice", notice.to_owned()),
        ]))
    }
}

fn value_of(change: &troupe_ports::FlagAuditEntry) -> String {
    change
        .new
        .map_or_else(|| "default".to_owned(), |v| v.to_string())
}

#[cfg(test)]
mod tests {
    use troupe_domain::Timestamp;

    use super::*;

    fn change(name: &str, old: Option<bool>, new: Option<bool>) -> troupe_ports::FlagAuditEntry {
        troupe_ports::FlagAuditEntry {
            name: name.into(),
            old,
            new,
            actor: "ops".into(),
            reason: "stage 1".into(),
            at: Timestamp::from_millis(0),
        }
    }

    #[test]
    fn a_template_replaces_its_placeholders_and_keeps_doubled_braces_literal() {
        let t = Template::parse("{{x}} {step}: {flag}\\n{commands}!", MAINTENANCE_FIELDS).unwrap();
        let text = t.render(&[
            ("step", "stage start".into()),
            ("flag", "ddd.commands.utility".into()),
            ("commands", "ping".into()),
        ]);
        assert_eq!(text, "{x} stage start: ddd.commands.utility\nping!");
    }

    #[test]
    fn a_template_with_an_unknown_placeholder_or_a_stray_brace_is_refused_naming_it() {
        let unknown = Template::parse("{stage} {commands}", ANNOUNCEMENT_FIELDS).unwrap_err();
        assert!(unknown.to_string().contains("{stage}"), "{unknown}");
        assert!(
            unknown.to_string().contains("{step}"),
            "lists the known ones: {unknown}"
        );
        assert_eq!(
            Template::parse("a {step", ANNOUNCEMENT_FIELDS),
            Err(TemplateError::Unclosed { at: 2 })
        );
        assert_eq!(
            Template::parse("a } b", ANNOUNCEMENT_FIELDS),
            Err(TemplateError::Lone { at: 2 })
        );
        assert_eq!(
            Template::parse("  ", ANNOUNCEMENT_FIELDS),
            Err(TemplateError::Empty)
        );
    }

    #[test]
    fn the_default_templates_give_the_runbook_texts() {
        let t = Templates::default();
        let text = t.announcement(&change("ddd.commands.utility", None, Some(true)), 0);
        assert!(
            text.starts_with(
                "📣 Troupe deployment — stage start: ddd.commands.utility = true by ops (stage 1)\n"
            ),
            "{text}"
        );
        assert!(text.contains("• commands affected: ping"), "{text}");
        let notice = t
            .maintenance(&change("ddd.commands.enabled", Some(true), Some(false)))
            .unwrap();
        assert!(
            notice.contains("back on their previous version"),
            "{notice}"
        );
        assert!(notice.contains("every command"), "{notice}");
    }

    #[test]
    fn users_get_no_maintenance_notice_for_a_change_they_cannot_see() {
        let t = Templates::default();
        for flag in [
            "ddd.commands.shadow.personality",
            "ddd.commands.fallbackOnError",
            "nope",
        ] {
            assert_eq!(
                t.maintenance(&change(flag, None, Some(true))),
                None,
                "{flag}"
            );
        }
        assert!(
            t.maintenance(&change("ddd.commands.ping", None, Some(true)))
                .is_some()
        );
    }
}
