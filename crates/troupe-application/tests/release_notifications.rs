//! Release notifications after a version change.

mod support;

use troupe_application::release::{ReleaseNotes, announce_release};
use troupe_domain::notifications::{NotificationLevel, NotificationPreference, Version};
use troupe_ports::PreferencesRepository;

use support::{World, user};

const CHANGELOG: &str = "# Changelog\n\n## [Unreleased]\n- next\n\n## [1.2.0] - 2026-11-01\n### Added\n- shiny minor thing\n\n## [1.1.1] - 2026-10-01\n### Fixed\n- a patch fix\n\n## [1.1.0] - 2026-09-01\n- older minor\n";

fn v(s: &str) -> Version {
    Version::parse(s).unwrap()
}

#[test]
fn release_notes_are_read_from_the_changelog_newest_first() {
    let notes = ReleaseNotes::parse(CHANGELOG);
    assert_eq!(notes.previous(v("1.2.0")), Some(v("1.1.1")));
    assert_eq!(notes.previous(v("1.1.0")), None);
    let summary = notes.summary(v("1.1.0"), v("1.2.0"));
    assert!(summary.contains("shiny minor thing") && summary.contains("a patch fix"));
    assert!(!summary.contains("older minor") && !summary.contains("next"));
    assert!(
        summary.find("shiny").unwrap() < summary.find("patch fix").unwrap(),
        "newest first"
    );
    let huge = format!("## [2.0.0]\n{}\n", "x ".repeat(5000));
    assert!(
        ReleaseNotes::parse(&huge)
            .summary(v("1.0.0"), v("2.0.0"))
            .chars()
            .count()
            <= 1900
    );
    assert_eq!(
        ReleaseNotes::parse("no headings at all"),
        ReleaseNotes::default()
    );
}

#[tokio::test]
async fn opted_in_users_whose_level_includes_the_change_get_one_dm() {
    let mut world = World::new();
    world.config.version = v("1.2.0");
    let prefs = |opted_in, level, last: Option<&str>| NotificationPreference {
        opted_in,
        level,
        last_notified: last.map(v),
    };
    let store = world.store.clone();
    store
        .save_notification_preference(
            user(11),
            &prefs(true, NotificationLevel::Minor, Some("1.1.1")),
        )
        .await
        .unwrap();
    store
        .save_notification_preference(
            user(12),
            &prefs(true, NotificationLevel::Major, Some("1.1.1")),
        )
        .await
        .unwrap();
    store
        .save_notification_preference(
            user(13),
            &prefs(false, NotificationLevel::Patch, Some("1.0.0")),
        )
        .await
        .unwrap();
    store
        .save_notification_preference(
            user(14),
            &prefs(true, NotificationLevel::Patch, Some("1.2.0")),
        )
        .await
        .unwrap();
    store
        .save_notification_preference(user(15), &prefs(true, NotificationLevel::Minor, None))
        .await
        .unwrap();
    store
        .save_notification_preference(
            user(16),
            &prefs(true, NotificationLevel::Minor, Some("1.0.0")),
        )
        .await
        .unwrap();
    world.platform.close_dms(user(16));

    let report = announce_release(&world.deps(), &ReleaseNotes::parse(CHANGELOG), 2)
        .await
        .unwrap();

    let dms: Vec<u64> = world
        .platform
        .sent_dms()
        .iter()
        .map(|(u, _)| u.get())
        .collect();
    assert_eq!(
        dms,
        vec![11, 15],
        "minor-level users with an older version; not major-only, opted-out or up-to-date users"
    );
    assert_eq!(report.notified, 2);
    assert_eq!(report.opted_out_closed_dms, 1);
    let closed = store
        .notification_preference(user(16))
        .await
        .unwrap()
        .unwrap();
    assert!(!closed.opted_in, "closed DMs opt the user out");
    let done = store
        .notification_preference(user(11))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.last_notified, Some(v("1.2.0")));

    // A second start sends nothing again.
    let again = announce_release(&world.deps(), &ReleaseNotes::parse(CHANGELOG), 2)
        .await
        .unwrap();
    assert_eq!(again.notified, 0);
    assert_eq!(world.platform.sent_dms().len(), 2);
}
