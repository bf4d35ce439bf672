//! Files that readers see whole or not at all: written to a temporary dot-file beside the
//! target, synced to the disk, renamed over it, and the folder synced. Used for everything
//! people or the daemon read while it may be changing: reports, control files, rejection
//! notes.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

/// Writes `path` atomically with what `fill` writes; on failure the old file (if any)
/// stays and no temporary is left.
pub fn write_with<E: From<io::Error>>(
    path: &Path,
    fill: impl FnOnce(&mut BufWriter<File>) -> Result<(), E>,
) -> Result<(), E> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    // A dot-file, so nothing that lists the folder mistakes it for the real one.
    let temporary = dir.join(format!(".{name}.tmp"));
    let file = File::create(&temporary)?;
    let mut out = BufWriter::with_capacity(1 << 16, file);
    let written = fill(&mut out).and_then(|()| {
        let file = out.into_inner().map_err(|e| e.into_error())?;
        Ok(file.sync_all()?)
    });
    if let Err(error) = written {
        let _ = std::fs::remove_file(&temporary);
        return Err(error);
    }
    std::fs::rename(&temporary, path)?;
    File::open(dir).and_then(|d| d.sync_all())?;
    Ok(())
}

/// Writes `bytes` to `path` atomically.
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_with(path, |out| out.write_all(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }
}
