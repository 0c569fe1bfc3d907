//! TLS to Redis (`rediss://`): which certificate authorities to trust and which client certificate to show.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use fred::rustls;
use fred::rustls::pki_types::pem::PemObject;
use fred::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use fred::types::config::TlsConnector;

use super::super::StoreError;

/// The environment variable naming a PEM file of the certificate authorities to trust instead of the system's.
pub const ENV_CA_FILE: &str = "MAGEFLOW_REDIS_TLS_CA_FILE";
/// The environment variable naming the PEM file of the client certificate (chain) for mutual TLS.
pub const ENV_CERT_FILE: &str = "MAGEFLOW_REDIS_TLS_CERT_FILE";
/// The environment variable naming the PEM file of the client certificate's private key for mutual TLS.
pub const ENV_KEY_FILE: &str = "MAGEFLOW_REDIS_TLS_KEY_FILE";
/// The environment variable giving the name to verify the server's certificate against (instead of the URL's host).
pub const ENV_SERVER_NAME: &str = "MAGEFLOW_REDIS_TLS_SERVER_NAME";

/// A PEM document: a file to read when connecting, or the text itself.
#[derive(Clone)]
pub enum Pem {
    /// A file, read when the store connects.
    File(PathBuf),
    /// The PEM text.
    Inline(Vec<u8>),
}

impl Pem {
    fn read(&self, what: &str) -> Result<Vec<u8>, StoreError> {
        match self {
            Pem::Inline(bytes) => Ok(bytes.clone()),
            Pem::File(path) => std::fs::read(path).map_err(|error| {
                StoreError::config(format!("cannot read the Redis TLS {what} from {}: {error}", path.display()))
                    .caused_by(error)
            }),
        }
    }

    fn describe(&self) -> String {
        match self {
            Pem::File(path) => path.display().to_string(),
            Pem::Inline(_) => "the PEM given to the builder".to_owned(),
        }
    }
}

impl fmt::Debug for Pem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pem::File(path) => write!(f, "File({})", path.display()),
            Pem::Inline(bytes) => write!(f, "Inline(<{} bytes>)", bytes.len()),
        }
    }
}

/// How a `rediss://` connection verifies the server and identifies itself. The default trusts the system's root
/// certificates and shows no client certificate. Settings of a plain `redis://` URL are ignored (with a warning):
/// TLS is chosen by the URL's scheme alone, and a `rediss://` URL never falls back to plaintext.
#[derive(Clone, Debug, Default)]
pub struct RedisTls {
    /// The certificate authorities to trust instead of the system's (PEM, one or more certificates).
    pub ca: Option<Pem>,
    /// The client certificate chain (PEM) and its private key (PEM) for mutual TLS. The key is never printed.
    pub client_identity: Option<(Pem, Pem)>,
    /// The name the server's certificate must carry, when it is not the host of the URL.
    pub server_name: Option<String>,
}

impl RedisTls {
    /// Trusts the certificate authorities in this PEM file instead of the system's.
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca = Some(Pem::File(path.into()));
        self
    }

    /// Trusts the certificate authorities in this PEM text instead of the system's.
    pub fn ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca = Some(Pem::Inline(pem.into()));
        self
    }

    /// Shows this client certificate (PEM files of the certificate chain and of its private key): mutual TLS.
    pub fn client_identity_files(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.client_identity = Some((Pem::File(cert.into()), Pem::File(key.into())));
        self
    }

    /// Shows this client certificate (PEM texts of the certificate chain and of its private key): mutual TLS.
    pub fn client_identity_pem(mut self, cert: impl Into<Vec<u8>>, key: impl Into<Vec<u8>>) -> Self {
        self.client_identity = Some((Pem::Inline(cert.into()), Pem::Inline(key.into())));
        self
    }

    /// Verifies the server's certificate against this name instead of the URL's host.
    pub fn server_name(mut self, name: impl Into<String>) -> Self {
        self.server_name = Some(name.into());
        self
    }

    /// The settings in the environment: `MAGEFLOW_REDIS_TLS_CA_FILE`, `MAGEFLOW_REDIS_TLS_CERT_FILE` with
    /// `MAGEFLOW_REDIS_TLS_KEY_FILE`, and `MAGEFLOW_REDIS_TLS_SERVER_NAME`; unset or empty ones keep the default.
    pub fn from_env() -> Result<RedisTls, StoreError> {
        let var = |name: &str| std::env::var(name).ok().map(|value| value.trim().to_owned()).filter(|v| !v.is_empty());
        let mut tls = RedisTls::default();
        if let Some(ca) = var(ENV_CA_FILE) {
            tls = tls.ca_file(ca);
        }
        match (var(ENV_CERT_FILE), var(ENV_KEY_FILE)) {
            (Some(cert), Some(key)) => tls = tls.client_identity_files(cert, key),
            (None, None) => {}
            _ => {
                return Err(StoreError::config(format!(
                    "{ENV_CERT_FILE} and {ENV_KEY_FILE} go together: set both for mutual TLS, or neither"
                )));
            }
        }
        if let Some(name) = var(ENV_SERVER_NAME) {
            tls = tls.server_name(name);
        }
        Ok(tls)
    }

    /// Whether anything differs from the default.
    pub fn is_customized(&self) -> bool {
        self.ca.is_some() || self.client_identity.is_some() || self.server_name.is_some()
    }

    /// The rustls connector for these settings.
    pub(crate) fn connector(&self) -> Result<TlsConnector, StoreError> {
        let roots = self.roots()?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|error| StoreError::config(format!("cannot set up TLS for Redis: {error}")).caused_by(error))?
            .with_root_certificates(roots);
        let config = match &self.client_identity {
            None => builder.with_no_client_auth(),
            Some((cert, key)) => {
                let chain = parse_certificates(cert, "client certificate")?;
                let key_pem = key.read("client key")?;
                let private_key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|error| {
                    StoreError::config(format!(
                        "no private key in {} ({error}); {ENV_KEY_FILE} must name a PEM file with the client \
                         certificate's key",
                        key.describe()
                    ))
                    .caused_by(error)
                })?;
                builder.with_client_auth_cert(chain, private_key).map_err(|error| {
                    StoreError::config(format!(
                        "the client certificate {} does not go with its key {}: {error}",
                        cert.describe(),
                        key.describe()
                    ))
                    .caused_by(error)
                })?
            }
        };
        Ok(TlsConnector::from(config))
    }

    /// Checks the server name override, returning it.
    pub(crate) fn checked_server_name(&self) -> Result<Option<String>, StoreError> {
        match &self.server_name {
            None => Ok(None),
            Some(name) => ServerName::try_from(name.as_str())
                .map(|_| Some(name.clone()))
                .map_err(|_| StoreError::config(format!("`{name}` is not a valid TLS server name"))),
        }
    }

    fn roots(&self) -> Result<rustls::RootCertStore, StoreError> {
        let mut roots = rustls::RootCertStore::empty();
        match &self.ca {
            Some(ca) => {
                for cert in parse_certificates(ca, "CA certificates")? {
                    roots.add(cert).map_err(|error| {
                        StoreError::config(format!("a CA certificate in {} is not usable: {error}", ca.describe()))
                            .caused_by(error)
                    })?;
                }
            }
            None => {
                let found = rustls_native_certs_load();
                for error in &found.errors {
                    tracing::warn!(%error, "a system root certificate could not be loaded");
                }
                let (added, _ignored) = roots.add_parsable_certificates(found.certs);
                if added == 0 {
                    return Err(StoreError::config(format!(
                        "no system root certificates were found for TLS to Redis; install them (Debian: \
                         ca-certificates) or set {ENV_CA_FILE} to the CA that signed the server's certificate"
                    )));
                }
            }
        }
        Ok(roots)
    }
}

fn rustls_native_certs_load() -> fred::rustls_native_certs::CertificateResult {
    fred::rustls_native_certs::load_native_certs()
}

fn parse_certificates(pem: &Pem, what: &str) -> Result<Vec<CertificateDer<'static>>, StoreError> {
    let bytes = pem.read(what)?;
    let certs = CertificateDer::pem_slice_iter(&bytes).collect::<Result<Vec<_>, _>>().map_err(|error| {
        StoreError::config(format!("the {what} in {} are not valid PEM: {error}", pem.describe())).caused_by(error)
    })?;
    if certs.is_empty() {
        return Err(StoreError::config(format!("no certificate found in {} (the {what})", pem.describe())));
    }
    Ok(certs)
}
