//! Real `nats-server` processes for tests and benchmarks: one server or a
//! three-node cluster, on loopback ports picked at start, in a temporary
//! directory, killed when dropped.
//!
//! The binary is `GRIDLOOP_NATS_SERVER` if set, else the one
//! `scripts/install-tools` put in `tools/nats/bin/`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a server may take to answer its health check.
pub const START_TIMEOUT: Duration = Duration::from_secs(20);

/// The nats-server binary tests use.
pub fn binary() -> PathBuf {
    if let Some(path) = std::env::var_os("GRIDLOOP_NATS_SERVER") {
        return PathBuf::from(path);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/nats/bin/nats-server")
}

/// One nats-server process (maybe one node of a cluster).
#[derive(Debug)]
pub struct NatsServer {
    name: String,
    port: u16,
    monitor_port: u16,
    cluster: Option<(u16, Vec<u16>)>,
    dir: PathBuf,
    sync_always: bool,
    child: Option<Child>,
}

impl NatsServer {
    /// Starts one server with JetStream in `dir`. `sync_always` makes it
    /// fsync every message before acknowledging it.
    pub fn start(dir: &Path, sync_always: bool) -> Self {
        let mut server = Self {
            name: "n1".into(),
            port: free_port(),
            monitor_port: free_port(),
            cluster: None,
            dir: dir.to_path_buf(),
            sync_always,
            child: None,
        };
        server.spawn();
        server.wait_healthy();
        server
    }

    /// The server's name (`n1`, `n2`, `n3` in a cluster).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The client address, `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Kills the process at once (SIGKILL): no shutdown, no flush.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the process again, same ports, same data.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
        self.wait_healthy();
    }

    fn config(&self) -> String {
        let store = self.dir.join(&self.name).join("jetstream");
        let sync = if self.sync_always { "\n  sync_interval: always" } else { "" };
        let mut text = format!(
            "server_name: {}\nlisten: 127.0.0.1:{}\nhttp: 127.0.0.1:{}\njetstream {{\n  store_dir: {:?}{sync}\n}}\n",
            self.name,
            self.port,
            self.monitor_port,
            store.display().to_string()
        );
        if let Some((cluster_port, routes)) = &self.cluster {
            let routes: Vec<String> = routes.iter().map(|p| format!("nats://127.0.0.1:{p}")).collect();
            text.push_str(&format!(
                "cluster {{\n  name: gridloop\n  listen: 127.0.0.1:{cluster_port}\n  routes: [{}]\n}}\n",
                routes.join(", ")
            ));
        }
        text
    }

    fn spawn(&mut self) {
        let config_path = self.dir.join(format!("{}.conf", self.name));
        std::fs::create_dir_all(&self.dir).expect("server dir");
        std::fs::write(&config_path, self.config()).expect("server config");
        let binary = binary();
        assert!(
            binary.exists(),
            "nats-server not found at {} — run scripts/install-tools (or set GRIDLOOP_NATS_SERVER)",
            binary.display()
        );
        let log = std::fs::File::create(self.dir.join(format!("{}.log", self.name))).expect("server log");
        let child = Command::new(binary)
            .arg("-c")
            .arg(&config_path)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start nats-server");
        self.child = Some(child);
    }

    /// Waits until the monitor's `/healthz` says the server (and JetStream)
    /// is ready.
    pub fn wait_healthy(&self) {
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if healthz(self.monitor_port) {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("nats-server {} did not become healthy; see {}/{}.log", self.name, self.dir.display(), self.name);
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Three servers routed to each other, for replicated streams.
#[derive(Debug)]
pub struct NatsCluster {
    /// The three nodes, `n1` to `n3`; tests kill and restart single nodes
    /// to check failover.
    pub nodes: Vec<NatsServer>,
}

impl NatsCluster {
    /// Starts three servers with JetStream in `dir`, each routed to the
    /// other two, and waits until all are healthy. `sync_always` makes each
    /// fsync every message before acknowledging it. Panics if one does not
    /// become healthy within [`START_TIMEOUT`]: it is test support.
    pub fn start(dir: &Path, sync_always: bool) -> Self {
        let cluster_ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let mut nodes: Vec<NatsServer> = (0..3)
            .map(|i| NatsServer {
                name: format!("n{}", i + 1),
                port: free_port(),
                monitor_port: free_port(),
                cluster: Some((
                    cluster_ports[i],
                    cluster_ports.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, p)| *p).collect(),
                )),
                dir: dir.to_path_buf(),
                sync_always,
                child: None,
            })
            .collect();
        for node in &mut nodes {
            node.spawn();
        }
        for node in &nodes {
            node.wait_healthy();
        }
        Self { nodes }
    }

    /// Every node's client address, comma-separated.
    pub fn urls(&self) -> String {
        self.nodes.iter().map(|n| n.url()).collect::<Vec<_>>().join(",")
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port()
}

fn healthz(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET /healthz HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response.starts_with("HTTP/1.0 200") || response.starts_with("HTTP/1.1 200")
}
