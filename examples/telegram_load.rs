//! How fast the Telegram front end answers, measured end to end on
//! loopback: the real dispatcher long-polls the test suite's fake Bot API,
//! residents in many private chats ask questions from the fixture corpus,
//! and we time each question from the moment it is queued to the moment its
//! answer reaches the fake.
//!
//! ```sh
//! cargo run --example telegram_load -- 400 40
//! ```
//! (400 questions from 40 chats.) Pacing is off, so the figure is the bot's
//! own cost — Telegram's real limits (30 messages a second overall, 1 per
//! second per chat) would bound it long before that; `telegram_limits`
//! measures the bot under them.

#[path = "../tests/telegram/fake.rs"]
#[allow(dead_code)]
mod fake;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use safety_bot::engine::Engine;
use safety_bot::store::Store;
use safety_bot::telegram::{self, Config, PaceLimits, Services};

const TOKEN: &str = "123456789:LOAD-test-token";
const QUESTIONS: &[&str] = &[
    "燃气报警器装在哪",
    "电动车能在楼道充电吗",
    "心肺复苏怎么做",
    "煤气管子老化了多久要换",
    "灭火器压力表指针在红区还能用吗",
    "今天天气怎么样",
    "家里煤气味很重",
    "电动车电梯国标",
];

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let total: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(400);
    let chats: i64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(40);

    let knowledge_dir =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/knowledge");
    let (knowledge, _) = safety_bot::knowledge::load_dir(&knowledge_dir).expect("fixture");
    let engine = Arc::new(Engine::in_memory(knowledge).expect("engine"));
    let data_dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(data_dir.path()).unwrap());

    let fake = fake::FakeBotApi::start(TOKEN).await;
    let mut config = Config::new(TOKEN.to_string());
    config.api_url = Some(fake.url.clone());
    config.client = Some(
        teloxide::net::default_reqwest_settings()
            .no_proxy()
            .build()
            .unwrap(),
    );
    config.limits = PaceLimits::UNLIMITED;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let services = Services {
        engine,
        store: store.clone(),
        data_dir: data_dir.path().to_path_buf(),
        staff: None,
        staff_ids: Vec::new(),
    };
    let bot = tokio::spawn(telegram::run(config, services, async move {
        let _ = stopped.await;
    }));
    fake.wait_call("getupdates", Duration::from_secs(30), |_| true)
        .await;

    // Queue everything at once, as a burst after an outage would arrive.
    let started = Instant::now();
    let mut queued = Vec::with_capacity(total);
    for n in 0..total {
        let chat = 10_000 + (n as i64 % chats);
        let text = QUESTIONS[n % QUESTIONS.len()];
        fake.push(json!({"message": {
            "message_id": n + 1, "date": 1_700_000_000,
            "chat": {"id": chat, "type": "private", "first_name": "居民"},
            "from": {"id": chat, "is_bot": false, "first_name": "居民"},
            "text": text
        }}));
        queued.push(Instant::now());
    }
    let answers = fake
        .wait_calls("sendmessage", total, Duration::from_secs(600), |_| true)
        .await;
    let elapsed = started.elapsed();

    // Answers in one chat go out in question order: pair them up per chat.
    let mut latencies: Vec<Duration> = Vec::with_capacity(total);
    for chat in 0..chats {
        let asked = (0..total)
            .filter(|n| *n as i64 % chats == chat)
            .map(|n| queued[n]);
        let answered = answers
            .iter()
            .filter(|c| c.body["chat_id"] == json!(10_000 + chat))
            .map(|c| c.at);
        latencies.extend(asked.zip(answered).map(|(q, a)| a.duration_since(q)));
    }
    latencies.sort();
    let at = |p: f64| latencies[((latencies.len() as f64 - 1.0) * p) as usize];
    println!(
        "{total} questions from {chats} chats answered in {:.2} s ({:.0} answers/s); latency p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        at(0.5).as_secs_f64() * 1e3,
        at(0.9).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        latencies.last().unwrap().as_secs_f64() * 1e3,
    );
    println!(
        "question log rows: {}",
        store.question_count().unwrap_or_default()
    );
    let _ = stop.send(());
    let _ = bot.await;
}
