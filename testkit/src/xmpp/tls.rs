//! A TLS client configuration for test servers with self-signed certificates.

use std::path::Path;
use std::sync::Arc;

use tokio_rustls::rustls::crypto::aws_lc_rs;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

/// A TLS client that trusts exactly the certificate in the PEM file `certificate` (the one a
/// server made in its data directory: `<data_dir>/tls/cert.pem`).
pub fn tls_connector(certificate: &Path) -> TlsConnector {
    let pem = std::fs::read(certificate)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", certificate.display()));
    let mut roots = RootCertStore::empty();
    for certificate in rustls_pemfile::certs(&mut pem.as_slice()) {
        roots
            .add(certificate.expect("a PEM certificate"))
            .expect("a trust anchor");
    }
    let config = ClientConfig::builder_with_provider(Arc::new(aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}
