//! Import of the original bot's JSON data files (written in the next step).
