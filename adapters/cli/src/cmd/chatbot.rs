//! `gridloop chatbot`: the volunteers' chat bot on Matrix as a process of
//! its own; and the --matrix-* flags `serve` shares.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, Result, bail};
use clap::Args;
use gridloop_chatbot::matrix::Config;

use super::DataDir;
use crate::deployment::{Deployment, Setup};

/// Run the volunteers' chat bot on Matrix as a process of its own,
/// beside `serve` processes on one NATS log (--store nats://…), with a
/// data directory of its own (it keeps DATA/matrix.json there). On the
/// embedded store, run it inside `serve` instead (serve --matrix-…).
#[derive(Debug, Args)]
pub struct ChatbotArgs {
    #[command(flatten)]
    matrix: MatrixArgs,
    #[command(flatten)]
    pub data: DataDir,
}

/// The volunteers' chat bot on Matrix, run inside `serve` when
/// --matrix-homeserver is given.
#[derive(Debug, Args)]
pub struct MatrixArgs {
    /// The Matrix homeserver of the volunteers' chat bot,
    /// https://HOST[:PORT] (or http:// beside it). Without it no bot
    /// runs. The bot keeps its sync token, log position and direct rooms in
    /// DATA/matrix.json. Encrypted rooms are not supported.
    #[arg(long = "matrix-homeserver", value_name = "URL", requires_all = ["matrix_user", "matrix_token_file"])]
    matrix_homeserver: Option<String>,
    /// The bot's Matrix user id, e.g. @gridloop:example.org.
    #[arg(long = "matrix-user", value_name = "USER_ID", requires = "matrix_homeserver")]
    matrix_user: Option<String>,
    /// A file holding the bot's access token (keep it readable by gridloop
    /// only).
    #[arg(long = "matrix-token-file", value_name = "FILE", requires = "matrix_homeserver")]
    matrix_token_file: Option<PathBuf>,
}

impl MatrixArgs {
    /// The chat bot's configuration, if the flags were given.
    pub fn config(&self, data: &Path) -> Result<Option<Config>> {
        // Bounded: an access token is a few hundred bytes.
        const TOKEN_FILE_BYTES_MAX: u64 = 4096;
        let (Some(url), Some(user), Some(token_file)) =
            (&self.matrix_homeserver, &self.matrix_user, &self.matrix_token_file)
        else {
            return Ok(None);
        };
        let server = gridloop_chatbot::client::Homeserver::parse(url).context("--matrix-homeserver")?;
        let size =
            std::fs::metadata(token_file).with_context(|| format!("--matrix-token-file {}", token_file.display()))?;
        if size.len() > TOKEN_FILE_BYTES_MAX {
            bail!("--matrix-token-file {} is larger than {TOKEN_FILE_BYTES_MAX} bytes", token_file.display());
        }
        let token = std::fs::read_to_string(token_file).with_context(|| format!("reading {}", token_file.display()))?;
        let client =
            gridloop_chatbot::client::Client::new(server, user, &token).context("--matrix-user or the token")?;
        Ok(Some(Config::new(client, data.join("matrix.json"))))
    }
}

/// The chat bot alone on the log in --store, until Ctrl-C.
pub async fn run(args: ChatbotArgs) -> Result<()> {
    let Some(config) = args.matrix.config(&args.data.dir)? else {
        bail!("gridloop chatbot needs --matrix-homeserver, --matrix-user and --matrix-token-file");
    };
    // The catalog and grid names of the offers it words: the deployment's world.
    let deployment = Deployment::create(&args.data, Setup::default()).await?;
    say!("chat bot {} on {}", config.client.user_id(), config.client.server());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    // The bot keeps volunteers' photos where the deployment keeps every photo.
    let bot = Arc::new(gridloop_chatbot::Bot::new(deployment.service().clone()).with_blobs(deployment.blobs().clone()));
    let mut bot = tokio::spawn(gridloop_chatbot::matrix::run(bot, config, stopped));
    tokio::select! {
        ended = &mut bot => return ended.context("the chat bot task")?.map_err(Into::into),
        signal = tokio::signal::ctrl_c() => signal.context("waiting for Ctrl-C")?,
    }
    let _ = stop.send(true);
    bot.await.context("the chat bot task")??;
    say!("stopped");
    Ok(())
}
