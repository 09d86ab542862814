//! TLS to PostgreSQL through rustls (ring provider): the `sslmode` semantics of libpq, as far as
//! rustls allows, and the certificate roots.
//!
//! | mode | TLS | server certificate |
//! |---|---|---|
//! | `disable` | never | - |
//! | `prefer` | when the server offers it | not verified (encryption only, as libpq) |
//! | `require` | always | not verified; verified as `verify-ca` when a CA file is given (as libpq) |
//! | `verify-ca` | always | chain verified against the roots, host name not checked |
//! | `verify-full` | always | chain and host name verified |
//!
//! Unverified modes still check that the server holds the certificate's key (the handshake
//! signature); they protect against passive eavesdropping, not against an active attacker.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::error::{ExportError, Result};

/// How a connection uses TLS: libpq's `sslmode` values, set by
/// [`PgOptions::ssl_mode`](super::PgOptions::ssl_mode) (which has a table of what each checks)
/// or the URL's `sslmode` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PgSslMode {
    /// Never TLS.
    Disable,
    /// TLS when the server offers it, without verifying its certificate (libpq's default).
    #[default]
    Prefer,
    /// Always TLS; the certificate is verified only when a CA file is given (then as
    /// [`PgSslMode::VerifyCa`]).
    Require,
    /// Always TLS; the certificate chain is verified against the roots, not the host name.
    VerifyCa,
    /// Always TLS; the certificate chain and the host name are verified.
    VerifyFull,
}

impl PgSslMode {
    /// The libpq name (`disable`, `prefer`, `require`, `verify-ca`, `verify-full`).
    pub fn as_str(self) -> &'static str {
        match self {
            PgSslMode::Disable => "disable",
            PgSslMode::Prefer => "prefer",
            PgSslMode::Require => "require",
            PgSslMode::VerifyCa => "verify-ca",
            PgSslMode::VerifyFull => "verify-full",
        }
    }
}

impl FromStr for PgSslMode {
    type Err = ExportError;

    /// Parses a libpq `sslmode` name (`allow` is read as `prefer`).
    fn from_str(s: &str) -> Result<PgSslMode> {
        Ok(match s {
            "disable" => PgSslMode::Disable,
            "allow" | "prefer" => PgSslMode::Prefer,
            "require" => PgSslMode::Require,
            "verify-ca" => PgSslMode::VerifyCa,
            "verify-full" => PgSslMode::VerifyFull,
            other => {
                return Err(ExportError::request(
                    "url",
                    format!(
                        "unknown sslmode `{other}`; expected disable, prefer, require, verify-ca or verify-full"
                    ),
                ));
            }
        })
    }
}

/// Which root certificates verify the server when no CA file is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PgRoots {
    /// The operating system's store (`SSL_CERT_FILE` / `SSL_CERT_DIR` when set).
    #[default]
    System,
    /// Mozilla's roots compiled into the crate (`webpki-roots`).
    Webpki,
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The TLS settings found in a connection string, removed from it (tokio-postgres knows neither
/// `verify-ca`/`verify-full` nor `sslrootcert`).
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct UrlTls {
    pub mode: Option<PgSslMode>,
    pub root_cert: Option<PathBuf>,
}

/// Splits `sslmode` and `sslrootcert` off `url` (a `postgres://` URL or a `key=value` string):
/// returns the rest, for tokio-postgres, and what was found.
///
/// # Errors
///
/// [`ExportError::InvalidRequest`] on field `url` for an unknown `sslmode`.
pub(crate) fn split_url(url: &str) -> Result<(String, UrlTls)> {
    let mut found = UrlTls::default();
    let mut take = |key: &str, value: &str| -> Result<bool> {
        match key {
            "sslmode" => {
                found.mode = Some(value.parse()?);
                Ok(true)
            }
            "sslrootcert" => {
                found.root_cert = Some(PathBuf::from(value));
                Ok(true)
            }
            _ => Ok(false),
        }
    };
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let Some((base, query)) = url.split_once('?') else {
            return Ok((url.to_owned(), found));
        };
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decoded: String = url::form_urlencoded::parse(value.as_bytes())
                .next()
                .map(|(k, v)| if v.is_empty() { k } else { v }.into_owned())
                .unwrap_or_default();
            if !take(key, &decoded)? {
                kept.push(pair);
            }
        }
        let rest = if kept.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        Ok((rest, found))
    } else {
        let mut kept = Vec::new();
        for token in url.split_whitespace() {
            let consumed = match token.split_once('=') {
                Some((key, value)) => take(key.trim(), value.trim_matches('\''))?,
                None => false,
            };
            if !consumed {
                kept.push(token);
            }
        }
        Ok((kept.join(" "), found))
    }
}

/// The rustls client configuration for `mode` with `roots` or, when given, the CA file
/// `ca_file` (its certificates only).
///
/// # Errors
///
/// [`ExportError::Config`] on field `tls.ca_file` when the file cannot be read or holds no
/// certificate, on field `tls.roots` when no root could be loaded.
pub(crate) fn client_config(
    mode: PgSslMode,
    roots: PgRoots,
    ca_file: Option<&Path>,
) -> Result<ClientConfig> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| ExportError::config("tls", format!("no usable TLS version: {e}")))?;
    let verify = match mode {
        PgSslMode::Disable | PgSslMode::Prefer => None,
        PgSslMode::Require if ca_file.is_none() => None,
        PgSslMode::Require | PgSslMode::VerifyCa => Some(false),
        PgSslMode::VerifyFull => Some(true),
    };
    let config = match verify {
        None => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Unverified {
                algorithms: provider.signature_verification_algorithms,
            }))
            .with_no_client_auth(),
        Some(check_name) => {
            let store = Arc::new(root_store(roots, ca_file)?);
            let inner = WebPkiServerVerifier::builder_with_provider(store, provider.clone())
                .build()
                .map_err(|e| ExportError::config("tls.roots", e.to_string()))?;
            if check_name {
                builder.with_webpki_verifier(inner).with_no_client_auth()
            } else {
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(AnyName { inner }))
                    .with_no_client_auth()
            }
        }
    };
    Ok(config)
}

fn root_store(roots: PgRoots, ca_file: Option<&Path>) -> Result<RootCertStore> {
    let mut store = RootCertStore::empty();
    if let Some(path) = ca_file {
        let bad = |reason: String| {
            ExportError::config("tls.ca_file", format!("{}: {reason}", path.display()))
        };
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| bad(e.to_string()))?
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| bad(e.to_string()))?;
        let (added, _ignored) = store.add_parsable_certificates(certs);
        if added == 0 {
            return Err(bad("no certificate in the file".into()));
        }
        return Ok(store);
    }
    match roots {
        PgRoots::Webpki => store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        PgRoots::System => {
            let found = rustls_native_certs::load_native_certs();
            store.add_parsable_certificates(found.certs);
            if store.is_empty() {
                let why = found
                    .errors
                    .first()
                    .map_or_else(|| "none installed".to_owned(), ToString::to_string);
                return Err(ExportError::config(
                    "tls.roots",
                    format!(
                        "no system root certificate could be loaded ({why}); use `webpki` roots or a CA file"
                    ),
                ));
            }
        }
    }
    Ok(store)
}

/// Accepts any certificate chain, but checks the handshake signatures with the provider's
/// algorithms (`prefer`, `require` without a CA file).
#[derive(Debug)]
struct Unverified {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Verifies the chain against the roots but not the host name (`verify-ca`).
#[derive(Debug)]
struct AnyName {
    inner: Arc<WebPkiServerVerifier>,
}

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        match self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForName
                | rustls::CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_url_takes_sslmode_and_rootcert_off_a_url() {
        let (rest, tls) = split_url(
            "postgres://u@h:5/db?application_name=x&sslmode=verify-full&sslrootcert=%2Ftmp%2Fca.pem",
        )
        .unwrap();
        assert_eq!(rest, "postgres://u@h:5/db?application_name=x");
        assert_eq!(tls.mode, Some(PgSslMode::VerifyFull));
        assert_eq!(tls.root_cert, Some(PathBuf::from("/tmp/ca.pem")));
        let (rest, tls) = split_url("postgres://u@h/db?sslmode=disable").unwrap();
        assert_eq!(rest, "postgres://u@h/db");
        assert_eq!(tls.mode, Some(PgSslMode::Disable));
        let (rest, tls) = split_url("postgres://u@h/db").unwrap();
        assert_eq!(
            (rest.as_str(), tls),
            ("postgres://u@h/db", UrlTls::default())
        );
    }

    #[test]
    fn split_url_takes_sslmode_off_a_key_value_string() {
        let (rest, tls) = split_url("host=h user=u sslmode=verify-ca dbname=db").unwrap();
        assert_eq!(rest, "host=h user=u dbname=db");
        assert_eq!(tls.mode, Some(PgSslMode::VerifyCa));
    }

    #[test]
    fn split_url_refuses_an_unknown_sslmode() {
        let err = split_url("postgres://h/db?sslmode=maybe").unwrap_err();
        assert_eq!(err.code(), "INVALID_REQUEST");
        assert!(err.to_string().contains("verify-full"), "{err}");
    }

    #[test]
    fn a_ca_file_without_certificates_is_a_config_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty.pem");
        std::fs::write(&path, "not a certificate\n").unwrap();
        let err = client_config(PgSslMode::VerifyFull, PgRoots::System, Some(&path)).unwrap_err();
        assert_eq!(err.code(), "CONFIG");
        assert!(err.to_string().contains("tls.ca_file"), "{err}");
        let err = client_config(
            PgSslMode::VerifyFull,
            PgRoots::System,
            Some(&dir.path().join("missing.pem")),
        )
        .unwrap_err();
        assert_eq!(err.code(), "CONFIG");
    }

    #[test]
    fn webpki_roots_build_a_verifying_config() {
        client_config(PgSslMode::VerifyFull, PgRoots::Webpki, None).unwrap();
        client_config(PgSslMode::VerifyCa, PgRoots::Webpki, None).unwrap();
        client_config(PgSslMode::Require, PgRoots::Webpki, None).unwrap();
    }
}
