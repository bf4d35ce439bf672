//! Files that readers see whole or not at all: written to a temporary dot-file beside the
//! target, synced to the disk, renamed over it, and the folder synced. Used for everything
//! people or the daemon read while it may be changing: reports, control files, rejection
//! notes.
//!
//! Each write has a temporary of its own (`.NAME.PID.RANDOM.tmp`, created exclusively),
//! so two writers of one file never write into each other's; the process id in the name
//! lets [`sweep`] tell what a crash left behind from what a live process is writing.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

/// Writes `path` atomically with what `fill` writes; on failure the old file (if any)
/// stays and no temporary is left.
pub fn write_with<E: From<io::Error>>(
    path: &Path,
    fill: impl FnOnce(&mut BufWriter<File>) -> Result<(), E>,
) -> Result<(), E> {
    write_through(path, |temporary| {
        let file = std::fs::OpenOptions::new().write(true).open(temporary)?;
        let mut out = BufWriter::with_capacity(1 << 16, file);
        fill(&mut out)?;
        out.into_inner().map_err(|e| e.into_error())?;
        Ok(())
    })
}

/// Writes `path` atomically with what `fill` writes into the (empty) temporary file whose
/// path it is given: for a writer that opens the file itself, as SQLite's `VACUUM INTO`
/// does. On failure the old file (if any) stays and no temporary is left.
pub fn write_through<E: From<io::Error>>(
    path: &Path,
    fill: impl FnOnce(&Path) -> Result<(), E>,
) -> Result<(), E> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    let dir = dir.unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    // A dot-file, so nothing that lists the folder mistakes it for the real one; removed
    // when dropped, so a failed write leaves nothing.
    let temporary = tempfile::Builder::new()
        .prefix(&format!(".{name}.{}.", std::process::id()))
        .suffix(".tmp")
        .tempfile_in(dir)?;
    fill(temporary.path())?;
    // Syncing any handle of the file syncs what every handle wrote.
    temporary.as_file().sync_all()?;
    temporary.persist(path).map_err(|e| e.error)?;
    File::open(dir).and_then(|d| d.sync_all())?;
    Ok(())
}

/// Writes `bytes` to `path` atomically.
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_with(path, |out| out.write_all(bytes))
}

/// Removes from `dir` the temporaries of writes that a process which is no longer
/// running left behind (a crash, a kill); a live process's write in progress stays.
/// Returns how many were removed.
pub fn sweep(dir: &Path) -> io::Result<usize> {
    let mut removed = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(writer_of) else {
            continue;
        };
        if !process_is_running(pid) && entry.file_type()?.is_file() {
            std::fs::remove_file(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// The process that wrote a temporary named `.NAME.PID.RANDOM.tmp`; `None` for any
/// other name.
fn writer_of(file_name: &str) -> Option<u32> {
    let inner = file_name.strip_prefix('.')?.strip_suffix(".tmp")?;
    let mut parts = inner.rsplitn(3, '.');
    let (_random, pid, target) = (parts.next()?, parts.next()?, parts.next()?);
    (!target.is_empty()).then_some(())?;
    pid.parse().ok()
}

/// Returns true if and only if a process with id `pid` runs on this machine (Linux:
/// its `/proc` entry exists).
fn process_is_running(pid: u32) -> bool {
    Path::new("/proc").join(pid.to_string()).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_failed_fill_leaves_the_old_file_and_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("status.json");
        write(&path, b"old").unwrap();
        let failed = write_with(&path, |out| {
            out.write_all(b"half")?;
            Err(io::Error::other("disk full"))
        });
        assert!(failed.is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        assert_eq!(names(dir.path()), ["status.json"]);
    }

    #[test]
    fn two_writers_of_one_file_never_share_a_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("status.json");
        // The second write runs while the first has its temporary open.
        write_with(&path, |out| {
            out.write_all(b"first")?;
            write(&path, b"second")?;
            assert_eq!(std::fs::read(&path).unwrap(), b"second");
            Ok::<(), io::Error>(())
        })
        .unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"first");
        assert_eq!(names(dir.path()), ["status.json"]);
    }

    #[test]
    fn a_sweep_removes_what_dead_writers_left_and_keeps_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        // No process has the largest id Linux can give (4194304 is its limit).
        let dead = ".results.csv.4194305.AbC123.tmp";
        let live = format!(".status.json.{}.XyZ789.tmp", std::process::id());
        for name in [
            dead,
            live.as_str(),
            "results.csv",
            ".hidden",
            "x.tmp",
            ".a.b.tmp",
        ] {
            std::fs::write(dir.path().join(name), b"").unwrap();
        }
        assert_eq!(sweep(dir.path()).unwrap(), 1);
        let mut kept = vec![".a.b.tmp", ".hidden", live.as_str(), "results.csv", "x.tmp"];
        kept.sort();
        assert_eq!(names(dir.path()), kept);
    }

    #[test]
    fn only_names_of_the_temporary_form_name_a_writer() {
        assert_eq!(writer_of(".status.json.123.AbC.tmp"), Some(123));
        assert_eq!(writer_of(".status.json.tmp"), None);
        assert_eq!(writer_of(".x.notapid.AbC.tmp"), None);
        assert_eq!(writer_of("status.json.123.AbC.tmp"), None);
        assert_eq!(writer_of("..123.AbC.tmp"), None);
    }
}
