//! The comparison corpus (`troupe_parity`) played through the legacy and the new
//! system over in-memory stores: both systems reach full parity, scenario by scenario.

use std::sync::Arc;

use async_trait::async_trait;
use troupe_application::CommandSystem;
use troupe_legacy::LegacySystem;
use troupe_parity::{CORPUS, FreshStore, Runner, StoragePorts};
use troupe_ports::StoreError;
use troupe_testkit::InMemoryStore;

/// A fresh in-memory store per copy.
struct InMemory;

#[async_trait]
impl FreshStore for InMemory {
    async fn fresh(&self) -> Result<StoragePorts, StoreError> {
        Ok(StoragePorts::of(&Arc::new(InMemoryStore::new())))
    }
}

fn runner() -> Runner {
    Runner::new(
        Arc::new(InMemory),
        Arc::new(|deps| Arc::new(LegacySystem::new(deps)) as Arc<dyn CommandSystem>),
    )
}

#[tokio::test]
async fn legacy_and_new_systems_agree_on_every_scenario_of_the_corpus() {
    let report = runner().run(CORPUS).await;
    let failures: Vec<String> = report
        .failures()
        .map(|r| format!("{} ({}): {:?}", r.name, r.line, r.differences))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} scenarios differ:\n{}\n{}",
        failures.len(),
        report.results.len(),
        failures.join("\n"),
        report.render_table()
    );
}

#[test]
fn the_corpus_holds_at_least_100_scenarios_covering_all_18_commands() {
    assert!(CORPUS.len() >= 100, "{}", CORPUS.len());
    for scenario in CORPUS {
        assert!(
            scenario.command_name().is_some(),
            "{} does not parse",
            scenario.command
        );
    }
    let report = troupe_parity::Report::default();
    assert_eq!(report.table().len(), 18);
    for command in troupe_application::CommandName::ALL {
        let count = CORPUS
            .iter()
            .filter(|s| s.command_name() == Some(command))
            .count();
        assert!(count >= 3, "{command} has only {count} scenarios");
    }
}
