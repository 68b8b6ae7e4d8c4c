//! gridloop-media's tests: metadata stripped from real images, refusals,
//! and properties over arbitrary and mutated inputs.

mod fixtures;
mod properties;
mod refusals;
mod stripping;
