//! Connections to Redis that keep their promises: TLS that is real (and refused when it cannot be), passwords that
//! appear in no error and no log, a least-privilege ACL user, and errors that say whether credentials or permissions
//! failed. Every test starts its own `redis-server` with certificates it generates.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use mageflow::store::{RedisStoreConfig, RedisTls, SentinelAuth, StoreError};
use mageflow::{Error, Mageflow, Node, RedisStore, TaskError, task};
use serde_json::{Value, json};

use support::cluster::{RedisCluster, RedisProcess, free_port, temp_dir};
use support::tls::{Certs, tls_redis};
use support::{RedisServer, WAIT};

/// Appends its text to the input.
#[task]
async fn shout(text: String) -> Result<String, TaskError> {
    Ok(format!("{text}!"))
}

/// A chain of two tasks on this client, checked end to end.
async fn run_flow(client: &Mageflow) {
    let chain = client.chain(vec![Node::from(client.sign(shout)), client.sign(shout).into()]);
    let out: Value = tokio::time::timeout(WAIT, client.run(chain, json!("tls"))).await.expect("in time").unwrap();
    assert_eq!(out, json!("tls!!"));
}

fn store_error(error: Error) -> StoreError {
    match error {
        Error::Store(error) => error,
        other => panic!("expected a store error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flow_runs_over_tls_with_a_custom_ca() {
    let certs = Certs::generate("tls-ca");
    let server = tls_redis(&certs, false);
    let url = format!("rediss://127.0.0.1:{}", server.port);
    let config = RedisStoreConfig::new(&url).tls(RedisTls::default().ca_file(certs.path("ca.pem")));
    let client = Mageflow::builder().redis(config).key_prefix("tls").task(shout).build().await.unwrap();
    let chain = client.chain(vec![Node::from(client.sign(shout)), client.sign(shout).into()]);
    let chain_id = chain.id().to_string();
    let out: Value = tokio::time::timeout(WAIT, client.run(chain, json!("tls"))).await.expect("in time").unwrap();
    assert_eq!(out, json!("tls!!"));
    // the state is in the TLS server: the keys are there
    let store = RedisStore::connect_with(
        RedisStoreConfig::new(&url).tls(RedisTls::default().ca_pem(std::fs::read(certs.path("ca.pem")).unwrap())),
    )
    .await
    .unwrap();
    let keys = mageflow::Store::scan(&store, "tls:").await.unwrap();
    let group = keys.iter().find(|info| info.key.contains(":g:")).expect("a group of signatures");
    let fields = support::read_hash(&store, &group.key).await;
    assert!(fields.contains_key(&format!("{chain_id}|h")), "the chain is in the TLS server: {fields:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_signed_by_another_ca_is_refused() {
    let certs = Certs::generate("tls-server");
    let other = Certs::generate("tls-other");
    let server = tls_redis(&certs, false);
    let url = format!("rediss://127.0.0.1:{}", server.port);
    let error =
        RedisStore::connect_with(RedisStoreConfig::new(&url).tls(RedisTls::default().ca_file(other.path("ca.pem"))))
            .await
            .unwrap_err();
    let StoreError::Tls { detail: message, .. } = &error else { panic!("expected a TLS error, got {error:?}") };
    assert!(message.contains("is not trusted") && message.contains("UnknownIssuer"), "{message}");
    assert!(!error.to_string().contains('\n'), "one line: {error}");
    // the system roots do not know the test's CA either
    let error = RedisStore::connect(&url).await.unwrap_err();
    assert!(matches!(&error, StoreError::Tls { detail: message, .. } if message.contains("is not trusted")), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rediss_to_a_plaintext_server_is_refused() {
    let server = RedisServer::start();
    let plain = server.url.clone();
    let url = plain.replacen("redis://", "rediss://", 1);
    let certs = Certs::generate("tls-plain");
    let error =
        RedisStore::connect_with(RedisStoreConfig::new(&url).tls(RedisTls::default().ca_file(certs.path("ca.pem"))))
            .await
            .unwrap_err();
    let StoreError::Tls { detail: message, .. } = &error else { panic!("expected a TLS error, got {error:?}") };
    assert!(message.contains("no TLS handshake"), "{message}");
    // and the same server over redis:// works: nothing else was wrong
    RedisStore::connect(&plain).await.unwrap();
}

/// Every log line of this test binary, from `tracing` and from the `log` crate (which `fred` uses), at every level.
fn captured_logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = logs.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || LogWriter(sink.clone()))
            .try_init()
            .expect("the only subscriber of this binary");
        logs
    })
    .clone()
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl Write for LogWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

const SECRET: &str = "Sekr1t-Pa55w0rd";

/// Checks that `error` says `expected` on one line and never shows the secret (in `Display` nor `Debug`).
fn assert_hidden(error: &StoreError, expected: &str) {
    let (shown, debug) = (error.to_string(), format!("{error:?}"));
    assert!(!shown.contains(SECRET) && !debug.contains(SECRET), "the secret leaked: {shown} / {debug}");
    assert!(shown.contains(expected), "`{expected}` not in: {shown}");
    assert!(!shown.contains('\n'), "one line: {shown}");
}

fn write_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwords_appear_in_no_error_and_no_log() {
    let logs = captured_logs();
    let dir = temp_dir("secrets");
    let port = free_port();
    let conf = write_file(
        &dir,
        "redis.conf",
        &format!(
            "port {port}\nbind 127.0.0.1\nsave \"\"\nappendonly no\nuser default off\n\
             user app on >{SECRET} ~* &* +@all\nuser limited on >{SECRET} ~other:* &* +@all\n"
        ),
    );
    let _server = RedisProcess::start(port, &dir, &[conf.to_str().unwrap()]);

    // nothing listens there
    let closed = free_port();
    let url = format!("redis://app:{SECRET}@127.0.0.1:{closed}");
    let config = RedisStoreConfig::new(&url);
    assert!(!format!("{config:?}").contains(SECRET), "{config:?}");
    assert_eq!(config.redacted_url(), format!("redis://app:***@127.0.0.1:{closed}"));
    let error = RedisStore::connect(&url).await.unwrap_err();
    assert_hidden(&error, "cannot connect to Redis at redis://app:***@127.0.0.1");
    // through the client builder, the same
    let error = store_error(Mageflow::builder().redis(RedisStoreConfig::new(&url)).build().await.unwrap_err());
    assert_hidden(&error, "redis://app:***@");

    // a cluster or sentinels that do not answer
    let url = format!("redis-cluster://app:{SECRET}@127.0.0.1:{closed}");
    let error = RedisStore::connect(&url).await.unwrap_err();
    assert_hidden(&error, &format!("cannot connect to Redis at redis-cluster://app:***@127.0.0.1:{closed}"));
    let url = format!("redis+sentinel://app:{SECRET}@127.0.0.1:{closed}/mymaster");
    let config = RedisStoreConfig::new(&url)
        .sentinel_auth(SentinelAuth::Password { username: None, password: SECRET.to_owned() });
    assert!(!format!("{config:?}").contains(SECRET), "{config:?}");
    let error = RedisStore::connect_with(config).await.unwrap_err();
    assert_hidden(&error, &format!("redis+sentinel://app:***@127.0.0.1:{closed}/mymaster"));

    // a URL that does not parse
    for bad in [format!("redis://app:{SECRET}@127.0.0.1:notaport"), format!("redis://app:{SECRET}@a,b:1")] {
        let error = RedisStore::connect(&bad).await.unwrap_err();
        assert_hidden(&error, "is not a Redis URL");
    }
    // a bare password (`redis://password@host`) is hidden too
    let error = RedisStore::connect(&format!("redis://{SECRET}@127.0.0.1:{closed}")).await.unwrap_err();
    assert_hidden(&error, "redis://:***@127.0.0.1");

    // the right user with a wrong password, and a wrong user with the password
    let error = RedisStore::connect(&format!("redis://app:{SECRET}x@127.0.0.1:{port}")).await.unwrap_err();
    assert!(matches!(error, StoreError::Authentication { .. }), "{error:?}");
    assert_hidden(&error, "Redis refused the credentials: the user `app` or its password is wrong");
    let error = RedisStore::connect(&format!("redis://nobody:{SECRET}@127.0.0.1:{port}")).await.unwrap_err();
    assert_hidden(&error, "the user `nobody` or its password is wrong");
    // no password where one is needed
    let error = RedisStore::connect(&format!("redis://127.0.0.1:{port}")).await.unwrap_err();
    assert!(matches!(error, StoreError::Authentication { .. }), "{error:?}");
    assert_hidden(&error, "Redis requires a password");

    // a user that may not touch mageflow's keys: the first transition says so
    let url = format!("redis://limited:{SECRET}@127.0.0.1:{port}");
    let error = Mageflow::builder().redis(RedisStoreConfig::new(&url)).task(shout).build().await.unwrap_err();
    let error = store_error(error);
    assert!(matches!(error, StoreError::PermissionDenied { .. }), "{error:?}");
    assert_hidden(&error, "the Redis user lacks a permission mageflow needs (user `limited`: NOPERM");

    // TLS errors with a password in the URL
    let certs = Certs::generate("secrets-tls");
    let tls_server = tls_redis(&certs, false);
    let url = format!("rediss://app:{SECRET}@127.0.0.1:{}", tls_server.port);
    let error = RedisStore::connect(&url).await.unwrap_err();
    assert_hidden(&error, "is not trusted");
    let error = RedisStore::connect(&format!("rediss://app:{SECRET}@127.0.0.1:{port}")).await.unwrap_err();
    assert_hidden(&error, "no TLS handshake");

    // and a working connection logs its URL without the password
    let url = format!("redis://app:{SECRET}@127.0.0.1:{port}");
    let client =
        Mageflow::builder().redis(RedisStoreConfig::new(&url)).key_prefix("secrets").task(shout).build().await.unwrap();
    run_flow(&client).await;

    let logs = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    assert!(logs.contains(&format!("connected to Redis url=redis://app:***@127.0.0.1:{port}")), "{logs}");
    assert!(!logs.contains(SECRET), "the secret is in the logs:\n{logs}");
}

/// What the cluster test runs: records ARGV[1] in a hash and a list under one hash tag, and announces it.
const RECORD: &str = "redis.call('HSET', KEYS[1], 'value', ARGV[1]) \
                      redis.call('RPUSH', KEYS[2], ARGV[1]) \
                      redis.call('PUBLISH', ARGV[2], ARGV[1]) \
                      return redis.call('LLEN', KEYS[2])";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_on_a_three_primary_cluster() {
    let mut cluster = RedisCluster::start();
    // the nodes as a list, as the builder takes them (the URL form is the TLS test's)
    let nodes: Vec<String> = cluster.nodes.iter().map(|node| format!("127.0.0.1:{}", node.port)).collect();
    let store = RedisStore::connect_with(RedisStoreConfig::cluster(&nodes)).await.unwrap();
    cluster_scenario(&mut cluster, &store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_url_to_one_cluster_node_connects_to_the_cluster() {
    let cluster = RedisCluster::start();
    let url = format!("redis://127.0.0.1:{}", cluster.nodes[0].port);
    let client = Mageflow::builder().redis_url(&url).key_prefix("plain").task(shout).build().await.unwrap();
    // flows made apart land in groups on every node; each runs
    let mut ports = std::collections::BTreeSet::new();
    for n in 0..12 {
        let flow = client.chain(vec![Node::from(client.sign(shout)), client.sign(shout).into()]);
        let group = flow.id().as_str()[..10].to_owned();
        let out: Value =
            tokio::time::timeout(WAIT, client.run(flow, json!(format!("n{n}")))).await.expect("in time").unwrap();
        assert_eq!(out, json!(format!("n{n}!!")));
        let keys = mageflow::Store::scan(client.store().as_ref(), "plain:").await.unwrap();
        let stored = keys.iter().find(|info| info.key.ends_with(&format!(":g:{group}"))).expect("the flow's group");
        ports.insert(cluster.node_of(&stored.key));
        // the next flow takes a new group
        std::thread::sleep(std::time::Duration::from_millis(110));
    }
    assert!(ports.len() > 1, "12 groups spread over more than one primary: {ports:?}");
    let error = RedisStore::connect(&format!("{url}/3")).await.unwrap_err();
    assert!(
        matches!(&error, StoreError::Config { detail: message, .. } if message.contains("only database 0")),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_on_a_cluster_over_tls() {
    let certs = Certs::generate("cluster-tls");
    let mut cluster =
        RedisCluster::start_tls(&certs.path("server.pem"), &certs.path("server.key"), &certs.path("ca.pem"));
    assert!(cluster.url().starts_with("rediss-cluster://"));
    let config = RedisStoreConfig::new(cluster.url()).tls(RedisTls::default().ca_file(certs.path("ca.pem")));
    let store = RedisStore::connect_with(config).await.unwrap();
    cluster_scenario(&mut cluster, &store).await;
    // the same nodes without the test's CA: refused, never plaintext
    let error = RedisStore::connect(&cluster.url()).await.unwrap_err();
    assert!(matches!(&error, StoreError::Tls { detail: message, .. } if message.contains("is not trusted")), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_after_a_cluster_failover_reaches_the_new_primary() {
    use mageflow::Store;
    use mageflow::store::{Reply, Script};
    let cluster = RedisCluster::start_with_replicas(1);
    let store = RedisStore::connect(&cluster.url()).await.unwrap();
    let script = Script::new(RECORD);
    let tag = "fo:{t0}";
    let keys = || vec![format!("{tag}:hash"), format!("{tag}:list")];
    let channel = format!("{tag}:done");
    assert_eq!(store.eval(&script, keys(), vec!["v1".into(), channel.clone()]).await.unwrap(), Reply::Int(1));
    let primary = cluster.node_of(tag);
    let replica = cluster.replica_of(primary);
    cluster.fail_over_to(replica);
    assert_eq!(cluster.node_of(tag), replica, "the replica serves the tag's slot now");
    // the promoted replica never ran EVALSHA for this script: the call goes there (MOVED), gets NOSCRIPT, is sent
    // as EVAL, and applies once on the data the replica kept
    let notified = store.notified(&channel).await.unwrap();
    let reply =
        tokio::time::timeout(WAIT, store.eval(&script, keys(), vec!["v2".into(), channel])).await.expect("in time");
    assert_eq!(reply.unwrap(), Reply::Int(2));
    tokio::time::timeout(WAIT, notified).await.expect("notified after the failover");
    assert_eq!(support::read_list(&store, &format!("{tag}:list")).await, vec!["v1", "v2"]);
    let exists = cluster.cli(cluster.index_of(replica), &["script", "exists", script.sha1()]);
    assert_eq!(exists.trim(), "1", "the new primary has the script");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_definitions_are_published_and_listed_on_a_cluster() {
    let cluster = RedisCluster::start();
    let client = Mageflow::builder().redis_url(cluster.url()).key_prefix("cldef").task(shout).build().await.unwrap();
    let definitions = client.task_definitions().await.unwrap();
    let listed: Vec<(&str, &Value, u32)> =
        definitions.iter().map(|d| (d.name.as_str(), &d.input_schema, d.retries)).collect();
    let schema = serde_json::to_value(schemars::schema_for!(String)).unwrap();
    assert_eq!(listed, [("shout", &schema, 0)]);
    let reader = Mageflow::builder().redis_url(cluster.url()).key_prefix("cldef").build().await.unwrap();
    assert_eq!(reader.task_definitions().await.unwrap(), definitions, "any client reads them");
    // a client that registers no task signs it by name, checked against the published definition
    let error = reader.run(reader.sign_name("shout"), json!(42)).await.unwrap_err();
    assert!(matches!(error, mageflow::Error::InvalidInput { .. }), "{error}");
}

/// Scripts routed by their keys to each primary, NOSCRIPT answered, reads, scans and notifications on a cluster.
async fn cluster_scenario(cluster: &mut RedisCluster, store: &RedisStore) {
    use mageflow::Store;
    use mageflow::store::{Reply, Script};
    // one hash tag served by each primary
    let mut tags: Vec<(String, u16)> = Vec::new();
    for n in 0.. {
        let tag = format!("cl:{{t{n}}}");
        let node = cluster.node_of(&tag);
        if !tags.iter().any(|(_, seen)| *seen == node) {
            tags.push((tag, node));
        }
        if tags.len() == 3 {
            break;
        }
    }
    let script = Script::new(RECORD);
    for round in 1..=2 {
        for (tag, _) in &tags {
            let channel = format!("{tag}:done");
            let notified = store.notified(&channel).await.unwrap();
            let keys = vec![format!("{tag}:hash"), format!("{tag}:list")];
            let reply = store.eval(&script, keys, vec![format!("v{round}"), channel]).await.unwrap();
            assert_eq!(reply, Reply::Int(round));
            // the script's PUBLISH on the tag's node reaches the subscriber, wherever it subscribed
            tokio::time::timeout(WAIT, notified).await.expect("notified from every primary");
        }
        if round == 1 {
            // every node forgets the script (as after a restart or a failover): the next calls must not be lost
            for index in 0..cluster.nodes.len() {
                cluster.cli(index, &["script", "flush"]);
            }
        }
    }
    for (tag, node) in &tags {
        let hash = support::read_hash(store, &format!("{tag}:hash")).await;
        assert_eq!(hash.get("value").map(String::as_str), Some("v2"));
        assert_eq!(support::read_list(store, &format!("{tag}:list")).await, vec!["v1", "v2"]);
        // the script was loaded again where it ran
        let exists = cluster.cli(cluster.index_of(*node), &["script", "exists", script.sha1()]);
        assert_eq!(exists.trim(), "1", "node {node} has the script again");
    }
    // a primary restarts (its memory and script cache are gone, its slots stay): the next call on its keys reaches
    // it again, with the script
    let (tag, node) = tags[0].clone();
    let index = cluster.index_of(node);
    cluster.nodes[index].restart();
    cluster.wait_until_settled();
    let channel = format!("{tag}:done");
    let keys = vec![format!("{tag}:hash"), format!("{tag}:list")];
    let reply =
        tokio::time::timeout(WAIT, store.eval(&script, keys, vec!["v3".into(), channel])).await.expect("in time");
    assert_eq!(reply.unwrap(), Reply::Int(1), "the restarted node lost its list; the call was not lost");
    assert_eq!(support::read_list(store, &format!("{tag}:list")).await, vec!["v3"]);

    // preloading puts the script on every primary
    for index in 0..cluster.nodes.len() {
        cluster.cli(index, &["script", "flush"]);
    }
    store.preload(&script).await.unwrap();
    for index in 0..cluster.nodes.len() {
        let exists = cluster.cli(index, &["script", "exists", script.sha1()]);
        assert_eq!(exists.trim(), "1", "node {} has the script", cluster.nodes[index].port);
    }
    // the scan sees the keys of every primary
    let mut found: Vec<String> = store.scan("cl:").await.unwrap().into_iter().map(|info| info.key).collect();
    found.sort();
    let mut expected: Vec<String> =
        tags.iter().flat_map(|(tag, _)| [format!("{tag}:hash"), format!("{tag}:list")]).collect();
    expected.sort();
    assert_eq!(found, expected);
}

/// The ACL rule of the README's "Least privilege" section, for a user with this password, split into the arguments
/// of `ACL SETUSER`, without the commands in `drop`.
fn readme_acl_rule(password: &str, drop: &[&str]) -> Vec<String> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let line = readme.lines().find(|line| line.starts_with("ACL SETUSER mageflow ")).expect("the README's ACL rule");
    line.split_whitespace()
        .filter(|word| !drop.contains(word))
        .map(|word| if word == ">CHANGE-ME" { format!(">{password}") } else { word.to_owned() })
        .collect()
}

/// A server whose `default` user is the administrator (password `admin-pw`) and whose user `mageflow` has exactly
/// the README's rule (without `drop`).
fn acl_server(drop: &[&str]) -> (RedisProcess, support::cluster::TempDir) {
    let dir = temp_dir("acl");
    let port = free_port();
    let port_text = port.to_string();
    let server = RedisProcess::start(
        port,
        &dir,
        &["--port", &port_text, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--requirepass", "admin-pw"],
    );
    let rule = readme_acl_rule("flow-pw", drop);
    let mut args = vec!["-p", &port_text, "--no-auth-warning", "-a", "admin-pw"];
    args.extend(rule.iter().map(String::as_str));
    assert_eq!(support::cluster::redis_cli(&args).trim(), "OK", "{rule:?}");
    (server, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flows_run_as_a_user_with_only_the_readme_acl_rule() {
    let (server, _dir) = acl_server(&[]);
    let url = format!("redis://mageflow:flow-pw@127.0.0.1:{}", server.port);
    let client = Mageflow::builder().redis_url(&url).task(shout).build().await.unwrap();
    let chain = client.chain(vec![
        Node::from(client.sign(shout)),
        client.swarm(vec![Node::from(client.sign(shout)), client.sign(shout).into()]).into(),
    ]);
    let chain_id = chain.id().clone();
    let out: Value = tokio::time::timeout(WAIT, client.run(chain, json!("acl"))).await.expect("in time").unwrap();
    assert_eq!(out, json!([{"ok": "acl!!"}, {"ok": "acl!!"}]));
    assert_eq!(client.status(&chain_id).await.unwrap().status, mageflow::Status::Done);
    client.recover(std::time::Duration::ZERO).await.unwrap();
    // Redis refused nothing along the way
    let port = server.port.to_string();
    let denied = support::cluster::redis_cli(&["-p", &port, "--no-auth-warning", "-a", "admin-pw", "acl", "log"]);
    assert_eq!(denied.trim(), "", "refused commands: {denied}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_permission_or_a_wrong_password_says_which() {
    let (server, _dir) = acl_server(&["+zadd"]);
    let url = format!("redis://mageflow:flow-pw@127.0.0.1:{}", server.port);
    let client = Mageflow::builder().redis_url(&url).task(shout).build().await.unwrap();
    let error =
        tokio::time::timeout(WAIT, client.run(client.sign(shout), "x".to_owned())).await.expect("in time").unwrap_err();
    let error = store_error(error);
    assert!(matches!(error, StoreError::PermissionDenied { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("user `mageflow`") && message.contains("call('ZADD'"), "{message}");
    assert!(!message.contains('\n'), "one line: {message}");
    let cause = std::error::Error::source(&error).expect("Redis's refusal is kept as the source");
    assert!(cause.to_string().contains("can't run this command"), "{cause}");
    assert!(cause.downcast_ref::<fred::error::Error>().is_some(), "the source is fred's error: {cause:?}");

    let url = format!("redis://mageflow:wrong-pw@127.0.0.1:{}", server.port);
    let error = store_error(Mageflow::builder().redis_url(&url).task(shout).build().await.unwrap_err());
    assert!(matches!(error, StoreError::Authentication { .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        "Redis refused the credentials: the user `mageflow` or its password is wrong (WRONGPASS invalid \
         username-password pair or user is disabled.); check the user and password in the Redis URL"
    );
}

mod sentinel {
    use std::collections::HashMap;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use mageflow::{Mageflow, Node, TaskError, task};
    use tokio::sync::Notify;

    use crate::support::cluster::{RedisProcess, free_port, redis_cli, temp_dir, wait_until};

    /// Runs of `step` by input, runs of `done` by input, and all runs of `step` so far.
    static STEPS: Mutex<Option<HashMap<u64, usize>>> = Mutex::new(None);
    static DONE: Mutex<Option<HashMap<u64, usize>>> = Mutex::new(None);
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    static MID_RUN: Notify = Notify::const_new();

    const FLOWS: u64 = 20;
    const STEPS_PER_FLOW: u64 = 8;

    /// One step of work: adds one, after 100 ms.
    #[task]
    async fn step(n: u64) -> Result<u64, TaskError> {
        *STEPS.lock().unwrap().get_or_insert_default().entry(n).or_default() += 1;
        if RUNS.fetch_add(1, Ordering::SeqCst) + 1 == 10 {
            MID_RUN.notify_one();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        Ok(n + 1)
    }

    /// The success callback of a flow.
    #[task]
    async fn done(n: u64) -> Result<(), TaskError> {
        *DONE.lock().unwrap().get_or_insert_default().entry(n).or_default() += 1;
        Ok(())
    }

    fn primary_port(sentinel: u16) -> u16 {
        let reply = redis_cli(&["-p", &sentinel.to_string(), "sentinel", "get-master-addr-by-name", "mymaster"]);
        reply.lines().nth(1).and_then(|port| port.trim().parse().ok()).expect("the primary's port")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_flow_completes_once_across_a_sentinel_failover() {
        let dir = temp_dir("sentinel");
        let (primary_port_number, replica_port, sentinel_port) = (free_port(), free_port(), free_port());
        let server = |port: u16, extra: &[&str]| {
            let port_text = port.to_string();
            let mut args = vec!["--port", &port_text, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"];
            args.extend(extra);
            RedisProcess::start(port, &dir, &args)
        };
        // the primary and its replica require a password; the sentinel does not (the default of a store)
        let auth = ["--requirepass", "primary-pw", "--masterauth", "primary-pw"];
        let _primary = server(primary_port_number, &auth);
        let primary_text = primary_port_number.to_string();
        let mut replica_args = vec!["--replicaof", "127.0.0.1", &primary_text];
        replica_args.extend(auth);
        let _replica = server(replica_port, &replica_args);
        let conf = dir.join("sentinel.conf");
        std::fs::write(
            &conf,
            format!(
                "port {sentinel_port}\nbind 127.0.0.1\nsentinel monitor mymaster 127.0.0.1 {primary_port_number} 1\n\
                 sentinel auth-pass mymaster primary-pw\nsentinel down-after-milliseconds mymaster 1000\n\
                 sentinel failover-timeout mymaster 10000\n"
            ),
        )
        .unwrap();
        let _sentinel = RedisProcess::start(sentinel_port, &dir, &[conf.to_str().unwrap(), "--sentinel"]);
        let replica_text = replica_port.to_string();
        wait_until("the replica is in sync", Duration::from_secs(30), || {
            redis_cli(&["-p", &replica_text, "--no-auth-warning", "-a", "primary-pw", "info", "replication"])
                .contains("master_link_status:up")
        });
        wait_until("the sentinel knows the replica", Duration::from_secs(30), || {
            redis_cli(&["-p", &sentinel_port.to_string(), "sentinel", "replicas", "mymaster"]).contains(&replica_text)
        });
        assert_eq!(primary_port(sentinel_port), primary_port_number);

        let config = mageflow::store::RedisStoreConfig::sentinel([format!("127.0.0.1:{sentinel_port}")], "mymaster")
            .credentials(None, "primary-pw");
        assert_eq!(config.redacted_url(), format!("redis+sentinel://:***@127.0.0.1:{sentinel_port}/mymaster"));
        let client = Mageflow::builder().redis(config).concurrency(4).task(step).task(done).build().await.unwrap();
        let (mut handles, mut callbacks) = (Vec::new(), Vec::new());
        for flow in 0..FLOWS {
            let steps: Vec<Node> = (0..STEPS_PER_FLOW).map(|_| Node::from(client.sign(step))).collect();
            let callback = client.sign(done);
            callbacks.push(callback.id().clone());
            let chain = client.chain(steps).on_success(callback);
            handles.push(client.run_no_wait(chain, serde_json::json!(flow * 1000)).await.unwrap());
        }
        // fail over while the flows run
        tokio::time::timeout(crate::WAIT, MID_RUN.notified()).await.expect("runs began");
        let sentinel_text = sentinel_port.to_string();
        let runs_at_failover = tokio::task::spawn_blocking(move || {
            assert_eq!(redis_cli(&["-p", &sentinel_text, "sentinel", "failover", "mymaster"]).trim(), "OK");
            wait_until("the replica is the primary", Duration::from_secs(30), || {
                primary_port(sentinel_port) == replica_port
            });
            RUNS.load(Ordering::SeqCst)
        })
        .await
        .unwrap();
        assert!(runs_at_failover < (FLOWS * STEPS_PER_FLOW) as usize, "the failover ended before the flows");

        for (flow, handle) in handles.iter().enumerate() {
            let out = tokio::time::timeout(Duration::from_secs(60), handle.result()).await.expect("in time").unwrap();
            assert_eq!(out, serde_json::json!(flow as u64 * 1000 + STEPS_PER_FLOW), "flow {flow}");
        }
        for callback in &callbacks {
            client.wait(callback, Some(crate::WAIT)).await.unwrap();
        }
        let completions = DONE.lock().unwrap().clone().unwrap_or_default();
        let expected: HashMap<u64, usize> = (0..FLOWS).map(|flow| (flow * 1000 + STEPS_PER_FLOW, 1)).collect();
        assert_eq!(completions, expected, "each flow's callback ran once");
        let steps = STEPS.lock().unwrap().clone().unwrap_or_default();
        let twice: Vec<_> = steps.iter().filter(|(_, runs)| **runs != 1).collect();
        assert_eq!(steps.len() as u64, FLOWS * STEPS_PER_FLOW);
        assert!(twice.is_empty(), "steps that ran more than once: {twice:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_flow_runs_on_a_primary_found_through_sentinels_over_tls() {
        let certs = crate::Certs::generate("sentinel-tls");
        let dir = temp_dir("sentinel-tls");
        let text = |name: &str| certs.path(name).to_str().unwrap().to_owned();
        let tls = [
            "tls-cert-file".to_owned(),
            text("server.pem"),
            "tls-key-file".to_owned(),
            text("server.key"),
            "tls-ca-cert-file".to_owned(),
            text("ca.pem"),
            "tls-auth-clients".to_owned(),
            "no".to_owned(),
            "tls-replication".to_owned(),
            "yes".to_owned(),
        ];
        let (primary, sentinel) = (free_port(), free_port());
        let mut args: Vec<String> =
            ["--port", "0", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"].map(String::from).to_vec();
        args.extend(["--tls-port".to_owned(), primary.to_string()]);
        args.extend(tls.chunks(2).flat_map(|pair| [format!("--{}", pair[0]), pair[1].clone()]));
        let _primary = RedisProcess::start(primary, &dir, &args.iter().map(String::as_str).collect::<Vec<_>>());
        let conf = dir.join("sentinel.conf");
        let tls_lines: String = tls.chunks(2).map(|pair| format!("{} {}\n", pair[0], pair[1])).collect();
        std::fs::write(
            &conf,
            format!(
                "port 0\ntls-port {sentinel}\nbind 127.0.0.1\n{tls_lines}\
                 sentinel monitor mymaster 127.0.0.1 {primary} 1\n"
            ),
        )
        .unwrap();
        let _sentinel = RedisProcess::start(sentinel, &dir, &[conf.to_str().unwrap(), "--sentinel"]);
        let url = format!("rediss+sentinel://127.0.0.1:{sentinel}/mymaster");
        let config = mageflow::store::RedisStoreConfig::new(&url)
            .tls(mageflow::store::RedisTls::default().ca_file(certs.path("ca.pem")));
        let client = Mageflow::builder().redis(config).key_prefix("stls").task(crate::shout).build().await.unwrap();
        let chain = client.chain(vec![Node::from(client.sign(crate::shout)), client.sign(crate::shout).into()]);
        let out: serde_json::Value = tokio::time::timeout(crate::WAIT, client.run(chain, serde_json::json!("s")))
            .await
            .expect("in time")
            .unwrap();
        assert_eq!(out, serde_json::json!("s!!"));
        // without the test's CA the sentinels themselves are refused
        let error = mageflow::RedisStore::connect(&url).await.unwrap_err();
        assert!(
            matches!(&error, mageflow::store::StoreError::Tls { detail: message, .. } if message.contains("is not trusted")),
            "{error}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_waiter_of_a_channel_reused_at_once_is_notified() {
    use mageflow::Store;
    use mageflow::store::Script;
    let server = RedisServer::start();
    let store = RedisStore::connect(&server.url).await.unwrap();
    let publish = Script::new("return redis.call('PUBLISH', KEYS[1], 'x')");
    // the same channel awaited again right after each notification: the unsubscription that follows one
    // notification must not undo the next subscription
    for round in 0..300 {
        let (first, second) = (store.notified("reuse:ch").await.unwrap(), store.notified("reuse:ch").await.unwrap());
        store.eval(&publish, vec!["reuse:ch".into()], vec![]).await.unwrap();
        let both = async {
            first.await;
            second.await;
        };
        tokio::time::timeout(std::time::Duration::from_secs(2), both)
            .await
            .unwrap_or_else(|_| panic!("round {round}: a waiter was not notified"));
    }
}
