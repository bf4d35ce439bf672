//! The campaign folder (PRODUCT.md section 1): the one place that knows its sub-folders
//! and the names of the files in them. Every other module asks here.

use std::io;
use std::path::{Path, PathBuf};

/// The campaign root and everything under it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    root: PathBuf,
}

/// What a file dropped in the inbox is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dropped {
    /// A call list: `NAME.csv`, or a workbook `NAME.xlsx`, `NAME.xls` or `NAME.ods`.
    CallList(ListFormat),
    /// A campaign's settings, `NAME.toml`, read with its call list.
    Settings,
    /// Not ours to read: dot-files, partial copies (`*.part`, `*.tmp`), Excel lock files
    /// (`~$*`), our own notes and anything else.
    Ignored,
}

impl Layout {
    pub fn new(root: impl Into<PathBuf>) -> Layout {
        Layout { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn inbox(&self) -> PathBuf {
        self.root.join("inbox")
    }

    pub fn active(&self) -> PathBuf {
        self.root.join("active")
    }

    /// The call lists in `active/`, as (campaign name, file name), sorted by file name.
    pub fn active_call_lists(&self) -> Vec<(String, String)> {
        let mut lists: Vec<(String, String)> = std::fs::read_dir(self.active())
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| {
                let file = entry.file_name().to_str()?.to_string();
                let Dropped::CallList(_) = classify(&file) else {
                    return None;
                };
                Some((campaign_name(Path::new(&file)), file))
            })
            .collect();
        lists.sort_by(|a, b| a.1.cmp(&b.1));
        lists
    }

    pub fn done(&self) -> PathBuf {
        self.root.join("done")
    }

    pub fn rejected(&self) -> PathBuf {
        self.root.join("rejected")
    }

    pub fn reports(&self) -> PathBuf {
        self.root.join("reports")
    }

    pub fn control(&self) -> PathBuf {
        self.root.join("control")
    }

    /// Creates the root and its six folders where missing.
    pub fn create(&self) -> io::Result<()> {
        for dir in [
            self.inbox(),
            self.active(),
            self.done(),
            self.rejected(),
            self.reports(),
            self.control(),
        ] {
            std::fs::create_dir_all(&dir).map_err(|e| {
                io::Error::new(e.kind(), format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        Ok(())
    }

    /// `reports/NAME/`: the report files of campaign `name`.
    pub fn campaign_reports(&self, name: &str) -> PathBuf {
        self.reports().join(name)
    }

    /// `reports/NAME/FILE`: one report file of campaign `name`.
    pub fn report(&self, name: &str, file: ReportFile) -> PathBuf {
        self.campaign_reports(name).join(file.name())
    }

    /// `reports/status.json`: the daemon's own status.
    pub fn daemon_status(&self) -> PathBuf {
        self.reports().join(ReportFile::Status.name())
    }

    /// `rejected/NAME.error.txt`: why a file was rejected.
    pub fn rejection_note(&self, name: &str) -> PathBuf {
        self.rejected().join(format!("{name}.error.txt"))
    }

    /// The control file that asks for `control`.
    pub fn control_file(&self, control: &Control) -> PathBuf {
        let name = match control {
            Control::Pause(name) => format!("{name}.pause"),
            Control::Resume(name) => format!("{name}.resume"),
            Control::Cancel(name) => format!("{name}.cancel"),
            Control::ResumeAccount => ACCOUNT_RESUME.to_string(),
        };
        self.control().join(name)
    }

    /// Moves a campaign's call list (of whichever format) and its settings (when there
    /// are any) from `active/` to `done/`.
    pub fn move_to_done(&self, campaign: &str) -> io::Result<()> {
        let lists = ListFormat::ALL.map(|f| self.active().join(call_list_file(campaign, f)));
        let settings = settings_beside(&lists[0]);
        for from in std::iter::once(settings).chain(lists) {
            let to = self.done().join(from.file_name().unwrap_or_default());
            match std::fs::rename(&from, &to) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                other => other.map_err(|e| {
                    io::Error::new(
                        e.kind(),
                        format!("cannot move {} to {}: {e}", from.display(), to.display()),
                    )
                })?,
            }
        }
        Ok(())
    }
}

impl Layout {
    /// Deletes an ended campaign's files: its call list and settings in `done/`, and its
    /// `reports/NAME/`. Returns whether there was anything to delete.
    pub fn remove_campaign_files(&self, campaign: &str) -> io::Result<bool> {
        let lists = ListFormat::ALL.map(|f| self.done().join(call_list_file(campaign, f)));
        let settings = settings_beside(&lists[0]);
        let mut removed = false;
        for file in std::iter::once(settings).chain(lists) {
            removed |= gone(std::fs::remove_file(&file), &file)?;
        }
        let reports = self.campaign_reports(campaign);
        removed |= gone(std::fs::remove_dir_all(&reports), &reports)?;
        Ok(removed)
    }
}

/// Whether a removal removed something: a path already gone removed nothing; any other
/// failure names the path.
fn gone(removal: io::Result<()>, path: &Path) -> io::Result<bool> {
    match removal {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io::Error::new(
            e.kind(),
            format!("cannot delete {}: {e}", path.display()),
        )),
    }
}

/// A file in a campaign's `reports/NAME/` (PRODUCT.md section 5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportFile {
    /// `status.json`, written last: `finished` there means the others are complete.
    Status,
    /// `summary.txt`, the same figures for a person.
    Summary,
    /// `results.csv`, every input row with its fate.
    Results,
    /// `results.xlsx`, the same rows as a workbook whose cells keep their text, with the
    /// skipped rows and the summary on sheets of their own.
    Workbook,
    /// `skipped.csv`, the rows intake skipped and why.
    Skipped,
    /// `report.html`, one self-contained page.
    Page,
}

impl ReportFile {
    /// Every report file, in the order a person would open them.
    pub const ALL: [ReportFile; 6] = [
        ReportFile::Page,
        ReportFile::Workbook,
        ReportFile::Results,
        ReportFile::Skipped,
        ReportFile::Summary,
        ReportFile::Status,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ReportFile::Status => "status.json",
            ReportFile::Summary => "summary.txt",
            ReportFile::Results => "results.csv",
            ReportFile::Workbook => "results.xlsx",
            ReportFile::Skipped => "skipped.csv",
            ReportFile::Page => "report.html",
        }
    }
}

/// What a file in `control/` asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Control {
    Pause(String),
    Resume(String),
    Cancel(String),
    /// `account.resume`: end an account halt.
    ResumeAccount,
}

const ACCOUNT_RESUME: &str = "account.resume";

/// What a file named `file_name` in `control/` asks for; `None` for anything else
/// (dot-files, temporary files, unknown suffixes).
pub fn read_control(file_name: &str) -> Option<Control> {
    if file_name == ACCOUNT_RESUME {
        return Some(Control::ResumeAccount);
    }
    if file_name.starts_with('.') {
        return None;
    }
    let (name, action) = file_name.rsplit_once('.')?;
    let name = name.to_string();
    match action {
        _ if name.is_empty() => None,
        "pause" => Some(Control::Pause(name)),
        "resume" => Some(Control::Resume(name)),
        "cancel" => Some(Control::Cancel(name)),
        _ => None,
    }
}

/// What `file_name` is, dropped in the inbox.
pub fn classify(file_name: &str) -> Dropped {
    let lower = file_name.to_lowercase();
    let ignored = lower.starts_with('.')
        || lower.starts_with("~$")
        || lower.ends_with(".part")
        || lower.ends_with(".tmp");
    match ListFormat::of(Path::new(&lower)) {
        _ if ignored => Dropped::Ignored,
        Some(format) => Dropped::CallList(format),
        None if lower.ends_with(".toml") => Dropped::Settings,
        None => Dropped::Ignored,
    }
}

/// The kinds of file a call list can be, told apart by the file name's extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListFormat {
    Csv,
    Xlsx,
    Xls,
    Ods,
}

impl ListFormat {
    pub const ALL: [ListFormat; 4] = [
        ListFormat::Csv,
        ListFormat::Xlsx,
        ListFormat::Xls,
        ListFormat::Ods,
    ];

    /// The extension, without its dot, as files carry it in `active/` and `done/`.
    pub fn extension(self) -> &'static str {
        match self {
            ListFormat::Csv => "csv",
            ListFormat::Xlsx => "xlsx",
            ListFormat::Xls => "xls",
            ListFormat::Ods => "ods",
        }
    }

    /// The format of the call list at `path`: the one its extension names, else CSV (as
    /// `voicecast check` reads a file of any other name).
    pub fn of_list(path: &Path) -> ListFormat {
        ListFormat::of(path).unwrap_or(ListFormat::Csv)
    }

    /// The format a file name's extension (in any case) names, if it names one.
    pub fn of(path: &Path) -> Option<ListFormat> {
        let extension = path.extension()?.to_str()?.to_lowercase();
        ListFormat::ALL
            .into_iter()
            .find(|f| f.extension() == extension)
    }
}

/// A call list's campaign name: its file stem.
pub fn campaign_name(csv: &Path) -> String {
    csv.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A campaign's call list in `active/` and `done/`: `NAME.csv`, `NAME.xlsx`, ...
pub fn call_list_file(campaign: &str, format: ListFormat) -> String {
    format!("{campaign}.{}", format.extension())
}

/// Returns true if and only if `folder` holds a call list of campaign `name`, of any format.
pub fn holds_call_list(folder: &Path, name: &str) -> bool {
    ListFormat::ALL
        .iter()
        .any(|&format| folder.join(call_list_file(name, format)).exists())
}

/// `NAME.toml` beside `NAME.csv` (or `NAME.xlsx`, ...).
pub fn settings_beside(csv: &Path) -> PathBuf {
    csv.with_extension("toml")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_files_name_a_campaign_and_an_action() {
        let layout = Layout::new("/c");
        for control in [
            Control::Pause("spring sale".into()),
            Control::Resume("a.b".into()),
            Control::Cancel("x".into()),
            Control::ResumeAccount,
        ] {
            let path = layout.control_file(&control);
            let name = path.file_name().unwrap().to_str().unwrap();
            assert_eq!(read_control(name), Some(control));
        }
        assert_eq!(read_control("x.stop"), None);
        assert_eq!(read_control(".x.pause"), None);
        assert_eq!(read_control(".pause"), None);
    }

    #[test]
    fn dropped_files_are_told_apart() {
        for (name, kind) in [
            ("july.csv", Dropped::CallList(ListFormat::Csv)),
            ("七月.CSV", Dropped::CallList(ListFormat::Csv)),
            ("july.xlsx", Dropped::CallList(ListFormat::Xlsx)),
            ("July.XLS", Dropped::CallList(ListFormat::Xls)),
            ("july.ods", Dropped::CallList(ListFormat::Ods)),
            ("~$july.xlsx", Dropped::Ignored),
            (".xlsx", Dropped::Ignored),
            (".toml", Dropped::Ignored),
            ("july.xlsm", Dropped::Ignored),
            ("july.toml", Dropped::Settings),
            (".july.csv", Dropped::Ignored),
            ("july.csv.part", Dropped::Ignored),
            ("july.csv.tmp", Dropped::Ignored),
            ("~$july.csv", Dropped::Ignored),
            (".csv", Dropped::Ignored),
            ("july.error.txt", Dropped::Ignored),
        ] {
            assert_eq!(classify(name), kind, "{name}");
        }
        assert_eq!(campaign_name(Path::new("/in/七月 提醒.csv")), "七月 提醒");
        assert_eq!(
            settings_beside(Path::new("/in/july.csv")),
            Path::new("/in/july.toml")
        );
    }
}
