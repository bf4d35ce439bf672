//! The stages talk through the store, never to each other: no module of one stage
//! (`intake`, `dispatch`, `reconcile`, `reports`) names another stage in a path, whether
//! through `crate::`, a `use crate::{...}` group, or `super::` climbing to the crate root.
//! Only `app` (and the command line) knows them all.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const STAGES: [&str; 4] = ["intake", "dispatch", "reconcile", "reports"];

#[test]
fn no_stage_names_another_stage() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut crossings = Vec::new();
    let mut files_read = 0;
    for stage in STAGES {
        for file in rust_files(&src.join(stage)) {
            let module = module_path(&src, &file);
            let source = std::fs::read_to_string(&file).unwrap();
            files_read += 1;
            for named in root_modules_named(&source, module.len()) {
                if named != stage && STAGES.contains(&named.as_str()) {
                    crossings.push(format!("{} names `{named}`", file.display()));
                }
            }
        }
    }
    assert!(files_read >= 20, "only {files_read} stage files found");
    assert!(
        crossings.is_empty(),
        "stages must meet in the store, not import each other:\n{}",
        crossings.join("\n")
    );
}

#[test]
fn every_form_of_naming_a_root_module_is_found() {
    let named = |source: &str, depth: usize| -> Vec<String> {
        root_modules_named(source, depth).into_iter().collect()
    };
    assert_eq!(named("use crate::dispatch::hours;", 1), ["dispatch"]);
    assert_eq!(
        named(
            "use crate::{store::Store, intake::{self, fields}, domain};",
            1
        ),
        ["domain", "intake", "store"]
    );
    assert_eq!(named("let x = crate::reports::write(1);", 2), ["reports"]);
    // From `reports::files`, two steps up is the crate root; one step up is not.
    assert_eq!(
        named("use super::super::reconcile::settle;", 2),
        ["reconcile"]
    );
    assert_eq!(named("use super::figures;", 2), Vec::<String>::new());
    assert_eq!(
        named("use super::{dispatch, figures};", 1),
        ["dispatch", "figures"]
    );
    // Comments and other crates' paths name nothing.
    assert_eq!(
        named("// see crate::dispatch\nuse callcenter_openapi::wire;", 1),
        Vec::<String>::new()
    );
    assert_eq!(named("use my_crate::dispatch;", 1), Vec::<String>::new());
}

/// The top-level modules of this crate that `source` names in a path: `crate::NAME`, the
/// items of a `crate::{...}` group, or `super::` repeated `depth` times (which climbs
/// from a module `depth` levels below the root to the root).
fn root_modules_named(source: &str, depth: usize) -> BTreeSet<String> {
    let code: String = source
        .lines()
        .map(|line| line.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let climb = "super::".repeat(depth);
    let mut named = BTreeSet::new();
    for prefix in ["crate::", climb.as_str()] {
        let mut rest = code.as_str();
        while let Some(at) = rest.find(prefix) {
            let before = rest[..at].chars().next_back();
            rest = &rest[at + prefix.len()..];
            let inside_a_name = before.is_some_and(|c| c.is_alphanumeric() || c == '_');
            let climbs_further = prefix.starts_with("super") && rest.starts_with("super::");
            if !inside_a_name && !climbs_further {
                named.extend(first_segments(rest));
            }
        }
    }
    named
}

/// The first segment of the path `rest` starts with, or of every item of the group
/// `{...}` it starts with.
fn first_segments(rest: &str) -> Vec<String> {
    let identifier = |text: &str| -> String {
        text.trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let Some(group) = rest.strip_prefix('{') else {
        return vec![identifier(rest)];
    };
    let (mut items, mut depth, mut start) = (Vec::new(), 0, 0);
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                items.push(identifier(&group[start..i]));
                break;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(identifier(&group[start..i]));
                start = i + 1;
            }
            _ => {}
        }
    }
    items.retain(|item| !item.is_empty());
    items
}

/// A file's module path below the crate root: `src/intake/decode/lines.rs` is
/// `intake::decode::lines`, `src/intake/mod.rs` is `intake`.
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src).unwrap().with_extension("");
    let mut path: Vec<String> = relative
        .iter()
        .map(|part| part.to_string_lossy().into_owned())
        .collect();
    if path.last().is_some_and(|last| last == "mod") {
        path.pop();
    }
    path
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    let stage_file = dir.with_extension("rs");
    if stage_file.is_file() {
        files.push(stage_file);
    }
    while let Some(folder) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files
}
