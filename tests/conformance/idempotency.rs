//! Idempotent creation on retries: a retried task gets back the signatures its failed attempt created, in order,
//! and creates nothing twice; runs keep separate journals; a journal ends with its run.

use mageflow::Status;

use crate::conformance;
use crate::probe::*;
use crate::support::*;

fn ids_of(call: &Call) -> Vec<String> {
    serde_json::from_value(call.input.clone()).unwrap()
}

conformance!(a_retry_gets_back_what_its_failed_attempt_created, |store: TestStore| async move {
    let t = format!("{}-retry-ids", store.prefix);
    let client = store.client(register).await;
    let handle = client.run_no_wait(client.sign(spawner), msg(&t, 1)).await.unwrap();
    let ids = handle.result().await.unwrap();
    let attempts = calls_of(&t, "spawner");
    assert_eq!(attempts.iter().map(|c| c.attempt).collect::<Vec<_>>(), vec![1, 2]);
    let (first, second) = (ids_of(&attempts[0]), ids_of(&attempts[1]));
    assert_eq!(first.len(), 4);
    assert_eq!(second[..4], first[..], "the same task, chain and swarm, in the same order");
    assert!(!first.contains(&second[4]), "a signature created only on the retry is new");
    assert_eq!(ids, second);
    // the task the first attempt started is not started again
    let started = finished(&client, &first[0].parse().unwrap()).await;
    assert_eq!(started.status, Status::Done);
    assert_eq!(calls_of(&t, "add-one").len(), 1, "the flow started by the failed attempt ran once");
    for id in &second[1..] {
        assert_eq!(client.status(&id.parse().unwrap()).await.unwrap().status, Status::Pending);
    }
    let record = mageflow::testing::stored_record(&client, handle.id()).await.unwrap();
    assert!(!record.contains_key("jrn"), "the journal ends with its run: {record:?}");
});

conformance!(
    a_retry_that_makes_another_task_where_its_failed_attempt_made_one_is_refused,
    |store: TestStore| async move {
        let t = format!("{}-shifty", store.prefix);
        let client = store.client(register).await;
        let error: String = client.run(client.sign(shifty), msg(&t, 1)).await.unwrap();
        assert!(
            error.contains("is stored as task add-one, but was now made as task double"),
            "the retry is told which task its item was stored as: {error}"
        );
        let attempts = calls_of(&t, "shifty");
        assert_eq!(attempts.iter().map(|c| c.attempt).collect::<Vec<_>>(), vec![1, 2]);
        assert!(attempts[1].input.is_null(), "the retry stored nothing: {:?}", attempts[1].input);
        let swarm = attempts[0].input.as_str().expect("the first attempt stored its swarm").parse().unwrap();
        let record = mageflow::testing::stored_record(&client, &swarm).await.unwrap();
        assert_eq!(
            record.get("n").map(String::as_str),
            Some("2"),
            "the first attempt's swarm is unchanged: {record:?}"
        );
    }
);

conformance!(concurrent_runs_keep_separate_journals, |store: TestStore| async move {
    let t = format!("{}-separate", store.prefix);
    let client = store.client(register).await;
    let a = client.run_no_wait(client.sign(spawner), msg(&t, 1)).await.unwrap();
    let b = client.run_no_wait(client.sign(spawner), msg(&t, 1)).await.unwrap();
    let (a_ids, b_ids) = (a.result().await.unwrap(), b.result().await.unwrap());
    assert!(a_ids.iter().all(|id| !b_ids.contains(id)), "{a_ids:?} and {b_ids:?} share ids");
    let mut runs: Vec<Vec<String>> = calls_of(&t, "spawner").iter().map(ids_of).collect();
    runs.sort();
    assert_eq!(runs.len(), 4, "two runs, two attempts each");
    for ids in [&a_ids, &b_ids] {
        finished(&client, &ids[0].parse().unwrap()).await;
    }
    assert_eq!(calls_of(&t, "add-one").len(), 2, "each run started its flow once");
});

conformance!(without_idempotent_creation_a_retry_creates_new_flows, |store: TestStore| async move {
    let t = format!("{}-off", store.prefix);
    let client = store.client(|b| register(b).idempotent_creation(false)).await;
    client.run(client.sign(spawner), msg(&t, 1)).await.unwrap();
    let attempts = calls_of(&t, "spawner");
    let (first, second) = (ids_of(&attempts[0]), ids_of(&attempts[1]));
    assert!(first.iter().all(|id| !second.contains(id)));
    for id in [&first[0], &second[0]] {
        finished(&client, &id.parse().unwrap()).await;
    }
    assert_eq!(calls_of(&t, "add-one").len(), 2, "the retry started its flow again");
});
