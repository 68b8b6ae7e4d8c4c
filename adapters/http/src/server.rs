//! Serving the router on a TCP listener: the one serve loop of every
//! gridloop server (`gridloop serve`, the bench, the tests that open a port).
//!
//! `axum::serve` gives no way to bound how long a client may take to send
//! its request head, so a client sending its headers a byte at a time held a
//! connection (and its task) for as long as it liked. [`serve`] runs each
//! connection on hyper's HTTP/1 connection builder with a timer and a
//! [`Options::header_read_timeout`]: a request head not complete in time
//! closes the connection. The same bound applies to a kept-alive
//! connection waiting for its next request, so an idle connection is closed
//! after it too. A body is bounded by the request timeout
//! ([`REQUEST_TIMEOUT`](crate::REQUEST_TIMEOUT)), since handlers read it.
//!
//! Each request carries the peer's address as axum's [`ConnectInfo`], which
//! the per-client limits of public routes read ([`crate::limits`]).
//!
//! Shutdown is graceful, as `axum::serve`'s: once `shutdown` resolves no
//! connection is accepted, each open one finishes the request it is
//! answering and closes, and [`serve`] returns when all have.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt as _;

/// The longest a client may take to send a request's head (its request
/// line and headers), and the longest a kept-alive connection may wait
/// for its next request.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(15);

/// How a server treats its connections.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// See [`HEADER_READ_TIMEOUT`], the default.
    pub header_read_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self { header_read_timeout: HEADER_READ_TIMEOUT }
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then waits for the
/// open connections to finish (see the module doc). Fails only when the
/// listener fails for good; a failed connection is the client's and only
/// ends that connection.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    options: Options,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    // Each connection holds a clone of `stop_tx` and starts its graceful
    // shutdown when every receiver is gone; it holds `done_rx` until it ends.
    let (stop_tx, stop_rx) = watch::channel(());
    let (done_tx, done_rx) = watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    accept_failed(error).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(connection(stream, peer, app.clone(), options, stop_tx.clone(), done_rx.clone()));
    }
    drop(listener);
    drop(stop_rx);
    drop(done_rx);
    done_tx.closed().await;
    Ok(())
}

/// One connection, until the client closes it, its head times out, or the
/// server stops (then after the request in progress).
async fn connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    app: Router,
    options: Options,
    stop: watch::Sender<()>,
    done: watch::Receiver<()>,
) {
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        app.clone().oneshot(request)
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(options.header_read_timeout);
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    let mut connection = std::pin::pin!(connection);
    tokio::select! {
        ended = connection.as_mut() => {
            if let Err(error) = ended {
                tracing::debug!(%peer, %error, "connection ended");
            }
        }
        () = stop.closed() => {
            connection.as_mut().graceful_shutdown();
            let _ = connection.as_mut().await;
        }
    }
    drop(done);
}

/// Waits after a failed `accept`: running out of file descriptors is
/// transient and retrying at once would spin; a connection reset before it
/// was accepted is the client's and needs no wait.
async fn accept_failed(error: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(error.kind(), ConnectionAborted | ConnectionRefused | ConnectionReset) {
        return;
    }
    tracing::warn!(%error, "accepting a connection failed; trying again in a second");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
