//! Mutual TLS to Redis configured by the environment (`MAGEFLOW_REDIS_TLS_*`). A binary of its own, because it sets
//! process-wide environment variables.

mod support;

use mageflow::store::{RedisStoreConfig, RedisTls, StoreError};
use mageflow::{Mageflow, Node, RedisStore, TaskError, task};
use serde_json::{Value, json};

use support::WAIT;
use support::tls::{Certs, tls_redis};

/// Appends its text to the input.
#[task]
async fn shout(text: String) -> Result<String, TaskError> {
    Ok(format!("{text}!"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_from_the_environment() {
    let certs = Certs::generate("mtls");
    let server = tls_redis(&certs, true);
    let url = format!("rediss://localhost:{}", server.port);
    // without a client certificate the server refuses the handshake
    let refused =
        RedisStore::connect_with(RedisStoreConfig::new(&url).tls(RedisTls::default().ca_file(certs.path("ca.pem"))))
            .await
            .unwrap_err();
    assert!(matches!(refused, StoreError::Tls { .. }), "{refused}");
    // the environment names the CA and the client certificate; this is the only test that sets these variables
    // SAFETY: this binary runs this one test, so no other thread reads or writes the environment meanwhile
    unsafe {
        std::env::set_var("MAGEFLOW_REDIS_TLS_CA_FILE", certs.path("ca.pem"));
        std::env::set_var("MAGEFLOW_REDIS_TLS_CERT_FILE", certs.path("client.pem"));
        std::env::set_var("MAGEFLOW_REDIS_TLS_KEY_FILE", certs.path("client.key"));
    }
    let config = RedisStoreConfig::with_env_settings(&url).unwrap();
    assert!(config.tls.client_identity.is_some() && config.tls.ca.is_some(), "{config:?}");
    let client = Mageflow::builder().redis_url(&url).key_prefix("mtls").task(shout).build().await.unwrap();
    let chain = client.chain(vec![Node::from(client.sign(shout)), client.sign(shout).into()]);
    let out: Value = tokio::time::timeout(WAIT, client.run(chain, json!("mtls"))).await.expect("in time").unwrap();
    assert_eq!(out, json!("mtls!!"));
    // a builder told nothing takes REDIS_URL and the same variables
    // SAFETY: as above
    unsafe { std::env::set_var("REDIS_URL", &url) };
    let client = Mageflow::builder().key_prefix("mtls-env").task(shout).build().await.unwrap();
    let out: String =
        tokio::time::timeout(WAIT, client.run(client.sign(shout), "env".to_owned())).await.expect("in time").unwrap();
    assert_eq!(out, "env!");
    let keys = mageflow::Store::scan(&RedisStore::connect_with(config).await.unwrap(), "mtls-env:").await.unwrap();
    assert!(!keys.is_empty(), "the state is in the TLS Redis, not in memory");
}
