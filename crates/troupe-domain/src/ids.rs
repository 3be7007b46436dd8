//! Typed Discord snowflake ids. A raw `u64` never crosses a layer boundary.

use std::fmt;
use std::num::NonZeroU64;
use std::str::FromStr;

/// Why a text or number is not a valid Discord id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("an id cannot be empty")]
    Empty,
    #[error("an id must be a positive number, not 0")]
    Zero,
    #[error("an id must contain only digits")]
    NotNumeric,
    #[error("an id is too large")]
    Overflow,
}

/// Milliseconds from the Unix epoch to Discord's (2015-01-01), the origin of snowflake times.
pub const DISCORD_EPOCH_MS: i64 = 1_420_070_400_000;

macro_rules! snowflake {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(NonZeroU64);

        impl $name {
            /// Accepts any non-zero number.
            pub fn new(raw: u64) -> Result<Self, IdError> {
                NonZeroU64::new(raw).map(Self).ok_or(IdError::Zero)
            }

            /// Parses decimal digits (surrounding whitespace allowed); rejects 0, signs, other
            /// characters and values above `u64::MAX`.
            pub fn parse(raw: &str) -> Result<Self, IdError> {
                let raw = raw.trim();
                if raw.is_empty() {
                    return Err(IdError::Empty);
                }
                if !raw.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(IdError::NotNumeric);
                }
                let value: u64 = raw.parse().map_err(|_| IdError::Overflow)?;
                Self::new(value)
            }

            /// The id as a number.
            pub const fn get(self) -> u64 {
                self.0.get()
            }

            /// The id as the `i64` databases store (bit-for-bit; Discord ids fit in 63 bits).
            pub const fn to_i64(self) -> i64 {
                self.0.get() as i64
            }

            /// The inverse of [`Self::to_i64`].
            pub fn from_i64(raw: i64) -> Result<Self, IdError> {
                Self::new(raw as u64)
            }

            /// When Discord made the id: a snowflake's top 42 bits are milliseconds since
            /// Discord's epoch (2015-01-01).
            pub const fn created_at(self) -> crate::Timestamp {
                crate::Timestamp::from_millis((self.0.get() >> 22) as i64 + DISCORD_EPOCH_MS)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }
    };
}

snowflake!(
    /// A Discord user.
    UserId
);
snowflake!(
    /// A Discord guild (server).
    GuildId
);
snowflake!(
    /// A Discord channel, thread or DM channel.
    ChannelId
);
snowflake!(
    /// A Discord message or interaction.
    MessageId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snowflake_tells_when_it_was_made() {
        // Discord's documented example: 175928847299117063 was made at 1462015105796.
        let id = MessageId::new(175_928_847_299_117_063).unwrap();
        assert_eq!(id.created_at().as_millis(), 1_462_015_105_796);
    }

    #[test]
    fn ids_parse_only_positive_decimal_numbers_that_fit_in_64_bits() {
        let cases: &[(&str, Result<u64, IdError>)] = &[
            ("123456789012345678", Ok(123_456_789_012_345_678)),
            ("  42 ", Ok(42)),
            ("18446744073709551615", Ok(u64::MAX)),
            ("18446744073709551616", Err(IdError::Overflow)),
            ("99999999999999999999999999", Err(IdError::Overflow)),
            ("0", Err(IdError::Zero)),
            ("000", Err(IdError::Zero)),
            ("", Err(IdError::Empty)),
            ("   ", Err(IdError::Empty)),
            ("-5", Err(IdError::NotNumeric)),
            ("+5", Err(IdError::NotNumeric)),
            ("12a", Err(IdError::NotNumeric)),
            ("1 2", Err(IdError::NotNumeric)),
            ("１２", Err(IdError::NotNumeric)),
            ("<@123>", Err(IdError::NotNumeric)),
            ("12\u{200b}3", Err(IdError::NotNumeric)),
        ];
        for (raw, expected) in cases {
            assert_eq!(UserId::parse(raw).map(UserId::get), *expected, "{raw:?}");
            assert_eq!(
                ChannelId::parse(raw).map(ChannelId::get),
                *expected,
                "{raw:?}"
            );
        }
        let long = "9".repeat(10_000);
        assert_eq!(GuildId::parse(&long), Err(IdError::Overflow));
    }

    #[test]
    fn ids_round_trip_through_the_database_representation() {
        for raw in [1, 42, i64::MAX as u64, u64::MAX] {
            let id = MessageId::new(raw).unwrap();
            assert_eq!(MessageId::from_i64(id.to_i64()).unwrap(), id);
        }
        assert_eq!(MessageId::from_i64(0), Err(IdError::Zero));
    }
}
