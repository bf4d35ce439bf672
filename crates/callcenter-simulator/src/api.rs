//! The vendor's APIs as the simulator answers them: URL and authentication checks with
//! the spec's error codes, then one function per API over the shared [`State`].

use std::fs::File;
use std::io::Write;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Bytes;
use axum::extract::{Extension, State as AxumState};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Value, json};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info};

use super::pusher::Pusher;
use super::state::{PlacedCall, State};
use super::{SimulatorOptions, StartError};
use super::{lookups, notify};
use callcenter_openapi::error::{
    E_C_INVALID_MSG, E_C_UNSUPPORT_API_REQUEST, E_C_UNSUPPORT_API_VERSION, E_S_AUTH_FAIL,
    describe_code,
};
use callcenter_openapi::push::Notify;
use callcenter_openapi::wire::TemplateRow;
use callcenter_openapi::{Authentication, Credentials};

/// What every request handler shares.
pub struct Shared {
    pub state: Mutex<State>,
    pub pushes: TaskTracker,
    pusher: Option<Pusher>,
    call_log: Option<Mutex<File>>,
    pub(super) shutdown: CancellationToken,
}

/// Cancelled to reset the connection a request came on.
#[derive(Clone)]
pub struct ConnectionKill(pub CancellationToken);

/// A vendor error code with a message, answered at the top level.
pub(super) struct Refusal(pub u64, pub String);

impl Shared {
    pub fn new(
        options: SimulatorOptions,
        shutdown: CancellationToken,
    ) -> Result<Shared, StartError> {
        let call_log = match &options.call_log {
            Some(path) => Some(Mutex::new(
                File::options()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|source| StartError::CallLog {
                        path: path.clone(),
                        source,
                    })?,
            )),
            None => None,
        };
        let credentials = Credentials {
            customer: options.customer.clone(),
            password: options.password.clone(),
        };
        let pusher = options
            .push_url
            .clone()
            .map(|url| Pusher::new(url, credentials));
        Ok(Shared {
            state: Mutex::new(State::new(options)),
            pushes: TaskTracker::new(),
            pusher,
            call_log,
            shutdown,
        })
    }

    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn review_template(&self, id: u64, approve: bool, remark: &str) -> Option<TemplateRow> {
        let (template, customer) = {
            let mut state = self.lock();
            let template = state.review(id, approve, remark)?;
            (template, state.options.customer.clone())
        };
        self.push_later(Notify::TemplateAudit(template.audit()), Instant::now());
        Some(template.row(&customer))
    }

    pub(super) fn push_later(&self, notify: Notify, at: Instant) {
        if let Some(pusher) = self.pusher.clone() {
            let shutdown = self.shutdown.clone();
            self.pushes.spawn(async move {
                tokio::select! {
                    _ = tokio::time::sleep_until(at) => pusher.send(notify).await,
                    _ = shutdown.cancelled() => {}
                }
            });
        }
    }

    /// Whether placed calls are wanted after placing: for the call log or for pushes.
    pub(super) fn keeps_placed_calls(&self) -> bool {
        self.call_log.is_some() || self.pusher.is_some()
    }

    pub(super) fn log_call(&self, call: &PlacedCall) {
        if let Some(log) = &self.call_log {
            let mut line = serde_json::to_vec(call).expect("a placed call is plain data");
            line.push(b'\n');
            let mut file = log.lock().unwrap_or_else(|p| p.into_inner());
            if let Err(e) = file.write_all(&line) {
                tracing::warn!(error = %e, "Cannot append to the call log.");
            }
        }
    }
}

/// Every request that is not an admin route: the vendor's API.
pub async fn vendor_api(
    AxumState(shared): AxumState<Arc<Shared>>,
    Extension(kill): Extension<ConnectionKill>,
    uri: Uri,
    body: Bytes,
) -> Response {
    let latency = shared.lock().latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let (api, seq, request) = match open(&shared, uri.path(), &body) {
        Ok(opened) => opened,
        Err(Refusal(code, msg)) => return envelope("", code, &msg, None),
    };
    debug!(api, %seq, "Simulator request.");
    *shared.lock().requests.entry(api.to_string()).or_default() += 1;
    if let "voiceNotify" | "v2/voiceNotify" = api {
        return notify::voice_notify(&shared, &seq, request, &kill).await;
    }
    let request: Value = serde_json::from_str(request.get()).expect("checked JSON");
    let outcome = match api {
        "uploadTTSTemplate" => lookups::upload_template(&shared, &request),
        "editTTSTemplate" => lookups::edit_template(&shared, &request),
        "getTTSTemplateList" => lookups::template_list(&shared, &request),
        "getOneCdr" => lookups::one_cdr(&shared, &request),
        "getCdrList" => lookups::cdr_list(&shared, &request),
        _ => unreachable!("open() admits only known APIs"),
    };
    match outcome {
        Ok(data) => envelope(&seq, 0, "", Some(data)),
        Err(Refusal(code, msg)) => {
            let response = json!({"seq": text(&request, "seq"), "userData": text(&request, "userData"),
                                  "result": result_json(code, &msg)});
            envelope(&seq, code, &msg, Some(json!({"response": response})))
        }
    }
}

const APIS: [&str; 7] = [
    "voiceNotify",
    "v2/voiceNotify",
    "uploadTTSTemplate",
    "editTTSTemplate",
    "getTTSTemplateList",
    "getOneCdr",
    "getCdrList",
];

/// A request body: its authentication block and its `request` field, as they are.
#[derive(Deserialize)]
struct Message<'a> {
    #[serde(borrow)]
    authentication: Option<&'a RawValue>,
    #[serde(borrow)]
    request: Option<&'a RawValue>,
}

/// Checks the URL, the body's shape and the digest; returns the API, the request seq and
/// the `request` field, unparsed.
fn open<'a, 'b>(
    shared: &Shared,
    path: &'a str,
    body: &'b [u8],
) -> Result<(&'a str, String, &'b RawValue), Refusal> {
    let (version, credentials) = {
        let state = shared.lock();
        let o = &state.options;
        (
            o.version.clone(),
            Credentials {
                customer: o.customer.clone(),
                password: o.password.clone(),
            },
        )
    };
    let rest = path.strip_prefix("/openapi/").ok_or_else(|| {
        Refusal(
            E_C_UNSUPPORT_API_REQUEST,
            format!("URL {path} is not /openapi/VERSION/API"),
        )
    })?;
    let (asked_version, api) = rest.split_once('/').ok_or_else(|| {
        Refusal(
            E_C_UNSUPPORT_API_REQUEST,
            format!("URL {path} names no API"),
        )
    })?;
    if asked_version != version {
        return Err(Refusal(
            E_C_UNSUPPORT_API_VERSION,
            format!("version {asked_version} is not supported"),
        ));
    }
    let api = APIS
        .iter()
        .find(|known| **known == api)
        .map(|_| api)
        .ok_or_else(|| {
            Refusal(
                E_C_UNSUPPORT_API_REQUEST,
                format!("API {api} is not supported"),
            )
        })?;
    let message: Message<'b> = serde_json::from_slice(body).map_err(|e| {
        Refusal(
            E_C_INVALID_MSG,
            format!("the body is not a JSON object: {e}"),
        )
    })?;
    let authentication = message
        .authentication
        .and_then(|a| serde_json::from_str::<Authentication>(a.get()).ok())
        .ok_or_else(|| {
            Refusal(
                E_C_INVALID_MSG,
                "the authentication block is missing or incomplete".into(),
            )
        })?;
    if authentication.seq.chars().count() > 20 {
        return Err(Refusal(
            E_C_INVALID_MSG,
            "the authentication seq is longer than 20".into(),
        ));
    }
    if !authentication.verify(&credentials) {
        info!(customer = %authentication.customer, "Simulator refused a digest.");
        *shared.lock().refused.entry(api.to_string()).or_default() += 1;
        return Err(Refusal(E_S_AUTH_FAIL, String::new()));
    }
    let request = message
        .request
        .ok_or_else(|| Refusal(E_C_INVALID_MSG, "the request block is missing".into()))?;
    Ok((api, authentication.seq, request))
}

/// A successful command response with `extra` fields.
pub(super) fn command_ok(request: &Value, extra: Value) -> Value {
    let mut response = json!({"seq": text(request, "seq"), "userData": text(request, "userData"), "result": {"error": 0}});
    if let (Value::Object(response), Value::Object(extra)) = (&mut response, extra) {
        response.extend(extra);
    }
    response
}

/// The whole answer: `result`, `data` (with the request's seq), `logs`.
pub(super) fn envelope(seq: &str, code: u64, msg: &str, data: Option<Value>) -> Response {
    reply(seq, code, msg, data.unwrap_or_else(|| json!({})))
}

/// [`envelope`] with any data that serializes as a map: the hot path builds no `Value`.
pub(super) fn reply<T: Serialize>(seq: &str, code: u64, msg: &str, data: T) -> Response {
    #[derive(Serialize)]
    struct Data<'a, T> {
        seq: &'a str,
        #[serde(flatten)]
        rest: T,
    }
    #[derive(Serialize)]
    struct Body<'a, T> {
        result: ResultBlock,
        data: Data<'a, T>,
        logs: &'static str,
    }
    let body = Body {
        result: result_block(code, msg),
        data: Data { seq, rest: data },
        logs: "",
    };
    let text = serde_json::to_string(&body).expect("an answer serializes");
    (
        StatusCode::OK,
        [("content-type", "application/json;charset=UTF-8")],
        text,
    )
        .into_response()
}

/// A `result` block: `error` and `msg`.
#[derive(Clone, Debug, Serialize)]
pub(super) struct ResultBlock {
    error: ErrorCode,
    msg: String,
}

#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
enum ErrorCode {
    Number(u64),
    Text(String),
}

/// A `result` block; an empty `msg` takes the code's text from the original's table.
/// Codes beyond 16 bits are written as `0x` strings, as the original lists them.
pub(super) fn result_block(code: u64, msg: &str) -> ResultBlock {
    let msg = if msg.is_empty() {
        describe_code(code).map_or("", |i| i.zh)
    } else {
        msg
    };
    let error = if code > 0xFFFF {
        ErrorCode::Text(format!("{code:#X}"))
    } else {
        ErrorCode::Number(code)
    };
    ResultBlock {
        error,
        msg: msg.to_string(),
    }
}

/// [`result_block`] as a `Value`.
pub(super) fn result_json(code: u64, msg: &str) -> Value {
    serde_json::to_value(result_block(code, msg)).expect("a result block serializes")
}

pub(super) fn text(value: &Value, key: &str) -> String {
    value.get(key).map(scalar_text).unwrap_or_default()
}

pub(super) fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use callcenter_openapi::error::E_G_RES_NOT_EXIST;

    #[test]
    fn big_codes_are_written_as_hex_strings() {
        assert_eq!(
            result_json(E_G_RES_NOT_EXIST, "")["error"],
            json!("0xF1000008")
        );
        assert_eq!(result_json(5, "")["error"], json!(5));
    }
}
