//! The HTTP client for the vendor's OpenAPI: one method per API, each returning typed
//! answers or a classified [`VendorError`].

use std::collections::HashSet;
use std::time::Duration;

use serde::Serialize;
use tracing::trace;

use super::answer::{self, decode};
use super::auth::{Authentication, Credentials, SeqGenerator, now_ms};
use super::error::{Failure, VendorError};
use super::wire::{
    Answer, CdrListCommand, CdrRecord, EditTemplateCommand, Envelope, OneCdrCommand,
    TemplateListCommand, TemplatePage, TemplateRow, UploadTemplateCommand, VoiceNotifyCommand,
};

/// The longest `userData` the vendor keeps (it truncates longer ones).
pub const MAX_USER_DATA: usize = 40;
/// The longest `seq` the vendor accepts.
pub const MAX_SEQ: usize = 20;
/// The page size getCdrList serves when it does not say.
pub const CDR_PAGE_SIZE: u64 = 500;
/// getCdrList's `serviceType` for voice notifications.
pub const SERVICE_TYPE_VOICE_NOTIFY: &str = "21";

/// Where the vendor is, how long to wait for it, and how the client names itself.
#[derive(Clone, Debug)]
pub struct ClientSettings {
    /// Scheme, host and port, without `/openapi`.
    pub base_url: String,
    pub version: String,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// The `User-Agent` header.
    pub user_agent: String,
}

impl ClientSettings {
    /// The settings for the vendor at `base_url`: API version V2.0.6, a 10 s timeout for
    /// a whole request and 3 s to connect.
    pub fn new(base_url: impl Into<String>) -> ClientSettings {
        ClientSettings {
            base_url: base_url.into(),
            version: "V2.0.6".into(),
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(3),
            user_agent: concat!("callcenter-openapi/", env!("CARGO_PKG_VERSION")).into(),
        }
    }
}

/// Which voiceNotify endpoint to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotifyEndpoint {
    /// `/voiceNotify`.
    Standard,
    /// `/v2/voiceNotify`, the high-performance endpoint.
    HighPerformance,
}

/// Which call record getOneCdr should find.
#[derive(Clone, Debug)]
pub enum CdrLookup {
    Session(String),
    UserData(String),
}

/// One getCdrList query: a window in vendor time and the cursor to start from.
#[derive(Clone, Debug, Default)]
pub struct CdrQuery {
    pub start_time: String,
    pub end_time: String,
    pub start_key: Option<String>,
    pub task_id: Option<String>,
}

/// One page of getCdrList.
#[derive(Clone, Debug)]
pub struct CdrPage {
    pub records: Vec<CdrRecord>,
    pub total: Option<u64>,
    pub page_size: u64,
}

impl CdrPage {
    /// Returns true if and only if the page is full, so more records may follow it.
    pub fn is_full(&self) -> bool {
        self.records.len() as u64 >= self.page_size
    }

    /// The next `startKey`: the highest key seen (compared as numbers), or `current`
    /// when this page has no greater one.
    pub fn next_start_key(&self, current: Option<&str>) -> Option<String> {
        let key = |k: &str| k.trim().parse::<u64>().ok();
        self.records
            .iter()
            .filter_map(|r| key(&r.key))
            .chain(current.and_then(key))
            .max()
            .map(|k| k.to_string())
    }
}

/// Walks getCdrList page by page through `startKey` (spec notes: the next key is the
/// highest seen; ask again while pages come back full), handing out each record once,
/// whether the vendor reads `startKey` as inclusive or exclusive, in any order.
#[derive(Debug)]
pub struct CdrPager {
    query: CdrQuery,
    seen: HashSet<String>,
    done: bool,
}

impl CdrPager {
    pub fn new(query: CdrQuery) -> CdrPager {
        CdrPager {
            query,
            seen: HashSet::new(),
            done: false,
        }
    }

    /// The records of the next page not handed out before; `None` once the last page
    /// (one that is not full) has been read.
    pub async fn next_page(
        &mut self,
        client: &VendorClient,
    ) -> Result<Option<Vec<CdrRecord>>, VendorError> {
        if self.done {
            return Ok(None);
        }
        let page = client.cdr_page(&self.query).await?;
        let next = page.next_start_key(self.query.start_key.as_deref());
        let stuck = page.is_full() && next == self.query.start_key;
        self.done = !page.is_full() || stuck;
        if stuck {
            tracing::warn!(start_key = ?next, "A full page of call records brought no higher key; paging stops.");
        }
        self.query.start_key = next;
        let fresh = page
            .records
            .into_iter()
            .filter(|r| self.seen.insert(r.session_id().to_string()))
            .collect();
        Ok(Some(fresh))
    }

    /// The `startKey` the next page would be asked from.
    pub fn start_key(&self) -> Option<&str> {
        self.query.start_key.as_deref()
    }
}

/// Told of every request a [`VendorClient`] makes: the API, whether it was answered (or
/// how it failed), and how long it took. A program's metrics hang here; the client keeps
/// none.
pub trait RequestObserver: std::fmt::Debug + Send + Sync {
    fn observed(&self, api: &str, result: Result<(), &VendorError>, took: Duration);
}

/// A client bound to one account.
#[derive(Debug)]
pub struct VendorClient {
    http: reqwest::Client,
    settings: ClientSettings,
    credentials: Credentials,
    seqs: SeqGenerator,
    observer: Option<std::sync::Arc<dyn RequestObserver>>,
}

impl VendorClient {
    /// A client for the account `credentials` names. Fails only when the HTTP client
    /// cannot be built (no TLS back end, say).
    pub fn new(
        settings: ClientSettings,
        credentials: Credentials,
    ) -> Result<VendorClient, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.connect_timeout)
            // Below common keep-alives (Apache: 5 s), so a request is never written to a
            // connection the server is closing: that would make its fate unknown.
            .pool_idle_timeout(Duration::from_secs(4))
            .user_agent(settings.user_agent.as_str())
            .build()?;
        Ok(VendorClient {
            http,
            settings,
            credentials,
            seqs: SeqGenerator::default(),
            observer: None,
        })
    }

    /// The client, telling `observer` of every request it makes.
    pub fn observed_by(mut self, observer: std::sync::Arc<dyn RequestObserver>) -> VendorClient {
        self.observer = Some(observer);
        self
    }

    /// The URL of `api`: every API lives under `/openapi/VERSION/` (spec notes).
    pub fn url(&self, api: &str) -> String {
        format!(
            "{}/openapi/{}/{}",
            self.settings.base_url.trim_end_matches('/'),
            self.settings.version,
            api
        )
    }

    /// Sends a voiceNotify request: one command as an object, several as an array. The
    /// fates come back in the order of `commands`.
    pub async fn voice_notify(
        &self,
        endpoint: NotifyEndpoint,
        commands: &[VoiceNotifyCommand],
    ) -> Vec<Result<(), VendorError>> {
        let api = match endpoint {
            NotifyEndpoint::Standard => "voiceNotify",
            NotifyEndpoint::HighPerformance => "v2/voiceNotify",
        };
        let checked = commands
            .iter()
            .try_for_each(|c| check_ids(&c.seq, &c.user_data));
        let sent = match (checked, commands) {
            (Err(e), _) => Err(e),
            (Ok(()), [one]) => self.post(api, one).await,
            (Ok(()), many) => self.post(api, &many).await,
        };
        match sent {
            Ok(answer) => {
                let seqs: Vec<&str> = commands.iter().map(|c| c.seq.as_str()).collect();
                answer::settle_commands(&answer, &seqs)
            }
            Err(error) => commands.iter().map(|_| Err(error.clone())).collect(),
        }
    }

    /// uploadTTSTemplate; returns the new template's id.
    pub async fn upload_template(&self, name: &str, content: &str) -> Result<String, VendorError> {
        let seq = self.seqs.next();
        let command = UploadTemplateCommand {
            seq,
            user_data: String::new(),
            name: name.into(),
            content: content.into(),
        };
        let answer = self.post("uploadTTSTemplate", &command).await?;
        template_id(answer::single_response(&answer)?.voice_file_id)
    }

    /// editTTSTemplate; `None` leaves a field as it is.
    pub async fn edit_template(
        &self,
        id: &str,
        name: Option<&str>,
        content: Option<&str>,
    ) -> Result<String, VendorError> {
        let command = EditTemplateCommand {
            seq: self.seqs.next(),
            user_data: String::new(),
            template_id: id.into(),
            name: name.map(str::to_string),
            content: content.map(str::to_string),
        };
        let answer = self.post("editTTSTemplate", &command).await?;
        let response = answer::single_response(&answer)?;
        Ok(response.voice_file_id.unwrap_or_else(|| id.to_string()))
    }

    /// One page of getTTSTemplateList (pages count from 1). Also the cheap authenticated
    /// probe that tells whether the account works.
    pub async fn template_page(
        &self,
        page: u32,
        page_size: u32,
    ) -> Result<TemplatePage, VendorError> {
        let command = TemplateListCommand {
            seq: self.seqs.next(),
            user_data: String::new(),
            page: page.to_string(),
            page_size: page_size.to_string(),
        };
        let answer = self.post("getTTSTemplateList", &command).await?;
        Ok(answer::single_response(&answer)?.data.unwrap_or_default())
    }

    /// Every template, page by page.
    pub async fn templates(&self) -> Result<Vec<TemplateRow>, VendorError> {
        const PAGE_SIZE: u32 = 100;
        let mut rows = Vec::new();
        for page in 1.. {
            let got = self.template_page(page, PAGE_SIZE).await?;
            let count = got.rows.len();
            rows.extend(got.rows);
            // A short page is the last; so is reaching `total`, when the vendor gives one.
            let reached_total = got.total.is_some_and(|total| rows.len() as u64 >= total);
            if count < PAGE_SIZE as usize || reached_total {
                break;
            }
        }
        Ok(rows)
    }

    /// getOneCdr by session or by userData.
    pub async fn one_cdr(&self, lookup: &CdrLookup) -> Result<Vec<CdrRecord>, VendorError> {
        let seq = self.seqs.next();
        let mut command = OneCdrCommand {
            seq,
            ..OneCdrCommand::default()
        };
        match lookup {
            CdrLookup::Session(session) => command.session = session.clone(),
            CdrLookup::UserData(user_data) => {
                check_ids(&command.seq, user_data)?;
                command.user_data = user_data.clone();
            }
        }
        let answer = self.post("getOneCdr", &command).await?;
        let response = answer::single_response(&answer)?;
        Ok(answer::one_cdr_records(&answer, &response))
    }

    /// One page of getCdrList for voice notifications.
    pub async fn cdr_page(&self, query: &CdrQuery) -> Result<CdrPage, VendorError> {
        let command = CdrListCommand {
            seq: self.seqs.next(),
            task_id: query.task_id.clone(),
            service_type: SERVICE_TYPE_VOICE_NOTIFY.into(),
            start_time: query.start_time.clone(),
            end_time: query.end_time.clone(),
            start_key: query.start_key.clone().unwrap_or_default(),
            ..CdrListCommand::default()
        };
        let answer = self.post("getCdrList", &command).await?;
        let response = answer::single_response(&answer)?;
        Ok(CdrPage {
            records: response.cdr.unwrap_or_default(),
            total: response.total,
            page_size: response.size.filter(|s| *s > 0).unwrap_or(CDR_PAGE_SIZE),
        })
    }

    /// Posts `request` to `api`, signed, and decodes the answer.
    async fn post<T: Serialize>(&self, api: &str, request: &T) -> Result<Answer, VendorError> {
        let started = std::time::Instant::now();
        let answer = self.send(api, request).await;
        if let Some(observer) = &self.observer {
            observer.observed(api, answer.as_ref().map(drop), started.elapsed());
        }
        answer
    }

    async fn send<T: Serialize>(&self, api: &str, request: &T) -> Result<Answer, VendorError> {
        let seq = self.seqs.next();
        let authentication = Authentication::sign(&self.credentials, now_ms(), &seq);
        let body = serde_json::to_vec(&Envelope {
            authentication,
            param: None,
            request,
        })
        .map_err(|e| VendorError::Permanent(Failure::NotSent(e.to_string())))?;
        trace!(api, %seq, body = %String::from_utf8_lossy(&body), "Request.");
        let response = self
            .http
            .post(self.url(api))
            .header(reqwest::header::ACCEPT, "application/json")
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| VendorError::from_transport(&e))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| VendorError::from_transport(&e))?;
        trace!(api, %seq, status = status.as_u16(), body = %String::from_utf8_lossy(&body), "Answer.");
        if !status.is_success() {
            return Err(VendorError::from_status(status.as_u16()));
        }
        decode(&body)
    }
}

/// Enforces the vendor's limits on our side: `seq` at most 20 characters; `userData` at
/// most 40 bytes of ASCII letters, digits and `-` (the vendor would truncate a longer
/// one, and then no record could be matched to its row).
pub fn check_ids(seq: &str, user_data: &str) -> Result<(), VendorError> {
    let not_sent = |reason: String| Err(VendorError::Permanent(Failure::NotSent(reason)));
    if seq.chars().count() > MAX_SEQ {
        return not_sent(format!("seq {seq:?} is longer than {MAX_SEQ} characters"));
    }
    if user_data.len() > MAX_USER_DATA {
        return not_sent(format!(
            "userData {user_data:?} is longer than {MAX_USER_DATA} bytes"
        ));
    }
    if !user_data
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return not_sent(format!(
            "userData {user_data:?} has characters other than A-Z, a-z, 0-9, -"
        ));
    }
    Ok(())
}

fn template_id(id: Option<String>) -> Result<String, VendorError> {
    id.ok_or_else(|| {
        VendorError::MayHaveBeenPlaced(Failure::Unreadable("the answer has no voiceFileID".into()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_beyond_the_vendor_limits_are_not_sent() {
        assert!(check_ids("12345678901234567890", &"a".repeat(40)).is_ok());
        assert!(check_ids("123456789012345678901", "").is_err());
        assert!(check_ids("1", &"a".repeat(41)).is_err());
        assert!(check_ids("1", "vc-1_2").is_err());
        assert!(check_ids("1", "行").is_err());
    }

    #[test]
    fn the_next_start_key_is_the_highest_key_as_a_number() {
        let page = |keys: &[&str]| CdrPage {
            records: keys
                .iter()
                .map(|k| CdrRecord {
                    key: k.to_string(),
                    ..CdrRecord::default()
                })
                .collect(),
            total: None,
            page_size: 2,
        };
        assert_eq!(
            page(&["9", "10"]).next_start_key(None).as_deref(),
            Some("10")
        );
        assert_eq!(
            page(&["573263", "573262"])
                .next_start_key(Some("7"))
                .as_deref(),
            Some("573263")
        );
        assert_eq!(page(&[]).next_start_key(Some("7")).as_deref(), Some("7"));
        assert!(page(&["1", "2"]).is_full());
        assert!(!page(&["1"]).is_full());
    }
}
