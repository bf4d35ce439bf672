//! Reading an answer: which result applies to which command (the spec notes' rules on
//! top-level versus per-command results, and matching `responses` by `seq`).

use std::collections::HashMap;

use super::error::{Failure, VendorError};
use super::wire::{Answer, CdrRecord, CommandResponse, VendorResult};

/// Decodes an answer body; a body that is not a readable answer may hide a placed call.
pub fn decode(body: &[u8]) -> Result<Answer, VendorError> {
    let body = body.strip_prefix("\u{feff}".as_bytes()).unwrap_or(body);
    serde_json::from_slice(body).map_err(|e| {
        let shown = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
        VendorError::MayHaveBeenPlaced(Failure::Unreadable(format!("{e} in {shown:?}")))
    })
}

/// A top-level 1, 10 or 11 halts the account whatever the commands say.
fn top_level_halt(answer: &Answer) -> Option<VendorError> {
    answer
        .result
        .as_ref()
        .and_then(VendorError::from_result)
        .filter(|e| matches!(e, VendorError::AccountHalt(_)))
}

/// The fate of one command given its response (if any) and the top-level result: the
/// command's own result wins; without one, a non-zero top-level result applies; a
/// success with no response for the command may hide a placed call.
fn command_fate(
    top: Option<&VendorResult>,
    response: Option<&CommandResponse>,
) -> Result<(), VendorError> {
    let own = response.and_then(|r| r.result.as_ref());
    if let Some(error) = own.or(top).and_then(VendorError::from_result) {
        return Err(error);
    }
    match response {
        Some(_) => Ok(()),
        None => Err(VendorError::MayHaveBeenPlaced(Failure::Unreadable(
            "no response for this command".into(),
        ))),
    }
}

/// The fate of each command sent, in the order of `sent_seqs`. `responses[i]` belongs to
/// the command with the same `seq`, never to the i-th command by position; a lone
/// response to a lone command is that command's whatever `seq` it echoes.
pub fn settle_commands(answer: &Answer, sent_seqs: &[&str]) -> Vec<Result<(), VendorError>> {
    if let Some(halt) = top_level_halt(answer) {
        return sent_seqs.iter().map(|_| Err(halt.clone())).collect();
    }
    let responses: Vec<&CommandResponse> = match &answer.data {
        Some(data) => data
            .responses
            .iter()
            .flatten()
            .chain(data.response.as_ref())
            .collect(),
        None => Vec::new(),
    };
    if let ([_], [only]) = (sent_seqs, responses.as_slice()) {
        return vec![command_fate(answer.result.as_ref(), Some(only))];
    }
    // The first response that echoes a `seq` is that command's.
    let mut by_seq: HashMap<&str, &CommandResponse> = HashMap::with_capacity(responses.len());
    for response in responses {
        by_seq.entry(response.seq.as_str()).or_insert(response);
    }
    sent_seqs
        .iter()
        .map(|seq| command_fate(answer.result.as_ref(), by_seq.get(seq).copied()))
        .collect()
}

/// The one response of a single-command request, once its result says success.
pub fn single_response(answer: &Answer) -> Result<CommandResponse, VendorError> {
    if let Some(halt) = top_level_halt(answer) {
        return Err(halt);
    }
    let response = answer.data.as_ref().and_then(|d| {
        d.response
            .clone()
            .or_else(|| d.responses.as_ref().and_then(|r| r.first().cloned()))
    });
    command_fate(answer.result.as_ref(), response.as_ref())?;
    Ok(response.expect("command_fate refuses a missing response"))
}

/// getOneCdr's records, found beside `response` (as in the sample) or inside it.
pub fn one_cdr_records(answer: &Answer, response: &CommandResponse) -> Vec<CdrRecord> {
    let beside = answer.data.as_ref().and_then(|d| d.cdr.clone());
    beside.or_else(|| response.cdr.clone()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::E_W_DB_OPT_FAIL;

    fn answer(json: &str) -> Answer {
        decode(json.as_bytes()).unwrap()
    }

    #[test]
    fn responses_are_matched_by_seq_not_position() {
        let a = answer(
            r#"{"result":{"error":0},"data":{"seq":"9","responses":[
                {"seq":"c","result":{"error":5,"msg":"callee"}},
                {"seq":"a","result":{"error":0}},
                {"seq":"b","result":""}]}}"#,
        );
        let fates = settle_commands(&a, &["a", "b", "c", "d"]);
        assert_eq!(fates[0], Ok(()));
        assert_eq!(fates[1], Ok(()));
        assert!(matches!(fates[2], Err(VendorError::Permanent(_))));
        assert!(matches!(fates[3], Err(VendorError::MayHaveBeenPlaced(_))));
    }

    #[test]
    fn a_top_level_halt_wins_over_the_commands() {
        let a = answer(
            r#"{"result":{"error":"1"},"data":{"responses":[{"seq":"a","result":{"error":0}}]}}"#,
        );
        assert!(matches!(
            settle_commands(&a, &["a"])[0],
            Err(VendorError::AccountHalt(_))
        ));
        assert!(matches!(
            single_response(&a),
            Err(VendorError::AccountHalt(_))
        ));
    }

    #[test]
    fn a_top_level_error_without_command_results_applies_to_every_command() {
        let a = answer(&format!(
            r#"{{"result":{{"error":{E_W_DB_OPT_FAIL},"msg":"db"}}}}"#
        ));
        let fates = settle_commands(&a, &["a", "b"]);
        assert!(
            fates
                .iter()
                .all(|f| matches!(f, Err(VendorError::NotPlaced(_))))
        );
        let b = answer(r#"{"result":{"error":4},"data":{"response":{"seq":"a","result":""}}}"#);
        assert!(matches!(
            settle_commands(&b, &["a"])[0],
            Err(VendorError::NotPlaced(_))
        ));
        let c = answer(
            r#"{"result":{"error":4},"data":{"response":{"seq":"a","result":{"error":0}}}}"#,
        );
        assert_eq!(settle_commands(&c, &["a"])[0], Ok(()));
    }

    #[test]
    fn unreadable_bodies_may_hide_a_placed_call() {
        assert!(matches!(
            decode(b"<html>bad gateway"),
            Err(VendorError::MayHaveBeenPlaced(_))
        ));
        assert!(matches!(
            settle_commands(&answer("{}"), &["a"])[0],
            Err(VendorError::MayHaveBeenPlaced(_))
        ));
    }
}
