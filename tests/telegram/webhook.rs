//! Webhook mode: the bot registers its URL with a secret, answers what is
//! posted to it, refuses posts without the secret, and removes the webhook
//! when it stops.

use serde_json::json;

use crate::{Setup, USER, WITHIN, message, text_of};
use safety_bot::telegram::{Listen, WebhookConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_posted_to_the_webhook_are_answered() {
    let mut bot = crate::Harness::new(Setup::default()).await;
    let socket = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = socket.local_addr().unwrap();
    let mut config = bot.config();
    config.webhook = Some(WebhookConfig {
        url: "https://bot.example.org/tg/hook".to_string(),
        listen: Listen::Socket(socket),
    });
    bot.launch_with(config);

    let registered = bot
        .fake
        .wait_call("setwebhook", WITHIN, |_| true)
        .await
        .body;
    assert_eq!(registered["url"], "https://bot.example.org/tg/hook");
    let secret = registered["secret_token"].as_str().unwrap().to_string();
    assert!(secret.len() >= 16, "a secret protects the webhook");

    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let hook = format!("http://{address}/tg/hook");
    let mut update = message(USER, USER, "燃气报警器装在哪");
    update["update_id"] = json!(1);

    // Without the secret: refused, not answered.
    let refused = client.post(&hook).json(&update).send().await.unwrap();
    assert_eq!(refused.status(), 401);

    let accepted = client
        .post(&hook)
        .header("X-Telegram-Bot-Api-Secret-Token", &secret)
        .json(&update)
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), 200);
    let sent = bot.wait_sent(USER, 1, WITHIN).await.remove(0);
    assert!(
        text_of(&sent).starts_with("<b>燃气报警器应该装在什么位置？</b>"),
        "{sent}"
    );
    assert!(bot.fake.calls("getupdates").is_empty(), "no polling");

    bot.signal_stop();
    bot.join().await;
    assert_eq!(bot.fake.calls("deletewebhook").len(), 1);
    assert_eq!(bot.sent_to(USER).len(), 1);
}
