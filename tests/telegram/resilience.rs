//! Behaving well when Telegram does not: 429 with `retry_after`, 500s and
//! malformed bodies (on sending and on polling), a permanent refusal, and
//! a graceful stop that lets running answers finish and confirms what it
//! took.

use std::time::Duration;

use serde_json::json;

use crate::fake::Fault;
use crate::{Setup, USER, WITHIN, WITHIN_5XX, message, text_of};

const QUESTION: &str = "燃气报警器装在哪";
const ANSWER_START: &str = "<b>燃气报警器应该装在什么位置？</b>";

fn is_answer(body: &serde_json::Value) -> bool {
    body["chat_id"] == json!(USER) && text_of(body).starts_with(ANSWER_START)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_waits_retry_after_then_the_message_goes_out() {
    // Real limits: messages are paced, and a 429 still waits retry_after.
    let bot = crate::Harness::start_with(Setup {
        real_limits: true,
        ..Setup::default()
    })
    .await;
    bot.fake.fail_next("sendmessage", Fault::RetryAfter(1));
    bot.fake.push(message(USER, USER, QUESTION));
    let calls = bot
        .fake
        .wait_calls("sendmessage", 2, WITHIN, is_answer)
        .await;
    assert!(
        calls[1].at.duration_since(calls[0].at) >= Duration::from_secs(1),
        "retried after {:?}",
        calls[1].at.duration_since(calls[0].at)
    );
    assert_eq!(calls[0].body, calls[1].body, "the same message again");

    // Requests outside the throttle (acknowledging a tap) wait too.
    bot.fake
        .fail_next("answercallbackquery", Fault::RetryAfter(1));
    bot.fake
        .push(crate::tap(USER, &calls[1].body, "+:gas-alarm"));
    let acks = bot
        .fake
        .wait_calls("answercallbackquery", 2, WITHIN, |_| true)
        .await;
    assert!(acks[1].at.duration_since(acks[0].at) >= Duration::from_secs(1));
    assert_eq!(acks[1].body["text"], "谢谢您的反馈！");
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_500_on_sending_is_retried() {
    let bot = crate::Harness::start().await;
    bot.fake.fail_next("sendmessage", Fault::ServerError);
    bot.fake.push(message(USER, USER, QUESTION));
    bot.fake
        .wait_calls("sendmessage", 2, WITHIN_5XX, is_answer)
        .await;
    // Delivered once the server recovered, and not a third time.
    let next = bot.ask("心肺复苏怎么做？").await;
    assert!(text_of(&next).contains("心肺复苏"), "{next}");
    assert_eq!(
        bot.fake
            .calls("sendmessage")
            .iter()
            .filter(|c| is_answer(&c.body))
            .count(),
        2
    );
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_500_on_polling_is_survived() {
    let bot = crate::Harness::start().await;
    // Let the first poll through, then fail the next one.
    bot.fake.wait_call("getupdates", WITHIN, |_| true).await;
    bot.fake.fail_next("getupdates", Fault::ServerError);
    bot.fake.push(message(USER, USER, QUESTION));
    bot.fake
        .wait_call("sendmessage", WITHIN_5XX, is_answer)
        .await;
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_bodies_are_retried_on_sending_and_on_polling() {
    let bot = crate::Harness::start().await;
    bot.fake.wait_call("getupdates", WITHIN, |_| true).await;
    bot.fake.fail_next("getupdates", Fault::Malformed);
    bot.fake.fail_next("sendmessage", Fault::Malformed);
    bot.fake.push(message(USER, USER, QUESTION));
    let calls = bot
        .fake
        .wait_calls("sendmessage", 2, WITHIN, is_answer)
        .await;
    assert_eq!(calls[0].body, calls[1].body);
    // The update that came with the malformed poll was fetched again and
    // answered once, not lost.
    let next = bot.ask("心肺复苏怎么做？").await;
    assert!(text_of(&next).contains("心肺复苏"), "{next}");
    assert_eq!(bot.store.question_count().unwrap(), 2);
    bot.stop().await;
}

/// The first answer meets `fault`: it is sent exactly once, and the next
/// question is still answered.
async fn sent_once_despite(fault: Fault, why: &str) {
    let bot = crate::Harness::start().await;
    bot.fake.fail_next("sendmessage", fault);
    bot.fake.push(message(USER, USER, QUESTION));
    bot.fake.wait_call("sendmessage", WITHIN, is_answer).await;
    let next = bot.ask("心肺复苏怎么做？").await;
    assert!(text_of(&next).contains("心肺复苏"), "{next}");
    let attempts = bot
        .fake
        .calls("sendmessage")
        .iter()
        .filter(|c| is_answer(&c.body))
        .count();
    assert_eq!(attempts, 1, "{why}");
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_accepted_with_an_unreadable_answer_is_not_sent_twice() {
    sent_once_despite(
        Fault::Reply(200, json!({"ok": true, "result": true})),
        "accepted once, not sent again",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_message_is_not_retried_and_later_questions_are_answered() {
    sent_once_despite(
        Fault::Reply(
            403,
            json!({"ok": false, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}),
        ),
        "a 403 is final",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_stop_finishes_running_answers_and_a_restart_answers_nothing_twice() {
    let mut bot = crate::Harness::start().await;
    bot.fake.hold("sendmessage");
    let update = bot.fake.push(message(USER, USER, QUESTION));
    // The answer is on its way (its sendMessage is held by the fake).
    bot.fake.wait_call("sendmessage", WITHIN, is_answer).await;
    bot.signal_stop();
    // Polling stops and confirms the update it handed out…
    bot.fake
        .wait_call("getupdates", WITHIN, |b| {
            b["timeout"] == json!(0) && b["offset"] == json!(update + 1)
        })
        .await;
    assert_eq!(bot.fake.confirmed_offset(), update + 1);
    // …while the answer still being sent keeps the bot running.
    assert!(bot.is_running(), "stopped before the answer was sent");
    bot.fake.release("sendmessage");
    bot.join().await;

    // A new process on the same bot: the confirmed question is not
    // answered again, a new one is.
    bot.launch();
    let next = bot.ask("心肺复苏怎么做？").await;
    assert!(text_of(&next).contains("心肺复苏"), "{next}");
    let answers = bot
        .fake
        .calls("sendmessage")
        .iter()
        .filter(|c| is_answer(&c.body))
        .count();
    assert_eq!(answers, 1, "answered once across the restart");
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_while_connecting_ends_at_once() {
    let mut bot = crate::Harness::new(Setup::default()).await;
    bot.fake.hold("getme");
    bot.launch();
    bot.fake.wait_call("getme", WITHIN, |_| true).await;
    bot.signal_stop();
    bot.join().await;
    assert!(bot.fake.calls("getupdates").is_empty());
    bot.fake.release("getme");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_left_from_an_earlier_deployment_is_removed() {
    let mut bot = crate::Harness::new(Setup::default()).await;
    bot.fake.fail_next(
        "getwebhookinfo",
        Fault::Reply(
            200,
            json!({"ok": true, "result": {"url": "https://old.example.org/hook",
                "has_custom_certificate": false, "pending_update_count": 2}}),
        ),
    );
    // And should one be set again behind the bot's back, polling says so.
    bot.fake.fail_next(
        "getupdates",
        Fault::Reply(
            409,
            json!({"ok": false, "error_code": 409, "description":
                "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"}),
        ),
    );
    bot.launch();
    bot.fake
        .wait_calls("deletewebhook", 2, WITHIN, |_| true)
        .await;
    let first_delete = &bot.fake.calls("deletewebhook")[0];
    let first_poll = &bot.fake.calls("getupdates")[0];
    assert!(first_delete.at <= first_poll.at, "removed before polling");
    let answer = bot.ask(QUESTION).await;
    assert!(is_answer(&answer), "{answer}");
    bot.stop().await;
}
