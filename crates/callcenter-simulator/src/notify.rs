//! voiceNotify as the simulator answers it: each valid command placed and logged, each
//! invalid one refused with error 5, and the configured faults injected around placing.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use serde::Serialize;
use serde_json::Value;
use serde_json::value::RawValue;
use tokio::time::Instant;
use tracing::debug;

use super::Fault;
use super::api::{ConnectionKill, ResultBlock, Shared, envelope, reply, result_block, text};
use super::state::kept_user_data;
use callcenter_openapi::error::{E_C_INVALID_PARAM, E_G_DATASYN_FAIL, E_W_DB_OPT_FAIL};
use callcenter_openapi::push::Notify;
use callcenter_openapi::wire::VoiceNotifyCommand;

/// Answers one voiceNotify request: a fault drawn, every command placed or refused on its
/// own, and the answer (or the fault's misbehaviour) sent back.
pub async fn voice_notify(
    shared: &Shared,
    seq: &str,
    request: &RawValue,
    kill: &ConnectionKill,
) -> Response {
    let Some((commands, batched)) = split_commands(request) else {
        return envelope(
            seq,
            E_C_INVALID_PARAM,
            "request must be an object or an array",
            None,
        );
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
        Some(Fault::VendorError4) => return envelope(seq, E_W_DB_OPT_FAIL, "", None),
        Some(Fault::SyncFail) => return envelope(seq, E_G_DATASYN_FAIL, "", None),
        _ => {}
    }
    let Answers {
        mut responses,
        last,
    } = place_all(shared, &commands, batched);
    debug!(commands = commands.len(), "Simulator placed calls.");
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
        _ if batched => reply(seq, 0, "", Batch { responses }),
        _ => {
            let response = responses.pop().expect("a lone command has one answer");
            reply(seq, last.0, &last.1, Single { response })
        }
    }
}

/// The commands of a request, each left unparsed until it is read on its own (so a bad
/// one is refused with error 5 alone), and whether they came as an array; `None` when the
/// request is neither an object nor an array.
fn split_commands(request: &RawValue) -> Option<(Vec<&RawValue>, bool)> {
    match request.get().trim_start().chars().next() {
        Some('[') => Some((
            serde_json::from_str(request.get()).expect("an array checked as JSON"),
            true,
        )),
        Some('{') => Some((vec![request], false)),
        _ => None,
    }
}

/// The answers to a request's commands, in order (shuffled when asked), and the last
/// command's code and message: a lone command's answer repeats them at the top.
struct Answers {
    responses: Vec<CommandAnswer>,
    last: (u64, String),
}

/// Places every valid command and refuses every invalid one with error 5; then logs and
/// pushes what was placed, outside the state's lock.
fn place_all(shared: &Shared, commands: &[&RawValue], batched: bool) -> Answers {
    let now = Timestamp::now();
    let clock = Instant::now();
    let mut responses = Vec::with_capacity(commands.len());
    // Copies of what was placed, only where a call log or pushes want them.
    let mut placed = Vec::new();
    let keep = shared.keeps_placed_calls();
    let mut last = (0, String::new());
    {
        let mut state = shared.lock();
        for raw in commands {
            let (verdict, ids) = read_command(raw);
            last = match verdict {
                Ok(command) => {
                    let index = state.place(command, now, clock);
                    if keep {
                        let (call, record) = (&state.calls[index], &state.cdrs[index]);
                        let notify = record.notify(call, state.zone());
                        placed.push((call.clone(), notify, record.visible_at));
                    }
                    (0, String::new())
                }
                Err(reason) => (E_C_INVALID_PARAM, reason),
            };
            responses.push(CommandAnswer {
                seq: ids.0,
                user_data: ids.1,
                result: result_block(last.0, &last.1),
            });
        }
        if batched && state.options.shuffle_responses {
            state.shuffle(&mut responses);
        }
    }
    for (call, notify, visible_at) in placed {
        shared.log_call(&call);
        shared.push_later(Notify::Cdr(Box::new(notify)), visible_at);
    }
    Answers { responses, last }
}

/// One command read and checked, with the `seq` and `userData` its answer echoes.
fn read_command(raw: &RawValue) -> (Result<VoiceNotifyCommand, String>, (String, String)) {
    match serde_json::from_str::<VoiceNotifyCommand>(raw.get()) {
        Ok(command) => {
            let ids = (command.seq.clone(), kept_user_data(&command.user_data));
            (check_command(&command).map(|()| command), ids)
        }
        Err(_) => {
            let value: Value = serde_json::from_str(raw.get()).unwrap_or_default();
            let ids = (
                text(&value, "seq"),
                kept_user_data(&text(&value, "userData")),
            );
            (Err("the command is not an object".to_string()), ids)
        }
    }
}

/// One command's answer.
#[derive(Serialize)]
struct CommandAnswer {
    seq: String,
    #[serde(rename = "userData")]
    user_data: String,
    result: ResultBlock,
}

#[derive(Serialize)]
struct Batch {
    responses: Vec<CommandAnswer>,
}

#[derive(Serialize)]
struct Single {
    response: CommandAnswer,
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
