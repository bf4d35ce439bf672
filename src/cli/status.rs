//! `voicecast status [NAME] [--json]`: what the daemon's report files say. It reads
//! `reports/status.json` (or `reports/NAME/status.json` and `summary.txt`), so it works
//! beside a running daemon without touching its store.

use std::path::Path;

use anyhow::Context;
use serde_json::Value;

use crate::config::Config;
use crate::domain::RowState;
use crate::layout::{Layout, ReportFile};

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// One campaign's figures instead of the table of all.
    name: Option<String>,
    /// Print the status.json file as it is.
    #[arg(long)]
    json: bool,
}

pub fn run(config: &Config, args: StatusArgs) -> anyhow::Result<()> {
    let layout = Layout::new(&config.paths.campaigns);
    match args.name {
        Some(name) => {
            anyhow::ensure!(
                !name.is_empty() && !name.contains(['/', '\\']) && !name.starts_with('.'),
                "{name:?} is not a campaign name"
            );
            let file = if args.json {
                ReportFile::Status
            } else {
                ReportFile::Summary
            };
            print!("{}", read(&layout.report(&name, file), Some(&name))?);
        }
        None => {
            let path = layout.daemon_status();
            let text = read(&path, None)?;
            if args.json {
                print!("{text}");
            } else {
                let status: Value = serde_json::from_str(&text)
                    .with_context(|| format!("{} is not JSON", path.display()))?;
                print!("{}", table(&status));
            }
        }
    }
    Ok(())
}

fn read(path: &Path, campaign: Option<&str>) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| match campaign {
        Some(name) => format!(
            "no report for campaign {name:?} at {}: is the name right, and has the daemon (voicecast run) seen it?",
            path.display()
        ),
        None => format!(
            "no daemon status at {}: has the daemon (voicecast run) started with this configuration?",
            path.display()
        ),
    })
}

/// The daemon's status as a table of campaigns.
fn table(status: &Value) -> String {
    let account = &status["account"];
    let mut out = format!(
        "account {}{}, rate {}/s, up since {}\n",
        account["state"].as_str().unwrap_or("?"),
        account["reason"]
            .as_str()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default(),
        status["limits"]["rate"],
        status["up_since"].as_str().unwrap_or("?"),
    );
    for warning in status["warnings"].as_array().into_iter().flatten() {
        out.push_str(&format!("WARNING: {}\n", warning.as_str().unwrap_or("?")));
    }
    let campaigns = status["campaigns"].as_array().cloned().unwrap_or_default();
    if campaigns.is_empty() {
        out.push_str("no campaigns\n");
        return out;
    }
    let width = campaigns
        .iter()
        .filter_map(|c| c["campaign"].as_str())
        .map(|n| n.chars().count())
        .max()
        .unwrap_or(0)
        .max("CAMPAIGN".len());
    out.push_str(&format!(
        "{:<width$}  {:<9}  {:>9}  {:>9}  {:>9}  {:>9}\n",
        "CAMPAIGN", "STATE", "ROWS", "FINAL", "ANSWERED", "TO DIAL"
    ));
    for campaign in &campaigns {
        let rows = &campaign["rows"];
        let count = |state: RowState| rows[state.as_str()].as_u64().unwrap_or(0);
        let final_rows: u64 = RowState::ALL
            .iter()
            .filter(|s| s.is_final())
            .map(|s| count(*s))
            .sum();
        out.push_str(&format!(
            "{:<width$}  {:<9}  {:>9}  {:>9}  {:>9}  {:>9}\n",
            campaign["campaign"].as_str().unwrap_or("?"),
            campaign["state"].as_str().unwrap_or("?"),
            rows["total"].as_u64().unwrap_or(0),
            final_rows,
            count(RowState::Answered),
            count(RowState::Pending) + count(RowState::Sending),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_lines_campaigns_up() {
        let status = serde_json::json!({
            "account": {"state": "active", "reason": null},
            "limits": {"rate": 10},
            "up_since": "2026-11-24T09:00:00+08:00",
            "campaigns": [
                {"campaign": "七月账单", "state": "running",
                 "rows": {"total": 10, "answered": 4, "busy": 1, "pending": 5}},
            ],
        });
        let text = table(&status);
        assert!(text.starts_with("account active, rate 10/s"), "{text}");
        let line = text.lines().nth(2).unwrap();
        let cells: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cells, ["七月账单", "running", "10", "5", "4", "5"]);
    }

    #[test]
    fn warnings_come_right_under_the_account() {
        let status = serde_json::json!({
            "account": {"state": "active", "reason": null},
            "limits": {"rate": 10},
            "up_since": "2026-11-24T09:00:00+08:00",
            "campaigns": [],
            "warnings": ["the store cannot be written"],
        });
        let text = table(&status);
        assert_eq!(
            text.lines().nth(1),
            Some("WARNING: the store cannot be written")
        );
    }
}
