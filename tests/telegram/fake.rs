//! A fake Bot API on 127.0.0.1, long-polled by the real dispatcher.
//!
//! It keeps an update queue (`getUpdates` honours `offset`, `limit` and
//! `timeout`, waking on a `Notify` when an update is pushed), records every
//! call as `(method, body)`, and can be told to fail the next calls of a
//! method (429 with `retry_after`, 500, a malformed body) or to hold their
//! answers until released. Files registered with `add_file` are answered
//! by `getFile` and served under `/file/bot<token>/<path>` (each download
//! recorded as a `download` call). Method names arrive in PascalCase from teloxide
//! and are matched in lower case.
//!
//! `enforce_limits` makes it apply Telegram's flood limits (used by the
//! hand-run load test `examples/telegram_limits.rs`): a message sent over
//! the limit is answered 429 with `retry_after` and recorded as
//! `<method>/429`, so waiting for `sendmessage` calls counts only the
//! messages Telegram would have delivered.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use tokio::sync::{Notify, Semaphore};

pub const BOT_ID: u64 = 7_000_001;
pub const BOT_USERNAME: &str = "safety_test_bot";

/// A failure to answer the next call of a method with.
#[derive(Debug, Clone)]
pub enum Fault {
    /// 429 Too Many Requests with `parameters.retry_after`.
    RetryAfter(u32),
    /// 500 with Telegram's JSON error body.
    ServerError,
    /// 200 with a body that is not JSON.
    Malformed,
    /// Any status with any JSON body.
    Reply(u16, Value),
}

#[derive(Debug, Clone)]
pub struct Call {
    /// Lower case: `sendmessage`, `getupdates`…
    pub method: String,
    pub body: Value,
    pub at: Instant,
}

struct Inner {
    queue: Vec<Value>,
    next_update_id: i64,
    /// The highest offset a `getUpdates` has confirmed.
    confirmed: i64,
    calls: Vec<Call>,
    faults: HashMap<String, VecDeque<Fault>>,
    holds: HashMap<String, Arc<Semaphore>>,
    next_message_id: i64,
    /// file_id → (file_path, bytes).
    files: HashMap<String, (String, Vec<u8>)>,
    limits: Option<FloodLimits>,
}

/// Telegram's flood limits as sliding one-second windows over the messages
/// it accepted: at most `overall` in any second, at most `per_chat` in any
/// second in one chat. Only accepted messages fill the windows (a rejected
/// one was never delivered).
pub struct FloodLimits {
    pub overall: usize,
    pub per_chat: usize,
    /// Lower-case methods the windows apply to.
    pub methods: Vec<String>,
    accepted: VecDeque<Instant>,
    accepted_in_chat: HashMap<i64, VecDeque<Instant>>,
}

impl FloodLimits {
    pub fn new(overall: usize, per_chat: usize, methods: &[&str]) -> FloodLimits {
        FloodLimits {
            overall,
            per_chat,
            methods: methods.iter().map(|m| m.to_lowercase()).collect(),
            accepted: VecDeque::new(),
            accepted_in_chat: HashMap::new(),
        }
    }

    /// Accepts a message to `chat` at `now`, or says how many whole
    /// seconds to wait (Telegram's `retry_after` is in seconds, at least 1)
    /// and which window was full: `overall`, `chat` or `both`.
    fn admit(&mut self, chat: i64, now: Instant) -> Result<(), (u32, &'static str)> {
        const WINDOW: Duration = Duration::from_secs(1);
        let expire = |window: &mut VecDeque<Instant>| {
            while window
                .front()
                .is_some_and(|t| now.duration_since(*t) >= WINDOW)
            {
                window.pop_front();
            }
        };
        expire(&mut self.accepted);
        let in_chat = self.accepted_in_chat.entry(chat).or_default();
        expire(in_chat);
        let mut free_at = None;
        let overall_full = self.accepted.len() >= self.overall;
        if overall_full {
            free_at = self.accepted.front().map(|t| *t + WINDOW);
        }
        let chat_full = in_chat.len() >= self.per_chat;
        if chat_full {
            let chat_free = in_chat.front().map(|t| *t + WINDOW);
            free_at = free_at.max(chat_free);
        }
        if let Some(free_at) = free_at {
            let wait = free_at.saturating_duration_since(now);
            let full = match (overall_full, chat_full) {
                (true, true) => "both",
                (true, false) => "overall",
                _ => "chat",
            };
            return Err(((wait.as_secs_f64().ceil() as u32).max(1), full));
        }
        in_chat.push_back(now);
        self.accepted.push_back(now);
        Ok(())
    }
}

struct Shared {
    token: String,
    inner: Mutex<Inner>,
    updates_changed: Notify,
    calls_changed: Notify,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub struct FakeBotApi {
    pub url: String,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeBotApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeBotApi {
    /// Starts the fake on a free loopback port; `token` is the only token
    /// it accepts (others get 401 like Telegram).
    pub async fn start(token: &str) -> FakeBotApi {
        let shared = Arc::new(Shared {
            token: token.to_string(),
            inner: Mutex::new(Inner {
                queue: Vec::new(),
                next_update_id: 1,
                confirmed: 0,
                calls: Vec::new(),
                faults: HashMap::new(),
                holds: HashMap::new(),
                next_message_id: 1000,
                files: HashMap::new(),
                limits: None,
            }),
            updates_changed: Notify::new(),
            calls_changed: Notify::new(),
        });
        let app = Router::new()
            .route("/{token}/{method}", post(handle))
            .route("/file/{token}/{*path}", axum::routing::get(download))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeBotApi {
            url,
            shared,
            server,
        }
    }

    /// Makes a file available to `getFile` and the download URL.
    pub fn add_file(&self, file_id: &str, path: &str, bytes: Vec<u8>) {
        self.shared
            .lock()
            .files
            .insert(file_id.to_string(), (path.to_string(), bytes));
    }

    /// Queues an update; `update_id` is filled in. Returns the id.
    pub fn push(&self, mut update: Value) -> i64 {
        let id = {
            let mut inner = self.shared.lock();
            let id = inner.next_update_id;
            inner.next_update_id += 1;
            update["update_id"] = json!(id);
            inner.queue.push(update);
            id
        };
        self.shared.updates_changed.notify_waiters();
        id
    }

    /// From now on, answers messages over `limits` with 429.
    #[allow(dead_code)] // only the load test example enforces limits
    pub fn enforce_limits(&self, limits: FloodLimits) {
        self.shared.lock().limits = Some(limits);
    }

    /// Answers the next call of `method` with `fault` (several queue up).
    pub fn fail_next(&self, method: &str, fault: Fault) {
        self.shared
            .lock()
            .faults
            .entry(method.to_lowercase())
            .or_default()
            .push_back(fault);
    }

    /// Holds the answers to `method` until [`FakeBotApi::release`]; the
    /// calls are recorded on arrival.
    pub fn hold(&self, method: &str) {
        self.shared
            .lock()
            .holds
            .insert(method.to_lowercase(), Arc::new(Semaphore::new(0)));
    }

    pub fn release(&self, method: &str) {
        if let Some(gate) = self.shared.lock().holds.remove(&method.to_lowercase()) {
            gate.add_permits(Semaphore::MAX_PERMITS / 2);
        }
    }

    /// Every call so far of `method` (lower case).
    pub fn calls(&self, method: &str) -> Vec<Call> {
        self.shared
            .lock()
            .calls
            .iter()
            .filter(|c| c.method == method)
            .cloned()
            .collect()
    }

    /// The highest offset `getUpdates` has confirmed.
    pub fn confirmed_offset(&self) -> i64 {
        self.shared.lock().confirmed
    }

    /// Waits until `count` calls of `method` match `predicate`; panics with
    /// the calls seen when `within` passes first.
    pub async fn wait_calls(
        &self,
        method: &str,
        count: usize,
        within: Duration,
        predicate: impl Fn(&Value) -> bool,
    ) -> Vec<Call> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let notified = self.shared.calls_changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let found: Vec<Call> = self
                .calls(method)
                .into_iter()
                .filter(|c| predicate(&c.body))
                .collect();
            if found.len() >= count {
                return found;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                let seen: Vec<String> = self
                    .shared
                    .lock()
                    .calls
                    .iter()
                    .map(|c| format!("{} {}", c.method, c.body))
                    .collect();
                panic!(
                    "waited {within:?} for {count} × {method} matching, found {}; calls:\n{}",
                    found.len(),
                    seen.join("\n")
                );
            }
        }
    }

    pub async fn wait_call(
        &self,
        method: &str,
        within: Duration,
        predicate: impl Fn(&Value) -> bool,
    ) -> Call {
        self.wait_calls(method, 1, within, predicate)
            .await
            .remove(0)
    }
}

fn me() -> Value {
    json!({
        "id": BOT_ID,
        "is_bot": true,
        "first_name": "安全问答助手",
        "username": BOT_USERNAME,
        "can_join_groups": true,
        "can_read_all_group_messages": false,
        "supports_inline_queries": true,
        "can_connect_to_business": false,
        "has_main_web_app": false
    })
}

fn chat(id: i64) -> Value {
    if id < 0 {
        json!({"id": id, "type": "supergroup", "title": "小区安全群"})
    } else {
        json!({"id": id, "type": "private", "first_name": "居民"})
    }
}

fn ok(result: Value) -> Response {
    (
        StatusCode::OK,
        axum::Json(json!({"ok": true, "result": result})),
    )
        .into_response()
}

/// The text fields of a `multipart/form-data` body (teloxide sends
/// `setWebhook` that way, since it may carry a certificate file).
fn multipart_fields(content_type: &str, body: &[u8]) -> Option<Value> {
    let boundary = content_type.split("boundary=").nth(1)?.trim_matches('"');
    let text = String::from_utf8_lossy(body);
    let mut fields = serde_json::Map::new();
    for part in text.split(&format!("--{boundary}")) {
        let Some((headers, value)) = part.split_once("\r\n\r\n") else {
            continue;
        };
        let Some(name) = headers
            .split("name=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
        else {
            continue;
        };
        let value = value.strip_suffix("\r\n").unwrap_or(value);
        fields.insert(name.to_string(), json!(value));
    }
    Some(Value::Object(fields))
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    Path((token, method)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let method = method.to_lowercase();
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let body: Value = if content_type.starts_with("multipart/form-data") {
        multipart_fields(content_type, &body).unwrap_or(Value::Null)
    } else {
        serde_json::from_slice(&body).unwrap_or(Value::Null)
    };
    let (fault, gate) = {
        let mut inner = shared.lock();
        // Confirm in the same step as recording, so a test that saw the
        // call also sees its effect.
        if method == "getupdates" {
            confirm(&mut inner, &body);
        }
        let now = Instant::now();
        let chat_id = body["chat_id"]
            .as_i64()
            .or_else(|| body["chat_id"].as_str().and_then(|s| s.parse().ok()))
            .unwrap_or(0);
        let flood = match &mut inner.limits {
            Some(limits) if limits.methods.contains(&method) => limits.admit(chat_id, now).err(),
            _ => None,
        };
        let mut recorded = body.clone();
        if let (Some((_, full)), Some(fields)) = (flood, recorded.as_object_mut()) {
            // Which window was full, for the load test's report.
            fields.insert("_full_window".to_string(), json!(full));
        }
        inner.calls.push(Call {
            method: match flood {
                Some(_) => format!("{method}/429"),
                None => method.clone(),
            },
            body: recorded,
            at: now,
        });
        let fault = match flood {
            Some((seconds, _)) => Some(Fault::RetryAfter(seconds)),
            None => inner.faults.get_mut(&method).and_then(VecDeque::pop_front),
        };
        (fault, inner.holds.get(&method).cloned())
    };
    shared.calls_changed.notify_waiters();
    if token != format!("bot{}", shared.token) {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"ok": false, "error_code": 401, "description": "Unauthorized"})),
        )
            .into_response();
    }
    if let Some(fault) = fault {
        return match fault {
            Fault::RetryAfter(seconds) => (
                StatusCode::TOO_MANY_REQUESTS,
                axum::Json(json!({
                    "ok": false,
                    "error_code": 429,
                    "description": format!("Too Many Requests: retry after {seconds}"),
                    "parameters": {"retry_after": seconds}
                })),
            )
                .into_response(),
            Fault::ServerError => (
                StatusCode::INTERNAL_SERVER_ERROR,
                axum::Json(
                    json!({"ok": false, "error_code": 500, "description": "Internal Server Error"}),
                ),
            )
                .into_response(),
            Fault::Malformed => {
                (StatusCode::OK, "<html><body>502 Bad Gateway</body>").into_response()
            }
            Fault::Reply(status, body) => (
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                axum::Json(body),
            )
                .into_response(),
        };
    }
    if let Some(gate) = gate {
        let _ = gate.acquire().await;
    }
    match method.as_str() {
        "getme" => ok(me()),
        "getupdates" => ok(get_updates(&shared, &body).await),
        "getfile" => {
            let file_id = body["file_id"].as_str().unwrap_or("").to_string();
            let found = shared.lock().files.get(&file_id).cloned();
            match found {
                Some((path, bytes)) => ok(json!({
                    "file_id": file_id,
                    "file_unique_id": format!("u-{file_id}"),
                    "file_size": bytes.len(),
                    "file_path": path
                })),
                None => (
                    StatusCode::BAD_REQUEST,
                    axum::Json(json!({"ok": false, "error_code": 400, "description": "Bad Request: invalid file_id"})),
                )
                    .into_response(),
            }
        }
        "sendmessage" | "editmessagetext" | "senddocument" | "sendphoto" => {
            // Multipart bodies carry the chat id as text.
            let chat_id = body["chat_id"]
                .as_i64()
                .or_else(|| body["chat_id"].as_str().and_then(|s| s.parse().ok()))
                .unwrap_or(0);
            let message_id = match body["message_id"].as_i64() {
                Some(id) => id,
                None => {
                    let mut inner = shared.lock();
                    inner.next_message_id += 1;
                    inner.next_message_id
                }
            };
            let mut from = me();
            for key in [
                "can_join_groups",
                "can_read_all_group_messages",
                "supports_inline_queries",
                "can_connect_to_business",
                "has_main_web_app",
            ] {
                from.as_object_mut().unwrap().remove(key);
            }
            ok(json!({
                "message_id": message_id,
                "date": 1_700_000_000,
                "chat": chat(chat_id),
                "from": from,
                "text": body["text"].as_str().unwrap_or("")
            }))
        }
        "getwebhookinfo" => ok(json!({
            "url": "",
            "has_custom_certificate": false,
            "pending_update_count": 0
        })),
        _ => ok(json!(true)),
    }
}

/// A file download: `/file/bot<token>/<path>`.
async fn download(
    State(shared): State<Arc<Shared>>,
    Path((token, path)): Path<(String, String)>,
) -> Response {
    let found = {
        let mut inner = shared.lock();
        inner.calls.push(Call {
            method: "download".to_string(),
            body: json!({"path": path}),
            at: Instant::now(),
        });
        inner
            .files
            .values()
            .find(|(p, _)| *p == path)
            .map(|(_, bytes)| bytes.clone())
    };
    shared.calls_changed.notify_waiters();
    if token != format!("bot{}", shared.token) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    match found {
        Some(bytes) => (StatusCode::OK, bytes).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Telegram forgets every update below the offset a `getUpdates` asks for.
fn confirm(inner: &mut Inner, body: &Value) {
    let offset = body["offset"].as_i64().unwrap_or(0);
    if offset > 0 {
        inner
            .queue
            .retain(|u| u["update_id"].as_i64().unwrap_or(0) >= offset);
        inner.confirmed = inner.confirmed.max(offset);
    }
}

/// Long polling as Telegram does it (the offset was confirmed on arrival):
/// answer at once if anything is waiting, else wait up to `timeout` seconds.
async fn get_updates(shared: &Shared, body: &Value) -> Value {
    let limit = body["limit"].as_u64().unwrap_or(100).clamp(1, 100) as usize;
    let timeout = Duration::from_secs(body["timeout"].as_u64().unwrap_or(0));
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let notified = shared.updates_changed.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let batch: Vec<Value> = shared.lock().queue.iter().take(limit).cloned().collect();
        if !batch.is_empty() {
            return Value::Array(batch);
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            return json!([]);
        }
    }
}
