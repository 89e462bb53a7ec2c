//! The Telegram bot end to end: the real dispatcher (`telegram::run`)
//! long-polls a fake Bot API on 127.0.0.1 and answers from the fixture
//! corpus. Tests wait on recorded calls with deadlines, never on sleeps.
//!
//! - `fake`: the fake Bot API server.
//! - `conversation`: private chats — commands, questions, buttons, feedback.
//! - `groups`: group chats and inline mode.
//! - `resilience`: 429, 500, malformed bodies, shutdown, restart.
//! - `staff`: staff commands, document imports, the `/add` dialogue.
//! - `webhook`: updates pushed to the webhook server instead of polled.
//! - `binary`: `safety-bot serve` as a process: token, exit codes, logs.

mod binary;
mod conversation;
mod fake;
mod groups;
mod resilience;
mod staff;
mod webhook;

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde_json::{Value, json};

use safety_bot::engine::{DecisionConfig, Engine};
use safety_bot::knowledge::{Entry, Knowledge};
use safety_bot::store::Store;
use safety_bot::telegram::{self, Config, RetryPolicy, Services, TelegramError};

use fake::FakeBotApi;

/// How long a test waits for something that should happen. Generous: the
/// machine is shared, and nothing waits this long unless it is broken.
pub const WITHIN: Duration = Duration::from_secs(30);
/// teloxide waits 10 s on every 5xx before reading the answer.
pub const WITHIN_5XX: Duration = Duration::from_secs(60);

pub const TOKEN: &str = "123456789:TEST-token_for-the-fake-api";
pub const USER: i64 = 4242;
pub const GROUP: i64 = -100_555;

pub fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/knowledge")
}

pub fn fixture_knowledge() -> Knowledge {
    let (knowledge, problems) =
        safety_bot::knowledge::load_dir(&fixture_dir()).expect("fixture loads");
    assert!(problems.is_empty(), "fixture problems: {problems:?}");
    knowledge
}

/// One engine over the fixture corpus, shared by the tests.
pub fn fixture_engine() -> Arc<Engine> {
    static ENGINE: OnceLock<Arc<Engine>> = OnceLock::new();
    ENGINE
        .get_or_init(|| Arc::new(Engine::in_memory(fixture_knowledge()).expect("engine")))
        .clone()
}

/// The fixture corpus with an engine that never feels sure enough to
/// answer: every matching question gets "您是不是想问…", whatever the
/// decision thresholds are tuned to.
pub fn suggesting_engine() -> Arc<Engine> {
    static ENGINE: OnceLock<Arc<Engine>> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            let config = DecisionConfig {
                answer_coverage: 2.0,
                suggest_coverage: 0.0,
                related_coverage: 0.0,
                ..DecisionConfig::default()
            };
            Arc::new(
                Engine::in_memory(fixture_knowledge())
                    .expect("engine")
                    .with_config(config),
            )
        })
        .clone()
}

/// The question and id of an entry whose answer is longer than a message.
pub const LONG_QUESTION: &str = "小区应急疏散演练的完整流程是什么？";
pub const LONG_ID: &str = "drill-full-procedure";

/// The fixture corpus plus one very long entry.
pub fn long_answer_engine() -> Arc<Engine> {
    static ENGINE: OnceLock<Arc<Engine>> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            let mut knowledge = fixture_knowledge();
            let paragraphs: Vec<String> = (1..=50)
                .map(|n| {
                    format!(
                        "第{n}步：按照预案组织居民沿疏散路线撤离到集合点，楼长逐户敲门确认无人滞留，清点人数后向指挥部报告，遇到行动不便的老人和儿童要安排专人协助，全程不得乘坐电梯，保持通道畅通，演练结束后总结问题并改进预案。<注意&安全>"
                    )
                })
                .collect();
            knowledge.entries.push(Entry {
                id: LONG_ID.into(),
                category: "家庭应急准备".into(),
                question: LONG_QUESTION.into(),
                alternates: vec!["应急疏散演练流程".into()],
                answer: paragraphs.join("\n\n"),
                keywords: vec!["疏散演练".into()],
                source: "《生产安全事故应急演练基本规范》".into(),
                reviewed: String::new(),
            });
            Arc::new(Engine::in_memory(knowledge).expect("engine"))
        })
        .clone()
}

/// How a test wants the bot set up.
pub struct Setup {
    pub engine: Arc<Engine>,
    /// Real Telegram limits (with the bot's pacing) or none.
    pub real_limits: bool,
    pub retry: RetryPolicy,
}

impl Default for Setup {
    fn default() -> Setup {
        Setup {
            engine: fixture_engine(),
            real_limits: false,
            // Short waits: the policy is the same, only faster.
            retry: RetryPolicy {
                attempts: 4,
                first_delay: Duration::from_millis(50),
                max_delay: Duration::from_millis(200),
                max_flood_waits: 5,
            },
        }
    }
}

/// A running bot against a fake Bot API, with its own store and data
/// directory.
pub struct Harness {
    pub fake: FakeBotApi,
    pub store: Arc<Store>,
    pub data_dir: tempfile::TempDir,
    pub engine: Arc<Engine>,
    retry: RetryPolicy,
    real_limits: bool,
    /// The staff operations over `store` and `engine`, when the test
    /// wants staff (see `start_staff`).
    staff: Option<Arc<safety_bot::staff::Staff>>,
    staff_ids: Vec<u64>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    bot: Option<tokio::task::JoinHandle<Result<(), TelegramError>>>,
}

impl Harness {
    pub async fn start() -> Harness {
        Harness::start_with(Setup::default()).await
    }

    pub async fn start_with(setup: Setup) -> Harness {
        let mut harness = Harness::new(setup).await;
        harness.launch();
        harness
    }

    /// The fake and the store, without the bot yet (see `launch`).
    pub async fn new(setup: Setup) -> Harness {
        let fake = FakeBotApi::start(TOKEN).await;
        let data_dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(data_dir.path()).unwrap());
        Harness {
            fake,
            store,
            data_dir,
            engine: setup.engine,
            retry: setup.retry,
            real_limits: setup.real_limits,
            staff: None,
            staff_ids: Vec::new(),
            stop: None,
            bot: None,
        }
    }

    /// A bot with a staff side over its own store and an in-memory index
    /// of the fixture corpus; `ids` are the staff.
    pub async fn start_staff(ids: &[u64]) -> Harness {
        let mut harness = Harness::new(Setup::default()).await;
        let store = Store::open(harness.data_dir.path()).unwrap();
        let opened = safety_bot::staff::assemble(fixture_knowledge(), store, None).unwrap();
        harness.engine = opened.engine;
        harness.store = opened.store;
        harness.staff = Some(Arc::new(opened.staff));
        harness.staff_ids = ids.to_vec();
        harness.launch();
        harness
    }

    pub fn config(&self) -> Config {
        let mut config = Config::new(TOKEN.to_string());
        config.api_url = Some(self.fake.url.clone());
        // Proxy variables of the machine must not reroute loopback calls.
        config.client = Some(
            teloxide::net::default_reqwest_settings()
                .no_proxy()
                .build()
                .unwrap(),
        );
        if !self.real_limits {
            config.limits = safety_bot::telegram::PaceLimits::UNLIMITED;
        }
        config.retry = self.retry;
        config.poll_timeout = Duration::from_secs(5);
        config.poll_backoff = (Duration::from_millis(50), Duration::from_millis(200));
        config.shutdown_grace = WITHIN;
        config
    }

    pub fn services(&self) -> Services {
        Services {
            engine: self.engine.clone(),
            store: self.store.clone(),
            data_dir: self.data_dir.path().to_path_buf(),
            staff: self.staff.clone(),
            staff_ids: self.staff_ids.clone(),
        }
    }

    /// Starts the bot (again, after `stop`).
    pub fn launch(&mut self) {
        self.launch_with(self.config());
    }

    pub fn launch_with(&mut self, config: Config) {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let run = telegram::run(config, self.services(), async move {
            let _ = stopped.await;
        });
        self.stop = Some(stop);
        self.bot = Some(tokio::spawn(run));
    }

    /// Asks the bot to stop (as a signal would).
    pub fn signal_stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    pub fn is_running(&self) -> bool {
        self.bot.as_ref().is_some_and(|bot| !bot.is_finished())
    }

    /// Waits for the bot to finish after `signal_stop`.
    pub async fn join(&mut self) {
        let bot = self.bot.take().expect("bot running");
        let result = tokio::time::timeout(WITHIN, bot)
            .await
            .expect("bot stops within the deadline")
            .expect("bot task does not panic");
        assert!(result.is_ok(), "bot ended with {result:?}");
    }

    /// Graceful stop: signal, then wait.
    pub async fn stop(mut self) {
        self.signal_stop();
        self.join().await;
    }

    /// Sends `text` privately and returns the first message of the answer.
    pub async fn ask(&self, text: &str) -> Value {
        self.send_and_wait(USER, message(USER, USER, text)).await
    }

    /// Queues `update` and returns the next message the bot sends to
    /// `chat` (replies in one chat go out in order).
    pub async fn send_and_wait(&self, chat: i64, update: Value) -> Value {
        let before = self.sent_to(chat).len();
        self.fake.push(update);
        self.wait_sent(chat, before + 1, WITHIN)
            .await
            .remove(before)
    }

    /// Every `sendMessage` body sent to `chat` so far.
    pub fn sent_to(&self, chat: i64) -> Vec<Value> {
        self.fake
            .calls("sendmessage")
            .into_iter()
            .map(|c| c.body)
            .filter(|b| b["chat_id"] == json!(chat))
            .collect()
    }

    /// Waits for `count` messages to `chat` in all.
    pub async fn wait_sent(&self, chat: i64, count: usize, within: Duration) -> Vec<Value> {
        self.fake
            .wait_calls("sendmessage", count, within, |body| {
                body["chat_id"] == json!(chat)
            })
            .await
            .into_iter()
            .map(|c| c.body)
            .collect()
    }
}

/// A text message update (without `update_id`, which the fake assigns).
pub fn message(chat: i64, from: i64, text: &str) -> Value {
    json!({
        "message": {
            "message_id": next_message_id(),
            "date": 1_700_000_000,
            "chat": chat_json(chat),
            "from": user_json(from),
            "text": text
        }
    })
}

/// A message update with other content (a sticker, a photo…).
pub fn message_with(chat: i64, from: i64, content: Value) -> Value {
    let mut update = json!({
        "message": {
            "message_id": next_message_id(),
            "date": 1_700_000_000,
            "chat": chat_json(chat),
            "from": user_json(from)
        }
    });
    for (key, value) in content.as_object().expect("an object").clone() {
        update["message"][key] = value;
    }
    update
}

/// A tap on a button under a message the bot sent.
pub fn tap(from: i64, sent: &Value, data: &str) -> Value {
    let chat = sent["chat_id"].as_i64().unwrap();
    json!({
        "callback_query": {
            "id": format!("cbq-{}", next_message_id()),
            "from": user_json(from),
            "chat_instance": "ci-1",
            "data": data,
            "message": {
                "message_id": next_message_id(),
                "date": 1_700_000_000,
                "chat": chat_json(chat),
                "from": {"id": fake::BOT_ID, "is_bot": true, "first_name": "安全问答助手", "username": fake::BOT_USERNAME},
                "text": sent["text"].as_str().unwrap_or("")
            }
        }
    })
}

pub fn inline_query(from: i64, query: &str) -> Value {
    json!({
        "inline_query": {
            "id": format!("iq-{}", next_message_id()),
            "from": user_json(from),
            "query": query,
            "offset": "",
            "chat_type": "private"
        }
    })
}

pub fn user_json(id: i64) -> Value {
    json!({"id": id, "is_bot": false, "first_name": "居民", "language_code": "zh-hans"})
}

pub fn chat_json(id: i64) -> Value {
    if id < 0 {
        json!({"id": id, "type": "supergroup", "title": "小区安全群"})
    } else {
        json!({"id": id, "type": "private", "first_name": "居民"})
    }
}

fn next_message_id() -> i64 {
    use std::sync::atomic::{AtomicI64, Ordering};
    static NEXT: AtomicI64 = AtomicI64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The callback data of every button under a sent message, row by row.
pub fn buttons(sent: &Value) -> Vec<Vec<String>> {
    sent["reply_markup"]["inline_keyboard"]
        .as_array()
        .map(|rows| {
            rows.iter()
                .map(|row| {
                    row.as_array()
                        .unwrap()
                        .iter()
                        .map(|b| {
                            b["callback_data"]
                                .as_str()
                                .or_else(|| b["url"].as_str())
                                .unwrap_or("")
                                .to_string()
                        })
                        .collect()
                })
                .collect()
        })
        .unwrap_or_default()
}

pub fn all_buttons(sent: &Value) -> Vec<String> {
    buttons(sent).into_iter().flatten().collect()
}

pub fn text_of(sent: &Value) -> &str {
    sent["text"].as_str().unwrap_or("")
}
