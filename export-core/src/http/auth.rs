//! Who is calling: the [`Authenticator`] trait a host implements (its own tokens, sessions or
//! mTLS), and [`BearerTokens`], a token file for the server and the tests.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::error::{ExportError, Result};
use crate::principal::{Principal, Scope};

/// Why a request has no principal: answered `401` with a `WWW-Authenticate: Bearer` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unauthenticated {
    /// Said to the client (never the token).
    pub reason: String,
    /// A credential was given but is not valid (`error="invalid_token"` in the challenge).
    pub invalid_token: bool,
}

/// Turns a request into the principal it acts for. Called before anything else of the
/// request is read; the scopes it gives are checked by the routes and again by the engine.
pub trait Authenticator: Send + Sync {
    /// The principal of the request whose head is `parts`.
    ///
    /// # Errors
    ///
    /// [`Unauthenticated`] when the request carries no valid credential.
    fn authenticate(&self, parts: &Parts) -> std::result::Result<Principal, Unauthenticated>;
}

/// One entry of a token file: the principal a token stands for.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenEntry {
    user: String,
    #[serde(default)]
    organisation: Option<String>,
    /// Scope names or the groups `READ_EXPORTS` / `WRITE_EXPORTS`: a list or one
    /// comma-separated string. Required: a token without scopes would be a silent no.
    scopes: Scopes,
    #[serde(default)]
    operator: Option<i64>,
    #[serde(default)]
    territory: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Scopes {
    List(Vec<String>),
    Text(String),
}

/// Bearer tokens from a file (or text): each token maps to a user, an organisation, its
/// scopes, and optionally the operator or territory the organisation is. Tokens are kept only
/// as their SHA-256, so a lookup's timing tells nothing about them.
///
/// JSON (`{"<token>": {...}}`) or TOML (`["<token>"]` tables), with the keys `user`,
/// `organisation`, `scopes` (required), `operator`, `territory`; unknown keys are refused.
///
/// # Examples
///
/// ```
/// use export_core::http::{Authenticator, BearerTokens};
/// use export_core::service::Scope;
///
/// let tokens = BearerTokens::from_toml(r#"
///     ["s3cret-alice"]
///     user = "alice"
///     organisation = "op-7"
///     operator = 7
///     scopes = ["READ_EXPORTS", "export.create"]
/// "#)?;
/// let request = axum::http::Request::get("/v3/export")
///     .header("authorization", "Bearer s3cret-alice")
///     .body(())
///     .unwrap();
/// let (parts, ()) = request.into_parts();
/// let alice = tokens.authenticate(&parts).unwrap();
/// assert_eq!(alice.user_id, "alice");
/// assert!(alice.has(Scope::Create) && !alice.has(Scope::Delete));
///
/// let typo = BearerTokens::from_json(r#"{"t": {"user": "bob", "scope": "READ_EXPORTS"}}"#).unwrap_err();
/// assert!(typo.to_string().contains("unknown field `scope`"), "{typo}");
/// # Ok::<(), export_core::ExportError>(())
/// ```
#[derive(Clone)]
pub struct BearerTokens {
    by_hash: HashMap<[u8; 32], Principal>,
}

impl fmt::Debug for BearerTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BearerTokens")
            .field("tokens", &self.by_hash.len())
            .finish()
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl BearerTokens {
    /// Reads a token file: TOML when its name ends in `.toml`, JSON otherwise.
    ///
    /// # Errors
    ///
    /// [`ExportError::Io`] naming the path; [`ExportError::Config`] (setting `tokens`) for
    /// a file that does not parse, an unknown key, an empty token or user, or an unknown scope.
    pub fn from_file(path: impl AsRef<Path>) -> Result<BearerTokens> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| ExportError::io(path, e))?;
        if path.extension().is_some_and(|e| e == "toml") {
            BearerTokens::from_toml(&text)
        } else {
            BearerTokens::from_json(&text)
        }
    }

    /// Tokens from JSON text.
    ///
    /// # Errors
    ///
    /// As [`BearerTokens::from_file`].
    pub fn from_json(text: &str) -> Result<BearerTokens> {
        let entries: HashMap<String, TokenEntry> = crate::error::from_json("tokens", text)
            .map_err(|e| ExportError::config("tokens", e.to_string()))?;
        BearerTokens::build(entries)
    }

    /// Tokens from TOML text.
    ///
    /// # Errors
    ///
    /// As [`BearerTokens::from_file`].
    pub fn from_toml(text: &str) -> Result<BearerTokens> {
        let entries: HashMap<String, TokenEntry> =
            toml::from_str(text).map_err(|e| ExportError::config("tokens", e.to_string()))?;
        BearerTokens::build(entries)
    }

    fn build(entries: HashMap<String, TokenEntry>) -> Result<BearerTokens> {
        let mut by_hash = HashMap::with_capacity(entries.len());
        for (token, entry) in entries {
            if token.trim().is_empty() || token.bytes().any(|b| !(0x21..=0x7e).contains(&b)) {
                return Err(ExportError::config(
                    "tokens",
                    format!(
                        "the token of user `{}` is empty or has characters a bearer token cannot",
                        entry.user
                    ),
                ));
            }
            if entry.user.trim().is_empty() {
                return Err(ExportError::config("tokens", "a token has an empty `user`"));
            }
            let scopes = match &entry.scopes {
                Scopes::Text(text) => Scope::parse_list(text),
                Scopes::List(list) => Scope::parse_list(&list.join(",")),
            }
            .map_err(|e| ExportError::config("tokens", format!("user `{}`: {e}", entry.user)))?;
            let mut principal = Principal::new(entry.user, entry.organisation.as_deref());
            principal.scopes = scopes;
            match (entry.operator, entry.territory) {
                (Some(_), Some(_)) => {
                    return Err(ExportError::config(
                        "tokens",
                        format!(
                            "user `{}` is given both an operator and a territory",
                            principal.user_id
                        ),
                    ));
                }
                (Some(id), None) => principal = principal.operator(id),
                (None, Some(id)) => principal = principal.territory(id),
                (None, None) => {}
            }
            by_hash.insert(digest(&token), principal);
        }
        Ok(BearerTokens { by_hash })
    }

    /// How many tokens.
    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    /// True when there is none.
    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }
}

impl Authenticator for BearerTokens {
    fn authenticate(&self, parts: &Parts) -> std::result::Result<Principal, Unauthenticated> {
        let Some(header) = parts.headers.get(AUTHORIZATION) else {
            return Err(Unauthenticated {
                reason: "an `Authorization: Bearer <token>` header is required".into(),
                invalid_token: false,
            });
        };
        let invalid = || Unauthenticated {
            reason: "the bearer token is malformed or unknown".into(),
            invalid_token: true,
        };
        let text = header.to_str().map_err(|_| invalid())?;
        let (scheme, token) = text.trim().split_once(' ').ok_or_else(invalid)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(invalid());
        }
        self.by_hash
            .get(&digest(token.trim()))
            .cloned()
            .ok_or_else(invalid)
    }
}
