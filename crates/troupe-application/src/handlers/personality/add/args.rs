//! The arguments of `add`, each parsed once into its value object.

use troupe_domain::personality::{Alias, AvatarUrl, ModelId, NameError, PersonalityName, Prompt};

use crate::handlers::common::{code, outcome};
use crate::{CommandOutcome, CommandRequest, OutcomeClass};

/// The arguments of `add`, each parsed into its value object.
pub(super) struct Parsed {
    pub(super) name: PersonalityName,
    pub(super) alias: Option<Alias>,
    pub(super) prompt: Option<Prompt>,
    pub(super) avatar: Option<AvatarUrl>,
    pub(super) model: Option<ModelId>,
}

/// Why the arguments of `add` are refused.
pub(super) enum ArgError {
    NoName,
    Invalid(NameError),
    AliasEqualsName,
}

impl From<NameError> for ArgError {
    fn from(error: NameError) -> Self {
        Self::Invalid(error)
    }
}

impl ArgError {
    pub(super) fn outcome(&self) -> CommandOutcome {
        match self {
            Self::NoName => outcome(
                OutcomeClass::InvalidInput,
                "Which name?",
                "Give the new personality a name, for example: add einstein",
            ),
            Self::Invalid(error) => outcome(
                OutcomeClass::InvalidInput,
                "Invalid input",
                format!("Not accepted: {}.", code(error.to_string())),
            ),
            Self::AliasEqualsName => outcome(
                OutcomeClass::InvalidInput,
                "Alias equals the name",
                "An alias must differ from the personality's own name.",
            ),
        }
    }
}

impl Parsed {
    pub(super) fn from(request: &CommandRequest) -> Result<Self, ArgError> {
        let args = &request.args;
        let name = PersonalityName::parse(args.first().ok_or(ArgError::NoName)?)?;
        let rest = args.words.get(1..).unwrap_or_default().join(" ");
        let alias = (!rest.trim().is_empty())
            .then(|| Alias::parse(&rest))
            .transpose()?;
        let prompt = args
            .tail
            .as_deref()
            .filter(|t| !t.trim().is_empty())
            .map(Prompt::parse)
            .transpose()?;
        let avatar = args
            .options
            .get("avatar")
            .map(|raw| AvatarUrl::parse(raw))
            .transpose()?;
        let model = args
            .options
            .get("model")
            .map(|raw| ModelId::parse(raw))
            .transpose()?;
        if alias.as_ref().is_some_and(|a| a.equals_name(&name)) {
            return Err(ArgError::AliasEqualsName);
        }
        Ok(Self {
            name,
            alias,
            prompt,
            avatar,
            model,
        })
    }
}
