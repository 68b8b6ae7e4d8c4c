//! Where a subcommand's output goes: this process's stdout and stderr, or,
//! when `serve` runs the subcommand for a client of its control socket
//! ([`crate::control`]), that client's.
//!
//! Every line a subcommand prints goes through [`say!`], [`say_raw!`] or
//! [`say_err!`]. They look up a task-local [`Sink`]: set (by
//! [`for_client`]) inside `serve` while it answers a control request, unset
//! everywhere else, so the same subcommand code prints to whichever
//! terminal asked for it. Progress bars are hidden for a client
//! ([`progress_bar`]).

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::mpsc;

/// Prints a line to stdout (the client's, when serving one). A closed pipe
/// (`gridloop duty | head`) ends the program quietly instead of panicking.
macro_rules! say {
    () => { $crate::output::out(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::output::out(format_args!("{}\n", format_args!($($arg)*))) };
}

/// Prints to stdout without a newline; see [`say!`].
macro_rules! say_raw {
    ($($arg:tt)*) => { $crate::output::out(format_args!($($arg)*)) };
}

/// Prints a line to stderr (the client's, when serving one).
macro_rules! say_err {
    ($($arg:tt)*) => { $crate::output::err(format_args!("{}\n", format_args!($($arg)*))) };
}

/// The most bytes of output in one frame to a control client.
pub const CHUNK_BYTES_MAX: usize = 64 * 1024;
/// Frames queued for a control client before the subcommand waits for it to
/// read: with [`CHUNK_BYTES_MAX`], at most 1 MiB of output is held per
/// client, however large an export is.
pub const FRAMES_QUEUED_MAX: usize = 16;

/// Which of the client's streams a chunk of output belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    Stdout,
    Stderr,
}

/// What a control connection sends back: output, then the exit status.
#[derive(Debug)]
pub enum Frame {
    Output(Channel, Vec<u8>),
    Exit(u8),
}

/// The output of one subcommand run for a control client: a bounded queue
/// of frames that the connection's writer sends on.
#[derive(Clone, Debug)]
pub struct Sink {
    frames: mpsc::Sender<Frame>,
    /// Set once the client has gone: later output is dropped, and writers
    /// (an export) get `BrokenPipe` and stop.
    gone: Arc<AtomicBool>,
}

tokio::task_local! {
    static SINK: Sink;
}

impl Sink {
    /// A sink and the receiving end its frames come out of.
    pub fn new() -> (Self, mpsc::Receiver<Frame>) {
        let (frames, receiver) = mpsc::channel(FRAMES_QUEUED_MAX);
        (Self { frames, gone: Arc::new(AtomicBool::new(false)) }, receiver)
    }

    /// Queues `bytes` in chunks of at most [`CHUNK_BYTES_MAX`]. When the
    /// queue is full it waits for the client (`block_in_place`: the
    /// runtime's other tasks move to other threads meanwhile).
    pub fn write(&self, channel: Channel, bytes: &[u8]) -> std::io::Result<()> {
        for chunk in bytes.chunks(CHUNK_BYTES_MAX) {
            self.send(Frame::Output(channel, chunk.to_vec()))?;
        }
        Ok(())
    }

    /// Sends the exit status, the last frame (and so drops this sender).
    pub async fn finish(self, code: u8) -> Result<(), ()> {
        self.frames.send(Frame::Exit(code)).await.map_err(|_| ())
    }

    /// Queues a frame, waiting for room if need be.
    pub fn send(&self, frame: Frame) -> std::io::Result<()> {
        let closed = || std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the control client has gone");
        if self.gone.load(Ordering::Relaxed) {
            return Err(closed());
        }
        let sent = match self.frames.try_send(frame) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(frame)) => {
                tokio::task::block_in_place(|| self.frames.blocking_send(frame)).map_err(|_| ())
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Err(()),
        };
        sent.map_err(|()| {
            self.gone.store(true, Ordering::Relaxed);
            closed()
        })
    }
}

/// A [`Write`] onto the client's stdout, for output written in bulk (an
/// export); wrap it in a `BufWriter` of [`CHUNK_BYTES_MAX`].
#[derive(Debug)]
pub struct SinkWriter(Sink);

impl Write for SinkWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(Channel::Stdout, buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs `work` with its output going to `sink`.
pub async fn for_client<F: Future>(sink: Sink, work: F) -> F::Output {
    SINK.scope(sink, work).await
}

/// The sink of the control client this task answers, if any.
pub fn client() -> Option<Sink> {
    SINK.try_with(Sink::clone).ok()
}

/// Where an export's lines go: stdout, or the client's stdout.
pub fn stdout_writer() -> Box<dyn Write + Send> {
    match client() {
        Some(sink) => Box::new(std::io::BufWriter::with_capacity(CHUNK_BYTES_MAX, SinkWriter(sink))),
        None => Box::new(std::io::BufWriter::with_capacity(1 << 16, std::io::stdout())),
    }
}

pub fn out(args: std::fmt::Arguments<'_>) {
    if let Some(sink) = client() {
        // A client that has gone no longer reads: its output is dropped.
        let _ = sink.write(Channel::Stdout, args.to_string().as_bytes());
        return;
    }
    if let Err(error) = std::io::stdout().lock().write_fmt(args) {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("gridloop: writing to stdout failed: {error}");
        std::process::exit(1);
    }
}

pub fn err(args: std::fmt::Arguments<'_>) {
    match client() {
        Some(sink) => {
            let _ = sink.write(Channel::Stderr, args.to_string().as_bytes());
        }
        None => eprint!("{args}"),
    }
}

/// A progress bar on stderr; hidden when the output goes to a control client.
pub fn progress_bar(total: u64, what: &'static str) -> ProgressBar {
    if client().is_some() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    let style = ProgressStyle::with_template("{bar:40} {pos}/{len} {msg} ({elapsed})")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_message(what);
    bar
}
