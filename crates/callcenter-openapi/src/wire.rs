//! The JSON shapes of every request, answer and push, as the vendor writes them. Requests
//! are encoded strictly (every field a string, as in the samples); answers and pushes are
//! decoded leniently (see `lenient`).

use serde::{Deserialize, Serialize};

use super::auth::Authentication;
use super::causes::{CallResult, RecordFacts};
use super::lenient;

/// A request body: the authentication block, the optional `param`, and one command or an
/// array of commands.
#[derive(Debug, Serialize)]
pub struct Envelope<'a, T: Serialize> {
    pub authentication: Authentication,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub param: Option<Param>,
    pub request: &'a T,
}

/// The optional `param` block.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Param {
    pub debug: String,
    pub lang: String,
}

/// One voiceNotify command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VoiceNotifyCommand {
    #[serde(default, deserialize_with = "lenient::string")]
    pub seq: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub user_data: String,
    #[serde(
        default,
        deserialize_with = "lenient::string",
        skip_serializing_if = "String::is_empty"
    )]
    pub caller: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub callee: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub content: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub cycle_play_times: String,
}

/// uploadTTSTemplate's command.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadTemplateCommand {
    #[serde(default, deserialize_with = "lenient::string")]
    pub seq: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub user_data: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub name: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub content: String,
}

/// editTTSTemplate's command; `name` and `content` are sent only when changed.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EditTemplateCommand {
    #[serde(default, deserialize_with = "lenient::string")]
    pub seq: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub user_data: String,
    #[serde(rename = "templateID", default, deserialize_with = "lenient::string")]
    pub template_id: String,
    #[serde(
        default,
        deserialize_with = "lenient::optional_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub name: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient::optional_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub content: Option<String>,
}

/// getTTSTemplateList's command (`page`/`pageSize` as strings, as the sample sends them).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TemplateListCommand {
    #[serde(default, deserialize_with = "lenient::string")]
    pub seq: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub user_data: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub page: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub page_size: String,
}

/// getOneCdr's command: `session` or `userData` must be given.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OneCdrCommand {
    #[serde(default, deserialize_with = "lenient::string")]
    pub seq: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub user_data: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub session: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub agent: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub caller: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub callee: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub time_length_min: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub time_length_max: String,
}

/// getCdrList's command. `taskID` is sent only when configured (spec notes).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CdrListCommand {
    #[serde(default, deserialize_with = "lenient::string")]
    pub seq: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub user_data: String,
    #[serde(
        rename = "taskID",
        default,
        deserialize_with = "lenient::optional_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub task_id: Option<String>,
    #[serde(default)]
    pub agent: Vec<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub service_type: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub start_time: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub end_time: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub caller: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub callee: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub time_length_min: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub time_length_max: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub start_key: String,
}

/// A `result` block: the whole request's, or one command's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VendorResult {
    #[serde(default, deserialize_with = "lenient::error_code")]
    pub error: u64,
    #[serde(default, deserialize_with = "lenient::string")]
    pub msg: String,
}

impl VendorResult {
    pub fn ok() -> VendorResult {
        VendorResult {
            error: 0,
            msg: String::new(),
        }
    }

    pub fn error(code: u64, msg: impl Into<String>) -> VendorResult {
        VendorResult {
            error: code,
            msg: msg.into(),
        }
    }
}

/// An answer to any request, decoded leniently.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Answer {
    #[serde(default, deserialize_with = "lenient::optional_object")]
    pub result: Option<VendorResult>,
    #[serde(default, deserialize_with = "lenient::optional_object")]
    pub data: Option<AnswerData>,
    #[serde(default, deserialize_with = "lenient::optional_string")]
    pub logs: Option<String>,
}

/// The `data` block. getOneCdr's `total` and `cdr` may sit here, beside `response`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct AnswerData {
    #[serde(default, deserialize_with = "lenient::string")]
    pub seq: String,
    #[serde(
        default,
        deserialize_with = "lenient::optional_object",
        skip_serializing_if = "Option::is_none"
    )]
    pub response: Option<CommandResponse>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub responses: Option<Vec<CommandResponse>>,
    #[serde(
        default,
        deserialize_with = "lenient::optional_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub total: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cdr: Option<Vec<CdrRecord>>,
}

/// One command's response; the fields beyond `seq`, `userData` and `result` belong to
/// particular APIs.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct CommandResponse {
    #[serde(default, deserialize_with = "lenient::string")]
    pub seq: String,
    #[serde(rename = "userData", default, deserialize_with = "lenient::string")]
    pub user_data: String,
    #[serde(default, deserialize_with = "lenient::optional_object")]
    pub result: Option<VendorResult>,
    /// uploadTTSTemplate, editTTSTemplate.
    #[serde(
        rename = "voiceFileID",
        default,
        deserialize_with = "lenient::optional_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub voice_file_id: Option<String>,
    /// getTTSTemplateList.
    #[serde(
        default,
        deserialize_with = "lenient::optional_object",
        skip_serializing_if = "Option::is_none"
    )]
    pub data: Option<TemplatePage>,
    /// getCdrList (and getOneCdr, where it sits here).
    #[serde(
        default,
        deserialize_with = "lenient::optional_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub total: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cdr: Option<Vec<CdrRecord>>,
    #[serde(
        default,
        deserialize_with = "lenient::optional_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub page: Option<u64>,
    #[serde(
        default,
        deserialize_with = "lenient::optional_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub size: Option<u64>,
}

/// One page of getTTSTemplateList.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct TemplatePage {
    #[serde(default)]
    pub rows: Vec<TemplateRow>,
    #[serde(default, deserialize_with = "lenient::optional_u64")]
    pub total: Option<u64>,
}

/// A TTS template as the list shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateRow {
    #[serde(default, deserialize_with = "lenient::string")]
    pub key: String,
    #[serde(rename = "ID", default, deserialize_with = "lenient::string")]
    pub id: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub name: String,
    #[serde(rename = "submitTime", default, deserialize_with = "lenient::string")]
    pub submit_time: String,
    #[serde(rename = "verifyStatus", default, deserialize_with = "lenient::string")]
    pub verify_status: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub content: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub remark: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub customer: String,
}

/// Where a template is in the vendor's review (`verifyStatus`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Review {
    Rejected,
    Approved,
    Pending,
}

impl Review {
    /// The vendor's code for this state.
    pub fn code(self) -> &'static str {
        match self {
            Review::Rejected => "0",
            Review::Approved => "1",
            Review::Pending => "2",
        }
    }

    /// The state a `verifyStatus` names, if it names one.
    pub fn of(code: &str) -> Option<Review> {
        [Review::Rejected, Review::Approved, Review::Pending]
            .into_iter()
            .find(|r| r.code() == code.trim())
    }

    pub fn name(self) -> &'static str {
        match self {
            Review::Rejected => "rejected",
            Review::Approved => "approved",
            Review::Pending => "pending",
        }
    }
}

impl TemplateRow {
    pub fn review(&self) -> Option<Review> {
        Review::of(&self.verify_status)
    }
}

/// A call record, from getCdrList or getOneCdr (whose names differ: `timeLen` for
/// `timeLength`, `voiceSign` carrying the session id).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CdrRecord {
    #[serde(default, deserialize_with = "lenient::string")]
    pub key: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub agent: String,
    #[serde(
        default,
        deserialize_with = "lenient::string",
        skip_serializing_if = "String::is_empty"
    )]
    pub service_type: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub start_time: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub ring_time: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub answer_time: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub bye_time: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub caller: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub callee: String,
    #[serde(
        default,
        deserialize_with = "lenient::optional_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub time_length: Option<u64>,
    #[serde(
        default,
        deserialize_with = "lenient::optional_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub time_len: Option<u64>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub fee: String,
    #[serde(
        default,
        deserialize_with = "lenient::optional_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub release_cause: Option<u64>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub filename: String,
    #[serde(
        rename = "record_name",
        default,
        deserialize_with = "lenient::string",
        skip_serializing_if = "String::is_empty"
    )]
    pub record_name: String,
    #[serde(
        default,
        deserialize_with = "lenient::string",
        skip_serializing_if = "String::is_empty"
    )]
    pub session: String,
    #[serde(
        default,
        deserialize_with = "lenient::string",
        skip_serializing_if = "String::is_empty"
    )]
    pub voice_sign: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub user_data: String,
    #[serde(
        rename = "taskID",
        default,
        deserialize_with = "lenient::string",
        skip_serializing_if = "String::is_empty"
    )]
    pub task_id: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub result: String,
}

impl CdrRecord {
    /// The call's id: `session`, or getOneCdr's `voiceSign` where `session` is absent.
    pub fn session_id(&self) -> &str {
        if self.session.is_empty() {
            &self.voice_sign
        } else {
            &self.session
        }
    }

    /// Talk time in seconds, under either name.
    pub fn talk_secs(&self) -> Option<u64> {
        self.time_length.or(self.time_len)
    }

    /// The facts that categorize the record ([`crate::causes::categorize`]).
    pub fn facts(&self) -> RecordFacts {
        RecordFacts {
            connected: CallResult::from_wire(&self.result),
            talk_secs: self.talk_secs(),
            release_cause: self.release_cause.and_then(|c| u32::try_from(c).ok()),
        }
    }
}

/// The TTSVoiceNotifyBilling push: the record of one voiceNotify call.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CdrNotify {
    #[serde(rename = "type", default, deserialize_with = "lenient::string")]
    pub kind: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub start_time: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub ring_time: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub answer_time: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub bye_time: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub callee: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub caller: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub key_press: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub record_file: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub service: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub session: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub seq: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub user_data: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub result_code: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub time_length: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub release_cause: String,
}

impl CdrNotify {
    /// The facts that categorize the record: a push has no `result`, so its talk time and
    /// its cause decide.
    pub fn facts(&self) -> RecordFacts {
        RecordFacts {
            connected: None,
            talk_secs: self.time_length.trim().parse().ok(),
            release_cause: self.release_cause.trim().parse().ok(),
        }
    }
}

/// The name of the call-record push's `type`.
pub const CDR_NOTIFY_TYPE: &str = "TTSVoiceNotifyBilling";

/// The template audit push.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateAuditNotify {
    #[serde(default, deserialize_with = "lenient::string")]
    pub id: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub content: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub remark: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub status: String,
}

/// The answer to a push, and the body of an answer carrying only a `result`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ResultOnly {
    pub result: VendorResult,
}
