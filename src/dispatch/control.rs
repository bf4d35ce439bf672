//! The control files (`control/NAME.pause`, `.resume`, `.cancel`, `account.resume`):
//! each applied to the store or the account, then consumed. `voicecast pause|resume|
//! cancel` writes them.

use crate::account::Account;
use crate::domain::CampaignState;
use crate::layout::{Control, Layout, read_control};
use crate::store::{Store, now_ms};

/// Applies and removes every control file present. A file naming no campaign, or asking
/// what its campaign's state does not allow, is logged and removed all the same.
pub fn apply(layout: &Layout, store: &Store, account: &Account) {
    let entries = match std::fs::read_dir(layout.control()) {
        Ok(entries) => entries,
        Err(error) => {
            tracing::warn!(folder = %layout.control().display(), %error, "Cannot read the control folder.");
            return;
        }
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let Some(control) = read_control(&file_name) else {
            continue;
        };
        let when = jiff::Timestamp::now()
            .strftime("%Y-%m-%d %H:%M:%S UTC")
            .to_string();
        match apply_one(store, account, &control, &when) {
            Ok(done) => tracing::info!(file = %file_name, "{done}"),
            Err(error) => {
                tracing::warn!(file = %file_name, %error, "The control file is not applied.")
            }
        }
        if let Err(error) = std::fs::remove_file(entry.path()) {
            tracing::warn!(file = %file_name, %error, "Cannot remove the control file.");
        }
    }
}

fn apply_one(
    store: &Store,
    account: &Account,
    control: &Control,
    when: &str,
) -> anyhow::Result<String> {
    let name = match control {
        Control::ResumeAccount => {
            account.resume("control/account.resume");
            return Ok("The account is resumed.".into());
        }
        Control::Pause(name) | Control::Resume(name) | Control::Cancel(name) => name,
    };
    let campaign = store
        .dial_campaigns()?
        .into_iter()
        .find(|c| c.name == *name)
        .ok_or_else(|| {
            anyhow::anyhow!("no campaign {name:?} is waiting, running, paused or halted")
        })?;
    match (control, campaign.state) {
        (_, CampaignState::Cancelled) => anyhow::bail!("campaign {name:?} is cancelled"),
        (Control::Pause(_), CampaignState::Paused) => {
            Ok(format!("Campaign {name:?} was already paused."))
        }
        (Control::Pause(_), _) => {
            let reason = format!("paused by control/{name}.pause at {when}");
            store.set_campaign_state(
                campaign.id,
                CampaignState::Paused,
                Some(&reason),
                now_ms(),
            )?;
            Ok(format!("Campaign {name:?} paused."))
        }
        (Control::Resume(_), CampaignState::Paused) => {
            // The next refresh makes it running, waiting or halted, as the time and the
            // account say.
            store.resume_campaign(campaign.id, now_ms())?;
            Ok(format!("Campaign {name:?} resumed."))
        }
        (Control::Resume(_), _) => Ok(format!("Campaign {name:?} was not paused.")),
        (Control::Cancel(_), _) => {
            let reason = format!("cancelled by control/{name}.cancel at {when}");
            let rows = store.cancel_campaign(campaign.id, &reason, now_ms())?;
            Ok(format!(
                "Campaign {name:?} cancelled; {rows} pending rows will not be dialled."
            ))
        }
        (Control::ResumeAccount, _) => unreachable!("handled above"),
    }
}
