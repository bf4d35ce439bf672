//! What a call list is checked against: its settings (`NAME.toml` over
//! `[campaign_defaults]`), its template, the do-not-call list and intake's limits, put
//! together once per file.

use std::path::Path;

use super::rows::{DoNotCall, Rules};
use crate::config::NumberPolicy;
use crate::settings::{CampaignSettings, PartialSettings, TemplateSource};
use callcenter_openapi::template::Template;

/// Intake's own configuration, the part of `[intake]` that judges rows.
#[derive(Clone, Debug)]
pub struct Limits {
    pub numbers: NumberPolicy,
    pub max_text_chars: usize,
}

/// A call list's settings and rules, ready for its rows.
#[derive(Clone, Debug)]
pub struct Plan {
    pub settings: CampaignSettings,
    /// The settings as the store keeps them (see [`PartialSettings::to_keep`]), as TOML.
    pub settings_toml: String,
    pub rules: Rules,
}

/// Reads a campaign's settings file as one layer of settings; the error names the file,
/// and the line and key of a mistake.
pub fn read_settings(path: &Path) -> Result<PartialSettings, String> {
    let bytes = std::fs::read(path)
        .map_err(|e| format!("cannot read the settings file {}: {e}", path.display()))?;
    let text = String::from_utf8(bytes).map_err(|_| {
        format!(
            "the settings file {} is not UTF-8: save it as UTF-8",
            path.display()
        )
    })?;
    toml::from_str::<PartialSettings>(&text).map_err(|e| {
        let line = e
            .span()
            .map_or(1, |span| text[..span.start].matches('\n').count() + 1);
        format!(
            "the settings file {}, line {line}: {}",
            path.display(),
            e.message()
        )
    })
}

/// Reads the settings file (when there is one) over `defaults`, and checks them and the
/// template. A text template is parsed here; a vendor template (`template_id`) leaves
/// `rules.template` empty for the caller to fill in. The error says what is wrong, naming
/// the file and the key.
pub fn plan(
    settings_file: Option<&Path>,
    defaults: &PartialSettings,
    limits: &Limits,
    do_not_call: DoNotCall,
) -> Result<Plan, String> {
    let own = match settings_file {
        None => PartialSettings::default(),
        Some(path) => read_settings(path)?,
    };
    let origin = match settings_file {
        Some(path) => format!("the settings file {}", path.display()),
        None => "[campaign_defaults] (no settings file beside the call list)".to_string(),
    };
    let merged = own.over(defaults);
    let settings = merged.resolve().map_err(|e| format!("{origin}: {e}"))?;
    let template = match &settings.template {
        TemplateSource::Text(text) => {
            Some(Template::parse(text).map_err(|e| format!("{origin}: `template`: {e}"))?)
        }
        TemplateSource::VendorId(_) => None,
    };
    let settings_toml = toml::to_string(&own.to_keep(&merged))
        .map_err(|e| format!("the settings cannot be stored: {e}"))?;
    Ok(Plan {
        settings,
        settings_toml,
        rules: Rules {
            numbers: limits.numbers,
            template,
            max_text_chars: limits.max_text_chars,
            do_not_call,
        },
    })
}

/// Reads the do-not-call list (UTF-8, else GB18030). A line that is not a number makes it
/// unusable: the error names the file and the line.
pub fn read_do_not_call(path: &Path, policy: NumberPolicy) -> Result<DoNotCall, String> {
    let text = std::fs::read(path)
        .map_err(|e| format!("cannot read the do-not-call list {}: {e}", path.display()))?;
    let text = match String::from_utf8(text) {
        Ok(text) => text,
        Err(e) => encoding_rs::GB18030.decode(e.as_bytes()).0.into_owned(),
    };
    DoNotCall::parse(&text, policy)
        .map_err(|e| format!("the do-not-call list {}, {e}", path.display()))
}
