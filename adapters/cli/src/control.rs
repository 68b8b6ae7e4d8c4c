//! The control socket: other gridloop commands while `serve` runs on the
//! embedded store.
//!
//! sled locks its data directory, so while `serve` runs no other process
//! can open the log. Instead `serve` listens on `DATA/control.sock` (a Unix
//! socket, mode 0600, and a peer of another user id is turned away). A
//! command whose data directory has a live socket sends its arguments over
//! it; `serve` parses them again, runs the same subcommand code on the
//! deployment it has open, and sends back the subcommand's stdout and
//! stderr and its exit status, so the output is what it would be offline.
//! A socket nobody answers (a server that was killed) is stale: the command
//! then opens the store itself (and meets the lock if a server does hold it).
//!
//! Frames, both ways: a 4-byte big-endian length of what follows, a kind
//! byte, the payload. The client sends one `R` frame (JSON: the protocol
//! number and the arguments, at most [`REQUEST_BYTES_MAX`]); the server
//! sends `O` (stdout) and `E` (stderr) frames of at most 64 KiB and one `X`
//! frame (the exit status, one byte). The client refuses frames over
//! [`FRAME_BYTES_MAX`]; the server answers a malformed request with an `E`
//! frame and exit status 2.

use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::UnixStream;
use tokio::sync::{Semaphore, mpsc, watch};

use crate::cmd::{DataDir, Serving};
use crate::output::{self, Channel, Frame, Sink};

/// The socket's file in the data directory.
pub const SOCKET_FILE: &str = "control.sock";
/// The most bytes of a request (the arguments, as JSON).
pub const REQUEST_BYTES_MAX: usize = 64 * 1024;
/// The largest frame a client accepts (the server sends at most 64 KiB).
pub const FRAME_BYTES_MAX: usize = 1024 * 1024;
/// What the request frame's JSON says its format is.
const PROTOCOL: u32 = 1;
/// How long the server waits for a request once a client has connected.
const REQUEST_WAIT: Duration = Duration::from_secs(10);
/// Control requests served at once; more are answered "busy".
const CLIENTS_MAX: usize = 8;

const REQUEST: u8 = b'R';
const STDOUT: u8 = b'O';
const STDERR: u8 = b'E';
const EXIT: u8 = b'X';

#[derive(Debug, Serialize, Deserialize)]
struct Request {
    protocol: u32,
    argv: Vec<String>,
}

// --- The client --------------------------------------------------------

/// Runs this command through the `serve` on `data`, if one answers on its
/// control socket: its exit status. `None`: no server answers (no socket,
/// or a stale one), so the command runs here.
///
/// `relative` is a path argument the server must read (a world bundle): the
/// server's working directory is not ours, so it is sent made absolute.
pub fn forward(data: &DataDir, relative: Option<&std::path::PathBuf>) -> Option<ExitCode> {
    if !data.on_sled() {
        return None;
    }
    let stream = std::os::unix::net::UnixStream::connect(data.dir.join(SOCKET_FILE)).ok()?;
    Some(match converse(stream, relative) {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            eprintln!("gridloop: through the running server's control socket: {error:#}");
            ExitCode::FAILURE
        }
    })
}

/// Sends this process's arguments, copies the answer to stdout and stderr,
/// and returns the exit status.
fn converse(mut stream: std::os::unix::net::UnixStream, relative: Option<&std::path::PathBuf>) -> Result<u8> {
    let mut argv = std::env::args_os()
        .map(|a| a.into_string().map_err(|a| anyhow!("the argument {a:?} is not UTF-8")))
        .collect::<Result<Vec<_>>>()?;
    if let Some(path) = relative.filter(|p| p.is_relative()) {
        let absolute = std::path::absolute(path).context("making the bundle's path absolute")?;
        let absolute = absolute.to_str().context("the bundle's path is not UTF-8")?.to_string();
        // The last argument equal to the path as typed is the path.
        if let Some(arg) = argv.iter_mut().rev().find(|a| std::path::Path::new(a.as_str()) == path.as_path()) {
            *arg = absolute;
        }
    }
    let request = serde_json::to_vec(&Request { protocol: PROTOCOL, argv })?;
    if request.len() > REQUEST_BYTES_MAX {
        bail!("the arguments take {} bytes; the control socket takes at most {REQUEST_BYTES_MAX}", request.len());
    }
    stream.write_all(&frame(REQUEST, &request)).context("sending the request")?;
    let mut reader = std::io::BufReader::new(stream);
    let (mut stdout, mut stderr) = (std::io::stdout(), std::io::stderr());
    loop {
        let (kind, payload) = read_frame(&mut reader)?
            .context("the server closed the connection before the command ended (was it stopped?)")?;
        match kind {
            STDOUT => {
                if let Err(error) = stdout.write_all(&payload).and_then(|()| stdout.flush()) {
                    // The reader stopped early (`gridloop export | head`).
                    if error.kind() == std::io::ErrorKind::BrokenPipe {
                        return Ok(0);
                    }
                    return Err(error).context("writing to stdout");
                }
            }
            STDERR => {
                let _ = stderr.write_all(&payload);
            }
            EXIT => return payload.first().copied().context("an exit frame without a status"),
            other => bail!("the server sent a frame of unknown kind {other}"),
        }
    }
}

/// One frame, or `None` at the end of the stream before it.
fn read_frame(reader: &mut impl Read) -> Result<Option<(u8, Vec<u8>)>> {
    let mut length = [0u8; 4];
    match reader.read_exact(&mut length) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e).context("reading the answer"),
    }
    let length = u32::from_be_bytes(length) as usize;
    if length == 0 || length > FRAME_BYTES_MAX {
        bail!("the server sent a frame of {length} bytes (1 to {FRAME_BYTES_MAX} expected)");
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).context("reading the answer")?;
    let payload = body.split_off(1);
    Ok(Some((body[0], payload)))
}

/// A frame's bytes.
fn frame(kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(5 + payload.len());
    bytes.extend_from_slice(&(payload.len() as u32 + 1).to_be_bytes());
    bytes.push(kind);
    bytes.extend_from_slice(payload);
    bytes
}

// --- The server --------------------------------------------------------

/// `serve`'s end of the socket. Dropping it removes the socket file.
#[derive(Debug)]
pub struct Listener {
    listener: tokio::net::UnixListener,
    path: PathBuf,
    /// The user id that owns the socket (this process's): the only peer let in.
    owner: u32,
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Listener {
    /// Listens on `DIR/control.sock`, mode 0600. A socket file already
    /// there is stale (this process holds the data directory's lock) and is
    /// removed. Without a socket (a path too long for one, say) the server
    /// still runs, and says so.
    pub fn bind(dir: &Path) -> Option<Self> {
        let path = dir.join(SOCKET_FILE);
        let bound = (|| -> Result<Self> {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).context("removing the stale socket"),
            }
            let listener = tokio::net::UnixListener::bind(&path)?;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
            let owner = std::fs::metadata(&path)?.uid();
            Ok(Self { listener, path: path.clone(), owner })
        })();
        match bound {
            Ok(listener) => Some(listener),
            Err(error) => {
                eprintln!(
                    "gridloop: no control socket at {} ({error:#}): other gridloop commands on this data directory \
                     need the server stopped",
                    path.display()
                );
                None
            }
        }
    }

    /// Answers control clients until `stopped`, each in a task of its own.
    pub async fn serve(self, serving: Arc<Serving>, mut stopped: watch::Receiver<bool>) {
        let permits = Arc::new(Semaphore::new(CLIENTS_MAX));
        while !*stopped.borrow() {
            tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        if stream.peer_cred().map(|c| c.uid()).ok() != Some(self.owner) {
                            tracing::warn!("a control client of another user was turned away");
                            continue;
                        }
                        let permit = permits.clone().try_acquire_owned().ok();
                        tokio::spawn(answer(stream, serving.clone(), permit));
                    }
                    Err(error) => {
                        tracing::warn!(%error, "accepting a control client");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
                _ = stopped.changed() => {}
            }
        }
    }
}

/// One client: its request, the subcommand's output, its exit status.
async fn answer(stream: UnixStream, serving: Arc<Serving>, permit: Option<tokio::sync::OwnedSemaphorePermit>) {
    let (mut reader, writer) = stream.into_split();
    let (sink, frames) = Sink::new();
    let writing = tokio::spawn(write_frames(writer, frames));
    let say = |text: String| {
        let _ = sink.write(Channel::Stderr, text.as_bytes());
    };
    let code = match permit {
        None => {
            say("gridloop: the running server is busy with other control requests; try again\n".into());
            1
        }
        Some(_permit) => match tokio::time::timeout(REQUEST_WAIT, read_request(&mut reader)).await {
            Ok(Ok(argv)) => run_request(argv, serving, sink.clone()).await,
            Ok(Err(error)) => {
                say(format!("gridloop: a malformed control request: {error:#}\n"));
                2
            }
            Err(_) => {
                say(format!("gridloop: no control request within {}s\n", REQUEST_WAIT.as_secs()));
                2
            }
        },
    };
    let _ = sink.finish(code).await;
    let _ = writing.await;
}

/// The request frame's arguments; any malformed frame is an error.
async fn read_request(reader: &mut (impl tokio::io::AsyncRead + Unpin)) -> Result<Vec<String>> {
    let length = reader.read_u32().await.context("reading the frame's length")? as usize;
    if length == 0 || length > REQUEST_BYTES_MAX + 1 {
        bail!("a frame of {length} bytes (1 to {} expected)", REQUEST_BYTES_MAX + 1);
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).await.context("reading the frame")?;
    if body[0] != REQUEST {
        bail!("a frame of kind {} where a request was expected", body[0]);
    }
    let request: Request = serde_json::from_slice(&body[1..]).context("the request is not the expected JSON")?;
    if request.protocol != PROTOCOL {
        bail!("protocol {} (this server speaks {PROTOCOL}: run the same gridloop binary)", request.protocol);
    }
    Ok(request.argv)
}

/// Parses the arguments and runs the subcommand with its output going to
/// the client; its exit status.
async fn run_request(argv: Vec<String>, serving: Arc<Serving>, sink: Sink) -> u8 {
    let say = |text: String| {
        let _ = sink.write(Channel::Stderr, text.as_bytes());
    };
    let cli = match <crate::Cli as clap::Parser>::try_parse_from(&argv) {
        Ok(cli) => cli,
        Err(error) => {
            let (text, code) = crate::usage_error(&error);
            say(text);
            return code;
        }
    };
    let work = output::for_client(sink.clone(), async move { crate::dispatch_served(cli.command, &serving).await });
    match tokio::spawn(work).await {
        Ok(Ok(())) => 0,
        Ok(Err(error)) => {
            say(format!("gridloop: {error:#}\n"));
            1
        }
        Err(stopped) => {
            say(format!("gridloop: the command stopped inside the server: {stopped}\n"));
            1
        }
    }
}

/// Sends the frames as they come, until the last sender has gone.
async fn write_frames(mut writer: tokio::net::unix::OwnedWriteHalf, mut frames: mpsc::Receiver<Frame>) {
    while let Some(next) = frames.recv().await {
        let bytes = match next {
            Frame::Output(Channel::Stdout, bytes) => frame(STDOUT, &bytes),
            Frame::Output(Channel::Stderr, bytes) => frame(STDERR, &bytes),
            Frame::Exit(code) => frame(EXIT, &[code]),
        };
        if writer.write_all(&bytes).await.is_err() {
            // The client has gone: the receiver closes, later output is dropped.
            return;
        }
    }
    let _ = writer.shutdown().await;
}
