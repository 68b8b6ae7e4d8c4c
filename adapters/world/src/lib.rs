//! gridloop-world: world bundles (`docs/world.md`), the directory a city
//! writes from its GIS and spreadsheets to describe its district.
//!
//! # Map
//!
//! - [`read`] / [`read_files`] (`bundle.rs`): a bundle from a directory or
//!   from memory, every problem of every file at once ([`Problem`]), then
//!   the engine's own checks on the world it describes.
//!   - `text.rs`: encodings (UTF-8, GB18030), CSV tables, cell conventions.
//!   - `district.rs`, `routing.rs`: the TOML files.
//!   - `geo.rs`, `polygon.rs`: `grids.geojson` and its ring checks.
//!   - `catalog.rs`, `people.rs`: the CSV files.
//! - [`import`] (`import.rs`): a checked bundle into the log, as the
//!   difference from the world the log holds; idempotent.
//! - [`world_as_of`], [`describe`] (`show.rs`): the world at an instant,
//!   as text.
//! - [`WorldError`] (`error.rs`): what can go wrong after reading.
//! - `fuzzing`: the fuzz target's input format (`fuzz/`, `world_bundle`).
//!
//! # Invariants
//!
//! - Reading never panics and is bounded: files of at most 64 MiB, counts
//!   as the docs set them, at most 1,000 problems shown per file.
//! - A bundle that reads is one the engine accepts: its world builds and
//!   every change and registration that imports it is decided by the
//!   engine in a dry run.
//! - Names and phones stay out of the world: they are in
//!   [`Bundle::personal`], for the personal store.
#![warn(missing_docs, unreachable_pub)]

mod bundle;
mod calendar;
mod catalog;
mod district;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod geo;
mod import;
mod people;
mod polygon;
mod problem;
mod routing;
mod show;
mod text;

pub use bundle::{Bundle, FILE_BYTES_MAX, Status, VolunteerEntry, read, read_files};
pub use catalog::DEPARTMENTS_MAX;
pub use error::WorldError;
pub use import::{ImportSummary, import};
pub use people::{OPEN_ORDERS_DEFAULT, VOLUNTEERS_MAX};
pub use problem::{Field, PROBLEMS_PER_FILE_MAX, Place, Problem};
pub use routing::read_routing;
pub use show::{describe, world_as_of};
pub use text::Encoding;

// The bundle's files, by their names in it (`docs/world.md` describes each).

/// The district's code, names, time zone, administrative levels and ticket
/// categories (required).
pub const DISTRICT: &str = "district.toml";
/// Every grid's code, name, kind and boundary polygon (required).
pub const GRIDS: &str = "grids.geojson";
/// The service catalog: items, their department, mode, SLA and points
/// (required).
pub const CATALOG: &str = "catalog.csv";
/// The departments the catalog's items are handled by (required).
pub const DEPARTMENTS: &str = "departments.csv";
/// The volunteer teams: kind, and the grid (a community or a street) each
/// serves (required).
pub const TEAMS: &str = "teams.csv";
/// The volunteers, with their team, home grid, skills and status; names and
/// phones go to the personal store (optional).
pub const VOLUNTEERS: &str = "volunteers.csv";
/// Staff accounts with their role, place and department; names and phones
/// go to the personal store (optional).
pub const STAFF: &str = "staff.csv";
/// The routing policy's knobs; missing means the engine's defaults
/// (optional).
pub const ROUTING: &str = "routing.toml";

/// Every file a bundle may hold.
pub const FILES: [&str; 8] = [DISTRICT, GRIDS, CATALOG, DEPARTMENTS, TEAMS, VOLUNTEERS, STAFF, ROUTING];
