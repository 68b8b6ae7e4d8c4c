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

/// The repository's Chikan bundle (`fixtures/worlds/chikan`).
pub fn chikan_bundle() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/worlds/chikan")
}

/// Puts the Chikan world into the log at `data` (or on `store`), as an
/// operator would with `gridloop world import` before the first `serve`.
///
/// A new sled data directory is a copy of one imported once an hour (the
/// import takes seconds; nextest runs every test in its own process, so the
/// template is kept on disk under the target directory). An existing
/// directory, or a NATS log, gets a real import (which writes nothing when
/// the world is there already).
pub fn with_chikan(data: &std::path::Path, store: Option<&str>) {
    if store.is_some() || data.join("GRIDLOOP").exists() {
        return import_chikan(data, store);
    }
    let template = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(template_name());
    if !template.join("GRIDLOOP").exists() {
        let building = template.with_extension(format!("building-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&building);
        import_chikan(&building, None);
        // Another test may have won the race: its template is as good.
        if std::fs::rename(&building, &template).is_err() {
            let _ = std::fs::remove_dir_all(&building);
        }
    }
    copy_dir(&template, data);
}

/// The template's name: the bundle's content (a changed bundle is imported
/// afresh) and the hour it is made in. The import stamps the log with the
/// real time, and tests that start `serve` judge what is due (a seal at
/// midnight China time, an hour after the first event) from the log's
/// first event: within one UTC hour no China midnight falls between the
/// import and the test.
fn template_name() -> String {
    let mut hasher = blake3::Hasher::new();
    let mut dirs = vec![chikan_bundle()];
    while let Some(dir) = dirs.pop() {
        let mut files: Vec<_> =
            std::fs::read_dir(&dir).expect("the bundle").map(|e| e.expect("entry").path()).collect();
        files.sort();
        for file in files {
            if file.is_dir() {
                dirs.push(file);
                continue;
            }
            hasher.update(file.file_name().expect("a name").as_encoded_bytes());
            hasher.update(&std::fs::read(&file).expect("a bundle file"));
        }
    }
    let hour = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("after 1970").as_secs() / 3600;
    format!("chikan-world-{}-{hour}", &hasher.finalize().to_hex()[..16])
}

fn import_chikan(data: &std::path::Path, store: Option<&str>) {
    let mut args = vec!["world".to_string(), "import".to_string()];
    args.push(chikan_bundle().to_str().expect("a UTF-8 path").to_string());
    args.extend(["--data".to_string(), data.to_str().expect("a UTF-8 path").to_string()]);
    if let Some(url) = store {
        args.extend(["--store".to_string(), url.to_string()]);
    }
    let out = Command::new(env!("CARGO_BIN_EXE_gridloop")).args(&args).output().expect("the binary runs");
    assert!(out.status.success(), "world import: {}", stderr(&out));
}

pub fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("a data directory");
    for entry in std::fs::read_dir(from).expect("the template") {
        let entry = entry.expect("an entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("a file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copies");
        }
    }
}
