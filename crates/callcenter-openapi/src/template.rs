//! TTS templates: text with variables `{1}`..`{10}` under the vendor's rules (the fixed
//! text holds no `{`, `}` or `@`), parsed once and rendered per row. Pure: no I/O.

use std::collections::BTreeSet;
use std::fmt;

/// The highest variable number the vendor supports.
pub const MAX_VARIABLE: u8 = 10;

/// A parsed template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Text(String),
    Variable(u8),
}

/// Why a template text breaks the vendor's rules; `at` counts characters from 1.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("template character {at}: {problem}")]
pub struct TemplateError {
    pub at: usize,
    pub problem: String,
}

impl Template {
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let mut parts = Vec::new();
        let mut fixed = String::new();
        let mut chars = text.chars().enumerate().peekable();
        while let Some((i, c)) = chars.next() {
            let error = |problem: String| Err(TemplateError { at: i + 1, problem });
            match c {
                '{' => {
                    let mut digits = String::new();
                    let mut closed = false;
                    for (_, d) in chars.by_ref() {
                        if d == '}' {
                            closed = true;
                            break;
                        }
                        digits.push(d);
                        if digits.len() > 3 {
                            break;
                        }
                    }
                    let number = digits
                        .parse::<u8>()
                        .ok()
                        .filter(|n| (1..=MAX_VARIABLE).contains(n));
                    match (closed, number) {
                        (true, Some(n)) => {
                            if !fixed.is_empty() {
                                parts.push(Part::Text(std::mem::take(&mut fixed)));
                            }
                            parts.push(Part::Variable(n));
                        }
                        (true, None) if digits.bytes().all(|b| b.is_ascii_digit()) && !digits.is_empty() => {
                            return error(format!("{{{digits}}} is not a variable: use {{1}} to {{{MAX_VARIABLE}}}"));
                        }
                        _ => return error("`{` must start a variable {1} to {10}; the fixed text may not contain it".into()),
                    }
                }
                '}' => {
                    return error(
                        "`}` outside a variable; the fixed text may not contain it".into(),
                    );
                }
                '@' => return error("`@` is not allowed in a template".into()),
                _ => fixed.push(c),
            }
        }
        if !fixed.is_empty() {
            parts.push(Part::Text(fixed));
        }
        if parts.is_empty() {
            return Err(TemplateError {
                at: 1,
                problem: "the template is empty".into(),
            });
        }
        Ok(Template { parts })
    }

    /// The variable numbers the template uses.
    pub fn variables(&self) -> BTreeSet<u8> {
        self.parts
            .iter()
            .filter_map(|p| match p {
                Part::Variable(n) => Some(*n),
                Part::Text(_) => None,
            })
            .collect()
    }

    /// Fills the variables from `value`; the first variable with no non-empty value is
    /// returned as the error. The text is allocated once, at its final size.
    pub fn render<'a>(&self, value: impl Fn(u8) -> Option<&'a str>) -> Result<String, u8> {
        let filled = |n: u8| value(n).filter(|v| !v.trim().is_empty()).ok_or(n);
        let mut len = 0;
        for part in &self.parts {
            len += match part {
                Part::Text(t) => t.len(),
                Part::Variable(n) => filled(*n)?.len(),
            };
        }
        let mut text = String::with_capacity(len);
        for part in &self.parts {
            text.push_str(match part {
                Part::Text(t) => t,
                Part::Variable(n) => filled(*n)?,
            });
        }
        Ok(text)
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for part in &self.parts {
            match part {
                Part::Text(t) => f.write_str(t)?,
                Part::Variable(n) => write!(f, "{{{n}}}")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vendor_example_parses_and_renders() {
        let text = "{1}您好, 请您于{2}时间, 在{3}地点领取您的礼品, 领奖码是{4}";
        let t = Template::parse(text).unwrap();
        assert_eq!(t.variables(), BTreeSet::from([1, 2, 3, 4]));
        assert_eq!(t.to_string(), text);
        let values = ["张三", "明天", "前台", "8848"];
        let rendered = t.render(|n| values.get(n as usize - 1).copied()).unwrap();
        assert_eq!(
            rendered,
            "张三您好, 请您于明天时间, 在前台地点领取您的礼品, 领奖码是8848"
        );
        assert_eq!(
            rendered.capacity(),
            rendered.len(),
            "allocated once, to size"
        );
        assert_eq!(
            t.render(|n| if n == 3 { Some(" ") } else { Some("x") }),
            Err(3)
        );
    }

    #[test]
    fn broken_rules_are_refused_with_the_place() {
        for (text, at) in [
            ("a{0}", 2),
            ("a{11}", 2),
            ("{x}", 1),
            ("ab{", 3),
            ("a}b", 2),
            ("mail@me", 5),
            ("{1", 1),
            ("{{1}}", 1),
            ("", 1),
        ] {
            assert_eq!(Template::parse(text).unwrap_err().at, at, "{text}");
        }
        assert!(Template::parse("{10}{1}").is_ok());
    }
}
