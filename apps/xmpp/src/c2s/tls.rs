//! The server's TLS configuration: a certificate from files, or a
//! self-signed one made on first start and kept in the data directory.
//!
//! Why self-signed by default: a server started with no configuration must
//! still offer STARTTLS (clients refuse to send passwords in the clear, and
//! DESIGN.md wants no file needed to start). The certificate is made with
//! rcgen for the served domains, written to `<data_dir>/tls/cert.pem` and
//! `key.pem` (the key readable by the owner only), and loaded from there on
//! every later start, so clients that pinned it keep trusting it. An operator
//! replaces it by configuring [`CertificateFiles`].
//!
//! The crypto provider is rustls' aws-lc-rs, named explicitly so that another
//! crate enabling a second provider cannot make the choice ambiguous.
//!
//! Edges: a certificate file without a certificate, or a key file without a
//! key, is an error naming the file; if only one of the two self-signed
//! files exists (an interrupted first start), both are made again.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio_rustls::rustls::crypto::aws_lc_rs;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::ServerConfig;

use super::settings::CertificateFiles;

/// The directory under the data directory that holds the self-signed
/// certificate.
pub const TLS_DIR: &str = "tls";
/// The self-signed certificate's file name.
pub const CERTIFICATE_FILE: &str = "cert.pem";
/// The self-signed private key's file name.
pub const PRIVATE_KEY_FILE: &str = "key.pem";

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// A file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// The certificate file holds no PEM certificate.
    #[error("no certificate in {path}")]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// The key file holds no PEM private key.
    #[error("no private key in {path}")]
    NoPrivateKey {
        /// The file.
        path: PathBuf,
    },
    /// The self-signed certificate could not be made.
    #[error("cannot generate a self-signed certificate: {reason}")]
    Generate {
        /// rcgen's reason.
        reason: String,
    },
    /// rustls refused the certificate or key (e.g. they do not match).
    #[error("TLS configuration refused: {reason}")]
    Config {
        /// rustls' reason.
        reason: String,
    },
}

/// Where the self-signed certificate of `data_dir` lives.
pub fn self_signed_files(data_dir: &Path) -> CertificateFiles {
    let directory = data_dir.join(TLS_DIR);
    CertificateFiles {
        certificate: directory.join(CERTIFICATE_FILE),
        private_key: directory.join(PRIVATE_KEY_FILE),
    }
}

/// The rustls server configuration: from `certificate` if given, else from
/// the self-signed certificate of `data_dir` (made for `domains` if it does
/// not exist yet). Blocking file I/O: call it at start-up.
///
/// With `data_dir` `None` (a cluster node, which keeps nothing on disk) the
/// self-signed certificate is made in memory at every start.
pub fn server_config(
    certificate: Option<&CertificateFiles>,
    data_dir: Option<&Path>,
    domains: &[String],
) -> Result<Arc<ServerConfig>, TlsError> {
    let (chain, key) = match (certificate, data_dir) {
        (Some(files), _) => load(files)?,
        (None, Some(data_dir)) => {
            let files = self_signed_files(data_dir);
            ensure_self_signed(&files, domains)?;
            load(&files)?
        }
        (None, None) => self_signed_in_memory(domains)?,
    };
    let config = ServerConfig::builder_with_provider(Arc::new(aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|error| TlsError::Config {
            reason: error.to_string(),
        })?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|error| TlsError::Config {
            reason: error.to_string(),
        })?;
    Ok(Arc::new(config))
}

/// A self-signed certificate for `domains`, never written anywhere.
fn self_signed_in_memory(domains: &[String]) -> Result<(Chain, PrivateKeyDer<'static>), TlsError> {
    let generated = rcgen::generate_simple_self_signed(domains.to_vec()).map_err(|error| {
        TlsError::Generate {
            reason: error.to_string(),
        }
    })?;
    let key = PrivateKeyDer::Pkcs8(generated.key_pair.serialize_der().into());
    tracing::info!(?domains, "made a self-signed TLS certificate in memory");
    Ok((vec![generated.cert.der().clone()], key))
}

/// Makes the self-signed certificate and key unless both exist.
fn ensure_self_signed(files: &CertificateFiles, domains: &[String]) -> Result<(), TlsError> {
    if files.certificate.is_file() && files.private_key.is_file() {
        return Ok(());
    }
    let generated = rcgen::generate_simple_self_signed(domains.to_vec()).map_err(|error| {
        TlsError::Generate {
            reason: error.to_string(),
        }
    })?;
    if let Some(directory) = files.certificate.parent() {
        fs::create_dir_all(directory).map_err(|source| TlsError::Write {
            path: directory.to_path_buf(),
            source,
        })?;
    }
    write_new(
        &files.private_key,
        generated.key_pair.serialize_pem().as_bytes(),
        true,
    )?;
    write_new(&files.certificate, generated.cert.pem().as_bytes(), false)?;
    tracing::info!(
        certificate = %files.certificate.display(),
        ?domains,
        "made a self-signed TLS certificate"
    );
    Ok(())
}

/// Writes `contents` to a temporary file beside `path`, then renames it, so
/// that a crash never leaves half a file; `secret` files are owner-only.
fn write_new(path: &Path, contents: &[u8], secret: bool) -> Result<(), TlsError> {
    use std::io::Write as _;
    let temporary = path.with_extension("pem.tmp");
    let write_error = |source| TlsError::Write {
        path: temporary.clone(),
        source,
    };
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut file = options.open(&temporary).map_err(write_error)?;
    file.write_all(contents).map_err(write_error)?;
    file.sync_all().map_err(write_error)?;
    fs::rename(&temporary, path).map_err(|source| TlsError::Write {
        path: path.to_path_buf(),
        source,
    })
}

type Chain = Vec<CertificateDer<'static>>;

fn load(files: &CertificateFiles) -> Result<(Chain, PrivateKeyDer<'static>), TlsError> {
    let read = |path: &Path| {
        fs::read(path).map_err(|source| TlsError::Read {
            path: path.to_path_buf(),
            source,
        })
    };
    let certificate_pem = read(&files.certificate)?;
    let chain = rustls_pemfile::certs(&mut certificate_pem.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| TlsError::Read {
            path: files.certificate.clone(),
            source,
        })?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: files.certificate.clone(),
        });
    }
    let key_pem = read(&files.private_key)?;
    let key = rustls_pemfile::private_key(&mut key_pem.as_slice())
        .map_err(|source| TlsError::Read {
            path: files.private_key.clone(),
            source,
        })?
        .ok_or_else(|| TlsError::NoPrivateKey {
            path: files.private_key.clone(),
        })?;
    Ok((chain, key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_signed_is_made_once_and_reused() {
        let data_dir = tempfile::tempdir().expect("tempdir");
        let domains = vec!["localhost".to_owned()];
        server_config(None, Some(data_dir.path()), &domains).expect("made");
        let files = self_signed_files(data_dir.path());
        let first = fs::read(&files.certificate).expect("written");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(&files.private_key)
                .expect("key")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        server_config(None, Some(data_dir.path()), &domains).expect("reused");
        assert_eq!(fs::read(&files.certificate).expect("kept"), first);
        // Given explicitly, the same files work.
        server_config(Some(&files), Some(Path::new("/nonexistent")), &domains).expect("from files");
        // Without a data directory the certificate is made in memory.
        server_config(None, None, &domains).expect("in memory");
    }

    #[test]
    fn bad_files_are_named_in_errors() {
        let directory = tempfile::tempdir().expect("tempdir");
        let empty = directory.path().join("empty.pem");
        fs::write(&empty, "").expect("write");
        let files = CertificateFiles {
            certificate: empty.clone(),
            private_key: empty.clone(),
        };
        assert!(matches!(
            server_config(Some(&files), Some(directory.path()), &[]),
            Err(TlsError::NoCertificate { path }) if path == empty
        ));
        let missing = CertificateFiles {
            certificate: directory.path().join("missing.pem"),
            private_key: empty,
        };
        assert!(matches!(
            server_config(Some(&missing), Some(directory.path()), &[]),
            Err(TlsError::Read { .. })
        ));
    }
}
