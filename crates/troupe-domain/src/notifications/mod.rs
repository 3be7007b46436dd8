//! Release notifications: a user's preference and the classification of a version change.

use std::fmt;

/// Which releases a user wants to hear about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NotificationLevel {
    /// Nothing.
    None,
    /// Major releases only.
    Major,
    /// Major and minor releases (the default).
    Minor,
    /// Every release.
    Patch,
}

impl NotificationLevel {
    pub const ALL: [Self; 4] = [Self::Major, Self::Minor, Self::Patch, Self::None];

    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "major" => Some(Self::Major),
            "minor" => Some(Self::Minor),
            "patch" => Some(Self::Patch),
            "none" => Some(Self::None),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Major => "major",
            Self::Minor => "minor",
            Self::Patch => "patch",
        }
    }

    /// Whether a change of this kind is announced at this level.
    pub fn includes(self, change: VersionChange) -> bool {
        match change {
            VersionChange::Major => self >= Self::Major,
            VersionChange::Minor => self >= Self::Minor,
            VersionChange::Patch => self >= Self::Patch,
        }
    }
}

impl fmt::Display for NotificationLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A semantic version `major.minor.patch` (a leading `v` and any pre-release or build suffix
/// are accepted and ignored).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
}

impl Version {
    pub fn parse(raw: &str) -> Option<Self> {
        let raw = raw.trim();
        let raw = raw.strip_prefix('v').unwrap_or(raw);
        let core = raw.split(['-', '+']).next()?;
        let mut parts = core.split('.');
        let mut next = || parts.next().and_then(|p| p.parse::<u64>().ok());
        let v = Self {
            major: next()?,
            minor: next()?,
            patch: next()?,
        };
        parts.next().is_none().then_some(v)
    }

    /// The kind of change from `self` to `newer`, or `None` when `newer` is not newer.
    pub fn change_to(self, newer: Self) -> Option<VersionChange> {
        if newer <= self {
            None
        } else if newer.major != self.major {
            Some(VersionChange::Major)
        } else if newer.minor != self.minor {
            Some(VersionChange::Minor)
        } else {
            Some(VersionChange::Patch)
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// How big a release is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionChange {
    Major,
    Minor,
    Patch,
}

/// A user's release-notification preference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotificationPreference {
    pub opted_in: bool,
    pub level: NotificationLevel,
    pub last_notified: Option<Version>,
}

impl Default for NotificationPreference {
    /// A user with no record: opted in, level `minor`.
    fn default() -> Self {
        Self {
            opted_in: true,
            level: NotificationLevel::Minor,
            last_notified: None,
        }
    }
}

impl NotificationPreference {
    /// Whether this user should get a DM about `current`, given the version they last saw
    /// (their own record, else `fallback`).
    pub fn wants_notification(&self, current: Version, fallback: Version) -> bool {
        let seen = self.last_notified.unwrap_or(fallback);
        self.opted_in
            && seen
                .change_to(current)
                .is_some_and(|c| self.level.includes(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn versions_parse_with_optional_prefix_and_suffix() {
        assert_eq!(
            v("1.2.3"),
            Version {
                major: 1,
                minor: 2,
                patch: 3
            }
        );
        assert_eq!(
            v("v2.1.0-beta.1+build5"),
            Version {
                major: 2,
                minor: 1,
                patch: 0
            }
        );
        for bad in [
            "",
            "1",
            "1.2",
            "1.2.3.4",
            "a.b.c",
            "-1.0.0",
            "1..3",
            &"9".repeat(10_000),
        ] {
            assert!(Version::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn version_changes_are_classified() {
        let cases = [
            ("1.2.3", "2.0.0", Some(VersionChange::Major)),
            ("1.2.3", "1.3.0", Some(VersionChange::Minor)),
            ("1.2.3", "1.2.4", Some(VersionChange::Patch)),
            ("1.2.3", "1.2.3", None),
            ("1.2.3", "1.0.0", None),
        ];
        for (from, to, change) in cases {
            assert_eq!(v(from).change_to(v(to)), change, "{from} -> {to}");
        }
    }

    #[test]
    fn levels_include_bigger_changes() {
        use NotificationLevel as L;
        use VersionChange as C;
        let cases = [
            (L::None, C::Major, false),
            (L::Major, C::Major, true),
            (L::Major, C::Minor, false),
            (L::Minor, C::Minor, true),
            (L::Minor, C::Patch, false),
            (L::Patch, C::Patch, true),
        ];
        for (level, change, yes) in cases {
            assert_eq!(level.includes(change), yes, "{level} {change:?}");
        }
        assert_eq!(L::parse(" MAJOR "), Some(L::Major));
        assert_eq!(L::parse("huge"), None);
    }

    #[test]
    fn the_default_preference_is_opted_in_at_minor() {
        let p = NotificationPreference::default();
        assert!(p.opted_in);
        assert_eq!(p.level, NotificationLevel::Minor);
        assert!(p.wants_notification(v("1.1.0"), v("1.0.0")));
        assert!(!p.wants_notification(v("1.0.1"), v("1.0.0")));
        let out = NotificationPreference {
            opted_in: false,
            ..p
        };
        assert!(!out.wants_notification(v("2.0.0"), v("1.0.0")));
        let seen = NotificationPreference {
            last_notified: Some(v("1.1.0")),
            ..p
        };
        assert!(!seen.wants_notification(v("1.1.0"), v("1.0.0")));
    }
}
