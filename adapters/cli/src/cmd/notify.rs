//! The notifier's flags on `serve` (`docs/notify.md`): it always runs (the
//! resident's page is a channel of its own); e-mail and the webhook are
//! sent only when their flags are given. An operator changes a channel by
//! restarting `serve` with other flags: nothing is rebuilt, and the outbox
//! keeps what was waiting.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context as _, Result, bail};
use clap::Args;
use gridloop_cli::store::LogStore;
use gridloop_notify::mail::Mailer;
use gridloop_notify::outbox::Outbox;
use gridloop_notify::webhook::Webhook;
use gridloop_notify::{Config, Notifier};

use crate::deployment::Deployment;

/// The channels residents are told through, besides their page.
#[derive(Debug, Args)]
pub struct NotifyArgs {
    /// Send residents' notices and codes by e-mail through this SMTP
    /// server: smtp://HOST:PORT (plain), smtp://HOST:587?tls=required
    /// (STARTTLS) or smtps://HOST:465 (TLS); user:password@ logs in.
    #[arg(long, value_name = "URL", requires = "mail_from")]
    smtp: Option<String>,
    /// The sender of those mails: "网格通 <noreply@example.org>".
    #[arg(long, value_name = "ADDRESS", requires = "smtp")]
    mail_from: Option<String>,
    /// POST each notice, signed, as JSON to this URL (a city's SMS
    /// gateway or work-chat bridge).
    #[arg(long, value_name = "URL", requires = "webhook_secret_file")]
    webhook: Option<String>,
    /// A file holding the webhook's shared HMAC secret (at least 16
    /// bytes; keep it readable by gridloop only).
    #[arg(long, value_name = "FILE", requires = "webhook")]
    webhook_secret_file: Option<PathBuf>,
}

/// The longest secret file read.
const SECRET_FILE_BYTES_MAX: u64 = 4096;

impl NotifyArgs {
    /// The channels the flags name, checked before anything starts.
    pub fn config(&self) -> Result<Config> {
        let mail = match (&self.smtp, &self.mail_from) {
            (Some(url), Some(from)) => Some(Mailer::new(url, from)?),
            _ => None,
        };
        let webhook = match (&self.webhook, &self.webhook_secret_file) {
            (Some(url), Some(file)) => {
                let size =
                    std::fs::metadata(file).with_context(|| format!("--webhook-secret-file {}", file.display()))?;
                if size.len() > SECRET_FILE_BYTES_MAX {
                    bail!("--webhook-secret-file {} is larger than {SECRET_FILE_BYTES_MAX} bytes", file.display());
                }
                let secret = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
                // A trailing line break is the editor's, not the secret's.
                let secret = secret.trim_ascii_end().to_vec();
                Some(Webhook::new(url, secret)?)
            }
            _ => None,
        };
        let mut seed = [0u8; 8];
        getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("no randomness for the retry jitter: {e}"))?;
        Ok(Config { mail, webhook, seed: u64::from_le_bytes(seed), ..Config::default() })
    }
}

/// The notifier of `deployment`, its outbox in the data directory's own
/// database. On its very first start it begins at the log's end: residents
/// are not told of what happened before it existed.
pub async fn notifier(
    deployment: &Deployment,
    personal: Arc<dyn gridloop_engine::personal::PersonalStore>,
    mut config: Config,
) -> Result<Notifier<LogStore>> {
    let local = deployment.store().local();
    let outbox = Outbox::open(|name| local.tree(name)).context("opening the notifier's outbox")?;
    config.first_position = deployment.store().head_position().await? + 1;
    let channels: Vec<&str> = [config.mail.as_ref().map(|_| "e-mail"), config.webhook.as_ref().map(|_| "webhook")]
        .into_iter()
        .flatten()
        .collect();
    say!("residents are told on their page{}", channels.iter().map(|c| format!(", by {c}")).collect::<String>());
    Ok(Notifier::new(deployment.service().clone(), personal, outbox, config))
}
