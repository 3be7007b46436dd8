//! Every scenario of the comparison corpus replayed in shadow mode, with the real legacy system
//! authoritative and the real new system as the candidate (ADR 0015), over the in-memory
//! store: legacy writes for real, the candidate reads the state legacy started from, so a
//! correct candidate never mismatches; a seeded bug in one write handler is caught and named.
//! (The same replay over SQLite and PostgreSQL: troupe-store's `shadow_snapshots` tests.)

use std::sync::Arc;

use async_trait::async_trait;
use troupe_application::handlers::NewSystem;
use troupe_application::shadow::ShadowResult;
use troupe_application::{CommandName, CommandOutcome, CommandRequest, CommandSystem, SystemKind};
use troupe_legacy::LegacySystem;
use troupe_parity::{CORPUS, FreshStore, Runner, ShadowReplay, StoragePorts};
use troupe_ports::StoreError;
use troupe_testkit::{InMemorySnapshots, InMemoryStore};

struct InMemory;

#[async_trait]
impl FreshStore for InMemory {
    async fn fresh(&self) -> Result<StoragePorts, StoreError> {
        let store = Arc::new(InMemoryStore::new());
        Ok(StoragePorts::of(&store).with_snapshots(Arc::new(InMemorySnapshots::of(&store))))
    }
}

fn legacy_runner() -> Runner {
    Runner::new(
        Arc::new(InMemory),
        Arc::new(|deps| Arc::new(LegacySystem::new(deps)) as Arc<dyn CommandSystem>),
    )
}

fn not_matching(results: &[ShadowReplay]) -> Vec<String> {
    results
        .iter()
        .filter(|r| r.result != ShadowResult::Match)
        .map(|r| format!("{} ({}): {:?}", r.name, r.result.as_str(), r.differences))
        .collect()
}

#[tokio::test]
async fn every_corpus_scenario_replayed_in_shadow_mode_over_the_in_memory_store_matches() {
    let results = legacy_runner().shadow_all(CORPUS).await;
    assert_eq!(results.len(), CORPUS.len());
    let failures = not_matching(&results);
    assert!(
        failures.is_empty(),
        "{} of {} scenarios did not match:\n{}",
        failures.len(),
        results.len(),
        failures.join("\n")
    );
}

/// The new system with a seeded bug in one write handler: `alias` stores the alias with an
/// extra letter.
struct MisspellingAlias(NewSystem);

#[async_trait]
impl CommandSystem for MisspellingAlias {
    fn kind(&self) -> SystemKind {
        SystemKind::New
    }
    fn handles(&self, command: CommandName) -> bool {
        self.0.handles(command)
    }
    async fn execute(&self, request: &CommandRequest) -> CommandOutcome {
        let mut request = request.clone();
        if request.command == CommandName::Alias
            && let Some(alias) = request.args.words.get_mut(1)
        {
            alias.push('x');
        }
        self.0.execute(&request).await
    }
}

#[tokio::test]
async fn a_seeded_bug_in_the_alias_handler_is_a_shadow_mismatch_naming_the_difference() {
    let runner = legacy_runner().with_candidate(Arc::new(|deps| {
        Arc::new(MisspellingAlias(NewSystem::new(deps))) as Arc<dyn CommandSystem>
    }));
    let results = runner.shadow_all(CORPUS).await;
    let alias_successes: Vec<&ShadowReplay> = results
        .iter()
        .filter(|r| {
            r.command == Some(CommandName::Alias)
                && r.served == troupe_application::OutcomeClass::Success
        })
        .collect();
    assert!(
        !alias_successes.is_empty(),
        "the corpus has successful aliases"
    );
    for replay in alias_successes {
        assert_eq!(replay.result, ShadowResult::Mismatch, "{}", replay.name);
        assert!(
            replay.differences.iter().any(|d| d
                .split('"')
                .any(|part| part.ends_with('x') || part.contains("x "))),
            "{}: the misspelt alias is named: {:?}",
            replay.name,
            replay.differences
        );
    }
    let others = results
        .iter()
        .filter(|r| r.command != Some(CommandName::Alias))
        .collect::<Vec<_>>();
    assert!(
        others.iter().all(|r| r.result == ShadowResult::Match),
        "only alias scenarios are affected"
    );
}
