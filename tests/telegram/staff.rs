//! Staff in Telegram: refusing everyone else (and not downloading their
//! files), a CSV document imported through the fake Bot API, the `/add`
//! dialogue, and the reports and entry commands.

use serde_json::{Value, json};

use super::{Harness, USER, WITHIN, message, message_with, text_of};

/// The staff member's user id (a private chat has the user's id).
const STAFF: i64 = 9001;
/// An entry of the fixture corpus.
const FIXTURE_ID: &str = "gas-smell";

fn document(chat: i64, from: i64, file_id: &str, name: &str, size: usize) -> Value {
    message_with(
        chat,
        from,
        json!({"document": {
            "file_id": file_id,
            "file_unique_id": format!("u-{file_id}"),
            "file_size": size,
            "file_name": name
        }}),
    )
}

const NEW_QUESTION: &str = "地下室能不能住人";
const NEW_ANSWER: &str = "不能。地下室通风差、疏散难，按规定不得用于居住，发现群租请向社区举报。";

fn csv_with_new_entry() -> Vec<u8> {
    format!("分类,问题,答案,来源\n消防与火灾逃生,{NEW_QUESTION},{NEW_ANSWER},《消防法》\n")
        .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_staff_user_is_refused_and_their_document_is_not_downloaded() {
    let bot = Harness::start_staff(&[STAFF as u64]).await;
    bot.fake
        .add_file("f-resident", "documents/a.csv", csv_with_new_entry());
    let cases = [
        "/stats",
        "/unanswered 3",
        "/setevent 周六上午",
        "/delete gas-smell",
        "/export",
        "/add",
    ];
    for command in cases {
        let reply = bot.ask(command).await;
        assert!(text_of(&reply).contains("无权限"), "{command}: {reply}");
    }
    // Replies in one chat go out in order: once the answer to the message
    // after the document is there, the document has been handled.
    let size = csv_with_new_entry().len();
    let note = bot
        .send_and_wait(USER, document(USER, USER, "f-resident", "a.csv", size))
        .await;
    assert!(text_of(&note).contains("看不了"), "{note}");
    assert!(bot.fake.calls("getfile").is_empty());
    assert!(bot.fake.calls("download").is_empty());
    assert!(bot.fake.calls("senddocument").is_empty());
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staff_csv_document_is_imported_and_answered_at_once() {
    let bot = Harness::start_staff(&[STAFF as u64]).await;
    let bytes = csv_with_new_entry();
    let size = bytes.len();
    bot.fake.add_file("f-staff", "documents/file_1.csv", bytes);
    let summary = bot
        .send_and_wait(STAFF, document(STAFF, STAFF, "f-staff", "新问答.csv", size))
        .await;
    assert!(
        text_of(&summary).contains("导入完成：新增 1 条"),
        "{summary}"
    );
    assert_eq!(bot.fake.calls("getfile").len(), 1);
    assert_eq!(bot.fake.calls("download").len(), 1);

    let answer = bot
        .send_and_wait(STAFF, message(STAFF, STAFF, NEW_QUESTION))
        .await;
    assert!(text_of(&answer).contains("通风差"), "{answer}");

    // The same file again is recognised and changes nothing.
    let again = bot
        .send_and_wait(STAFF, document(STAFF, STAFF, "f-staff", "新问答.csv", size))
        .await;
    assert!(!text_of(&again).contains("导入完成"), "{again}");

    // A file with a bad row: the row is named, nothing is written.
    let bad = "分类,问题,答案,来源\n不存在的分类,楼顶能不能烧烤,不能,\n"
        .as_bytes()
        .to_vec();
    let bad_size = bad.len();
    bot.fake.add_file("f-bad", "documents/file_2.csv", bad);
    let refused = bot
        .send_and_wait(STAFF, document(STAFF, STAFF, "f-bad", "错表.csv", bad_size))
        .await;
    let text = text_of(&refused);
    assert!(text.contains("没有导入任何内容"), "{text}");
    assert!(text.contains("第 2 行"), "{text}");
    assert!(text.contains("跳过错误行"), "{text}");

    // With "跳过错误行" in the caption the good rows go in.
    let mixed = "分类,问题,答案,来源\n不存在的分类,楼顶能不能烧烤,不能,\n燃气安全,燃气表能自己挪吗,不能，请联系燃气公司。,燃气公司\n"
        .as_bytes()
        .to_vec();
    let mixed_size = mixed.len();
    bot.fake.add_file("f-mixed", "documents/file_3.csv", mixed);
    let mut update = document(STAFF, STAFF, "f-mixed", "混合.csv", mixed_size);
    update["message"]["caption"] = json!("跳过错误行");
    let partial = bot.send_and_wait(STAFF, update).await;
    let text = text_of(&partial);
    assert!(text.contains("导入完成：新增 1 条"), "{text}");
    assert!(text.contains("拒绝 1 条"), "{text}");
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staff_add_dialogue_saves_an_entry_that_is_answered_right_after() {
    let bot = Harness::start_staff(&[STAFF as u64]).await;
    let say = |text: &str| bot.send_and_wait(STAFF, message(STAFF, STAFF, text));
    let steps = [
        ("/add", "第 1 步"),
        ("楼顶天台能不能烧烤", "第 2 步"),
        ("天台烧烤可以吗\n楼顶烤肉行不行", "第 3 步"),
        (
            "不能。楼顶天台烧烤有明火，容易引燃杂物、危及整栋楼，物业和消防规定禁止。",
            "第 4 步",
        ),
        ("《消防法》", "第 5 步"),
        ("消防与火灾逃生", "请确认"),
        ("确认保存", "已保存"),
    ];
    for (input, expected) in steps {
        let reply = say(input).await;
        assert!(text_of(&reply).contains(expected), "{input}: {reply}");
    }
    let answer = say("楼顶烤肉行不行").await;
    assert!(text_of(&answer).contains("引燃杂物"), "{answer}");

    // /cancel drops a draft without saving.
    assert!(text_of(&say("/add").await).contains("第 1 步"));
    assert!(text_of(&say("/cancel").await).contains("已取消"));
    let after = say("随便问问").await;
    assert!(!text_of(&after).contains("第 2 步"), "{after}");
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_reports_event_delete_and_files() {
    let bot = Harness::start_staff(&[STAFF as u64]).await;
    let say = |text: &str| bot.send_and_wait(STAFF, message(STAFF, STAFF, text));

    // The staff member's chat gets the staff menu; the general menu does not.
    let menus = bot
        .fake
        .wait_calls("setmycommands", 2, WITHIN, |_| true)
        .await;
    let staff_menu = menus
        .iter()
        .find(|c| c.body["scope"]["chat_id"] == json!(STAFF))
        .expect("a menu for the staff chat");
    assert!(staff_menu.body["commands"].to_string().contains("setevent"));
    assert!(
        menus
            .iter()
            .all(|c| c.body["scope"]["type"] == json!("chat")
                || !c.body["commands"].to_string().contains("setevent"))
    );

    let set = say("/setevent 6月16日 9:00 社区广场 <安全咨询日>").await;
    assert!(text_of(&set).contains("已发布"), "{set}");
    let event = bot.ask("/event").await;
    // What staff typed is shown as text, never read as markup.
    assert!(
        text_of(&event).contains("社区广场 &lt;安全咨询日&gt;"),
        "{event}"
    );

    let stats = say("/stats 30").await;
    assert!(text_of(&stats).contains("最近 30 天"), "{stats}");
    bot.fake.wait_call("sendphoto", WITHIN, |_| true).await;
    assert!(text_of(&say("/stats 一周").await).contains("正整数"));
    let unanswered = say("/unanswered").await;
    assert!(!text_of(&unanswered).is_empty());

    let id = FIXTURE_ID;
    let deleted = say(&format!("/delete {id}")).await;
    assert!(text_of(&deleted).contains("已删除"), "{deleted}");
    let again = say(&format!("/delete {id}")).await;
    assert!(!text_of(&again).contains("已删除"), "{again}");
    let restored = say(&format!("/restore {id}")).await;
    assert!(text_of(&restored).contains("已恢复"), "{restored}");

    for (command, count) in [("/export", 1), ("/template", 2)] {
        bot.fake.push(message(STAFF, STAFF, command));
        bot.fake
            .wait_calls("senddocument", count, WITHIN, |_| true)
            .await;
    }
    let names: Vec<String> = bot
        .fake
        .calls("senddocument")
        .iter()
        .map(|c| c.body["chat_id"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(names, [STAFF.to_string(), STAFF.to_string()]);
    bot.stop().await;
}

/// The step the bot's background task runs every second: a change another
/// process (`safety-bot import`) committed to the store is answered after
/// one step. Driven directly, so the test waits on nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_line_change_is_picked_up_by_one_refresh_step() {
    use safety_bot::knowledge::Entry;
    use safety_bot::staff;
    use safety_bot::store::Store;
    use std::sync::Arc;

    let dir = tempfile::tempdir().unwrap();
    let opened = staff::assemble(
        super::fixture_knowledge(),
        Store::open(dir.path()).unwrap(),
        None,
    )
    .unwrap();
    let bot_side = Arc::new(opened.staff);
    assert_eq!(safety_bot::telegram::refresh_once(&bot_side).await, 0);

    // The command line: the store alone, in another connection.
    let cli = staff::store_only(super::fixture_knowledge(), Store::open(dir.path()).unwrap())
        .unwrap()
        .staff;
    let entry = Entry {
        id: String::new(),
        category: "消防与火灾逃生".into(),
        question: NEW_QUESTION.into(),
        alternates: Vec::new(),
        answer: NEW_ANSWER.into(),
        keywords: Vec::new(),
        source: "《消防法》".into(),
        reviewed: String::new(),
    };
    let saved = cli.save(entry, "cli:test").unwrap();
    let before = opened.engine.ask(NEW_QUESTION);
    assert!(before.entry.as_ref().is_none_or(|e| e.id != saved.id));

    assert_eq!(safety_bot::telegram::refresh_once(&bot_side).await, 1);
    let after = opened.engine.ask(NEW_QUESTION);
    assert!(after.answered(), "{after:?}");
    assert_eq!(
        after.entry.as_ref().map(|e| e.id.as_str()),
        Some(saved.id.as_str())
    );
    assert_eq!(safety_bot::telegram::refresh_once(&bot_side).await, 0);
}

/// `/unanswered` offers one tap per group: here "新增问答", which starts
/// `/add` with the question filled in. A resident's tap is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unanswered_buttons_start_add_with_the_question() {
    let bot = Harness::start_staff(&[STAFF as u64]).await;
    let question = "小区游泳池的水质多久检测一次";
    let first = bot.ask(question).await;
    assert!(!text_of(&first).is_empty());

    let list = bot
        .send_and_wait(STAFF, message(STAFF, STAFF, "/unanswered"))
        .await;
    assert!(text_of(&list).contains(question), "{list}");
    let add = super::all_buttons(&list)
        .into_iter()
        .find(|data| data.starts_with("s:"))
        .expect("a staff button");
    let labels = list["reply_markup"].to_string();
    assert!(labels.contains("1. 新增问答"), "{labels}");

    // A resident tapping it (a forwarded keyboard) is refused.
    bot.fake.push(super::tap(USER, &list, &add));
    let refused = bot
        .fake
        .wait_call("answercallbackquery", WITHIN, |body| {
            body["text"].as_str().unwrap_or("").contains("无权限")
        })
        .await;
    assert!(refused.body["text"].is_string());

    // The last "新增问答" button of group 1 is the one that adds.
    let add = super::buttons(&list)[0].last().unwrap().clone();
    let prompt = bot
        .send_and_wait(STAFF, super::tap(STAFF, &list, &add))
        .await;
    assert!(text_of(&prompt).contains("第 2 步"), "{prompt}");
    let cancelled = bot
        .send_and_wait(STAFF, message(STAFF, STAFF, "取消"))
        .await;
    assert!(text_of(&cancelled).contains("已取消"), "{cancelled}");
    bot.stop().await;
}

/// `/edit`: every step offers to keep its value; the changed answer is
/// given right after saving. An unknown id is explained.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_entry_is_answered_right_after_saving() {
    let bot = Harness::start_staff(&[STAFF as u64]).await;
    let say = |text: &str| bot.send_and_wait(STAFF, message(STAFF, STAFF, text));
    let unknown = say("/edit no-such-entry").await;
    assert!(text_of(&unknown).contains("没有编号"), "{unknown}");

    let new_answer = "立即关闭燃气总阀，打开门窗通风，不要开关电器，到室外拨打燃气公司抢修电话（已由工作人员修订）。";
    let steps = [
        (format!("/edit {FIXTURE_ID}"), "保持不变"),
        ("保持不变".to_string(), "第 2 步"),
        ("保持不变".to_string(), "第 3 步"),
        (new_answer.to_string(), "第 4 步"),
        ("保持不变".to_string(), "第 5 步"),
        ("保持不变".to_string(), "请确认"),
        ("确认保存".to_string(), "已保存"),
    ];
    for (input, expected) in steps {
        let reply = say(&input).await;
        let shown = format!("{} {}", text_of(&reply), reply["reply_markup"]);
        assert!(shown.contains(expected), "{input}: {reply}");
    }
    let question = bot.engine.entry(FIXTURE_ID).unwrap().question.clone();
    let answer = say(&question).await;
    assert!(text_of(&answer).contains("已由工作人员修订"), "{answer}");
    bot.stop().await;
}

/// A file too large is refused before `getFile`; a file Telegram cannot
/// give is explained; neither is imported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_that_cannot_be_imported_are_explained() {
    let bot = Harness::start_staff(&[STAFF as u64]).await;
    let big = bot
        .send_and_wait(
            STAFF,
            document(STAFF, STAFF, "f-big", "大表.xlsx", 30 * 1024 * 1024),
        )
        .await;
    assert!(text_of(&big).contains("超过 20 MB"), "{big}");
    assert!(bot.fake.calls("getfile").is_empty());

    let missing = bot
        .send_and_wait(STAFF, document(STAFF, STAFF, "f-gone", "表.csv", 100))
        .await;
    assert!(text_of(&missing).contains("没能取到文件"), "{missing}");
    assert!(bot.fake.calls("download").is_empty());
    bot.stop().await;
}
