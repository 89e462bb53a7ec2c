//! Private chats: commands, questions and their three outcomes, buttons,
//! feedback, non-text messages, long answers.

use serde_json::json;

use safety_bot::knowledge::CATEGORIES;
use safety_bot::telegram::{MAX_CALLBACK_BYTES, MAX_MESSAGE_UNITS, visible_text, visible_units};

use crate::fake::Fault;
use crate::{
    LONG_ID, LONG_QUESTION, Setup, USER, WITHIN, all_buttons, buttons, fixture_engine,
    message_with, tap, text_of,
};

/// Every reply is HTML with all buttons' data within Telegram's 64 bytes.
#[track_caller]
fn assert_well_formed(sent: &serde_json::Value) {
    assert_eq!(sent["parse_mode"], "HTML", "{sent}");
    assert!(
        visible_units(text_of(sent)) <= MAX_MESSAGE_UNITS,
        "too long: {sent}"
    );
    for data in all_buttons(sent) {
        assert!(
            (1..=MAX_CALLBACK_BYTES).contains(&data.len()),
            "callback_data {data:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_greets_and_gives_the_hotlines() {
    let bot = crate::Harness::start().await;
    let sent = bot.ask("/start").await;
    assert_well_formed(&sent);
    let text = text_of(&sent);
    for needle in ["您好", "/topics", "119", "120", "110", "12350"] {
        assert!(text.contains(needle), "missing {needle}: {text}");
    }
    assert_eq!(buttons(&sent), vec![vec!["t".to_string()]]);
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_with_a_deep_link_opens_that_entry() {
    let bot = crate::Harness::start().await;
    let sent = bot.ask("/start gas-alarm").await;
    assert_well_formed(&sent);
    let text = text_of(&sent);
    assert!(
        text.starts_with("<b>燃气报警器应该装在什么位置？</b>"),
        "{text}"
    );
    assert!(text.contains("来源："), "{text}");
    let data = all_buttons(&sent);
    assert!(data.contains(&"+:gas-alarm".to_string()), "{data:?}");

    // A link to something that is not there, or not an id at all.
    for payload in ["no-such-entry", "<b>gas</b>", "gas-alarm%00"] {
        let sent = bot.ask(&format!("/start {payload}")).await;
        assert_well_formed(&sent);
        assert!(
            text_of(&sent).contains("没有找到这个链接指向的内容"),
            "{payload}: {sent}"
        );
    }
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_question_is_answered_with_related_questions_and_feedback_buttons() {
    let bot = crate::Harness::start().await;
    let question = "电动车充电";
    let expected = fixture_engine().ask(question);
    let entry = expected.entry.clone().expect("fixture answers this");
    assert!(
        expected.answered() && !expected.related.is_empty(),
        "the fixture should answer {question:?} with related questions"
    );

    let sent = bot.ask(question).await;
    assert_well_formed(&sent);
    let text = text_of(&sent);
    assert!(
        text.starts_with(&format!("<b>{}</b>", entry.question)),
        "{text}"
    );
    assert!(text.contains("来源："), "{text}");

    let rows = buttons(&sent);
    let related: Vec<String> = expected
        .related
        .iter()
        .take(3)
        .map(|e| format!("a:{}", e.id))
        .collect();
    let shown: Vec<String> = rows[..rows.len() - 1].iter().flatten().cloned().collect();
    assert_eq!(shown, related);
    assert_eq!(
        rows.last().unwrap(),
        &vec![format!("+:{}", entry.id), format!("-:{}", entry.id)]
    );

    // "Typing…" went out before the answer.
    let typing = bot
        .fake
        .wait_call("sendchataction", WITHIN, |b| {
            b["chat_id"] == json!(USER) && b["action"] == "typing"
        })
        .await;
    let answer = &bot.fake.calls("sendmessage")[0];
    assert!(typing.at <= answer.at);

    // The question is in the log, the user only as a hash.
    assert_eq!(bot.store.question_count().unwrap(), 1);
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tapping_a_related_question_opens_its_answer() {
    let bot = crate::Harness::start().await;
    let sent = bot.ask("电动车充电").await;
    let related = all_buttons(&sent)
        .into_iter()
        .find(|d| d.starts_with("a:"))
        .expect("a related question button");
    let id = related.trim_start_matches("a:").to_string();
    let entry = fixture_engine().entry(&id).unwrap();

    let opened = bot.send_and_wait(USER, tap(USER, &sent, &related)).await;
    assert_well_formed(&opened);
    assert!(
        text_of(&opened).starts_with(&format!("<b>{}</b>", entry.question)),
        "{opened}"
    );
    assert!(all_buttons(&opened).contains(&format!("+:{id}")));
    // The tap was acknowledged, so the client stops spinning.
    bot.fake
        .wait_call("answercallbackquery", WITHIN, |_| true)
        .await;

    // A tap too old to acknowledge (after a restart) still gets its answer.
    bot.fake.fail_next(
        "answercallbackquery",
        Fault::Reply(
            400,
            json!({"ok": false, "error_code": 400, "description":
                "Bad Request: query is too old and response timeout expired or query ID is invalid"}),
        ),
    );
    let again = bot.send_and_wait(USER, tap(USER, &sent, &related)).await;
    assert_eq!(text_of(&again), text_of(&opened));
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feedback_is_recorded_once_when_pressed_twice() {
    let bot = crate::Harness::start().await;
    let sent = bot.ask("燃气报警器装在哪").await;
    let entry = fixture_engine().ask("燃气报警器装在哪").entry.unwrap();
    let up = format!("+:{}", entry.id);
    assert!(all_buttons(&sent).contains(&up), "{sent}");

    let acks = |n: usize| {
        bot.fake
            .wait_calls("answercallbackquery", n, WITHIN, |_| true)
    };
    bot.fake.push(tap(USER, &sent, &up));
    bot.fake.push(tap(USER, &sent, &up));
    let answered = acks(2).await;
    assert_eq!(answered[0].body["text"], "谢谢您的反馈！");
    assert_eq!(answered[1].body["text"], "您已经反馈过了，谢谢！");
    assert_eq!(bot.store.feedback_counts(&entry.id).unwrap(), (1, 0));

    // Changing one's mind replaces the vote.
    bot.fake.push(tap(USER, &sent, &format!("-:{}", entry.id)));
    let answered = acks(3).await;
    assert_eq!(answered[2].body["text"], "已更新您的反馈，谢谢！");
    assert_eq!(bot.store.feedback_counts(&entry.id).unwrap(), (0, 1));

    // Another resident's vote counts separately.
    bot.fake.push(tap(USER + 1, &sent, &up));
    acks(4).await;
    assert_eq!(bot.store.feedback_counts(&entry.id).unwrap(), (1, 1));
    // Feedback sends no message.
    assert_eq!(bot.sent_to(USER).len(), 1);
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsure_reply_offers_the_candidates_as_buttons() {
    let bot = crate::Harness::start_with(Setup {
        engine: crate::suggesting_engine(),
        ..Setup::default()
    })
    .await;
    let sent = bot.ask("电动车电梯国标").await;
    assert_well_formed(&sent);
    assert!(text_of(&sent).starts_with("您是不是想问："), "{sent}");
    let rows = buttons(&sent);
    assert!(rows.len() >= 2, "{rows:?}");
    assert!(
        rows.iter()
            .all(|row| row.len() == 1 && row[0].starts_with("a:"))
    );

    let chosen = rows[1][0].clone();
    let opened = bot.send_and_wait(USER, tap(USER, &sent, &chosen)).await;
    let entry = fixture_engine()
        .entry(chosen.trim_start_matches("a:"))
        .unwrap();
    assert!(
        text_of(&opened).starts_with(&format!("<b>{}</b>", entry.question)),
        "{opened}"
    );
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_answer_says_so_and_gives_the_hotlines() {
    let bot = crate::Harness::start().await;
    let sent = bot.ask("今天天气怎么样").await;
    assert_well_formed(&sent);
    let text = text_of(&sent);
    for needle in ["没有把握", "119", "120", "12350", "换个说法"] {
        assert!(text.contains(needle), "missing {needle}: {text}");
    }
    assert_eq!(buttons(&sent), vec![vec!["t".to_string()]]);
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_urgent_reply_leads_with_the_number_to_call_in_bold() {
    let bot = crate::Harness::start().await;
    for (question, number) in [
        ("救命，楼下着火了！", "119"),
        ("我爸突然晕倒了叫不醒", "120"),
    ] {
        let sent = bot.ask(question).await;
        assert_well_formed(&sent);
        let text = text_of(&sent);
        assert!(
            text.starts_with(&format!("⚠️ <b>立即拨打 {number}")),
            "{question}: {text}"
        );
    }
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stickers_photos_voice_and_locations_get_a_friendly_note() {
    let bot = crate::Harness::start().await;
    let cases = [
        (
            json!({"sticker": {"file_id": "S1", "file_unique_id": "SU1", "width": 512, "height": 512,
                "type": "regular", "is_animated": false, "is_video": false, "emoji": "👍"}}),
            "只看得懂文字",
        ),
        (
            json!({"photo": [{"file_id": "P1", "file_unique_id": "PU1", "width": 90, "height": 90}]}),
            "看不了图片",
        ),
        (
            json!({"voice": {"file_id": "V1", "file_unique_id": "VU1", "duration": 3, "mime_type": "audio/ogg"}}),
            "听不了语音",
        ),
        (
            json!({"location": {"latitude": 31.2, "longitude": 121.5}}),
            "收到您的位置",
        ),
    ];
    for (content, needle) in cases {
        let sent = bot
            .send_and_wait(USER, message_with(USER, USER, content.clone()))
            .await;
        assert_well_formed(&sent);
        let text = text_of(&sent);
        assert!(text.contains(needle), "{content}: {text}");
        assert!(text.contains("/topics"), "{text}");
    }
    // A photo with a question in its caption is answered.
    let sent = bot
        .send_and_wait(
            USER,
            message_with(
                USER,
                USER,
                json!({"photo": [{"file_id": "P2", "file_unique_id": "PU2", "width": 90, "height": 90}],
                       "caption": "燃气报警器装在哪"}),
            ),
        )
        .await;
    assert!(
        text_of(&sent).starts_with("<b>燃气报警器应该装在什么位置？</b>"),
        "{sent}"
    );
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_longer_than_a_message_is_split_at_paragraphs() {
    let bot = crate::Harness::start_with(Setup {
        engine: crate::long_answer_engine(),
        ..Setup::default()
    })
    .await;
    bot.fake.push(crate::message(USER, USER, LONG_QUESTION));
    // The buttons go under the last part: wait for it.
    let last = bot
        .fake
        .wait_call("sendmessage", WITHIN, |b| !b["reply_markup"].is_null())
        .await;
    let parts = bot.sent_to(USER);
    assert!(parts.len() >= 2, "{} parts", parts.len());
    assert_eq!(parts.last().unwrap(), &last.body);

    let mut steps = 0;
    for (n, part) in parts.iter().enumerate() {
        assert_well_formed(part);
        let html = text_of(part);
        // Every part ends where a paragraph ends, never inside one.
        let visible = visible_text(html);
        let last_line = visible.lines().last().unwrap();
        assert!(
            last_line.ends_with("。<注意&安全>") || last_line.starts_with("来源："),
            "part {n} ends mid-paragraph: …{}",
            &last_line[last_line.len().saturating_sub(60)..]
        );
        assert!(html.contains("&lt;注意&amp;安全&gt;"), "escaped");
        steps += visible.matches("<注意&安全>").count();
        if n + 1 < parts.len() {
            assert!(
                part["reply_markup"].is_null(),
                "buttons only under the last part"
            );
        }
    }
    assert_eq!(steps, 50, "every paragraph arrives once");
    assert!(text_of(&parts[0]).starts_with(&format!("<b>{LONG_QUESTION}</b>")));
    assert!(all_buttons(&last.body).contains(&format!("+:{LONG_ID}")));
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topics_lead_from_categories_to_questions_to_the_answer() {
    let bot = crate::Harness::start().await;
    let sent = bot.ask("/topics").await;
    assert_well_formed(&sent);
    let gas = CATEGORIES.iter().position(|c| *c == "燃气安全").unwrap();
    let category = format!("c:{gas}:0");
    assert!(all_buttons(&sent).contains(&category), "{sent}");

    // A category replaces the list in place with its questions.
    let tapped = tap(USER, &sent, &category);
    let list_id = tapped["callback_query"]["message"]["message_id"].clone();
    bot.fake.push(tapped);
    let edited = bot
        .fake
        .wait_call("editmessagetext", WITHIN, |b| b["message_id"] == list_id)
        .await
        .body;
    assert!(text_of(&edited).contains("燃气安全"), "{edited}");
    let questions: Vec<String> = all_buttons(&edited)
        .into_iter()
        .filter(|d| d.starts_with("a:"))
        .collect();
    let expected: Vec<String> = fixture_engine()
        .entries_in("燃气安全")
        .iter()
        .map(|e| format!("a:{}", e.id))
        .collect();
    assert_eq!(questions, expected);
    assert!(all_buttons(&edited).contains(&"b".to_string()));

    // A question opens its answer as a new message.
    let opened = bot
        .send_and_wait(USER, tap(USER, &edited, &questions[0]))
        .await;
    let entry = fixture_engine()
        .entry(questions[0].trim_start_matches("a:"))
        .unwrap();
    assert!(text_of(&opened).starts_with(&format!("<b>{}</b>", entry.question)));

    // When editing is refused, the screen comes as a new message instead.
    bot.fake.fail_next(
        "editmessagetext",
        Fault::Reply(
            400,
            json!({"ok": false, "error_code": 400, "description": "Bad Request: message can't be edited"}),
        ),
    );
    let back = bot.send_and_wait(USER, tap(USER, &edited, "b")).await;
    assert!(all_buttons(&back).contains(&category), "{back}");
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hotline_event_help_and_unknown_commands() {
    let bot = crate::Harness::start().await;
    let hotline = bot.ask("/hotline").await;
    assert!(text_of(&hotline).contains("<b>12350</b>"), "{hotline}");

    let event = bot.ask("/event").await;
    assert!(text_of(&event).contains("还没有发布"), "{event}");
    safety_bot::event::save(bot.data_dir.path(), "6 月 16 日上午 9 点，人民广场 <东门>").unwrap();
    let event = bot.ask("/event").await;
    assert!(text_of(&event).contains("人民广场 &lt;东门&gt;"), "{event}");

    let help = bot.ask("/help").await;
    assert!(text_of(&help).contains("/topics"), "{help}");

    // (/stats is a staff command: see staff.rs for its refusal.)
    let unknown = bot.ask("/weather").await;
    assert!(
        text_of(&unknown).contains("没有 /weather 这个命令"),
        "{unknown}"
    );
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_or_forged_buttons_are_acknowledged_with_a_note() {
    let bot = crate::Harness::start().await;
    let sent = bot.ask("/help").await;
    for (data, note) in [
        ("zzz", "这个按钮已失效"),
        ("a:no-such-entry", "已更新或删除"),
        ("+:no-such-entry", "已更新或删除"),
        ("c:999:0", "这个按钮已失效"),
    ] {
        let update = tap(USER, &sent, data);
        let id = update["callback_query"]["id"].clone();
        bot.fake.push(update);
        let ack = bot
            .fake
            .wait_call("answercallbackquery", WITHIN, |b| {
                b["callback_query_id"] == id
            })
            .await;
        assert!(
            ack.body["text"].as_str().unwrap_or("").contains(note),
            "{data}: {}",
            ack.body
        );
    }
    assert_eq!(bot.sent_to(USER).len(), 1, "no message for a stale button");
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_are_registered_in_chinese_and_updates_are_limited_to_what_is_handled() {
    let bot = crate::Harness::start().await;
    let registered = bot.fake.wait_call("setmycommands", WITHIN, |_| true).await;
    let commands: Vec<(String, String)> = registered.body["commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["command"].as_str().unwrap().to_string(),
                c["description"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let names: Vec<&str> = commands.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["start", "help", "topics", "hotline", "event"]);
    assert!(
        commands
            .iter()
            .all(|(_, d)| d.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))),
        "{commands:?}"
    );

    let poll = bot.fake.wait_call("getupdates", WITHIN, |_| true).await;
    let mut allowed: Vec<String> = poll.body["allowed_updates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    allowed.sort();
    assert_eq!(allowed, ["callback_query", "inline_query", "message"]);
    // Polling mode makes sure no webhook is in the way.
    assert!(!bot.fake.calls("getwebhookinfo").is_empty());
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_input_gets_a_reply_and_never_reaches_the_index_as_syntax() {
    let bot = crate::Harness::start().await;
    let long = "燃气".repeat(2048);
    let cases = [
        "<b>燃气</b> &amp; \"报警器\" AND OR ^2 * title:燃气",
        "/",
        "@",
        "🔥🔥🔥",
        "\u{200b}\u{feff}",
        long.as_str(),
    ];
    for text in cases {
        let sent = bot.ask(text).await;
        assert_well_formed(&sent);
        assert!(!text_of(&sent).is_empty(), "{text:?}");
    }
    assert_eq!(bot.store.question_count().unwrap(), cases.len() as u64);
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inline_answers_posted_into_the_chat_are_not_taken_as_questions() {
    let bot = crate::Harness::start().await;
    let mut posted = crate::message(USER, USER, "燃气报警器应该装在什么位置？ 天然气比空气轻");
    posted["message"]["via_bot"] = json!({
        "id": crate::fake::BOT_ID, "is_bot": true, "first_name": "安全问答助手",
        "username": crate::fake::BOT_USERNAME
    });
    bot.fake.push(posted);
    // Asking with the bot's name in a private chat works as without it.
    let sent = bot
        .ask(&format!("@{} 燃气报警器装在哪", crate::fake::BOT_USERNAME))
        .await;
    assert!(
        text_of(&sent).starts_with("<b>燃气报警器应该装在什么位置？</b>"),
        "{sent}"
    );
    assert_eq!(
        bot.sent_to(USER).len(),
        1,
        "the posted inline answer got no reply"
    );
    bot.stop().await;
}
