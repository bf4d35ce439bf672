//! What is wrong with the daemon now, said in every report: the store that cannot be
//! written, the calendar missing a year, the disk under the store running out of room,
//! the hold after a restore, and call lists in `active/` the store does not know.

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::figures::rfc3339;
use crate::calendar::Calendar;
use crate::layout::Layout;
use crate::store::Store;

/// What is wrong with the daemon now, for both `status.json` files, the `STATUS=` line
/// and the summaries, at `now`.
pub(super) fn warnings(
    store: &Store,
    layout: &Layout,
    calendar: &Calendar,
    now: Timestamp,
) -> Vec<String> {
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
    warnings.extend(restore_warnings(store, layout));
    warnings
}

/// After a restore: the hold while it lasts, and the call lists in `active/` that the
/// restored store does not know (campaigns imported after the copy was taken), which are
/// not imported again by themselves.
fn restore_warnings(store: &Store, layout: &Layout) -> Vec<String> {
    let mut warnings = Vec::new();
    let zone = TimeZone::system();
    if let Ok(Some(hold)) = store.restore_hold()
        && hold.until_ms > crate::store::now_ms()
    {
        warnings.push(format!(
            "the store was restored from a copy at {}: nothing is dialled until {}, while the \
             vendor's records of calls the copy does not know are adopted",
            rfc3339(hold.restored_at_ms, &zone),
            rfc3339(hold.until_ms, &zone)
        ));
    }
    let Ok(campaigns) = store.campaigns() else {
        return warnings;
    };
    for (name, file) in layout.active_call_lists() {
        if !campaigns.iter().any(|c| c.name == name) {
            warnings.push(format!(
                "active/{file} is no campaign of this store (it came after the copy the store \
                 was restored from): it is not imported again; its calls the vendor has \
                 records of are kept as orphans in the store"
            ));
        }
    }
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

    #[test]
    fn a_restore_warns_of_its_hold_and_of_call_lists_the_store_does_not_know() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("voicecast.db")).unwrap();
        let layout = Layout::new(dir.path().join("campaigns"));
        layout.create().unwrap();
        std::fs::write(layout.active().join("june.xlsx"), b"").unwrap();
        std::fs::write(layout.active().join("june.toml"), b"").unwrap();
        assert!(
            restore_warnings(&store, &layout)[0].starts_with("active/june.xlsx is no campaign")
        );
        let now = crate::store::now_ms();
        store.mark_restored(now).unwrap();
        store.begin_restore_hold(now, 60_000).unwrap();
        let warnings = restore_warnings(&store, &layout);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(
            warnings[0].starts_with("the store was restored from a copy at ")
                && warnings[0].contains(": nothing is dialled until "),
            "{warnings:?}"
        );
    }
}
