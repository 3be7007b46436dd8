//! The dispatcher guard (commands.md §1): ids once; an identical command that succeeded less
//! than 3 s ago or is still running is not run again; a failed one never blocks the next —
//! over the in-memory store and a fake clock.

use std::sync::Arc;
use std::time::Duration;

use troupe_application::guard::{
    Admission, AdmitTicket, CommandGuard, IN_FLIGHT_TIMEOUT, MAX_REMEMBERED, Suppressed,
};
use troupe_application::parser::{Parsed, parse};
use troupe_application::{
    CommandRequest, Invoker, Location, OutcomeClass, Permissions, RequestSource,
};
use troupe_domain::{ChannelId, MessageId, Timestamp, UserId};
use troupe_ports::{MockProcessedMessages, StoreError};
use troupe_testkit::{FakeClock, InMemoryStore};

const START: Timestamp = Timestamp::from_millis(1_750_000_000_000);

struct World {
    store: Arc<InMemoryStore>,
    clock: Arc<FakeClock>,
    guard: CommandGuard,
    next_id: u64,
}

impl World {
    fn new() -> Self {
        let store = Arc::new(InMemoryStore::new());
        let clock = Arc::new(FakeClock::new(START));
        let guard = CommandGuard::new(store.clone(), clock.clone());
        Self {
            store,
            clock,
            guard,
            next_id: 1,
        }
    }

    /// A fresh message (new id) from `user` in `channel` with `content`.
    fn message(&mut self, user: u64, channel: u64, content: &str) -> CommandRequest {
        let id = self.next_id;
        self.next_id += 1;
        request(id, user, channel, content)
    }

    fn after(&self, millis: u64) {
        self.clock.advance(Duration::from_millis(millis));
    }
}

fn request(id: u64, user: u64, channel: u64, content: &str) -> CommandRequest {
    let Parsed::Command {
        command,
        invoked_as,
        args,
    } = parse(content, "!tz")
    else {
        panic!("{content:?} is a command");
    };
    CommandRequest {
        invoker: Invoker {
            id: UserId::new(user).unwrap(),
            display_name: format!("user{user}"),
            is_bot_owner: false,
            permissions: Permissions::default(),
            via_proxy: false,
        },
        location: Location::Dm {
            channel: ChannelId::new(channel).unwrap(),
        },
        source: RequestSource::Message(MessageId::new(id).unwrap()),
        command,
        invoked_as,
        args,
        received_at: START,
    }
}

fn verdict(admission: &Admission) -> &'static str {
    match admission {
        Admission::Proceed(_) => "proceed",
        Admission::Replayed => "replayed",
        Admission::Suppressed(Suppressed::Duplicate) => "duplicate",
        Admission::Suppressed(Suppressed::InFlight) => "in flight",
    }
}

impl World {
    /// Admits `request`, which must proceed, and completes it with `class` at once.
    async fn run(&self, request: &CommandRequest, class: OutcomeClass) {
        match self.guard.admit(request).await {
            Admission::Proceed(ticket) => self.guard.complete(ticket, class),
            other => panic!("{request:?} should run, got {other:?}"),
        }
    }

    async fn start(&self, request: &CommandRequest) -> AdmitTicket {
        match self.guard.admit(request).await {
            Admission::Proceed(ticket) => ticket,
            other => panic!("{request:?} should run, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_message_id_is_admitted_once_also_by_a_new_guard_over_the_same_store() {
    let w = World::new();
    let first = request(7, 1, 10, "!tz ping");
    // Even a failed command's message is not handled twice (a replay is not a new attempt).
    w.run(&first, OutcomeClass::InternalError).await;
    w.after(10_000);
    assert_eq!(verdict(&w.guard.admit(&first).await), "replayed");
    // A restart: new process memory, same persistent store.
    let restarted = CommandGuard::new(w.store.clone(), w.clock.clone());
    assert_eq!(verdict(&restarted.admit(&first).await), "replayed");
    // A slash interaction with the same id is the same Discord object.
    let mut interaction = first.clone();
    interaction.source = RequestSource::Interaction(MessageId::new(7).unwrap());
    assert_eq!(verdict(&restarted.admit(&interaction).await), "replayed");
}

#[tokio::test]
async fn an_identical_command_that_succeeded_less_than_three_seconds_ago_is_a_duplicate() {
    // (delay in ms, user, channel, content, verdict) after a successful `!tz info Einstein` by
    // user 1 in channel 10.
    let cases: &[(u64, u64, u64, &str, &str)] = &[
        (0, 1, 10, "!tz info Einstein", "duplicate"),
        (2_999, 1, 10, "!tz info Einstein", "duplicate"),
        (3_000, 1, 10, "!tz info Einstein", "proceed"),
        (1_000, 1, 10, "!TZ INFO   Einstein", "duplicate"),
        (1_000, 1, 10, "!tz info \"Einstein\"", "duplicate"),
        (1_000, 1, 10, "!tz info einstein", "proceed"),
        (1_000, 1, 10, "!tz info Einstein 2", "proceed"),
        (1_000, 2, 10, "!tz info Einstein", "proceed"),
        (1_000, 1, 11, "!tz info Einstein", "proceed"),
        (1_000, 1, 10, "!tz reset Einstein", "proceed"),
    ];
    for (delay, user, channel, content, expected) in cases {
        let mut w = World::new();
        let first = w.message(1, 10, "!tz info Einstein");
        w.run(&first, OutcomeClass::Success).await;
        w.after(*delay);
        let second = w.message(*user, *channel, content);
        assert_eq!(
            verdict(&w.guard.admit(&second).await),
            *expected,
            "{content:?} by {user} in {channel} after {delay} ms"
        );
    }
}

#[tokio::test]
async fn a_failed_command_never_blocks_the_next_attempt_identical_or_corrected() {
    for class in [
        OutcomeClass::Conflict,
        OutcomeClass::NotFound,
        OutcomeClass::InvalidInput,
        OutcomeClass::Denied,
        OutcomeClass::InternalError,
    ] {
        let mut w = World::new();
        let refused = w.message(1, 10, "!tz add beta \"al\"");
        w.run(&refused, class).await;
        let identical = w.message(1, 10, "!tz add beta \"al\"");
        assert_eq!(
            verdict(&w.guard.admit(&identical).await),
            "proceed",
            "{class:?}"
        );
    }
}

#[tokio::test]
async fn corrections_from_issue_15_all_run() {
    // Each pair: the first one's outcome, then the second command a moment later.
    let pairs: &[(&str, OutcomeClass, &str)] = &[
        (
            "!tz add beta \"al\"",
            OutcomeClass::Conflict,
            "!tz add beta \"be\"",
        ),
        ("!tz add admin", OutcomeClass::InvalidInput, "!tz add ADMIN"),
        ("!tz remove gamma", OutcomeClass::Success, "!tz add gamma"),
        ("!tz add gamma", OutcomeClass::Success, "!tz add gamma g"),
        (
            "!tz add gamma | one",
            OutcomeClass::Success,
            "!tz add gamma | two",
        ),
    ];
    for (first, class, second) in pairs {
        let mut w = World::new();
        let a = w.message(1, 10, first);
        w.run(&a, *class).await;
        w.after(500);
        let b = w.message(1, 10, second);
        assert_eq!(
            verdict(&w.guard.admit(&b).await),
            "proceed",
            "{first:?} ({class:?}) then {second:?}"
        );
    }
}

#[tokio::test]
async fn information_outcomes_count_as_succeeded() {
    let mut w = World::new();
    let first = w.message(1, 10, "!tz deactivate");
    w.run(&first, OutcomeClass::Info).await;
    let again = w.message(1, 10, "!tz deactivate");
    assert_eq!(verdict(&w.guard.admit(&again).await), "duplicate");
}

#[tokio::test]
async fn aliases_count_as_the_same_command() {
    let mut w = World::new();
    let first = w.message(1, 10, "!tz autorespond on");
    w.run(&first, OutcomeClass::Success).await;
    let second = w.message(1, 10, "!tz ar on");
    assert_eq!(verdict(&w.guard.admit(&second).await), "duplicate");
}

#[tokio::test]
async fn the_window_runs_from_the_last_run_so_steady_repeats_are_not_ignored_forever() {
    let mut w = World::new();
    let mut verdicts = Vec::new();
    for _ in 0..5 {
        let r = w.message(1, 10, "!tz ping");
        let admission = w.guard.admit(&r).await;
        verdicts.push(verdict(&admission));
        if let Admission::Proceed(ticket) = admission {
            w.guard.complete(ticket, OutcomeClass::Success);
        }
        w.after(2_000);
    }
    // t = 0, 2, 4, 6, 8 s: run at 0, 4 and 8.
    assert_eq!(
        verdicts,
        ["proceed", "duplicate", "proceed", "duplicate", "proceed"]
    );
}

#[tokio::test]
async fn an_identical_command_is_in_flight_while_the_first_runs_and_a_duplicate_for_three_seconds_after_success()
 {
    let mut w = World::new();
    let first = w.message(1, 10, "!tz add Einstein | You are Albert.");
    let ticket = w.start(&first).await;
    // Still running 20 s later (a slow profile source): the double send is not run.
    w.after(20_000);
    let again = w.message(1, 10, "!tz add Einstein | You are Albert.");
    assert_eq!(verdict(&w.guard.admit(&again).await), "in flight");
    // Another user's identical text is another request.
    let other_user = w.message(2, 10, "!tz add Einstein | You are Albert.");
    drop(w.start(&other_user).await);

    w.guard.complete(ticket, OutcomeClass::Success);
    // The window starts at completion, not at admission.
    w.after(2_999);
    let late = w.message(1, 10, "!tz add Einstein | You are Albert.");
    assert_eq!(verdict(&w.guard.admit(&late).await), "duplicate");
    w.after(1);
    let later = w.message(1, 10, "!tz add Einstein | You are Albert.");
    assert_eq!(verdict(&w.guard.admit(&later).await), "proceed");
}

#[tokio::test]
async fn a_command_that_fails_after_running_a_while_frees_its_key_at_once() {
    let mut w = World::new();
    let first = w.message(1, 10, "!tz add einstein");
    let ticket = w.start(&first).await;
    let during = w.message(1, 10, "!tz add einstein");
    assert_eq!(verdict(&w.guard.admit(&during).await), "in flight");
    w.guard.complete(ticket, OutcomeClass::Conflict);
    let after = w.message(1, 10, "!tz add einstein");
    assert_eq!(verdict(&w.guard.admit(&after).await), "proceed");
}

#[tokio::test]
async fn dropping_the_ticket_without_an_outcome_blocks_nothing() {
    let mut w = World::new();
    let first = w.message(1, 10, "!tz add einstein");
    drop(w.start(&first).await);
    let again = w.message(1, 10, "!tz add einstein");
    assert_eq!(verdict(&w.guard.admit(&again).await), "proceed");
}

#[tokio::test]
async fn a_lost_command_stops_blocking_after_the_in_flight_timeout_and_its_late_ticket_changes_nothing()
 {
    let mut w = World::new();
    let first = w.message(1, 10, "!tz add einstein");
    let lost = w.start(&first).await;
    w.clock.advance(IN_FLIGHT_TIMEOUT);
    let second = w.message(1, 10, "!tz add einstein");
    let running = w.start(&second).await;
    // The lost one finally finishes: the second is still in flight, not completed or forgotten.
    w.guard.complete(lost, OutcomeClass::InternalError);
    let third = w.message(1, 10, "!tz add einstein");
    assert_eq!(verdict(&w.guard.admit(&third).await), "in flight");
    drop(running);
}

#[tokio::test]
async fn a_failing_store_admits_the_command_and_quick_repeats_are_still_caught() {
    let mut w = World::new();
    w.store.fail_all(true);
    let first = w.message(1, 10, "!tz ping");
    w.run(&first, OutcomeClass::Success).await;
    // The same id again cannot be told apart without the store, but it is an identical
    // command that succeeded a moment ago.
    assert_eq!(verdict(&w.guard.admit(&first).await), "duplicate");
}

#[tokio::test]
async fn every_store_error_fails_open() {
    for error in [
        StoreError::Unavailable("down".into()),
        StoreError::Unexpected("corrupt".into()),
    ] {
        let mut processed = MockProcessedMessages::new();
        processed
            .expect_claim()
            .times(1)
            .returning(move |_, _, _| Err(error.clone()));
        let guard = CommandGuard::new(Arc::new(processed), Arc::new(FakeClock::new(START)));
        assert!(
            guard
                .admit(&request(1, 1, 10, "!tz ping"))
                .await
                .is_proceed()
        );
    }
}

#[tokio::test]
async fn the_id_is_claimed_with_the_current_time_and_a_ttl_of_an_hour() {
    let mut processed = MockProcessedMessages::new();
    processed
        .expect_claim()
        .withf(|id, now, ttl| id.get() == 42 && *now == START && *ttl == Duration::from_secs(3600))
        .times(1)
        .returning(|_, _, _| Ok(true));
    let guard = CommandGuard::new(Arc::new(processed), Arc::new(FakeClock::new(START)));
    assert!(
        guard
            .admit(&request(42, 1, 10, "!tz ping"))
            .await
            .is_proceed()
    );
}

#[tokio::test]
async fn process_memory_stays_bounded_and_empties_once_the_windows_are_over() {
    let mut w = World::new();
    let mut tickets = Vec::new();
    for i in 0..(MAX_REMEMBERED + 500) {
        let r = w.message(1, 10, &format!("!tz info p{i}"));
        w.run(&r, OutcomeClass::Success).await;
    }
    assert!(
        w.guard.remembered() <= MAX_REMEMBERED,
        "{}",
        w.guard.remembered()
    );
    for i in 0..(MAX_REMEMBERED + 500) {
        let r = w.message(2, 10, &format!("!tz add p{i}"));
        if let Admission::Proceed(t) = w.guard.admit(&r).await {
            tickets.push(t);
        }
    }
    assert!(
        w.guard.remembered() <= MAX_REMEMBERED,
        "{}",
        w.guard.remembered()
    );
    for t in tickets.drain(..) {
        w.guard.complete(t, OutcomeClass::Success);
    }
    w.after(3_000);
    assert_eq!(w.guard.remembered(), 0);
}

#[test]
fn every_verdict_but_proceed_turns_into_an_ignored_outcome_and_suppressions_have_a_note() {
    for silent in [
        Admission::Replayed,
        Admission::Suppressed(Suppressed::Duplicate),
        Admission::Suppressed(Suppressed::InFlight),
    ] {
        let outcome = silent.outcome().expect("an outcome");
        assert_eq!(outcome.class, OutcomeClass::Ignored);
        assert!(outcome.reply.is_none());
    }
    assert!(Suppressed::Duplicate.note().contains("succeeded"));
    assert!(Suppressed::InFlight.note().contains("still running"));
    assert_eq!(Admission::Replayed.suppressed(), None);
}

#[tokio::test]
async fn only_the_users_latest_command_counts_so_add_remove_add_runs_all_three() {
    let mut w = World::new();
    for content in ["!tz add gamma", "!tz remove gamma", "!tz add gamma"] {
        let r = w.message(1, 10, content);
        w.run(&r, OutcomeClass::Success).await;
        w.after(200);
    }
    // Another user's commands in between do not make a double send of this user's run twice.
    let first = w.message(1, 10, "!tz info gamma");
    w.run(&first, OutcomeClass::Success).await;
    let other = w.message(2, 10, "!tz ping");
    w.run(&other, OutcomeClass::Success).await;
    let again = w.message(1, 10, "!tz info gamma");
    assert_eq!(verdict(&w.guard.admit(&again).await), "duplicate");
}
