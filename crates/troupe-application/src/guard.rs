//! The dispatcher guard: each message or interaction id once, identical commands within 3 s, and the `add` in-flight / 5 s rule.
