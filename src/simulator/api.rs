//! The vendor's APIs as the simulator answers them: URL and authentication checks with
//! the spec's error codes, then one function per API over the shared [`State`].

use std::fs::File;
use std::io::Write;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Bytes;
use axum::extract::{Extension, State as AxumState};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use serde_json::{Value, json};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info};

use super::pusher::Pusher;
use super::state::{CdrFilter, PlacedCall, State};
use super::{Fault, SimulatorOptions};
use crate::template::Template;
use crate::vendor::error::{
    E_C_INVALID_MSG, E_C_INVALID_PARAM, E_C_UNSUPPORT_API_REQUEST, E_C_UNSUPPORT_API_VERSION,
    E_G_DATASYN_FAIL, E_G_RES_NOT_EXIST, E_G_STAFF_NO_EXIST, E_S_AUTH_FAIL, E_W_DB_OPT_FAIL,
    describe_code,
};
use crate::vendor::push::Notify;
use crate::vendor::time as vendor_time;
use crate::vendor::wire::{TemplateRow, VoiceNotifyCommand};
use crate::vendor::{Authentication, Credentials};

/// What every request handler shares.
pub struct Shared {
    pub state: Mutex<State>,
    pub pushes: TaskTracker,
    pusher: Option<Pusher>,
    call_log: Option<Mutex<File>>,
    shutdown: CancellationToken,
}

/// Cancelled to reset the connection a request came on.
#[derive(Clone)]
pub struct ConnectionKill(pub CancellationToken);

/// A vendor error code with a message, answered at the top level.
struct Refusal(u64, String);

impl Shared {
    pub fn new(options: SimulatorOptions, shutdown: CancellationToken) -> anyhow::Result<Shared> {
        let call_log = match &options.call_log {
            Some(path) => Some(Mutex::new(
                File::options()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|e| {
                        anyhow::anyhow!("cannot open the call log {}: {e}", path.display())
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

    fn push_later(&self, notify: Notify, at: Instant) {
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

    fn log_call(&self, call: &PlacedCall) {
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
    let outcome = match api {
        "voiceNotify" | "v2/voiceNotify" => {
            return voice_notify(&shared, &seq, &request, &kill).await;
        }
        "uploadTTSTemplate" => upload_template(&shared, &request),
        "editTTSTemplate" => edit_template(&shared, &request),
        "getTTSTemplateList" => template_list(&shared, &request),
        "getOneCdr" => one_cdr(&shared, &request),
        "getCdrList" => cdr_list(&shared, &request),
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

/// Checks the URL, the body's shape and the digest; returns the API, the request seq and
/// the `request` field.
fn open<'a>(
    shared: &Shared,
    path: &'a str,
    body: &[u8],
) -> Result<(&'a str, String, Value), Refusal> {
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
    let message: Value = serde_json::from_slice(body)
        .map_err(|e| Refusal(E_C_INVALID_MSG, format!("the body is not valid JSON: {e}")))?;
    let authentication: Authentication = message
        .get("authentication")
        .cloned()
        .and_then(|a| serde_json::from_value(a).ok())
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
        return Err(Refusal(E_S_AUTH_FAIL, String::new()));
    }
    let request = message
        .get("request")
        .cloned()
        .ok_or_else(|| Refusal(E_C_INVALID_MSG, "the request block is missing".into()))?;
    Ok((api, authentication.seq, request))
}

async fn voice_notify(
    shared: &Shared,
    seq: &str,
    request: &Value,
    kill: &ConnectionKill,
) -> Response {
    let (commands, batched) = match request {
        Value::Array(items) => (items.clone(), true),
        Value::Object(_) => (vec![request.clone()], false),
        _ => {
            return envelope(
                seq,
                E_C_INVALID_PARAM,
                "request must be an object or an array",
                None,
            );
        }
    };
    let fault = {
        let mut state = shared.lock();
        let roll = state.roll();
        state.options.faults.pick(roll)
    };
    match fault {
        Some(Fault::ServerErrorBefore) => {
            return (StatusCode::SERVICE_UNAVAILABLE, "503 Service Unavailable").into_response();
        }
        Some(Fault::VendorError4) => return envelope(seq, E_W_DB_OPT_FAIL, "数据库操作失败", None),
        Some(Fault::SyncFail) => return envelope(seq, E_G_DATASYN_FAIL, "数据同步失败", None),
        _ => {}
    }
    let now = Timestamp::now();
    let clock = Instant::now();
    let mut responses = Vec::with_capacity(commands.len());
    let mut placed = Vec::new();
    {
        let mut state = shared.lock();
        for value in &commands {
            let command: Option<VoiceNotifyCommand> = serde_json::from_value(value.clone()).ok();
            let (echo_seq, echo_user_data) = (text(value, "seq"), text(value, "userData"));
            let verdict = command
                .ok_or_else(|| "the command is not an object".to_string())
                .and_then(|c| check_command(&c).map(|()| c));
            let result = match verdict {
                Ok(command) => {
                    let call = state.place(&command, now, clock);
                    let visible_at = state.cdrs.last().map(|c| (c.visible_at, c.notify.clone()));
                    placed.push((call, visible_at));
                    result_json(0, "成功")
                }
                Err(reason) => result_json(E_C_INVALID_PARAM, &reason),
            };
            let user_data: String = echo_user_data.chars().take(40).collect();
            responses.push(json!({"seq": echo_seq, "userData": user_data, "result": result}));
        }
        if batched && state.options.shuffle_responses {
            state.shuffle(&mut responses);
        }
    }
    for (call, record) in &placed {
        shared.log_call(call);
        if let Some((visible_at, notify)) = record {
            shared.push_later(Notify::Cdr(Box::new(notify.clone())), *visible_at);
        }
    }
    debug!(
        placed = placed.len(),
        commands = commands.len(),
        "Simulator placed calls."
    );
    match fault {
        Some(Fault::ServerErrorAfter) => (
            StatusCode::BAD_GATEWAY,
            "<html><body>502 Bad Gateway</body></html>",
        )
            .into_response(),
        Some(Fault::Garbage) => (
            StatusCode::OK,
            "<html>upstream sent an invalid response</html>",
        )
            .into_response(),
        Some(Fault::Hang) => {
            shared.shutdown.cancelled().await;
            (StatusCode::SERVICE_UNAVAILABLE, "shutting down").into_response()
        }
        Some(Fault::Reset) => {
            kill.0.cancel();
            std::future::pending().await
        }
        _ if batched => envelope(seq, 0, "成功", Some(json!({"responses": responses}))),
        _ => {
            let response = responses.pop().unwrap_or(Value::Null);
            let code = response["result"]["error"].as_u64().unwrap_or(0);
            let msg = if code == 0 {
                "成功".to_string()
            } else {
                response["result"]["msg"].as_str().unwrap_or("").to_string()
            };
            envelope(seq, code, &msg, Some(json!({"response": response})))
        }
    }
}

/// The vendor's required fields and limits for one command.
fn check_command(command: &VoiceNotifyCommand) -> Result<(), String> {
    if command.seq.chars().count() > 20 {
        return Err("seq is longer than 20 characters".into());
    }
    if command.callee.trim().is_empty() {
        return Err("callee is required".into());
    }
    if !command.callee.trim().bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("callee {:?} is not a number", command.callee));
    }
    if command.content.trim().is_empty() {
        return Err("content is required".into());
    }
    match command.cycle_play_times.trim().parse::<u32>() {
        Ok(n) if n >= 1 => Ok(()),
        _ => Err("cyclePlayTimes is required: a whole number of at least 1".into()),
    }
}

fn upload_template(shared: &Shared, request: &Value) -> Result<Value, Refusal> {
    let (name, content) = (text(request, "name"), text(request, "content"));
    if name.trim().is_empty() || content.trim().is_empty() {
        return Err(Refusal(
            E_C_INVALID_PARAM,
            "name and content are required".into(),
        ));
    }
    Template::parse(&content).map_err(|e| Refusal(E_C_INVALID_PARAM, e.to_string()))?;
    let template = shared
        .lock()
        .add_template(&name, &content, Timestamp::now());
    if template.status != super::state::PENDING {
        shared.push_later(Notify::TemplateAudit(template.audit()), Instant::now());
    }
    Ok(json!({"response": command_ok(request, json!({"voiceFileID": template.id.to_string()}))}))
}

fn edit_template(shared: &Shared, request: &Value) -> Result<Value, Refusal> {
    let id = text(request, "templateID");
    let missing = || Refusal(E_G_RES_NOT_EXIST, format!("template {id:?} does not exist"));
    let number: u64 = id.trim().parse().map_err(|_| missing())?;
    let name = Some(text(request, "name")).filter(|n| !n.is_empty());
    let content = Some(text(request, "content")).filter(|c| !c.is_empty());
    if let Some(content) = &content {
        Template::parse(content).map_err(|e| Refusal(E_C_INVALID_PARAM, e.to_string()))?;
    }
    let template = shared
        .lock()
        .edit_template(number, name.as_deref(), content.as_deref())
        .ok_or_else(missing)?;
    if template.status != super::state::PENDING {
        shared.push_later(Notify::TemplateAudit(template.audit()), Instant::now());
    }
    Ok(json!({"response": command_ok(request, json!({"voiceFileID": template.id.to_string()}))}))
}

fn template_list(shared: &Shared, request: &Value) -> Result<Value, Refusal> {
    let number = |key: &str, default: usize| -> Result<usize, Refusal> {
        let t = text(request, key);
        if t.trim().is_empty() {
            return Ok(default);
        }
        t.trim().parse().ok().filter(|n| *n >= 1).ok_or_else(|| {
            Refusal(
                E_C_INVALID_PARAM,
                format!("{key} {t:?} is not a page number"),
            )
        })
    };
    let (page, page_size) = (number("page", 1)?, number("pageSize", 10)?);
    let rows = shared.lock().template_rows();
    let total = rows.len();
    let shown: Vec<TemplateRow> = rows
        .into_iter()
        .skip((page - 1) * page_size)
        .take(page_size)
        .collect();
    let data = json!({"rows": shown, "total": total.to_string()});
    Ok(json!({"response": command_ok(request, json!({"data": data}))}))
}

fn one_cdr(shared: &Shared, request: &Value) -> Result<Value, Refusal> {
    let (session, user_data) = (text(request, "session"), text(request, "userData"));
    if session.is_empty() && user_data.is_empty() {
        return Err(Refusal(
            E_C_INVALID_PARAM,
            "session and userData must not both be empty".into(),
        ));
    }
    check_no_agent(request)?;
    let records = shared.lock().one_cdr(&session, &user_data, Instant::now());
    // As in the original's sample: `total` and `cdr` beside `response`.
    Ok(json!({"response": command_ok(request, json!({})), "total": records.len(), "cdr": records}))
}

fn cdr_list(shared: &Shared, request: &Value) -> Result<Value, Refusal> {
    check_no_agent(request)?;
    let service_type = text(request, "serviceType");
    let mut state = shared.lock();
    let zone = state.zone().clone();
    let time = |key: &str| -> Result<Option<Timestamp>, Refusal> {
        let t = text(request, key);
        if t.trim().is_empty() {
            return Ok(None);
        }
        vendor_time::parse(&t, &zone).map(Some).ok_or_else(|| {
            Refusal(
                E_C_INVALID_PARAM,
                format!("{key} {t:?} is not YYYY-MM-DD HH:MM:SS"),
            )
        })
    };
    let whole = |key: &str| -> Result<Option<u64>, Refusal> {
        let t = text(request, key);
        if t.trim().is_empty() {
            return Ok(None);
        }
        t.trim()
            .parse()
            .map(Some)
            .map_err(|_| Refusal(E_C_INVALID_PARAM, format!("{key} {t:?} is not a number")))
    };
    let (mut from, mut until) = (time("startTime")?, time("endTime")?);
    if from.is_none() && until.is_none() {
        // Both empty: today's records only, in the vendor's zone.
        let today = Timestamp::now().to_zoned_datetime(zone.clone()).date();
        from = today
            .to_zoned_datetime(zone.clone())
            .ok()
            .map(|z| z.timestamp());
        until = today
            .tomorrow()
            .ok()
            .and_then(|d| d.to_zoned_datetime(zone.clone()).ok())
            .map(|z| z.timestamp() - jiff::SignedDuration::from_secs(1));
    }
    let filter = CdrFilter {
        from,
        until,
        start_key: whole("startKey")?,
        caller: text(request, "caller"),
        callee: text(request, "callee"),
        min_secs: whole("timeLengthMin")?,
        max_secs: whole("timeLengthMax")?,
    };
    let (records, total) = if service_type.trim().is_empty() || service_type.trim() == "21" {
        state.cdr_page(&filter, Instant::now())
    } else {
        (Vec::new(), 0)
    };
    let page_size = state.options.page_size;
    let extra = json!({"total": total.to_string(), "cdr": records, "page": 1, "size": page_size});
    Ok(json!({"response": command_ok(request, extra)}))
}

/// The simulator has no agents: any agent named does not exist.
fn check_no_agent(request: &Value) -> Result<(), Refusal> {
    let named = match request.get("agent") {
        Some(Value::Array(agents)) => agents
            .iter()
            .find(|a| !scalar_text(a).is_empty())
            .map(scalar_text),
        Some(value) => Some(scalar_text(value)).filter(|a| !a.is_empty()),
        None => None,
    };
    match named {
        Some(agent) => Err(Refusal(
            E_G_STAFF_NO_EXIST,
            format!("agent {agent:?} does not exist"),
        )),
        None => Ok(()),
    }
}

/// A successful command response with `extra` fields.
fn command_ok(request: &Value, extra: Value) -> Value {
    let mut response = json!({"seq": text(request, "seq"), "userData": text(request, "userData"), "result": {"error": 0}});
    if let (Value::Object(response), Value::Object(extra)) = (&mut response, extra) {
        response.extend(extra);
    }
    response
}

/// The whole answer: `result`, `data` (with the request's seq), `logs`.
fn envelope(seq: &str, code: u64, msg: &str, data: Option<Value>) -> Response {
    let mut data = data.unwrap_or_else(|| json!({}));
    if let Value::Object(map) = &mut data {
        map.insert("seq".into(), Value::String(seq.into()));
    }
    let msg = if msg.is_empty() {
        describe_code(code).map_or("", |i| i.zh)
    } else {
        msg
    };
    let body = json!({"result": result_json(code, msg), "data": data, "logs": ""});
    (
        StatusCode::OK,
        [("content-type", "application/json;charset=UTF-8")],
        body.to_string(),
    )
        .into_response()
}

/// A `result` block; codes beyond 16 bits are written as `0x` strings, as the original
/// lists them.
fn result_json(code: u64, msg: &str) -> Value {
    let error = if code > 0xFFFF {
        Value::String(format!("{code:#X}"))
    } else {
        Value::from(code)
    };
    json!({"error": error, "msg": msg})
}

fn text(value: &Value, key: &str) -> String {
    value.get(key).map(scalar_text).unwrap_or_default()
}

fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_codes_are_written_as_hex_strings() {
        assert_eq!(
            result_json(E_G_RES_NOT_EXIST, "")["error"],
            json!("0xF1000008")
        );
        assert_eq!(result_json(5, "")["error"], json!(5));
    }
}
