//! `mageflow mcp` driven by an independent client: the official MCP Python SDK (`mcp` on PyPI, pinned in
//! `scripts/mcp-client-venv.sh`) starts the server over stdio, lists its tools and calls each one, with good and bad
//! arguments (`tests/mcp_client.py`). A worker client in this test process runs what the client started.
//!
//! The SDK lives in a virtual environment made by `mageflow-cli/scripts/mcp-client-venv.sh` (CI: `.ci/run`);
//! `MCP_CLIENT_VENV` overrides its place. Without it this test fails and says how to make it.

mod support;

use std::path::{Path, PathBuf};
use std::process::Stdio;

use mageflow::{SignatureId, Status};
use serde_json::{Value, json};

use support::{Hold, RedisServer, WAIT, gate, prefix, worker};

/// The venv's Python, or a failure that says how to install it.
fn python() -> PathBuf {
    let venv = std::env::var_os("MCP_CLIENT_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/mcp-client-venv"));
    let python = venv.join("bin/python");
    assert!(
        python.exists(),
        "the MCP Python SDK is not installed at {}: run `bash mageflow-cli/scripts/mcp-client-venv.sh` (CI does it in \
         .ci/run), or point MCP_CLIENT_VENV at a venv holding mcp==2.3.0",
        venv.display()
    );
    python
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mcp_client_lists_the_tools_and_calls_each_one() {
    let python = python();
    let redis = RedisServer::start();
    let prefix = prefix("mcp");
    let client = worker(&redis.url, &prefix).await;
    let gate_name = format!("{prefix}-gate");
    let flow = client.chain([client.sign_name("hold"), client.sign_name("double")]);
    let id = client.run_no_wait(flow, json!(Hold { gate: gate_name.clone(), n: 1 })).await.unwrap().id().clone();
    gate(&gate_name).started().await;

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mcp_client.py");
    let run = tokio::process::Command::new(&python)
        .arg(&script)
        .args([env!("CARGO_BIN_EXE_mageflow"), &redis.url, &prefix, id.as_str()])
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(WAIT * 2, run).await.expect("the MCP client finishes").unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the MCP client failed: {stderr}");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    gate(&gate_name).open();

    assert_eq!(report["server"], "mageflow");
    let tools = report["tools"].as_object().unwrap();
    let names: Vec<&str> = tools.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "cancel_flow",
            "interrupt_flow",
            "list_flows",
            "list_tasks",
            "resume_flow",
            "show_flow",
            "start_flow",
            "suspend_flow"
        ]
    );
    for (name, schema) in tools {
        assert_eq!((name, &schema["type"], &schema["additionalProperties"]), (name, &json!("object"), &json!(false)));
    }
    for name in ["show_flow", "suspend_flow", "resume_flow", "interrupt_flow", "cancel_flow"] {
        assert_eq!(tools[name]["required"], json!(["id"]), "{name}");
        assert_eq!(tools[name]["properties"]["id"]["type"], "string", "{name}");
    }
    assert_eq!(tools["start_flow"]["required"], json!(["flow"]));
    assert_eq!(tools["list_flows"]["properties"]["status"]["type"], "array");

    let calls = &report["calls"];
    let ok = |name: &str| -> &Value {
        assert_eq!(calls[name]["is_error"], false, "{name}: {}", calls[name]);
        &calls[name]["structured"]
    };
    let tasks: Vec<&str> =
        ok("list_tasks")["tasks"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(tasks, ["broken", "double", "hold"]);
    assert_eq!(ok("list_tasks")["tasks"][1]["retries"], 2);
    let shown = &ok("show_flow")["flow"];
    assert_eq!((&shown["id"], &shown["kind"], &shown["status"]), (&json!(id), &json!("chain"), &json!("active")));
    assert_eq!(shown["children"].as_array().unwrap().len(), 2);
    assert_eq!(ok("suspend_flow"), &json!({"id": id, "action": "suspend", "status": "suspended"}));
    assert_eq!(ok("resume_flow"), &json!({"id": id, "action": "resume", "status": "active"}));
    assert_eq!(ok("interrupt_flow"), &json!({"id": id, "action": "interrupt", "status": "interrupted"}));
    assert_eq!(ok("cancel_flow"), &json!({"id": id, "action": "cancel", "status": "canceled"}));
    assert_eq!(client.status(&id).await.unwrap().status, Status::Canceled);
    let started = SignatureId::parse(ok("start_flow")["id"].as_str().unwrap()).unwrap();
    let state = client.wait(&started, Some(WAIT)).await.unwrap();
    assert_eq!((state.status, state.result), (Status::Done, Some(json!({"n": 4}))));
    // newest first: the flow `start_flow` started, then the one canceled above (the list came before the wait)
    let flows = ok("list_flows")["flows"].as_array().unwrap().clone();
    let listed: Vec<&str> = flows.iter().map(|flow| flow["id"].as_str().unwrap()).collect();
    assert_eq!(listed, [started.as_str(), id.as_str()]);
    assert_eq!(flows[1]["status"], "canceled");
    assert_eq!(ok("list_failed_flows")["flows"], json!([]));

    let bad = &report["bad"];
    let refused = |name: &str, text: &str| {
        assert_eq!(bad[name], json!({"is_error": true, "structured": null, "text": [text]}), "{name}");
    };
    refused("show_flow_without_id", "bad arguments for `show_flow`: missing field `id`; see the tool's input schema");
    refused(
        "show_flow_with_a_number",
        "bad arguments for `show_flow`: invalid type: integer `3`, expected a string; see the tool's input schema",
    );
    refused("show_flow_with_a_bad_id", "`not an id` is not a signature id (1 to 64 letters, digits, `-` or `_`)");
    refused(
        "show_flow_unknown",
        &format!(
            "no flow nosuchflow under the key prefix `{prefix}`: it was never created here, or it expired after its TTL"
        ),
    );
    refused("start_flow_empty_chain", "invalid flow: at `flow.chain`: the chain's steps cannot be empty");
    refused(
        "start_flow_unknown_task",
        &format!(
            "unknown task `nosuchtask` under the key prefix `{prefix}` (known tasks: broken, double, hold); a worker \
             publishes its tasks when it starts"
        ),
    );
    refused(
        "start_flow_bad_input",
        "the input for task `double` does not fit its schema: at `/n`: \"x\" is not of type \"integer\"",
    );
    refused(
        "list_tasks_extra",
        "bad arguments for `list_tasks`: unknown field `verbose`, there are no fields; see the tool's input schema",
    );
    refused(
        "list_flows_bad_status",
        "bad arguments for `list_flows`: unknown variant `sleeping`, expected one of `pending`, `active`, `done`, \
         `failed`, `suspended`, `interrupted`, `canceled`; see the tool's input schema",
    );
    assert_eq!(
        bad["unknown_tool"],
        json!({"code": -32602, "message": "unknown tool `no_such_tool`; the tools are list_tasks, show_flow, \
               suspend_flow, interrupt_flow, resume_flow, cancel_flow, start_flow, list_flows"})
    );
}
