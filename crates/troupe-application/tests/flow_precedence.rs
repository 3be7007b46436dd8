//! Who answers a message (commands.md §3): reply, longest mention, activation, live
//! conversation with autorespond (always in DMs), DM hint; bots and our webhooks ignored.

mod flow_support;

use flow_support::*;
use troupe_application::flow::FlowOutcome;
use troupe_domain::Duration;
use troupe_domain::conversation::ChannelActivation;
use troupe_ports::ConversationRepository;

#[tokio::test]
async fn a_mention_gets_an_answer_in_the_personalitys_name() {
    let w = World::new();
    w.seed("bob", &[], |p| {
        p.display_name = troupe_domain::personality::DisplayName::parse("Bobby B").unwrap();
    })
    .await;
    let flow = w.flow();
    let out = flow.process(&w.msg(ANN, "hi @bob how are you?")).await;
    assert_eq!(who(&out), "bob");
    assert_eq!(w.said(), ["Bobby B: echo: Ann: hi @bob how are you?"]);
    assert_eq!(
        w.platform.typing(),
        [channel(NSFW)],
        "typing while the AI works"
    );
}

#[tokio::test]
async fn the_longest_multi_word_mention_wins_and_only_one_personality_answers() {
    let w = World::new();
    w.seed("angel", &[], |_| {}).await;
    w.seed("dusty", &["angel dust"], |_| {}).await;
    let flow = w.flow();
    let out = flow
        .process(&w.msg(ANN, "hey @Angel Dust, and @angel too"))
        .await;
    assert_eq!(who(&out), "dusty");
    assert_eq!(w.said().len(), 1);
    let out = flow.process(&w.msg(ANN, "hey @angel, dust")).await;
    assert_eq!(who(&out), "angel", "punctuation ends the mention");
}

#[tokio::test]
async fn a_reply_to_a_personality_message_reaches_it_before_any_mention() {
    let w = World::new();
    w.seed("bob", &[], |_| {}).await;
    w.seed("cat", &[], |_| {}).await;
    let flow = w.flow();
    flow.process(&w.msg(ANN, "@bob hello")).await;
    let bobs_message = w.platform.personality_messages()[0].3;
    let mut reply = w.msg(BEN, "what about @cat?");
    reply.reply_to = Some(bobs_message);
    reply.quoted = Some("echo: Ann: @bob hello".into());
    assert_eq!(who(&flow.process(&reply).await), "bob");
    let request = w.ai.requests().pop().unwrap();
    let last = &request.messages.last().unwrap().content;
    assert!(
        last.starts_with("[Replying to: echo: Ann: @bob hello]\nuser2: what about @cat?"),
        "{last}"
    );
}

#[tokio::test]
async fn a_reply_to_someone_else_only_lets_a_mention_or_an_activation_through() {
    let w = World::new();
    w.seed("bob", &[], |_| {}).await;
    let flow = w.flow();
    w.store.set_autorespond(user(ANN), true).await.unwrap();
    flow.process(&w.msg(ANN, "@bob hi")).await;
    let mut reply = w.msg(ANN, "to a human");
    reply.reply_to = Some(troupe_domain::MessageId::new(5).unwrap());
    assert_eq!(
        flow.process(&reply).await,
        FlowOutcome::Ignored,
        "no continuation"
    );
    let mut mention = w.msg(ANN, "@bob look");
    mention.reply_to = Some(troupe_domain::MessageId::new(5).unwrap());
    assert_eq!(who(&flow.process(&mention).await), "bob");
}

#[tokio::test]
async fn an_activated_channel_answers_everyone_but_prefixed_messages() {
    let w = World::new();
    w.seed("bob", &[], |_| {}).await;
    w.seed("cat", &[], |_| {}).await;
    w.store
        .activate(&ChannelActivation {
            channel: channel(NSFW),
            personality: name("bob"),
            activated_by: user(ANN),
            activated_at: w.now(),
        })
        .await
        .unwrap();
    let flow = w.flow();
    assert_eq!(who(&flow.process(&w.msg(ANN, "hello")).await), "bob");
    assert_eq!(who(&flow.process(&w.msg(BEN, "me too")).await), "bob");
    assert_eq!(
        who(&flow.process(&w.msg(BEN, "@cat you?")).await),
        "cat",
        "a mention beats the activation"
    );
    assert_eq!(
        flow.process(&w.msg(BEN, "!tzping")).await,
        FlowOutcome::Ignored
    );
}

#[tokio::test]
async fn autorespond_continues_a_guild_conversation_for_30_minutes() {
    let w = World::new();
    w.seed("bob", &[], |_| {}).await;
    let flow = w.flow();
    w.store.set_autorespond(user(ANN), true).await.unwrap();
    flow.process(&w.msg(ANN, "@bob hi")).await;
    w.clock.advance(Duration::from_secs(29 * 60));
    let out = flow.process(&w.msg(ANN, "still there?")).await;
    assert!(
        matches!(
            out,
            FlowOutcome::Answered {
                reason: troupe_domain::conversation::ResponderReason::Continuation,
                ..
            }
        ),
        "{out:?}"
    );
    w.clock.advance(Duration::from_secs(31 * 60));
    assert_eq!(
        flow.process(&w.msg(ANN, "hello?")).await,
        FlowOutcome::Ignored,
        "timed out"
    );
    assert_eq!(
        flow.process(&w.msg(BEN, "not me")).await,
        FlowOutcome::Ignored,
        "other users are not continued"
    );
}

#[tokio::test]
async fn without_autorespond_a_guild_conversation_needs_a_mention() {
    let w = World::new();
    w.seed("bob", &[], |_| {}).await;
    let flow = w.flow();
    flow.process(&w.msg(ANN, "@bob hi")).await;
    assert_eq!(
        flow.process(&w.msg(ANN, "and then")).await,
        FlowOutcome::Ignored
    );
}

#[tokio::test]
async fn dms_continue_for_two_hours_without_switching_autorespond_on() {
    let w = World::new();
    w.seed("bob", &[], |_| {}).await;
    w.verify(ANN).await;
    let flow = w.flow();
    assert_eq!(who(&flow.process(&w.dm(ANN, "@bob hi")).await), "bob");
    w.clock.advance(Duration::from_secs(119 * 60));
    assert_eq!(who(&flow.process(&w.dm(ANN, "more")).await), "bob");
    assert!(!w.store.autorespond(user(ANN)).await.unwrap());
    w.clock.advance(Duration::from_secs(121 * 60));
    assert_eq!(
        flow.process(&w.dm(ANN, "hello?")).await,
        FlowOutcome::DmHint
    );
    let hint = w.bot_said().pop().unwrap();
    assert!(
        hint.contains("@name") && hint.contains("!tz list"),
        "{hint}"
    );
}

#[tokio::test]
async fn our_webhooks_and_other_bots_are_never_answered() {
    let w = World::new();
    w.seed("bob", &[], |_| {}).await;
    let flow = w.flow();
    let mut hook = w.msg(ANN, "@bob echo");
    hook.author.is_own_webhook = true;
    let mut bot = w.msg(BEN, "@bob echo");
    bot.author.is_bot = true;
    let mut dm_bot = w.dm(BEN, "anything");
    dm_bot.author.is_bot = true;
    for m in [hook, bot, dm_bot] {
        assert_eq!(flow.process(&m).await, FlowOutcome::Ignored);
    }
    assert!(w.said().is_empty() && w.bot_said().is_empty());
    assert_eq!(w.ai.request_count(), 0);
}

#[tokio::test]
async fn unknown_mentions_and_plain_guild_messages_are_ignored_silently() {
    let w = World::new();
    w.seed("bob", &[], |_| {}).await;
    let flow = w.flow();
    for text in [
        "hello all",
        "@nobody hi",
        "mail me at bob@example.com",
        "@ bob",
    ] {
        assert_eq!(
            flow.process(&w.msg(ANN, text)).await,
            FlowOutcome::Ignored,
            "{text}"
        );
    }
    assert!(w.bot_said().is_empty());
}
