//! Tests of the NATS store against real nats-server processes.

mod conformance;
mod faults;
mod layout;
