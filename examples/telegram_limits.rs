//! The bot under Telegram's flood limits, run by hand (not part of CI):
//! a fake Bot API on 127.0.0.1 that enforces them receives a burst of
//! 1,000 questions from 300 private chats, and the real dispatcher answers
//! them from the shipped corpus with the production `Throttle` settings.
//!
//! ```sh
//! cargo run --release --example telegram_limits            # 1,000 questions, 300 chats
//! cargo run --release --example telegram_limits -- 200 50  # fewer
//! cargo run --release --example telegram_limits -- 1000 300 1000  # pacer windows of 1,000 ms
//! ```
//!
//! The fake applies Telegram's limits as sliding one-second windows over
//! the messages it accepted: at most 30 `sendMessage` a second overall and
//! 1 a second per chat, answering 429 with `parameters.retry_after` (whole
//! seconds until the window frees, at least 1) when a message breaks
//! either. `sendChatAction` ("typing…") is not counted: Telegram's limits
//! are on messages, and the bot does not pace chat actions;
//! the report says how many there were and how many would have broken the
//! windows had they counted.
//!
//! It reports the time from the burst being queued until the last answer
//! arrived, the 429s the bot caused (target 0), and checks every question
//! was answered exactly once: each distinct question is first asked alone
//! in a chat of its own to learn its answer, then in the burst every chat
//! must receive exactly the answers to its questions, in order. Bounded:
//! the burst must be answered within 10 minutes, then 3 s more are
//! watched for late duplicates; the process exits non-zero if anything was
//! lost, doubled or throttled.

#[path = "../tests/telegram/fake.rs"]
#[allow(dead_code)]
mod fake;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use safety_bot::engine::Engine;
use safety_bot::store::Store;
use safety_bot::telegram::{self, Config, Services, TELEGRAM_LIMITS};

const TOKEN: &str = "123456789:LIMITS-test-token";
/// Residents' questions as typed: in scope, colloquial, out of scope, urgent.
const QUESTIONS: &[&str] = &[
    "燃气报警器装在哪",
    "电动车能在楼道充电吗",
    "心肺复苏怎么做",
    "煤气管子老化了多久要换",
    "灭火器压力表指针在红区还能用吗",
    "今天天气怎么样",
    "家里煤气味很重",
    "电瓶车电池鼓包了还能充吗",
    "地震来了在家里躲哪里",
    "小孩去河边游泳要注意啥",
    "高层着火了能坐电梯吗",
    "有人触电了怎么办",
    "个人所得税怎么办理",
    "台风天窗户要怎么弄",
    "你好",
    "楼道里堆杂物有人管吗",
];
const CALIBRATION_CHAT: i64 = 900_000;
const BURST_CHAT: i64 = 10_000;

fn message(n: usize, chat: i64, text: &str) -> Value {
    json!({"message": {
        "message_id": n + 1, "date": 1_700_000_000,
        "chat": {"id": chat, "type": "private", "first_name": "居民"},
        "from": {"id": chat, "is_bot": false, "first_name": "居民"},
        "text": text
    }})
}

fn texts_for(calls: &[fake::Call], chat: i64) -> Vec<String> {
    calls
        .iter()
        .filter(|c| c.body["chat_id"] == json!(chat))
        .map(|c| c.body["text"].as_str().unwrap_or("").to_string())
        .collect()
}

/// The most messages in any one-second window starting at a call.
fn busiest_second(mut times: Vec<Instant>) -> usize {
    times.sort();
    let mut best = 0;
    let mut start = 0;
    for end in 0..times.len() {
        while times[end].duration_since(times[start]) >= Duration::from_secs(1) {
            start += 1;
        }
        best = best.max(end - start + 1);
    }
    best
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let total: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let chats: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(300)
        .max(1);
    // A third argument tries other windows in the pacer, in milliseconds
    // (the production margin otherwise).
    let window_ms: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(TELEGRAM_LIMITS.window.as_millis() as u64);

    let knowledge_dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("knowledge");
    let (knowledge, _) = safety_bot::knowledge::load_dir(&knowledge_dir).expect("shipped corpus");
    let engine = Arc::new(Engine::in_memory(knowledge).expect("engine"));
    let data_dir = tempfile::tempdir().expect("temporary directory");
    let store = Arc::new(Store::open(data_dir.path()).expect("store"));

    let fake = fake::FakeBotApi::start(TOKEN).await;
    fake.enforce_limits(fake::FloodLimits::new(30, 1, &["sendMessage"]));
    // Production settings: the pacer at Telegram's limits, default retries.
    let mut config = Config::new(TOKEN.to_string());
    assert_eq!(config.limits, TELEGRAM_LIMITS);
    config.limits.window = Duration::from_millis(window_ms);
    config.limits.chat_interval = Duration::from_millis(window_ms);
    let config_is_production = config.limits == TELEGRAM_LIMITS;
    config.api_url = Some(fake.url.clone());
    config.client = Some(
        teloxide::net::default_reqwest_settings()
            .no_proxy()
            .build()
            .expect("HTTP client"),
    );
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

    // Calibration: each distinct question alone in a chat of its own, to
    // learn the message(s) that answer it.
    for (n, text) in QUESTIONS.iter().enumerate() {
        fake.push(message(n, CALIBRATION_CHAT + n as i64, text));
    }
    let in_calibration = |body: &Value| {
        body["chat_id"]
            .as_i64()
            .is_some_and(|c| c >= CALIBRATION_CHAT)
    };
    fake.wait_calls(
        "sendmessage",
        QUESTIONS.len(),
        Duration::from_secs(60),
        in_calibration,
    )
    .await;
    // An answer may be several messages: let any rest arrive.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let calibration = fake.calls("sendmessage");
    let expected: Vec<Vec<String>> = (0..QUESTIONS.len())
        .map(|n| texts_for(&calibration, CALIBRATION_CHAT + n as i64))
        .collect();
    let calibration_messages: usize = expected.iter().map(Vec::len).sum();
    let calibration_429 = fake.calls("sendmessage/429").len();
    let before_burst = fake.calls("sendmessage").len();
    let actions_before = fake.calls("sendchataction").len();

    // The burst: everything queued at once, as after an outage.
    let mut asked: HashMap<i64, Vec<usize>> = HashMap::new();
    let started = Instant::now();
    for n in 0..total {
        let chat = BURST_CHAT + (n % chats) as i64;
        let question = n % QUESTIONS.len();
        fake.push(message(n, chat, QUESTIONS[question]));
        asked.entry(chat).or_default().push(question);
    }
    let expected_messages: usize = asked.values().flatten().map(|q| expected[*q].len()).sum();
    let in_burst = |body: &Value| {
        body["chat_id"]
            .as_i64()
            .is_some_and(|c| (BURST_CHAT..CALIBRATION_CHAT).contains(&c))
    };
    let answers = fake
        .wait_calls(
            "sendmessage",
            expected_messages,
            Duration::from_secs(600),
            in_burst,
        )
        .await;
    let elapsed = started.elapsed();
    let last = answers.iter().map(|c| c.at).max().unwrap_or(started);
    // Watch a little longer for answers sent twice.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let all = fake.calls("sendmessage");
    let burst: Vec<fake::Call> = all[before_burst..]
        .iter()
        .filter(|c| in_burst(&c.body))
        .cloned()
        .collect();

    let (mut exact, mut lost, mut doubled, mut wrong) = (0usize, 0usize, 0usize, 0usize);
    for (chat, questions) in &asked {
        let got = texts_for(&burst, *chat);
        let want: Vec<String> = questions
            .iter()
            .flat_map(|q| expected[*q].iter().cloned())
            .collect();
        if got == want {
            exact += questions.len();
            continue;
        }
        // Not exactly as expected: count per question how often its first
        // message arrived (answers are per chat in order, so repeats of
        // the same question in a chat are counted together).
        let mut per_text: HashMap<&str, (usize, usize)> = HashMap::new();
        for q in questions {
            per_text.entry(expected[*q][0].as_str()).or_default().0 += 1;
        }
        for text in &got {
            match per_text.get_mut(text.as_str()) {
                Some(entry) => entry.1 += 1,
                None if want.contains(text) => {}
                None => wrong += 1,
            }
        }
        for (want_n, got_n) in per_text.values() {
            lost += want_n.saturating_sub(*got_n);
            doubled += got_n.saturating_sub(*want_n);
            exact += want_n.min(got_n);
        }
    }

    let rejected = fake.calls("sendmessage/429");
    let burst_429 = rejected.len() - calibration_429;
    let full_window = |which: &str| {
        rejected
            .iter()
            .filter(|c| c.body["_full_window"] == which)
            .count()
    };
    // The shortest gap the fake saw between two accepted messages to one
    // chat: under a second means Throttle's pacing reached the receiver
    // compressed.
    let mut last_in_chat: HashMap<i64, Instant> = HashMap::new();
    let mut shortest_gap = Duration::MAX;
    for call in &burst {
        if let Some(chat) = call.body["chat_id"].as_i64()
            && let Some(previous) = last_in_chat.insert(chat, call.at)
        {
            shortest_gap = shortest_gap.min(call.at.duration_since(previous));
        }
    }
    let actions: Vec<Instant> = fake.calls("sendchataction")[actions_before..]
        .iter()
        .map(|c| c.at)
        .collect();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "burst: {total} questions from {chats} private chats, shipped corpus, pacer: 30 messages per {window_ms} ms overall, 1 per {window_ms} ms per chat{}",
        if config_is_production {
            " (production)"
        } else {
            ""
        }
    );
    println!(
        "all answered after {:.2} s (last answer at {:.2} s): {:.1} messages/s; \
         the limit allows at best {:.1} s",
        elapsed.as_secs_f64(),
        last.duration_since(started).as_secs_f64(),
        burst.len() as f64 / elapsed.as_secs_f64(),
        (expected_messages as f64 / 30.0)
            .max(asked.values().map(Vec::len).max().unwrap_or(0) as f64 - 1.0),
    );
    println!(
        "answers: {} messages for {total} questions; answered exactly once: {exact}, lost: {lost}, answered twice or more: {doubled}, unexpected messages: {wrong}",
        burst.len()
    );
    println!(
        "429s caused by the bot: {burst_429} in the burst, {calibration_429} during calibration ({} messages)",
        calibration_messages
    );
    println!(
        "429s by full window: overall {}, one chat {}, both {}; shortest gap between two accepted messages to one chat: {:.3} s",
        full_window("overall"),
        full_window("chat"),
        full_window("both"),
        shortest_gap.as_secs_f64()
    );
    println!(
        "busiest second of accepted sendMessage: {} (limit 30)",
        busiest_second(burst.iter().map(|c| c.at).collect())
    );
    println!(
        "sendChatAction (not limited): {} calls, busiest second {}",
        actions.len(),
        busiest_second(actions)
    );
    println!(
        "question log rows: {} (calibration {} + burst {total}); load average now {}",
        store.question_count().unwrap_or_default(),
        QUESTIONS.len(),
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    let _ = stop.send(());
    let _ = bot.await;
    if lost + doubled + wrong + burst_429 + calibration_429 > 0 {
        std::process::exit(1);
    }
}
