//! The fleet registry: the processes sharing one store, what each runs, and whether each has
//! applied the newest flag change (operations.md §7, ADR 0040).

use std::ops::Range;

use async_trait::async_trait;
use troupe_domain::{Duration, Timestamp};

use crate::StoreError;

/// A process that has not refreshed its entry for this long is gone.
pub const PROCESS_EXPIRY: Duration = Duration::from_secs(15);

/// A live process must apply a flag change within this long, or the fleet view flags it.
pub const FLAG_APPLY_WITHIN: Duration = Duration::from_secs(1);

/// The shards a process runs: `range` of `total`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardSpan {
    pub total: u32,
    pub range: Range<u32>,
}

/// What a process records about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessRecord {
    /// Unique per process start (host, pid and start time, or a random id).
    pub id: String,
    pub host: String,
    /// The build's version.
    pub version: String,
    /// What the process does: `run`, `gateway`, `worker`, …
    pub role: String,
    /// `None` for a process without gateway shards.
    pub shards: Option<ShardSpan>,
    /// The gateway state label (`connected`, `resuming`, …; `n/a` without shards).
    pub gateway: String,
    /// The flag version (see [`crate::FlagStore::version`]) this process has applied.
    pub flag_version: u64,
    pub started_at: Timestamp,
}

/// A registered process as read back, with how long ago it was last seen (by the store's
/// clock, the same for every process).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveProcess {
    pub record: ProcessRecord,
    pub last_seen_ago: Duration,
}

/// The processes sharing one store.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait FleetRegistry: Send + Sync {
    /// Records `process` (or replaces its previous record) as seen now. Also deletes the
    /// records of processes not seen for [`PROCESS_EXPIRY`] times 20 (housekeeping).
    async fn heartbeat(&self, process: &ProcessRecord) -> Result<(), StoreError>;

    /// Records that process `id` has applied flag `version` and is seen now; a lower version
    /// than the recorded one changes nothing. Returns `false` when `id` is not registered.
    async fn report_flag_version(&self, id: &str, version: u64) -> Result<bool, StoreError>;

    /// Removes `id` (a process stopping cleanly).
    async fn leave(&self, id: &str) -> Result<(), StoreError>;

    /// The processes seen within `within`, sorted by id.
    async fn live(&self, within: Duration) -> Result<Vec<LiveProcess>, StoreError>;
}

/// A problem in how the live processes divide the shards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShardProblem {
    /// Processes disagree on the total shard count.
    TotalsDiffer(Vec<u32>),
    /// A shard run by more than one process (its events would be handled twice).
    Overlap { shard: u32, processes: Vec<String> },
    /// Shards of `0..total` that no live process runs (their guilds get no answers).
    Gap { total: u32, shards: Range<u32> },
}

impl std::fmt::Display for ShardProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TotalsDiffer(totals) => {
                let totals: Vec<String> = totals.iter().map(u32::to_string).collect();
                write!(
                    f,
                    "processes disagree on the shard count: {}",
                    totals.join(", ")
                )
            }
            Self::Overlap { shard, processes } => write!(
                f,
                "shard {shard} is run by {} processes: {}",
                processes.len(),
                processes.join(", ")
            ),
            Self::Gap { total, shards } => {
                write!(
                    f,
                    "shards {}..{} of {total} are run by no live process",
                    shards.start, shards.end
                )
            }
        }
    }
}

/// The fleet as an operator sees it: every live process, which ones lag behind a flag change,
/// and how the shards are divided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetStatus {
    pub processes: Vec<LiveProcess>,
    /// The newest committed flag version.
    pub flag_version: u64,
    /// How long ago the newest flag change was made, when known.
    pub flag_changed_ago: Option<Duration>,
    /// Ids of live processes that have not applied `flag_version` (yet).
    pub behind: Vec<String>,
    /// Ids of processes behind although the change is older than [`FLAG_APPLY_WITHIN`].
    pub lagging: Vec<String>,
    pub shard_problems: Vec<ShardProblem>,
}

impl FleetStatus {
    /// Assesses `processes` against the newest flag version, made `flag_changed_ago`.
    pub fn assess(
        mut processes: Vec<LiveProcess>,
        flag_version: u64,
        flag_changed_ago: Option<Duration>,
    ) -> Self {
        processes.sort_by(|a, b| a.record.id.cmp(&b.record.id));
        let behind: Vec<String> = processes
            .iter()
            .filter(|p| p.record.flag_version < flag_version)
            .map(|p| p.record.id.clone())
            .collect();
        // Unknown age: assume old (a lagging process must never look fine).
        let overdue = flag_changed_ago.is_none_or(|ago| ago > FLAG_APPLY_WITHIN);
        let lagging = if overdue { behind.clone() } else { Vec::new() };
        let shard_problems = shard_problems(&processes);
        Self {
            processes,
            flag_version,
            flag_changed_ago,
            behind,
            lagging,
            shard_problems,
        }
    }

    /// Whether nothing is wrong: no lagging process and no shard problem.
    pub fn is_healthy(&self) -> bool {
        self.lagging.is_empty() && self.shard_problems.is_empty()
    }
}

/// Overlaps, gaps and disagreeing totals among the processes that run shards.
pub fn shard_problems(processes: &[LiveProcess]) -> Vec<ShardProblem> {
    let spans: Vec<(&str, &ShardSpan)> = processes
        .iter()
        .filter_map(|p| p.record.shards.as_ref().map(|s| (p.record.id.as_str(), s)))
        .collect();
    let mut totals: Vec<u32> = spans.iter().map(|(_, s)| s.total).collect();
    totals.sort_unstable();
    totals.dedup();
    let mut problems = Vec::new();
    if totals.len() > 1 {
        problems.push(ShardProblem::TotalsDiffer(totals));
        return problems;
    }
    let Some(&total) = totals.first() else {
        return problems;
    };
    let mut gap_start: Option<u32> = None;
    for shard in 0..total {
        let owners: Vec<String> = spans
            .iter()
            .filter(|(_, s)| s.range.contains(&shard))
            .map(|(id, _)| (*id).to_owned())
            .collect();
        if owners.len() > 1 {
            problems.push(ShardProblem::Overlap {
                shard,
                processes: owners.clone(),
            });
        }
        match (owners.is_empty(), gap_start) {
            (true, None) => gap_start = Some(shard),
            (false, Some(start)) => {
                problems.push(ShardProblem::Gap {
                    total,
                    shards: start..shard,
                });
                gap_start = None;
            }
            _ => {}
        }
    }
    if let Some(start) = gap_start {
        problems.push(ShardProblem::Gap {
            total,
            shards: start..total,
        });
    }
    problems
}

/// The range of shards process `index` of `count` runs when `total` shards are divided as
/// evenly as possible in order (the first `total % count` processes run one more).
/// `None` when `index >= count`, `count == 0` or a process would get no shard.
pub fn shard_range_of(index: u32, count: u32, total: u32) -> Option<Range<u32>> {
    if count == 0 || index >= count || total < count {
        return None;
    }
    let base = total / count;
    let extra = total % count;
    let start = index * base + index.min(extra);
    let len = base + u32::from(index < extra);
    Some(start..start + len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn process(id: &str, shards: Option<(u32, Range<u32>)>, flag_version: u64) -> LiveProcess {
        LiveProcess {
            record: ProcessRecord {
                id: id.into(),
                host: "h".into(),
                version: "0.1.0".into(),
                role: "run".into(),
                shards: shards.map(|(total, range)| ShardSpan { total, range }),
                gateway: "connected".into(),
                flag_version,
                started_at: Timestamp::from_millis(0),
            },
            last_seen_ago: Duration::from_secs(1),
        }
    }

    #[test]
    fn shards_divide_evenly_in_order_with_the_remainder_first() {
        let ranges: Vec<_> = (0..3).map(|i| shard_range_of(i, 3, 8).unwrap()).collect();
        assert_eq!(ranges, vec![0..3, 3..6, 6..8]);
        let ranges: Vec<_> = (0..4).map(|i| shard_range_of(i, 4, 8).unwrap()).collect();
        assert_eq!(ranges, vec![0..2, 2..4, 4..6, 6..8]);
        assert_eq!(shard_range_of(0, 1, 5), Some(0..5));
        assert_eq!(shard_range_of(3, 3, 8), None);
        assert_eq!(shard_range_of(0, 0, 8), None);
        assert_eq!(
            shard_range_of(0, 4, 3),
            None,
            "a process would get no shard"
        );
    }

    #[test]
    fn every_division_covers_each_shard_exactly_once() {
        for total in 1..40 {
            for count in 1..=total {
                let processes: Vec<_> = (0..count)
                    .map(|i| {
                        process(
                            &i.to_string(),
                            Some((total, shard_range_of(i, count, total).unwrap())),
                            0,
                        )
                    })
                    .collect();
                assert!(shard_problems(&processes).is_empty(), "{count} of {total}");
            }
        }
    }

    #[test]
    fn overlaps_gaps_and_disagreeing_totals_are_reported() {
        let overlap = [
            process("a", Some((4, 0..3)), 0),
            process("b", Some((4, 2..4)), 0),
        ];
        assert_eq!(
            shard_problems(&overlap),
            vec![ShardProblem::Overlap {
                shard: 2,
                processes: vec!["a".into(), "b".into()]
            }]
        );
        let gaps = [
            process("a", Some((6, 1..2)), 0),
            process("b", Some((6, 3..4)), 0),
            process("w", None, 0),
        ];
        assert_eq!(
            shard_problems(&gaps),
            vec![
                ShardProblem::Gap {
                    total: 6,
                    shards: 0..1
                },
                ShardProblem::Gap {
                    total: 6,
                    shards: 2..3
                },
                ShardProblem::Gap {
                    total: 6,
                    shards: 4..6
                },
            ]
        );
        let totals = [
            process("a", Some((4, 0..2)), 0),
            process("b", Some((2, 1..2)), 0),
        ];
        assert_eq!(
            shard_problems(&totals),
            vec![ShardProblem::TotalsDiffer(vec![2, 4])]
        );
        assert!(
            shard_problems(&overlap)[0]
                .to_string()
                .contains("shard 2 is run by 2 processes: a, b")
        );
    }

    #[test]
    fn a_process_behind_a_change_older_than_a_second_is_lagging() {
        let processes = vec![
            process("b", None, 7),
            process("a", None, 6),
            process("c", None, 8),
        ];
        let fresh = FleetStatus::assess(processes.clone(), 7, Some(Duration::from_millis(300)));
        assert_eq!(fresh.behind, vec!["a".to_owned()]);
        assert!(fresh.lagging.is_empty(), "still within the second");
        assert!(fresh.is_healthy());
        let old = FleetStatus::assess(processes.clone(), 7, Some(Duration::from_millis(1_500)));
        assert_eq!(old.lagging, vec!["a".to_owned()]);
        assert!(!old.is_healthy());
        let unknown = FleetStatus::assess(processes, 7, None);
        assert_eq!(unknown.lagging, vec!["a".to_owned()]);
        assert_eq!(unknown.processes[0].record.id, "a", "sorted by id");
    }
}
