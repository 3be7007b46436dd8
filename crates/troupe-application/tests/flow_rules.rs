//! The rules around an answer: age gate, per-user authentication, turns (one message at a time
//! per user and channel, queued in order), at most once
//! per message, proxy systems, the request's content, splitting and the recorded state.

mod flow_support;

use std::sync::Arc;

use flow_support::*;
use troupe_application::flow::{FlowOutcome, Refusal};
use troupe_domain::Duration;
use troupe_domain::conversation::{ConversationMode, Speaker};
use troupe_ports::{AuthRepository, ChatRole, ConversationRepository};
use troupe_testkit::FakeAuthProvider;
use troupe_testkit::ai::Scripted;
use troupe_testkit::pluralkit::FakeProxyAuthors;

#[tokio::test]
async fn the_age_gate_refuses_mentions_in_other_channels_and_says_what_to_do() {
    let w = World::new();
    w.seed("bob", &[], |_| {}).await;
    let flow = w.flow();
    let mut m = w.msg(ANN, "@bob hi");
    m.location = guild(SFW, false);
    assert_eq!(
        flow.process(&m).await,
        FlowOutcome::Refused(Refusal::AgeRestrictedChannel)
    );
    let said = w.bot_said().pop().unwrap();
    assert!(said.contains("age-restricted"), "{said}");
    assert_eq!(w.ai.request_count(), 0);
}

#[tokio::test]
async fn talking_in_an_age_restricted_channel_verifies_the_user_for_dms() {
    let w = World::new();
    w.seed("bob", &[], |_| {}).await;
    let flow = w.flow();
    assert_eq!(
        flow.process(&w.dm(ANN, "@bob hi")).await,
        FlowOutcome::Refused(Refusal::UnverifiedDm)
    );
    assert!(w.bot_said().pop().unwrap().contains("!tz verify"));
    assert_eq!(who(&flow.process(&w.msg(ANN, "@bob hi")).await), "bob");
    assert!(w.store.verification(user(ANN)).await.unwrap().is_some());
    assert_eq!(who(&flow.process(&w.dm(ANN, "@bob hi again")).await), "bob");
}

#[tokio::test]
async fn without_the_age_gate_personalities_answer_anywhere() {
    let mut w = World::new();
    w.config.age_gate = false;
    w.seed("bob", &[], |_| {}).await;
    let flow = w.flow();
    let mut m = w.msg(ANN, "@bob hi");
    m.location = guild(SFW, false);
    assert_eq!(who(&flow.process(&m).await), "bob");
    assert_eq!(who(&flow.process(&w.dm(BEN, "@bob hi")).await), "bob");
}

#[tokio::test]
async fn users_must_authenticate_when_the_provider_requires_it() {
    let mut w = World::new();
    w.auth_provider = Some(Arc::new(FakeAuthProvider::new(true)));
    w.seed("bob", &[], |_| {}).await;
    let flow = w.flow();
    assert_eq!(
        flow.process(&w.msg(ANN, "@bob hi")).await,
        FlowOutcome::Refused(Refusal::NotAuthenticated)
    );
    assert!(w.bot_said().pop().unwrap().contains("!tz auth start"));

    w.give_token(ANN, "tok-ann", Duration::from_secs(3600))
        .await;
    assert_eq!(who(&flow.process(&w.msg(ANN, "@bob hi")).await), "bob");
    let sent = w.ai.requests().pop().unwrap().user_token.unwrap();
    assert_eq!(sent.expose(), "tok-ann");

    w.clock.advance(Duration::from_secs(3601));
    assert_eq!(
        flow.process(&w.msg(ANN, "@bob hi")).await,
        FlowOutcome::Refused(Refusal::AuthExpired)
    );
    let said = w.bot_said().pop().unwrap();
    assert!(
        said.contains("expired") && said.contains("auth start"),
        "{said}"
    );
    assert!(!said.contains("tok-ann"));
}

#[tokio::test]
async fn a_provider_without_per_user_auth_needs_no_token() {
    let mut w = World::new();
    w.auth_provider = Some(Arc::new(FakeAuthProvider::new(false)));
    w.seed("bob", &[], |_| {}).await;
    assert_eq!(who(&w.flow().process(&w.msg(ANN, "@bob hi")).await), "bob");
    assert!(w.ai.requests()[0].user_token.is_none());
}

/// Waits (deadline 10 s) until the AI received `n` requests.
async fn ai_received(w: &World, n: usize) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while w.ai.request_count() < n {
        assert!(
            std::time::Instant::now() < deadline,
            "the AI received {} requests, not {n}",
            w.ai.request_count()
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

fn asked(request: &troupe_ports::ChatRequest) -> String {
    request
        .messages
        .iter()
        .rev()
        .find(|m| m.role == ChatRole::User)
        .map(|m| m.content.clone())
        .unwrap_or_default()
}

#[tokio::test]
async fn messages_sent_during_an_exchange_wait_and_are_answered_after_it_in_order() {
    let w = World::new();
    w.seed("bob", &[], |_| {}).await;
    w.seed("cat", &[], |_| {}).await;
    w.ai.push(Scripted::After(
        Duration::from_millis(150),
        Box::new(Scripted::answer("first")),
    ));
    let flow = Arc::new(w.flow());
    let m1 = w.msg(ANN, "@bob one");
    let in_flight = {
        let flow = Arc::clone(&flow);
        tokio::spawn(async move { flow.process(&m1).await })
    };
    ai_received(&w, 1).await;
    // The first exchange is in flight: the same user's next messages in this channel queue
    // (in the order they arrive), another user's does not wait.
    let (m2, m3, m4) = (
        w.msg(ANN, "@bob two"),
        w.msg(BEN, "@bob three"),
        w.msg(ANN, "@cat four"),
    );
    let (second, other_user, other_personality) =
        tokio::join!(flow.process(&m2), flow.process(&m3), flow.process(&m4));
    assert_eq!(who(&in_flight.await.unwrap()), "bob");
    assert_eq!(
        who(&second),
        "bob",
        "same user, channel and personality: answered, not dropped"
    );
    assert_eq!(who(&other_user), "bob", "another user");
    assert_eq!(who(&other_personality), "cat", "another personality");
    let anns: Vec<(String, usize)> =
        w.ai.requests()
            .iter()
            .filter(|r| !asked(r).contains("three"))
            .map(|r| (asked(r), r.messages.len()))
            .collect();
    assert_eq!(anns.len(), 3, "{anns:?}");
    assert!(anns[0].0.contains("one"), "{anns:?}");
    assert!(
        anns[1].0.contains("two"),
        "then the second, after the first: {anns:?}"
    );
    assert!(anns[2].0.contains("four"), "then the third: {anns:?}");
    let second_request =
        w.ai.requests()
            .into_iter()
            .find(|r| asked(r).contains("two"))
            .unwrap();
    assert!(
        second_request
            .messages
            .iter()
            .any(|m| m.role == ChatRole::Assistant && m.content == "first"),
        "the queued message is answered with the first exchange in its history"
    );
}

#[tokio::test]
async fn a_message_right_after_a_dm_mention_continues_the_conversation_it_started() {
    let w = World::new();
    w.seed("bob", &[], |_| {}).await;
    w.verify(ANN).await;
    w.ai.push(Scripted::After(
        Duration::from_millis(100),
        Box::new(Scripted::answer("hello there")),
    ));
    let flow = Arc::new(w.flow());
    let m1 = w.dm(ANN, "@bob start");
    let first = {
        let flow = Arc::clone(&flow);
        tokio::spawn(async move { flow.process(&m1).await })
    };
    ai_received(&w, 1).await;
    // Sent before the first answer was recorded: decided after it, so it continues.
    let continued = flow.process(&w.dm(ANN, "no mention needed")).await;
    assert_eq!(who(&first.await.unwrap()), "bob");
    assert_eq!(who(&continued), "bob");
    assert_eq!(w.ai.request_count(), 2);
}

#[tokio::test]
async fn the_queue_of_a_user_and_channel_is_bounded() {
    let mut w = World::new();
    w.flow_config.max_queued_per_user_channel = 1;
    w.seed("bob", &[], |_| {}).await;
    w.ai.push(Scripted::After(
        Duration::from_millis(150),
        Box::new(Scripted::answer("first")),
    ));
    let flow = Arc::new(w.flow());
    let m1 = w.msg(ANN, "@bob one");
    let in_flight = {
        let flow = Arc::clone(&flow);
        tokio::spawn(async move { flow.process(&m1).await })
    };
    ai_received(&w, 1).await;
    let (m2, m3) = (w.msg(ANN, "@bob two"), w.msg(ANN, "@bob three"));
    let (second, third) = tokio::join!(flow.process(&m2), flow.process(&m3));
    assert_eq!(who(&in_flight.await.unwrap()), "bob");
    assert_eq!(who(&second), "bob", "one message may wait");
    assert_eq!(third, FlowOutcome::QueueFull, "a second one is dropped");
    assert_eq!(
        who(&flow.process(&w.msg(ANN, "@bob again")).await),
        "bob",
        "the queue is free again"
    );
}

#[tokio::test]
async fn a_message_is_answered_at_most_once() {
    let w = World::new();
    w.seed("bob", &[], |_| {}).await;
    let flow = w.flow();
    let m = w.msg(ANN, "@bob hi");
    assert_eq!(who(&flow.process(&m).await), "bob");
    assert_eq!(flow.process(&m).await, FlowOutcome::Duplicate);
    assert_eq!(w.said().len(), 1);
}

#[tokio::test]
async fn a_message_a_proxy_system_deletes_during_the_wait_is_not_answered() {
    let mut w = World::new();
    w.flow_config.proxy_recheck = Duration::from_millis(40);
    w.seed("bob", &[], |_| {}).await;
    let flow = Arc::new(w.flow());
    let original = w.msg(ANN, "@bob hi");
    let id = original.id;
    let deleter = {
        let flow = Arc::clone(&flow);
        async move {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            troupe_application::flow::MessageHandler::message_deleted(
                flow.as_ref(),
                channel(NSFW),
                id,
            )
            .await;
        }
    };
    let (outcome, ()) = tokio::join!(flow.process(&original), deleter);
    assert_eq!(outcome, FlowOutcome::ReplacedByProxy);

    let mut repost = w.msg(ANN, "@bob hi");
    repost.author.via_proxy = true;
    repost.author.display_name = "Annie [system]".into();
    let started = std::time::Instant::now();
    assert_eq!(who(&flow.process(&repost).await), "bob");
    assert!(
        started.elapsed() < std::time::Duration::from_millis(40),
        "relayed messages are not held"
    );
    assert_eq!(w.said().len(), 1);
    let conversation = w
        .store
        .conversation(user(ANN), channel(NSFW))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        conversation.user,
        user(ANN),
        "the proxy message counts as its real author"
    );
    assert_eq!(
        who(&flow.process(&w.msg(BEN, "@bob plain")).await),
        "bob",
        "an undeleted message is answered after the wait"
    );
}

#[tokio::test]
async fn the_request_holds_the_prompt_the_bounded_history_and_the_speakers_name() {
    let mut w = World::new();
    w.config.history_limit = 4;
    w.config.default_model = Some("house-model".into());
    w.seed("bob", &[], |p| {
        p.prompt = troupe_domain::personality::Prompt::parse("You are Bob the builder.").unwrap();
    })
    .await;
    let flow = w.flow();
    for i in 0..5 {
        flow.process(&w.msg(ANN, &format!("@bob message {i}")))
            .await;
    }
    let mut last = w.msg(BEN, "@bob with a picture");
    last.images = vec!["https://cdn.example/1.png".into()];
    flow.process(&last).await;
    let request = w.ai.requests().pop().unwrap();
    assert_eq!(request.model.as_deref(), Some("house-model"));
    assert_eq!(request.messages[0].role, ChatRole::System);
    assert_eq!(request.messages[0].content, "You are Bob the builder.");
    let history: Vec<_> = request.messages[1..request.messages.len() - 1]
        .iter()
        .map(|m| (m.role, m.content.clone()))
        .collect();
    assert_eq!(
        history,
        [
            (ChatRole::User, "Ann: @bob message 3".to_owned()),
            (ChatRole::Assistant, "echo: Ann: @bob message 3".to_owned()),
            (ChatRole::User, "Ann: @bob message 4".to_owned()),
            (ChatRole::Assistant, "echo: Ann: @bob message 4".to_owned()),
        ],
        "the newest 4 entries, oldest first"
    );
    let user_message = request.messages.last().unwrap();
    assert_eq!(user_message.content, "user2: @bob with a picture");
    assert_eq!(user_message.images, ["https://cdn.example/1.png"]);
}

#[tokio::test]
async fn a_long_answer_arrives_in_ordered_chunks_each_of_which_can_be_replied_to() {
    let w = World::new();
    w.seed("bob", &[], |_| {}).await;
    let mut long = String::new();
    let mut n = 0;
    while long.chars().count() < 6000 {
        long.push_str(&format!("Line {n} of a long story. "));
        if n % 20 == 19 {
            long.push_str("\n```rust\nfn main() {}\n```\n\n");
        }
        n += 1;
    }
    w.ai.push_answer(long.clone());
    let flow = w.flow();
    let out = flow.process(&w.msg(ANN, "@bob tell me")).await;
    let FlowOutcome::Answered { chunks, .. } = out else {
        panic!("{out:?}")
    };
    let sent = w.platform.personality_messages();
    assert_eq!(sent.len(), chunks);
    assert!(chunks >= 4, "{chunks}");
    for (_, _, text, _) in &sent {
        assert!(text.chars().count() <= 2000);
        assert_eq!(
            text.lines().filter(|l| l.trim().starts_with("```")).count() % 2,
            0
        );
    }
    assert!(sent[0].2.starts_with("Line 0"));
    assert!(
        sent.last()
            .unwrap()
            .2
            .ends_with(&format!("Line {} of a long story.", n - 1))
    );
    for (_, _, _, id) in &sent {
        let mapped = w.store.personality_message(*id).await.unwrap().unwrap();
        assert_eq!(mapped.personality, name("bob"));
    }
    let mut reply = w.msg(BEN, "about that");
    reply.reply_to = Some(sent[2].3);
    assert_eq!(who(&flow.process(&reply).await), "bob");
}

#[tokio::test]
async fn each_answer_records_the_history_and_the_conversation() {
    let w = World::new();
    w.seed("bob", &[], |_| {}).await;
    w.store.set_autorespond(user(ANN), true).await.unwrap();
    let flow = w.flow();
    flow.process(&w.msg(ANN, "@bob hi")).await;
    let history = w
        .store
        .history(channel(NSFW), &name("bob"), 10)
        .await
        .unwrap();
    let entries: Vec<_> = history
        .iter()
        .map(|e| (e.speaker, e.author.as_str(), e.content.as_str()))
        .collect();
    assert_eq!(
        entries,
        [
            (Speaker::User, "Ann", "@bob hi"),
            (Speaker::Personality, "bob", "echo: Ann: @bob hi")
        ]
    );
    let conversation = w
        .store
        .conversation(user(ANN), channel(NSFW))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(conversation.personality, name("bob"));
    assert_eq!(conversation.mode, ConversationMode::Continuation);
    assert_eq!(conversation.last_activity, w.now());
}

// ---------------------------------------------------------------- PluralKit: the real author

/// The user id the adapter gives a message relayed by a proxy webhook (the webhook's).
const WEBHOOK: u64 = 777;

/// A message PluralKit re-posted for ANN through its webhook.
fn proxied(w: &World, content: &str) -> troupe_application::flow::IncomingMessage {
    let mut m = w.msg(WEBHOOK, content);
    m.author.via_proxy = true;
    m.author.display_name = "Annie [system]".into();
    m
}

fn with_pluralkit(w: &World) -> (troupe_application::flow::MessageFlow, Arc<FakeProxyAuthors>) {
    let proxies = Arc::new(FakeProxyAuthors::new());
    let flow = w.flow().with_proxy_authors(proxies.clone());
    (flow, proxies)
}

#[tokio::test]
async fn a_pluralkit_message_counts_as_its_real_author_for_the_conversation_and_the_age_gate() {
    let w = World::new();
    w.seed("bob", &[], |_| {}).await;
    let (flow, pk) = with_pluralkit(&w);
    let m = proxied(&w, "@bob hi");
    pk.proxied(m.id, user(ANN));
    assert_eq!(who(&flow.process(&m).await), "bob");
    assert_eq!(pk.lookups(), 1);
    assert!(
        w.store
            .conversation(user(ANN), channel(NSFW))
            .await
            .unwrap()
            .is_some(),
        "the conversation is the real author's"
    );
    assert!(
        w.store
            .conversation(user(WEBHOOK), channel(NSFW))
            .await
            .unwrap()
            .is_none(),
        "not the webhook's"
    );
    assert!(
        w.store.verification(user(ANN)).await.unwrap().is_some(),
        "talking in an age-restricted channel verified the real author"
    );
    let history = w
        .store
        .history(channel(NSFW), &name("bob"), 20)
        .await
        .unwrap();
    assert!(history.iter().all(|e| e.user == Some(user(ANN))));
    assert_eq!(
        w.ai.requests()[0].messages.last().unwrap().content,
        "Annie [system]: @bob hi",
        "the AI sees the proxied member's name"
    );
}

#[tokio::test]
async fn a_pluralkit_message_uses_the_real_author_s_token() {
    let mut w = World::new();
    w.auth_provider = Some(Arc::new(FakeAuthProvider::new(true)));
    w.seed("bob", &[], |_| {}).await;
    w.give_token(ANN, "tok-ann", Duration::from_secs(3600))
        .await;
    let (flow, pk) = with_pluralkit(&w);
    let m = proxied(&w, "@bob hi");
    pk.proxied(m.id, user(ANN));
    assert_eq!(who(&flow.process(&m).await), "bob");
    let sent = w.ai.requests().pop().unwrap().user_token.unwrap();
    assert_eq!(sent.expose(), "tok-ann");
}

#[tokio::test]
async fn a_reply_to_an_answer_given_to_a_pluralkit_member_continues_with_the_real_author() {
    let mut w = World::new();
    w.config.age_gate = false;
    w.seed("bob", &[], |_| {}).await;
    let (flow, pk) = with_pluralkit(&w);
    let first = proxied(&w, "@bob hi");
    pk.proxied(first.id, user(ANN));
    assert_eq!(who(&flow.process(&first).await), "bob");
    let answer = w.platform.personality_messages()[0].3;
    let mut reply = proxied(&w, "tell me more");
    reply.reply_to = Some(answer);
    pk.proxied(reply.id, user(ANN));
    assert_eq!(who(&flow.process(&reply).await), "bob");
    let history = w
        .store
        .history(channel(NSFW), &name("bob"), 20)
        .await
        .unwrap();
    assert_eq!(history.len(), 4);
    assert!(history.iter().all(|e| e.user == Some(user(ANN))));
}

#[tokio::test]
async fn a_tupperbox_message_stays_the_webhook_s() {
    let w = World::new();
    w.seed("bob", &[], |_| {}).await;
    let (flow, pk) = with_pluralkit(&w);
    let m = proxied(&w, "@bob hi");
    assert_eq!(who(&flow.process(&m).await), "bob");
    assert_eq!(pk.lookups(), 1, "PluralKit was asked and did not know it");
    assert!(
        w.store
            .conversation(user(WEBHOOK), channel(NSFW))
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn pluralkit_failing_or_hanging_falls_back_to_the_webhook_within_the_bound() {
    let mut w = World::new();
    w.flow_config.proxy_lookup_bound = Duration::from_millis(100);
    w.seed("bob", &[], |_| {}).await;
    let (flow, pk) = with_pluralkit(&w);
    let failing = proxied(&w, "@bob one");
    pk.fail(
        failing.id,
        troupe_ports::ProxyError::Unavailable("HTTP 500".into()),
    );
    assert_eq!(who(&flow.process(&failing).await), "bob");
    pk.hang();
    let hanging = proxied(&w, "@bob two");
    assert_eq!(
        who(&flow.process(&hanging).await),
        "bob",
        "answered once the bound passed, not blocked"
    );
    assert_eq!(pk.lookups(), 2);
    let conversation = w
        .store
        .conversation(user(WEBHOOK), channel(NSFW))
        .await
        .unwrap();
    assert!(conversation.is_some(), "the webhook counts as the author");
}
