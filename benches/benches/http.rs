//! The HTTP API under concurrent clients on loopback, on the durable sled
//! store: requests/s and p50/p99 latency for `POST /api/v1/tickets`, and the
//! accept race (64 volunteers answering one offer, again and again), with
//! proof of exactly one winner per race.
//!
//! `cargo bench -p gridloop-benches --bench http` (prints a table; figures
//! go to BENCHMARKS.md). The clients speak HTTP/1.1 over plain TCP
//! connections, one per request, as the simplest honest client.

use std::sync::Arc;
use std::time::{Duration, Instant};

use gridloop_engine::envelope::Role;
use gridloop_engine::service::CommandService;
use gridloop_http::{AppState, SystemClock, TokenTable, router};
use gridloop_store_sled::SledStore;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CLIENTS: usize = 64;
const ORDERS_PER_CLIENT: usize = 40;
const RACES: usize = 40;

async fn request(addr: std::net::SocketAddr, method: &str, path: &str, token: &str, body: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connects");
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.expect("writes");
    stream.write_all(body.as_bytes()).await.expect("writes");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.expect("reads");
    let status = answer.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = answer.split_once("\r\n\r\n").map_or(String::new(), |(_, b)| b.to_string());
    (status, body)
}

fn percentile(sorted: &[Duration], q: usize) -> Duration {
    sorted[(sorted.len() * q).div_ceil(100).max(1) - 1]
}

fn report(what: &str, mut latencies: Vec<Duration>, wall: Duration) {
    latencies.sort();
    println!(
        "{what:<34} {:>7} requests {:>9.0} req/s   p50 {:>7.2} ms   p99 {:>7.2} ms",
        latencies.len(),
        latencies.len() as f64 / wall.as_secs_f64(),
        percentile(&latencies, 50).as_secs_f64() * 1e3,
        percentile(&latencies, 99).as_secs_f64() * 1e3
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SledStore::open(dir.path()).expect("store");
    let district = gridloop_fixtures::chikan(1).expect("fixture");
    let grid = district.world.grids.at_level(gridloop_engine::grid::Level::Grid).next().expect("a grid").code.clone();
    let service = Arc::new(CommandService::new(store, district.world.clone(), Arc::new(SystemClock), 1));
    // The engine offers only to volunteers who exist: register the racers.
    for v in district.volunteers.iter().take(CLIENTS) {
        let command_id = gridloop_engine::ids::CommandId::new(format!("register-{}", v.id)).expect("an id");
        service.execute(v.registration(command_id)).await.expect("registered");
    }
    let mut table = TokenTable::new();
    let mut issue = |role, subject: String| {
        let (token, entry) = TokenTable::issue(role, &subject, None).expect("issued");
        table.insert(entry).expect("inserted");
        token
    };
    let residents: Vec<String> = (1..=CLIENTS).map(|n| issue(Role::Resident, format!("r-{n}"))).collect();
    let volunteers: Vec<String> = (1..=CLIENTS).map(|n| issue(Role::Volunteer, format!("V-{n}"))).collect();
    let dispatcher = issue(Role::Dispatcher, "d-bench".into());
    let state = AppState::new(service.clone(), table, gridloop_http::Cold::default()).await.expect("state");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let addr = listener.local_addr().expect("address");
    let options = gridloop_http::server::Options::default();
    tokio::spawn(gridloop_http::serve(listener, router(state), options, std::future::pending()));

    println!("gridloop HTTP on {addr}, sled store (fsync per append), {CLIENTS} concurrent clients, 2 worker threads");
    let order = format!(r#"{{"category":"CS-001","grid":"{grid}","description":"楼道灯坏了"}}"#);
    let started = Instant::now();
    let tasks: Vec<_> = residents
        .iter()
        .map(|token| {
            let (token, order) = (token.clone(), order.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(ORDERS_PER_CLIENT);
                for _ in 0..ORDERS_PER_CLIENT {
                    let t = Instant::now();
                    let (status, body) = request(addr, "POST", "/api/v1/tickets", &token, &order).await;
                    assert_eq!(status, 201, "{body}");
                    latencies.push(t.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.expect("client"));
    }
    report("POST /api/v1/tickets", latencies, started.elapsed());

    let candidates: Vec<String> = (1..=CLIENTS).map(|n| format!(r#"{{"kind":"volunteer","id":"V-{n}"}}"#)).collect();
    let offer = format!(r#"{{"candidates":[{}],"expires_in_minutes":30}}"#, candidates.join(","));
    let mut race_latencies = Vec::new();
    let mut race_wall = Duration::ZERO;
    for _ in 0..RACES {
        let (_, created) = request(addr, "POST", "/api/v1/tickets", &residents[0], &order).await;
        let id =
            serde_json::from_str::<serde_json::Value>(&created).expect("json")["id"].as_str().expect("id").to_string();
        let (status, body) = request(addr, "POST", &format!("/api/v1/tickets/{id}/offer"), &dispatcher, &offer).await;
        assert_eq!(status, 200, "{body}");
        let started = Instant::now();
        let racers: Vec<_> = volunteers
            .iter()
            .map(|token| {
                let (token, path) = (token.clone(), format!("/api/v1/tickets/{id}/accept"));
                tokio::spawn(async move {
                    let t = Instant::now();
                    let (status, _) = request(addr, "POST", &path, &token, "").await;
                    (status, t.elapsed())
                })
            })
            .collect();
        let mut winners = 0;
        for racer in racers {
            let (status, latency) = racer.await.expect("racer");
            assert!(status == 200 || status == 409, "a racer got {status}");
            winners += usize::from(status == 200);
            race_latencies.push(latency);
        }
        race_wall += started.elapsed();
        assert_eq!(winners, 1, "exactly one acceptance wins each race");
    }
    report("accept race (64 volunteers, 1 offer)", race_latencies, race_wall);
    println!("{RACES} races: exactly one winner each");
}
