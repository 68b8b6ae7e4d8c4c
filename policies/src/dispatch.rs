//! The dispatcher policy: what each tier's dispatcher does with a ticket
//! waiting for dispatch (社区派单), when nobody overrides it.
//!
//! | status, tier                    | command                                          |
//! |---------------------------------|--------------------------------------------------|
//! | submitted                       | triage with the item's mode (department if the item is not admitted) |
//! | waiting, grid tier, volunteer item | offer to the routed volunteers (one ring wider each round); the owning team, or the department, when nobody fits; escalate once the rounds are used up |
//! | waiting, grid tier, department item | assign the department                       |
//! | waiting, grid tier, self-handle item | nothing: the grid worker takes it         |
//! | waiting, community tier         | assign the owning team (department items: the department) |
//! | waiting, street or district tier | assign the responsible department              |
//!
//! "Waiting" is triaged (an offer ran out), escalated or reopened. Each
//! command is sent as the dispatcher of the ticket's tier (`d-<place>`),
//! with the ticket's version as expected version and a command id derived
//! from the ticket and that version, so the policy can run as often as it
//! likes: a step it already took, or one the ticket moved past, writes
//! nothing. A human dispatcher's command (an override) simply moves the
//! ticket on first.

use std::collections::BTreeSet;

use gridloop_engine::catalog::HandlingMode;
use gridloop_engine::envelope::{Actor, Role};
use gridloop_engine::grid::Level;
use gridloop_engine::ids::{CommandId, TicketId};
use gridloop_engine::routing::{Route, ring_scope, route, route_at_tier};
use gridloop_engine::service::{Command, CommandEnvelope, CommandService};
use gridloop_engine::store::EventStore;
use gridloop_engine::ticket::{Assignee, EscalationReason, Status, Ticket, TicketCommand, Tier};
use gridloop_engine::time::Timestamp;
use gridloop_engine::{Error, World};

use gridloop_projections::directory::Directory;

/// The dispatcher's next step for one ticket, if it has one.
pub fn plan(ticket: &Ticket, world: &World, directory: &Directory, now: Timestamp) -> Option<CommandEnvelope> {
    let (id, grid, item_code) = (ticket.id.as_ref()?, ticket.grid.as_ref()?, ticket.item.as_ref()?);
    let item = world.catalog.item(item_code).ok()?;
    let tier = ticket.tier.unwrap_or(Tier::Grid);
    let grid_may_take = item.dispatchable_to_grid();
    let command = match ticket.status {
        Status::Submitted if tier == Tier::District => assign(Assignee::Department(item.department.clone())),
        Status::Submitted => {
            let mode = if grid_may_take { item.mode } else { HandlingMode::Department };
            TicketCommand::Triage { mode, item: None }
        }
        Status::Triaged | Status::Escalated | Status::Reopened => match tier {
            Tier::Grid if !grid_may_take || ticket.mode == Some(HandlingMode::Department) => {
                assign(Assignee::Department(item.department.clone()))
            }
            Tier::Grid if ticket.offer_rounds >= world.routing.offer_rounds_max => TicketCommand::Escalate {
                reason: EscalationReason::Timeout,
                note: "no volunteer took it in any offer round".into(),
            },
            Tier::Grid => {
                let scope = ring_scope(grid, ticket.offer_rounds);
                let volunteers = directory.views_within(&scope, now, world.routing.fairness_window);
                match route(item, grid, ticket.offer_rounds, &BTreeSet::new(), &volunteers, world) {
                    Route::SelfHandle => return None,
                    Route::Offer { candidates, .. } => TicketCommand::Offer {
                        candidates: candidates.into_iter().map(Assignee::Volunteer).collect(),
                        expires_at: now.plus(world.routing.offer_window),
                    },
                    Route::Team(team) => assign(Assignee::Team(team)),
                    Route::Department(department) => assign(Assignee::Department(department)),
                }
            }
            // Above the grid, the tier's own route (the rule the console's
            // suggestions follow too).
            Tier::Community | Tier::Street | Tier::District => match route_at_tier(tier, item, grid, world)? {
                Route::Team(team) => assign(Assignee::Team(team)),
                Route::Department(department) => assign(Assignee::Department(department)),
                Route::SelfHandle | Route::Offer { .. } => return None,
            },
        },
        _ => return None,
    };
    Some(CommandEnvelope {
        command_id: CommandId::new(format!("dispatch-{id}-v{}", ticket.version)).ok()?,
        correlation_id: None,
        actor: dispatcher_of(grid, tier),
        command: Command::Ticket { id: id.clone(), command },
        expected_version: Some(ticket.version),
    })
}

fn assign(to: Assignee) -> TicketCommand {
    TicketCommand::Assign { to, reason: "按路由规则派单 routed by policy".into() }
}

/// The dispatcher of the station at `tier` above `grid`: `d-<place>`.
pub fn dispatcher_of(grid: &gridloop_engine::grid::GridCode, tier: Tier) -> Actor {
    let level = match tier {
        Tier::Grid | Tier::Community => Level::Community,
        Tier::Street => Level::Street,
        Tier::District => Level::District,
    };
    let place = grid.at_level(level).unwrap_or_else(|| grid.clone());
    Actor::new(Role::Dispatcher, &format!("d-{place}")).expect("grid codes make valid actor ids")
}

/// Runs the policy over every ticket in `tickets` and sends its commands.
/// Returns how many wrote events; a command that found the ticket moved on
/// writes nothing and is not an error.
pub async fn dispatch<'a, S: EventStore>(
    tickets: impl Iterator<Item = &'a Ticket>,
    directory: &Directory,
    service: &CommandService<S>,
    now: Timestamp,
) -> Result<u64, Error> {
    let mut written = 0;
    let world = service.world();
    let plans: Vec<(TicketId, CommandEnvelope)> = tickets
        .filter(|t| t.status.awaits_dispatch())
        .filter_map(|t| Some((t.id.clone()?, plan(t, &world, directory, now)?)))
        .collect();
    for (ticket, envelope) in plans {
        match service.execute(envelope).await {
            Ok(outcome) => written += u64::from(outcome.append.is_some() && !outcome.is_duplicate()),
            Err(Error::WrongExpectedVersion { .. }) => {}
            // The store failing, or the log not decoding, stops the policy.
            Err(e @ (Error::Storage(_) | Error::Corrupt(_) | Error::Contended { .. })) => return Err(e),
            // A refusal is the engine's word on one ticket: log it and go on
            // with the others (a dispatcher will see the ticket waiting).
            Err(refusal) => tracing::warn!(%ticket, %refusal, "the dispatcher policy's step was refused"),
        }
    }
    Ok(written)
}
