//! Seeing call lists arrive in the inbox: filesystem events (notify) and a periodic
//! rescan feed a [`Settler`], which says when each file is complete: at once when it
//! arrived by rename, else when its size and mtime have held still for `settle`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use notify::event::{EventKind, ModifyKind, RenameMode};
use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc;

use crate::layout::{self, Dropped};

/// A file's size and modification time: what "still being written" is judged by.
pub type Stat = (u64, Option<SystemTime>);

/// Reads a file's [`Stat`], if it is still a file.
pub fn stat(path: &Path) -> Option<Stat> {
    let meta = std::fs::metadata(path).ok().filter(|m| m.is_file())?;
    Some((meta.len(), meta.modified().ok()))
}

#[derive(Debug)]
struct Watched {
    stat: Stat,
    still_since: Instant,
    renamed_in: bool,
}

/// The call lists seen and not yet complete.
#[derive(Debug)]
pub struct Settler {
    settle: Duration,
    files: HashMap<PathBuf, Watched>,
}

impl Settler {
    pub fn new(settle: Duration) -> Settler {
        Settler {
            settle,
            files: HashMap::new(),
        }
    }

    /// Notes that `path` appeared or changed; `renamed_in` when it arrived by rename.
    pub fn saw(&mut self, path: &Path, renamed_in: bool, stat: Stat, now: Instant) {
        match self.files.get_mut(path) {
            Some(w) if w.stat == stat => w.renamed_in |= renamed_in,
            Some(w) => {
                *w = Watched {
                    stat,
                    still_since: now,
                    renamed_in,
                };
            }
            None => {
                self.files.insert(
                    path.to_path_buf(),
                    Watched {
                        stat,
                        still_since: now,
                        renamed_in,
                    },
                );
            }
        }
    }

    pub fn forget(&mut self, path: &Path) {
        self.files.remove(path);
    }

    pub fn is_watching(&self, path: &Path) -> bool {
        self.files.contains_key(path)
    }

    /// The files now complete, in name order; they are no longer watched. A file whose
    /// size or mtime moved since it was last seen starts its wait again, rename or not. A
    /// file renamed in is complete at once if `has_settings` says its `NAME.toml` is
    /// there; else it waits like a copied one, in case its settings are on their way
    /// (`mv july.csv july.toml inbox/` moves the list first).
    pub fn ready(
        &mut self,
        now: Instant,
        stat: impl Fn(&Path) -> Option<Stat>,
        has_settings: impl Fn(&Path) -> bool,
    ) -> Vec<PathBuf> {
        let mut ready = Vec::new();
        self.files.retain(|path, w| match stat(path) {
            None => false,
            Some(current) if current != w.stat => {
                *w = Watched {
                    stat: current,
                    still_since: now,
                    renamed_in: false,
                };
                true
            }
            Some(_)
                if (w.renamed_in && has_settings(path))
                    || now.duration_since(w.still_since) >= self.settle =>
            {
                ready.push(path.clone());
                false
            }
            Some(_) => true,
        });
        ready.sort();
        ready
    }

    /// How long until the next file could settle, if one is waiting.
    pub fn next_due(&self, now: Instant) -> Option<Duration> {
        self.files
            .values()
            .map(|w| (w.still_since + self.settle).saturating_duration_since(now))
            .min()
    }
}

/// What the inbox watcher reports.
#[derive(Debug, PartialEq, Eq)]
pub enum Seen {
    /// A call list appeared or changed; `renamed_in` when it arrived by rename.
    CallList { path: PathBuf, renamed_in: bool },
    /// A call list left the inbox.
    Gone(PathBuf),
    /// Events were lost (the kernel queue overflowed): rescan the folder.
    Rescan,
}

/// Watches `inbox` and sends what it sees. Keep the watcher alive as long as events are
/// wanted.
pub fn watch(
    inbox: &Path,
    events: mpsc::UnboundedSender<Seen>,
) -> notify::Result<RecommendedWatcher> {
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let event = match event {
            Ok(event) => event,
            Err(_) => {
                let _ = events.send(Seen::Rescan);
                return;
            }
        };
        if event.need_rescan() {
            let _ = events.send(Seen::Rescan);
        }
        for seen in interpret(&event) {
            let _ = events.send(seen);
        }
    })?;
    watcher.watch(inbox, RecursiveMode::NonRecursive)?;
    Ok(watcher)
}

/// What one filesystem event means for the inbox.
fn interpret(event: &notify::Event) -> Vec<Seen> {
    let is_call_list = |p: &PathBuf| {
        p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| matches!(layout::classify(n), Dropped::CallList(_)))
    };
    let seen = |path: &PathBuf, renamed_in| Seen::CallList {
        path: path.clone(),
        renamed_in,
    };
    let paths = &event.paths;
    match event.kind {
        EventKind::Modify(ModifyKind::Name(RenameMode::Both)) if paths.len() == 2 => {
            let mut out = Vec::new();
            if is_call_list(&paths[0]) {
                out.push(Seen::Gone(paths[0].clone()));
            }
            if is_call_list(&paths[1]) {
                out.push(seen(&paths[1], true));
            }
            out
        }
        EventKind::Modify(ModifyKind::Name(RenameMode::To)) => paths
            .iter()
            .filter(|p| is_call_list(p))
            .map(|p| seen(p, true))
            .collect(),
        EventKind::Modify(ModifyKind::Name(RenameMode::From)) | EventKind::Remove(_) => paths
            .iter()
            .filter(|p| is_call_list(p))
            .map(|p| Seen::Gone(p.clone()))
            .collect(),
        EventKind::Create(_) | EventKind::Modify(_) | EventKind::Access(_) | EventKind::Any => {
            paths
                .iter()
                .filter(|p| is_call_list(p))
                .map(|p| seen(p, false))
                .collect()
        }
        EventKind::Other => Vec::new(),
    }
}

/// The call lists in `inbox` now, in name order.
pub fn list_inbox(inbox: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(inbox)? {
        let entry = entry?;
        let name = entry.file_name();
        let is_call_list = name
            .to_str()
            .is_some_and(|n| matches!(layout::classify(n), Dropped::CallList(_)));
        if is_call_list && entry.file_type().is_ok_and(|t| t.is_file()) {
            found.push(entry.path());
        }
    }
    found.sort();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(base: Instant, secs: u64) -> Instant {
        base + Duration::from_secs(secs)
    }

    #[test]
    fn a_file_settles_when_it_holds_still() {
        let base = Instant::now();
        let mut settler = Settler::new(Duration::from_secs(2));
        let path = Path::new("/inbox/a.csv");
        settler.saw(path, false, (10, None), base);
        assert!(
            settler
                .ready(at(base, 1), |_| Some((10, None)), |_| false)
                .is_empty()
        );
        // Still growing at 1.5 s: the wait starts again.
        assert!(
            settler
                .ready(at(base, 2), |_| Some((20, None)), |_| false)
                .is_empty()
        );
        assert!(
            settler
                .ready(at(base, 3), |_| Some((20, None)), |_| false)
                .is_empty()
        );
        assert_eq!(settler.next_due(at(base, 3)), Some(Duration::from_secs(1)));
        assert_eq!(
            settler.ready(at(base, 4), |_| Some((20, None)), |_| false),
            vec![path.to_path_buf()]
        );
        assert!(!settler.is_watching(path));
    }

    #[test]
    fn a_renamed_file_with_its_settings_is_ready_at_once_unless_it_changes() {
        let base = Instant::now();
        let mut settler = Settler::new(Duration::from_secs(2));
        let (a, b, c) = (
            Path::new("/inbox/a.csv"),
            Path::new("/inbox/b.csv"),
            Path::new("/inbox/c.csv"),
        );
        for path in [a, b, c] {
            settler.saw(path, true, (10, None), base);
        }
        let stat = |p: &Path| Some(if p == b { (11, None) } else { (10, None) });
        let has_settings = |p: &Path| p != c;
        assert_eq!(
            settler.ready(base, stat, has_settings),
            vec![a.to_path_buf()]
        );
        // b changed and c has no settings yet: both wait like copied files.
        assert!(settler.is_watching(b) && settler.is_watching(c));
        assert!(settler.ready(at(base, 1), stat, has_settings).is_empty());
        let ready = settler.ready(at(base, 2), stat, has_settings);
        assert_eq!(ready, vec![b.to_path_buf(), c.to_path_buf()]);
        // A file that went away is forgotten.
        settler.saw(a, false, (10, None), base);
        assert!(
            settler
                .ready(at(base, 5), |_| None, has_settings)
                .is_empty()
        );
        assert!(!settler.is_watching(a));
    }

    #[test]
    fn events_are_read_as_the_inbox_protocol_says() {
        let event = |kind, paths: &[&str]| notify::Event {
            kind,
            paths: paths.iter().map(PathBuf::from).collect(),
            attrs: Default::default(),
        };
        let renamed = event(
            EventKind::Modify(ModifyKind::Name(RenameMode::Both)),
            &["/in/a.csv.part", "/in/a.csv"],
        );
        assert_eq!(
            interpret(&renamed),
            vec![Seen::CallList {
                path: "/in/a.csv".into(),
                renamed_in: true
            }]
        );
        let written = event(
            EventKind::Access(notify::event::AccessKind::Close(
                notify::event::AccessMode::Write,
            )),
            &["/in/b.csv"],
        );
        assert_eq!(
            interpret(&written),
            vec![Seen::CallList {
                path: "/in/b.csv".into(),
                renamed_in: false
            }]
        );
        let ignored = event(
            EventKind::Create(notify::event::CreateKind::File),
            &["/in/~$b.csv"],
        );
        assert!(interpret(&ignored).is_empty());
        let removed = event(
            EventKind::Remove(notify::event::RemoveKind::File),
            &["/in/b.csv"],
        );
        assert_eq!(interpret(&removed), vec![Seen::Gone("/in/b.csv".into())]);
    }
}
