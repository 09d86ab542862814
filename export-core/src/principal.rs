//! Who calls the export API: a [`Principal`] (user, organisation, its kind, scopes) and the
//! [`Scope`]s it holds. Public as [`crate::service::Principal`], [`crate::service::Scope`] and
//! [`crate::service::Organisation`]; kept in a leaf module so that access rules (the trip
//! schema's among them) can take a principal without depending on the service.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::error::{ExportError, Result};
use crate::job::Owner;

/// A permission of the export API (`export.create`, ...).
///
/// # Examples
///
/// ```
/// use export_core::service::Scope;
/// assert_eq!("export.download".parse::<Scope>()?, Scope::Download);
/// assert_eq!(Scope::Delete.to_string(), "export.delete");
/// assert_eq!(Scope::parse_list("READ_EXPORTS")?.len(), 4);
/// assert!("export.fly".parse::<Scope>().unwrap_err().to_string().contains("export.fly"));
/// # Ok::<(), export_core::ExportError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Scope {
    /// `export.create`: create an export.
    Create,
    /// `export.list`: list one's exports.
    List,
    /// `export.read`: read one export.
    Read,
    /// `export.status`: read an export's status.
    Status,
    /// `export.cancel`: cancel an export.
    Cancel,
    /// `export.download`: download an export's file.
    Download,
    /// `export.delete`: delete an export.
    Delete,
    /// `export.admin`: act for other owners (their schedules, platforms) and export what the
    /// [access policy](crate::access::AccessPolicy) keeps from others. Not part of
    /// `READ_EXPORTS` or `WRITE_EXPORTS`.
    Admin,
}

impl Scope {
    /// Every scope, [`Scope::Admin`] included.
    pub const ALL: &'static [Scope] = &[
        Scope::Create,
        Scope::List,
        Scope::Read,
        Scope::Status,
        Scope::Cancel,
        Scope::Download,
        Scope::Delete,
        Scope::Admin,
    ];

    /// The scopes of the export API: `READ_EXPORTS` and `WRITE_EXPORTS`, without
    /// [`Scope::Admin`].
    // `ALL` lists `Admin` last.
    pub const EXPORTS: &'static [Scope] = Scope::ALL.split_at(7).0;

    /// What the catalogue seed's `READ_EXPORTS` grants.
    pub const READ_EXPORTS: &'static [Scope] =
        &[Scope::List, Scope::Read, Scope::Status, Scope::Download];

    /// What the catalogue seed's `WRITE_EXPORTS` grants.
    pub const WRITE_EXPORTS: &'static [Scope] = &[Scope::Create, Scope::Cancel, Scope::Delete];

    /// The dotted name.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Create => "export.create",
            Scope::List => "export.list",
            Scope::Read => "export.read",
            Scope::Status => "export.status",
            Scope::Cancel => "export.cancel",
            Scope::Download => "export.download",
            Scope::Delete => "export.delete",
            Scope::Admin => "export.admin",
        }
    }

    /// Parses a comma- or space-separated list of scope names and of the groups `READ_EXPORTS`
    /// and `WRITE_EXPORTS`.
    ///
    /// # Errors
    ///
    /// [`ExportError::InvalidRequest`] on field `scopes` naming the first unknown scope.
    pub fn parse_list(text: &str) -> Result<BTreeSet<Scope>> {
        let mut scopes = BTreeSet::new();
        for name in text
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
        {
            match name {
                "READ_EXPORTS" => scopes.extend(Scope::READ_EXPORTS),
                "WRITE_EXPORTS" => scopes.extend(Scope::WRITE_EXPORTS),
                _ => {
                    scopes.insert(name.parse()?);
                }
            }
        }
        Ok(scopes)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = ExportError;

    fn from_str(s: &str) -> Result<Scope> {
        Scope::ALL
            .iter()
            .copied()
            .find(|scope| scope.as_str() == s)
            .ok_or_else(|| {
                ExportError::request(
                    "scopes",
                    format!(
                        "unknown scope `{s}`; expected one of: {}, READ_EXPORTS, WRITE_EXPORTS",
                        Scope::ALL
                            .iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })
    }
}

/// What a principal's organisation is, for the [access policy](crate::access::AccessPolicy).
///
/// # Examples
///
/// ```
/// use export_core::service::{Organisation, Principal};
/// let p = Principal::new("u-1", Some("op-7")).operator(7);
/// assert_eq!(p.organisation, Organisation::Operator(7));
/// assert_eq!(Principal::new("u-2", None).organisation, Organisation::Other);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub enum Organisation {
    /// A carpool operator, with its operator id (the ids of `filters.operators`).
    Operator(i64),
    /// A territory (local authority), with its territory id (the ids of
    /// `filters.territories`: an AOM, EPCI, INSEE, département or region code).
    Territory(String),
    /// Another organisation, or none.
    #[default]
    Other,
}

impl fmt::Display for Organisation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Organisation::Operator(id) => write!(f, "operator {id}"),
            Organisation::Territory(id) => write!(f, "territory `{id}`"),
            Organisation::Other => f.write_str("no operator or territory"),
        }
    }
}

/// Who is calling: a user, their organisation (its id, the ownership key, and its
/// [kind](Organisation)), and the scopes of their token.
///
/// The owner of what a principal creates is the pair (`user_id`, `organisation_id`).
///
/// # Examples
///
/// ```
/// use export_core::service::{Principal, Scope};
/// let p = Principal::new("u-1", Some("op-7")).with_scopes("export.create,READ_EXPORTS")?;
/// assert!(p.has(Scope::Create) && p.has(Scope::Download));
/// assert!(!p.has(Scope::Delete) && !p.is_admin());
/// assert!(Principal::new("u-1", None).with_scopes("export.nope").is_err());
/// assert!(Principal::new("root", None).with_scope(Scope::Admin).is_admin());
/// # Ok::<(), export_core::ExportError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The user.
    pub user_id: String,
    /// The user's organisation id (the ownership key), when there is one.
    pub organisation_id: Option<String>,
    /// What the organisation is: an operator, a territory or another one.
    pub organisation: Organisation,
    /// What the user may do.
    pub scopes: BTreeSet<Scope>,
}

impl Principal {
    /// A principal without scopes.
    pub fn new(user_id: impl Into<String>, organisation_id: Option<&str>) -> Principal {
        Principal {
            user_id: user_id.into(),
            organisation_id: organisation_id.map(str::to_string),
            organisation: Organisation::Other,
            scopes: BTreeSet::new(),
        }
    }

    /// Says the organisation is operator `operator_id`.
    pub fn operator(mut self, operator_id: i64) -> Principal {
        self.organisation = Organisation::Operator(operator_id);
        self
    }

    /// Says the organisation is territory `territory_id`.
    pub fn territory(mut self, territory_id: impl Into<String>) -> Principal {
        self.organisation = Organisation::Territory(territory_id.into());
        self
    }

    /// Sets the organisation's kind.
    pub fn with_organisation(mut self, organisation: Organisation) -> Principal {
        self.organisation = organisation;
        self
    }

    /// True when the principal holds the administrator scope [`Scope::Admin`].
    pub fn is_admin(&self) -> bool {
        self.has(Scope::Admin)
    }

    /// Adds the scopes of a list (see [`Scope::parse_list`]).
    ///
    /// # Errors
    ///
    /// [`ExportError::InvalidRequest`] naming an unknown scope.
    pub fn with_scopes(mut self, scopes: &str) -> Result<Principal> {
        self.scopes.extend(Scope::parse_list(scopes)?);
        Ok(self)
    }

    /// Adds one scope.
    pub fn with_scope(mut self, scope: Scope) -> Principal {
        self.scopes.insert(scope);
        self
    }

    /// Adds every scope of the export API ([`Scope::EXPORTS`]), not [`Scope::Admin`].
    pub fn with_all_scopes(mut self) -> Principal {
        self.scopes.extend(Scope::EXPORTS);
        self
    }

    /// True when the principal holds `scope`.
    pub fn has(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }

    /// `Ok` when the principal holds `scope`.
    ///
    /// # Errors
    ///
    /// [`ExportError::Forbidden`] naming the scope.
    pub fn require(&self, scope: Scope) -> Result<()> {
        if self.has(scope) {
            Ok(())
        } else {
            Err(ExportError::Forbidden {
                scope: scope.as_str().to_string(),
                reason: None,
            })
        }
    }

    /// The owner of what the principal creates: (user, organisation).
    pub fn owner(&self) -> Owner {
        Owner {
            user_id: self.user_id.clone(),
            organisation_id: self.organisation_id.clone(),
        }
    }
}

/// The refusal of an access rule: [`ExportError::Forbidden`] with `reason`, naming
/// [`Scope::Admin`] as the scope that would allow it (public as [`crate::access::forbidden`]).
pub(crate) fn forbidden(reason: impl Into<String>) -> ExportError {
    ExportError::Forbidden {
        scope: Scope::Admin.as_str().to_string(),
        reason: Some(reason.into()),
    }
}
