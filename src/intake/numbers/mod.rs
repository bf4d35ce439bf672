//! Callee numbers (PRODUCT.md section 2): a cell as people type it or Excel writes it,
//! normalised to the digits the vendor dials, and validated by the configured policy.
//! Pure: no I/O.

use crate::config::NumberPolicy;

/// Why a cell is not a callable number.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    /// Excel turned a long number into `1.38001E+10`: the digits are lost.
    #[error(
        "{0:?} is in scientific notation (Excel rounded the number): format the column as text and export again"
    )]
    ScientificNotation(String),
    /// Anything else: empty, letters, wrong length or prefix.
    #[error("{text:?} {why}")]
    Invalid { text: String, why: String },
}

/// The digits to dial for `cell`, or why there are none.
///
/// Spaces, dashes, parentheses and full-width forms are dropped (nothing else: `021-6666666/7`
/// is two numbers, and joining them would call a third); `+86` and `0086` are removed, and a bare `86` too when what follows is a
/// Chinese number. Under [`NumberPolicy::Cn`] the result must be a mobile number
/// (`1[3-9]` and 9 digits), a landline (`0`, area code and subscriber: 10 to 12 digits)
/// or a `400`/`800` number (10 digits); under [`NumberPolicy::Any`], 5 to 20 digits.
pub fn normalise(cell: &str, policy: NumberPolicy) -> Result<String, NumberError> {
    let text = cell.trim();
    let invalid = |why: &str| NumberError::Invalid {
        text: text.to_string(),
        why: why.to_string(),
    };
    if text.is_empty() {
        return Err(invalid("is empty"));
    }
    if is_scientific(text) {
        return Err(NumberError::ScientificNotation(text.to_string()));
    }
    let mut plus = false;
    let mut digits = String::with_capacity(text.len());
    for (i, c) in text.chars().enumerate() {
        match fold_width(c) {
            d @ '0'..='9' => digits.push(d),
            '+' if digits.is_empty() && !plus => plus = true,
            '\'' if i == 0 => {}
            ' ' | '\u{a0}' | '\u{3000}' | '\t' | '-' | '(' | ')' => {}
            _ => return Err(invalid("holds characters that are not digits")),
        }
    }
    if digits.is_empty() {
        return Err(invalid("holds no digits"));
    }
    let international = if plus {
        digits.strip_prefix("86").map(str::to_string)
    } else {
        digits.strip_prefix("0086").map(str::to_string)
    };
    match policy {
        NumberPolicy::Cn => {
            if let Some(rest) = international {
                let domestic = from_international(&rest);
                return check_cn(&domestic)
                    .map(|()| domestic)
                    .map_err(|why| invalid(&why));
            }
            if plus {
                return Err(invalid("has a country code other than +86"));
            }
            match check_cn(&digits) {
                Ok(()) => Ok(digits),
                Err(why) => {
                    let after_86 = digits
                        .strip_prefix("86")
                        .map(from_international)
                        .filter(|d| check_cn(d).is_ok());
                    after_86.ok_or_else(|| invalid(&why))
                }
            }
        }
        NumberPolicy::Any => {
            let number = international.unwrap_or(digits);
            if (5..=20).contains(&number.len()) {
                Ok(number)
            } else {
                Err(invalid(&format!(
                    "has {} digits; a number has 5 to 20",
                    number.len()
                )))
            }
        }
    }
}

/// A full-width digit, plus, dash or parenthesis as its ASCII twin.
fn fold_width(c: char) -> char {
    match c {
        '\u{ff10}'..='\u{ff19}' => char::from(b'0' + (c as u32 - 0xff10) as u8),
        '\u{ff0b}' => '+',
        '\u{ff0d}' | '\u{2010}'..='\u{2015}' | '\u{2212}' => '-',
        '\u{ff08}' => '(',
        '\u{ff09}' => ')',
        other => other,
    }
}

/// A domestic number from what follows `+86`: landlines lose their leading `0` in the
/// international form (`+86 10 ...` is `010 ...`), mobiles and 400/800 numbers do not.
fn from_international(rest: &str) -> String {
    let mobile = is_mobile(rest);
    let service = rest.starts_with("400") || rest.starts_with("800");
    if mobile || service || rest.starts_with('0') {
        rest.to_string()
    } else {
        format!("0{rest}")
    }
}

fn is_mobile(d: &str) -> bool {
    let b = d.as_bytes();
    b.len() == 11 && b[0] == b'1' && (b'3'..=b'9').contains(&b[1])
}

/// Whether `d` (ASCII digits) is a Chinese number, or why not.
fn check_cn(d: &str) -> Result<(), String> {
    let len = d.len();
    if is_mobile(d) {
        return Ok(());
    }
    if d.starts_with("400") || d.starts_with("800") {
        return match len {
            10 => Ok(()),
            _ => Err(format!("has {len} digits; a 400/800 number has 10")),
        };
    }
    if let Some(rest) = d.strip_prefix('0') {
        return match (rest.starts_with('0'), (10..=12).contains(&len)) {
            (false, true) => Ok(()),
            (true, _) => {
                Err("is not a Chinese number: a landline's area code does not start with 0".into())
            }
            (false, false) => Err(format!(
                "has {len} digits; a landline with its area code has 10 to 12"
            )),
        };
    }
    if let Some(landline) = lost_zero(d) {
        return Err(format!(
            "has {len} digits and looks like the landline {landline} without its leading 0, \
             which a spreadsheet drops from a column of numbers: format the column as text \
             before saving the list"
        ));
    }
    if d.starts_with('1') {
        return Err(match len {
            11 => "is not a mobile number: the second digit must be 3 to 9".into(),
            _ => format!("has {len} digits; a mobile number has 11"),
        });
    }
    Err("is not a Chinese number: a mobile starts with 1, a landline with its area code 0".into())
}

/// The landline `d` (no valid number itself) would be with the leading `0` a spreadsheet
/// drops: `1062345678` for `01062345678`. China's area codes are 10, 2x and 3xx to 9xx.
fn lost_zero(d: &str) -> Option<String> {
    let area = d.starts_with("10") || d.starts_with(|c: char| ('2'..='9').contains(&c));
    let landline = format!("0{d}");
    (area && (10..=12).contains(&landline.len()) && check_cn(&landline).is_ok()).then_some(landline)
}

/// Whether `text` looks like Excel's scientific notation: `1.38001E+10`, `1.38E10`.
fn is_scientific(text: &str) -> bool {
    let Some((mantissa, exponent)) = text.split_once(['e', 'E']) else {
        return false;
    };
    let exponent = exponent.strip_prefix('+').unwrap_or(exponent);
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.bytes().all(|b| b.is_ascii_digit())
        && !exponent.is_empty()
        && exponent.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests;
