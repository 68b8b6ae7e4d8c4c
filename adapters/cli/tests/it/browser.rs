//! A real browser for the page tests: headless Chromium driven through
//! ChromeDriver with the W3C WebDriver protocol (plain JSON over HTTP,
//! spoken here over `std::net::TcpStream`, so the tests need no client
//! crate), and the small HTTP client the tests use beside it.
//!
//! Chromium and ChromeDriver come from `scripts/install-tools`; without them
//! a test fails and says so (a browser test that skips proves nothing).
//! Screenshots go to `target/screenshots/`.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// How long any one wait in the browser may take.
pub(crate) const WAIT: Duration = Duration::from_secs(15);
/// The W3C name of an element reference in WebDriver answers.
pub(crate) const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A child process killed when the test ends, also when it fails.
pub(crate) struct Killed(pub(crate) Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One HTTP/1.1 request with `Connection: close` and a JSON body: the
/// status and the body as text.
pub(crate) fn http(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
    let (status, body) = request(addr, method, path, headers, "application/json", body.as_bytes());
    (status, String::from_utf8(body).expect("a UTF-8 body"))
}

/// A request with raw bytes (a photo), as text back.
pub(crate) fn http_bytes(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, String) {
    let (status, body) = request(addr, method, path, headers, "application/octet-stream", body);
    (status, String::from_utf8_lossy(&body).to_string())
}

/// A request without a body, its answer as bytes (a photo).
pub(crate) fn http_raw(addr: &str, method: &str, path: &str, headers: &[(&str, &str)]) -> (u16, Vec<u8>) {
    request(addr, method, path, headers, "application/json", b"")
}

/// One HTTP/1.1 request with `Connection: close`: the status and the body
/// (chunked bodies are joined). The body is read by its length, since not
/// every server closes the connection when asked to.
fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    content_type: &str,
    body: &[u8],
) -> (u16, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    stream.set_read_timeout(Some(Duration::from_secs(60))).expect("timeout");
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n", body.len()));
    stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(body)).expect("send");
    let mut raw = Vec::new();
    let mut buffer = [0u8; 16 * 1024];
    loop {
        if let Some(answer) = complete(&raw) {
            return answer;
        }
        let read = stream.read(&mut buffer).unwrap_or_else(|e| panic!("{method} {path} on {addr}: {e}"));
        if read == 0 {
            let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a header block");
            let status = String::from_utf8_lossy(&raw[..split]).split(' ').nth(1).and_then(|s| s.parse().ok());
            return (status.expect("a status"), raw[split + 4..].to_vec());
        }
        raw.extend_from_slice(&buffer[..read]);
    }
}

/// The status and body of an answer, once all of it is in.
fn complete(raw: &[u8]) -> Option<(u16, Vec<u8>)> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    let body = &raw[split + 4..];
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("a status line");
    if head.contains("transfer-encoding: chunked") {
        return unchunk(body).map(|b| (status, b));
    }
    let length = head.lines().find_map(|l| l.strip_prefix("content-length:")).map(|l| l.trim().parse::<usize>());
    match length {
        Some(Ok(length)) if body.len() >= length => Some((status, body[..length].to_vec())),
        _ => None,
    }
}

/// A chunked body joined, once its last chunk is in.
pub(crate) fn unchunk(mut raw: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let end = raw.windows(2).position(|w| w == b"\r\n")?;
        let size = usize::from_str_radix(String::from_utf8_lossy(&raw[..end]).trim(), 16).ok()?;
        if size == 0 {
            return Some(out);
        }
        let chunk = raw.get(end + 2..end + 2 + size)?;
        out.extend_from_slice(chunk);
        raw = raw.get(end + 2 + size + 2..)?;
    }
}

/// A free loopback port (bound, read, released: the driver binds it next).
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// A program from an environment variable or the usual places, or a failure
/// that says how to install it.
pub(crate) fn tool(variable: &str, names: &[&str]) -> PathBuf {
    if let Some(path) = std::env::var_os(variable) {
        return PathBuf::from(path);
    }
    let paths = std::env::var_os("PATH").unwrap_or_default();
    let found = names.iter().find_map(|name| {
        std::env::split_paths(&paths).chain([PathBuf::from("/usr/bin")]).map(|d| d.join(name)).find(|p| p.is_file())
    });
    found.unwrap_or_else(|| {
        panic!(
            "{} not found (nor ${variable}): run scripts/install-tools to install Chromium and ChromeDriver",
            names[0]
        )
    })
}

/// A WebDriver session on a ChromeDriver process; both end on drop.
pub(crate) struct Browser {
    driver: String,
    session: String,
    _process: Killed,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = http(&self.driver, "DELETE", &format!("/session/{}", self.session), &[], "");
    }
}

impl Browser {
    pub(crate) fn start(profile: &Path) -> Browser {
        let chromedriver = tool("GRIDLOOP_CHROMEDRIVER", &["chromedriver"]);
        let chromium = tool("GRIDLOOP_CHROMIUM", &["chromium", "chromium-browser"]);
        let port = free_port();
        // The browser lives in New York: the console must still show the
        // district's times (Asia/Shanghai), as the server names the zone.
        let process = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .env("TZ", "America/New_York")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{} does not start ({e}): run scripts/install-tools", chromedriver.display()));
        let process = Killed(process);
        let driver = format!("127.0.0.1:{port}");
        let started = Instant::now();
        while TcpStream::connect(&driver).is_err() || http(&driver, "GET", "/status", &[], "").0 != 200 {
            assert!(started.elapsed() < WAIT, "chromedriver did not answer on {driver}");
            std::thread::sleep(Duration::from_millis(50));
        }
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--window-size=1366,768",
            "--lang=zh-CN",
            "--hide-scrollbars",
        ];
        let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        let capabilities = json!({ "capabilities": { "alwaysMatch": { "browserName": "chrome",
            "goog:chromeOptions": { "binary": chromium, "args": args } } } });
        let (status, body) = http(&driver, "POST", "/session", &[], &capabilities.to_string());
        assert_eq!(status, 200, "a browser session: {body}");
        let answer: Value = serde_json::from_str(&body).expect("json");
        let session = answer["value"]["sessionId"].as_str().expect("a session id").to_string();
        Browser { driver, session, _process: process }
    }

    /// A WebDriver command; its `value`, or the driver's error.
    pub(crate) fn call(&self, method: &str, command: &str, body: Value) -> Result<Value, String> {
        let path = format!("/session/{}{command}", self.session);
        let text = if method == "GET" { String::new() } else { body.to_string() };
        let (status, answer) = http(&self.driver, method, &path, &[], &text);
        let answer: Value = serde_json::from_str(&answer).map_err(|e| format!("{e}: {answer}"))?;
        if status != 200 {
            return Err(format!("{method} {command}: {}", answer["value"]["message"]));
        }
        Ok(answer["value"].clone())
    }

    pub(crate) fn open(&self, url: &str) {
        self.call("POST", "/url", json!({ "url": url })).expect("navigate");
    }

    pub(crate) fn find(&self, css: &str) -> Result<String, String> {
        let found = self.call("POST", "/element", json!({ "using": "css selector", "value": css }))?;
        Ok(found[ELEMENT].as_str().ok_or("no element reference")?.to_string())
    }

    /// The element, once it exists.
    pub(crate) fn wait(&self, css: &str) -> String {
        let started = Instant::now();
        loop {
            match self.find(css) {
                Ok(element) => return element,
                Err(error) if started.elapsed() > WAIT => {
                    let shown = self.script("return document.body.innerText.slice(0, 2000)");
                    panic!("{css} did not appear within {WAIT:?} ({error}); the page shows: {shown}")
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    pub(crate) fn click(&self, css: &str) {
        let element = self.wait(css);
        self.call("POST", &format!("/element/{element}/click"), json!({}))
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    pub(crate) fn type_into(&self, css: &str, text: &str) {
        let element = self.wait(css);
        self.call("POST", &format!("/element/{element}/value"), json!({ "text": text }))
            .unwrap_or_else(|e| panic!("type into {css}: {e}"));
    }

    /// The element's text. The console re-renders what the event stream
    /// changes, so an element found a moment ago may be replaced before its
    /// text is read ("stale element reference"): it is then found again.
    pub(crate) fn text(&self, css: &str) -> String {
        let started = Instant::now();
        loop {
            let element = self.wait(css);
            match self.call("GET", &format!("/element/{element}/text"), json!({})) {
                Ok(text) => return text.as_str().unwrap_or("").to_string(),
                Err(error) if error.contains("stale element") && started.elapsed() < WAIT => {}
                Err(error) => panic!("text of {css}: {error}"),
            }
        }
    }

    pub(crate) fn script(&self, script: &str) -> Value {
        self.call("POST", "/execute/sync", json!({ "script": script, "args": [] })).expect("script")
    }

    pub(crate) fn resize(&self, width: u32, height: u32) {
        self.call("POST", "/window/rect", json!({ "width": width, "height": height })).expect("resize");
    }

    /// Saves a PNG of the viewport, scrolled to the top, to
    /// `target/screenshots/NAME.png`.
    pub(crate) fn screenshot(&self, name: &str) -> PathBuf {
        self.script("window.scrollTo(0, 0); return null");
        let encoded = self.call("GET", "/screenshot", json!({})).expect("screenshot");
        let png = base64_decode(encoded.as_str().expect("base64 text"));
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        let dir = screenshots_dir();
        std::fs::create_dir_all(&dir).expect("target/screenshots");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write the screenshot");
        path
    }
}

pub(crate) fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub(crate) fn screenshots_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(target) => PathBuf::from(target).join("screenshots"),
        None => workspace().join("target/screenshots"),
    }
}

/// Standard base64 with padding, as WebDriver sends screenshots.
pub(crate) fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let bytes: Vec<u8> = text.bytes().filter(|c| !c.is_ascii_whitespace() && *c != b'=').collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= u32::from(value(*c)) << (18 - 6 * i);
        }
        out.extend_from_slice(&n.to_be_bytes()[1..chunk.len()]);
    }
    out
}

/// Waits until `check` holds, and says how long that took.
pub(crate) fn until(what: &str, mut check: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !check() {
        assert!(started.elapsed() < WAIT, "{what} did not happen within {WAIT:?}");
        std::thread::sleep(Duration::from_millis(25));
    }
    started.elapsed()
}
