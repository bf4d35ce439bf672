//! Which row is dialled next: the campaigns that may dial now (state, `start_at`,
//! calling hours, the account), each within its own `rate`, sharing the account fairly by
//! `priority` (stride scheduling). Also where campaign states change: control files are
//! applied here, and campaigns with nothing left become `finished`.

use std::collections::{HashMap, HashSet, VecDeque};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use csv::StringRecord;
use governor::RateLimiter;
use governor::clock::{Clock as _, MonotonicClock};
use governor::state::{InMemoryState, NotKeyed};
use tokio::sync::watch;

use super::control;
use super::shares::Shares;
use crate::account::{AccountState, Vendor};
use crate::clock::Clock;
use crate::columns::Columns;
use crate::domain::CampaignState;
use crate::domain::answer_rate_below;
use crate::domain::caps::longest_window;
use crate::fields;
use crate::layout::Layout;
use crate::limiter::quota;
use crate::reload::Live;
use crate::settings::CampaignSettings;
use crate::settings::{DialTime, dial_time};
use crate::store::{DialCampaign, ReadyAfter, ReadyRow, Store, now_ms};
use crate::trouble::LogThrottle;
use callcenter_openapi::template::Template;
use callcenter_openapi::wire::VoiceNotifyCommand;

/// A row on its way: its command, without `seq` and `userData` until it is written ahead.
#[derive(Clone, Debug)]
pub struct Call {
    pub row: i64,
    /// The row's attempts when it was read: it is written ahead only if it has had no
    /// other since.
    pub tries: i64,
    pub command: VoiceNotifyCommand,
}

/// What the picker says next.
pub enum Next {
    Call(Call),
    /// Nothing can be dialled before this instant (or a change).
    Wait(Instant),
}

type CampaignLimiter = RateLimiter<NotKeyed, InMemoryState, MonotonicClock>;

/// Rows fetched from the store at a time, per campaign.
const FETCH: usize = 512;

struct Active {
    name: String,
    settings: CampaignSettings,
    template: Template,
    columns: Columns,
    limiter: Option<CampaignLimiter>,
    queue: VecDeque<ReadyRow>,
    /// The last row fetched: the next read goes on from there, and starts over from the
    /// first row only when it finds none (rows due again earlier are found then).
    after: Option<ReadyAfter>,
    /// When the store last had no ready row: not asked again before a second has passed.
    dry_until: Option<Instant>,
}

pub struct Picker {
    store: Store,
    layout: Layout,
    vendor: Vendor,
    clock: Arc<dyn Clock>,
    /// Brings `[campaign_defaults]` and the calendar as a reload changes them.
    live: watch::Receiver<Live>,
    campaigns: HashMap<i64, Active>,
    /// Their fair shares of the account.
    shares: Shares,
    /// Rows handed on and not yet written ahead: not to be fetched again meanwhile.
    pub claimed: Arc<Mutex<HashSet<i64>>>,
    /// The fields of the row being rendered, kept from row to row.
    record: StringRecord,
    /// Failures a refresh meets every second (a store that cannot be written) are
    /// logged once a minute.
    trouble: LogThrottle,
    /// When the calls to numbers older than any cap's window were last forgotten.
    forgotten_at: Option<Instant>,
}

/// How often the calls to numbers that no cap looks back to are forgotten.
const FORGET_EVERY: Duration = Duration::from_secs(3600);
/// How long a call to a number is kept at least, so that caps a reload lengthens to a
/// day still find the day's calls.
const KEEP_NUMBER_CALLS: Duration = Duration::from_secs(24 * 3600);

impl Picker {
    pub fn new(
        store: Store,
        layout: Layout,
        vendor: Vendor,
        clock: Arc<dyn Clock>,
        live: watch::Receiver<Live>,
    ) -> Picker {
        Picker {
            store,
            layout,
            vendor,
            clock,
            live,
            campaigns: HashMap::new(),
            shares: Shares::default(),
            claimed: Arc::default(),
            record: StringRecord::new(),
            trouble: LogThrottle::default(),
            forgotten_at: None,
        }
    }

    /// Changes each time the store accepts a campaign.
    pub fn accepted_campaigns(&self) -> watch::Receiver<()> {
        self.store.accepted_campaigns()
    }

    /// Applies control files, then brings every campaign's state up to date: `finished`
    /// when no row has work left, else `halted`, `waiting` or `running` as the account,
    /// `start_at` and the calling hours say.
    pub async fn refresh(&mut self) {
        let store = self.store.clone();
        let layout = self.layout.clone();
        let account = self.vendor.account.clone();
        let now = self.clock.now();
        let live = self.live.borrow().clone();
        let forget = self
            .forgotten_at
            .is_none_or(|at| at.elapsed() >= FORGET_EVERY)
            .then(|| {
                self.forgotten_at = Some(Instant::now());
                let keep = longest_window(&live.per_number)
                    .map_or(KEEP_NUMBER_CALLS, |w| w.max(KEEP_NUMBER_CALLS));
                now_ms() - i64::try_from(keep.as_millis()).unwrap_or(i64::MAX)
            });
        let result = tokio::task::spawn_blocking(move || {
            control::apply(&layout, &store, &account);
            if let Some(before) = forget {
                match store.forget_number_calls(before) {
                    Ok(0) => {}
                    Ok(forgotten) => tracing::debug!(forgotten, "Forgot calls to numbers that no cap looks back to."),
                    Err(error) => tracing::warn!(%error, "Cannot forget old calls to numbers; they are tried again in an hour."),
                }
            }
            let account = account.state();
            let mut dialable = Vec::new();
            let mut failed = Vec::new();
            // One campaign whose state cannot be brought up to date holds up no other.
            for campaign in store.dial_campaigns()? {
                match update_state(&store, &layout, &account, &campaign, &live, now) {
                    Ok(Some(settings)) => dialable.push((campaign, settings)),
                    Ok(None) => {}
                    Err(error) => failed.push((campaign.name, format!("{error:#}"))),
                }
            }
            anyhow::Ok((dialable, failed))
        })
        .await;
        let dialable = match result {
            Ok(Ok((dialable, failed))) => {
                for (campaign, error) in failed {
                    if let Some(repeats) = self.trouble.admit(&error, std::time::Instant::now()) {
                        tracing::error!(
                            %campaign,
                            %error,
                            repeats,
                            "Cannot bring the campaign's state up to date; it is not dialled."
                        );
                    }
                }
                dialable
            }
            Ok(Err(error)) => {
                let error = format!("{error:#}");
                if let Some(repeats) = self.trouble.admit(&error, std::time::Instant::now()) {
                    tracing::error!(%error, repeats, "Cannot read the campaigns to dial.");
                }
                return;
            }
            Err(panic) => {
                tracing::error!(%panic, "The campaign refresh panicked.");
                return;
            }
        };
        let ids: HashSet<i64> = dialable.iter().map(|(c, _)| c.id).collect();
        self.campaigns.retain(|id, _| ids.contains(id));
        self.shares.retain(&ids);
        for (campaign, settings) in dialable {
            let (id, priority) = (campaign.id, settings.priority);
            if let Some(active) = self.campaigns.get_mut(&id) {
                active.follow(settings);
            } else {
                match activate(&campaign, settings) {
                    Ok(active) => {
                        self.campaigns.insert(id, active);
                    }
                    Err(error) => {
                        tracing::error!(campaign = %campaign.name, error = format!("{error:#}"), "The campaign cannot be dialled.");
                        continue;
                    }
                }
            }
            self.shares.set(id, priority);
        }
    }

    /// The next row to dial, by fair share among the campaigns that may dial and whose
    /// own rate allows a call now.
    pub async fn next(&mut self) -> Next {
        let now = Instant::now();
        let mut wake = now + Duration::from_secs(1);
        for id in self.shares.order() {
            let dry = self.campaigns.get(&id).and_then(|c| c.dry_until);
            if dry.is_some_and(|until| until > now) {
                continue;
            }
            if !self.fill(id).await {
                continue;
            }
            let campaign = self.campaigns.get_mut(&id).expect("listed above");
            if let Some(limiter) = &campaign.limiter {
                if let Err(not_until) = limiter.check() {
                    wake = wake.min(now + not_until.wait_time_from(MonotonicClock.now()));
                    continue;
                }
            }
            let mut row = campaign.queue.pop_front().expect("filled");
            self.shares.charge(id);
            match render(campaign, &mut self.record, &mut row) {
                Ok(command) => {
                    self.claimed
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(row.id);
                    return Next::Call(Call {
                        row: row.id,
                        tries: row.tries,
                        command,
                    });
                }
                Err(detail) => {
                    tracing::error!(campaign = %campaign.name, row = row.id, %detail, "A row cannot be rendered; it is rejected.");
                    let store = self.store.clone();
                    let _ = tokio::task::spawn_blocking(move || store.reject_row(row.id, &detail))
                        .await;
                }
            }
        }
        Next::Wait(wake)
    }

    /// Up to `limit` of campaign `id`'s ready rows past `after`; none when the store cannot
    /// be read (logged).
    async fn fetch(&self, id: i64, after: Option<ReadyAfter>, limit: usize) -> Vec<ReadyRow> {
        let store = self.store.clone();
        let fetched =
            tokio::task::spawn_blocking(move || store.ready_rows(id, now_ms(), after, limit)).await;
        match fetched {
            Ok(Ok(rows)) => rows,
            Ok(Err(error)) => {
                tracing::error!(%error, "Cannot read ready rows.");
                Vec::new()
            }
            Err(panic) => {
                tracing::error!(%panic, "Reading ready rows panicked.");
                Vec::new()
            }
        }
    }

    /// Makes sure the campaign's queue has a row, fetching from the store; false when the
    /// store has none ready.
    async fn fill(&mut self, id: i64) -> bool {
        let Some(campaign) = self.campaigns.get_mut(&id) else {
            return false;
        };
        if !campaign.queue.is_empty() {
            return true;
        }
        let after = campaign.after;
        let mut rows = self.fetch(id, after, FETCH).await;
        if rows.is_empty() && after.is_some() {
            // From the first row again: rows handed on but not yet written ahead are
            // still pending there, so read past as many.
            let claimed = self.claimed.lock().unwrap_or_else(|p| p.into_inner()).len();
            rows = self.fetch(id, None, FETCH + claimed).await;
        }
        let campaign = self.campaigns.get_mut(&id).expect("looked up above");
        campaign.after = rows.last().map(|r| (r.due_at, r.id));
        let claimed = self.claimed.lock().unwrap_or_else(|p| p.into_inner());
        campaign.queue.extend(
            rows.into_iter()
                .filter(|r| !claimed.contains(&r.id))
                .take(FETCH),
        );
        drop(claimed);
        if campaign.queue.is_empty() {
            campaign.dry_until = Some(Instant::now() + Duration::from_secs(1));
            return false;
        }
        campaign.dry_until = None;
        true
    }
}

/// A campaign that may dial, made ready to: its template, columns and own limiter.
fn activate(campaign: &DialCampaign, settings: CampaignSettings) -> anyhow::Result<Active> {
    let text = campaign
        .template
        .as_deref()
        .ok_or_else(|| anyhow::anyhow!("the campaign has no template text"))?;
    let template = Template::parse(text)?;
    let columns = Columns::from_header(&fields::from_json(&campaign.header)?)?;
    Ok(Active {
        name: campaign.name.clone(),
        limiter: own_limiter(&settings),
        settings,
        template,
        columns,
        queue: VecDeque::new(),
        after: None,
        dry_until: None,
    })
}

/// A campaign's own limiter when it has its own rate; always its own, even at or above
/// the account's rate: a reload may raise the account's.
fn own_limiter(settings: &CampaignSettings) -> Option<CampaignLimiter> {
    settings
        .rate
        .map(|rate| RateLimiter::direct_with_clock(quota(rate, NonZeroU32::MIN), MonotonicClock))
}

impl Active {
    /// Takes the campaign's settings as they read now (a reload may have changed
    /// `[campaign_defaults]`): a new rate applies from the next row.
    fn follow(&mut self, settings: CampaignSettings) {
        if settings.rate != self.settings.rate {
            self.limiter = own_limiter(&settings);
        }
        self.settings = settings;
    }
}

/// The command for a row: the campaign's template rendered over the row's fields (read
/// into `record`), with the row's callee and caller moved into it.
fn render(
    campaign: &Active,
    record: &mut StringRecord,
    row: &mut ReadyRow,
) -> Result<VoiceNotifyCommand, String> {
    fields::read_json(row.fields.as_bytes(), record)
        .map_err(|e| format!("the stored fields are unreadable: {e}"))?;
    let content = campaign
        .template
        .render(|n| campaign.columns.variable(record, n))
        .map_err(|n| format!("variable {{{n}}} is empty"))?;
    let cycle = row
        .cycle_play_times
        .unwrap_or(campaign.settings.cycle_play_times);
    Ok(VoiceNotifyCommand {
        seq: String::new(),
        user_data: String::new(),
        caller: row
            .caller
            .take()
            .or_else(|| campaign.settings.caller.clone())
            .unwrap_or_default(),
        callee: std::mem::take(&mut row.callee),
        content,
        cycle_play_times: cycle.to_string(),
    })
}

/// Brings one campaign's stored state up to date; returns its settings (over the live
/// `[campaign_defaults]`) if and only if it may dial now, by the live calendar.
fn update_state(
    store: &Store,
    layout: &Layout,
    account: &AccountState,
    campaign: &DialCampaign,
    live: &Live,
    now: jiff::Timestamp,
) -> anyhow::Result<Option<CampaignSettings>> {
    let set = |state: CampaignState, reason: Option<&str>| -> anyhow::Result<()> {
        // The first `running` of a campaign intake made `running` records when it
        // started dialling.
        let starts = state == CampaignState::Running && !campaign.started;
        if campaign.state != state || campaign.state_reason.as_deref() != reason || starts {
            tracing::info!(campaign = %campaign.name, %state, reason = reason.unwrap_or(""), "Campaign state.");
            store.set_campaign_state(campaign.id, state, reason, now.as_millisecond())?;
        }
        Ok(())
    };
    if !store.has_open_rows(campaign.id)? {
        if campaign.state == CampaignState::Cancelled {
            store.close_cancelled(campaign.id, now.as_millisecond())?;
        } else {
            set(CampaignState::Finished, None)?;
            tracing::info!(campaign = %campaign.name, "Campaign finished: every row is final.");
        }
        if let Err(error) = layout.move_to_done(&campaign.name) {
            tracing::error!(campaign = %campaign.name, %error, "Cannot move the campaign's files to done/.");
        }
        return Ok(None);
    }
    if matches!(
        campaign.state,
        CampaignState::Paused | CampaignState::Cancelled
    ) {
        return Ok(None);
    }
    if let AccountState::Halted { reason } = account {
        set(
            CampaignState::Halted,
            Some(&format!("account halted: {reason}")),
        )?;
        return Ok(None);
    }
    if let AccountState::Waiting { reason, .. } | AccountState::Adopting { reason, .. } = account {
        set(
            CampaignState::Waiting,
            Some(&format!("account waiting: {reason}")),
        )?;
        return Ok(None);
    }
    let settings = crate::settings::from_stored(&campaign.settings, &live.campaign_defaults)?;
    let guard = settings.min_answer_rate.and_then(|floor| {
        answer_rate_below(floor, campaign.guard_records, campaign.guard_answered)
            .map(|rate| (floor, rate))
    });
    if let Some((floor, rate)) = guard {
        let reason = format!(
            "the answer rate is {:.1}% over {} call records, below min_answer_rate {:.1}%; \
             `voicecast resume {}` resumes it and starts the count over",
            rate * 100.0,
            campaign.guard_records,
            floor * 100.0,
            campaign.name
        );
        tracing::warn!(campaign = %campaign.name, %reason, "Campaign paused by the answer-rate guard.");
        set(CampaignState::Paused, Some(&reason))?;
        return Ok(None);
    }
    match dial_time(&settings, &live.calendar, now) {
        DialTime::Now => {
            set(CampaignState::Running, None)?;
            Ok(Some(settings))
        }
        DialTime::Wait { why, .. } => {
            set(CampaignState::Waiting, Some(&why))?;
            Ok(None)
        }
    }
}
