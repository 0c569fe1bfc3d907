//! Client configuration, derived from a Hatchet API token and the environment.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use crate::error::{HatchetError, Result};

/// Environment variable holding the API token.
pub const ENV_TOKEN: &str = "HATCHET_CLIENT_TOKEN";
/// Environment variable choosing TLS (`tls`, the default) or plaintext (`none`).
pub const ENV_TLS_STRATEGY: &str = "HATCHET_CLIENT_TLS_STRATEGY";
/// Environment variable overriding the gRPC `host:port` found in the token.
pub const ENV_HOST_PORT: &str = "HATCHET_CLIENT_HOST_PORT";
/// Environment variable naming a namespace prefixed to workflow names.
pub const ENV_NAMESPACE: &str = "HATCHET_CLIENT_NAMESPACE";
/// Environment variable naming a PEM file of the CA certificates to trust instead of the webpki roots.
pub const ENV_TLS_ROOT_CA_FILE: &str = "HATCHET_CLIENT_TLS_ROOT_CA_FILE";
/// Environment variable naming the PEM file of the client certificate, for mutual TLS.
pub const ENV_TLS_CERT_FILE: &str = "HATCHET_CLIENT_TLS_CERT_FILE";
/// Environment variable naming the PEM file of the client certificate's private key, for mutual TLS.
pub const ENV_TLS_KEY_FILE: &str = "HATCHET_CLIENT_TLS_KEY_FILE";
/// Environment variable giving the name the engine's certificate must carry (instead of the gRPC host).
pub const ENV_TLS_SERVER_NAME: &str = "HATCHET_CLIENT_TLS_SERVER_NAME";

/// How the gRPC connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsStrategy {
    /// TLS with the webpki root certificates (the default).
    #[default]
    Tls,
    /// Plaintext HTTP/2, for local engines and the fake.
    None,
}

impl TlsStrategy {
    /// Parses `tls` or `none` (case-insensitive).
    pub fn parse(value: &str) -> Result<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "tls" | "" => Ok(TlsStrategy::Tls),
            "none" => Ok(TlsStrategy::None),
            other => Err(HatchetError::InvalidConfig(format!(
                "{ENV_TLS_STRATEGY}={other:?} is not supported; use \"tls\" or \"none\""
            ))),
        }
    }
}

/// Everything needed to connect to a Hatchet engine.
#[derive(Clone, PartialEq, Eq)]
pub struct HatchetConfig {
    token: String,
    tenant_id: String,
    server_url: String,
    host_port: String,
    tls: TlsStrategy,
    namespace: String,
    tls_root_ca_file: Option<std::path::PathBuf>,
    tls_identity_files: Option<(std::path::PathBuf, std::path::PathBuf)>,
    tls_server_name: Option<String>,
}

impl std::fmt::Debug for HatchetConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HatchetConfig")
            .field("token", &"<redacted>")
            .field("tenant_id", &self.tenant_id)
            .field("server_url", &self.server_url)
            .field("host_port", &self.host_port)
            .field("tls", &self.tls)
            .field("namespace", &self.namespace)
            .field("tls_root_ca_file", &self.tls_root_ca_file)
            .field("tls_identity_files", &self.tls_identity_files)
            .field("tls_server_name", &self.tls_server_name)
            .finish()
    }
}

/// The claims a Hatchet token must carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenClaims {
    /// `sub`: the tenant id.
    pub tenant_id: String,
    /// `server_url`: the REST base URL.
    pub server_url: String,
    /// `grpc_broadcast_address`: the gRPC `host:port`.
    pub grpc_broadcast_address: String,
}

/// Decodes a Hatchet JWT's payload without verifying its signature.
pub fn decode_token_claims(token: &str) -> Result<TokenClaims> {
    let invalid = |reason: String| HatchetError::InvalidToken { reason };
    let parts: Vec<&str> = token.trim().split('.').collect();
    if parts.len() != 3 {
        return Err(invalid(format!(
            "expected three dot-separated parts (header.payload.signature), found {}",
            parts.len()
        )));
    }
    let payload = parts[1].trim_end_matches('=');
    let bytes = URL_SAFE_NO_PAD.decode(payload).map_err(|e| invalid(format!("the payload is not base64url: {e}")))?;
    let claims: Value = serde_json::from_slice(&bytes).map_err(|e| invalid(format!("the payload is not JSON: {e}")))?;
    let claim = |name: &str| -> Result<String> {
        match claims.get(name) {
            Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
            Some(_) => Err(invalid(format!("claim `{name}` is not a non-empty string"))),
            None => Err(invalid(format!("claim `{name}` is missing"))),
        }
    };
    Ok(TokenClaims {
        tenant_id: claim("sub")?,
        server_url: claim("server_url")?,
        grpc_broadcast_address: claim("grpc_broadcast_address")?,
    })
}

/// Mints an unsigned token carrying the claims clients need (for tests and the fake engine).
///
/// The signature part is a fixed placeholder: a real engine rejects such a token.
pub fn unsigned_token(tenant_id: &str, server_url: &str, grpc_broadcast_address: &str) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let claims = serde_json::json!({
        "sub": tenant_id,
        "server_url": server_url,
        "grpc_broadcast_address": grpc_broadcast_address,
        "iss": "mageflow-fake-hatchet",
        "aud": server_url,
    });
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string().as_bytes());
    format!("{header}.{payload}.unsigned")
}

/// Turns a namespace into its prefix form: lower case, ending with `_` (empty stays empty).
pub fn normalize_namespace(namespace: &str) -> String {
    let ns = namespace.trim().to_lowercase();
    if ns.is_empty() || ns.ends_with('_') { ns } else { format!("{ns}_") }
}

impl HatchetConfig {
    /// Builds a configuration from a token alone: TLS on, address from the token, no namespace.
    pub fn from_token(token: impl Into<String>) -> Result<Self> {
        let token = token.into().trim().to_string();
        if token.is_empty() {
            return Err(HatchetError::MissingToken);
        }
        let claims = decode_token_claims(&token)?;
        Ok(HatchetConfig {
            token,
            tenant_id: claims.tenant_id,
            server_url: claims.server_url,
            host_port: claims.grpc_broadcast_address,
            tls: TlsStrategy::Tls,
            namespace: String::new(),
            tls_root_ca_file: None,
            tls_identity_files: None,
            tls_server_name: None,
        })
    }

    /// Builds a configuration from the process environment (`HATCHET_CLIENT_*`).
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|key| std::env::var(key).ok())
    }

    /// Builds a configuration from any variable source (the environment, a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let token = lookup(ENV_TOKEN).ok_or(HatchetError::MissingToken)?;
        let mut config = Self::from_token(token)?;
        if let Some(tls) = lookup(ENV_TLS_STRATEGY) {
            config.tls = TlsStrategy::parse(&tls)?;
        }
        if let Some(host_port) = lookup(ENV_HOST_PORT).filter(|v| !v.trim().is_empty()) {
            config = config.with_host_port(host_port)?;
        }
        if let Some(ns) = lookup(ENV_NAMESPACE) {
            config = config.with_namespace(&ns);
        }
        let set = |key: &str| lookup(key).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        if let Some(ca) = set(ENV_TLS_ROOT_CA_FILE) {
            config = config.with_tls_root_ca_file(ca);
        }
        match (set(ENV_TLS_CERT_FILE), set(ENV_TLS_KEY_FILE)) {
            (Some(cert), Some(key)) => config = config.with_tls_client_identity(cert, key),
            (None, None) => {}
            _ => {
                return Err(HatchetError::InvalidConfig(format!(
                    "{ENV_TLS_CERT_FILE} and {ENV_TLS_KEY_FILE} go together: set both for mutual TLS, or neither"
                )));
            }
        }
        if let Some(name) = set(ENV_TLS_SERVER_NAME) {
            config = config.with_tls_server_name(name);
        }
        Ok(config)
    }

    /// Overrides the gRPC address; it must be `host:port`.
    pub fn with_host_port(mut self, host_port: impl Into<String>) -> Result<Self> {
        let host_port = host_port.into().trim().to_string();
        split_host_port(&host_port)?;
        self.host_port = host_port;
        Ok(self)
    }

    /// Sets the TLS strategy.
    pub fn with_tls(mut self, tls: TlsStrategy) -> Self {
        self.tls = tls;
        self
    }

    /// Trusts the CA certificates in this PEM file instead of the webpki roots (TLS strategy `tls`).
    pub fn with_tls_root_ca_file(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.tls_root_ca_file = Some(path.into());
        self
    }

    /// Shows this client certificate (PEM files of the certificate and of its private key): mutual TLS.
    pub fn with_tls_client_identity(
        mut self,
        cert: impl Into<std::path::PathBuf>,
        key: impl Into<std::path::PathBuf>,
    ) -> Self {
        self.tls_identity_files = Some((cert.into(), key.into()));
        self
    }

    /// Verifies the engine's certificate against this name instead of the gRPC host.
    pub fn with_tls_server_name(mut self, name: impl Into<String>) -> Self {
        self.tls_server_name = Some(name.into());
        self
    }

    /// The PEM file of the CA certificates trusted instead of the webpki roots, if any.
    pub fn tls_root_ca_file(&self) -> Option<&std::path::Path> {
        self.tls_root_ca_file.as_deref()
    }

    /// The PEM files of the client certificate and its key, for mutual TLS, if any.
    pub fn tls_client_identity(&self) -> Option<(&std::path::Path, &std::path::Path)> {
        self.tls_identity_files.as_ref().map(|(cert, key)| (cert.as_path(), key.as_path()))
    }

    /// The name the engine's certificate must carry: the override, or the gRPC host.
    pub fn tls_server_name(&self) -> &str {
        self.tls_server_name.as_deref().unwrap_or_else(|| self.host())
    }

    /// Sets the namespace (lower-cased, `_` appended).
    pub fn with_namespace(mut self, namespace: &str) -> Self {
        self.namespace = normalize_namespace(namespace);
        self
    }

    /// The raw token, sent as `authorization: Bearer <token>`.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The tenant id (`sub` claim).
    pub fn tenant_id(&self) -> &str {
        &self.tenant_id
    }

    /// The REST base URL (`server_url` claim).
    pub fn server_url(&self) -> &str {
        &self.server_url
    }

    /// The gRPC `host:port`.
    pub fn host_port(&self) -> &str {
        &self.host_port
    }

    /// The TLS strategy.
    pub fn tls(&self) -> TlsStrategy {
        self.tls
    }

    /// The namespace prefix (`""` or `"name_"`).
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The engine-side name of a workflow: namespace prefix plus the lower-cased name.
    pub fn workflow_name(&self, name: &str) -> String {
        let lower = name.to_lowercase();
        if !self.namespace.is_empty() && lower.starts_with(&self.namespace) {
            lower
        } else {
            format!("{}{}", self.namespace, lower)
        }
    }

    /// The action id of a task: `"<namespaced workflow>:<task>"`, lower case.
    pub fn action_id(&self, workflow: &str, task: &str) -> String {
        format!("{}:{}", self.workflow_name(workflow), task.to_lowercase())
    }

    /// The URI tonic dials (`https://` or `http://` plus host:port).
    pub fn endpoint_uri(&self) -> String {
        let scheme = match self.tls {
            TlsStrategy::Tls => "https",
            TlsStrategy::None => "http",
        };
        format!("{scheme}://{}", self.host_port)
    }

    /// The host part of the gRPC address (the TLS server name).
    pub fn host(&self) -> &str {
        split_host_port(&self.host_port).map(|(host, _)| host).unwrap_or(&self.host_port)
    }
}

fn split_host_port(value: &str) -> Result<(&str, u16)> {
    let bad = || {
        HatchetError::InvalidConfig(format!(
            "gRPC address {value:?} is not host:port; set {ENV_HOST_PORT} like \"localhost:7070\""
        ))
    };
    let (host, port) = value.rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(bad());
    }
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn token_with(payload: &str) -> String {
        format!("{}.{}.sig", URL_SAFE_NO_PAD.encode(br#"{"alg":"ES256"}"#), URL_SAFE_NO_PAD.encode(payload.as_bytes()))
    }

    fn good_token() -> String {
        token_with(
            r#"{"sub":"tenant-1","server_url":"https://app.example","grpc_broadcast_address":"grpc.example:443"}"#,
        )
    }

    fn reason(err: HatchetError) -> String {
        match err {
            HatchetError::InvalidToken { reason } => reason,
            other => panic!("expected InvalidToken, got {other:?}"),
        }
    }

    #[test]
    fn good_token_yields_claims_and_defaults() {
        let config = HatchetConfig::from_token(good_token()).unwrap();
        assert_eq!(config.tenant_id(), "tenant-1");
        assert_eq!(config.server_url(), "https://app.example");
        assert_eq!(config.host_port(), "grpc.example:443");
        assert_eq!(config.host(), "grpc.example");
        assert_eq!(config.tls(), TlsStrategy::Tls);
        assert_eq!(config.endpoint_uri(), "https://grpc.example:443");
        assert_eq!(config.namespace(), "");
        assert!(!format!("{config:?}").contains(&good_token()));
    }

    #[test]
    fn padded_payload_is_accepted() {
        let t = good_token();
        let mut parts: Vec<String> = t.split('.').map(String::from).collect();
        parts[1].push_str("==");
        assert!(HatchetConfig::from_token(parts.join(".")).is_ok());
    }

    #[test]
    fn token_without_three_parts_is_rejected() {
        let err = HatchetConfig::from_token("abc.def").unwrap_err();
        assert!(reason(err).contains("three dot-separated parts"));
    }

    #[test]
    fn token_with_bad_base64_is_rejected() {
        let err = HatchetConfig::from_token("aGVhZA.%%%notbase64%%%.sig").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("not base64url"), "{msg}");
        assert!(msg.contains("API token"), "{msg}");
    }

    #[test]
    fn token_with_non_json_payload_is_rejected() {
        let err = HatchetConfig::from_token(token_with("not json")).unwrap_err();
        assert!(reason(err).contains("not JSON"));
    }

    #[test]
    fn token_missing_each_claim_is_rejected() {
        for (claim, payload) in [
            ("sub", r#"{"server_url":"u","grpc_broadcast_address":"h:1"}"#),
            ("server_url", r#"{"sub":"t","grpc_broadcast_address":"h:1"}"#),
            ("grpc_broadcast_address", r#"{"sub":"t","server_url":"u"}"#),
        ] {
            let err = HatchetConfig::from_token(token_with(payload)).unwrap_err();
            assert_eq!(reason(err), format!("claim `{claim}` is missing"));
        }
        let err = HatchetConfig::from_token(token_with(r#"{"sub":7,"server_url":"u","grpc_broadcast_address":"h:1"}"#))
            .unwrap_err();
        assert_eq!(reason(err), "claim `sub` is not a non-empty string");
    }

    #[test]
    fn empty_or_absent_token_is_missing() {
        assert!(matches!(HatchetConfig::from_token("  "), Err(HatchetError::MissingToken)));
        let err = HatchetConfig::from_lookup(|_| None).unwrap_err();
        assert!(matches!(err, HatchetError::MissingToken));
        assert!(err.to_string().contains("HATCHET_CLIENT_TOKEN"));
    }

    #[test]
    fn environment_overrides_apply() {
        let vars: HashMap<&str, String> = HashMap::from([
            (ENV_TOKEN, good_token()),
            (ENV_TLS_STRATEGY, "none".to_string()),
            (ENV_HOST_PORT, "127.0.0.1:7077".to_string()),
            (ENV_NAMESPACE, "Staging".to_string()),
        ]);
        let config = HatchetConfig::from_lookup(|k| vars.get(k).cloned()).unwrap();
        assert_eq!(config.tls(), TlsStrategy::None);
        assert_eq!(config.host_port(), "127.0.0.1:7077");
        assert_eq!(config.endpoint_uri(), "http://127.0.0.1:7077");
        assert_eq!(config.namespace(), "staging_");
        assert_eq!(config.workflow_name("Charge"), "staging_charge");
        assert_eq!(config.workflow_name("staging_charge"), "staging_charge");
        assert_eq!(config.action_id("Charge", "Run"), "staging_charge:run");
    }

    #[test]
    fn bad_tls_strategy_and_host_port_are_rejected() {
        let vars = HashMap::from([(ENV_TOKEN, good_token()), (ENV_TLS_STRATEGY, "mtls".to_string())]);
        let err = HatchetConfig::from_lookup(|k| vars.get(k).cloned()).unwrap_err();
        assert!(err.to_string().contains("use \"tls\" or \"none\""));
        let vars = HashMap::from([(ENV_TOKEN, good_token()), (ENV_HOST_PORT, "no-port".to_string())]);
        let err = HatchetConfig::from_lookup(|k| vars.get(k).cloned()).unwrap_err();
        assert!(err.to_string().contains("is not host:port"));
    }

    #[test]
    fn namespace_normalization() {
        assert_eq!(normalize_namespace(""), "");
        assert_eq!(normalize_namespace("Prod"), "prod_");
        assert_eq!(normalize_namespace("prod_"), "prod_");
    }
}
