//! This module deals with TLS for the native driver: `wss://` sockets and `https://` polls
//! go through rustls (ring) and trust the Mozilla roots (webpki-roots) plus any root the
//! application adds, e.g. a company's private CA or a test certificate. In the browser the
//! page's own TLS applies and this module does not exist.

use std::sync::{Arc, Mutex};

use rustls::ClientConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

use crate::Error;

/// Roots added by the application, and the configuration built from them (rebuilt after an
/// addition).
static EXTRA: Mutex<(Vec<CertificateDer<'static>>, Option<Arc<ClientConfig>>)> =
    Mutex::new((Vec::new(), None));

/// Trusts the certificates in `pem` (one or more `-----BEGIN CERTIFICATE-----` blocks) as
/// roots for every connection this process makes from now on, beside the Mozilla roots.
/// Returns how many were added; text with no certificate, or one rustls cannot use, is an
/// error and adds nothing.
pub fn add_root_pem(pem: &str) -> Result<usize, Error> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| Error::Transport(format!("unreadable PEM certificate: {e}")))?;
    if certs.is_empty() {
        return Err(Error::Transport("no PEM certificate in the text".into()));
    }
    // Checked before it counts: a root rustls refuses would otherwise fail every connection.
    let mut probe = rustls::RootCertStore::empty();
    for c in &certs {
        probe.add(c.clone()).map_err(|e| Error::Transport(format!("unusable root: {e}")))?;
    }
    let mut g = EXTRA.lock().unwrap_or_else(|e| e.into_inner());
    let n = certs.len();
    g.0.extend(certs);
    g.1 = None;
    Ok(n)
}

/// The client configuration for the next connection.
pub(crate) fn client_config() -> Arc<ClientConfig> {
    let mut g = EXTRA.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(c) = &g.1 {
        return c.clone();
    }
    let mut roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    for c in &g.0 {
        // Checked when added.
        let _ = roots.add(c.clone());
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let config = Arc::new(config);
    g.1 = Some(config.clone());
    config
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_without_a_usable_certificate_adds_nothing() {
        assert!(add_root_pem("").is_err());
        assert!(add_root_pem("not a certificate").is_err());
        let garbage = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(add_root_pem(garbage).is_err());
        // Nothing was added: the configuration still builds, with the Mozilla roots alone.
        let _ = client_config();
    }
}
