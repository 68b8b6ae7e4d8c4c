//! A real SMTP server on loopback for tests: aiosmtpd (installed by
//! `scripts/install-tools` into `tools/smtp`), keeping each message as a
//! JSON file. Shared with the binary's journey test (`#[path]`), so that
//! both start it the same way.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

use serde_json::Value;

/// A free port on loopback (bound and let go; the server takes it at once).
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("binds").local_addr().expect("has an address").port()
}

const SMTP_SERVER: &str = r#"
import email, json, os, sys
from email import policy
from aiosmtpd.controller import Controller

port, out = int(sys.argv[1]), sys.argv[2]

class Keep:
    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        record = {
            "to": envelope.rcpt_tos,
            "message_id": message["Message-ID"],
            "subject": str(message["Subject"]),
            "body": message.get_body(("plain",)).get_content(),
        }
        name = os.path.join(out, "%06d-%d.json" % (len(os.listdir(out)), os.getpid()))
        with open(name + ".part", "w", encoding="utf-8") as f:
            json.dump(record, f, ensure_ascii=False)
        os.rename(name + ".part", name)
        return "250 kept"

controller = Controller(Keep(), hostname="127.0.0.1", port=port)
controller.start()
print("ready", flush=True)
sys.stdin.read()
controller.stop()
"#;

/// A real SMTP server on loopback (aiosmtpd) that keeps each message it
/// receives as a JSON file (recipients, Message-ID, decoded subject and
/// body).
pub(crate) struct Smtp {
    child: Child,
    port: u16,
    out: tempfile::TempDir,
}

fn smtp_python() -> PathBuf {
    if let Some(path) = std::env::var_os("GRIDLOOP_SMTP_PYTHON") {
        return PathBuf::from(path);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/smtp/bin/python")
}

impl Smtp {
    pub(crate) fn start() -> Self {
        let python = smtp_python();
        let out = tempfile::tempdir().expect("a temporary directory");
        let port = free_port();
        let mut child = std::process::Command::new(&python)
            .args(["-c", SMTP_SERVER, &port.to_string()])
            .arg(out.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "{} cannot start ({e}): run scripts/install-tools (it puts aiosmtpd in tools/smtp), \
                     or set GRIDLOOP_SMTP_PYTHON to a Python that has aiosmtpd",
                    python.display()
                )
            });
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped")).read_line(&mut line).expect("reads");
        assert_eq!(line.trim(), "ready", "the SMTP server did not start (is aiosmtpd installed in tools/smtp?)");
        Self { child, port, out }
    }

    pub(crate) fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The messages received so far, in order.
    pub(crate) fn mails(&self) -> Vec<Value> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(self.out.path())
            .expect("reads")
            .map(|e| e.expect("an entry").path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        names.sort();
        names.iter().map(|p| serde_json::from_slice(&std::fs::read(p).expect("reads")).expect("JSON")).collect()
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
