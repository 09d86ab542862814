//! [`Pseudonymiser`]: the keyed pseudonyms that replace a purged job's actor in its audit events.

use std::fmt;

use crate::error::{ExportError, Result};
use crate::privacy::TripIdHasher;

/// What every pseudonym starts with, so readers (and a second purge) know it is one.
pub const PSEUDONYM_PREFIX: &str = "pseud:";

/// The shortest secret [`Pseudonymiser::new`] accepts, in bytes.
pub const MIN_SECRET_LEN: usize = 16;

/// Replaces user and organisation ids by `pseud:` + HMAC-SHA256 (hex) under a deployment
/// secret: the same id always gives the same pseudonym under one secret, so events can still
/// be counted per (pseudonymous) actor, but nobody without the secret can tell who it was.
/// User and organisation ids are hashed apart (`user` vs `organisation` domain), so a user
/// named like an organisation does not share its pseudonym.
///
/// A [`random`](Pseudonymiser::random) secret that is not kept makes pseudonyms unlinkable
/// even across purges.
///
/// # Examples
///
/// ```
/// use export_core::audit::Pseudonymiser;
/// let p = Pseudonymiser::new(b"a deployment secret of 32 bytes!")?;
/// let alice = p.user("alice");
/// assert!(alice.starts_with("pseud:") && alice.len() == 6 + 64);
/// assert_eq!(alice, p.user("alice"));
/// assert_ne!(alice, p.organisation("alice"));
/// assert_eq!(p.user(&alice), alice); // already a pseudonym: unchanged
/// assert!(Pseudonymiser::new(b"short").is_err());
/// # Ok::<(), export_core::ExportError>(())
/// ```
#[derive(Clone)]
pub struct Pseudonymiser {
    // The keyed HMAC-SHA256 of the opendata trip ids, reused under this secret.
    mac: TripIdHasher,
}

impl fmt::Debug for Pseudonymiser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pseudonymiser").finish_non_exhaustive()
    }
}

impl Pseudonymiser {
    /// A pseudonymiser keyed by `secret`.
    ///
    /// # Errors
    ///
    /// [`ExportError::InvalidRequest`] on field `audit_secret` when the secret is shorter than
    /// [`MIN_SECRET_LEN`] bytes.
    pub fn new(secret: impl AsRef<[u8]>) -> Result<Pseudonymiser> {
        let secret = secret.as_ref();
        if secret.len() < MIN_SECRET_LEN {
            return Err(ExportError::request(
                "audit_secret",
                format!(
                    "must be at least {MIN_SECRET_LEN} bytes, got {}",
                    secret.len()
                ),
            ));
        }
        Ok(Pseudonymiser {
            mac: TripIdHasher::new(secret),
        })
    }

    /// A pseudonymiser with a random secret held only by this value: its pseudonyms cannot be
    /// linked to those of any other run.
    pub fn random() -> Pseudonymiser {
        let mut secret = uuid::Uuid::new_v4().as_bytes().to_vec();
        secret.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
        Pseudonymiser {
            mac: TripIdHasher::new(&secret),
        }
    }

    /// The pseudonym of user `id` (`id` itself when it is already a pseudonym).
    pub fn user(&self, id: &str) -> String {
        self.pseudonym("user", id)
    }

    /// The pseudonym of organisation `id` (`id` itself when it is already a pseudonym).
    pub fn organisation(&self, id: &str) -> String {
        self.pseudonym("organisation", id)
    }

    /// The pseudonyms of an actor (user, organisation); `None` when both already are.
    pub(crate) fn actor(
        &self,
        user: &str,
        organisation: Option<&str>,
    ) -> Option<(String, Option<String>)> {
        let new_user = self.user(user);
        let new_organisation = organisation.map(|o| self.organisation(o));
        let changed = new_user != user || new_organisation.as_deref() != organisation;
        changed.then_some((new_user, new_organisation))
    }

    fn pseudonym(&self, domain: &str, id: &str) -> String {
        if is_pseudonym(id) {
            return id.to_string();
        }
        let mut out = [0u8; 64];
        let digest = self.mac.hash_into(&format!("{domain}\0{id}"), &mut out);
        format!("{PSEUDONYM_PREFIX}{digest}")
    }
}

/// True when `id` is a pseudonym made by a [`Pseudonymiser`].
pub fn is_pseudonym(id: &str) -> bool {
    id.strip_prefix(PSEUDONYM_PREFIX)
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}
