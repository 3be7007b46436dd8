//! `help` rendered from the catalog, per the help rows of ADR 0002.

use troupe_application::catalog::help::{HelpAudience, line, render};
use troupe_application::catalog::{self, HelpGroup};
use troupe_application::{CommandName, OutcomeClass, Reply};

const PREFIX: &str = "!tz";

const EVERYONE: HelpAudience = HelpAudience {
    is_admin: false,
    is_bot_owner: false,
};
const ADMIN: HelpAudience = HelpAudience {
    is_admin: true,
    is_bot_owner: false,
};
const OWNER: HelpAudience = HelpAudience {
    is_admin: false,
    is_bot_owner: true,
};

fn field<'a>(reply: &'a Reply, name: &str) -> &'a str {
    &reply
        .fields
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("field {name} in {reply:?}"))
        .value
}

fn field_names(reply: &Reply) -> Vec<&str> {
    reply.fields.iter().map(|f| f.name.as_str()).collect()
}

#[test]
fn the_overview_shows_the_groups_each_audience_may_see() {
    let base = ["Personality", "Conversation", "Authentication", "Utility"];
    let cases: &[(HelpAudience, &[&str])] = &[
        (EVERYONE, &[]),
        (ADMIN, &["Admin"]),
        (OWNER, &["Admin", "Owner"]),
        (
            HelpAudience {
                is_admin: true,
                is_bot_owner: true,
            },
            &["Admin", "Owner"],
        ),
    ];
    for (audience, extra) in cases {
        let (class, reply) = render(None, *audience, PREFIX);
        assert_eq!(class, OutcomeClass::Success);
        let expected: Vec<&str> = base.iter().chain(extra.iter()).copied().collect();
        assert_eq!(field_names(&reply), expected, "{audience:?}");
    }
}

#[test]
fn a_blank_query_is_the_overview() {
    assert_eq!(
        render(Some("   "), EVERYONE, PREFIX),
        render(None, EVERYONE, PREFIX)
    );
}

#[test]
fn the_overview_lists_every_command_once_with_aliases_and_description() {
    let everything = HelpAudience {
        is_admin: true,
        is_bot_owner: true,
    };
    let (_, reply) = render(None, everything, PREFIX);
    let lines: Vec<&str> = reply.fields.iter().flat_map(|f| f.value.lines()).collect();
    assert_eq!(lines.len(), CommandName::ALL.len());
    for spec in catalog::all() {
        let value = field(&reply, spec.help_group.title());
        let expected = line(spec);
        assert!(value.lines().any(|l| l == expected), "{}", spec.name);
        assert!(expected.starts_with(&format!("`{}`", spec.name)));
        assert!(expected.ends_with(spec.description));
        for alias in spec.aliases {
            assert!(expected.contains(&format!("`{alias}`")), "{alias}");
        }
    }
}

#[test]
fn debug_is_listed_under_admin_and_volumetest_under_owner_only() {
    let (_, everyone) = render(None, EVERYONE, PREFIX);
    let all_text: String = everyone.fields.iter().map(|f| f.value.as_str()).collect();
    assert!(!all_text.contains("`debug`"));
    assert!(!all_text.contains("`volumetest`"));
    let (_, owner) = render(None, OWNER, PREFIX);
    assert!(field(&owner, "Admin").starts_with("`debug`"));
    assert!(field(&owner, "Owner").starts_with("`volumetest`"));
}

#[test]
fn help_for_a_name_or_alias_shows_usage_aliases_options_and_examples() {
    for query in ["add", "ADD", "create", "/add", " new "] {
        let (class, reply) = render(Some(query), EVERYONE, PREFIX);
        assert_eq!(class, OutcomeClass::Success, "{query}");
        assert_eq!(
            field_names(&reply),
            ["Usage", "Aliases", "Options", "Examples"],
            "{query}"
        );
        assert_eq!(
            field(&reply, "Usage"),
            "`!tz add <name> [alias] [model:<model>] [avatar:<url>] [| prompt…]`"
        );
        assert_eq!(field(&reply, "Aliases"), "`create`, `new`");
        let options = field(&reply, "Options");
        assert!(options.contains("`name` — required"), "{options}");
        assert!(options.contains("`prompt` — optional"), "{options}");
        assert_eq!(options.lines().count(), 5);
        let examples = field(&reply, "Examples");
        assert!(
            examples.lines().all(|l| l.starts_with("`!tz add ")),
            "{examples}"
        );
    }
}

#[test]
fn help_details_show_choices_and_none_where_there_is_nothing() {
    let (_, ping) = render(Some("ping"), EVERYONE, "?bot");
    assert_eq!(field(&ping, "Aliases"), "none");
    assert_eq!(field(&ping, "Options"), "none");
    assert_eq!(field(&ping, "Usage"), "`?bot ping`");
    let (_, auth) = render(Some("auth"), EVERYONE, PREFIX);
    assert!(
        field(&auth, "Options").contains("(one of `start`, `code`, `status`, `revoke`, `cleanup`)")
    );
}

#[test]
fn help_for_an_unknown_name_is_not_found_and_names_it_in_a_code_span() {
    let cases = [("frobnicate", "`frobnicate`"), ("a`b", "`a'b`")];
    for (query, span) in cases {
        let (class, reply) = render(Some(query), ADMIN, PREFIX);
        assert_eq!(class, OutcomeClass::NotFound);
        assert!(reply.text.contains(span), "{}", reply.text);
        assert!(reply.fields.is_empty());
    }
}

#[test]
fn restricted_commands_are_denied_to_callers_who_may_not_see_them() {
    let cases: &[(&str, HelpAudience, OutcomeClass)] = &[
        ("debug", EVERYONE, OutcomeClass::Denied),
        ("debug", ADMIN, OutcomeClass::Success),
        ("debug", OWNER, OutcomeClass::Success),
        ("volumetest", EVERYONE, OutcomeClass::Denied),
        ("volumetest", ADMIN, OutcomeClass::Denied),
        ("volumetest", OWNER, OutcomeClass::Success),
        ("activate", EVERYONE, OutcomeClass::Success),
    ];
    for (query, audience, expected) in cases {
        let (class, reply) = render(Some(query), *audience, PREFIX);
        assert_eq!(class, *expected, "{query} {audience:?}");
        if class == OutcomeClass::Denied {
            assert!(reply.text.contains(&format!("`{query}`")), "{}", reply.text);
        }
    }
}

#[test]
fn help_replies_mark_no_bold_text_and_fit_discord_embed_limits() {
    let mut replies = vec![render(None, OWNER, PREFIX).1];
    for spec in catalog::all() {
        replies.push(render(Some(spec.name.as_str()), OWNER, PREFIX).1);
    }
    replies.push(render(Some("nope"), OWNER, PREFIX).1);
    for reply in replies {
        assert!(!reply.text.contains("**"), "{}", reply.text);
        assert!(!reply.ephemeral);
        for f in &reply.fields {
            assert!(!f.value.contains("**"), "{}", f.value);
            assert!((1..=1024).contains(&f.value.chars().count()), "{}", f.name);
            assert!(f.value.matches('`').count() % 2 == 0, "{}", f.value);
        }
        assert!(reply.text.matches('`').count() % 2 == 0, "{}", reply.text);
    }
}

#[test]
fn audience_of_an_invoker_reads_administrator_and_bot_owner() {
    use troupe_application::{Invoker, Permissions};
    use troupe_domain::UserId;
    let invoker = |administrator, is_bot_owner| Invoker {
        id: UserId::new(1).unwrap(),
        display_name: "u".into(),
        is_bot_owner,
        permissions: Permissions {
            administrator,
            manage_messages: false,
        },
        via_proxy: false,
    };
    assert_eq!(HelpAudience::of(&invoker(false, false)), EVERYONE);
    assert_eq!(HelpAudience::of(&invoker(true, false)), ADMIN);
    assert_eq!(HelpAudience::of(&invoker(false, true)), OWNER);
    assert!(ADMIN.sees(HelpGroup::Admin) && !ADMIN.sees(HelpGroup::Owner));
}
