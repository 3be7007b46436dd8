//! The in-memory store passes every port contract suite: the proof that the fakes are right.

use troupe_testkit::{Stores, contract};

fn fresh() -> Stores {
    Stores::in_memory().0
}

#[tokio::test]
async fn the_in_memory_store_honours_the_personality_repository_contract() {
    contract::personality_repository(&fresh()).await;
}

#[tokio::test]
async fn the_in_memory_store_honours_the_conversation_repository_contract() {
    contract::conversation_repository(&fresh()).await;
}

#[tokio::test]
async fn the_in_memory_store_honours_the_auth_repository_contract() {
    contract::auth_repository(&fresh()).await;
}

#[tokio::test]
async fn the_in_memory_store_honours_the_preferences_repository_contract() {
    contract::preferences_repository(&fresh()).await;
}

#[tokio::test]
async fn the_in_memory_store_honours_the_processed_messages_contract() {
    contract::processed_messages(&fresh()).await;
}

#[tokio::test]
async fn the_in_memory_sessions_honour_the_gateway_sessions_contract() {
    contract::gateway_sessions(&troupe_testkit::InMemorySessions::new()).await;
}

#[tokio::test]
async fn the_in_memory_sessions_honour_the_shared_rate_limit_contract() {
    contract::shared_rate_limit(&troupe_testkit::InMemorySessions::new()).await;
}

#[tokio::test]
async fn the_in_memory_store_honours_the_flag_store_contract() {
    contract::flag_store(&fresh()).await;
}

#[tokio::test]
async fn all_runs_every_suite_on_a_fresh_store_from_an_async_closure() {
    let mut made = 0;
    contract::all(async || {
        made += 1;
        fresh()
    })
    .await;
    assert_eq!(made, 6, "one fresh store per suite");
}

async fn make_fresh() -> Stores {
    fresh()
}

#[tokio::test]
async fn all_accepts_an_async_function() {
    contract::all(make_fresh).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_suites_pass_on_a_multi_threaded_runtime() {
    contract::all(async || fresh()).await;
}
