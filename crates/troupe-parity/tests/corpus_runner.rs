//! The comparison runner of `troupe compare` (`troupe_parity`): it reports a
//! mismatch when one system answers differently or leaves different state behind, and never
//! lets a scenario that could not run pass as a match.

use std::sync::Arc;

use async_trait::async_trait;
use troupe_application::handlers::NewSystem;
use troupe_application::{
    CommandName, CommandOutcome, CommandRequest, CommandSystem, Deps, OutcomeClass, SystemKind,
};
use troupe_parity::{
    CORPUS, FreshStore, Report, Runner, Scenario, Step, StoragePorts, SystemBuilder, Verdict,
    Where, Who,
};
use troupe_ports::StoreError;
use troupe_testkit::InMemoryStore;

struct InMemory;

#[async_trait]
impl FreshStore for InMemory {
    async fn fresh(&self) -> Result<StoragePorts, StoreError> {
        Ok(StoragePorts::of(&Arc::new(InMemoryStore::new())))
    }
}

/// A store that cannot be made.
struct Unreachable;

#[async_trait]
impl FreshStore for Unreachable {
    async fn fresh(&self) -> Result<StoragePorts, StoreError> {
        Err(StoreError::Unavailable("no database here".into()))
    }
}

fn new_system() -> SystemBuilder {
    Arc::new(|deps| Arc::new(NewSystem::new(deps)) as Arc<dyn CommandSystem>)
}

/// The new system, except that `ping` reports another latency and `autorespond status` also
/// switches autorespond on: one reply difference and one silent state difference.
struct Deviant {
    inner: NewSystem,
    deps: Deps,
}

#[async_trait]
impl CommandSystem for Deviant {
    fn kind(&self) -> SystemKind {
        SystemKind::New
    }
    fn handles(&self, _command: CommandName) -> bool {
        true
    }
    async fn execute(&self, request: &CommandRequest) -> CommandOutcome {
        let mut outcome = self.inner.execute(request).await;
        match request.command {
            CommandName::Ping => {
                if let Some(reply) = outcome.reply.as_mut() {
                    reply.fields[0].value = "`999 ms`".into();
                }
            }
            CommandName::Autorespond if request.args.words.is_empty() => {
                self.deps
                    .conversations
                    .set_autorespond(request.invoker.id, true)
                    .await
                    .unwrap();
            }
            _ => {}
        }
        outcome
    }
}

fn deviant() -> SystemBuilder {
    Arc::new(|deps: Deps| {
        Arc::new(Deviant {
            inner: NewSystem::new(deps.clone()),
            deps,
        }) as Arc<dyn CommandSystem>
    })
}

async fn run(candidate: SystemBuilder, scenarios: &[Scenario]) -> Report {
    Runner::new(Arc::new(InMemory), new_system())
        .with_candidate(candidate)
        .run(scenarios)
        .await
}

#[tokio::test]
async fn a_system_compared_with_itself_matches_on_the_whole_corpus() {
    let report = run(new_system(), CORPUS).await;
    assert!(report.is_full_parity(), "{}", report.render_table());
    assert_eq!(report.results.len(), CORPUS.len());
}

#[tokio::test]
async fn a_different_reply_is_reported_as_a_mismatch_of_its_command() {
    let scenarios = [Scenario::new("ping", "!tz ping", OutcomeClass::Success)];
    let report = run(deviant(), &scenarios).await;
    let result = &report.results[0];
    assert_eq!(result.verdict, Verdict::Mismatch);
    assert!(
        result.differences[0].contains("999 ms"),
        "{:?}",
        result.differences
    );
    let ping = report.table()[0];
    assert_eq!(
        (ping.command, ping.scenarios, ping.matches, ping.mismatches),
        (CommandName::Ping, 1, 0, 1)
    );
    assert!(!report.is_full_parity());
}

#[tokio::test]
async fn a_state_change_the_reply_does_not_mention_is_reported_as_a_mismatch() {
    let scenarios = [Scenario::new(
        "autorespond status",
        "!tz autorespond",
        OutcomeClass::Success,
    )];
    let report = run(deviant(), &scenarios).await;
    let result = &report.results[0];
    assert_eq!(result.verdict, Verdict::Mismatch);
    assert_eq!(result.differences.len(), 1, "{:?}", result.differences);
    assert!(
        result.differences[0].starts_with("state:"),
        "{:?}",
        result.differences
    );
    assert!(
        result.differences[0].contains("autorespond true"),
        "{:?}",
        result.differences
    );
}

#[tokio::test]
async fn a_class_other_than_the_expected_one_fails_even_when_both_systems_agree() {
    let scenarios = [Scenario::new(
        "list of nothing",
        "!tz list",
        OutcomeClass::Success,
    )];
    let report = run(new_system(), &scenarios).await;
    assert_eq!(report.results[0].verdict, Verdict::Mismatch);
    assert_eq!(
        report.results[0].differences.len(),
        2,
        "{:?}",
        report.results[0].differences
    );
}

#[tokio::test]
async fn a_scenario_whose_setup_fails_is_broken_not_a_match() {
    let scenarios = [
        Scenario::new("remove", "!tz remove ghost", OutcomeClass::Success)
            .by(Who::Stranger)
            .at(Where::Dm)
            .setup(&[Step::Run(Who::Owner, "!tz remove ghost")]),
    ];
    let report = run(new_system(), &scenarios).await;
    assert_eq!(report.results[0].verdict, Verdict::Broken);
    assert!(
        report.results[0].differences[0].contains("setup"),
        "{:?}",
        report.results[0].differences
    );
    assert_eq!(
        report.table()[CommandName::ALL
            .iter()
            .position(|c| *c == CommandName::Remove)
            .unwrap()]
        .mismatches,
        1
    );
}

#[tokio::test]
async fn a_store_that_cannot_be_made_breaks_the_scenario() {
    let report = Runner::new(Arc::new(Unreachable), new_system())
        .run(&CORPUS[..1])
        .await;
    assert_eq!(report.results[0].verdict, Verdict::Broken);
    assert!(!report.is_full_parity());
}

#[test]
fn the_parity_table_has_a_row_per_command_and_a_total() {
    let table = Report::default().render_table();
    assert_eq!(table.lines().count(), 1 + 18 + 1);
    assert!(table.lines().last().unwrap().starts_with("total"));
}
