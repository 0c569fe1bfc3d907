//! The web view in a real browser: headless Chromium (Debian's `chromium` and `chromium-driver`) driven over
//! WebDriver, against the view served on a free port, with flows on a real `redis-server` this test starts and
//! tasks held at gates the test opens. Nothing sleeps: each step waits, with a timeout, until the page shows what
//! it should.

mod support;

use mageflow::{Node, Status};
use mageflow_web::WebOptions;
use serde_json::json;
use support::{Browser, Gate, Job, RedisServer, View, WAIT, alert, client, notify, prepare, publish, resize};

fn node(id: &impl std::fmt::Display) -> String {
    format!(".node[data-id=\"{id}\"]")
}

fn progress(id: &impl std::fmt::Display, succeeded: u64, failed: u64, running: u64) -> String {
    format!(
        ".node.swarm[data-id=\"{id}\"] > .progress[data-succeeded=\"{succeeded}\"][data-failed=\"{failed}\"][data-running=\"{running}\"]"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_swarms_progress_advances_on_screen() {
    let redis = RedisServer::start().await;
    let client = client(&redis).await;
    let view = View::start(client.clone(), WebOptions::new()).await;
    let browser = Browser::start().await;
    let gate = Gate::new();

    let items: Vec<Node> = (1..=3).map(|n| client.sign(resize).arg("n", n).into()).collect();
    let item_ids: Vec<String> = items.iter().map(|item| item.id().to_string()).collect();
    let swarm = client
        .run_no_wait(client.swarm(items).name("thumbnails").max_concurrency(2), json!({ "gate": gate.name, "n": 0 }))
        .await
        .unwrap();
    let id = swarm.id().to_string();
    browser.goto(&view.url(&format!("/flows/{id}"))).await;

    browser.wait_for(&progress(&id, 0, 0, 2), "two items holding a slot, none finished").await;
    let text = format!("{} > .progress .progress-text", node(&id));
    assert_eq!(browser.text(&text).await, "0/3 finished (0 done, 0 failed), 2 running, at most 2 at once");
    assert_eq!(browser.node_status(&item_ids[2]).await, "pending", "the third item waits for a slot");

    gate.open(1);
    browser.wait_for(&progress(&id, 1, 0, 2), "one item done, and the queued one started").await;
    assert_eq!(browser.text(&text).await, "1/3 finished (1 done, 0 failed), 2 running, at most 2 at once");

    gate.open(2);
    browser.wait_for(&format!("{}[data-status=\"done\"]", node(&id)), "the swarm done").await;
    browser.wait_for(&progress(&id, 3, 0, 0), "every item done").await;
    assert_eq!(browser.text(&text).await, "3/3 finished (3 done, 0 failed), 0 running, at most 2 at once");
    for (n, item) in item_ids.iter().enumerate() {
        assert_eq!(browser.node_status(item).await, "done");
        assert_eq!(browser.text(&format!("{} .result", node(item))).await, format!("→ {}", (n + 1) * 10));
    }
    assert_eq!(client.wait(swarm.id(), Some(WAIT)).await.unwrap().status, Status::Done);
    assert_eq!(browser.text("#flow-status").await, "done");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspend_asks_first_then_changes_the_stored_status_and_the_page_shows_it() {
    let redis = RedisServer::start().await;
    let client = client(&redis).await;
    let view = View::start(client.clone(), WebOptions::new()).await;
    let browser = Browser::start().await;
    let gate = Gate::new();

    let first = client.sign(resize).arg("n", 4);
    let first_id = first.id().to_string();
    let chain = client
        .run_no_wait(
            client.chain([Node::from(first), client.sign(publish).into()]).name("checkout"),
            json!({ "gate": gate.name, "n": 0 }),
        )
        .await
        .unwrap();
    let id = chain.id().to_string();
    browser.goto(&view.url(&format!("/flows/{id}"))).await;
    browser.wait_for(&format!("{}[data-status=\"active\"]", node(&first_id)), "the first step running").await;

    // the dialog asks; keeping the flow as it is changes nothing
    browser.click("#actions button[data-action=\"suspend\"]").await;
    browser.wait_for("dialog#confirm[open]", "the confirmation dialog").await;
    assert_eq!(browser.text("#confirm-title").await, "Suspend chain “checkout”?");
    assert_eq!(
        browser.text("#confirm-text").await,
        "Nothing new starts until it is resumed; tasks already running finish."
    );
    browser.click("#confirm-cancel").await;
    browser.wait_for("dialog#confirm:not([open])", "the dialog closed").await;
    assert_eq!(client.status(chain.id()).await.unwrap().status, Status::Active);

    // confirmed, the flow is suspended in the store, and the page says so
    browser.click("#actions button[data-action=\"suspend\"]").await;
    browser.wait_for("dialog#confirm[open]", "the confirmation dialog").await;
    browser.click("#confirm-ok").await;
    browser.wait_for("#flow-head[data-status=\"suspended\"]", "the flow shown suspended").await;
    assert_eq!(client.status(chain.id()).await.unwrap().status, Status::Suspended);
    assert_eq!(browser.text("#notice").await, "Suspend: checkout is now suspended.");
    let tree = client.tree(chain.id()).await.unwrap();
    for state in tree.nodes() {
        assert_eq!(
            browser.node_status(state.id.as_str()).await,
            state.status.as_str(),
            "node {} ({})",
            state.id,
            state.name
        );
    }
    assert!(!browser.is_enabled("#actions button[data-action=\"suspend\"]").await);
    assert!(browser.is_enabled("#actions button[data-action=\"resume\"]").await);

    // resumed from the page, it runs to its end
    browser.click("#actions button[data-action=\"resume\"]").await;
    browser.wait_for("dialog#confirm[open]", "the confirmation dialog").await;
    assert_eq!(browser.text("#confirm-title").await, "Resume chain “checkout”?");
    browser.click("#confirm-ok").await;
    browser.wait_for("#flow-head:not([data-status=\"suspended\"])", "the flow no longer suspended").await;
    // two permits: whether resume dispatches the suspended step again (its first run then reports too late) is the
    // engine's business; either way every run waiting at the gate may pass
    gate.open(2);
    browser.wait_for("#flow-head[data-status=\"done\"]", "the flow done").await;
    assert_eq!(client.wait(chain.id(), Some(WAIT)).await.unwrap().status, Status::Done);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_node_shows_its_error() {
    let redis = RedisServer::start().await;
    let client = client(&redis).await;
    let view = View::start(client.clone(), WebOptions::new()).await;
    let browser = Browser::start().await;
    let gate = Gate::new();

    // a chain with a swarm: one item fails (below the threshold), three are held at the gate, one waits for a slot
    let items: Vec<Node> = (1..=6)
        .map(|n| match n {
            2 => client.sign(resize).arg("n", n).arg("fail", true).into(),
            3.. => client.sign(resize).arg("n", n).arg("gate", gate.name.clone()).into(),
            _ => client.sign(resize).arg("n", n).into(),
        })
        .collect();
    let item_ids: Vec<String> = items.iter().map(|item| item.id().to_string()).collect();
    let swarm = client.swarm(items).name("thumbnails").max_concurrency(3).stop_after_failures(2);
    let swarm_id = swarm.id().to_string();
    let on_success = client.sign(notify);
    let on_error = client.sign(alert);
    let (notify_id, alert_id) = (on_success.id().to_string(), on_error.id().to_string());
    let chain = client
        .run_no_wait(
            client
                .chain([Node::from(client.sign(prepare)), swarm.into(), client.sign(publish).into()])
                .name("publish-album")
                .on_success(on_success)
                .on_error(on_error),
            json!({ "album": "summer" }),
        )
        .await
        .unwrap();
    let id = chain.id().to_string();
    browser.goto(&view.url(&format!("/flows/{id}"))).await;

    let failed = node(&item_ids[1]);
    browser.wait_for(&format!("{failed}[data-status=\"failed\"]"), "the failed item").await;
    assert_eq!(
        browser.text(&format!("{failed} .error-message")).await,
        "image 2 is corrupt: unexpected end of JPEG data"
    );
    assert_eq!(browser.text(&format!("{failed} .error-kind")).await, "error");
    browser.wait_for(&progress(&swarm_id, 1, 1, 3), "one item done, one failed, three running").await;
    for held in &item_ids[2..5] {
        browser.wait_for(&format!("{}[data-status=\"active\"]", node(held)), "a held item running").await;
    }
    assert_eq!(browser.node_status(&item_ids[5]).await, "pending");
    assert_eq!(browser.node_status(&id).await, "active", "one failure is below the swarm's threshold");

    // its details: the whole error, with its kind and attempt
    browser.click(&failed).await;
    browser.wait_for(&format!("{failed}.selected"), "the failed item selected").await;
    assert_eq!(browser.text("#details .detail-error h3").await, "Error (error, attempt 1)");
    assert_eq!(
        browser.text("#details .detail-error .error-message").await,
        "image 2 is corrupt: unexpected end of JPEG data"
    );
    screenshot(&browser).await;

    // the rest finishes: the swarm is done with its failure counted, the flow done, its success callback run
    gate.open(4);
    browser.wait_for("#flow-head[data-status=\"done\"]", "the flow done").await;
    browser.wait_for(&format!("{}[data-status=\"done\"]", node(&notify_id)), "the success callback done").await;
    browser.wait_for(&format!("{}[data-status=\"canceled\"]", node(&alert_id)), "the error callback skipped").await;
    assert_eq!(
        browser.text(&format!("{} > .progress .progress-text", node(&swarm_id))).await,
        "6/6 finished (5 done, 1 failed), 0 running, at most 3 at once"
    );
    assert_eq!(
        browser.text(&format!("{failed} .error-message")).await,
        "image 2 is corrupt: unexpected end of JPEG data"
    );
    assert_eq!(client.wait(chain.id(), Some(WAIT)).await.unwrap().status, Status::Done);

    // a flow that fails as a whole shows its own error at its root
    let lone = client.run_no_wait(client.sign(resize), Job { gate: String::new(), n: 7, fail: true }).await.unwrap();
    assert_eq!(client.wait(lone.id(), Some(WAIT)).await.unwrap().status, Status::Failed);
    browser.goto(&view.url(&format!("/flows/{}", lone.id()))).await;
    let root = node(lone.id());
    browser.wait_for(&format!("{root}[data-status=\"failed\"]"), "the failed flow").await;
    assert_eq!(
        browser.text(&format!("{root} .error-message")).await,
        "image 7 is corrupt: unexpected end of JPEG data"
    );
    assert_eq!(browser.text("#flow-status").await, "failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_flow_list_filters_by_status_and_pages() {
    let redis = RedisServer::start().await;
    let client = client(&redis).await;
    let view = View::start(client.clone(), WebOptions::new()).await;
    let browser = Browser::start().await;

    let mut ids = Vec::new();
    for n in 1..=3u64 {
        let handle =
            client.run_no_wait(client.sign(resize), Job { gate: String::new(), n, fail: n == 2 }).await.unwrap();
        client.wait(handle.id(), Some(WAIT)).await.unwrap();
        ids.push(handle.id().to_string());
    }

    browser.goto(&view.url("/")).await;
    for (id, status) in ids.iter().zip(["done", "failed", "done"]) {
        browser.wait_for(&format!("#flow-rows tr[data-id=\"{id}\"][data-status=\"{status}\"]"), "a flow's row").await;
    }
    assert_eq!(browser.ids("#flow-rows tr").await, [ids[2].clone(), ids[1].clone(), ids[0].clone()], "newest first");

    // filtered by status, through the form
    browser.click("#filters input[name=\"status\"][value=\"failed\"]").await;
    browser.click("#apply-filters").await;
    let only_failed = format!("#flow-rows tr[data-id=\"{}\"]:only-child", ids[1]);
    browser.wait_for(&only_failed, "the failed flow alone in the list").await;
    assert!(
        browser.client.current_url().await.unwrap().as_str().ends_with("/?status=failed&name=&younger_than=&limit=")
    );
    assert_eq!(browser.ids("#flow-rows tr").await, [ids[1].clone()]);

    // two per page, newest first
    browser.goto(&view.url("/?limit=2")).await;
    browser.wait_for("#next-page", "the link to the next page").await;
    assert_eq!(browser.ids("#flow-rows tr").await, [ids[2].clone(), ids[1].clone()]);
    browser.click("#next-page").await;
    browser.wait_for("#first-page", "the link to the first page").await;
    browser.wait_for(&format!("#flow-rows tr[data-id=\"{}\"]", ids[0]), "the oldest flow").await;
    assert_eq!(browser.ids("#flow-rows tr").await, [ids[0].clone()]);

    // a row leads to its flow
    browser.click(&format!("#flow-rows tr[data-id=\"{}\"] a", ids[0])).await;
    browser.wait_for(&format!("{}[data-status=\"done\"]", node(&ids[0])), "the flow's page").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_token_the_dialog_asks_for_it_and_read_only_shows_no_buttons() {
    let redis = RedisServer::start().await;
    let client = client(&redis).await;
    let view = View::start(client.clone(), WebOptions::new().token("s3cret")).await;
    let browser = Browser::start().await;
    let gate = Gate::new();
    let handle =
        client.run_no_wait(client.sign(resize), Job { gate: gate.name.clone(), n: 1, fail: false }).await.unwrap();
    gate.reached(1).await;
    let id = handle.id().to_string();

    browser.goto(&view.url(&format!("/flows/{id}"))).await;
    browser.wait_for(&format!("{}[data-status=\"active\"]", node(&id)), "the running task").await;
    browser.click("#actions button[data-action=\"cancel\"]").await;
    browser
        .wait_for("dialog#confirm[open] #confirm-token-label:not([hidden])", "the dialog asking for the token")
        .await;
    browser.find("#confirm-token").await.send_keys("wrong").await.unwrap();
    browser.click("#confirm-ok").await;
    browser.wait_for("#notice.error:not([hidden])", "the refusal").await;
    assert_eq!(browser.text("#notice").await, "Cancel failed: the token is wrong: use the web view's token");
    assert_eq!(client.status(handle.id()).await.unwrap().status, Status::Active);

    browser.click("#actions button[data-action=\"cancel\"]").await;
    browser.wait_for("dialog#confirm[open]", "the dialog").await;
    let token = browser.find("#confirm-token").await;
    token.clear().await.unwrap();
    token.send_keys("s3cret").await.unwrap();
    browser.click("#confirm-ok").await;
    browser.wait_for("#flow-head[data-status=\"canceled\"]", "the flow shown canceled").await;
    assert_eq!(client.status(handle.id()).await.unwrap().status, Status::Canceled);
    assert_eq!(browser.count("#actions button").await, 4);
    assert_eq!(browser.count("#actions button:not([disabled])").await, 0, "no action is left for a canceled flow");

    // the same flow in a read-only view: no buttons, and a badge that says why
    let read_only = View::start(client.clone(), WebOptions::new().read_only(true)).await;
    browser.goto(&read_only.url(&format!("/flows/{id}"))).await;
    browser.wait_for(&format!("{}[data-status=\"canceled\"]", node(&id)), "the flow").await;
    assert_eq!(browser.text("#mode").await, "read-only");
    assert_eq!(browser.count("#actions button, #details button").await, 0);
}

/// Saves the page to `docs/web-view.png` when it differs meaningfully from the one there (more than 2% of its
/// pixels, or another size): ids, times and the pulse of running tasks differ on every run.
async fn screenshot(browser: &Browser) {
    browser.client.execute("document.documentElement.classList.add('still')", vec![]).await.unwrap();
    let png = browser.client.screenshot().await.unwrap();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/web-view.png");
    let decode = |bytes: &[u8]| {
        let mut reader = png::Decoder::new(std::io::Cursor::new(bytes.to_vec())).read_info().ok()?;
        let mut pixels = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut pixels).ok()?;
        pixels.truncate(info.buffer_size());
        Some((info.width, info.height, info.color_type, pixels))
    };
    let new = decode(&png).expect("Chromium's screenshot is a PNG");
    let differs = match std::fs::read(&path).ok().as_deref().and_then(decode) {
        Some(old) if (old.0, old.1, old.2) == (new.0, new.1, new.2) => {
            let channels = new.2.samples();
            let changed = old.3.chunks(channels).zip(new.3.chunks(channels)).filter(|(a, b)| a != b).count();
            changed * 50 > (new.0 * new.1) as usize
        }
        _ => true,
    };
    if differs {
        std::fs::write(&path, &png).unwrap_or_else(|error| panic!("cannot write {}: {error}", path.display()));
    }
    browser.client.execute("document.documentElement.classList.remove('still')", vec![]).await.unwrap();
}
