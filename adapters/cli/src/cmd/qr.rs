//! `gridloop qr`: the printable sheet of a community's QR codes.

use anyhow::{Context as _, Result, bail};
use clap::Args;
use gridloop_engine::grid::GridCode;

use super::{DataDir, Host};

/// Print the A4 sheet of a community's QR codes (one per grid, with the
/// grid's name and code) as HTML: each code opens the grid's order page,
/// BASE-URL/r/g/GRID. The same sheet is served at /r/sheet/COMMUNITY.
#[derive(Debug, Args)]
pub struct QrArgs {
    /// The community's grid code, e.g. 440802-001-001.
    #[arg(long, value_name = "CODE")]
    community: String,
    /// The deployment's public URL, which the codes point at.
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:8080")]
    base_url: String,
    /// Write the sheet to FILE instead of stdout (an absolute path while
    /// `serve` runs: the server writes it).
    #[arg(long, value_name = "FILE")]
    out: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub data: DataDir,
}

pub async fn run(args: QrArgs, host: &Host<'_>) -> Result<()> {
    let community =
        GridCode::parse(&args.community).with_context(|| format!("{:?} is not a grid code", args.community))?;
    let base = args.base_url.trim_end_matches('/');
    if base.chars().count() > gridloop_http::door::pages::BASE_URL_CHARS_MAX
        || !(base.starts_with("http://") || base.starts_with("https://"))
    {
        bail!("--base-url must be an http:// or https:// URL of at most 200 characters");
    }
    let deployment = host.open(&args.data).await?;
    let html = gridloop_http::door::pages::sheet_html(&deployment.world(), &community, base)?;
    match args.out {
        Some(path) if matches!(host, Host::Serve(_)) && !path.is_absolute() => {
            bail!("{}: give an absolute path while serve runs (the server writes the file)", path.display())
        }
        Some(path) => {
            std::fs::write(&path, html).with_context(|| format!("writing {}", path.display()))?;
            say!("the QR sheet of {community} is in {}", path.display());
        }
        None => say_raw!("{html}"),
    }
    Ok(())
}
