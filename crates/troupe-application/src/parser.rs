//! The prefix parser: message text → command name and arguments (commands.md §1).
