//! The troupe-testkit port contract suites against PostgreSQL, each in a freshly created
//! database with a random name that is dropped afterwards. Without `TROUPE_TEST_POSTGRES_URL`
//! (or a PostgreSQL `DATABASE_URL`) each test says on stderr that it was skipped, and passes.

mod common;

use std::sync::Arc;

use troupe_store::Store;
use troupe_testkit::{Stores, contract};

async fn stores(url: &str) -> Stores {
    let store = Store::open(url, common::options())
        .await
        .expect("a PostgreSQL store opens");
    Stores::sharing(Arc::new(store))
}

macro_rules! suite {
    ($test:ident, $suite:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $test() {
            common::with_postgres("contract suite", |url| async move {
                let s = stores(&url).await;
                contract::$suite(&s).await;
            })
            .await;
        }
    };
}

suite!(
    the_postgres_store_honours_the_personality_repository_contract,
    personality_repository
);
suite!(
    the_postgres_store_honours_the_conversation_repository_contract,
    conversation_repository
);
suite!(
    the_postgres_store_honours_the_auth_repository_contract,
    auth_repository
);
suite!(
    the_postgres_store_honours_the_preferences_repository_contract,
    preferences_repository
);
suite!(
    the_postgres_store_honours_the_processed_messages_contract,
    processed_messages
);
suite!(
    the_postgres_store_honours_the_flag_store_contract,
    flag_store
);

macro_rules! store_suite {
    ($test:ident, $suite:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $test() {
            common::with_postgres("contract suite", |url| async move {
                let store = Store::open(&url, common::options())
                    .await
                    .expect("a PostgreSQL store opens");
                contract::$suite(&store).await;
            })
            .await;
        }
    };
}

store_suite!(
    the_postgres_store_honours_the_gateway_sessions_contract,
    gateway_sessions
);
store_suite!(
    the_postgres_store_honours_the_shared_rate_limit_contract,
    shared_rate_limit
);
