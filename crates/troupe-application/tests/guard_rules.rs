//! The dispatcher guard (commands.md §1): ids once, identical commands within 3 s, and the `add`
//! in-flight / 5 s rule, over the in-memory store and a fake clock.

use std::sync::Arc;
use std::time::Duration;

use troupe_application::guard::{ADD_IN_FLIGHT_TIMEOUT, Admission, CommandGuard, MAX_REMEMBERED};
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
        Admission::Duplicate => "duplicate",
        Admission::Repeated => "repeated",
        Admission::AlreadyProcessed { .. } => "already processed",
        Admission::InFlight => "in flight",
    }
}

#[tokio::test]
async fn a_message_id_is_admitted_once_also_by_a_new_guard_over_the_same_store() {
    let w = World::new();
    let first = request(7, 1, 10, "!tz ping");
    assert_eq!(verdict(&w.guard.admit(&first).await), "proceed");
    w.after(10_000);
    assert_eq!(verdict(&w.guard.admit(&first).await), "duplicate");
    // A restart: new process memory, same persistent store.
    let restarted = CommandGuard::new(w.store.clone(), w.clock.clone());
    assert_eq!(verdict(&restarted.admit(&first).await), "duplicate");
    // A slash interaction with the same id is the same Discord object.
    let mut interaction = first.clone();
    interaction.source = RequestSource::Interaction(MessageId::new(7).unwrap());
    assert_eq!(verdict(&restarted.admit(&interaction).await), "duplicate");
}

#[tokio::test]
async fn an_identical_command_from_the_same_user_within_three_seconds_is_repeated() {
    // (delay in ms, user, channel, content, verdict) after `!tz info Einstein` by user 1 in 10.
    let cases: &[(u64, u64, u64, &str, &str)] = &[
        (0, 1, 10, "!tz info Einstein", "repeated"),
        (2_999, 1, 10, "!tz info Einstein", "repeated"),
        (3_000, 1, 10, "!tz info Einstein", "proceed"),
        (1_000, 1, 10, "!TZ INFO   Einstein", "repeated"),
        (1_000, 1, 10, "!tz info \"Einstein\"", "repeated"),
        (1_000, 1, 10, "!tz info einstein", "proceed"),
        (1_000, 1, 10, "!tz info Einstein 2", "proceed"),
        (1_000, 2, 10, "!tz info Einstein", "proceed"),
        (1_000, 1, 11, "!tz info Einstein", "proceed"),
        (1_000, 1, 10, "!tz reset Einstein", "proceed"),
    ];
    for (delay, user, channel, content, expected) in cases {
        let mut w = World::new();
        let first = w.message(1, 10, "!tz info Einstein");
        assert_eq!(verdict(&w.guard.admit(&first).await), "proceed");
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
async fn aliases_count_as_the_same_command() {
    let mut w = World::new();
    let first = w.message(1, 10, "!tz autorespond on");
    assert!(w.guard.admit(&first).await.is_proceed());
    let second = w.message(1, 10, "!tz ar on");
    assert_eq!(verdict(&w.guard.admit(&second).await), "repeated");
}

#[tokio::test]
async fn the_repeat_window_runs_from_the_last_admitted_command_so_steady_repeats_are_not_ignored_forever()
 {
    let mut w = World::new();
    let mut verdicts = Vec::new();
    for _ in 0..5 {
        let r = w.message(1, 10, "!tz ping");
        verdicts.push(verdict(&w.guard.admit(&r).await));
        w.after(2_000);
    }
    // t = 0, 2, 4, 6, 8 s: admitted at 0, 4 and 8.
    assert_eq!(
        verdicts,
        ["proceed", "repeated", "proceed", "repeated", "proceed"]
    );
}

#[tokio::test]
async fn an_add_of_the_same_name_is_ignored_while_in_flight_and_already_processed_for_five_seconds_after()
 {
    let mut w = World::new();
    let first = w.message(1, 10, "!tz add Einstein | You are Albert.");
    let Admission::Proceed(ticket) = w.guard.admit(&first).await else {
        panic!("the first add runs");
    };
    // Still running 20 s later (a slow profile source): same name, any case, other arguments.
    w.after(20_000);
    let again = w.message(1, 11, "!tz create EINSTEIN albert");
    assert_eq!(verdict(&w.guard.admit(&again).await), "in flight");
    // Another user's add of the same name is theirs to make (the handler decides on conflicts).
    let other = w.message(2, 10, "!tz add einstein");
    assert!(w.guard.admit(&other).await.is_proceed());

    w.guard.complete(ticket);
    // The 5 s window starts at completion, not at admission.
    w.after(4_999);
    let late = w.message(1, 10, "!tz add einstein");
    match w.guard.admit(&late).await {
        Admission::AlreadyProcessed { name } => assert_eq!(name, "einstein"),
        other => panic!("expected already processed, got {other:?}"),
    }
    w.after(1);
    let later = w.message(1, 10, "!tz add einstein");
    assert!(w.guard.admit(&later).await.is_proceed());
}

#[tokio::test]
async fn dropping_the_ticket_completes_the_add_like_complete_does() {
    let mut w = World::new();
    let first = w.message(1, 10, "!tz add einstein");
    drop(w.guard.admit(&first).await);
    w.after(3_000);
    let again = w.message(1, 10, "!tz add einstein");
    assert_eq!(verdict(&w.guard.admit(&again).await), "already processed");
}

#[tokio::test]
async fn an_identical_add_right_after_completion_answers_already_processed_rather_than_silence() {
    let mut w = World::new();
    let first = w.message(1, 10, "!tz add einstein");
    drop(w.guard.admit(&first).await);
    w.after(500);
    let again = w.message(1, 10, "!tz add einstein");
    assert_eq!(verdict(&w.guard.admit(&again).await), "already processed");
}

#[tokio::test]
async fn an_add_without_a_name_follows_only_the_repeat_rule() {
    let mut w = World::new();
    let first = w.message(1, 10, "!tz add");
    drop(w.guard.admit(&first).await);
    let again = w.message(1, 10, "!tz add");
    assert_eq!(verdict(&w.guard.admit(&again).await), "repeated");
    w.after(3_000);
    let later = w.message(1, 10, "!tz add");
    assert_eq!(verdict(&w.guard.admit(&later).await), "proceed");
}

#[tokio::test]
async fn a_lost_add_stops_blocking_its_name_after_the_in_flight_timeout_and_its_late_ticket_changes_nothing()
 {
    let mut w = World::new();
    let first = w.message(1, 10, "!tz add einstein");
    let lost = w.guard.admit(&first).await;
    w.clock.advance(ADD_IN_FLIGHT_TIMEOUT);
    let second = w.message(1, 10, "!tz add einstein x");
    let running = w.guard.admit(&second).await;
    assert!(running.is_proceed());
    // The lost one finally finishes: the second is still in flight, not completed.
    drop(lost);
    let third = w.message(1, 10, "!tz add einstein y");
    assert_eq!(verdict(&w.guard.admit(&third).await), "in flight");
    drop(running);
}

#[tokio::test]
async fn a_failing_store_admits_the_command_and_quick_repeats_are_still_caught() {
    let mut w = World::new();
    w.store.fail_all(true);
    let first = w.message(1, 10, "!tz ping");
    assert!(w.guard.admit(&first).await.is_proceed());
    // The same id again cannot be told apart without the store, but it is an identical
    // command within 3 s.
    assert_eq!(verdict(&w.guard.admit(&first).await), "repeated");
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
        assert!(w.guard.admit(&r).await.is_proceed());
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
        w.guard.remembered() <= 2 * MAX_REMEMBERED,
        "{}",
        w.guard.remembered()
    );
    tickets.clear();
    w.after(5_000);
    assert_eq!(w.guard.remembered(), 0);
}

#[test]
fn admissions_turn_into_the_outcome_the_dispatcher_delivers() {
    let conflict = Admission::AlreadyProcessed {
        name: "Ein*stein".into(),
    }
    .outcome()
    .expect("a reply");
    assert_eq!(conflict.class, OutcomeClass::Conflict);
    let reply = conflict.reply.expect("a reply");
    assert!(reply.text.contains("**Einstein**"), "{}", reply.text);
    assert!(reply.text.contains("already processed"), "{}", reply.text);
    for silent in [
        Admission::Duplicate,
        Admission::Repeated,
        Admission::InFlight,
    ] {
        let outcome = silent.outcome().expect("an outcome");
        assert_eq!(outcome.class, OutcomeClass::Ignored);
        assert!(outcome.reply.is_none());
    }
}
