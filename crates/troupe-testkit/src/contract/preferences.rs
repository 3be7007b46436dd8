//! The `PreferencesRepository` contract.

use troupe_domain::UserId;
use troupe_domain::notifications::{NotificationLevel, NotificationPreference, Version};

use super::fixtures::{I64_MAX_ID, user};
use crate::Stores;

/// Checks every clause of `PreferencesRepository` on a fresh store.
pub async fn preferences_repository(s: &Stores) {
    preferences_round_trip_and_are_replaced(s).await;
    opted_in_users_page_by_id(s).await;
}

fn version(raw: &str) -> Option<Version> {
    Some(Version::parse(raw).expect("test versions are valid"))
}

fn pref(opted_in: bool, level: NotificationLevel, last: Option<Version>) -> NotificationPreference {
    NotificationPreference {
        opted_in,
        level,
        last_notified: last,
    }
}

async fn preferences_round_trip_and_are_replaced(s: &Stores) {
    let p = &s.preferences;
    // Opted out, so it never shows in the id-ordered listings below.
    let u = user(u64::MAX);
    assert_eq!(
        p.notification_preference(u).await,
        Ok(None),
        "no preference yet"
    );
    let first = pref(false, NotificationLevel::Patch, version("12.345.6789"));
    p.save_notification_preference(u, &first)
        .await
        .expect("save succeeds");
    assert_eq!(
        p.notification_preference(u).await,
        Ok(Some(first)),
        "a preference round-trips"
    );
    let second = pref(false, NotificationLevel::None, None);
    p.save_notification_preference(u, &second)
        .await
        .expect("save succeeds");
    assert_eq!(
        p.notification_preference(u).await,
        Ok(Some(second)),
        "saving again replaces"
    );
    assert_eq!(
        p.notification_preference(user(2)).await,
        Ok(None),
        "preferences are per user"
    );
}

async fn opted_in_users_page_by_id(s: &Stores) {
    use NotificationLevel::{Major, Minor, Patch};
    let p = &s.preferences;
    let rows: [(u64, NotificationPreference); 6] = [
        (50, pref(true, Minor, None)),
        (3, pref(false, Minor, None)),
        (I64_MAX_ID, pref(true, Major, version("1.0.0"))),
        (1, pref(true, Major, None)),
        (100, pref(false, Patch, None)),
        (7, pref(true, Patch, version("2.0.0"))),
    ];
    for (id, preference) in &rows {
        p.save_notification_preference(user(*id), preference)
            .await
            .expect("save succeeds");
    }
    let expect = |ids: &[u64]| -> Vec<(UserId, NotificationPreference)> {
        ids.iter()
            .map(|id| {
                let (_, preference) = rows.iter().find(|(r, _)| r == id).expect("fixture id");
                (user(*id), *preference)
            })
            .collect()
    };
    let cases: [(Option<u64>, u64, &[u64], &str); 7] = [
        (
            None,
            100,
            &[1, 7, 50, I64_MAX_ID],
            "every opted-in user, by id",
        ),
        (None, 2, &[1, 7], "at most limit"),
        (Some(7), 2, &[50, I64_MAX_ID], "strictly after `after`"),
        (Some(3), 1, &[7], "after an opted-out id"),
        (
            Some(2),
            10,
            &[7, 50, I64_MAX_ID],
            "after an id without a record",
        ),
        (Some(I64_MAX_ID), 10, &[], "after the last id"),
        (None, 0, &[], "a limit of 0"),
    ];
    for (after, limit, ids, what) in cases {
        assert_eq!(
            p.opted_in_users(after.map(user), limit).await,
            Ok(expect(ids)),
            "opted_in_users({after:?}, {limit}): {what}"
        );
    }
    assert_eq!(
        p.opted_in_users(None, u64::MAX).await.map(|v| v.len()),
        Ok(4),
        "a limit of u64::MAX lists everyone opted in"
    );
    p.save_notification_preference(user(50), &pref(false, Minor, None))
        .await
        .expect("save succeeds");
    assert_eq!(
        p.opted_in_users(None, 100)
            .await
            .map(|v| v.iter().map(|(u, _)| u.get()).collect()),
        Ok(vec![1, 7, I64_MAX_ID]),
        "a user who opts out leaves the listing"
    );
}
