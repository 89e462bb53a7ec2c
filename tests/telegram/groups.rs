//! Groups (answer only when addressed) and inline mode.

use serde_json::json;

use crate::fake::{BOT_ID, BOT_USERNAME};
use crate::{GROUP, USER, WITHIN, chat_json, fixture_engine, inline_query, message, text_of};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_chatter_is_ignored_and_a_mention_is_answered() {
    let bot = crate::Harness::start().await;
    // Updates of one chat are handled in order, so by the time the mention
    // is answered, everything before it has been seen (and ignored).
    for chatter in [
        "大家好，今晚小区停水",
        "燃气报警器装在哪",
        "/help@other_bot",
        "/stats",
        "@safety_test_bot_two 你好",
    ] {
        bot.fake.push(message(GROUP, USER, chatter));
    }
    let mention = message(GROUP, USER, &format!("@{BOT_USERNAME} 燃气报警器装在哪"));
    let mention_id = mention["message"]["message_id"].clone();
    let sent = bot.send_and_wait(GROUP, mention).await;
    assert_eq!(bot.sent_to(GROUP).len(), 1, "only the mention is answered");
    assert!(
        text_of(&sent).starts_with("<b>燃气报警器应该装在什么位置？</b>"),
        "{sent}"
    );
    // The answer quotes the question it answers.
    assert_eq!(sent["reply_parameters"]["message_id"], mention_id);

    // A reply to the bot is addressed to it too.
    let mut reply = message(GROUP, USER, "那电动车能进电梯吗");
    reply["message"]["reply_to_message"] = json!({
        "message_id": 1,
        "date": 1_700_000_000,
        "chat": chat_json(GROUP),
        "from": {"id": BOT_ID, "is_bot": true, "first_name": "安全问答助手", "username": BOT_USERNAME},
        "text": "燃气报警器应该装在什么位置？"
    });
    let sent = bot.send_and_wait(GROUP, reply).await;
    assert!(text_of(&sent).contains("电梯"), "{sent}");

    // So is a command, bare or addressed to this bot.
    let sent = bot
        .send_and_wait(
            GROUP,
            message(GROUP, USER, &format!("/hotline@{BOT_USERNAME}")),
        )
        .await;
    assert!(text_of(&sent).contains("12350"), "{sent}");
    let sent = bot
        .send_and_wait(GROUP, message(GROUP, USER, "/help"))
        .await;
    assert!(text_of(&sent).contains("/topics"), "{sent}");
    assert_eq!(bot.sent_to(GROUP).len(), 4);
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inline_mode_offers_up_to_five_articles() {
    let bot = crate::Harness::start().await;
    let query = inline_query(USER, "电动车充电");
    let id = query["inline_query"]["id"].clone();
    bot.fake.push(query);
    let answered = bot
        .fake
        .wait_call("answerinlinequery", WITHIN, |b| b["inline_query_id"] == id)
        .await
        .body;
    let results = answered["results"].as_array().unwrap();
    assert!((1..=5).contains(&results.len()), "{answered}");
    let expected = fixture_engine().ask("电动车充电").entry.unwrap();
    assert_eq!(results[0]["title"], expected.question.as_str());
    let mut ids = Vec::new();
    for result in results {
        assert_eq!(result["type"], "article");
        assert_eq!(result["input_message_content"]["parse_mode"], "HTML");
        let id = result["id"].as_str().unwrap().to_string();
        assert!((1..=64).contains(&id.len()));
        assert!(!ids.contains(&id), "ids are unique");
        ids.push(id);
    }
    // Each answer can be opened in a private chat with the bot.
    let link = results[0]["reply_markup"]["inline_keyboard"][0][0]["url"]
        .as_str()
        .unwrap();
    assert_eq!(
        link,
        format!("https://t.me/{BOT_USERNAME}?start={}", expected.id)
    );

    // An empty query gets an empty list, not an error.
    let query = inline_query(USER, "   ");
    let id = query["inline_query"]["id"].clone();
    bot.fake.push(query);
    let answered = bot
        .fake
        .wait_call("answerinlinequery", WITHIN, |b| b["inline_query_id"] == id)
        .await
        .body;
    assert_eq!(answered["results"], json!([]));
    // Inline queries are not logged: they arrive as people type.
    assert_eq!(bot.store.question_count().unwrap(), 0);
    bot.stop().await;
}
