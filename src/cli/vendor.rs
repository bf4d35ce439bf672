//! `voicecast templates ...` and `voicecast cdr ...`: the vendor's APIs by hand, against
//! the configured account (the simulator or the real one).

use anyhow::{Context, bail};
use clap::{ArgGroup, Subcommand};
use jiff::Timestamp;

use super::records;
use crate::config::Config;
use callcenter_openapi::time as vendor_time;
use callcenter_openapi::{CdrLookup, CdrPager, CdrQuery, VendorClient};

#[derive(Debug, Subcommand)]
pub enum TemplatesAction {
    /// Every template with its review status.
    List,
    /// Upload a new template; prints its ID.
    Upload {
        #[arg(long)]
        name: String,
        /// The text, with variables {1}..{10}.
        #[arg(long)]
        content: String,
    },
    /// Change a template's name or content (it goes through review again).
    Edit {
        #[arg(long)]
        id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        content: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum CdrAction {
    /// One call's record, by session or by userData.
    #[command(group(ArgGroup::new("by").required(true).args(["session", "user_data"])))]
    Get {
        #[arg(long)]
        session: Option<String>,
        #[arg(long)]
        user_data: Option<String>,
        /// One JSON object a line.
        #[arg(long)]
        json: bool,
    },
    /// Every voice-notification record in a window, page by page through startKey.
    List {
        /// Start of the window, "YYYY-MM-DD HH:MM:SS" in the vendor's time zone.
        #[arg(long, value_name = "T")]
        since: String,
        /// End of the window (default: now), in the vendor's time zone.
        #[arg(long, value_name = "T")]
        until: Option<String>,
        /// The record key to start from.
        #[arg(long, value_name = "K")]
        start_key: Option<String>,
        /// One JSON object a line.
        #[arg(long)]
        json: bool,
    },
}

fn client(config: &Config) -> anyhow::Result<VendorClient> {
    Ok(VendorClient::new(
        config.client_settings(),
        config.credentials()?,
    )?)
}

pub async fn templates(config: &Config, action: TemplatesAction) -> anyhow::Result<()> {
    let client = client(config)?;
    match action {
        TemplatesAction::List => {
            let rows = client.templates().await?;
            if rows.is_empty() {
                println!("no templates");
            }
            for row in rows {
                println!(
                    "{}",
                    records::template_line(&row, &config.api.vendor_timezone)
                );
            }
        }
        TemplatesAction::Upload { name, content } => {
            callcenter_openapi::template::Template::parse(&content)
                .context("the template breaks the vendor's rules")?;
            println!("{}", client.upload_template(&name, &content).await?);
        }
        TemplatesAction::Edit { id, name, content } => {
            if name.is_none() && content.is_none() {
                bail!("nothing to change: give --name, --content or both");
            }
            if let Some(content) = &content {
                callcenter_openapi::template::Template::parse(content)
                    .context("the template breaks the vendor's rules")?;
            }
            println!(
                "{}",
                client
                    .edit_template(&id, name.as_deref(), content.as_deref())
                    .await?
            );
        }
    }
    Ok(())
}

pub async fn cdr(config: &Config, action: CdrAction) -> anyhow::Result<()> {
    let client = client(config)?;
    let zone = &config.api.vendor_timezone;
    match action {
        CdrAction::Get {
            session,
            user_data,
            json,
        } => {
            let lookup = match (session, user_data) {
                (Some(session), _) => CdrLookup::Session(session),
                (None, Some(user_data)) => CdrLookup::UserData(user_data),
                (None, None) => unreachable!("clap requires one of them"),
            };
            let found = client.one_cdr(&lookup).await?;
            if found.is_empty() {
                bail!("no call record found");
            }
            for record in &found {
                println!("{}", records::record_line(record, json));
            }
        }
        CdrAction::List {
            since,
            until,
            start_key,
            json,
        } => {
            let check = |t: &str, what: &str| match vendor_time::parse(t, zone) {
                Some(_) => Ok(t.trim().to_string()),
                None => bail!("{what} {t:?} is not \"YYYY-MM-DD HH:MM:SS\""),
            };
            let query = CdrQuery {
                start_time: check(&since, "--since")?,
                end_time: match until {
                    Some(until) => check(&until, "--until")?,
                    None => vendor_time::format(Timestamp::now(), zone),
                },
                start_key,
                task_id: config.reconcile.task_id.clone(),
            };
            let mut pager = CdrPager::new(query);
            while let Some(records) = pager.next_page(&client).await? {
                for record in &records {
                    println!("{}", records::record_line(record, json));
                }
            }
        }
    }
    Ok(())
}
