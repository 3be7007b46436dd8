use troupe_domain::personality::{Alias, PersonalityName};

/// Errors of the repository ports.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A personality with this name (case-insensitive) already exists.
    #[error("a personality named {0} already exists")]
    NameTaken(PersonalityName),
    /// The alias (case-insensitive) belongs to another personality, or equals a name.
    #[error("the alias {alias} is already used by {owner}")]
    AliasTaken {
        alias: Alias,
        owner: PersonalityName,
    },
    /// The record to update does not exist.
    #[error("not found")]
    NotFound,
    /// The store cannot be reached right now (a retry may succeed).
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    /// Anything else: a driver error, corrupt data, a failed decryption.
    #[error("unexpected store error: {0}")]
    Unexpected(String),
}
