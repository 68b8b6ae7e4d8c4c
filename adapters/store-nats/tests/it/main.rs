//! Tests of the NATS store against real nats-server processes.

mod blobs;
mod city;
mod conformance;
mod faults;
mod layout;
