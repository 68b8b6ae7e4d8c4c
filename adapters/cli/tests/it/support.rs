//! Running the `gridloop` binary as a user would, for every test file.

use std::process::{Command, Output};

/// Runs `gridloop` with `args` and waits for it.
pub fn gridloop(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gridloop")).args(args).output().expect("the binary runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
