//! TLS for node traffic: rustls configurations built from PEM files.
//!
//! ractor_cluster accepts a `TlsAcceptor` for incoming sessions and a `TlsConnector` plus the
//! server name for outgoing ones; this module reads the files once at start, so a missing or
//! malformed file is an error before the node listens.

use std::path::Path;
use std::sync::Arc;

use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore, ServerConfig};
use tokio_rustls::{TlsAcceptor, TlsConnector};

use super::config::NodeTls;

/// Why node TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read or parsed.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// rustls refused the material.
    #[error("TLS setup: {0}")]
    Rustls(String),
    /// The host part of a node name is not a valid TLS server name.
    #[error("{0:?} is not a valid TLS server name")]
    ServerName(String),
}

/// The acceptor and connector a node uses.
#[derive(Clone)]
pub(crate) struct NodeTlsContext {
    pub acceptor: TlsAcceptor,
    pub connector: TlsConnector,
}

fn file_error(path: &Path, reason: impl ToString) -> TlsError {
    TlsError::File {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = std::fs::read(path).map_err(|error| file_error(path, error))?;
    let certificates: Vec<_> = rustls_pemfile::certs(&mut bytes.as_slice())
        .collect::<Result<_, _>>()
        .map_err(|error| file_error(path, error))?;
    if certificates.is_empty() {
        return Err(file_error(path, "no PEM certificate in it"));
    }
    Ok(certificates)
}

fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = std::fs::read(path).map_err(|error| file_error(path, error))?;
    rustls_pemfile::private_key(&mut bytes.as_slice())
        .map_err(|error| file_error(path, error))?
        .ok_or_else(|| file_error(path, "no PEM private key in it"))
}

impl NodeTlsContext {
    pub(crate) fn load(tls: &NodeTls) -> Result<Self, TlsError> {
        let chain = certificates(&tls.certificate_chain)?;
        let key = private_key(&tls.private_key)?;
        let mut roots = RootCertStore::empty();
        for certificate in certificates(&tls.ca_certificates)? {
            roots
                .add(certificate)
                .map_err(|error| file_error(&tls.ca_certificates, error))?;
        }
        let server = ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|error| TlsError::Rustls(error.to_string()))?;
        let client = ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(NodeTlsContext {
            acceptor: TlsAcceptor::from(Arc::new(server)),
            connector: TlsConnector::from(Arc::new(client)),
        })
    }
}

/// The TLS server name for a node whose name is `name@host`.
pub(crate) fn server_name(host: &str) -> Result<ServerName<'static>, TlsError> {
    ServerName::try_from(host.to_string()).map_err(|_| TlsError::ServerName(host.to_string()))
}
