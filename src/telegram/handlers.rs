//! The handler tree and what each kind of update does.
//!
//! [`schema`] builds the tree the dispatcher runs (tests run the same one):
//! messages (first the group gate, then commands, then questions and
//! everything else), button taps, inline queries. Handlers get the bot, the
//! update and, through `dptree::deps!`, the `Arc<Engine>`, the `Arc<Store>`
//! and a [`Context`]. Replies are rendered by `render` and sent by `send`;
//! no retrieval happens here.
//!
//! `Engine::ask` and the store's SQLite writes run on the blocking pool
//! (`spawn_blocking`): a question costs about a millisecond, but a large
//! corpus costs more and a SQLite write can wait up to its 5 s busy timeout
//! while another process (a staff import) holds the lock — neither may
//! stall the async workers that poll Telegram and send the other answers.

use std::sync::Arc;
use std::time::Duration;

use teloxide::dispatching::{UpdateFilterExt, UpdateHandler};
use teloxide::payloads::{
    AnswerCallbackQuerySetters, AnswerInlineQuerySetters, EditMessageTextSetters,
    SendChatActionSetters,
};
use teloxide::prelude::*;
use teloxide::types::{
    CallbackQuery, ChatAction, InlineQuery, Me, Message, MessageId, ParseMode, ThreadId,
};
use teloxide::utils::command::BotCommands;
use teloxide::{ApiError, RequestError};

use crate::engine::Engine;
use crate::knowledge::{CATEGORIES, Entry};
use crate::reply::Reply;
use crate::store::{FeedbackResult, LoggedQuestion, Store};

use super::TelegramBot;
use super::callback::{Action, EntryRef, is_entry_id};
use super::pace::Pacer;
use super::render::{self, NonText, Outgoing};
use super::send::{self, Destination, RetryPolicy};
use super::staffing::{self, StaffDesk};

/// What handlers need besides the engine and the store.
pub struct Context {
    pub retry: RetryPolicy,
    /// Every message waits here for its slot under Telegram's limits.
    pub pacer: Pacer,
    /// The staff operations and ids (`None`: no staff side, every staff
    /// command is refused).
    pub desk: Option<Arc<StaffDesk>>,
}

impl Context {
    /// Sends a reply with this bot's retry policy and pacing.
    pub async fn send(
        &self,
        bot: &TelegramBot,
        to: Destination,
        outgoing: &Outgoing,
    ) -> Result<(), RequestError> {
        send::send_outgoing(bot, &self.retry, &self.pacer, to, outgoing).await
    }
}

/// The commands residents see; the doc comments are the menu text
/// registered with `setMyCommands`.
#[derive(BotCommands, Clone, Debug, PartialEq, Eq)]
#[command(rename_rule = "lowercase")]
pub enum Command {
    /// 开始使用：功能介绍与应急电话
    Start(String),
    /// 使用说明
    Help,
    /// 按分类浏览常见问题
    Topics,
    /// 应急与举报电话
    Hotline,
    /// 安全宣传咨询日活动信息
    Event,
}

#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error("Telegram 请求失败：{0}")]
    Request(#[from] RequestError),
    #[error("后台任务失败：{0}")]
    Task(#[from] tokio::task::JoinError),
}

type HandlerResult = Result<(), HandlerError>;

/// The handler tree.
pub fn schema() -> UpdateHandler<HandlerError> {
    let messages = Update::filter_message()
        .filter(addressed_to_bot)
        .branch(teloxide::dptree::filter_map(parse_command).endpoint(on_command))
        // Staff commands are recognised for everyone and refused there for
        // anyone not on the staff list (so the attempt is answered and
        // logged); drafts and documents are staff-only filters, so a
        // resident's document falls through to the "cannot read files"
        // note and is never downloaded.
        .branch(teloxide::dptree::filter_map(staffing::parse).endpoint(staffing::on_command))
        .branch(teloxide::dptree::filter(in_staff_draft).endpoint(staffing::on_draft_message))
        .branch(teloxide::dptree::filter(is_staff_document).endpoint(staffing::on_document))
        .branch(teloxide::dptree::endpoint(on_message));
    teloxide::dptree::entry()
        .branch(messages)
        .branch(
            Update::filter_callback_query()
                .filter(|query: CallbackQuery| {
                    query
                        .data
                        .as_deref()
                        .is_some_and(|d| d.starts_with(staffing::OFFER_PREFIX))
                })
                .endpoint(staffing::on_offer),
        )
        .branch(Update::filter_callback_query().endpoint(on_callback))
        .branch(Update::filter_inline_query().endpoint(on_inline_query))
}

/// Text from a staff member whose private chat has an `/add` or `/edit`
/// under way.
fn in_staff_draft(message: Message, context: Arc<Context>) -> bool {
    message.chat.is_private()
        && message.text().is_some()
        && context
            .desk
            .as_ref()
            .is_some_and(|desk| desk.is_staff(&message) && desk.has_draft(message.chat.id))
}

/// A document a staff member sent privately: an import.
fn is_staff_document(message: Message, context: Arc<Context>) -> bool {
    message.chat.is_private()
        && message.document().is_some()
        && context
            .desk
            .as_ref()
            .is_some_and(|desk| desk.is_staff(&message))
}

/// In a private chat everything is for the bot. In a group only a message
/// that mentions it, replies to it, or is one of its commands (bare, or
/// `@`-addressed to it); other bots' commands and chatter are not ours.
fn addressed_to_bot(message: Message, me: Me) -> bool {
    // An inline answer the resident posted (even in the bot's own chat) is
    // the bot's words, not a question.
    if message
        .via_bot
        .as_ref()
        .is_some_and(|bot| bot.id == me.user.id)
    {
        return false;
    }
    if message.chat.is_private() {
        return true;
    }
    if !(message.chat.is_group() || message.chat.is_supergroup()) {
        return false;
    }
    if message
        .reply_to_message()
        .and_then(|replied| replied.from.as_ref())
        .is_some_and(|author| author.id == me.user.id)
    {
        return true;
    }
    let Some(text) = message.text().or_else(|| message.caption()) else {
        return false;
    };
    let username = me.user.username.as_deref().unwrap_or("");
    if let Some(command) = command_word(text) {
        return match command.split_once('@') {
            Some((_, addressee)) => {
                !username.is_empty() && addressee.eq_ignore_ascii_case(username)
            }
            // A bare command goes to every bot in the group: answer only
            // the ones that are ours.
            None => Command::parse(text, username).is_ok(),
        };
    }
    mentions(text, username)
}

/// `/word` or `/word@bot` at the start of a message, if it is a command.
fn command_word(text: &str) -> Option<&str> {
    let text = text.trim_start();
    let rest = text.strip_prefix('/')?;
    if !rest.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return None;
    }
    Some(text.split_whitespace().next().unwrap_or(text))
}

fn parse_command(message: Message, me: Me) -> Option<Command> {
    let text = message.text()?.trim_start();
    let username = me.user.username.as_deref().unwrap_or("");
    Command::parse(text, username).ok()
}

/// Whether `@username` appears as a whole mention (not a prefix of a longer
/// name). Telegram usernames are ASCII, so a byte search is safe.
fn mentions(text: &str, username: &str) -> bool {
    !mention_ranges(text, username).is_empty()
}

fn mention_ranges(text: &str, username: &str) -> Vec<std::ops::Range<usize>> {
    if username.is_empty() {
        return Vec::new();
    }
    let needle = format!("@{username}");
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut at = 0;
    while at + needle.len() <= bytes.len() {
        let end = at + needle.len();
        let is_name_byte = |b: &u8| b.is_ascii_alphanumeric() || *b == b'_';
        if bytes[at..end].eq_ignore_ascii_case(needle.as_bytes())
            && !bytes.get(end).is_some_and(is_name_byte)
        {
            found.push(at..end);
            at = end;
        } else {
            at += 1;
        }
    }
    found
}

/// The question with the bot's `@username` taken out (spaces collapsed).
fn without_mentions(text: &str, username: &str) -> String {
    let ranges = mention_ranges(text, username);
    if ranges.is_empty() {
        return text.to_string();
    }
    let mut out = String::new();
    let mut last = 0;
    for range in ranges {
        out.push_str(&text[last..range.start]);
        out.push(' ');
        last = range.end;
    }
    out.push_str(&text[last..]);
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

async fn on_command(
    bot: TelegramBot,
    message: Message,
    command: Command,
    engine: Arc<Engine>,
    store: Arc<Store>,
    context: Arc<Context>,
) -> HandlerResult {
    let outgoing = match command {
        Command::Start(payload) => {
            let payload = payload.trim().to_string();
            if payload.is_empty() {
                render::start()
            } else {
                // Only something shaped like an id is looked up.
                let found = is_entry_id(&payload)
                    .then(|| engine.entry(&payload))
                    .flatten();
                match found {
                    Some(entry) => {
                        blocking(move || {
                            let related = related_of(&engine, &entry);
                            render::entry(&entry, &related)
                        })
                        .await?
                    }
                    None => render::start_missing_entry(),
                }
            }
        }
        Command::Help => render::help(),
        Command::Topics => topics_screen(&engine),
        Command::Hotline => render::hotline(),
        Command::Event => {
            // The notice lives in the store (staff set it with /setevent or
            // `safety-bot event set`).
            let text = blocking(move || crate::event::text_from(&store)).await?;
            render::event(&text)
        }
    };
    context.send(&bot, destination(&message), &outgoing).await?;
    Ok(())
}

/// Questions, unknown commands and everything that is not text.
async fn on_message(
    bot: TelegramBot,
    message: Message,
    me: Me,
    engine: Arc<Engine>,
    store: Arc<Store>,
    context: Arc<Context>,
) -> HandlerResult {
    let private = message.chat.is_private();
    let to = destination(&message);
    let Some(text) = message.text().or_else(|| message.caption()) else {
        // In a group a sticker in reply to the bot is chatter, not a question.
        if private {
            let note = render::non_text(non_text_kind(&message));
            context.send(&bot, to, &note).await?;
        }
        return Ok(());
    };
    if message.text().is_some()
        && let Some(command) = command_word(text)
    {
        let outgoing = render::unknown_command(command);
        context.send(&bot, to, &outgoing).await?;
        return Ok(());
    }
    // "@bot 问题" works in a private chat too; the name is no part of it.
    let question = without_mentions(text, me.user.username.as_deref().unwrap_or(""));
    let user = message.from.as_ref().map(|u| u.id.0.to_string());
    let channel = if private {
        "telegram"
    } else {
        "telegram_group"
    };

    let typing = {
        let mut action = bot.send_chat_action(message.chat.id, ChatAction::Typing);
        if let Some(thread) = to.thread {
            action = action.message_thread_id(thread);
        }
        // Cosmetic: never let it hold up the answer (a 5xx alone costs 10 s
        // inside teloxide), and never retry it.
        async move {
            match tokio::time::timeout(Duration::from_secs(1), action.send()).await {
                Ok(Err(error)) => tracing::debug!(%error, "“正在输入”提示发送失败"),
                Err(_) => tracing::debug!("“正在输入”提示超时"),
                Ok(Ok(_)) => {}
            }
        }
    };
    let answer = blocking(move || {
        let reply = engine.ask(&question);
        log_question(&store, channel, user.as_deref(), &reply);
        // Enough to see the bot at work; who asked and what stay out of it.
        tracing::info!(
            channel,
            outcome = outcome_name(&reply),
            entry = reply.entry.as_ref().map(|e| e.id.as_str()).unwrap_or("-"),
            urgent = reply.urgent.is_some(),
            "回答了一个问题"
        );
        render::reply(&reply)
    });
    let ((), outgoing) = tokio::join!(typing, answer);
    context.send(&bot, to, &outgoing?).await?;
    Ok(())
}

fn log_question(store: &Store, channel: &str, user: Option<&str>, reply: &Reply) {
    let user_hash = user.map(|u| store.user_hash(u));
    let logged = LoggedQuestion {
        channel,
        user_hash: user_hash.as_deref(),
        question: &reply.question,
        outcome: outcome_name(reply),
        urgent: reply.urgent.is_some(),
        entry_id: reply.entry.as_ref().map(|e| e.id.as_str()),
        score: reply.score,
    };
    if let Err(error) = store.log_question(&logged) {
        tracing::warn!(%error, "问题日志写入失败（不影响回答）");
    }
}

/// The outcome as the question log spells it.
fn outcome_name(reply: &Reply) -> &'static str {
    match reply.outcome {
        crate::reply::Outcome::Answer => "answer",
        crate::reply::Outcome::Suggest => "suggest",
        crate::reply::Outcome::NoAnswer => "no_answer",
    }
}

fn non_text_kind(message: &Message) -> NonText {
    if message.voice().is_some() || message.audio().is_some() || message.video_note().is_some() {
        NonText::Voice
    } else if message.photo().is_some()
        || message.video().is_some()
        || message.document().is_some()
        || message.animation().is_some()
    {
        NonText::Media
    } else if message.location().is_some() || message.venue().is_some() {
        NonText::Location
    } else if message.sticker().is_some() {
        NonText::Sticker
    } else {
        NonText::Other
    }
}

/// Replies in a group quote the message they answer, so the asker can tell
/// which answer is theirs; in a forum they stay in the topic.
pub(super) fn destination(message: &Message) -> Destination {
    Destination {
        chat: message.chat.id,
        reply_to: (!message.chat.is_private()).then_some(message.id),
        thread: thread_of(message),
    }
}

fn thread_of(message: &Message) -> Option<ThreadId> {
    message.thread_id.filter(|_| message.is_topic_message)
}

async fn on_callback(
    bot: TelegramBot,
    query: CallbackQuery,
    engine: Arc<Engine>,
    store: Arc<Store>,
    context: Arc<Context>,
) -> HandlerResult {
    let retry = &context.retry;
    let action = query.data.as_deref().and_then(Action::decode);
    let origin = query
        .message
        .as_ref()
        .map(|m| (m.chat().id, m.id(), m.regular_message().and_then(thread_of)));
    let (Some(action), Some((chat, message_id, thread))) = (action, origin) else {
        acknowledge(&bot, retry, &query, Some(render::BUTTON_EXPIRED)).await;
        return Ok(());
    };
    let to = Destination {
        chat,
        reply_to: None,
        thread,
    };
    match action {
        Action::Vote(entry, vote) => {
            let Some(entry_id) = resolve(&engine, &entry).map(|e| e.id.clone()) else {
                acknowledge(&bot, retry, &query, Some(render::ENTRY_GONE)).await;
                return Ok(());
            };
            // The question it answered, when the answer quoted it (groups).
            let question = query
                .regular_message()
                .and_then(|m| m.reply_to_message())
                .and_then(|m| m.text().or_else(|| m.caption()))
                .map(str::to_string);
            let user = query.from.id.0.to_string();
            let recorded = blocking(move || {
                let user_hash = store.user_hash(&user);
                store.record_feedback(&entry_id, &user_hash, vote.value(), question.as_deref())
            })
            .await?;
            let note = match recorded {
                Ok(FeedbackResult::Recorded) => render::FEEDBACK_THANKS,
                Ok(FeedbackResult::Changed) => render::FEEDBACK_CHANGED,
                Ok(FeedbackResult::AlreadyRecorded) => render::FEEDBACK_ALREADY,
                Err(error) => {
                    tracing::error!(%error, "反馈写入失败");
                    render::FEEDBACK_FAILED
                }
            };
            acknowledge(&bot, retry, &query, Some(note)).await;
        }
        Action::Open(entry) => {
            let Some(entry) = resolve(&engine, &entry) else {
                acknowledge(&bot, retry, &query, Some(render::ENTRY_GONE)).await;
                return Ok(());
            };
            acknowledge(&bot, retry, &query, None).await;
            let outgoing = blocking(move || {
                let related = related_of(&engine, &entry);
                render::entry(&entry, &related)
            })
            .await?;
            context.send(&bot, to, &outgoing).await?;
        }
        Action::Topics => {
            acknowledge(&bot, retry, &query, None).await;
            context.send(&bot, to, &topics_screen(&engine)).await?;
        }
        Action::BackToTopics => {
            acknowledge(&bot, retry, &query, None).await;
            replace_or_send(
                &bot,
                retry,
                &context.pacer,
                to,
                message_id,
                &topics_screen(&engine),
            )
            .await?;
        }
        Action::Category { index, page } => {
            let Some(name) = CATEGORIES.get(index).copied() else {
                acknowledge(&bot, retry, &query, Some(render::BUTTON_EXPIRED)).await;
                return Ok(());
            };
            acknowledge(&bot, retry, &query, None).await;
            let outgoing = render::category_page(index, name, &engine.entries_in(name), page);
            replace_or_send(&bot, retry, &context.pacer, to, message_id, &outgoing).await?;
        }
    }
    Ok(())
}

/// Every tap is answered, or the user's client keeps spinning. A failure
/// (a tap older than Telegram's answer window, after a restart) is logged
/// and does not stop the answer the tap asked for.
async fn acknowledge(
    bot: &TelegramBot,
    retry: &RetryPolicy,
    query: &CallbackQuery,
    note: Option<&str>,
) {
    let mut request = bot.answer_callback_query(query.id.clone());
    if let Some(note) = note {
        request = request.text(note);
    }
    if let Err(error) = send::deliver(retry, request).await {
        tracing::warn!(%error, "按钮点击的回执发送失败");
    }
}

/// Browsing categories edits the list in place instead of piling up
/// messages. If the edit fails (the message is too old, or the server does
/// not support it), the screen is sent as a new message instead.
async fn replace_or_send(
    bot: &TelegramBot,
    retry: &RetryPolicy,
    pacer: &Pacer,
    to: Destination,
    message_id: MessageId,
    outgoing: &Outgoing,
) -> Result<(), RequestError> {
    if let [chunk] = outgoing.chunks.as_slice() {
        let mut edit = bot
            .edit_message_text(to.chat, message_id, chunk.html.clone())
            .parse_mode(ParseMode::Html)
            .link_preview_options(render::no_link_preview());
        if let Some(keyboard) = &outgoing.keyboard {
            edit = edit.reply_markup(keyboard.clone());
        }
        match edit.send().await {
            Ok(_) | Err(RequestError::Api(ApiError::MessageNotModified)) => return Ok(()),
            Err(error) => tracing::debug!(%error, "无法原地更新分类列表，改为发送新消息"),
        }
    }
    send::send_outgoing(bot, retry, pacer, to, outgoing).await
}

async fn on_inline_query(
    bot: TelegramBot,
    query: InlineQuery,
    me: Me,
    engine: Arc<Engine>,
    context: Arc<Context>,
) -> HandlerResult {
    let question = query.query.trim().to_string();
    // Inline queries arrive as people type: they are answered but not
    // logged, or the log would fill with half-typed questions.
    let results = if question.is_empty() {
        Vec::new()
    } else {
        let username = me.user.username.clone();
        blocking(move || render::inline_results(&engine.ask(&question), username.as_deref()))
            .await?
    };
    // Answers may change when staff edit the knowledge: cache briefly.
    let request = bot
        .answer_inline_query(query.id.clone(), results)
        .cache_time(60);
    send::deliver(&context.retry, request).await?;
    Ok(())
}

/// `/topics`: the categories that have entries, with their counts.
fn topics_screen(engine: &Engine) -> Outgoing {
    let listed: Vec<(usize, &str, usize)> = engine
        .categories()
        .into_iter()
        .filter_map(|name| {
            let index = CATEGORIES.iter().position(|c| *c == name)?;
            Some((index, name, engine.entries_in(name).len()))
        })
        .collect();
    render::topics(&listed)
}

fn resolve(engine: &Engine, entry: &EntryRef) -> Option<Arc<Entry>> {
    match entry {
        EntryRef::Id(id) => engine.entry(id),
        EntryRef::Key(key) => engine.entry_by_key(*key),
    }
}

/// The questions the core would list under this entry's answer.
fn related_of(engine: &Engine, entry: &Entry) -> Vec<Arc<Entry>> {
    let reply = engine.ask(&entry.question);
    match &reply.entry {
        Some(found) if reply.answered() && found.id == entry.id => reply.related,
        _ => Vec::new(),
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, tokio::task::JoinError> {
    tokio::task::spawn_blocking(work).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_are_whole_usernames_in_any_case() {
        let cases = [
            ("@safety_bot 燃气泄漏怎么办", true),
            ("燃气泄漏怎么办 @Safety_Bot", true),
            ("请问@safety_bot，燃气泄漏怎么办", true),
            ("@safety_bot_two 燃气泄漏怎么办", false),
            ("safety_bot 燃气泄漏怎么办", false),
            ("燃气泄漏怎么办", false),
        ];
        for (text, expected) in cases {
            assert_eq!(mentions(text, "safety_bot"), expected, "{text}");
        }
        assert!(!mentions("@ 燃气", ""));
    }

    #[test]
    fn the_mention_is_taken_out_of_the_question() {
        let cases = [
            ("@safety_bot 燃气泄漏怎么办", "燃气泄漏怎么办"),
            ("请问@Safety_Bot，燃气泄漏怎么办", "请问 ，燃气泄漏怎么办"),
            ("@safety_bot", ""),
            ("@safety_bot_two 你好", "@safety_bot_two 你好"),
        ];
        for (text, expected) in cases {
            assert_eq!(without_mentions(text, "safety_bot"), expected, "{text}");
        }
    }

    #[test]
    fn commands_are_recognised_with_or_without_an_addressee() {
        let cases = [
            ("/help", Some("/help")),
            ("  /start gas-smell", Some("/start")),
            ("/help@safety_bot", Some("/help@safety_bot")),
            ("/ 燃气", None),
            ("/燃气", None),
            ("燃气 /help", None),
        ];
        for (text, expected) in cases {
            assert_eq!(command_word(text), expected, "{text}");
        }
    }

    #[test]
    fn command_arguments_parse() {
        let parse = |text: &str| Command::parse(text, "safety_bot").ok();
        assert_eq!(parse("/start"), Some(Command::Start(String::new())));
        assert_eq!(
            parse("/start gas-smell"),
            Some(Command::Start("gas-smell".into()))
        );
        assert_eq!(
            parse("/start@safety_bot gas-smell"),
            Some(Command::Start("gas-smell".into()))
        );
        assert_eq!(parse("/help@other_bot"), None);
        assert_eq!(parse("/help please"), Some(Command::Help));
        assert_eq!(parse("/stats"), None);
    }
}
