//! `list [page]`: the caller's personalities, 10 per page.

use crate::handlers::HandlerResult;
use crate::handlers::common::{bold, code, outcome, plain};
use crate::{CommandRequest, Deps, OutcomeClass};

/// Personalities per page.
const PER_PAGE: u64 = 10;

/// `InvalidInput` for a page that is not a number or out of range, `Info` with how to add one
/// when the caller has none, otherwise one line per personality and `page p of n`.
pub(crate) async fn run(deps: &Deps, request: &CommandRequest) -> HandlerResult {
    let page = match request.args.first() {
        None => 1,
        Some(raw) => match parse_page(raw) {
            Some(page) => page,
            None => {
                return Ok(outcome(
                    OutcomeClass::InvalidInput,
                    "Which page?",
                    "The page must be a number, for example: list 2",
                ));
            }
        },
    };
    let offset = page.saturating_sub(1).saturating_mul(PER_PAGE);
    let listing = deps
        .personalities
        .list_by_owner(request.invoker.id, offset, PER_PAGE)
        .await?;
    if listing.total == 0 {
        return Ok(outcome(
            OutcomeClass::Info,
            "No personalities yet",
            format!(
                "You have no personalities. Create one with {}, for example: {} add einstein",
                code("add"),
                deps.config.prefix
            ),
        ));
    }
    let pages = listing.total.div_ceil(PER_PAGE);
    if page == 0 || page > pages {
        return Ok(outcome(
            OutcomeClass::InvalidInput,
            "No such page",
            format!(
                "Choose a page from {} to {}.",
                code("1"),
                code(pages.to_string())
            ),
        ));
    }
    let mut lines: Vec<String> = listing
        .items
        .iter()
        .map(|p| {
            let mut line = format!(
                "{} — {}",
                bold(p.name().as_str()),
                plain(p.display_name().as_str())
            );
            if !p.aliases().is_empty() {
                let aliases: Vec<String> = p.aliases().iter().map(|a| code(a.as_str())).collect();
                line.push_str(" — ");
                line.push_str(&aliases.join(", "));
            }
            line
        })
        .collect();
    lines.push(String::new());
    lines.push(code(format!("page {page} of {pages}")));
    Ok(outcome(
        OutcomeClass::Success,
        "Your personalities",
        lines.join("\n"),
    ))
}

/// The page number: `None` when `raw` is not a whole number; negative numbers are page 0 and
/// numbers too big for `u64` are `u64::MAX` (both out of range).
fn parse_page(raw: &str) -> Option<u64> {
    let raw = raw.trim();
    let (negative, digits) = match raw.strip_prefix('-') {
        Some(digits) => (true, digits),
        None => (false, raw.strip_prefix('+').unwrap_or(raw)),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if negative {
        return Some(0);
    }
    Some(digits.parse().unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::parse_page;

    #[test]
    fn pages_are_whole_numbers_and_nothing_else() {
        let cases = [
            ("1", Some(1)),
            (" 2 ", Some(2)),
            ("+3", Some(3)),
            ("0", Some(0)),
            ("-1", Some(0)),
            ("99999999999999999999999", Some(u64::MAX)),
            ("", None),
            ("-", None),
            ("two", None),
            ("1.5", None),
            ("１", None),
            ("1\u{200b}", None),
        ];
        for (raw, page) in cases {
            assert_eq!(parse_page(raw), page, "{raw:?}");
        }
    }
}
