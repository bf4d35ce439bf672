//! `voicecast simulator`: the built-in vendor stand-in on a TCP address.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use tokio_util::sync::CancellationToken;

use callcenter_openapi::Password;
use callcenter_simulator::{
    CdrOrder, Faults, OutcomeWeights, Simulator, SimulatorOptions, TemplateReview,
};

#[derive(Debug, Args)]
pub struct SimulatorArgs {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:8600")]
    listen: SocketAddr,
    /// The customer name the simulator accepts.
    #[arg(long, default_value = callcenter_simulator::EXAMPLE_CUSTOMER)]
    customer: String,
    /// A file holding the password it accepts (default: the spec's example password,
    /// or $VOICECAST_SIMULATOR_PASSWORD).
    #[arg(long, value_name = "FILE")]
    password_file: Option<PathBuf>,
    /// The API version it serves; others get error 10.
    #[arg(long, default_value = "V2.0.6")]
    api_version: String,
    /// Seed of the outcome and fault draws: the same seed gives the same run.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Outcome weights, as NAME=WEIGHT,... over answered, no_answer, busy, empty, failed,
    /// and the refusals callee_frequency (cause 409), caller_frequency (410) and
    /// service_hours (429).
    #[arg(long, default_value = "answered=60,no_answer=20,busy=10,empty=5,failed=5", value_parser = OutcomeWeights::parse)]
    outcomes: OutcomeWeights,
    /// Talk time of answered calls in seconds, MIN..MAX.
    #[arg(long, default_value = "5..60", value_parser = parse_range)]
    talk_secs: (u64, u64),
    /// Price per started minute of talk, in yuan (two decimals at most).
    #[arg(long, default_value = "0.06", value_parser = parse_fen)]
    fee_per_minute: u64,
    /// Milliseconds from a call's end to its record appearing.
    #[arg(long, default_value_t = 2000)]
    cdr_delay_ms: u64,
    /// Real seconds a second of a call takes: 1 as on a real line, 0.01 to end a
    /// minute's call in 0.6 s (a call rings, then talks or rings on until the hang-up).
    #[arg(long, default_value_t = 1.0)]
    call_time_scale: f64,
    /// The order getCdrList lists a page in.
    #[arg(long, default_value = "descending", value_parser = named(&CdrOrder::ALL))]
    cdr_order: CdrOrder,
    /// Records per getCdrList page.
    #[arg(long, default_value_t = 500)]
    page_size: usize,
    /// Whether new and edited templates wait for a review
    /// (POST /simulator/templates/ID/approve or /reject).
    #[arg(long, default_value = "auto-approve", value_parser = named(&TemplateReview::ALL))]
    templates: TemplateReview,
    /// Push call records and template audits to this URL, signed.
    #[arg(long, value_name = "URL")]
    push_url: Option<String>,
    /// Inject a fault into voiceNotify requests at a rate from 0 to 1, as KIND=RATE
    /// (5xx-before, 5xx-after, error-4, sync-fail, hang, garbage, reset); repeatable.
    #[arg(long = "fault", value_name = "KIND=RATE", value_parser = Faults::parse_one)]
    faults: Vec<(callcenter_simulator::Fault, f64)>,
    /// Latency added to every answer, in milliseconds: N or MIN..MAX.
    #[arg(long, default_value = "0", value_parser = parse_range)]
    latency_ms: (u64, u64),
    /// Answer a batch's responses in random order.
    #[arg(long)]
    shuffle_responses: bool,
    /// Append every placed call to this file, one JSON object a line.
    #[arg(long, value_name = "FILE")]
    call_log: Option<PathBuf>,
}

/// Runs the simulator until SIGTERM or SIGINT. Logging is set up by the caller, from
/// `[log]` and `--log-format`.
pub async fn run(args: SimulatorArgs) -> anyhow::Result<()> {
    let password = match (
        &args.password_file,
        std::env::var("VOICECAST_SIMULATOR_PASSWORD"),
    ) {
        (Some(file), _) => {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            Password::new(text.trim_end_matches(['\r', '\n']))
        }
        (None, Ok(password)) if !password.is_empty() => Password::new(password),
        _ => Password::new(callcenter_simulator::EXAMPLE_PASSWORD),
    };
    let options = SimulatorOptions {
        customer: args.customer.clone(),
        password,
        version: args.api_version,
        seed: args.seed,
        outcomes: args.outcomes,
        talk_secs: args.talk_secs,
        fee_per_minute_fen: args.fee_per_minute,
        cdr_delay: Duration::from_millis(args.cdr_delay_ms),
        call_time_scale: args.call_time_scale,
        cdr_order: args.cdr_order,
        page_size: args.page_size.max(1),
        templates: args.templates,
        push_url: args.push_url,
        faults: Faults { rates: args.faults },
        latency: (
            Duration::from_millis(args.latency_ms.0),
            Duration::from_millis(args.latency_ms.1),
        ),
        shuffle_responses: args.shuffle_responses,
        call_log: args.call_log,
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let simulator = Simulator::start(listener, options)?;
    println!(
        "voicecast simulator listening on {} (customer {})",
        simulator.base_url(),
        args.customer
    );
    let shutdown = CancellationToken::new();
    let trigger = shutdown.clone();
    tokio::spawn(async move {
        crate::shutdown::signalled().await;
        trigger.cancel();
    });
    simulator.run(shutdown).await;
    Ok(())
}

/// A parser of the values `all` names, which `--help` lists.
fn named<T>(all: &[(T, &'static str)]) -> impl TypedValueParser<Value = T>
where
    T: Copy + FromStr<Err = String> + Send + Sync + 'static,
{
    PossibleValuesParser::new(all.iter().map(|(_, name)| *name)).try_map(|name| name.parse::<T>())
}

/// Reads `N` or `MIN..MAX`.
fn parse_range(text: &str) -> Result<(u64, u64), String> {
    let number = |t: &str| {
        t.trim()
            .parse::<u64>()
            .map_err(|_| format!("{t:?} is not a whole number"))
    };
    match text.split_once("..") {
        Some((lo, hi)) => {
            let (lo, hi) = (number(lo)?, number(hi)?);
            if hi < lo {
                return Err(format!("{text:?}: the maximum is below the minimum"));
            }
            Ok((lo, hi))
        }
        None => number(text).map(|n| (n, n)),
    }
}

/// Reads a yuan amount with at most two decimals into fen.
fn parse_fen(text: &str) -> Result<u64, String> {
    let bad = || format!("{text:?} is not an amount of yuan like 0.06");
    let (whole, fraction) = text.trim().split_once('.').unwrap_or((text.trim(), ""));
    if fraction.len() > 2 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let whole: u64 = whole.parse().map_err(|_| bad())?;
    let fraction: u64 = format!("{fraction:0<2}").parse().map_err(|_| bad())?;
    Ok(whole * 100 + fraction)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_amounts_parse() {
        assert_eq!(parse_range("5..60"), Ok((5, 60)));
        assert_eq!(parse_range("7"), Ok((7, 7)));
        assert!(parse_range("9..2").is_err());
        assert_eq!(parse_fen("0.06"), Ok(6));
        assert_eq!(parse_fen("1.5"), Ok(150));
        assert_eq!(parse_fen("2"), Ok(200));
        assert!(parse_fen("0.061").is_err());
    }
}
