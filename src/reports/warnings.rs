//! What is wrong with the daemon now, said in every report: the store that cannot be
//! written, the calendar missing a year, the disk under the store running out of room.

use jiff::Timestamp;

use super::figures::rfc3339;
use crate::calendar::Calendar;
use crate::store::Store;

/// What is wrong with the daemon now, for both `status.json` files, the `STATUS=` line
/// and the summaries, at `now`.
pub(super) fn warnings(store: &Store, calendar: &Calendar, now: Timestamp) -> Vec<String> {
    let mut warnings = Vec::new();
    // The cause, not the operation that met it: the text stays the same while the same
    // fault lasts, so the files are not rewritten for every write that fails.
    if let Some(failure) = store.write_failure() {
        warnings.push(format!(
            "the store cannot be written since {}: {}; nothing is dialled and no call record is applied until it can be",
            rfc3339(failure.since_ms, &jiff::tz::TimeZone::system()),
            failure.cause
        ));
    }
    warnings.extend(calendar.warning(crate::calendar::date_in_china(now)));
    warnings.extend(disk_warning(store.path()));
    warnings
}

/// The share of a disk's space left below which the reports warn.
const LOW_DISK: f64 = 0.10;

/// A warning when the disk that holds the store at `database` has under [`LOW_DISK`] of
/// its space left for voicecast (what an unprivileged process may still write).
fn disk_warning(database: &std::path::Path) -> Option<String> {
    let folder = database.parent().filter(|p| !p.as_os_str().is_empty())?;
    let disk = rustix::fs::statvfs(folder).ok()?;
    low_disk(folder, disk.f_bavail, disk.f_blocks)
}

/// The warning for a disk with `free` of its `total` blocks left, if it is low.
fn low_disk(folder: &std::path::Path, free: u64, total: u64) -> Option<String> {
    let share = free as f64 / total.max(1) as f64;
    (share < LOW_DISK).then(|| {
        format!(
            "the disk holding the store ({}) has {:.1}% of its space free, under 10%: make \
             room, or lower [retention] keep_days",
            folder.display(),
            share * 100.0
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_disk_under_a_tenth_free_is_a_warning() {
        let folder = std::path::Path::new("/var/lib/voicecast");
        assert_eq!(low_disk(folder, 10, 100), None);
        assert_eq!(
            low_disk(folder, 95, 1000).as_deref(),
            Some(
                "the disk holding the store (/var/lib/voicecast) has 9.5% of its space free, \
                 under 10%: make room, or lower [retention] keep_days"
            )
        );
        assert!(disk_warning(std::path::Path::new("/no/such/folder/voicecast.db")).is_none());
    }
}
