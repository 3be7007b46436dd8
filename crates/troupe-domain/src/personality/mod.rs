//! Personalities: the named personas that speak through webhooks.
//!
//! Names and aliases form one global, case-insensitive registry. The [`Personality`] aggregate
//! owns its profile and aliases; uniqueness across personalities is the repository's job, and the
//! cross-aggregate rules (an alias may not equal another personality's name) are pure functions
//! here that handlers call with what the repository reported.

mod aggregate;
mod lookup;
mod values;

pub use crate::text::lookup_key;
pub use aggregate::{Actor, Personality, PersonalityError, Profile};
pub use lookup::{LookupMatch, mention_candidates, resolve};
pub use values::{
    Alias, AvatarUrl, DisplayName, ErrorMessage, IDENTIFIER_ALPHABET, ModelId, NameError,
    PersonalityName, Prompt, RESERVED_NAMES,
};
