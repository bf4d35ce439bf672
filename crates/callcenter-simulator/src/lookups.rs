//! The simulator's template and call-record APIs: uploadTTSTemplate, editTTSTemplate,
//! getTTSTemplateList, getOneCdr and getCdrList.

use jiff::Timestamp;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::api::{Refusal, Shared, command_ok, scalar_text, text};
use super::state::CdrFilter;
use callcenter_openapi::error::{E_C_INVALID_PARAM, E_G_RES_NOT_EXIST, E_G_STAFF_NO_EXIST};
use callcenter_openapi::push::Notify;
use callcenter_openapi::template::Template;
use callcenter_openapi::time as vendor_time;
use callcenter_openapi::wire::{Review, TemplateRow};

pub fn upload_template(shared: &Shared, request: &Value) -> Result<Value, Refusal> {
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
    if template.status != Review::Pending {
        shared.push_later(Notify::TemplateAudit(template.audit()), Instant::now());
    }
    Ok(json!({"response": command_ok(request, json!({"voiceFileID": template.id.to_string()}))}))
}

pub fn edit_template(shared: &Shared, request: &Value) -> Result<Value, Refusal> {
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
    if template.status != Review::Pending {
        shared.push_later(Notify::TemplateAudit(template.audit()), Instant::now());
    }
    Ok(json!({"response": command_ok(request, json!({"voiceFileID": template.id.to_string()}))}))
}

pub fn template_list(shared: &Shared, request: &Value) -> Result<Value, Refusal> {
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

pub fn one_cdr(shared: &Shared, request: &Value) -> Result<Value, Refusal> {
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

pub fn cdr_list(shared: &Shared, request: &Value) -> Result<Value, Refusal> {
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
