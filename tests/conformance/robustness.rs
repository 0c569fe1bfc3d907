//! The worker's graceful shutdown, and a Redis that goes away and comes back.

use std::time::Duration;

use mageflow::store::StoreError;
use mageflow::{Error, Mageflow, RedisStore, Status};

use crate::conformance;
use crate::probe::*;
use crate::support::*;

conformance!(local_backend: shutdown_lets_running_work_finish, |store: TestStore| async move {
    let t = format!("{}-graceful", store.prefix);
    let client = store.client(register).await;
    let handle = client.run_no_wait(client.sign(held), msg(&t, 1)).await.unwrap();
    entered(&t, 1).await;
    let shutdown = tokio::spawn({
        let client = client.clone();
        async move { client.shutdown(Duration::from_secs(20)).await }
    });
    gate(&t).release.add_permits(1);
    shutdown.await.unwrap().unwrap();
    assert_eq!(handle.status().await.unwrap().status, Status::Done, "the running task finished before shutdown returned");
});

conformance!(local_backend: shutdown_aborts_what_outlives_its_deadline, |store: TestStore| async move {
    let t = format!("{}-deadline", store.prefix);
    let client = store.client(register).await;
    let handle = client.run_no_wait(client.sign(held), msg(&t, 1)).await.unwrap();
    entered(&t, 1).await;
    client.shutdown(Duration::from_millis(100)).await.unwrap();
    gate(&t).release.add_permits(1);
    let state = handle.status().await.unwrap();
    assert_eq!(state.status, Status::Active, "the aborted run recorded no outcome");
    assert_eq!(calls_of(&t, "held").len(), 1);
});

#[tokio::test]
async fn a_redis_that_goes_away_is_a_clear_error_and_its_return_is_picked_up() {
    let t = "redis-away";
    let mut server = RedisServer::start();
    let mut config = mageflow::store::RedisStoreConfig::new(server.url.clone());
    config.command_timeout = Duration::from_millis(500);
    config.reconnect_delay = (Duration::from_millis(20), Duration::from_millis(100));
    let store = RedisStore::connect_with(config).await.unwrap();
    let client: Mageflow = register(Mageflow::builder().store(store)).build().await.unwrap();
    assert_eq!(client.run(client.sign(add_one), msg(t, 1)).await.unwrap(), msg(t, 2));

    server.stop();
    let error = client.run_no_wait(client.sign(add_one), msg(t, 2)).await.unwrap_err();
    assert!(matches!(error, Error::Store(StoreError::Unavailable { .. })), "{error:?}");
    assert!(error.to_string().contains("check that Redis is running"), "{error}");
    let cause = std::error::Error::source(&error).expect("the Redis client's error is kept as the source");
    assert!(cause.downcast_ref::<fred::error::Error>().is_some(), "the source is fred's error: {cause:?}");

    // commands sent while the client reconnects wait for the connection (up to the command timeout)
    server.restart();
    assert_eq!(
        client.run(client.sign(add_one), msg(t, 3)).await.unwrap(),
        msg(t, 4),
        "the client reconnects on its own"
    );
}
