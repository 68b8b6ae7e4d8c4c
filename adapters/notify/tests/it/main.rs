//! Integration tests of the notifier: a real SMTP server (aiosmtpd, from
//! `tools/smtp`, installed by `scripts/install-tools`) and a webhook
//! receiver that checks the signature itself, both on loopback, over the
//! embedded store as `serve` keeps it.

mod delivery;
mod restart;
mod smtp;
mod support;
mod units;
