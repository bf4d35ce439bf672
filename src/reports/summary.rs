//! `summary.txt`: a campaign's `status.json` for a person, in a few lines. Also what
//! `voicecast status NAME` and the demo print.

use std::fmt::Write;

use super::figures::CampaignStatus;
use crate::domain::RowState;

/// The summary of `status`, ending with a newline.
pub fn summary(status: &CampaignStatus) -> String {
    let mut text = String::new();
    let rows = &status.rows;
    let _ = writeln!(
        text,
        "Campaign {}: {}{}",
        status.campaign,
        status.state,
        status
            .state_reason
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default()
    );
    let _ = writeln!(text, "File:      {}, {} rows", status.file, rows.total());
    let counts: Vec<String> = RowState::ALL
        .iter()
        .filter(|s| rows.get(**s) > 0)
        .map(|s| format!("{} {}", rows.get(*s), s))
        .collect();
    let _ = writeln!(text, "Rows:      {}", counts.join(", "));
    if status.held_by_cap > 0 {
        let _ = writeln!(
            text,
            "Held:      {} pending rows wait for a per-number cap",
            status.held_by_cap
        );
    }
    let answer = status
        .answer_rate
        .map(|r| format!("{:.1}%", r * 100.0))
        .unwrap_or_else(|| "-".into());
    let _ = writeln!(
        text,
        "Calls:     {} placed, {:.2}/s over the last minute; answer rate {answer}",
        status.attempts, status.calls_per_sec_1m
    );
    let _ = writeln!(
        text,
        "Talk time: {}; fee {} yuan",
        duration(status.talk_secs_total),
        status.fee_total
    );
    if !status.top_causes.is_empty() {
        let causes: Vec<String> = status
            .top_causes
            .iter()
            .map(|c| format!("{} {} / {} ({})", c.cause, c.zh, c.en, c.count))
            .collect();
        let _ = writeln!(text, "Causes:    {}", causes.join("; "));
    }
    for warning in &status.warnings {
        let _ = writeln!(text, "Warning:   {warning}");
    }
    if let Some(window) = &status.next_window {
        let _ = writeln!(text, "Next calling window: {window}");
    }
    if let Some(eta) = &status.eta {
        let _ = writeln!(text, "Dialling done by about {eta}");
    }
    let _ = writeln!(
        text,
        "Account:   {}{}",
        status.account.state,
        status
            .account
            .reason
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default()
    );
    let _ = writeln!(text, "Updated:   {}", status.updated_at);
    text
}

/// `1 h 02 min 03 s`, shortest form.
pub fn duration(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    match (h, m) {
        (0, 0) => format!("{s} s"),
        (0, _) => format!("{m} min {s:02} s"),
        _ => format!("{h} h {m:02} min {s:02} s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(7), "7 s");
        assert_eq!(duration(125), "2 min 05 s");
        assert_eq!(duration(3723), "1 h 02 min 03 s");
    }
}
