//! Release notifications (commands.md §2, notifications): after a version change, opted-in users
//! whose level includes the change get one DM summarising the changes since the version they last
//! saw, taken from CHANGELOG.md; a user whose DMs are closed is opted out; DMs go out in bounded
//! batches.

use troupe_domain::UserId;
use troupe_domain::notifications::{NotificationPreference, Version};
use troupe_ports::{OutgoingMessage, PlatformError, StoreError};

use crate::context::Deps;

/// Longest DM text (Discord allows 2,000 characters).
const MAX_DM_CHARS: usize = 1900;

/// The released versions of a changelog, newest first, each with its section text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReleaseNotes {
    releases: Vec<(Version, String)>,
}

impl ReleaseNotes {
    /// Reads `## [x.y.z] …` sections of a Keep-a-Changelog file; `Unreleased` and headings that
    /// are not versions are skipped.
    pub fn parse(changelog: &str) -> Self {
        let mut releases: Vec<(Version, String)> = Vec::new();
        let mut current: Option<(Version, String)> = None;
        for line in changelog.lines() {
            if let Some(heading) = line.strip_prefix("## ") {
                releases.extend(current.take());
                let raw = heading
                    .trim_start_matches('[')
                    .split([']', ' '])
                    .next()
                    .unwrap_or_default();
                current = Version::parse(raw).map(|v| (v, String::new()));
            } else if let Some((_, text)) = &mut current {
                text.push_str(line);
                text.push('\n');
            }
        }
        releases.extend(current);
        releases.sort_by_key(|(v, _)| std::cmp::Reverse(*v));
        Self { releases }
    }

    /// The newest release before `version`, if any.
    pub fn previous(&self, version: Version) -> Option<Version> {
        self.releases.iter().map(|(v, _)| *v).find(|v| *v < version)
    }

    /// The summary of every release after `seen` up to `current`, newest first, cut to fit a DM.
    pub fn summary(&self, seen: Version, current: Version) -> String {
        let mut out = format!("**Troupe {current}** is out. What changed since {seen}:\n");
        for (version, text) in self
            .releases
            .iter()
            .filter(|(v, _)| *v > seen && *v <= current)
        {
            out.push_str(&format!("\n__{version}__\n{}", text.trim()));
            out.push('\n');
        }
        out.push_str("\nTurn these messages off with `notifications off`, or choose `notifications level major|minor|patch`.");
        if out.chars().count() > MAX_DM_CHARS {
            let cut: String = out.chars().take(MAX_DM_CHARS - 1).collect();
            return format!("{cut}…");
        }
        out
    }
}

/// What an announcement did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AnnounceReport {
    pub notified: u64,
    pub opted_out_closed_dms: u64,
    pub skipped: u64,
    pub failed: u64,
}

/// Sends the release DM for `deps.config.version` to every opted-in user who should get it,
/// `batch` users at a time. A user's `last_notified` is saved after each DM, so a restart midway
/// never sends a second one. Users without a stored `last_notified` are treated as having seen
/// the previous release.
pub async fn announce_release(
    deps: &Deps,
    notes: &ReleaseNotes,
    batch: u64,
) -> Result<AnnounceReport, StoreError> {
    let current = deps.config.version;
    let fallback = notes.previous(current).unwrap_or(Version {
        major: 0,
        minor: 0,
        patch: 0,
    });
    let mut report = AnnounceReport::default();
    let mut after: Option<UserId> = None;
    loop {
        let page = deps.preferences.opted_in_users(after, batch.max(1)).await?;
        let Some((last, _)) = page.last() else { break };
        after = Some(*last);
        for (user, preference) in page {
            if !preference.wants_notification(current, fallback) {
                report.skipped += 1;
                continue;
            }
            let seen = preference.last_notified.unwrap_or(fallback);
            let message = OutgoingMessage::text(notes.summary(seen, current));
            match deps.platform.send_dm(user, message).await {
                Ok(_) => {
                    let updated = NotificationPreference {
                        last_notified: Some(current),
                        ..preference
                    };
                    deps.preferences
                        .save_notification_preference(user, &updated)
                        .await?;
                    report.notified += 1;
                }
                Err(PlatformError::DmClosed) => {
                    let updated = NotificationPreference {
                        opted_in: false,
                        ..preference
                    };
                    deps.preferences
                        .save_notification_preference(user, &updated)
                        .await?;
                    report.opted_out_closed_dms += 1;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "release notification not sent; retried at the next start");
                    report.failed += 1;
                }
            }
        }
    }
    Ok(report)
}
