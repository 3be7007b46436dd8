//! How an answer reaches its destination (commands.md §3, issue 15): one split, sized for the
//! destination, and mentions found wherever users put them.

mod flow_support;

use flow_support::*;
use troupe_domain::conversation::{Layout, MAX_MESSAGE_CHARS};

fn units(s: &str) -> usize {
    s.encode_utf16().count()
}

/// Issue 15: a 2,000-character answer in a DM became 1,995 characters and a prefix-less
/// 20-character fragment, because the `**Name:** ` prefix was added after splitting.
#[tokio::test]
async fn a_two_thousand_character_answer_in_a_dm_is_split_once_with_room_for_the_prefix() {
    let w = World::new();
    w.seed("bob", &[], |p| {
        p.display_name = troupe_domain::personality::DisplayName::parse("Bobby B").unwrap();
    })
    .await;
    let mut answer = String::new();
    let mut n = 0;
    while answer.chars().count() < 2000 {
        answer.push_str(&format!("Sentence number {n} is here. "));
        n += 1;
    }
    let answer: String = answer.chars().take(2000).collect();
    w.ai.push_answer(answer.clone());
    w.verify(ANN).await;
    let flow = w.flow();
    assert_eq!(who(&flow.process(&w.dm(ANN, "@bob talk")).await), "bob");
    let sent: Vec<String> = w
        .platform
        .personality_messages()
        .into_iter()
        .map(|(_, _, text, _)| text)
        .collect();
    assert_eq!(sent.len(), 2, "{sent:#?}");
    let layout = Layout::dm("Bobby B");
    for text in &sent {
        let laid_out = layout.split(text);
        assert_eq!(laid_out.len(), 1, "the DM path does not cut it again");
        assert!(units(&laid_out[0]) <= MAX_MESSAGE_CHARS);
        assert!(laid_out[0].starts_with("**Bobby B:** "));
    }
    assert!(
        units(&sent[0]) > 1000,
        "no tiny first chunk: {}",
        units(&sent[0])
    );
    assert_eq!(sent.concat().replace(' ', ""), answer.replace(' ', ""));
}

#[tokio::test]
async fn in_a_guild_channel_an_answer_is_split_without_a_prefix() {
    let w = World::new();
    w.seed("bob", &[], |_| {}).await;
    let answer = "word ".repeat(1000);
    w.ai.push_answer(answer.clone());
    let flow = w.flow();
    flow.process(&w.msg(ANN, "@bob talk")).await;
    let sent: Vec<String> = w
        .platform
        .personality_messages()
        .into_iter()
        .map(|(_, _, text, _)| text)
        .collect();
    assert_eq!(sent.len(), 3, "5,000 characters in messages of up to 2,000");
    assert!(sent.iter().all(|t| units(t) <= MAX_MESSAGE_CHARS));
}

/// Issue 15: `(@einstein) hi`, `"@einstein" hi` and `**@einstein** hi` got no answer.
#[tokio::test]
async fn mentions_after_punctuation_get_an_answer() {
    let w = World::new();
    w.seed("einstein", &[], |_| {}).await;
    let flow = w.flow();
    for content in [
        "(@einstein) hi",
        "\"@einstein\" hi",
        "**@einstein** hi",
        "well,@einstein hi",
    ] {
        assert_eq!(
            who(&flow.process(&w.msg(ANN, content)).await),
            "einstein",
            "{content:?}"
        );
    }
}

#[tokio::test]
async fn mentions_of_names_in_other_scripts_get_an_answer() {
    let w = World::new();
    w.seed("שלום", &[], |_| {}).await;
    w.seed("Лилит", &["лили"], |_| {}).await;
    w.seed("孔子", &[], |_| {}).await;
    let flow = w.flow();
    for (content, expected) in [
        ("\u{200F}@שלום\u{200F} מה שלומך?", "שלום"),
        ("(@ЛИЛИ) привет", "Лилит"),
        ("「@孔子」你好", "孔子"),
    ] {
        assert_eq!(
            who(&flow.process(&w.msg(ANN, content)).await),
            expected,
            "{content:?}"
        );
    }
}
