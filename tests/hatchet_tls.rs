//! The Hatchet backend's default TLS strategy against the fake engine served over mutual TLS, configured by the
//! same variables as Hatchet's SDKs (`HATCHET_CLIENT_TLS_ROOT_CA_FILE`, `..._CERT_FILE`, `..._KEY_FILE`,
//! `..._SERVER_NAME`). The fake speaks plaintext gRPC; a TLS terminator of the test's own stands in front of it.

mod support;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use mageflow::{Mageflow, Node, TaskError, task};
use mageflow_hatchet::fake::{FakeConfig, FakeHatchet};
use mageflow_hatchet::{Connection, HatchetBackend, HatchetBackendOptions, HatchetConfig, HatchetError};
use serde_json::{Value, json};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

use support::tls::Certs;
use support::{RedisServer, WAIT};

/// Appends its text to the input.
#[task]
async fn shout(text: String) -> Result<String, TaskError> {
    Ok(format!("{text}!"))
}

/// Accepts TLS (HTTP/2 by ALPN, a client certificate signed by the test's CA required) and forwards the bytes to
/// the fake engine; counts the handshakes that showed a client certificate.
struct TlsTerminator {
    port: u16,
    verified_clients: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl TlsTerminator {
    async fn start(certs: &Certs, upstream: SocketAddr) -> TlsTerminator {
        let read = |name: &str| std::fs::read(certs.path(name)).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(&read("ca.pem")) {
            roots.add(cert.unwrap()).unwrap();
        }
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .unwrap();
        let chain: Vec<_> = CertificateDer::pem_slice_iter(&read("server.pem")).map(Result::unwrap).collect();
        let key = PrivateKeyDer::from_pem_slice(&read("server.key")).unwrap();
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key)
            .unwrap();
        config.alpn_protocols = vec![b"h2".to_vec()];
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let verified_clients = Arc::new(AtomicUsize::new(0));
        let counter = verified_clients.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (acceptor, counter) = (acceptor.clone(), counter.clone());
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(stream).await else { return };
                    if tls.get_ref().1.peer_certificates().is_some_and(|certs| !certs.is_empty()) {
                        counter.fetch_add(1, Ordering::SeqCst);
                    }
                    let Ok(mut plain) = tokio::net::TcpStream::connect(upstream).await else { return };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                });
            }
        });
        TlsTerminator { port, verified_clients, task }
    }
}

impl Drop for TlsTerminator {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The variables a Hatchet SDK user sets, as a lookup.
fn variables(pairs: &[(&str, String)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    move |key| map.get(key).cloned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flow_runs_on_the_fake_engine_over_mutual_tls() {
    let certs = Certs::generate("hatchet-tls");
    let fake = FakeHatchet::start(FakeConfig::default()).await.unwrap();
    let terminator = TlsTerminator::start(&certs, fake.addr()).await;
    let path = |name: &str| certs.path(name).to_str().unwrap().to_owned();
    let token = fake.token();
    let config = HatchetConfig::from_lookup(variables(&[
        ("HATCHET_CLIENT_TOKEN", token.clone()),
        // the address is an IP; the certificate is checked against the name given here
        ("HATCHET_CLIENT_HOST_PORT", format!("127.0.0.1:{}", terminator.port)),
        ("HATCHET_CLIENT_TLS_SERVER_NAME", "localhost".to_owned()),
        ("HATCHET_CLIENT_TLS_ROOT_CA_FILE", path("ca.pem")),
        ("HATCHET_CLIENT_TLS_CERT_FILE", path("client.pem")),
        ("HATCHET_CLIENT_TLS_KEY_FILE", path("client.key")),
    ]))
    .unwrap();
    assert_eq!(config.endpoint_uri(), format!("https://127.0.0.1:{}", terminator.port), "TLS is the default");
    assert!(!format!("{config:?}").contains(&token), "the token is never printed");
    let connection = Connection::connect(config).await.unwrap();
    let backend = HatchetBackend::new(
        connection,
        HatchetBackendOptions::new("tls-worker")
            .heartbeat_interval(Duration::from_millis(100))
            .reconnect(Duration::from_millis(20), Duration::from_millis(500)),
    );
    let redis = RedisServer::start();
    let client = Mageflow::builder()
        .redis_url(redis.url.clone())
        .key_prefix("hatchet-tls")
        .backend(backend)
        .task(shout)
        .build()
        .await
        .unwrap();
    let chain = client.chain(vec![Node::from(client.sign(shout)), client.sign(shout).into()]);
    let out: Value = tokio::time::timeout(WAIT, client.run(chain, json!("grpc"))).await.expect("in time").unwrap();
    assert_eq!(out, json!("grpc!!"));
    assert!(terminator.verified_clients.load(Ordering::SeqCst) >= 1, "the client showed its certificate");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_certificate_from_an_unknown_ca_is_refused() {
    let certs = Certs::generate("hatchet-tls-unknown");
    let fake = FakeHatchet::start(FakeConfig::default()).await.unwrap();
    let terminator = TlsTerminator::start(&certs, fake.addr()).await;
    let path = |name: &str| certs.path(name).to_str().unwrap().to_owned();
    // no root CA: the webpki roots, which do not know the test's CA
    let config = HatchetConfig::from_lookup(variables(&[
        ("HATCHET_CLIENT_TOKEN", fake.token()),
        ("HATCHET_CLIENT_HOST_PORT", format!("localhost:{}", terminator.port)),
        ("HATCHET_CLIENT_TLS_CERT_FILE", path("client.pem")),
        ("HATCHET_CLIENT_TLS_KEY_FILE", path("client.key")),
    ]))
    .unwrap();
    let error = Connection::connect(config).await.unwrap_err();
    assert!(matches!(error, HatchetError::Connect { .. }), "{error:?}");
    let token = fake.token();
    assert!(!error.to_string().contains(&token) && !format!("{error:?}").contains(&token), "no token in errors");
    assert_eq!(terminator.verified_clients.load(Ordering::SeqCst), 0);
    // a certificate file that is missing is named
    let config = HatchetConfig::from_lookup(variables(&[
        ("HATCHET_CLIENT_TOKEN", fake.token()),
        ("HATCHET_CLIENT_HOST_PORT", format!("localhost:{}", terminator.port)),
        ("HATCHET_CLIENT_TLS_ROOT_CA_FILE", "/nonexistent/ca.pem".to_owned()),
    ]))
    .unwrap();
    let error = Connection::connect(config).await.unwrap_err().to_string();
    assert!(error.contains("HATCHET_CLIENT_TLS_ROOT_CA_FILE") && error.contains("/nonexistent/ca.pem"), "{error}");
}
