//! The `mageflow` binary against a real Redis: flows stored and run by a worker client in the test process,
//! inspected, steered and started by the CLI in its own process.

mod support;

use std::time::{Duration, SystemTime};

use mageflow::{FlowTree, Mageflow, SignatureId, SignatureState, Status};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

use support::{Hold, Num, RedisServer, WAIT, broken, double, gate, mageflow, prefix, worker};

fn ts(time: SystemTime) -> String {
    humantime::format_rfc3339_seconds(time).to_string()
}

fn took(state: &SignatureState) -> Duration {
    state.finished_at.unwrap().duration_since(state.created_at).unwrap()
}

/// The headline `show` prints for a finished node.
fn headline(state: &SignatureState) -> String {
    format!(
        "{} `{}` {}: {}, created {}, finished after {}",
        state.kind.as_str(),
        state.name,
        state.id,
        state.status,
        ts(state.created_at),
        humantime::format_duration(took(state))
    )
}

async fn finished_tree(client: &Mageflow, id: &SignatureId) -> FlowTree {
    client.wait(id, Some(WAIT)).await.expect("the flow finishes");
    client.tree(id).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_prints_every_node_with_its_status_timings_and_result_or_error() {
    let redis = RedisServer::start();
    let prefix = prefix("show");
    let client = worker(&redis.url, &prefix).await;
    let chain = client.chain([client.sign(double), client.sign(double)]).name("twice");
    let chain = client.run_no_wait(chain, json!({"n": 3})).await.unwrap().id().clone();
    let failing = client.run_no_wait(client.sign(broken), Num { n: 5 }).await.unwrap().id().clone();
    let tree = finished_tree(&client, &chain).await;
    let (first, second) = (&tree.children[0].state, &tree.children[1].state);

    let shown = mageflow(&redis.url, &prefix, &["show", chain.as_str()]).await;
    assert_eq!((shown.code, shown.stderr.as_str()), (Some(0), ""));
    assert_eq!(
        shown.stdout,
        format!(
            "{}\n  {}\n    result: {{\"n\":6}}\n  {}\n    result: {{\"n\":12}}\n",
            headline(&tree.state),
            headline(first),
            headline(second)
        )
    );

    let failed = finished_tree(&client, &failing).await;
    let shown = mageflow(&redis.url, &prefix, &["show", failing.as_str()]).await;
    assert_eq!((shown.code, shown.stderr.as_str()), (Some(0), ""));
    assert_eq!(shown.stdout, format!("{}\n  error: cannot take 5 (kind error, attempt 1)\n", headline(&failed.state)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_json_prints_the_whole_tree() {
    let redis = RedisServer::start();
    let prefix = prefix("showjson");
    let client = worker(&redis.url, &prefix).await;
    let flow = client.chain([client.sign(double), client.sign(broken)]).name("half-broken");
    let id = client.run_no_wait(flow, json!({"n": 1})).await.unwrap().id().clone();
    let tree = finished_tree(&client, &id).await;
    let node = |state: &SignatureState, message: Value, result: Value, error: Value, children: Vec<Value>| {
        json!({
            "id": state.id,
            "kind": state.kind,
            "name": state.name,
            "status": state.status,
            "previous_status": state.previous_status,
            "attempt": state.attempt,
            "created_at": ts(state.created_at),
            "finished_at": ts(state.finished_at.unwrap()),
            "duration_secs": took(state).as_secs(),
            "args": {},
            "message": message,
            "result": result,
            "error": error,
            "swarm": null,
            "children": children,
            "on_success": [],
            "on_error": [],
        })
    };
    let (step1, step2) = (&tree.children[0].state, &tree.children[1].state);
    let failure = json!({
        "task": "broken",
        "signature_id": step2.id,
        "input": {"n": 2},
        "error": {"kind": "error", "message": "cannot take 2", "attempt": 1},
    });
    let expected = node(
        &tree.state,
        json!({"n": 1}),
        Value::Null,
        serde_json::to_value(tree.state.error.as_ref().unwrap()).unwrap(),
        vec![
            node(step1, json!({"n": 1}), json!({"n": 2}), Value::Null, vec![]),
            node(step2, json!({"n": 2}), Value::Null, failure, vec![]),
        ],
    );
    assert_eq!(tree.state.status, Status::Failed);
    let shown = mageflow(&redis.url, &prefix, &["--json", "show", id.as_str()]).await;
    assert_eq!((shown.code, shown.stderr.as_str()), (Some(0), ""));
    assert_eq!(serde_json::from_str::<Value>(&shown.stdout).unwrap(), expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_commands_change_the_stored_status() {
    let redis = RedisServer::start();
    let prefix = prefix("life");
    let client = worker(&redis.url, &prefix).await;
    let gate_name = format!("{prefix}-gate");
    let flow = client.chain([client.sign_name("hold"), client.sign_name("double")]);
    let id = client.run_no_wait(flow, json!(Hold { gate: gate_name.clone(), n: 1 })).await.unwrap().id().clone();
    gate(&gate_name).started().await;

    let suspended = mageflow(&redis.url, &prefix, &["suspend", id.as_str()]).await;
    assert_eq!((suspended.code, suspended.stderr.as_str()), (Some(0), ""));
    assert_eq!(suspended.stdout, format!("suspended {id}; its status is now suspended\n"));
    assert_eq!(client.status(&id).await.unwrap().status, Status::Suspended);

    let resumed = mageflow(&redis.url, &prefix, &["--json", "resume", id.as_str()]).await;
    assert_eq!((resumed.code, resumed.stderr.as_str()), (Some(0), ""));
    assert_eq!(client.status(&id).await.unwrap().status, Status::Active);
    assert_eq!(
        serde_json::from_str::<Value>(&resumed.stdout).unwrap(),
        json!({"id": id, "action": "resume", "status": "active"})
    );

    let interrupted = mageflow(&redis.url, &prefix, &["--json", "interrupt", id.as_str()]).await;
    assert_eq!((interrupted.code, interrupted.stderr.as_str()), (Some(0), ""));
    assert_eq!(
        serde_json::from_str::<Value>(&interrupted.stdout).unwrap(),
        json!({"id": id, "action": "interrupt", "status": "interrupted"})
    );
    assert_eq!(client.status(&id).await.unwrap().status, Status::Interrupted);

    let canceled = mageflow(&redis.url, &prefix, &["cancel", id.as_str()]).await;
    assert_eq!((canceled.code, canceled.stderr.as_str()), (Some(0), ""));
    assert_eq!(canceled.stdout, format!("canceled {id}; its status is now canceled\n"));
    let state = client.wait(&id, Some(WAIT)).await.unwrap();
    assert_eq!(state.status, Status::Canceled);
    gate(&gate_name).open();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_starts_a_task_or_a_flow_that_a_worker_process_runs() {
    let redis = RedisServer::start();
    let prefix = prefix("run");
    let client = worker(&redis.url, &prefix).await;

    let started = mageflow(&redis.url, &prefix, &["run", "double", "--input", r#"{"n": 21}"#]).await;
    assert_eq!((started.code, started.stderr.as_str()), (Some(0), ""));
    let id = SignatureId::parse(started.stdout.trim_end()).expect("run prints the id");
    assert_eq!(started.stdout, format!("{id}\n"));
    let state = client.wait(&id, Some(WAIT)).await.unwrap();
    assert_eq!((state.status, state.result), (Status::Done, Some(json!({"n": 42}))));

    let file = std::env::temp_dir().join(format!("{prefix}-flow.json"));
    std::fs::write(&file, r#"{"chain": ["double", {"task": "double"}], "name": "from-a-file"}"#).unwrap();
    let started =
        mageflow(&redis.url, &prefix, &["--json", "run", "--flow", file.to_str().unwrap(), "--input", r#"{"n": 2}"#])
            .await;
    std::fs::remove_file(&file).unwrap();
    assert_eq!((started.code, started.stderr.as_str()), (Some(0), ""));
    let answer: Value = serde_json::from_str(&started.stdout).unwrap();
    let id = SignatureId::parse(answer["id"].as_str().unwrap()).unwrap();
    assert_eq!(answer, json!({"id": id}));
    let state = client.wait(&id, Some(WAIT)).await.unwrap();
    assert_eq!((state.name.as_str(), state.status, state.result), ("from-a-file", Status::Done, Some(json!({"n": 8}))));

    let refused = mageflow(&redis.url, &prefix, &["run", "double", "--input", r#"{"n": "x"}"#]).await;
    assert_eq!((refused.code, refused.stdout.as_str()), (Some(1), ""));
    assert_eq!(
        refused.stderr,
        "error: the input for task `double` does not fit its schema: at `/n`: \"x\" is not of type \"integer\"\n"
    );
    let unknown = mageflow(&redis.url, &prefix, &["run", "triple", "--input", "{}"]).await;
    assert_eq!((unknown.code, unknown.stdout.as_str()), (Some(1), ""));
    assert_eq!(
        unknown.stderr,
        format!(
            "error: unknown task `triple` under the key prefix `{prefix}` (known tasks: broken, double, hold); a \
             worker publishes its tasks when it starts\n"
        )
    );
    let not_json = mageflow(&redis.url, &prefix, &["run", "double", "--input", "{n: 1}"]).await;
    assert_eq!((not_json.code, not_json.stdout.as_str()), (Some(1), ""));
    assert_eq!(not_json.stderr, "error: --input is not JSON: key must be a string at line 1 column 2\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_lists_the_published_definitions_with_their_schemas() {
    let redis = RedisServer::start();
    let prefix = prefix("tasks");
    let _worker = worker(&redis.url, &prefix).await;
    let listed = mageflow(&redis.url, &prefix, &["--json", "tasks"]).await;
    assert_eq!((listed.code, listed.stderr.as_str()), (Some(0), ""));
    let mut listed: Value = serde_json::from_str(&listed.stdout).unwrap();
    for task in listed["tasks"].as_array_mut().unwrap() {
        let published = task.as_object_mut().unwrap().remove("published_at").unwrap().as_u64().unwrap();
        let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
        assert!(now - published < 60, "published at the worker's start: {published}, now {now}");
    }
    let num = serde_json::to_value(schemars::schema_for!(Num)).unwrap();
    let hold_schema = serde_json::to_value(schemars::schema_for!(Hold)).unwrap();
    let definition = |name: &str, schema: &Value, retries: u32, timeout_ms: Option<u64>| json!({"name": name, "input_schema": schema, "output_schema": num, "return_field": null, "retries": retries, "timeout_ms": timeout_ms});
    assert_eq!(
        listed,
        json!({"tasks": [
            definition("broken", &num, 0, None),
            definition("double", &num, 2, Some(30_000)),
            definition("hold", &hold_schema, 0, None),
        ]})
    );

    let text = mageflow(&redis.url, &prefix, &["tasks"]).await;
    assert_eq!((text.code, text.stderr.as_str()), (Some(0), ""));
    assert_eq!(
        text.stdout,
        format!(
            "broken: retries 0\n  input: {num}\n  output: {num}\ndouble: retries 2, timeout 30s\n  input: {num}\n  \
             output: {num}\nhold: retries 0\n  input: {hold_schema}\n  output: {num}\n"
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_one_line_on_stderr_with_a_nonzero_exit_code() {
    let redis = RedisServer::start();
    let prefix = prefix("errors");
    let _worker = worker(&redis.url, &prefix).await;
    let fails = |code: i32, stderr: String| {
        move |ran: support::Ran| {
            assert_eq!((ran.code, ran.stdout.as_str(), ran.stderr), (Some(code), "", stderr));
        }
    };

    fails(
        1,
        "error: invalid store configuration: `http://127.0.0.1:1` is not a Redis URL mageflow understands \
              (unknown scheme `http`); use redis://[user:password@]host:port[/db], rediss://... for TLS, \
              redis-cluster://host:port[,host:port...] or redis+sentinel://host:port[,host:port...]/service_name\n"
            .to_owned(),
    )(mageflow("http://127.0.0.1:1", &prefix, &["show", "abc"]).await);

    let down = format!("redis://someone:secret@127.0.0.1:{}", support::free_port());
    let redacted = down.replace(":secret@", ":***@");
    fails(
        1,
        format!(
            "error: the store is unreachable (cannot connect to Redis at {redacted}: Connection refused); check that \
         Redis is running and REDIS_URL points at it\n"
        ),
    )(mageflow(&down, &prefix, &["tasks"]).await);

    fails(
        1,
        format!(
            "error: no flow nosuchflow under the key prefix `{prefix}`: it was never created here, or it expired after \
         its TTL\n"
        ),
    )(mageflow(&redis.url, &prefix, &["show", "nosuchflow"]).await);
    fails(
        1,
        format!(
            "error: no flow nosuchflow under the key prefix `{prefix}`: it was never created here, or it expired after \
         its TTL\n"
        ),
    )(mageflow(&redis.url, &prefix, &["cancel", "nosuchflow"]).await);
    fails(
        1,
        format!(
            "error: no flow nosuchflow under the key prefix `{prefix}`: it was never created here, or it expired after \
             its TTL\n"
        ),
    )(mageflow(&redis.url, &prefix, &["watch", "nosuchflow"]).await);
    fails(1, "error: `no such` is not a signature id (1 to 64 letters, digits, `-` or `_`)\n".to_owned())(
        mageflow(&redis.url, &prefix, &["suspend", "no such"]).await,
    );

    fails(
        1,
        "error: no flow nosuchflow under the key prefix `elsewhere`: nothing was registered under this prefix \
              either (no task definitions); check --prefix\n"
            .to_owned(),
    )(mageflow(&redis.url, "elsewhere", &["show", "nosuchflow"]).await);
    fails(
        1,
        "error: no task definitions under the key prefix `elsewhere`: no worker registered tasks there; check \
              --prefix (or MAGEFLOW_PREFIX) against the prefix of your workers\n"
            .to_owned(),
    )(mageflow(&redis.url, "elsewhere", &["tasks"]).await);
    fails(
        1,
        "{\"code\":\"unknown_prefix\",\"error\":\"no task definitions under the key prefix `elsewhere`: no \
              worker registered tasks there; check --prefix (or MAGEFLOW_PREFIX) against the prefix of your \
              workers\"}\n"
            .to_owned(),
    )(mageflow(&redis.url, "elsewhere", &["--json", "tasks"]).await);

    fails(1, "error: `nope` is not a flow cursor: pass the `next` cursor that the previous page printed\n".to_owned())(
        mageflow(&redis.url, &prefix, &["flows", "--cursor", "nope"]).await,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flows_lists_the_index_by_status_and_page_and_stuck_lists_runs_that_never_began() {
    let redis = RedisServer::start();
    let prefix = prefix("flows");
    let client = worker(&redis.url, &prefix).await;
    let done = client.run_no_wait(client.sign_name("double"), json!({"n": 1})).await.unwrap().id().clone();
    client.wait(&done, Some(WAIT)).await.unwrap();
    let failing = client.run_no_wait(client.sign_name("broken"), json!({"n": 1})).await.unwrap().id().clone();
    client.wait(&failing, Some(WAIT)).await.unwrap();

    let listed = mageflow(&redis.url, &prefix, &["--json", "flows"]).await;
    assert_eq!((listed.code, listed.stderr.as_str()), (Some(0), ""));
    let page: Value = serde_json::from_str(&listed.stdout).unwrap();
    let ids: Vec<&str> = page["flows"].as_array().unwrap().iter().map(|flow| flow["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [failing.as_str(), done.as_str()], "newest first: {page}");
    assert_eq!((&page["flows"][0]["status"], &page["flows"][0]["kind"]), (&json!("failed"), &json!("task")));
    assert_eq!(page["next"], Value::Null);

    let failed = mageflow(&redis.url, &prefix, &["flows", "--status", "failed"]).await;
    assert_eq!((failed.code, failed.stdout.lines().count()), (Some(0), 1), "{failed:?}");
    assert!(failed.stdout.starts_with(&format!("{failing} task `broken`: failed, created ")), "{}", failed.stdout);

    let first = mageflow(&redis.url, &prefix, &["--json", "flows", "--limit", "1"]).await;
    let first: Value = serde_json::from_str(&first.stdout).unwrap();
    assert_eq!(first["flows"][0]["id"], json!(failing));
    let cursor = first["next"].as_str().expect("a next page").to_owned();
    let second = mageflow(&redis.url, &prefix, &["--json", "flows", "--limit", "1", "--cursor", &cursor]).await;
    let second: Value = serde_json::from_str(&second.stdout).unwrap();
    assert_eq!((&second["flows"][0]["id"], &second["next"]), (&json!(done), &Value::Null));
    let old = mageflow(&redis.url, &prefix, &["--json", "flows", "--older-than", "1h"]).await;
    assert_eq!(serde_json::from_str::<Value>(&old.stdout).unwrap()["flows"], json!([]));

    // a run handed to a backend that runs nothing never begins (under a prefix of its own: the worker above
    // would recover it)
    let idle_prefix = format!("{prefix}-idle");
    let idle = mageflow_runtime::Mageflow::builder()
        .redis_url(&redis.url)
        .key_prefix(&idle_prefix)
        .task(double)
        .backend(mageflow_runtime::testing::Recorder::new())
        .recovery(None, Duration::ZERO)
        .build()
        .await
        .unwrap();
    let waiting = idle.run_no_wait(idle.sign(double), Num { n: 2 }).await.unwrap().id().clone();
    let stuck = mageflow(&redis.url, &idle_prefix, &["--json", "stuck", "--older-than", "0s"]).await;
    assert_eq!((stuck.code, stuck.stderr.as_str()), (Some(0), ""));
    let stuck: Value = serde_json::from_str(&stuck.stdout).unwrap();
    assert_eq!(stuck["runs"].as_array().unwrap().len(), 1, "{stuck}");
    let run = &stuck["runs"][0];
    assert_eq!((&run["id"], &run["task"], &run["reason"]), (&json!(waiting), &json!("double"), &json!("never_began")));
    let later = mageflow(&redis.url, &idle_prefix, &["--json", "stuck", "--older-than", "1h"]).await;
    assert_eq!(serde_json::from_str::<Value>(&later.stdout).unwrap()["runs"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_follows_a_flow_until_it_ends() {
    let redis = RedisServer::start();
    let prefix = prefix("watch");
    let client = worker(&redis.url, &prefix).await;
    let gate_name = format!("{prefix}-gate");
    let flow = client.chain([client.sign_name("hold"), client.sign_name("double")]).name("held");
    let id = client.run_no_wait(flow, json!(Hold { gate: gate_name.clone(), n: 5 })).await.unwrap().id().clone();
    gate(&gate_name).started().await;

    let mut watching = support::command(&redis.url, &prefix, &["--json", "watch", id.as_str(), "--interval", "50ms"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(watching.stdout.take().unwrap()).lines();
    let next = async |lines: &mut tokio::io::Lines<_>| -> Value {
        let line = tokio::time::timeout(WAIT, lines.next_line()).await.expect("watch prints").unwrap();
        serde_json::from_str(&line.expect("a line")).unwrap()
    };
    let first = next(&mut lines).await;
    let tree = client.tree(&id).await.unwrap();
    let part = |state: &SignatureState, status: &str, finished: u64, total: u64| json!({"id": state.id, "kind": state.kind, "name": state.name, "status": status, "finished": finished, "total": total});
    assert_eq!(
        first,
        json!({"event": "progress", "id": id, "status": "active", "parts": [part(&tree.state, "active", 0, 2)]})
    );

    gate(&gate_name).open();
    let status = tokio::time::timeout(WAIT, watching.wait()).await.expect("watch ends with the flow").unwrap();
    let mut rest = Vec::new();
    while let Some(line) = lines.next_line().await.unwrap() {
        rest.push(serde_json::from_str::<Value>(&line).unwrap());
    }
    let last = rest.pop().expect("a last line");
    assert_eq!(status.code(), Some(0));
    assert_eq!((&last["event"], &last["flow"]["id"]), (&json!("finished"), &json!(id)));
    assert_eq!((&last["flow"]["status"], &last["flow"]["result"]), (&json!("done"), &json!({"n": 10})));
    let finished_part =
        json!({"event": "progress", "id": id, "status": "done", "parts": [part(&tree.state, "done", 2, 2)]});
    assert_eq!(rest.last(), Some(&finished_part), "the last progress line shows the end: {rest:?}");

    // a flow ends with its callbacks: watch waits for a success callback that runs after the task
    let gate_name = format!("{prefix}-callback");
    let callback = client.sign_name("hold").bind(json!({"gate": gate_name}));
    let task = client.run_no_wait(client.sign(double).on_success(callback), Num { n: 4 }).await.unwrap().id().clone();
    gate(&gate_name).started().await;
    let mut watching = support::command(&redis.url, &prefix, &["--json", "watch", task.as_str()])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(watching.stdout.take().unwrap()).lines();
    let first = next(&mut lines).await;
    let tree = client.tree(&task).await.unwrap();
    let held = &tree.success_callbacks[0].state;
    assert_eq!(
        first,
        json!({"event": "progress", "id": task, "status": "done", "parts": [part(&tree.state, "done", 1, 1), part(held, "active", 0, 1)]})
    );
    gate(&gate_name).open();
    let status = tokio::time::timeout(WAIT, watching.wait()).await.expect("watch ends with the callback").unwrap();
    let mut last = Value::Null;
    while let Some(line) = lines.next_line().await.unwrap() {
        last = serde_json::from_str(&line).unwrap();
    }
    assert_eq!(status.code(), Some(0));
    assert_eq!((&last["event"], &last["flow"]["result"]), (&json!("finished"), &json!({"n": 8})));
    assert_eq!(
        (&last["flow"]["on_success"][0]["status"], &last["flow"]["on_success"][0]["result"]),
        (&json!("done"), &json!({"n": 8}))
    );

    let failing = client.run_no_wait(client.sign(broken), Num { n: 9 }).await.unwrap().id().clone();
    let failed = finished_tree(&client, &failing).await;
    let watched = mageflow(&redis.url, &prefix, &["watch", failing.as_str()]).await;
    assert_eq!(watched.code, Some(3));
    assert_eq!(
        watched.stdout,
        format!("{}\n  error: cannot take 9 (kind error, attempt 1)\n", headline(&failed.state))
    );
    assert_eq!(
        watched.stderr,
        format!(
            "error: flow {failing} ended failed: task `broken` failed on attempt 1: cannot take 9 (kind: error, signature {failing})\n"
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_serves_the_web_view_and_its_api() {
    let redis = RedisServer::start();
    let prefix = prefix("serve");
    let client = worker(&redis.url, &prefix).await;
    let done = client.run_no_wait(client.sign(double), Num { n: 4 }).await.unwrap().id().clone();
    client.wait(&done, Some(WAIT)).await.unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let bind = format!("127.0.0.1:{port}");
    let mut served = support::command(&redis.url, &prefix, &["serve", "--bind", &bind, "--read-only"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(served.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(WAIT, lines.next_line()).await.expect("in time").unwrap();
    assert_eq!(first.as_deref(), Some(format!("the mageflow web view is at http://{bind}/").as_str()));
    // the API answers with the flow the worker ran (plain HTTP/1.0 over a socket: no client library needed)
    let body = http_get(&bind, "/api/flows").await;
    let page: Value = serde_json::from_str(&body).unwrap_or_else(|_| panic!("not JSON: {body}"));
    assert_eq!(page["flows"][0]["id"], json!(done), "{page}");
    served.kill().await.unwrap();
}

/// The body of `GET path` on `address`.
async fn http_get(address: &str, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!("GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    tokio::time::timeout(WAIT, stream.read_to_string(&mut response)).await.expect("in time").unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    assert!(head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"), "{head}");
    body.to_owned()
}
