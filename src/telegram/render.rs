//! How the bot's messages look: a core [`Reply`] (and the other screens —
//! greeting, topics, hotlines) rendered as Telegram HTML with inline
//! buttons, split into messages Telegram accepts.
//!
//! Everything here is pure: data in, message texts and keyboards out, so it
//! is tested without a network. Text is first laid out as a [`Doc`] —
//! paragraphs of lines of styled spans — and only turned into HTML after it
//! has been cut into messages, so a cut never falls inside a tag and every
//! piece of dynamic text is escaped exactly once.

use std::sync::Arc;

use teloxide::types::{
    InlineKeyboardButton, InlineKeyboardMarkup, InlineQueryResult, InlineQueryResultArticle,
    InputMessageContent, InputMessageContentText, LinkPreviewOptions, ParseMode,
};
use teloxide::utils::html::escape;

use crate::knowledge::{EmergencyCard, Entry};
use crate::reply::{self, Outcome, Reply};

use super::callback::{Action, Vote, is_entry_id};

/// Telegram's limit for one message, counted (as Telegram does) in UTF-16
/// code units of the text after markup is parsed.
pub const MAX_MESSAGE_UNITS: usize = 4096;
/// Questions per page under `/topics`.
pub const TOPIC_PAGE_SIZE: usize = 8;
/// Inline mode offers at most this many answers.
pub const MAX_INLINE_RESULTS: usize = 5;

pub const FEEDBACK_THANKS: &str = "谢谢您的反馈！";
pub const FEEDBACK_CHANGED: &str = "已更新您的反馈，谢谢！";
pub const FEEDBACK_ALREADY: &str = "您已经反馈过了，谢谢！";
pub const FEEDBACK_FAILED: &str = "反馈暂时没能记下，请稍后再试。";
pub const BUTTON_EXPIRED: &str = "这个按钮已失效，请直接打字提问。";
pub const ENTRY_GONE: &str = "这条内容已更新或删除，请直接打字提问。";

/// One message ready to send: HTML, and the same text without markup for
/// the rare case Telegram refuses the HTML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    pub html: String,
    pub plain: String,
}

/// What the bot sends for one reply: one or more messages, the buttons
/// going under the last one.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub chunks: Vec<Chunk>,
    pub keyboard: Option<InlineKeyboardMarkup>,
}

impl Outgoing {
    fn new(doc: Doc, rows: Vec<Vec<InlineKeyboardButton>>) -> Outgoing {
        Outgoing {
            chunks: doc.into_chunks(MAX_MESSAGE_UNITS),
            keyboard: (!rows.is_empty()).then(|| InlineKeyboardMarkup::new(rows)),
        }
    }

    /// All the HTML, chunks joined by blank lines.
    #[cfg(test)]
    fn html(&self) -> String {
        let parts: Vec<&str> = self.chunks.iter().map(|c| c.html.as_str()).collect();
        parts.join("\n\n")
    }
}

/// The core's reply to a question.
pub fn reply(reply: &Reply) -> Outgoing {
    let mut doc = Doc::default();
    let mut rows = Vec::new();
    if let Some(card) = &reply.urgent {
        card_into(&mut doc, card);
    }
    match reply.outcome {
        Outcome::Answer => {
            if let Some(entry) = &reply.entry {
                entry_into(&mut doc, entry);
                rows = entry_rows(entry, &reply.related);
            }
        }
        Outcome::Suggest => {
            doc.paragraph(Line::plain(reply::SUGGEST_LEAD));
            for (n, entry) in reply.suggestions().enumerate() {
                doc.line(Line::plain(format!("{}. {}", n + 1, entry.question)));
                rows.push(vec![button(
                    format!("{}. {}", n + 1, entry.question),
                    &Action::open(&entry.id),
                )]);
            }
            doc.paragraph(Line::italic(
                "点下面的按钮查看答案；都不是的话，请换个说法再问。",
            ));
        }
        Outcome::NoAnswer if reply.urgent.is_none() => {
            if reply.empty_question {
                doc.text(reply::EMPTY_QUESTION_TEXT);
            } else {
                doc.text(&reply::no_answer_text());
            }
            rows.push(vec![topics_button()]);
        }
        // A danger-now card with no entry of its own: the card is the reply.
        Outcome::NoAnswer => {}
    }
    Outgoing::new(doc, rows)
}

/// One entry opened from a button or a deep link, with related questions
/// when the core has them.
pub fn entry(entry: &Entry, related: &[Arc<Entry>]) -> Outgoing {
    let mut doc = Doc::default();
    entry_into(&mut doc, entry);
    Outgoing::new(doc, entry_rows(entry, related))
}

/// `/start`: who the bot is, what it can do, the numbers to call.
pub fn start() -> Outgoing {
    let mut doc = Doc::default();
    start_into(&mut doc);
    Outgoing::new(doc, vec![vec![topics_button()]])
}

/// `/start <id>` for an id that is not (or no longer) there: say so, then
/// the greeting, in one message.
pub fn start_missing_entry() -> Outgoing {
    let mut doc = Doc::default();
    doc.paragraph(Line::plain(
        "没有找到这个链接指向的内容，可能已经更新或删除。直接打字提问就好。",
    ));
    start_into(&mut doc);
    Outgoing::new(doc, vec![vec![topics_button()]])
}

fn start_into(doc: &mut Doc) {
    doc.paragraph(Line::bold("您好！我是安全知识问答助手。"));
    doc.line(Line::plain(
        "燃气、用电、电动车、消防、急救等日常安全问题都可以问我，每个答案都注明来源。",
    ));
    doc.text(&reply::help_text());
    doc.text(&reply::hotline_text());
}

/// `/help`.
pub fn help() -> Outgoing {
    let mut doc = Doc::default();
    doc.text(&reply::help_text());
    Outgoing::new(doc, vec![vec![topics_button()]])
}

/// `/hotline`.
pub fn hotline() -> Outgoing {
    let mut doc = Doc::default();
    doc.paragraph(Line::bold("应急与举报电话"));
    for (number, use_for) in reply::HOTLINES {
        doc.line(Line(vec![
            Span::bold(*number),
            Span::plain(format!("  {use_for}")),
        ]));
    }
    doc.paragraph(Line::plain(
        "紧急情况先打电话，说清地点、发生了什么、有没有人受伤或被困。",
    ));
    Outgoing::new(doc, Vec::new())
}

/// `/event`: the notice as staff wrote it (see `event::event_text`).
pub fn event(text: &str) -> Outgoing {
    let mut doc = Doc::default();
    doc.text(text);
    Outgoing::new(doc, Vec::new())
}

/// Plain text for staff replies (import summaries, reports): escaped, and
/// split into as many messages as it takes.
pub fn plain(text: &str) -> Outgoing {
    let mut doc = Doc::default();
    doc.text(text);
    Outgoing::new(doc, Vec::new())
}

/// A command the bot does not have.
pub fn unknown_command(command: &str) -> Outgoing {
    let mut doc = Doc::default();
    doc.paragraph(Line::plain(format!("没有 {command} 这个命令。")));
    doc.text(&reply::help_text());
    Outgoing::new(doc, vec![vec![topics_button()]])
}

/// The kinds of message the bot cannot read, for a fitting note.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonText {
    Voice,
    Media,
    Location,
    Sticker,
    Other,
}

/// The friendly note for stickers, photos, voice and the like.
pub fn non_text(kind: NonText) -> Outgoing {
    let lead = match kind {
        NonText::Voice => "我暂时听不了语音。",
        NonText::Media => "我暂时看不了图片、视频和文件。",
        NonText::Location => "收到您的位置了，不过我只能回答文字问题。",
        NonText::Sticker | NonText::Other => "我只看得懂文字消息。",
    };
    let mut doc = Doc::default();
    doc.paragraph(Line::plain(format!(
        "{lead}请用一句话打字提问，例如“燃气泄漏怎么办”“电动车能在楼道充电吗”，也可以发送 /topics 按分类浏览。"
    )));
    doc.paragraph(Line(vec![
        Span::plain("遇到正在发生的危险，请立即拨打 "),
        Span::bold("119、120、110"),
        Span::plain("。"),
    ]));
    Outgoing::new(doc, vec![vec![topics_button()]])
}

/// `/topics`: each category with its number of questions, as buttons.
/// `categories` holds (place in `CATEGORIES`, name, count).
pub fn topics(categories: &[(usize, &str, usize)]) -> Outgoing {
    let mut doc = Doc::default();
    if categories.is_empty() {
        doc.paragraph(Line::plain("知识库里暂时还没有内容。"));
        return Outgoing::new(doc, Vec::new());
    }
    doc.paragraph(Line::bold("按分类浏览"));
    doc.line(Line::plain("点一个分类，看看大家常问的问题。"));
    let buttons: Vec<InlineKeyboardButton> = categories
        .iter()
        .map(|(index, name, count)| {
            button(
                format!("{name}（{count}）"),
                &Action::Category {
                    index: *index,
                    page: 0,
                },
            )
        })
        .collect();
    let rows = buttons.chunks(2).map(<[_]>::to_vec).collect();
    Outgoing::new(doc, rows)
}

/// One page of a category's questions, with paging and a way back.
pub fn category_page(index: usize, name: &str, entries: &[Arc<Entry>], page: usize) -> Outgoing {
    let mut doc = Doc::default();
    if entries.is_empty() {
        doc.paragraph(Line::plain(format!("“{name}”下暂时没有内容。")));
        return Outgoing::new(doc, vec![vec![back_to_topics_button()]]);
    }
    let pages = entries.len().div_ceil(TOPIC_PAGE_SIZE);
    let page = page.min(pages - 1);
    doc.paragraph(Line::bold(name));
    let position = if pages > 1 {
        format!("第 {}/{} 页，", page + 1, pages)
    } else {
        String::new()
    };
    doc.line(Line::plain(format!("{position}点问题查看答案。")));
    let mut rows: Vec<Vec<InlineKeyboardButton>> = entries
        .iter()
        .skip(page * TOPIC_PAGE_SIZE)
        .take(TOPIC_PAGE_SIZE)
        .map(|entry| vec![button(entry.question.clone(), &Action::open(&entry.id))])
        .collect();
    let mut paging = Vec::new();
    if page > 0 {
        paging.push(button(
            "« 上一页".to_string(),
            &Action::Category {
                index,
                page: page - 1,
            },
        ));
    }
    if page + 1 < pages {
        paging.push(button(
            "下一页 »".to_string(),
            &Action::Category {
                index,
                page: page + 1,
            },
        ));
    }
    if !paging.is_empty() {
        rows.push(paging);
    }
    rows.push(vec![back_to_topics_button()]);
    Outgoing::new(doc, rows)
}

/// Inline mode: up to five articles for a question typed after `@bot`.
/// `bot_username` adds a button that opens the entry in a private chat.
pub fn inline_results(reply: &Reply, bot_username: Option<&str>) -> Vec<InlineQueryResult> {
    let mut results: Vec<InlineQueryResult> = Vec::new();
    if let Some(card) = &reply.urgent {
        let mut doc = Doc::default();
        card_into(&mut doc, card);
        let content = first_chunk(doc);
        let title = format!("⚠️ 立即拨打 {}（{}）", card.call.join(" / "), card.title);
        let description = card.actions.first().cloned().unwrap_or_default();
        results.push(article(
            "urgent".to_string(),
            title,
            description,
            content,
            None,
        ));
    }
    let entries: Vec<&Arc<Entry>> = match reply.outcome {
        Outcome::Answer => reply.entry.iter().chain(reply.related.iter()).collect(),
        Outcome::Suggest => reply.suggestions().collect(),
        Outcome::NoAnswer => Vec::new(),
    };
    for entry in entries {
        if results.len() >= MAX_INLINE_RESULTS {
            break;
        }
        let mut doc = Doc::default();
        entry_into(&mut doc, entry);
        let link = bot_username
            .filter(|_| is_entry_id(&entry.id))
            .and_then(|name| {
                reqwest::Url::parse(&format!("https://t.me/{name}?start={}", entry.id)).ok()
            })
            .map(|url| {
                InlineKeyboardMarkup::new(vec![vec![InlineKeyboardButton::url(
                    "在安全问答助手里查看",
                    url,
                )]])
            });
        results.push(article(
            Action::open(&entry.id).encode(),
            entry.question.clone(),
            preview(&entry.answer),
            first_chunk(doc),
            link,
        ));
    }
    if results.is_empty() && !reply.empty_question {
        let mut doc = Doc::default();
        doc.text(&reply::no_answer_text());
        results.push(article(
            "none".to_string(),
            "没有把握回答这个问题".to_string(),
            "发送求助电话和提问建议".to_string(),
            first_chunk(doc),
            None,
        ));
    }
    results
}

fn article(
    id: String,
    title: String,
    description: String,
    content: Chunk,
    keyboard: Option<InlineKeyboardMarkup>,
) -> InlineQueryResult {
    let text = InputMessageContentText::new(content.html)
        .parse_mode(ParseMode::Html)
        .link_preview_options(no_link_preview());
    let mut article = InlineQueryResultArticle::new(id, title, InputMessageContent::Text(text))
        .description(description);
    if let Some(keyboard) = keyboard {
        article = article.reply_markup(keyboard);
    }
    article.into()
}

/// Telegram would otherwise preview the first link it finds in a source.
pub fn no_link_preview() -> LinkPreviewOptions {
    LinkPreviewOptions {
        is_disabled: true,
        url: None,
        prefer_small_media: false,
        prefer_large_media: false,
        show_above_text: false,
    }
}

fn first_chunk(doc: Doc) -> Chunk {
    doc.into_chunks(MAX_MESSAGE_UNITS)
        .into_iter()
        .next()
        .unwrap_or(Chunk {
            html: String::new(),
            plain: String::new(),
        })
}

/// The start of an answer, on one line, for an inline result's description.
fn preview(answer: &str) -> String {
    let flat: String = answer.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out: String = flat.chars().take(60).collect();
    if flat.chars().count() > 60 {
        out.push('…');
    }
    out
}

fn card_into(doc: &mut Doc, card: &EmergencyCard) {
    doc.paragraph(Line(vec![
        Span::plain("⚠️ "),
        Span::bold(format!("立即拨打 {}", card.call.join(" / "))),
        Span::plain(format!("（{}）", card.title)),
    ]));
    for (n, action) in card.actions.iter().enumerate() {
        doc.line(Line::plain(format!("{}. {}", n + 1, action)));
    }
}

fn entry_into(doc: &mut Doc, entry: &Entry) {
    doc.paragraph(Line::bold(entry.question.trim()));
    let mut first = true;
    for paragraph in paragraphs(&entry.answer) {
        for (n, line) in paragraph.into_iter().enumerate() {
            if first || n > 0 {
                doc.line(Line::plain(line));
            } else {
                doc.paragraph(Line::plain(line));
            }
            first = false;
        }
    }
    doc.paragraph(Line::italic(format!("来源：{}", entry.source.trim())));
}

fn entry_rows(entry: &Entry, related: &[Arc<Entry>]) -> Vec<Vec<InlineKeyboardButton>> {
    let mut rows: Vec<Vec<InlineKeyboardButton>> = related
        .iter()
        .filter(|r| r.id != entry.id)
        .take(3)
        .map(|r| vec![button(format!("❓ {}", r.question), &Action::open(&r.id))])
        .collect();
    rows.push(vec![
        button("👍 有帮助".to_string(), &Action::vote(&entry.id, Vote::Up)),
        button(
            "👎 没帮助".to_string(),
            &Action::vote(&entry.id, Vote::Down),
        ),
    ]);
    rows
}

fn button(text: String, action: &Action) -> InlineKeyboardButton {
    InlineKeyboardButton::callback(text, action.encode())
}

fn topics_button() -> InlineKeyboardButton {
    button("📚 按分类浏览".to_string(), &Action::Topics)
}

fn back_to_topics_button() -> InlineKeyboardButton {
    button("↩ 返回分类".to_string(), &Action::BackToTopics)
}

/// Paragraphs (separated by blank lines) of non-blank, trimmed lines.
fn paragraphs(text: &str) -> Vec<Vec<&str>> {
    let mut out: Vec<Vec<&str>> = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
        } else {
            current.push(line);
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    Plain,
    Bold,
    Italic,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Span {
    style: Style,
    text: String,
}

impl Span {
    fn plain(text: impl Into<String>) -> Span {
        Span {
            style: Style::Plain,
            text: text.into(),
        }
    }
    fn bold(text: impl Into<String>) -> Span {
        Span {
            style: Style::Bold,
            text: text.into(),
        }
    }
}

/// One line of styled text (no line breaks inside).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Line(Vec<Span>);

impl Line {
    fn plain(text: impl Into<String>) -> Line {
        Line(vec![Span::plain(text)])
    }
    fn bold(text: impl Into<String>) -> Line {
        Line(vec![Span::bold(text)])
    }
    fn italic(text: impl Into<String>) -> Line {
        Line(vec![Span {
            style: Style::Italic,
            text: text.into(),
        }])
    }

    fn units(&self) -> usize {
        self.0.iter().map(|s| utf16_len(&s.text)).sum()
    }

    fn is_blank(&self) -> bool {
        self.0.iter().all(|s| s.text.trim().is_empty())
    }
}

/// What joins a line to the one before it in the same message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Break {
    /// A blank line: a new paragraph.
    Paragraph,
    Line,
    /// Nothing: the rest of a line that was too long for one message.
    None,
}

impl Break {
    fn units(self) -> usize {
        match self {
            Break::Paragraph => 2,
            Break::Line => 1,
            Break::None => 0,
        }
    }
    fn text(self) -> &'static str {
        match self {
            Break::Paragraph => "\n\n",
            Break::Line => "\n",
            Break::None => "",
        }
    }
}

/// Text laid out before it becomes HTML: lines, each with what joins it to
/// the line before.
#[derive(Debug, Clone, Default)]
struct Doc {
    lines: Vec<(Break, Line)>,
}

impl Doc {
    /// Starts a new paragraph with this line.
    fn paragraph(&mut self, line: Line) {
        self.lines.push((Break::Paragraph, line));
    }

    /// Adds a line to the current paragraph.
    fn line(&mut self, line: Line) {
        self.lines.push((Break::Line, line));
    }

    /// Adds plain text: blank lines separate paragraphs.
    fn text(&mut self, text: &str) {
        for paragraph in paragraphs(text) {
            for (n, line) in paragraph.into_iter().enumerate() {
                if n == 0 {
                    self.paragraph(Line::plain(line));
                } else {
                    self.line(Line::plain(line));
                }
            }
        }
    }

    /// Cuts the text into messages of at most `limit` units: between
    /// paragraphs where possible, else between lines, else after a
    /// sentence, else anywhere (never inside a character or a tag).
    fn into_chunks(self, limit: usize) -> Vec<Chunk> {
        let mut units: Vec<(Break, Line)> = Vec::new();
        for (brk, line) in self.lines {
            // Telegram refuses a message of only spaces: blank lines and
            // blank ends of cut lines are dropped.
            let mut pieces = cut_line(line, limit)
                .into_iter()
                .filter(|piece| !piece.is_blank());
            if let Some(first) = pieces.next() {
                units.push((brk, first));
            }
            units.extend(pieces.map(|piece| (Break::None, piece)));
        }

        let mut messages: Vec<Vec<(Break, Line)>> = Vec::new();
        let mut current: Vec<(Break, Line)> = Vec::new();
        for unit in units {
            loop {
                if fits(&current, &unit, limit) {
                    current.push(unit);
                    break;
                }
                // When the line continues a paragraph, move that paragraph
                // to the next message too, so it is not cut in two when it
                // need not be.
                let cut = if unit.0 == Break::Paragraph {
                    current.len()
                } else {
                    current
                        .iter()
                        .rposition(|(brk, _)| *brk == Break::Paragraph)
                        .filter(|&at| at > 0)
                        .unwrap_or(current.len())
                };
                let tail = current.split_off(cut);
                if !current.is_empty() {
                    messages.push(current);
                }
                current = tail;
                if current.is_empty() {
                    current.push(unit);
                    break;
                }
            }
        }
        if !current.is_empty() {
            messages.push(current);
        }
        messages.into_iter().map(|lines| render(&lines)).collect()
    }
}

fn fits(current: &[(Break, Line)], unit: &(Break, Line), limit: usize) -> bool {
    let used: usize = current
        .iter()
        .enumerate()
        .map(|(n, (brk, line))| if n == 0 { 0 } else { brk.units() } + line.units())
        .sum();
    let joint = if current.is_empty() {
        0
    } else {
        unit.0.units()
    };
    used + joint + unit.1.units() <= limit
}

/// Splits a line longer than `limit` units into pieces that fit, cutting
/// after the last sentence end (or pause, or space) that keeps a piece
/// within the limit.
fn cut_line(line: Line, limit: usize) -> Vec<Line> {
    if line.units() <= limit {
        return vec![line];
    }
    let chars: Vec<(Style, char)> = line
        .0
        .iter()
        .flat_map(|span| span.text.chars().map(move |c| (span.style, c)))
        .collect();
    let mut pieces = Vec::new();
    let mut start = 0;
    while start < chars.len() {
        let mut units = 0;
        let mut end = start;
        while end < chars.len() && units + chars[end].1.len_utf16() <= limit {
            units += chars[end].1.len_utf16();
            end += 1;
        }
        if end == start {
            // A limit smaller than one character: send the character alone.
            end = start + 1;
        } else if end < chars.len() {
            let window = &chars[start..end];
            let after = |set: &[char]| {
                window
                    .iter()
                    .rposition(|(_, c)| set.contains(c))
                    .map(|at| start + at + 1)
                    .filter(|&at| at > start)
            };
            end = after(&['。', '！', '？', '；', '.', '!', '?', ';'])
                .or_else(|| after(&['，', '、', ',', ' ', '：', ':']))
                .unwrap_or(end);
        }
        pieces.push(regroup(&chars[start..end]));
        start = end;
    }
    pieces
}

fn regroup(chars: &[(Style, char)]) -> Line {
    let mut spans: Vec<Span> = Vec::new();
    for &(style, c) in chars {
        match spans.last_mut() {
            Some(span) if span.style == style => span.text.push(c),
            _ => spans.push(Span {
                style,
                text: c.to_string(),
            }),
        }
    }
    Line(spans)
}

fn render(lines: &[(Break, Line)]) -> Chunk {
    let mut html = String::new();
    let mut plain = String::new();
    for (n, (brk, line)) in lines.iter().enumerate() {
        if n > 0 {
            html.push_str(brk.text());
            plain.push_str(brk.text());
        }
        for span in &line.0 {
            let escaped = escape(&span.text);
            match span.style {
                Style::Plain => html.push_str(&escaped),
                Style::Bold => html.push_str(&format!("<b>{escaped}</b>")),
                Style::Italic => html.push_str(&format!("<i>{escaped}</i>")),
            }
            plain.push_str(&span.text);
        }
    }
    Chunk { html, plain }
}

fn utf16_len(text: &str) -> usize {
    text.encode_utf16().count()
}

/// The text a person sees for this HTML: tags dropped, entities decoded.
/// (Used to check lengths the way Telegram counts them.)
pub fn visible_text(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The number of UTF-16 code units Telegram counts for this HTML.
pub fn visible_units(html: &str) -> usize {
    utf16_len(&visible_text(html))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, question: &str, answer: &str) -> Arc<Entry> {
        Arc::new(Entry {
            id: id.into(),
            category: "燃气安全".into(),
            question: question.into(),
            alternates: vec![],
            answer: answer.into(),
            keywords: vec![],
            source: "《城镇燃气管理条例》".into(),
            reviewed: String::new(),
        })
    }

    fn doc_of(paragraphs: &[&str]) -> Doc {
        let mut doc = Doc::default();
        for p in paragraphs {
            doc.text(p);
        }
        doc
    }

    /// Tags open and close in order, and nothing is left open.
    fn assert_balanced(html: &str) {
        let mut open: Vec<String> = Vec::new();
        let mut rest = html;
        while let Some(at) = rest.find('<') {
            let end = rest[at..].find('>').expect("tag closes") + at;
            let tag = &rest[at + 1..end];
            if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(open.pop().as_deref(), Some(name), "in {html}");
            } else {
                open.push(tag.to_string());
            }
            rest = &rest[end + 1..];
        }
        assert!(open.is_empty(), "unclosed {open:?} in {html}");
    }

    #[track_caller]
    fn check_split(doc: Doc, limit: usize, expected: &[&str]) {
        let chunks = doc.into_chunks(limit);
        let plain: Vec<&str> = chunks.iter().map(|c| c.plain.as_str()).collect();
        assert_eq!(plain, expected);
        for chunk in &chunks {
            assert!(utf16_len(&chunk.plain) <= limit, "{chunk:?}");
            assert_balanced(&chunk.html);
        }
    }

    #[test]
    fn messages_are_cut_between_paragraphs_first() {
        check_split(
            doc_of(&["甲甲甲", "乙乙乙", "丙丙丙"]),
            8,
            &["甲甲甲\n\n乙乙乙", "丙丙丙"],
        );
        // A paragraph that would straddle two messages moves whole.
        check_split(
            doc_of(&["甲甲甲", "乙乙\n乙乙\n乙乙"]),
            10,
            &["甲甲甲", "乙乙\n乙乙\n乙乙"],
        );
    }

    #[test]
    fn a_paragraph_longer_than_a_message_is_cut_between_lines() {
        check_split(
            doc_of(&["一一一\n二二二\n三三三"]),
            7,
            &["一一一\n二二二", "三三三"],
        );
    }

    #[test]
    fn a_line_longer_than_a_message_is_cut_after_a_sentence() {
        check_split(
            doc_of(&["关阀门。开窗户。打电话。"]),
            9,
            &["关阀门。开窗户。", "打电话。"],
        );
        check_split(
            doc_of(&["关阀门，开窗户，打电话"]),
            6,
            &["关阀门，", "开窗户，", "打电话"],
        );
        // No place to pause: cut at the limit.
        check_split(doc_of(&["一二三四五六七"]), 3, &["一二三", "四五六", "七"]);
    }

    #[test]
    fn emoji_count_as_two_units_like_telegram_counts_them() {
        check_split(doc_of(&["⚠️🔥🔥"]), 4, &["⚠️🔥", "🔥"]);
    }

    #[test]
    fn a_cut_never_falls_inside_a_tag() {
        let mut doc = Doc::default();
        doc.paragraph(Line(vec![
            Span::plain("前"),
            Span::bold("加粗的很长一段文字"),
            Span::plain("后"),
        ]));
        let chunks = doc.into_chunks(5);
        let html: Vec<&str> = chunks.iter().map(|c| c.html.as_str()).collect();
        assert_eq!(html, ["前<b>加粗的很</b>", "<b>长一段文字</b>", "后"]);
    }

    #[test]
    fn dynamic_text_is_escaped() {
        let answer = entry("x-1", "<b>是不是</b> & 吗？", "用 <script> 和 & 符号");
        let out = super::entry(&answer, &[]);
        let html = out.html();
        assert!(
            html.contains("<b>&lt;b&gt;是不是&lt;/b&gt; &amp; 吗？</b>"),
            "{html}"
        );
        assert!(html.contains("用 &lt;script&gt; 和 &amp; 符号"), "{html}");
        assert_balanced(&html);
    }

    #[test]
    fn an_entry_shows_question_answer_source_and_buttons() {
        let main = entry("gas-smell", "闻到燃气味怎么办？", "1. 关阀门\n2. 开窗");
        let related = vec![
            entry("gas-hose", "胶管多久换？", "十八个月。"),
            entry("gas-alarm", "报警器装哪？", "顶上。"),
        ];
        let out = super::entry(&main, &related);
        assert_eq!(
            out.html(),
            "<b>闻到燃气味怎么办？</b>\n1. 关阀门\n2. 开窗\n\n<i>来源：《城镇燃气管理条例》</i>"
        );
        let keyboard = out.keyboard.expect("buttons");
        let data: Vec<Vec<String>> = keyboard
            .inline_keyboard
            .iter()
            .map(|row| {
                row.iter()
                    .map(|b| match &b.kind {
                        teloxide::types::InlineKeyboardButtonKind::CallbackData(d) => d.clone(),
                        other => panic!("unexpected button {other:?}"),
                    })
                    .collect()
            })
            .collect();
        assert_eq!(
            data,
            vec![
                vec!["a:gas-hose".to_string()],
                vec!["a:gas-alarm".to_string()],
                vec!["+:gas-smell".to_string(), "-:gas-smell".to_string()],
            ]
        );
    }

    #[test]
    fn topics_pages_hold_eight_questions_and_link_back() {
        let entries: Vec<Arc<Entry>> = (0..10)
            .map(|n| entry(&format!("gas-{n}"), &format!("问题{n}"), "答"))
            .collect();
        let first = category_page(0, "燃气安全", &entries, 0);
        let rows = first.keyboard.unwrap().inline_keyboard;
        assert_eq!(rows.len(), TOPIC_PAGE_SIZE + 2);
        assert_eq!(rows[TOPIC_PAGE_SIZE][0].text, "下一页 »");
        let last = category_page(0, "燃气安全", &entries, 7);
        assert!(last.html().contains("第 2/2 页"), "{}", last.html());
        let rows = last.keyboard.unwrap().inline_keyboard;
        assert_eq!(rows.len(), 2 + 2);
        assert_eq!(rows[2][0].text, "« 上一页");
        assert_eq!(rows[3][0].text, "↩ 返回分类");
    }

    proptest::proptest! {
        /// Whatever the text, every message fits, keeps its tags whole and
        /// escaped, and no character is lost or repeated.
        #[test]
        fn any_text_splits_into_messages_that_fit(
            paragraphs in proptest::collection::vec("[a-z<>&。，🔥 燃气\n]{0,40}", 0..12),
            limit in 8usize..60,
        ) {
            let mut doc = Doc::default();
            for (n, text) in paragraphs.iter().enumerate() {
                if n % 3 == 0 {
                    doc.paragraph(Line::bold(text.replace('\n', "")));
                } else {
                    doc.text(text);
                }
            }
            let expected: String = doc
                .lines
                .iter()
                .flat_map(|(_, line)| line.0.iter().map(|s| s.text.clone()))
                .collect::<String>()
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            let chunks = doc.into_chunks(limit);
            let mut seen = String::new();
            for chunk in &chunks {
                proptest::prop_assert!(visible_units(&chunk.html) <= limit, "{:?}", chunk);
                proptest::prop_assert!(!chunk.plain.trim().is_empty());
                proptest::prop_assert_eq!(visible_text(&chunk.html), chunk.plain.clone());
                assert_balanced(&chunk.html);
                seen.extend(chunk.plain.chars().filter(|c| !c.is_whitespace()));
            }
            proptest::prop_assert_eq!(seen, expected);
        }
    }

    #[test]
    fn visible_text_counts_what_telegram_counts() {
        assert_eq!(visible_text("<b>a&lt;b</b>&amp;"), "a<b&");
        assert_eq!(visible_units("<i>🔥</i>"), 2);
    }
}
