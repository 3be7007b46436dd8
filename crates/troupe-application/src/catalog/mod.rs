//! The command catalog: the single source of every command's name, aliases, category, usage,
//! options, access rule, place, description and examples. The prefix parser, the slash-command
//! definitions and `help` are generated from it.
