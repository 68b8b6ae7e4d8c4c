//! Past one cluster: two districts, each with its own stream written through
//! the real command service, sourced into a city stream; the city's rates,
//! folded from the city stream alone, are the sum of the districts'.
//!
//! Both districts number their tickets from T-1 and reuse the same command
//! ids (`step-1`, `step-2`...), as two independent deployments would: the
//! city must keep both apart.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, stream};
use gridloop_engine::envelope::{Actor, Role};
use gridloop_engine::ids::StreamId;
use gridloop_engine::ids::{CommandId, ResidentId, TeamId, TicketId, VolunteerId};
use gridloop_engine::rng::SplitMix64;
use gridloop_engine::service::{Clock, Command, CommandEnvelope, CommandService, ManualClock};
use gridloop_engine::store::{EventStore, ExpectedVersion};
use gridloop_engine::ticket::{Assignee, Channel, Rating, TicketCommand, Urgency};
use gridloop_engine::time::{Millis, Timestamp};
use gridloop_engine::volunteer::VolunteerCommand;
use gridloop_projections::metrics::{Cohort, Metrics, Rates};
use gridloop_projections::runner::Projection;
use gridloop_store_conformance::event;
use gridloop_store_nats::server::NatsServer;
use gridloop_store_nats::{NatsConfig, NatsStore};

const STEPS: u32 = 160;
const CITY_TIMEOUT: Duration = Duration::from_secs(20);

fn start() -> Timestamp {
    Timestamp::parse("2026-11-02T00:00:00Z").expect("valid")
}

fn vol(n: u64) -> Assignee {
    Assignee::Volunteer(VolunteerId::from_number(n))
}

/// A district's history: volunteers registered, then `STEPS` commands from
/// a menu to random tickets at random times through the real service.
/// Refusals are part of it and write nothing.
async fn district_history(store: NatsStore, seed: u64) {
    let district = gridloop_fixtures::chikan(1).expect("fixture");
    let clock = Arc::new(ManualClock::new(start()));
    let service = CommandService::new(store, district.world.clone(), clock.clone(), seed);
    let items: Vec<_> =
        district.world.catalog.items().filter(|i| i.dispatchable_to_grid()).map(|i| i.code.clone()).collect();
    let grids: Vec<_> =
        district.world.grids.at_level(gridloop_engine::grid::Level::Grid).map(|g| g.code.clone()).collect();
    let dispatcher = Actor::new(Role::Dispatcher, "d-1").expect("valid");
    for v in 1..=3u64 {
        let command = VolunteerCommand::Register {
            team: TeamId::from_number(v % 2 + 1),
            home_grid: grids[v as usize].clone(),
            skills: Default::default(),
            open_orders_max: 5,
        };
        let register = CommandEnvelope {
            expected_version: None,
            command_id: CommandId::new(format!("register-{v}")).expect("valid"),
            correlation_id: None,
            actor: dispatcher.clone(),
            command: Command::Volunteer { id: VolunteerId::from_number(v), command },
        };
        service.execute(register).await.expect("registers");
    }
    let (mut rng, mut tickets) = (SplitMix64::new(seed), 0u64);
    for step in 0..STEPS {
        let span = if rng.chance(100) { 3_000 } else { 40 };
        clock.advance(Millis::minutes(1 + rng.below(span)));
        let pick = rng.below(10);
        if pick == 0 || tickets == 0 {
            tickets += 1;
            let submit = TicketCommand::Submit {
                photos: vec![],
                item: rng.pick(&items).clone(),
                grid: rng.pick(&grids).clone(),
                resident: ResidentId::new(format!("r-{tickets}")).expect("valid"),
                description: "随机".into(),
                urgency: Urgency::Normal,
                channel: Channel::Web,
                location: None,
            };
            send(&service, step, &dispatcher, tickets, submit).await;
            continue;
        }
        let ticket = if rng.chance(800) { tickets - rng.below(tickets.min(3)) } else { 1 + rng.below(tickets) };
        let v = 1 + rng.below(3);
        let volunteer = Actor::new(Role::Volunteer, &format!("V-{v}")).expect("valid");
        let resident = Actor::new(Role::Resident, &format!("r-{ticket}")).expect("valid");
        let now = clock.now();
        let (actor, command) = match pick {
            1 => (
                &dispatcher,
                TicketCommand::Offer {
                    candidates: vec![vol(1), vol(2), vol(3)],
                    expires_at: now.plus(Millis::hours(2)),
                },
            ),
            2 | 3 => (&volunteer, TicketCommand::AcceptOffer { by: vol(v) }),
            4 => (&dispatcher, TicketCommand::Assign { to: vol(v), reason: "派单".into() }),
            5 | 6 => (&volunteer, TicketCommand::Resolve { photos: vec![], result: "好了".into(), minutes_spent: 45 }),
            7 => {
                let rating = *rng.pick(&[Rating::Satisfied, Rating::BasicallySatisfied, Rating::Unsatisfied]);
                (&resident, TicketCommand::GiveFeedback { rating, comment: String::new() })
            }
            8 => (&dispatcher, TicketCommand::Close),
            _ => (&resident, TicketCommand::Cancel { reason: "不需要了".into() }),
        };
        send(&service, step, actor, ticket, command).await;
    }
}

async fn send(service: &CommandService<NatsStore>, step: u32, actor: &Actor, ticket: u64, command: TicketCommand) {
    let envelope = CommandEnvelope {
        expected_version: None,
        command_id: CommandId::new(format!("step-{step}")).expect("valid"),
        correlation_id: None,
        actor: actor.clone(),
        command: Command::Ticket { id: TicketId::from_number(ticket), command },
    };
    // A refusal writes nothing; a storage failure would fail the fold below.
    let _ = service.execute(envelope).await;
}

/// Folds a whole log into the metrics.
async fn fold(store: &NatsStore) -> Metrics {
    let (mut metrics, mut from) = (Metrics::new(), 1);
    loop {
        let page = store.read_all(from, 500).await.expect("read_all");
        let Some(last) = page.last() else { break };
        from = last.position + 1;
        for event in &page {
            metrics.evolve(event).expect("folds");
        }
    }
    metrics
}

/// The city stream, as its operator creates it: no subjects of its own, one
/// source per district with a subject transform that puts the district's
/// name in every subject.
fn city_config(districts: &[(&str, &str)]) -> stream::Config {
    let sources = districts
        .iter()
        .map(|(stream_name, prefix)| stream::Source {
            name: stream_name.to_string(),
            subject_transforms: vec![stream::SubjectTransform {
                source: format!("{prefix}.>"),
                destination: format!("city.{prefix}.>"),
            }],
            ..Default::default()
        })
        .collect();
    stream::Config {
        name: "CITY".into(),
        subjects: vec![],
        sources: Some(sources),
        storage: stream::StorageType::File,
        retention: stream::RetentionPolicy::Limits,
        // Each district deduplicates its own appends; the city must not
        // deduplicate across districts, whose command ids repeat.
        duplicate_window: Duration::ZERO,
        deny_delete: true,
        deny_purge: true,
        ..Default::default()
    }
}

/// Every count the rates are made of, numerators and denominators.
fn parts(rates: &Rates) -> Vec<u64> {
    let mut out = vec![rates.submitted, rates.valid];
    for rate in
        [rates.acceptance, rates.completion, rates.on_time, rates.satisfaction, rates.in_grid, rates.closed_loop]
    {
        out.extend([rate.numerator, rate.denominator]);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_city_stream_sourced_from_two_districts_has_the_sum_of_their_rates() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = NatsServer::start(dir.path(), false);
    let open = |query: &str| NatsConfig::parse(&format!("{}?{query}", server.url())).expect("url");
    let north = NatsStore::connect(open("stream=NORTH&prefix=north")).await.expect("north");
    let south = NatsStore::connect(open("stream=SOUTH&prefix=south")).await.expect("south");
    tokio::join!(district_history(north.clone(), 11), district_history(south.clone(), 29));

    let js = jetstream::new(async_nats::connect(server.url()).await.expect("client"));
    js.create_stream(city_config(&[("NORTH", "north"), ("SOUTH", "south")])).await.expect("the city stream");
    let city = NatsStore::connect(open("stream=CITY&prefix=city&districts=north,south")).await.expect("city");
    let wanted = north.last_sequence().await.unwrap() + south.last_sequence().await.unwrap();
    let started = Instant::now();
    while city.last_sequence().await.unwrap() < wanted {
        assert!(started.elapsed() < CITY_TIMEOUT, "the city never sourced all {wanted} messages");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let (north, south, city_metrics) = (fold(&north).await, fold(&south).await, fold(&city).await);
    let cohort = Cohort { from: Cohort::earliest(), to: start().plus(Millis::days(400)), scope: None };
    let as_of = start().plus(Millis::days(400));
    let (n, s, c) = (north.rates(&cohort, as_of), south.rates(&cohort, as_of), city_metrics.rates(&cohort, as_of));
    let sum: Vec<u64> = parts(&n).iter().zip(parts(&s)).map(|(a, b)| a + b).collect();
    assert_eq!(parts(&c), sum, "city {c:?}\nnorth {n:?}\nsouth {s:?}");
    assert!(n.completion.denominator > 0 && s.completion.denominator > 0, "both districts have rates: {n:?} {s:?}");
    assert!(north.tickets().any(|(t, _)| t.as_str() == "T-1") && south.tickets().any(|(t, _)| t.as_str() == "T-1"));
    let ids: Vec<String> = city_metrics.tickets().map(|(t, _)| t.to_string()).collect();
    assert_eq!(ids.len(), north.tickets().count() + south.tickets().count(), "no ticket merged: {ids:?}");
    assert!(ids.contains(&"T-10000000001".into()) && ids.contains(&"T-20000000001".into()), "{ids:?}");

    let t1 = StreamId::new("ticket-T-1").expect("stream");
    let refused = city.append(&t1, ExpectedVersion::Any, vec![event("city-write", 1)]).await;
    assert!(matches!(&refused, Err(e) if e.to_string().contains("read only")), "{refused:?}");
}
