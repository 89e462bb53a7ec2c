//! Staff commands in Telegram: who counts as staff, document imports, the
//! reports, entry changes and the `/add` / `/edit` conversation.
//!
//! Staff are the Telegram user ids given with `--staff` or
//! `SAFETY_BOT_STAFF` ([`StaffDesk::ids`]). Every staff command checks the
//! sender here, before anything else happens: anyone else gets "无权限"
//! and a warning is logged with their (plain) user id, which the operator
//! needs to tell a curious resident from someone probing. A document from
//! anyone else never reaches this module (the filter in `handlers::schema`
//! lets only staff documents through), so it is never downloaded.
//!
//! The work itself is `crate::staff` (import, save, delete, export,
//! refresh), `crate::report` and `crate::draft`; this module only turns
//! Telegram messages into those calls and their results into messages.
//! Store and index work runs on the blocking pool.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use teloxide::net::Download;
use teloxide::payloads::{
    AnswerCallbackQuerySetters, SendDocumentSetters, SendMessageSetters, SendPhotoSetters,
};
use teloxide::prelude::*;
use teloxide::types::{
    CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, InputFile, KeyboardButton,
    KeyboardMarkup, KeyboardRemove, Message,
};
use teloxide::utils::command::BotCommands;

use crate::draft::{Draft, Prompt, Turn};
use crate::engine::Engine;
use crate::export::ExportFormat;
use crate::staff::{ImportFile, ImportOptions, Staff, StaffError};

use super::TelegramBot;
use super::handlers::{Context, HandlerError, destination};
use super::render;
use super::send;

/// Largest document fetched: the import's own limit (and Telegram's
/// `getFile` limit). Bigger ones are refused before downloading.
pub const MAX_DOCUMENT_BYTES: u32 = 20 * 1024 * 1024;
/// Row problems listed in one import reply; the rest are counted.
const MAX_LISTED_ERRORS: usize = 50;
/// Reports cover a week unless staff say otherwise.
const DEFAULT_DAYS: u32 = 7;
/// Groups listed by `/unanswered`.
const UNANSWERED_GROUPS: usize = 20;

/// Written in a document's caption: import the valid rows, list the rest.
pub const SKIP_INVALID: &str = "跳过错误行";

pub const NO_PERMISSION: &str = "无权限：这个命令只供安全委员会工作人员使用。";

/// The staff side of the bot: the operations and who may use them.
pub struct StaffDesk {
    pub staff: Arc<Staff>,
    pub ids: HashSet<u64>,
    /// `/add` and `/edit` conversations in progress, per chat. In memory:
    /// a restart drops an unfinished draft (nothing was saved yet).
    drafts: Mutex<HashMap<ChatId, Draft>>,
    /// What the buttons under `/unanswered` offer, by the number in their
    /// `callback_data` (`s:<n>`): a question does not fit in 64 bytes.
    /// In memory; after a restart the buttons answer "expired".
    offers: Mutex<(u64, BTreeMap<u64, Offer>)>,
}

/// One tap under `/unanswered`.
#[derive(Debug, Clone)]
enum Offer {
    /// Add the question as another wording of entry `id`.
    AddAlternate { id: String, question: String },
    /// Start `/add` with the question filled in.
    Add { question: String },
}

/// Offers kept; the oldest go first (their buttons then say "expired").
const MAX_OFFERS: usize = 2000;
/// Groups of `/unanswered` that get buttons.
const GROUPS_WITH_BUTTONS: usize = 10;
/// The `callback_data` prefix of staff buttons.
pub const OFFER_PREFIX: &str = "s:";

impl StaffDesk {
    pub fn new(staff: Arc<Staff>, ids: impl IntoIterator<Item = u64>) -> StaffDesk {
        StaffDesk {
            staff,
            ids: ids.into_iter().collect(),
            drafts: Mutex::new(HashMap::new()),
            offers: Mutex::new((0, BTreeMap::new())),
        }
    }

    fn offer(&self, offer: Offer) -> String {
        let mut offers = self.offers.lock().unwrap_or_else(|e| e.into_inner());
        offers.0 += 1;
        let n = offers.0;
        offers.1.insert(n, offer);
        while offers.1.len() > MAX_OFFERS {
            offers.1.pop_first();
        }
        format!("{OFFER_PREFIX}{n}")
    }

    fn take_offer(&self, data: &str) -> Option<Offer> {
        let n: u64 = data.strip_prefix(OFFER_PREFIX)?.parse().ok()?;
        let offers = self.offers.lock().unwrap_or_else(|e| e.into_inner());
        offers.1.get(&n).cloned()
    }

    pub fn is_staff(&self, message: &Message) -> bool {
        message
            .from
            .as_ref()
            .is_some_and(|user| self.ids.contains(&user.id.0))
    }

    fn drafts(&self) -> std::sync::MutexGuard<'_, HashMap<ChatId, Draft>> {
        self.drafts.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn has_draft(&self, chat: ChatId) -> bool {
        self.drafts().contains_key(&chat)
    }
}

/// The staff commands. Not in the residents' menu.
#[derive(BotCommands, Clone, Debug, PartialEq, Eq)]
#[command(rename_rule = "lowercase")]
pub enum StaffCommand {
    /// 未能很好回答的问题：/unanswered [天数]
    Unanswered(String),
    /// 使用统计：/stats [天数]
    Stats(String),
    /// 设置咨询日活动信息：/setevent 内容（/setevent 清除 可撤下）
    SetEvent(String),
    /// 删除条目（可恢复）：/delete 编号
    Delete(String),
    /// 恢复删除的条目：/restore 编号
    Restore(String),
    /// 导出全部问答（Excel）
    Export,
    /// 下载导入模板（Excel）
    Template,
    /// 新增一条问答
    Add,
    /// 修改条目：/edit 编号
    Edit(String),
    /// 放弃正在新增或修改的条目
    Cancel,
}

pub fn parse(message: Message, me: teloxide::types::Me) -> Option<StaffCommand> {
    let text = message.text()?.trim_start();
    StaffCommand::parse(text, me.user.username.as_deref().unwrap_or("")).ok()
}

fn actor(message: &Message) -> String {
    match &message.from {
        Some(user) => format!("telegram:{}", user.id.0),
        None => "telegram:?".to_string(),
    }
}

/// The days argument of a report: a number, or the default when empty.
fn days_of(argument: &str) -> Result<u32, String> {
    let argument = argument.trim();
    if argument.is_empty() {
        return Ok(DEFAULT_DAYS);
    }
    argument
        .parse::<u32>()
        .ok()
        .filter(|d| *d >= 1)
        .ok_or_else(|| format!("天数要写成正整数，例如 7，而不是“{argument}”。"))
}

fn staff_error_text(error: &StaffError) -> String {
    if !error.is_user_error() {
        tracing::error!(%error, "工作人员操作失败");
    }
    error.to_string()
}

async fn reply(
    bot: &TelegramBot,
    context: &Context,
    message: &Message,
    text: &str,
) -> Result<(), HandlerError> {
    context
        .send(bot, destination(message), &render::plain(text))
        .await?;
    Ok(())
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, tokio::task::JoinError> {
    tokio::task::spawn_blocking(work).await
}

/// Every staff command; refused here for anyone else.
pub async fn on_command(
    bot: TelegramBot,
    message: Message,
    command: StaffCommand,
    engine: Arc<Engine>,
    context: Arc<Context>,
) -> Result<(), HandlerError> {
    let Some(desk) = context.desk.clone().filter(|desk| desk.is_staff(&message)) else {
        tracing::warn!(
            user_id = message.from.as_ref().map(|u| u.id.0).unwrap_or(0),
            command = ?command,
            "非工作人员尝试使用工作人员命令，已拒绝"
        );
        return reply(&bot, &context, &message, NO_PERMISSION).await;
    };
    let staff = desk.staff.clone();
    let who = actor(&message);
    let chat = message.chat.id;
    let text = match command {
        StaffCommand::Unanswered(days) => match days_of(&days) {
            Err(problem) => problem,
            Ok(days) => {
                let list = blocking(move || {
                    crate::report::unanswered(
                        staff.store(),
                        &engine,
                        days,
                        chrono::Utc::now(),
                        UNANSWERED_GROUPS,
                    )
                })
                .await?;
                match list {
                    Ok(list) => {
                        let mut outgoing = render::plain(&crate::report::unanswered_text(&list));
                        let rows = offer_rows(&desk, &list);
                        if !rows.is_empty() {
                            outgoing.keyboard = Some(InlineKeyboardMarkup::new(rows));
                        }
                        context.send(&bot, destination(&message), &outgoing).await?;
                        return Ok(());
                    }
                    Err(error) => {
                        tracing::error!(%error, "读取未回答问题失败");
                        format!("读取失败：{error}")
                    }
                }
            }
        },
        StaffCommand::Stats(days) => match days_of(&days) {
            Err(problem) => problem,
            Ok(days) => {
                let figures = blocking(move || {
                    crate::report::stats(staff.store(), days, chrono::Utc::now()).map(|stats| {
                        let chart = crate::report::chart_png(&stats);
                        (crate::report::stats_text(&stats), chart)
                    })
                })
                .await?;
                match figures {
                    Err(error) => {
                        tracing::error!(%error, "读取统计失败");
                        format!("读取失败：{error}")
                    }
                    Ok((text, chart)) => {
                        reply(&bot, &context, &message, &text).await?;
                        match chart {
                            Ok(png) => {
                                let photo = InputFile::memory(png).file_name("每小时提问数.png");
                                let request = bot
                                    .send_photo(chat, photo)
                                    .caption("每小时提问数（北京时间）");
                                if let Err(error) = send::deliver_message(
                                    &context.retry,
                                    &context.pacer,
                                    chat,
                                    request,
                                )
                                .await
                                {
                                    tracing::warn!(%error, "统计图发送失败");
                                }
                            }
                            Err(error) => tracing::warn!(%error, "统计图生成失败"),
                        }
                        return Ok(());
                    }
                }
            }
        },
        StaffCommand::SetEvent(text) => {
            let text = text.trim().to_string();
            let clear = text == "清除";
            if text.is_empty() {
                "用法：/setevent 活动时间、地点、内容（可以多行）；/setevent 清除 撤下活动信息。"
                    .to_string()
            } else {
                blocking(move || {
                    let set = if clear { "" } else { text.as_str() };
                    match staff.set_event(set, &who) {
                        Ok(()) if clear => "已撤下活动信息。".to_string(),
                        Ok(()) => format!(
                            "已发布。/event 现在显示：\n{}",
                            crate::event::text_from(staff.store())
                        ),
                        Err(error) => staff_error_text(&error),
                    }
                })
                .await?
            }
        }
        StaffCommand::Delete(id) | StaffCommand::Restore(id) if id.trim().is_empty() => {
            "请写上条目编号，例如 /delete gas-smell-at-home（编号见 /export 导出的表格）。"
                .to_string()
        }
        StaffCommand::Delete(id) => {
            let id = id.trim().to_string();
            blocking(move || match staff.delete(&id, &who) {
                Ok(entry) => format!(
                    "已删除 {id}（{}），不再用于回答。需要时发送 /restore {id} 恢复。",
                    entry.question
                ),
                Err(error) => staff_error_text(&error),
            })
            .await?
        }
        StaffCommand::Restore(id) => {
            let id = id.trim().to_string();
            blocking(move || match staff.restore(&id, &who) {
                Ok(entry) => format!("已恢复 {id}（{}）。", entry.question),
                Err(error) => staff_error_text(&error),
            })
            .await?
        }
        StaffCommand::Export => {
            let file = blocking(move || staff.export(ExportFormat::Xlsx)).await?;
            match file {
                Ok(bytes) => {
                    let document = InputFile::memory(bytes).file_name("全部问答.xlsx");
                    let request = bot
                        .send_document(chat, document)
                        .caption("全部问答。改好后直接发回给我即可导入。");
                    send::deliver_message(&context.retry, &context.pacer, chat, request).await?;
                    return Ok(());
                }
                Err(error) => staff_error_text(&error),
            }
        }
        StaffCommand::Template => match crate::export::template() {
            Ok(bytes) => {
                let document = InputFile::memory(bytes).file_name("问答模板.xlsx");
                let request = bot
                    .send_document(chat, document)
                    .caption("导入模板：按示例填好后发回给我即可导入。");
                send::deliver_message(&context.retry, &context.pacer, chat, request).await?;
                return Ok(());
            }
            Err(error) => {
                tracing::error!(%error, "生成模板失败");
                format!("生成模板失败：{error}")
            }
        },
        StaffCommand::Add => {
            let (draft, prompt) = {
                let staff = staff.clone();
                blocking(move || Draft::new(None, &staff)).await?
            };
            desk.drafts().insert(chat, draft);
            return send_prompt(&bot, &context, chat, &prompt).await;
        }
        StaffCommand::Edit(id) => {
            let id = id.trim().to_string();
            match engine.entry(&id).filter(|_| !id.is_empty()) {
                None => format!("没有编号为“{id}”的条目。用法：/edit 编号"),
                Some(entry) => {
                    let (draft, prompt) = Draft::edit((*entry).clone());
                    desk.drafts().insert(chat, draft);
                    return send_prompt(&bot, &context, chat, &prompt).await;
                }
            }
        }
        StaffCommand::Cancel => {
            let had = desk.drafts().remove(&chat).is_some();
            let text = if had {
                "已取消，没有保存。"
            } else {
                "现在没有正在编辑的条目。"
            };
            let request = bot
                .send_message(chat, text)
                .reply_markup(KeyboardRemove::new());
            send::deliver_message(&context.retry, &context.pacer, chat, request).await?;
            return Ok(());
        }
    };
    reply(&bot, &context, &message, &text).await
}

/// One row per group (the first few): add the question as a wording of
/// the proposed entry, or start `/add` with it. Numbered as in the text.
fn offer_rows(
    desk: &StaffDesk,
    list: &crate::report::Unanswered,
) -> Vec<Vec<InlineKeyboardButton>> {
    list.groups
        .iter()
        .take(GROUPS_WITH_BUTTONS)
        .enumerate()
        .map(|(n, group)| {
            let mut row = Vec::new();
            if let Some(crate::report::Proposal::AddAlternate { id, .. }) = &group.proposal {
                let data = desk.offer(Offer::AddAlternate {
                    id: id.clone(),
                    question: group.question.clone(),
                });
                row.push(InlineKeyboardButton::callback(
                    format!("{}. 加为 {id} 的问法", n + 1),
                    data,
                ));
            }
            let data = desk.offer(Offer::Add {
                question: group.question.clone(),
            });
            row.push(InlineKeyboardButton::callback(
                format!("{}. 新增问答", n + 1),
                data,
            ));
            row
        })
        .collect()
}

/// A tap on a button under `/unanswered`.
pub async fn on_offer(
    bot: TelegramBot,
    query: CallbackQuery,
    context: Arc<Context>,
) -> Result<(), HandlerError> {
    let desk = context
        .desk
        .clone()
        .filter(|desk| desk.ids.contains(&query.from.id.0));
    let chat = query.message.as_ref().map(|m| m.chat().id);
    let (Some(desk), Some(chat)) = (desk, chat) else {
        tracing::warn!(
            user_id = query.from.id.0,
            "非工作人员点击了工作人员按钮，已拒绝"
        );
        acknowledge(&bot, &context, &query, NO_PERMISSION).await;
        return Ok(());
    };
    let Some(offer) = query.data.as_deref().and_then(|d| desk.take_offer(d)) else {
        acknowledge(&bot, &context, &query, render::BUTTON_EXPIRED).await;
        return Ok(());
    };
    let who = format!("telegram:{}", query.from.id.0);
    let staff = desk.staff.clone();
    match offer {
        Offer::AddAlternate { id, question } => {
            acknowledge(&bot, &context, &query, "正在保存…").await;
            let text = blocking(move || match staff.add_alternate(&id, &question, &who) {
                Ok(_) => format!("已把“{question}”加为条目 {id} 的问法，现在就能回答了。"),
                Err(error) => staff_error_text(&error),
            })
            .await?;
            let to = send::Destination {
                chat,
                reply_to: None,
                thread: None,
            };
            context.send(&bot, to, &render::plain(&text)).await?;
        }
        Offer::Add { question } => {
            acknowledge(&bot, &context, &query, "开始新增问答").await;
            let (draft, prompt) = blocking(move || Draft::new(Some(&question), &staff)).await?;
            desk.drafts().insert(chat, draft);
            send_prompt(&bot, &context, chat, &prompt).await?;
        }
    }
    Ok(())
}

async fn acknowledge(bot: &TelegramBot, context: &Context, query: &CallbackQuery, note: &str) {
    let request = bot.answer_callback_query(query.id.clone()).text(note);
    if let Err(error) = send::deliver(&context.retry, request).await {
        tracing::warn!(%error, "按钮点击的回执发送失败");
    }
}

/// A step of `/add` or `/edit`: the choices as a keyboard whose taps send
/// their text back. Plain text, so nothing staff typed is read as markup.
async fn send_prompt(
    bot: &TelegramBot,
    context: &Context,
    chat: ChatId,
    prompt: &Prompt,
) -> Result<(), HandlerError> {
    let mut request = bot.send_message(chat, prompt.text.clone());
    if prompt.choices.is_empty() {
        request = request.reply_markup(KeyboardRemove::new());
    } else {
        let rows: Vec<Vec<KeyboardButton>> = prompt
            .choices
            .chunks(2)
            .map(|row| row.iter().map(KeyboardButton::new).collect())
            .collect();
        request = request.reply_markup(
            KeyboardMarkup::new(rows)
                .resize_keyboard()
                .one_time_keyboard(),
        );
    }
    send::deliver_message(&context.retry, &context.pacer, chat, request).await?;
    Ok(())
}

/// A staff member's message while a draft is open in their chat.
pub async fn on_draft_message(
    bot: TelegramBot,
    message: Message,
    context: Arc<Context>,
) -> Result<(), HandlerError> {
    let (Some(desk), Some(text)) = (context.desk.clone(), message.text()) else {
        return Ok(());
    };
    let chat = message.chat.id;
    let Some(mut draft) = desk.drafts().remove(&chat) else {
        return Ok(());
    };
    let input = text.to_string();
    let staff = desk.staff.clone();
    let who = actor(&message);
    let (draft, outcome) = blocking(move || {
        let turn = draft.answer(&input, &staff);
        let outcome = match turn {
            Turn::Ask(prompt) => Ok(prompt),
            Turn::Cancelled => Err("已取消，没有保存。".to_string()),
            Turn::Save(entry) => Err(match staff.save(entry, &who) {
                Ok(saved) => format!(
                    "已保存 {}，现在就能回答了。\n{}",
                    saved.id,
                    crate::draft::preview(&saved)
                ),
                Err(error) => format!("保存失败：{}", staff_error_text(&error)),
            }),
        };
        (draft, outcome)
    })
    .await?;
    match outcome {
        Ok(prompt) => {
            desk.drafts().insert(chat, draft);
            send_prompt(&bot, &context, chat, &prompt).await
        }
        Err(done) => {
            for chunk in render::plain(&done).chunks {
                let request = bot
                    .send_message(chat, chunk.html)
                    .parse_mode(teloxide::types::ParseMode::Html)
                    .reply_markup(KeyboardRemove::new());
                send::deliver_message(&context.retry, &context.pacer, chat, request).await?;
            }
            Ok(())
        }
    }
}

/// A document from a staff member in a private chat: fetched with
/// `getFile`, imported, answered with the summary and the row problems.
pub async fn on_document(
    bot: TelegramBot,
    message: Message,
    context: Arc<Context>,
) -> Result<(), HandlerError> {
    let (Some(desk), Some(document)) = (context.desk.clone(), message.document()) else {
        return Ok(());
    };
    let name = document
        .file_name
        .clone()
        .unwrap_or_else(|| "文件".to_string());
    if document.file.size > MAX_DOCUMENT_BYTES {
        let text = format!("{name} 超过 20 MB，无法导入。请拆成几个文件再发。");
        return reply(&bot, &context, &message, &text).await;
    }
    let file = match send::deliver(&context.retry, bot.get_file(document.file.id.clone())).await {
        Ok(file) => file,
        Err(error) => {
            tracing::warn!(%error, "获取文件信息失败");
            let text = format!("没能取到文件 {name}，请稍后再发一次。");
            return reply(&bot, &context, &message, &text).await;
        }
    };
    let mut bytes: Vec<u8> = Vec::new();
    if let Err(error) = bot.download_file(&file.path, &mut bytes).await {
        // The error may name the URL, which holds the token: not logged.
        tracing::warn!(kind = download_error_kind(&error), "下载文件失败");
        let text = format!("没能下载文件 {name}，请稍后再发一次。");
        return reply(&bot, &context, &message, &text).await;
    }
    let staff = desk.staff.clone();
    // The caption is where staff can say what the command line says with
    // --skip-invalid.
    let skip_invalid = message.caption().is_some_and(|c| c.contains(SKIP_INVALID));
    let options = ImportOptions {
        dedupe_key: Some(format!("telegram:{}", document.file.unique_id)),
        actor: actor(&message),
        skip_invalid,
        ..ImportOptions::default()
    };
    tracing::info!(file = %name, bytes = bytes.len(), "工作人员发来文件，开始导入");
    let text = blocking(move || {
        let files = vec![ImportFile { name, bytes }];
        match staff.import(files, &options, &mut |_, _, _| {}) {
            // The core's hint names the command-line flag; here it is the
            // caption.
            Ok(report) => report.text(MAX_LISTED_ERRORS).replace(
                "加 --skip-invalid",
                &format!("重新发送文件并在说明里写“{SKIP_INVALID}”"),
            ),
            Err(error) => staff_error_text(&error),
        }
    })
    .await?;
    reply(&bot, &context, &message, &text).await
}

fn download_error_kind(error: &teloxide::DownloadError) -> &'static str {
    match error {
        teloxide::DownloadError::Network(_) => "network",
        teloxide::DownloadError::Io(_) => "io",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staff_commands_parse_with_their_arguments() {
        let parse = |text: &str| StaffCommand::parse(text, "safety_bot").ok();
        let cases = [
            ("/stats", Some(StaffCommand::Stats(String::new()))),
            ("/stats 30", Some(StaffCommand::Stats("30".into()))),
            (
                "/setevent 周六 9:00",
                Some(StaffCommand::SetEvent("周六 9:00".into())),
            ),
            (
                "/delete gas-smell",
                Some(StaffCommand::Delete("gas-smell".into())),
            ),
            ("/export", Some(StaffCommand::Export)),
            ("/add", Some(StaffCommand::Add)),
            ("/help", None),
        ];
        for (text, expected) in cases {
            assert_eq!(parse(text), expected, "{text}");
        }
    }

    #[test]
    fn report_days_are_checked() {
        let cases = [
            ("", Ok(7)),
            (" 30 ", Ok(30)),
            ("0", Err(())),
            ("一周", Err(())),
        ];
        for (given, expected) in cases {
            assert_eq!(days_of(given).map_err(|_| ()), expected, "{given}");
        }
    }
}
