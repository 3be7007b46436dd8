//! The troupe-testkit port contract suites against SQLite, each on a fresh database file.

mod common;

use std::sync::Arc;

use troupe_testkit::{Stores, contract};

async fn fresh(dir: &tempfile::TempDir) -> Stores {
    Stores::sharing(Arc::new(
        common::sqlite_store(dir.path(), "contract.db").await,
    ))
}

macro_rules! suite {
    ($test:ident, $suite:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $test() {
            let dir = tempfile::tempdir().expect("a temporary directory");
            contract::$suite(&fresh(&dir).await).await;
        }
    };
}

suite!(
    the_sqlite_store_honours_the_personality_repository_contract,
    personality_repository
);
suite!(
    the_sqlite_store_honours_the_conversation_repository_contract,
    conversation_repository
);
suite!(
    the_sqlite_store_honours_the_auth_repository_contract,
    auth_repository
);
suite!(
    the_sqlite_store_honours_the_preferences_repository_contract,
    preferences_repository
);
suite!(
    the_sqlite_store_honours_the_processed_messages_contract,
    processed_messages
);
suite!(the_sqlite_store_honours_the_flag_store_contract, flag_store);

macro_rules! store_suite {
    ($test:ident, $suite:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $test() {
            let dir = tempfile::tempdir().expect("a temporary directory");
            let store = common::sqlite_store(dir.path(), "contract.db").await;
            contract::$suite(&store).await;
        }
    };
}

store_suite!(
    the_sqlite_store_honours_the_gateway_sessions_contract,
    gateway_sessions
);
store_suite!(
    the_sqlite_store_honours_the_shared_rate_limit_contract,
    shared_rate_limit
);
