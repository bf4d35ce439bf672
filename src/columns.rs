//! A call list's columns: which header cell holds the callee, which the template's
//! variables `{1}`..`{10}`, the per-row `caller` and `cycle_play_times` (PRODUCT.md
//! section 2), and which are carried through to the reports. Intake finds the roles when
//! it reads a file; dispatch and the reports find them again in the header the store
//! keeps. Pure.

use callcenter_openapi::template::MAX_VARIABLE;

/// Why a header row cannot be a call list's: the text says what is wrong with it, and
/// reads after "the header row".
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct HeaderError(pub String);

/// What a header column is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Callee,
    /// Template variable `{n}`, 1 to 10.
    Variable(u8),
    Caller,
    CyclePlayTimes,
    /// Any other column: carried through to the reports.
    Carried,
}

const CALLEE_NAMES: &[&str] = &[
    "callee",
    "phone",
    "mobile",
    "number",
    "tel",
    "手机",
    "手机号",
    "电话",
    "号码",
    "被叫",
    "被叫号码",
];

/// The role of a header cell; matching ignores case and surrounding spaces.
pub fn role_of(name: &str) -> Role {
    let name = name.trim().to_lowercase();
    if CALLEE_NAMES.contains(&name.as_str()) {
        return Role::Callee;
    }
    match name.as_str() {
        "caller" => return Role::Caller,
        "cycle_play_times" => return Role::CyclePlayTimes,
        _ => {}
    }
    let number = [
        ("{", "}"),
        ("<", ">"),
        ("var", ""),
        ("v", ""),
        ("变量", ""),
        ("", ""),
    ]
    .iter()
    .find_map(|(open, close)| name.strip_prefix(open)?.strip_suffix(close))
    .filter(|n| !n.starts_with('0'))
    .and_then(|n| n.parse::<u8>().ok());
    match number {
        Some(n) if (1..=MAX_VARIABLE).contains(&n) => Role::Variable(n),
        _ => Role::Carried,
    }
}

/// The header, each column with its role, and where the roles are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Columns {
    /// The header cells as written.
    pub header: Vec<String>,
    pub callee: usize,
    pub variables: [Option<usize>; 10],
    pub caller: Option<usize>,
    pub cycle_play_times: Option<usize>,
}

impl Columns {
    /// The roles of `header`'s cells; an error when it has no callee column or names one
    /// role twice.
    pub fn from_header(header: &csv::StringRecord) -> Result<Columns, HeaderError> {
        let (mut callee, mut variables, mut caller, mut cycle) = (None, [None; 10], None, None);
        for (i, name) in header.iter().enumerate() {
            let slot = match role_of(name) {
                Role::Callee => &mut callee,
                Role::Variable(n) => &mut variables[usize::from(n) - 1],
                Role::Caller => &mut caller,
                Role::CyclePlayTimes => &mut cycle,
                Role::Carried => continue,
            };
            if let Some(first) = slot.replace(i) {
                return Err(HeaderError(format!(
                    "names the same column twice: {:?} (column {}) and {:?} (column {})",
                    header[first].trim(),
                    first + 1,
                    name.trim(),
                    i + 1
                )));
            }
        }
        let callee = callee.ok_or_else(|| {
            HeaderError(format!(
                "has no callee column: name the column of numbers one of {}",
                CALLEE_NAMES.join(", ")
            ))
        })?;
        Ok(Columns {
            header: header.iter().map(str::to_string).collect(),
            callee,
            variables,
            caller,
            cycle_play_times: cycle,
        })
    }

    /// The value of variable `n` (1 to 10) in `record`, if the file has that column.
    pub fn variable<'r>(&self, record: &'r csv::StringRecord, n: u8) -> Option<&'r str> {
        record.get(
            self.variables
                .get(usize::from(n).checked_sub(1)?)
                .copied()
                .flatten()?,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_aliases_take_their_roles() {
        for name in [
            "callee",
            " Phone ",
            "MOBILE",
            "number",
            "tel",
            "手机",
            "手机号",
            "电话",
            "号码",
            "被叫",
            "被叫号码",
        ] {
            assert_eq!(role_of(name), Role::Callee, "{name}");
        }
        for name in ["3", "{3}", "<3>", "var3", "V3", "变量3", " {3} "] {
            assert_eq!(role_of(name), Role::Variable(3), "{name}");
        }
        assert_eq!(role_of("10"), Role::Variable(10));
        assert_eq!(role_of("Caller"), Role::Caller);
        assert_eq!(role_of("cycle_play_times"), Role::CyclePlayTimes);
        for name in ["0", "11", "{0}", "03", "name", "variable", "v", ""] {
            assert_eq!(role_of(name), Role::Carried, "{name}");
        }
    }
}
