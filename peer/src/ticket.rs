//! The ticket workflow as a cqrs-es aggregate: the peer's version of
//! gridloop's `engine/src/ticket.rs`, cut down to the path the bench drives
//! (submit → offer → accept → resolve → feedback → close) with the same rules
//! in spirit: a command is refused unless the ticket is in the status it
//! needs, only an offered volunteer may accept, only once per offer round, and
//! only the assignee may resolve and only the resident give feedback.
//!
//! Payloads are shaped and sized like gridloop's: ids (`T-…`, `V-…`, item
//! `CS-001`, a 22-character grid code, a resident id), a ~40-character
//! description, RFC 3339 timestamps.

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TicketCommand {
    Submit {
        ticket: String,
        item: String,
        grid: String,
        resident: String,
        description: String,
        urgency: String,
        channel: String,
        at: String,
        accept_by: String,
        resolve_by: String,
    },
    Offer {
        round: u32,
        candidates: Vec<String>,
        expires_at: String,
        at: String,
    },
    Accept {
        volunteer: String,
        round: u32,
        at: String,
    },
    Resolve {
        by: String,
        note: String,
        at: String,
    },
    GiveFeedback {
        resident: String,
        rating: u8,
        comment: String,
        at: String,
    },
    Close {
        at: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TicketEvent {
    Submitted {
        ticket: String,
        item: String,
        grid: String,
        resident: String,
        description: String,
        urgency: String,
        channel: String,
        at: String,
        accept_by: String,
        resolve_by: String,
    },
    Offered {
        round: u32,
        candidates: Vec<String>,
        expires_at: String,
        at: String,
    },
    Accepted {
        by: String,
        round: u32,
        at: String,
    },
    Resolved {
        by: String,
        note: String,
        at: String,
    },
    FeedbackGiven {
        rating: u8,
        comment: String,
        at: String,
    },
    Closed {
        at: String,
    },
}

impl DomainEvent for TicketEvent {
    fn event_type(&self) -> String {
        match self {
            TicketEvent::Submitted { .. } => "ticket.submitted",
            TicketEvent::Offered { .. } => "ticket.offered",
            TicketEvent::Accepted { .. } => "ticket.accepted",
            TicketEvent::Resolved { .. } => "ticket.resolved",
            TicketEvent::FeedbackGiven { .. } => "ticket.feedback_given",
            TicketEvent::Closed { .. } => "ticket.closed",
        }
        .to_string()
    }

    fn event_version(&self) -> String {
        "1".to_string()
    }
}

/// Why a command was refused (business rules only; conflicts and database
/// errors are cqrs-es's `AggregateError` variants).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TicketError {
    /// The command does not fit the ticket's status.
    WrongStatus {
        command: &'static str,
        status: Status,
    },
    /// Someone else took the offer first (gridloop's `already_taken`).
    AlreadyTaken,
    /// The volunteer was not among the offer's candidates, or the round is
    /// not the current one.
    NotOffered,
    /// Resolve by someone other than the assignee, or feedback by someone
    /// other than the resident.
    NotYours,
    /// Rating outside 1..=5, empty description.
    Invalid(&'static str),
}

impl fmt::Display for TicketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TicketError::WrongStatus { command, status } => {
                write!(f, "{command} is not allowed in status {status:?}")
            }
            TicketError::AlreadyTaken => f.write_str("already_taken"),
            TicketError::NotOffered => f.write_str("not offered to this volunteer in this round"),
            TicketError::NotYours => f.write_str("not yours"),
            TicketError::Invalid(why) => write!(f, "invalid: {why}"),
        }
    }
}

impl std::error::Error for TicketError {}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Status {
    #[default]
    New,
    Submitted,
    Offered,
    Accepted,
    Resolved,
    FeedbackGiven,
    Closed,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Ticket {
    pub status: Status,
    pub id: String,
    pub resident: String,
    pub round: u32,
    pub candidates: Vec<String>,
    pub assignee: Option<String>,
    pub rating: Option<u8>,
}

/// The aggregate needs no outside service.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoServices;

impl Aggregate for Ticket {
    const TYPE: &'static str = "ticket";
    type Command = TicketCommand;
    type Event = TicketEvent;
    type Error = TicketError;
    type Services = NoServices;

    async fn handle(
        &mut self,
        command: TicketCommand,
        _services: &NoServices,
        sink: &EventSink<Self>,
    ) -> Result<(), TicketError> {
        let event = self.decide(command)?;
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: TicketEvent) {
        match event {
            TicketEvent::Submitted {
                ticket, resident, ..
            } => {
                self.status = Status::Submitted;
                self.id = ticket;
                self.resident = resident;
            }
            TicketEvent::Offered {
                round, candidates, ..
            } => {
                self.status = Status::Offered;
                self.round = round;
                self.candidates = candidates;
            }
            TicketEvent::Accepted { by, .. } => {
                self.status = Status::Accepted;
                self.assignee = Some(by);
            }
            TicketEvent::Resolved { .. } => self.status = Status::Resolved,
            TicketEvent::FeedbackGiven { rating, .. } => {
                self.status = Status::FeedbackGiven;
                self.rating = Some(rating);
            }
            TicketEvent::Closed { .. } => self.status = Status::Closed,
        }
    }
}

impl Ticket {
    /// Every rule: one command in, one event out (or a refusal).
    pub fn decide(&self, command: TicketCommand) -> Result<TicketEvent, TicketError> {
        let wrong = |command| TicketError::WrongStatus {
            command,
            status: self.status,
        };
        match command {
            TicketCommand::Submit {
                ticket,
                item,
                grid,
                resident,
                description,
                urgency,
                channel,
                at,
                accept_by,
                resolve_by,
            } => {
                if self.status != Status::New {
                    return Err(wrong("submit"));
                }
                if description.trim().is_empty() {
                    return Err(TicketError::Invalid("empty description"));
                }
                Ok(TicketEvent::Submitted {
                    ticket,
                    item,
                    grid,
                    resident,
                    description,
                    urgency,
                    channel,
                    at,
                    accept_by,
                    resolve_by,
                })
            }
            TicketCommand::Offer {
                round,
                candidates,
                expires_at,
                at,
            } => {
                // A new round may follow an unanswered one; never offer an
                // older round again.
                let ok = match self.status {
                    Status::Submitted => true,
                    Status::Offered => round > self.round,
                    _ => false,
                };
                if !ok {
                    return Err(wrong("offer"));
                }
                if candidates.is_empty() {
                    return Err(TicketError::Invalid("no candidates"));
                }
                Ok(TicketEvent::Offered {
                    round,
                    candidates,
                    expires_at,
                    at,
                })
            }
            TicketCommand::Accept {
                volunteer,
                round,
                at,
            } => match self.status {
                Status::Offered => {
                    if round != self.round || !self.candidates.contains(&volunteer) {
                        return Err(TicketError::NotOffered);
                    }
                    Ok(TicketEvent::Accepted {
                        by: volunteer,
                        round,
                        at,
                    })
                }
                // Taken by someone (maybe by a racing accept that committed
                // first): the losers of an accept race end here.
                Status::Accepted | Status::Resolved | Status::FeedbackGiven | Status::Closed => {
                    Err(TicketError::AlreadyTaken)
                }
                _ => Err(wrong("accept")),
            },
            TicketCommand::Resolve { by, note, at } => {
                if self.status != Status::Accepted {
                    return Err(wrong("resolve"));
                }
                if self.assignee.as_deref() != Some(by.as_str()) {
                    return Err(TicketError::NotYours);
                }
                Ok(TicketEvent::Resolved { by, note, at })
            }
            TicketCommand::GiveFeedback {
                resident,
                rating,
                comment,
                at,
            } => {
                if self.status != Status::Resolved {
                    return Err(wrong("feedback"));
                }
                if resident != self.resident {
                    return Err(TicketError::NotYours);
                }
                if !(1..=5).contains(&rating) {
                    return Err(TicketError::Invalid("rating must be 1..=5"));
                }
                Ok(TicketEvent::FeedbackGiven {
                    rating,
                    comment,
                    at,
                })
            }
            TicketCommand::Close { at } => {
                if !matches!(self.status, Status::Resolved | Status::FeedbackGiven) {
                    return Err(wrong("close"));
                }
                Ok(TicketEvent::Closed { at })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(t: &mut Ticket, c: TicketCommand) -> Result<(), TicketError> {
        let e = t.decide(c)?;
        t.apply(e);
        Ok(())
    }

    fn submitted_and_offered() -> Ticket {
        let mut t = Ticket::default();
        run(
            &mut t,
            TicketCommand::Submit {
                ticket: "T-1".into(),
                item: "CS-001".into(),
                grid: "440802-001-002-015-03".into(),
                resident: "R-1".into(),
                description: "Leaking tap in the shared kitchen, 2F".into(),
                urgency: "normal".into(),
                channel: "app".into(),
                at: "2026-11-23T08:00:00.000Z".into(),
                accept_by: "2026-11-23T08:30:00.000Z".into(),
                resolve_by: "2026-11-24T08:00:00.000Z".into(),
            },
        )
        .unwrap();
        run(
            &mut t,
            TicketCommand::Offer {
                round: 0,
                candidates: vec!["V-1".into(), "V-2".into()],
                expires_at: "2026-11-23T08:15:00.000Z".into(),
                at: "2026-11-23T08:00:01.000Z".into(),
            },
        )
        .unwrap();
        t
    }

    #[test]
    fn one_accept_wins_the_rest_are_already_taken() {
        let mut t = submitted_and_offered();
        let accept = |v: &str| TicketCommand::Accept {
            volunteer: v.into(),
            round: 0,
            at: "2026-11-23T08:01:00.000Z".into(),
        };
        assert_eq!(run(&mut t, accept("V-3")), Err(TicketError::NotOffered));
        run(&mut t, accept("V-1")).unwrap();
        assert_eq!(run(&mut t, accept("V-2")), Err(TicketError::AlreadyTaken));
        assert_eq!(
            run(
                &mut t,
                TicketCommand::Resolve {
                    by: "V-2".into(),
                    note: "done".into(),
                    at: "x".into()
                }
            ),
            Err(TicketError::NotYours)
        );
        run(
            &mut t,
            TicketCommand::Resolve {
                by: "V-1".into(),
                note: "done".into(),
                at: "x".into(),
            },
        )
        .unwrap();
        run(
            &mut t,
            TicketCommand::GiveFeedback {
                resident: "R-1".into(),
                rating: 5,
                comment: "thanks".into(),
                at: "x".into(),
            },
        )
        .unwrap();
        run(&mut t, TicketCommand::Close { at: "x".into() }).unwrap();
        assert_eq!(t.status, Status::Closed);
        assert!(matches!(
            run(&mut t, TicketCommand::Close { at: "x".into() }),
            Err(TicketError::WrongStatus { .. })
        ));
    }
}
