//! `GET /metrics`: the service's figures in the Prometheus text format.
//!
//! Requests are counted and timed by a middleware around every route
//! (by status class, with a latency histogram); the rest is read when
//! scraped: events in the log (appends), how far the read projections lag
//! the log, and open tickets by board status. Like `/healthz` it needs no
//! token: it says how the service runs, nothing about anyone's ticket.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use gridloop_engine::store::EventStore;

use crate::{AppError, AppState};

/// The most unapplied events one scrape counts.
pub const LAG_COUNTED_MAX: usize = 10_000;

/// Upper bounds of the latency histogram's buckets, in milliseconds.
pub const LATENCY_BUCKETS_MS: [u64; 8] = [1, 5, 10, 25, 50, 100, 500, 1_000];

/// Request counters, shared by every handler.
#[derive(Debug, Default)]
pub struct Telemetry {
    /// Requests answered, by status class: 2xx, 3xx, 4xx, 5xx.
    by_class: [AtomicU64; 4],
    /// Cumulative counts per latency bucket, then +Inf.
    buckets: [AtomicU64; LATENCY_BUCKETS_MS.len() + 1],
    latency_sum_us: AtomicU64,
    /// Handlers that panicked (each also answered, and counted, as a 500).
    panics: AtomicU64,
}

impl Telemetry {
    fn record(&self, status: u16, micros: u64) {
        let class = usize::from(status / 100).clamp(2, 5) - 2;
        self.by_class[class].fetch_add(1, Ordering::Relaxed);
        let millis = micros / 1_000;
        let bucket = LATENCY_BUCKETS_MS.iter().position(|&b| millis <= b).unwrap_or(LATENCY_BUCKETS_MS.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.latency_sum_us.fetch_add(micros, Ordering::Relaxed);
    }

    /// Counts a handler's panic (the layer that catches it calls this).
    pub(crate) fn panicked(&self) {
        self.panics.fetch_add(1, Ordering::Relaxed);
    }
}

/// Counts and times every request.
pub async fn measure<S: EventStore>(State(state): State<AppState<S>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let response = next.run(request).await;
    let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    state.telemetry.record(response.status().as_u16(), micros);
    response
}

/// `GET /healthz`: the process answers.
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "healthz",
    tag = "meta",
    summary = "Liveness: the process answers",
    responses((status = 200, description = "`ok`", body = String, content_type = "text/plain"))
)]
pub async fn healthz() -> &'static str {
    "ok"
}

/// The scrape.
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "scrape",
    tag = "meta",
    summary = "Prometheus metrics: requests by status, latency, projection lag",
    responses(
        (status = 200, description = "The Prometheus text format", body = String, content_type = "text/plain"),
        (status = 503, description = "The store is unavailable", body = crate::openapi::ErrorBody)
    )
)]
pub async fn metrics<S: EventStore>(State(state): State<AppState<S>>) -> Result<String, AppError> {
    let applied = state.live.checkpoint().await;
    // Counting what is not applied yet reads at most one batch: a lag past
    // that is reported as the batch size, which is alarm enough.
    let mut scan = state.service.store().scan(applied + 1).batch_max(LAG_COUNTED_MAX);
    let behind = scan.next_batch().await?.map_or(0, |batch| batch.len());
    let views = state.live.read().await;
    let mut out = String::new();
    let t = &state.telemetry;
    let _ = writeln!(out, "# HELP gridloop_http_requests_total Requests answered, by status class.");
    let _ = writeln!(out, "# TYPE gridloop_http_requests_total counter");
    for (i, class) in ["2xx", "3xx", "4xx", "5xx"].iter().enumerate() {
        let n = t.by_class[i].load(Ordering::Relaxed);
        let _ = writeln!(out, "gridloop_http_requests_total{{class=\"{class}\"}} {n}");
    }
    let _ = writeln!(out, "# HELP gridloop_http_panics_total Handlers that panicked (answered as a JSON 500).");
    let _ = writeln!(out, "# TYPE gridloop_http_panics_total counter");
    let _ = writeln!(out, "gridloop_http_panics_total {}", t.panics.load(Ordering::Relaxed));
    let _ = writeln!(out, "# HELP gridloop_http_request_duration_seconds Time to answer a request.");
    let _ = writeln!(out, "# TYPE gridloop_http_request_duration_seconds histogram");
    let mut cumulative = 0;
    for (i, bound) in
        LATENCY_BUCKETS_MS.iter().map(|b| format!("{}", *b as f64 / 1000.0)).chain(["+Inf".into()]).enumerate()
    {
        cumulative += t.buckets[i].load(Ordering::Relaxed);
        let _ = writeln!(out, "gridloop_http_request_duration_seconds_bucket{{le=\"{bound}\"}} {cumulative}");
    }
    let sum = t.latency_sum_us.load(Ordering::Relaxed) as f64 / 1e6;
    let _ = writeln!(out, "gridloop_http_request_duration_seconds_sum {sum}");
    let _ = writeln!(out, "gridloop_http_request_duration_seconds_count {cumulative}");
    let _ = writeln!(out, "# HELP gridloop_projection_position The last log position the read projections applied.");
    let _ = writeln!(out, "# TYPE gridloop_projection_position gauge");
    let _ = writeln!(out, "gridloop_projection_position {applied}");
    let _ = writeln!(
        out,
        "# HELP gridloop_projection_lag_events Events appended that the read projections have not applied yet."
    );
    let _ = writeln!(out, "# TYPE gridloop_projection_lag_events gauge");
    let _ = writeln!(out, "gridloop_projection_lag_events {behind}");
    let _ = writeln!(out, "# HELP gridloop_tickets Tickets on the board, by status.");
    let _ = writeln!(out, "# TYPE gridloop_tickets gauge");
    for (status, n) in views.board.state().counts_by_status() {
        let _ = writeln!(out, "gridloop_tickets{{status=\"{status}\"}} {n}");
    }
    let overdue_open = views.board.state().open_overdue(state.service.clock().now());
    let _ = writeln!(
        out,
        "# HELP gridloop_tickets_overdue Open tickets that missed a deadline (accept, resolve, a tier's response, a summons report)."
    );
    let _ = writeln!(out, "# TYPE gridloop_tickets_overdue gauge");
    let _ = writeln!(out, "gridloop_tickets_overdue {overdue_open}");
    if let Some(courier) = &state.courier {
        notify_metrics(&mut out, &courier.channels());
    }
    Ok(out)
}

/// The notifier's channels: what waits, what went, what was given up.
fn notify_metrics(out: &mut String, channels: &[crate::courier::ChannelStatus]) {
    type Field = fn(&crate::courier::ChannelStatus) -> u64;
    let families: [(&str, &str, &str, Field); 4] = [
        ("pending", "gauge", "Notices waiting to go, by channel.", |c| c.pending),
        ("sent_total", "counter", "Notices a channel took.", |c| c.sent_total),
        ("failed_total", "counter", "Notices given up (refused, or out of attempts).", |c| c.failed_total),
        ("retried_total", "counter", "Attempts that failed and will be tried again.", |c| c.retried_total),
    ];
    for (name, kind, help, field) in families.iter().filter(|_| !channels.is_empty()) {
        let _ = writeln!(out, "# HELP gridloop_notify_{name} {help}");
        let _ = writeln!(out, "# TYPE gridloop_notify_{name} {kind}");
        for channel in channels {
            let _ = writeln!(out, "gridloop_notify_{name}{{channel=\"{}\"}} {}", channel.channel, field(channel));
        }
    }
}
