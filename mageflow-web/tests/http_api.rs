//! The web view's HTTP API without a browser: requests straight into its router, flows on a real `redis-server`
//! this test starts. Who may do what (token, read-only, origin, host), errors as JSON with their messages, the
//! flow list and a flow's JSON, the live event stream, and the binding rule.

mod support;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use mageflow::{Mageflow, Node, SignatureId, Status};
use mageflow_web::{Server, WebError, WebOptions};
use serde_json::{Value, json};
use support::{Gate, Job, RedisServer, WAIT, alert, client, publish, resize};
use tower::ServiceExt;

const HOST: &str = "127.0.0.1:8642";

async fn send(router: &Router, method: Method, path: &str, headers: &[(&str, &str)]) -> (StatusCode, Value) {
    let mut request = Request::builder().method(method).uri(path).header(header::HOST, HOST);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = router.clone().oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
    let status = response.status();
    assert_eq!(
        response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()),
        Some("application/json"),
        "{path} answers JSON"
    );
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {bytes:?}")))
}

async fn get(router: &Router, path: &str) -> (StatusCode, Value) {
    send(router, Method::GET, path, &[]).await
}

fn error(message: &str) -> Value {
    json!({ "error": message })
}

/// A task held at a gate that never opens: a flow that stays active.
async fn running_task(client: &Mageflow) -> SignatureId {
    let gate = Gate::new();
    let handle =
        client.run_no_wait(client.sign(resize), Job { gate: gate.name.clone(), n: 1, fail: false }).await.unwrap();
    gate.reached(1).await;
    assert_eq!(client.status(handle.id()).await.unwrap().status, Status::Active);
    handle.id().clone()
}

#[tokio::test]
async fn config_tells_the_page_what_it_may_do() {
    let redis = RedisServer::start().await;
    let client = client(&redis).await;
    let version = env!("CARGO_PKG_VERSION");
    let open = mageflow_web::router(client.clone(), WebOptions::new());
    assert_eq!(
        get(&open, "/api/config").await,
        (StatusCode::OK, json!({ "read_only": false, "token_required": false, "version": version }))
    );
    let guarded = mageflow_web::router(client.clone(), WebOptions::new().token("s3cret"));
    assert_eq!(
        get(&guarded, "/api/config").await,
        (StatusCode::OK, json!({ "read_only": false, "token_required": true, "version": version }))
    );
    let read_only = mageflow_web::router(client, WebOptions::new().token("s3cret").read_only(true));
    assert_eq!(
        get(&read_only, "/api/config").await,
        (StatusCode::OK, json!({ "read_only": true, "token_required": false, "version": version }))
    );
}

#[tokio::test]
async fn unknown_or_malformed_ids_and_routes_are_404_with_a_message() {
    let redis = RedisServer::start().await;
    let client = client(&redis).await;
    let router = mageflow_web::router(client, WebOptions::new());
    let unknown = SignatureId::generate();
    let not_stored =
        error(&format!("no signature {unknown} in the store: it was never created here, or it expired after its TTL"));
    assert_eq!(get(&router, &format!("/api/flows/{unknown}")).await, (StatusCode::NOT_FOUND, not_stored.clone()));
    assert_eq!(
        get(&router, &format!("/api/flows/{unknown}/events")).await,
        (StatusCode::NOT_FOUND, not_stored.clone())
    );
    for action in ["suspend", "interrupt", "resume", "cancel"] {
        assert_eq!(
            send(&router, Method::POST, &format!("/api/flows/{unknown}/{action}"), &[]).await,
            (StatusCode::NOT_FOUND, not_stored.clone()),
            "{action}"
        );
    }
    let malformed = error("no flow `not an id!`: that is not a signature id (1 to 64 letters, digits, `-` or `_`)");
    assert_eq!(get(&router, "/api/flows/not%20an%20id!").await, (StatusCode::NOT_FOUND, malformed.clone()));
    assert_eq!(
        send(&router, Method::POST, "/api/flows/not%20an%20id!/cancel", &[]).await,
        (StatusCode::NOT_FOUND, malformed)
    );
    assert_eq!(
        send(&router, Method::POST, &format!("/api/flows/{unknown}/explode"), &[]).await,
        (StatusCode::NOT_FOUND, error("no action `explode`: the actions are suspend, interrupt, resume and cancel"))
    );
    assert_eq!(
        get(&router, "/api/tasks").await,
        (
            StatusCode::NOT_FOUND,
            error("no page or API route `GET /api/tasks`: the pages are / and /flows/ID, the API is under /api/flows")
        )
    );
    assert_eq!(
        get(&router, &format!("/api/flows/{unknown}/suspend")).await,
        (
            StatusCode::METHOD_NOT_ALLOWED,
            error(&format!(
                "`/api/flows/{unknown}/suspend` does not take GET: lifecycle actions are POST, everything else GET"
            ))
        )
    );
}

#[tokio::test]
async fn with_a_token_actions_need_it_and_reading_does_not() {
    let redis = RedisServer::start().await;
    let client = client(&redis).await;
    let router = mageflow_web::router(client.clone(), WebOptions::new().token("s3cret"));
    let id = running_task(&client).await;
    let path = format!("/api/flows/{id}/suspend");

    assert_eq!(
        send(&router, Method::POST, &path, &[]).await,
        (
            StatusCode::UNAUTHORIZED,
            error("this action needs the web view's token: send it as `Authorization: Bearer <token>`")
        )
    );
    assert_eq!(
        send(&router, Method::POST, &path, &[("authorization", "Bearer s3cret-not")]).await,
        (StatusCode::UNAUTHORIZED, error("the token is wrong: use the web view's token"))
    );
    assert_eq!(
        send(&router, Method::POST, &path, &[("authorization", "Basic s3cret")]).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(client.status(&id).await.unwrap().status, Status::Active, "refused actions change nothing");

    assert_eq!(get(&router, &format!("/api/flows/{id}")).await.0, StatusCode::OK);
    assert_eq!(get(&router, "/api/flows").await.0, StatusCode::OK);

    assert_eq!(
        send(&router, Method::POST, &path, &[("authorization", "Bearer s3cret")]).await,
        (StatusCode::OK, json!({ "id": id.to_string(), "action": "suspend", "status": "suspended" }))
    );
    assert_eq!(client.status(&id).await.unwrap().status, Status::Suspended);
    assert_eq!(
        send(&router, Method::POST, &format!("/api/flows/{id}/cancel"), &[("authorization", "Bearer s3cret")]).await,
        (StatusCode::OK, json!({ "id": id.to_string(), "action": "cancel", "status": "canceled" }))
    );
    assert_eq!(client.status(&id).await.unwrap().status, Status::Canceled);
}

#[tokio::test]
async fn read_only_refuses_every_action() {
    let redis = RedisServer::start().await;
    let client = client(&redis).await;
    let router = mageflow_web::router(client.clone(), WebOptions::new().token("s3cret").read_only(true));
    let id = running_task(&client).await;
    for action in ["suspend", "interrupt", "resume", "cancel"] {
        assert_eq!(
            send(&router, Method::POST, &format!("/api/flows/{id}/{action}"), &[("authorization", "Bearer s3cret")])
                .await,
            (
                StatusCode::FORBIDDEN,
                error(
                    "this web view is read-only: lifecycle actions (suspend, interrupt, resume, cancel) are turned off"
                )
            ),
            "{action}"
        );
    }
    assert_eq!(client.status(&id).await.unwrap().status, Status::Active);
    let (status, flow) = get(&router, &format!("/api/flows/{id}")).await;
    assert_eq!((status, &flow["root"]["status"]), (StatusCode::OK, &json!("active")));
}

#[tokio::test]
async fn actions_from_another_origin_are_refused() {
    let redis = RedisServer::start().await;
    let client = client(&redis).await;
    let router = mageflow_web::router(client.clone(), WebOptions::new());
    let id = running_task(&client).await;
    let path = format!("/api/flows/{id}/suspend");
    assert_eq!(
        send(&router, Method::POST, &path, &[("origin", "https://evil.example")]).await,
        (
            StatusCode::FORBIDDEN,
            error(
                "a lifecycle action from another origin (`https://evil.example`) is refused: use the web view's own \
                 page"
            )
        )
    );
    assert_eq!(
        send(&router, Method::POST, &path, &[("origin", "http://127.0.0.1:9999")]).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(client.status(&id).await.unwrap().status, Status::Active);
    assert_eq!(
        send(&router, Method::POST, &path, &[("origin", "http://127.0.0.1:8642")]).await,
        (StatusCode::OK, json!({ "id": id.to_string(), "action": "suspend", "status": "suspended" }))
    );
}

#[tokio::test]
async fn a_loopback_view_answers_only_loopback_host_names() {
    let redis = RedisServer::start().await;
    let client = client(&redis).await;
    let router = mageflow_web::router(client.clone(), WebOptions::new());
    let request = |host: &str| Request::get("/api/config").header(header::HOST, host).body(Body::empty()).unwrap();
    let response = router.clone().oneshot(request("rebound.evil.example:8642")).await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body: Value = serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(
        body,
        error(
            "this web view listens on a loopback address and answers only requests for localhost or 127.0.0.1, not \
             for `rebound.evil.example`; to reach it from elsewhere, bind another address with a token"
        )
    );
    for host in ["localhost:8642", "127.0.0.1:8642", "[::1]:8642", "localhost"] {
        assert_eq!(router.clone().oneshot(request(host)).await.unwrap().status(), StatusCode::OK, "{host}");
    }
    // bound elsewhere, any name reaches it (it has a token or is read-only)
    let public = mageflow_web::router(client, WebOptions::new().bind("0.0.0.0:8642".parse().unwrap()).read_only(true));
    assert_eq!(public.oneshot(request("flows.example.com")).await.unwrap().status(), StatusCode::OK);
}

#[tokio::test]
async fn binding_elsewhere_needs_a_token_unless_read_only() {
    let redis = RedisServer::start().await;
    let client = client(&redis).await;
    let elsewhere: std::net::SocketAddr = "0.0.0.0:0".parse().unwrap();
    let refused = Server::bind(client.clone(), WebOptions::new().bind(elsewhere)).await.err().unwrap();
    assert!(matches!(refused, WebError::TokenRequired { bind } if bind == elsewhere));
    assert_eq!(
        refused.to_string(),
        "the web view would listen on 0.0.0.0:0, which other machines can reach, and anyone there could suspend or \
         cancel flows: give it a token (`WebOptions::token`, `--token` on the command line), or serve it read-only \
         (`--read-only`), or bind 127.0.0.1"
    );
    let empty = Server::bind(client.clone(), WebOptions::new().token(" ")).await.err().unwrap();
    assert_eq!(
        empty.to_string(),
        "the web view's token is empty: give a token of at least one character, or none on 127.0.0.1"
    );
    let with_token = Server::bind(client.clone(), WebOptions::new().bind(elsewhere).token("s3cret")).await.unwrap();
    assert_ne!(with_token.local_addr().port(), 0);
    drop(with_token);
    Server::bind(client.clone(), WebOptions::new().bind(elsewhere).read_only(true)).await.unwrap();
    let local = Server::bind(client, WebOptions::new().bind("127.0.0.1:0".parse().unwrap())).await.unwrap();
    assert_eq!(local.url(), format!("http://127.0.0.1:{}/", local.local_addr().port()));
    assert_eq!(WebOptions::new().bind.to_string(), "127.0.0.1:8642");
    assert_eq!(
        format!("{:?}", WebOptions::new().token("s3cret")),
        "WebOptions { bind: 127.0.0.1:8642, token: Some(\"***\"), read_only: false, refresh: 1s }"
    );
}

#[tokio::test]
async fn the_flow_list_filters_and_pages() {
    let redis = RedisServer::start().await;
    let client = client(&redis).await;
    let router = mageflow_web::router(client.clone(), WebOptions::new());
    let mut ids = Vec::new();
    for n in 1..=3u64 {
        let handle =
            client.run_no_wait(client.sign(resize), Job { gate: String::new(), n, fail: n == 2 }).await.unwrap();
        client.wait(handle.id(), Some(WAIT)).await.unwrap();
        ids.push(handle.id().to_string());
    }
    let listed = |page: &Value| -> Vec<(String, String)> {
        page["flows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|flow| (flow["id"].as_str().unwrap().to_owned(), flow["status"].as_str().unwrap().to_owned()))
            .collect()
    };
    let (status, all) = get(&router, "/api/flows").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        listed(&all),
        [(ids[2].clone(), "done".into()), (ids[1].clone(), "failed".into()), (ids[0].clone(), "done".into())]
    );
    assert_eq!(all["next"], Value::Null);
    let first = &all["flows"][0];
    assert_eq!(first["name"], "resize");
    assert!(first["created_at"].as_u64().unwrap() <= first["finished_at"].as_u64().unwrap() + 1000);

    let (_, failed) = get(&router, "/api/flows?status=failed").await;
    assert_eq!(listed(&failed), [(ids[1].clone(), "failed".into())]);
    let (_, both) = get(&router, "/api/flows?status=failed,done&name=resize&younger_than=1h").await;
    assert_eq!(listed(&both).len(), 3);
    let (_, none) = get(&router, "/api/flows?name=other").await;
    assert_eq!(none, json!({ "flows": [], "next": null }));

    let (_, page) = get(&router, "/api/flows?limit=2").await;
    assert_eq!(listed(&page), [(ids[2].clone(), "done".into()), (ids[1].clone(), "failed".into())]);
    let cursor = page["next"].as_str().unwrap().to_owned();
    let (_, rest) = get(&router, &format!("/api/flows?limit=2&after={cursor}")).await;
    assert_eq!(listed(&rest), [(ids[0].clone(), "done".into())]);
    assert_eq!(rest["next"], Value::Null);

    assert_eq!(
        get(&router, "/api/flows?status=running").await,
        (
            StatusCode::BAD_REQUEST,
            error(
                "unknown status `running`: use one or more of pending, active, done, failed, suspended, interrupted, \
                 canceled"
            )
        )
    );
    assert_eq!(
        get(&router, "/api/flows?younger_than=2w").await,
        (
            StatusCode::BAD_REQUEST,
            error("`2w` is not an age: use a number with s, m, h or d (`90s`, `15m`, `2h`, `7d`), or seconds")
        )
    );
    assert_eq!(
        get(&router, "/api/flows?limit=0").await,
        (StatusCode::BAD_REQUEST, error("`limit` must be a number from 1 to 500, not `0`"))
    );
    assert_eq!(
        get(&router, "/api/flows?after=yesterday").await,
        (
            StatusCode::BAD_REQUEST,
            error(
                "bad `after`: invalid configuration: `yesterday` is not a flow cursor (it looks like \
                 `1733390000123.<group>.<id>`); pass the `next` of the previous page"
            )
        )
    );
}

#[tokio::test]
async fn a_flow_is_its_tree_in_json() {
    let redis = RedisServer::start().await;
    let client = client(&redis).await;
    let router = mageflow_web::router(client.clone(), WebOptions::new());
    let items: Vec<Node> =
        vec![client.sign(resize).arg("n", 1).into(), client.sign(resize).arg("n", 2).arg("fail", true).into()];
    let item_ids: Vec<String> = items.iter().map(|item| item.id().to_string()).collect();
    let swarm = client.swarm(items).name("thumbnails").stop_after_failures(2);
    let on_error = client.sign(alert);
    let alert_id = on_error.id().to_string();
    let chain = client
        .run_no_wait(
            client.chain([Node::from(swarm), client.sign(publish).into()]).name("album").on_error(on_error),
            json!({ "n": 0 }),
        )
        .await
        .unwrap();
    assert_eq!(client.wait(chain.id(), Some(WAIT)).await.unwrap().status, Status::Done);
    let (status, flow) = get(&router, &format!("/api/flows/{}", chain.id())).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(flow["finished"], json!(true), "every node finished, the error callback skipped: {flow}");
    let root = &flow["root"];
    assert_eq!((&root["kind"], &root["name"], &root["status"]), (&json!("chain"), &json!("album"), &json!("done")));
    let swarm = &root["children"][0];
    assert_eq!((&swarm["kind"], &swarm["name"]), (&json!("swarm"), &json!("thumbnails")));
    assert_eq!(
        swarm["swarm"],
        json!({ "items": 2, "running": 0, "succeeded": 1, "failed": 1, "closed": true, "max_concurrency": 30 })
    );
    assert_eq!(swarm["children"][0]["id"], json!(item_ids[0]));
    assert_eq!(swarm["children"][0]["result"], json!(10));
    let failed = &swarm["children"][1];
    assert_eq!((&failed["id"], &failed["status"]), (&json!(item_ids[1]), &json!("failed")));
    assert_eq!(
        failed["error"],
        json!({
            "kind": "error",
            "message": "image 2 is corrupt: unexpected end of JPEG data",
            "attempt": 1,
            "task": "resize",
            "signature_id": item_ids[1],
        })
    );
    assert_eq!(failed["args"], json!({ "n": 2, "fail": true }));
    assert_eq!(root["children"][1]["name"], json!("publish"));
    assert_eq!(root["error_callbacks"][0]["id"], json!(alert_id));
    assert_eq!(root["error_callbacks"][0]["status"], json!("canceled"));
    assert_eq!(root["success_callbacks"], json!([]));
    assert_eq!(root["hidden_children"], json!(0));
}

/// The next server-sent event of a stream: (event, data).
async fn next_event(body: &mut Body, buffer: &mut String) -> (String, String) {
    loop {
        if let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let mut event = String::new();
            let mut data = String::new();
            for line in block.lines() {
                if let Some(name) = line.strip_prefix("event: ") {
                    event = name.to_owned();
                } else if let Some(chunk) = line.strip_prefix("data: ") {
                    data.push_str(chunk);
                }
            }
            if !event.is_empty() {
                return (event, data);
            }
            continue;
        }
        let frame = tokio::time::timeout(WAIT, body.frame()).await.expect("an event in time").unwrap().unwrap();
        if let Ok(bytes) = frame.into_data() {
            buffer.push_str(std::str::from_utf8(&bytes).unwrap());
        }
    }
}

#[tokio::test]
async fn the_event_stream_sends_the_tree_and_each_change() {
    let redis = RedisServer::start().await;
    let client = client(&redis).await;
    // a long refresh: the finish arrives through its notification, not through a periodic read
    let router = mageflow_web::router(client.clone(), WebOptions::new().refresh(std::time::Duration::from_secs(600)));
    let gate = Gate::new();
    let handle =
        client.run_no_wait(client.sign(resize), Job { gate: gate.name.clone(), n: 5, fail: false }).await.unwrap();
    let request = Request::get(format!("/api/flows/{}/events", handle.id())).header(header::HOST, HOST);
    let response = router.oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "text/event-stream");
    let mut body = response.into_body();
    let mut buffer = String::new();

    let (event, data) = next_event(&mut body, &mut buffer).await;
    assert_eq!(event, "tree");
    let first: Value = serde_json::from_str(&data).unwrap();
    assert_eq!(first["finished"], json!(false));
    let status = first["root"]["status"].as_str().unwrap().to_owned();
    assert!(status == "pending" || status == "active", "{status}");

    gate.open(1);
    let last = loop {
        let (event, data) = next_event(&mut body, &mut buffer).await;
        assert_eq!(event, "tree");
        let tree: Value = serde_json::from_str(&data).unwrap();
        if tree["finished"] == json!(true) {
            break tree;
        }
    };
    assert_eq!(last["root"]["status"], json!("done"));
    assert_eq!(last["root"]["result"], json!(50));
}

#[tokio::test]
async fn without_its_redis_the_api_answers_503_with_what_to_check() {
    let redis = RedisServer::start().await;
    let client = client(&redis).await;
    let router = mageflow_web::router(client, WebOptions::new());
    assert_eq!(get(&router, "/api/flows").await.0, StatusCode::OK);
    drop(redis);
    // the store gives up after its own request timeout (10 s), which bounds this wait
    let (status, body) = tokio::time::timeout(2 * WAIT, get(&router, "/api/flows")).await.expect("an answer");
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let message = body["error"].as_str().unwrap();
    assert!(message.starts_with("the store is unreachable ("), "{message}");
    assert!(message.ends_with("); check that Redis is running and REDIS_URL points at it"), "{message}");
}
