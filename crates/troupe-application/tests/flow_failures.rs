//! AI and dependency failures: a short message (in the personality's voice when it has an
//! error message) with a reference id, and no state change.

mod flow_support;

use std::sync::Arc;

use flow_support::*;
use troupe_application::flow::{FlowOutcome, MessageFlow};
use troupe_domain::Duration;
use troupe_domain::personality::ErrorMessage;
use troupe_ports::{AiError, ConversationRepository, MockAiChat};
use troupe_testkit::ai::Scripted;

fn ai_errors() -> Vec<(&'static str, AiError, &'static str)> {
    vec![
        ("timeout", AiError::Timeout, "took too long"),
        (
            "rate limit",
            AiError::RateLimited {
                retry_after: Some(Duration::from_secs(30)),
            },
            "too many requests",
        ),
        ("provider down", AiError::Unavailable, "unavailable"),
        ("empty answer", AiError::EmptyAnswer, "empty answer"),
        (
            "garbage",
            AiError::Unexpected("the AI answer is not valid JSON".into()),
            "cannot read",
        ),
        (
            "context too long",
            AiError::ContextTooLong,
            "too long for the model. Run `!tz reset bob`",
        ),
        ("unknown model", AiError::UnknownModel, "does not know"),
        (
            "provider-side 400",
            AiError::Rejected(400),
            "refused the request (status 400)",
        ),
        (
            "refused credentials",
            AiError::Unauthorized,
            "refused the bot's credentials",
        ),
    ]
}

#[tokio::test]
async fn every_kind_of_ai_failure_has_its_own_message_and_none_repeats_its_advice() {
    let mut seen = std::collections::HashSet::new();
    for (what, error, _) in ai_errors() {
        let w = World::new();
        w.seed("bob", &[], |_| {}).await;
        w.ai.push(Scripted::Fail(error));
        w.flow().process(&w.msg(ANN, "@bob hi")).await;
        let said = w.bot_said().pop().unwrap();
        let reason = said.split(" reference ").next().unwrap().to_owned();
        assert!(
            seen.insert(reason.clone()),
            "{what} shares its message: {said}"
        );
        assert!(
            said.matches("try again").count() <= 1,
            "{what} repeats itself: {said}"
        );
    }
}

#[tokio::test]
async fn every_ai_failure_gives_a_clear_message_with_a_reference_and_changes_nothing() {
    for (what, error, words) in ai_errors() {
        let w = World::new();
        w.seed("bob", &[], |_| {}).await;
        let flow = w.flow();
        w.ai.push(Scripted::Fail(error));
        let out = flow.process(&w.msg(ANN, "@bob hi")).await;
        let FlowOutcome::Failed {
            reference,
            personality,
        } = out
        else {
            panic!("{what}: {out:?}")
        };
        assert_eq!(personality, Some(name("bob")));
        let said = w.bot_said().pop().unwrap();
        assert!(said.contains(words), "{what}: {said}");
        assert!(said.contains(&reference.to_string()), "{what}: {said}");
        assert!(!said.contains("JSON"), "no internal details: {said}");
        assert!(w.said().is_empty(), "{what}");
        assert!(
            w.store
                .history(channel(NSFW), &name("bob"), 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            w.store
                .conversation(user(ANN), channel(NSFW))
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(
            who(&flow.process(&w.msg(ANN, "@bob again")).await),
            "bob",
            "{what}: the next message works"
        );
    }
}

#[tokio::test]
async fn a_blank_answer_counts_as_empty() {
    let w = World::new();
    w.seed("bob", &[], |_| {}).await;
    w.ai.push_answer("   \n ");
    let out = w.flow().process(&w.msg(ANN, "@bob hi")).await;
    assert!(matches!(out, FlowOutcome::Failed { .. }), "{out:?}");
    assert!(w.bot_said().pop().unwrap().contains("empty answer"));
}

#[tokio::test]
async fn a_personality_with_an_error_message_fails_in_its_own_voice() {
    let w = World::new();
    w.seed("bob", &[], |p| {
        p.error_message = Some(ErrorMessage::parse("Bob's brain is on a break.").unwrap());
    })
    .await;
    w.ai.push(Scripted::Fail(AiError::Unavailable));
    let out = w.flow().process(&w.msg(ANN, "@bob hi")).await;
    let FlowOutcome::Failed { reference, .. } = out else {
        panic!("{out:?}")
    };
    let said = w.said();
    assert_eq!(said.len(), 1);
    assert!(
        said[0].starts_with("bob: Bob's brain is on a break."),
        "{}",
        said[0]
    );
    assert!(said[0].contains(&reference.to_string()));
    assert!(w.bot_said().is_empty());
    let map_id = w.platform.personality_messages()[0].3;
    assert!(
        w.store.personality_message(map_id).await.unwrap().is_none(),
        "errors are not conversation"
    );
}

#[tokio::test]
async fn a_store_failure_never_crashes_the_flow_and_the_next_message_works() {
    let w = World::new();
    w.seed("bob", &[], |_| {}).await;
    w.verify(ANN).await;
    let flow = w.flow();
    w.store.fail_all(true);
    assert_eq!(
        flow.process(&w.msg(ANN, "@bob hi")).await,
        FlowOutcome::Ignored,
        "cannot even decide who answers"
    );
    assert!(w.said().is_empty() && w.bot_said().is_empty());
    w.store.fail_all(false);
    // The message claim (fails open), the message map entry (logged), the conversation.
    w.store.fail_next_writes(3);
    let out = flow.process(&w.msg(ANN, "@bob hi")).await;
    assert_eq!(
        who(&out),
        "bob",
        "the answer is out even if recording it failed"
    );
    assert!(
        w.store
            .conversation(user(ANN), channel(NSFW))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(who(&flow.process(&w.msg(ANN, "@bob again")).await), "bob");
    assert!(
        w.store
            .conversation(user(ANN), channel(NSFW))
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn a_platform_that_cannot_send_leaves_no_state_behind() {
    let w = World::new();
    w.seed("bob", &[], |_| {}).await;
    w.platform.set_unavailable(true);
    let out = w.flow().process(&w.msg(ANN, "@bob hi")).await;
    assert!(matches!(out, FlowOutcome::Failed { .. }), "{out:?}");
    assert!(
        w.store
            .history(channel(NSFW), &name("bob"), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        w.store
            .conversation(user(ANN), channel(NSFW))
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn refused_messages_never_reach_the_ai() {
    let w = World::new();
    w.seed("bob", &[], |_| {}).await;
    let mut ai = MockAiChat::new();
    ai.expect_complete().times(0);
    let flow = MessageFlow::new(
        w.deps(),
        Arc::new(ai),
        Arc::new(TokioPause),
        w.flow_config.clone(),
    );
    let mut m = w.msg(ANN, "@bob hi");
    m.location = guild(SFW, false);
    assert!(matches!(flow.process(&m).await, FlowOutcome::Refused(_)));
    assert!(matches!(
        flow.process(&w.dm(BEN, "@bob hi")).await,
        FlowOutcome::Refused(_)
    ));
}

#[tokio::test]
async fn the_ai_is_asked_exactly_once_per_answered_message() {
    let w = World::new();
    w.seed("bob", &[], |_| {}).await;
    let mut ai = MockAiChat::new();
    ai.expect_complete()
        .times(1)
        .returning(|_| Ok("once".to_owned()));
    let flow = MessageFlow::new(
        w.deps(),
        Arc::new(ai),
        Arc::new(TokioPause),
        w.flow_config.clone(),
    );
    assert_eq!(who(&flow.process(&w.msg(ANN, "@bob hi")).await), "bob");
    assert_eq!(w.said(), ["bob: once"]);
}
