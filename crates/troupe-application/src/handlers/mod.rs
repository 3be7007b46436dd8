//! The new (domain-driven) command system: one handler per command, grouped by category.
