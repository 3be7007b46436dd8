//! Import of the original bot's JSON data files.

mod common;

use std::path::PathBuf;

use troupe_domain::UserId;
use troupe_domain::conversation::ConversationMode;
use troupe_domain::notifications::NotificationLevel;
use troupe_domain::personality::Alias;
use troupe_ports::{
    AuthRepository, ConversationRepository, PersonalityRepository, PreferencesRepository,
};
use troupe_store::{MaintenanceError, import_legacy};

fn fixtures(which: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/legacy")
        .join(which)
}

fn user(n: u64) -> UserId {
    UserId::new(n).unwrap()
}

fn reasons(report: &troupe_store::ImportReport, file: &str) -> Vec<String> {
    report
        .files
        .iter()
        .find(|f| f.file == file)
        .map(|f| f.skipped.iter().map(|(e, r)| format!("{e}: {r}")).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn the_older_files_import_with_every_bad_entry_skipped_for_a_stated_reason() {
    let dir = tempfile::tempdir().unwrap();
    let store = common::sqlite_store(dir.path(), "s.db").await;
    let report = import_legacy(&store, &fixtures("older")).await.unwrap();
    let text = report.to_string();

    let einstein = store
        .lookup("Albert Einstein")
        .await
        .unwrap()
        .expect("imported");
    assert_eq!(einstein.name().as_str(), "albert-einstein");
    assert_eq!(einstein.owner(), user(123_456_789_012_345_678));
    let aliases: Vec<&str> = einstein.aliases().iter().map(Alias::as_str).collect();
    assert_eq!(aliases, ["albert", "einstein"]);
    assert_eq!(einstein.created_at().as_millis(), 1_709_294_400_000);
    assert_eq!(
        einstein
            .profile()
            .avatar_url
            .as_ref()
            .map(troupe_domain::personality::AvatarUrl::as_str),
        Some("https://cdn.example/einstein.png")
    );
    let lilith = store.lookup("lilith").await.unwrap().expect("imported");
    assert!(
        lilith.profile().avatar_url.is_none(),
        "an invalid avatar URL is dropped"
    );
    assert_eq!(store.count().await.unwrap(), 2);

    let skipped = reasons(&report, "personalities.json").join("\n");
    for expected in [
        "bad name!: invalid name",
        "admin: invalid name",
        "ownerless: no valid owner id",
    ] {
        assert!(skipped.contains(expected), "{expected:?} in:\n{text}");
    }
    let skipped = reasons(&report, "aliases.json").join("\n");
    for expected in [
        // JSON object keys are read in byte order: "LILITH" comes before "lilith".
        "lilith: already present",
        "ghost alias: personality \"no-such-personality\" does not exist",
        "lilith-tzel-shani: equals the name of lilith-tzel-shani",
        "bad*alias: invalid alias",
    ] {
        assert!(skipped.contains(expected), "{expected:?} in:\n{text}");
    }

    let token = store
        .token(user(123_456_789_012_345_678))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(token.token.expose(), "legacy-token-abc");
    let skipped = reasons(&report, "auth_tokens.json").join("\n");
    assert!(skipped.contains("223456789012345678: expired"), "{text}");
    assert!(skipped.contains("not-a-user: invalid user id"), "{text}");
    assert!(
        store
            .verification(user(123_456_789_012_345_678))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .verification(user(223_456_789_012_345_678))
            .await
            .unwrap()
            .is_none()
    );

    let channel = troupe_domain::ChannelId::new(987_654_321_098_765_432).unwrap();
    let c = store
        .conversation(user(123_456_789_012_345_678), channel)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.mode, ConversationMode::MentionOnly);
    assert!(
        reasons(&report, "conversations.json")
            .join("\n")
            .contains("deleted-long-ago")
    );
    for id in [1_111_111_111_111_111_111_u64, 1_111_111_111_111_111_113] {
        let m = store
            .personality_message(troupe_domain::MessageId::new(id).unwrap())
            .await
            .unwrap()
            .expect("message mapped");
        assert_eq!(m.personality.as_str(), "albert-einstein");
    }
    let a = store.activation(channel).await.unwrap().unwrap();
    assert_eq!(a.activated_at.as_millis(), 1_709_294_700_000);
    assert!(
        store
            .autorespond(user(223_456_789_012_345_678))
            .await
            .unwrap()
    );
    assert!(
        reasons(&report, "auto_response.json")
            .join("\n")
            .contains("zero: invalid user id")
    );
    let pref = store
        .notification_preference(user(123_456_789_012_345_678))
        .await
        .unwrap()
        .unwrap();
    assert!(!pref.opted_in);
    assert_eq!(pref.level, NotificationLevel::Major);
    assert!(
        reasons(&report, "releaseNotificationPreferences.json")
            .join("\n")
            .contains("unknown notification level")
    );

    assert!(
        store.check().await.unwrap().is_ok(),
        "the imported store is sound"
    );
}

#[tokio::test]
async fn importing_the_fixtures_twice_gives_the_same_store_as_importing_once() {
    for which in ["older", "later"] {
        let dir = tempfile::tempdir().unwrap();
        let store = common::sqlite_store(dir.path(), "s.db").await;
        let first = import_legacy(&store, &fixtures(which)).await.unwrap();
        assert!(first.imported() > 0, "{which}: {first}");
        let once = store.export_rows().await.unwrap();
        let second = import_legacy(&store, &fixtures(which)).await.unwrap();
        assert_eq!(
            second.imported(),
            0,
            "{which}: a second import adds nothing:\n{second}"
        );
        assert_eq!(
            store.export_rows().await.unwrap(),
            once,
            "{which}: same store"
        );
    }
}

#[tokio::test]
async fn the_later_personalities_format_imports_ids_aliases_and_removed_entries() {
    let dir = tempfile::tempdir().unwrap();
    let store = common::sqlite_store(dir.path(), "s.db").await;
    let report = import_legacy(&store, &fixtures("later")).await.unwrap();
    let angel = store.lookup("angel dust").await.unwrap().expect("imported");
    assert_eq!(angel.name().as_str(), "angel-dust");
    assert_eq!(angel.display_name().as_str(), "Angel Dust");
    let aliases: Vec<&str> = angel.aliases().iter().map(Alias::as_str).collect();
    assert_eq!(aliases, ["Angel", "Angel Dust"]);
    let husk = store.lookup("catman").await.unwrap().expect("alias by id");
    assert_eq!(husk.name().as_str(), "husk");
    let skipped = reasons(&report, "personalities.json").join("\n");
    assert!(skipped.contains("p-3: marked removed"), "{report}");
    assert!(
        skipped.contains("nobody: personality \"p-404\" does not exist"),
        "{report}"
    );
    let a = store
        .activation(troupe_domain::ChannelId::new(987_654_321_098_765_432).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a.personality.as_str(), "husk");
    assert!(store.check().await.unwrap().is_ok());
}

#[tokio::test]
async fn a_malformed_file_names_the_file_and_entry_and_nothing_is_imported() {
    let dir = tempfile::tempdir().unwrap();
    let store = common::sqlite_store(dir.path(), "s.db").await;
    let empty = store.export_rows().await.unwrap();
    match import_legacy(&store, &fixtures("malformed")).await {
        Err(MaintenanceError::Malformed { file, entry, .. }) => {
            assert_eq!(file, "conversations.json");
            assert_eq!(entry, "223456789012345678-887654321098765432");
        }
        other => panic!("expected Malformed, got {other:?}"),
    }
    assert_eq!(
        store.export_rows().await.unwrap(),
        empty,
        "nothing half-imported"
    );

    let bad = dir.path().join("bad");
    std::fs::create_dir(&bad).unwrap();
    std::fs::write(bad.join("aliases.json"), "{ not json").unwrap();
    let err = import_legacy(&store, &bad).await.unwrap_err();
    assert!(err.to_string().contains("aliases.json"), "{err}");
    std::fs::write(bad.join("aliases.json"), "[1, 2]").unwrap();
    assert!(matches!(
        import_legacy(&store, &bad).await,
        Err(MaintenanceError::Malformed { .. })
    ));
    assert!(
        import_legacy(&store, &dir.path().join("missing"))
            .await
            .is_err()
    );
}

fn altered_personality_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let long = "D".repeat(200);
    let json = serde_json::json!({
        "odd-one": {
            "fullName": "odd-one",
            "addedBy": "123456789012345678",
            "addedAt": 1_709_294_400_000_u64,
            "displayName": long,
            "avatarUrl": "javascript:alert(1)",
        },
        "fine-one": {
            "fullName": "fine-one",
            "addedBy": "123456789012345678",
            "addedAt": 1_709_294_400_000_u64,
            "displayName": "Fine One",
            "avatarUrl": "https://cdn.example/fine.png",
        }
    });
    std::fs::write(dir.path().join("personalities.json"), json.to_string()).unwrap();
    dir
}

#[tokio::test]
async fn every_dropped_field_is_listed_per_personality_and_counted_in_the_summary() {
    let data = altered_personality_dir();
    let dir = tempfile::tempdir().unwrap();
    let store = common::sqlite_store(dir.path(), "s.db").await;
    let report = import_legacy(&store, data.path()).await.unwrap();
    assert_eq!(report.imported(), 2);
    assert_eq!(report.altered(), 2, "{report}");
    let text = report.to_string();
    assert!(
        text.starts_with("legacy import: 2 imported, 0 skipped, 2 fields dropped or altered"),
        "{text}"
    );
    assert!(text.contains("~ odd-one: displayName \"DDDD"), "{text}");
    assert!(text.contains("the name is shown instead"), "{text}");
    assert!(
        text.contains("~ odd-one: avatarUrl \"javascript:alert(1)\" dropped"),
        "{text}"
    );
    assert!(
        !text.contains("fine-one:"),
        "nothing changed in fine-one: {text}"
    );
    let odd = store.lookup("odd-one").await.unwrap().expect("imported");
    assert_eq!(odd.display_name().as_str(), "odd-one");
    assert!(odd.profile().avatar_url.is_none());
}

#[tokio::test]
async fn strict_refuses_an_import_that_would_change_data_and_writes_nothing() {
    let data = altered_personality_dir();
    let dir = tempfile::tempdir().unwrap();
    let store = common::sqlite_store(dir.path(), "s.db").await;
    let error = troupe_store::import_legacy_with(&store, data.path(), true)
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(text.contains("--strict"), "{text}");
    assert!(text.contains("avatarUrl"), "{text}");
    assert_eq!(store.count().await.unwrap(), 0);
    // A clean directory imports under --strict.
    let clean = tempfile::tempdir().unwrap();
    std::fs::write(
        clean.path().join("personalities.json"),
        r#"{"fine-one":{"fullName":"fine-one","addedBy":"123456789012345678","addedAt":1709294400000,"displayName":"Fine One"}}"#,
    )
    .unwrap();
    let report = troupe_store::import_legacy_with(&store, clean.path(), true)
        .await
        .unwrap();
    assert_eq!(report.imported(), 1);
}
