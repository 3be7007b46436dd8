//! Scenario tests of the legacy command system over the testkit fakes: every case of the
//! ADR 0002 table (class, events, key facts, stored state), port failures, and hostile input.

mod authentication;
mod common;
mod conversation;
mod logging;
mod personality;
mod robustness;
mod utility;
