//! Sending to Telegram without losing answers.
//!
//! Every request the handlers make goes through [`deliver`]: a 429 waits
//! the `retry_after` Telegram asked for; a network error, a 5xx or a
//! malformed answer is retried with exponential back-off; anything else (a
//! 4xx: blocked by the user, bad request) is final, because sending it again
//! would fail the same way. Messages go through [`deliver_message`], which
//! also waits for a slot from the [`Pacer`] before every attempt, so the bot
//! keeps under Telegram's per-chat and overall limits before Telegram has
//! to say so.
//!
//! Retrying a request whose answer was lost can, rarely, deliver a message
//! twice; for a safety bot a duplicate is the lesser evil than a missing
//! answer.

use std::time::Duration;

use teloxide::ApiError;
use teloxide::RequestError;
use teloxide::payloads::SendMessageSetters;
use teloxide::requests::{Output, Payload, Request, Requester};
use teloxide::types::{ChatId, MessageId, ParseMode, ReplyParameters, ThreadId};

use super::TelegramBot;
use super::pace::Pacer;
use super::render::{Outgoing, no_link_preview};

/// How hard [`deliver`] tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all for network errors, 5xx and malformed answers.
    pub attempts: u32,
    /// Wait after the first such failure; doubled after each further one.
    pub first_delay: Duration,
    pub max_delay: Duration,
    /// How many 429 waits one request may sit through.
    pub max_flood_waits: u32,
}

impl Default for RetryPolicy {
    /// Six attempts over about 30 s (plus the 10 s teloxide itself waits on
    /// every 5xx): long enough to ride out a Bot API hiccup, short enough
    /// that a shutdown is not held up for minutes.
    fn default() -> Self {
        RetryPolicy {
            attempts: 6,
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(16),
            max_flood_waits: 10,
        }
    }
}

impl RetryPolicy {
    /// The wait after `failures` failures in a row (0-based).
    pub fn delay(&self, failures: u32) -> Duration {
        self.first_delay
            .saturating_mul(1u32 << failures.min(16))
            .min(self.max_delay)
    }
}

/// Whether and how a failed request may be tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Telegram asked to wait this long (429).
    After(Duration),
    /// A passing failure: back off and try again.
    BackOff,
}

/// Sorts a failure: `None` means trying again would fail the same way (or,
/// for [`accepted_anyway`], would repeat what was done).
pub fn retry_for(error: &RequestError) -> Option<Retry> {
    if accepted_anyway(error) {
        return None;
    }
    match error {
        RequestError::RetryAfter(seconds) => Some(Retry::After(seconds.duration())),
        // A malformed body is what a proxy's error page or a cut connection
        // looks like: the request may well succeed next time.
        RequestError::Network(_) | RequestError::InvalidJson { .. } => Some(Retry::BackOff),
        // teloxide drops the HTTP status; Telegram's 4xx descriptions all
        // start with the status text, its 5xx ones ("Internal Server
        // Error", "Bad Gateway") do not.
        RequestError::Api(ApiError::Unknown(description)) if !is_client_error(description) => {
            Some(Retry::BackOff)
        }
        _ => None,
    }
}

/// Telegram said `"ok": true` but its result did not parse (a field newer
/// than teloxide, or a sloppy server): the request was carried out, and
/// sending it again would deliver a message twice.
pub fn accepted_anyway(error: &RequestError) -> bool {
    match error {
        RequestError::InvalidJson { raw, .. } => serde_json::from_str::<serde_json::Value>(raw)
            .is_ok_and(|answer| answer["ok"] == serde_json::Value::Bool(true)),
        _ => false,
    }
}

fn is_client_error(description: &str) -> bool {
    const CLIENT: &[&str] = &[
        "Bad Request",
        "Unauthorized",
        "Forbidden",
        "Not Found",
        "Conflict",
        "Request Entity Too Large",
    ];
    CLIENT.iter().any(|prefix| description.starts_with(prefix))
}

/// Sends a request, retrying as [`RetryPolicy`] allows.
pub async fn deliver<R>(policy: &RetryPolicy, request: R) -> Result<Output<R>, RequestError>
where
    R: Request<Err = RequestError>,
{
    deliver_paced(policy, None, request).await
}

/// Sends a message to `chat`: as [`deliver`], each attempt (a retry too is
/// a message to Telegram) first waiting for its slot from `pacer`.
pub async fn deliver_message<R>(
    policy: &RetryPolicy,
    pacer: &Pacer,
    chat: ChatId,
    request: R,
) -> Result<Output<R>, RequestError>
where
    R: Request<Err = RequestError>,
{
    deliver_paced(policy, Some((pacer, chat)), request).await
}

async fn deliver_paced<R>(
    policy: &RetryPolicy,
    pace: Option<(&Pacer, ChatId)>,
    request: R,
) -> Result<Output<R>, RequestError>
where
    R: Request<Err = RequestError>,
{
    let method = <R::Payload as Payload>::NAME;
    let mut failures = 0;
    let mut flood_waits = 0;
    loop {
        if let Some((pacer, chat)) = pace {
            pacer.wait(chat.0).await;
        }
        let error = match request.send_ref().await {
            Ok(output) => return Ok(output),
            Err(error) => error,
        };
        let wait = match retry_for(&error) {
            Some(Retry::After(wait)) if flood_waits < policy.max_flood_waits => {
                flood_waits += 1;
                wait
            }
            Some(Retry::BackOff) if failures + 1 < policy.attempts => {
                let wait = policy.delay(failures);
                failures += 1;
                wait
            }
            _ => return Err(error),
        };
        tracing::warn!(
            method,
            %error,
            wait_ms = wait.as_millis() as u64,
            "Telegram 请求失败，稍后重试"
        );
        tokio::time::sleep(wait).await;
    }
}

/// Where a reply goes.
#[derive(Debug, Clone, Copy)]
pub struct Destination {
    pub chat: ChatId,
    /// In groups the answer quotes the question it answers.
    pub reply_to: Option<MessageId>,
    /// The forum topic the conversation is in.
    pub thread: Option<ThreadId>,
}

/// Sends every message of a reply in order, buttons under the last one.
/// Should Telegram refuse the HTML (it should not: all text is escaped), the
/// same text goes out without markup rather than not at all.
pub async fn send_outgoing(
    bot: &TelegramBot,
    policy: &RetryPolicy,
    pacer: &Pacer,
    to: Destination,
    outgoing: &Outgoing,
) -> Result<(), RequestError> {
    let count = outgoing.chunks.len();
    for (n, chunk) in outgoing.chunks.iter().enumerate() {
        let build = |text: &str, html: bool| {
            let mut request = bot
                .send_message(to.chat, text)
                .link_preview_options(no_link_preview());
            if html {
                request = request.parse_mode(ParseMode::Html);
            }
            if n == 0
                && let Some(message) = to.reply_to
            {
                request = request
                    .reply_parameters(ReplyParameters::new(message).allow_sending_without_reply());
            }
            if let Some(thread) = to.thread {
                request = request.message_thread_id(thread);
            }
            if n + 1 == count
                && let Some(keyboard) = &outgoing.keyboard
            {
                request = request.reply_markup(keyboard.clone());
            }
            request
        };
        match deliver_message(policy, pacer, to.chat, build(&chunk.html, true)).await {
            Ok(_) => {}
            Err(error) if accepted_anyway(&error) => {
                tracing::warn!(%error, "Telegram 已接受消息，但答复无法解析");
            }
            Err(RequestError::Api(ApiError::CantParseEntities(description))) => {
                tracing::error!(%description, "Telegram 不接受消息的 HTML，改发纯文本");
                deliver_message(policy, pacer, to.chat, build(&chunk.plain, false)).await?;
            }
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_doubles_up_to_the_cap() {
        let policy = RetryPolicy::default();
        let delays: Vec<u64> = (0..7).map(|n| policy.delay(n).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 16, 16]);
    }

    #[test]
    fn failures_are_sorted_into_retry_or_give_up() {
        use teloxide::types::Seconds;
        let cases: Vec<(RequestError, Option<Retry>)> = vec![
            (
                RequestError::RetryAfter(Seconds::from_seconds(3)),
                Some(Retry::After(Duration::from_secs(3))),
            ),
            (
                RequestError::Api(ApiError::Unknown("Internal Server Error".into())),
                Some(Retry::BackOff),
            ),
            (
                RequestError::Api(ApiError::Unknown("Bad Gateway".into())),
                Some(Retry::BackOff),
            ),
            (
                RequestError::InvalidJson {
                    source: std::sync::Arc::new(
                        serde_json::from_str::<serde_json::Value>("<html>").unwrap_err(),
                    ),
                    raw: "<html>".into(),
                },
                Some(Retry::BackOff),
            ),
            (
                RequestError::InvalidJson {
                    source: std::sync::Arc::new(serde_json::from_str::<u8>("true").unwrap_err()),
                    raw: r#"{"ok":true,"result":true}"#.into(),
                },
                None,
            ),
            (RequestError::Api(ApiError::BotBlocked), None),
            (RequestError::Api(ApiError::InvalidToken), None),
            (
                RequestError::Api(ApiError::Unknown("Bad Request: chat not found".into())),
                None,
            ),
            (
                RequestError::Api(ApiError::Unknown("Forbidden: not allowed".into())),
                None,
            ),
        ];
        for (error, expected) in cases {
            assert_eq!(retry_for(&error), expected, "{error:?}");
        }
    }
}
