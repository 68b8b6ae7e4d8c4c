//! `GET /console/stream[?from=POSITION]`: server-sent events, one per event
//! of the log the caller may see, as soon as it is durable.
//!
//! Each connection waits on the store for the log to grow, catches the live
//! projections up, and sends what changed, folded: a `ticket` event carries
//! the ticket's board row as the board now shows it (so the console need not
//! ask again), an `emergency` event the place whose mode switched. Every
//! message's `id` is its log position; a client that reconnects with
//! `?from=` one past the last id it saw misses nothing. Tickets outside a
//! dispatcher's place are skipped.
//!
//! A connection lasts at most [`STREAM_LIFETIME`], then ends and the console
//! reconnects from where it was. A stream ends as soon as its token is
//! revoked (it watches the token table's changes; reconnecting is then
//! 401), and every stream ends at once on Ctrl-C:
//! `gridloop serve` shuts down gracefully, waiting for open responses, and
//! an event stream would otherwise keep it waiting. A comment every
//! [`KEEP_ALIVE`] keeps proxies from closing a quiet connection.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::OnceLock;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream};
use gridloop_engine::Error;
use gridloop_engine::emergency::EmergencyEvent;
use gridloop_engine::envelope::RecordedEvent;
use gridloop_engine::grid::GridCode;
use gridloop_engine::ids::TicketId;
use gridloop_engine::store::EventStore;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::auth::Caller;
use crate::{AppError, AppState};

/// The longest one connection stays open before the client reconnects.
pub const STREAM_LIFETIME: Duration = Duration::from_secs(60);
/// How often a quiet connection gets a keep-alive comment.
pub const KEEP_ALIVE: Duration = Duration::from_secs(10);
/// Events read from the log per batch.
pub const STREAM_BATCH_MAX: usize = 256;

/// `?from=POSITION`
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct StreamParams {
    /// The log position to start after (a reconnecting client's last).
    from: Option<u64>,
}

/// What one connection carries between messages.
struct Cursor<S> {
    state: AppState<S>,
    /// The next log position to look at.
    next: u64,
    /// What a dispatcher serving a place may see; `None` is everything.
    scope: Option<GridCode>,
    until: Instant,
    pending: VecDeque<Event>,
    shutdown: watch::Receiver<bool>,
    /// The hash of the caller's token, and the token table's changes.
    token: blake3::Hash,
    token_changes: watch::Receiver<u64>,
}

/// Turns true when the process gets Ctrl-C (SIGINT). Every listener of
/// tokio's signal gets it, so `serve`'s own shutdown still runs; the task is
/// started by the first stream, on the runtime that serves it.
fn shutting_down() -> watch::Receiver<bool> {
    static SHUTDOWN: OnceLock<watch::Receiver<bool>> = OnceLock::new();
    SHUTDOWN
        .get_or_init(|| {
            let (tx, rx) = watch::channel(false);
            tokio::spawn(async move {
                if tokio::signal::ctrl_c().await.is_ok() {
                    let _ = tx.send(true);
                }
                // Without a signal handler the streams end by their lifetime only.
                tx.closed().await;
            });
            rx
        })
        .clone()
}

/// Resolves once Ctrl-C has come; never, if the signal task is gone (its
/// runtime ended: a test's, not a server's).
async fn signalled(shutdown: &mut watch::Receiver<bool>) {
    if shutdown.wait_for(|stop| *stop).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// `GET /console/stream`: dispatchers and auditors only.
#[utoipa::path(
    get,
    path = "/console/stream",
    operation_id = "console_stream",
    tag = "console",
    summary = "Server-sent events of the board: a ticket changed, an emergency mode switched (dispatchers and auditors)",
    params(StreamParams),
    responses((status = 200, description = "An event stream; each message names a ticket or a place to read again", body = String, content_type = "text/event-stream"), crate::openapi::Refusals),
    security(("bearer" = []))
)]
pub(crate) async fn events<S: EventStore>(
    State(state): State<AppState<S>>,
    Caller(who): Caller,
    headers: axum::http::HeaderMap,
    query: Result<Query<StreamParams>, QueryRejection>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, AppError> {
    use gridloop_engine::permit::{Access, Read, Target, permit};
    let token = blake3::hash(crate::auth::bearer_token(&headers).ok_or(AppError::Unauthorized)?.as_bytes());
    permit(&who, Access::Read(Read::Board), Target::District)?;
    let Query(params) = query.map_err(|e| Error::invalid("query", e.body_text()))?;
    state.live.catch_up(state.service.store()).await?;
    let head = state.live.checkpoint().await;
    // A position past the head (a client from before a restart on another
    // store) starts from the head; one long gone replays only what is new.
    let next = params.from.filter(|&f| f >= 1 && f <= head + 1).unwrap_or(head + 1);
    let hello =
        Event::default().event("hello").id((next - 1).to_string()).data(json!({ "position": next - 1 }).to_string());
    let token_changes = state.token_changes.subscribe();
    let cursor = Cursor {
        state,
        next,
        scope: who.place,
        until: Instant::now() + STREAM_LIFETIME,
        pending: VecDeque::from([hello]),
        shutdown: shutting_down(),
        token_changes,
        token,
    };
    let messages = stream::unfold(cursor, |mut cursor| async move {
        loop {
            if let Some(event) = cursor.pending.pop_front() {
                return Some((Ok(event), cursor));
            }
            if !cursor.advance().await {
                return None;
            }
        }
    });
    Ok(Sse::new(messages).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}

impl<S: EventStore> Cursor<S> {
    /// Waits for the log to grow and queues what the caller may see of it;
    /// false once the connection's life is over or the store failed (the
    /// client reconnects either way).
    async fn advance(&mut self) -> bool {
        let store = self.state.service.store().clone();
        tokio::select! {
            woken = store.wait_for(self.next) => {
                if let Err(error) = woken {
                    tracing::warn!(%error, "the console stream stopped waiting on the store");
                    return false;
                }
            }
            _ = tokio::time::sleep_until(self.until) => return false,
            _ = signalled(&mut self.shutdown) => return false,
            // A change of the table: go on only while this token is in it.
            _ = self.token_changes.changed() => return self.token_held(),
        }
        if !self.token_held() {
            return false;
        }
        if let Err(error) = self.state.live.catch_up(&store).await {
            tracing::warn!(%error, "the console stream could not catch the projections up");
            return false;
        }
        let batch = match store.scan(self.next).batch_max(STREAM_BATCH_MAX).next_batch().await {
            Ok(batch) => batch.unwrap_or_default(),
            Err(error) => {
                tracing::warn!(%error, "the console stream could not read the log");
                return false;
            }
        };
        let views = self.state.live.read().await;
        // Only what the projections have folded: a row must show the event.
        let folded = views.checkpoint();
        let now = self.state.service.clock().now();
        let world = self.state.service.world();
        for event in batch.iter().filter(|e| e.position <= folded) {
            self.next = event.position + 1;
            if let Some(message) = self.message(event, |id| {
                let ticket = views.board.state().get(id).ok()??;
                super::api::board_row(&world, &ticket, now)
            }) {
                self.pending.push_back(message);
            }
        }
        true
    }

    /// Whether the caller's token is still in the table.
    fn token_held(&self) -> bool {
        self.state.tokens.read().is_ok_and(|table| table.holds(&self.token))
    }

    /// The message for one event of the log, if the caller may see it.
    fn message(
        &self,
        event: &RecordedEvent,
        row_of: impl Fn(&TicketId) -> Option<super::api::BoardRow>,
    ) -> Option<Event> {
        let within = |grid: &GridCode| self.scope.as_ref().is_none_or(|s| grid.is_within(s) || s.is_within(grid));
        let position = event.position;
        let data = match event.stream.kind() {
            "ticket" => {
                let row = row_of(&TicketId::new(event.stream.id()).ok()?)?;
                if !self.scope.as_ref().is_none_or(|s| row.grid.is_within(s)) {
                    return None;
                }
                json!({ "position": position, "schema": event.schema.to_string(), "row": row })
            }
            "emergency" => {
                let place = GridCode::parse(event.stream.id()).ok()?;
                if !within(&place) {
                    return None;
                }
                let active = matches!(event.decode::<EmergencyEvent>(), Ok(EmergencyEvent::Declared { .. }));
                json!({ "position": position, "place": place, "active": active })
            }
            _ => return None,
        };
        let kind = event.stream.kind().to_string();
        Some(Event::default().event(kind).id(position.to_string()).data(data.to_string()))
    }
}
