//! What the core answers, as data, and its plain-text and JSON renderings.
//!
//! Front ends render a [`Reply`] their own way (the Telegram module as HTML
//! with buttons); the texts that must read the same everywhere (the
//! fallback, the hotlines, the help) live here.

use std::sync::Arc;

use serde::Serialize;

use crate::knowledge::{EmergencyCard, Entry};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The best entry answers the question.
    Answer,
    /// Unsure between close candidates: "您是不是想问…".
    Suggest,
    /// Nothing known answers it: say so, give the hotlines.
    NoAnswer,
}

#[derive(Debug, Clone)]
pub struct Reply {
    /// The message as it arrived.
    pub question: String,
    pub outcome: Outcome,
    /// Set when the message reports danger happening now.
    pub urgent: Option<EmergencyCard>,
    /// The answer (outcome *answer*) or the first suggestion (*suggest*).
    pub entry: Option<Arc<Entry>>,
    /// Related questions under an answer, or the other suggestions.
    pub related: Vec<Arc<Entry>>,
    pub score: f32,
    /// How much of the question the best candidate covers (0..1).
    pub coverage: f32,
    /// Nothing to search for was left once question words were removed.
    pub empty_question: bool,
}

/// Emergency and report numbers, with when to use each.
pub const HOTLINES: &[(&str, &str)] = &[
    ("119", "火警，以及被困、落水、危化品泄漏等抢险救援"),
    ("120", "医疗急救"),
    ("110", "报警求助"),
    ("122", "交通事故报警"),
    ("12350", "安全生产举报投诉（隐患、违法生产经营）"),
    ("12345", "政务服务便民热线（非紧急的咨询、投诉）"),
    ("12395", "水上遇险求救"),
];

pub const NO_ANSWER_TEXT: &str = "抱歉，这个问题我没有把握回答，不想给您不准确的信息。";
pub const EMPTY_QUESTION_TEXT: &str =
    "请用一句话告诉我您想了解的安全问题，例如“燃气泄漏怎么办”“电动车能在楼道充电吗”。";
pub const ASK_HINT: &str =
    "换个说法试试：说清楚是什么事（如“燃气泄漏”“电动车充电”“有人溺水”）和想知道什么。";
pub const SUGGEST_LEAD: &str = "您是不是想问：";

impl Reply {
    /// True for the *answer* outcome (an urgent reply counts when it carries
    /// a matching entry).
    pub fn answered(&self) -> bool {
        self.outcome == Outcome::Answer && self.entry.is_some()
    }

    /// The full reply as plain text: what the command line prints and what a
    /// person reads.
    pub fn text(&self) -> String {
        let mut out = String::new();
        if let Some(card) = &self.urgent {
            out.push_str(&card_text(card));
            out.push('\n');
        }
        match self.outcome {
            Outcome::Answer => {
                if let Some(entry) = &self.entry {
                    out.push_str(&entry_text(entry));
                }
                if !self.related.is_empty() {
                    out.push_str("\n相关问题：\n");
                    for entry in &self.related {
                        out.push_str(&format!("· {}\n", entry.question));
                    }
                }
            }
            Outcome::Suggest => {
                out.push_str(SUGGEST_LEAD);
                out.push('\n');
                for (n, entry) in self.suggestions().enumerate() {
                    out.push_str(&format!("{}. {}\n", n + 1, entry.question));
                }
            }
            Outcome::NoAnswer if self.urgent.is_none() => {
                if self.empty_question {
                    out.push_str(EMPTY_QUESTION_TEXT);
                    out.push('\n');
                } else {
                    out.push_str(&no_answer_text());
                }
            }
            Outcome::NoAnswer => {}
        }
        out.trim_end().to_string()
    }

    /// The candidates of a *suggest* reply, best first.
    pub fn suggestions(&self) -> impl Iterator<Item = &Arc<Entry>> {
        self.entry.iter().chain(self.related.iter())
    }

    /// The JSON object of `ask --json`.
    pub fn to_json(&self) -> serde_json::Value {
        let brief = |e: &Entry| serde_json::json!({ "id": e.id, "question": e.question, "answer": e.answer });
        serde_json::json!({
            "question": self.question,
            "reply": self.text(),
            "answered": self.answered(),
            "urgent": self.urgent.is_some(),
            "score": (f64::from(self.score) * 1000.0).round() / 1000.0,
            "entry": self.entry.as_ref().map(|e| serde_json::json!({
                "id": e.id,
                "question": e.question,
                "answer": e.answer,
                "category": e.category,
                "source": e.source,
            })),
            "related": self.related.iter().map(|e| brief(e)).collect::<Vec<_>>(),
        })
    }
}

/// An entry as a person reads it: question, answer, source line.
pub fn entry_text(entry: &Entry) -> String {
    format!(
        "【{}】\n{}\n来源：{}\n",
        entry.question,
        entry.answer.trim(),
        entry.source
    )
}

/// An emergency card: the number first, then the first actions.
pub fn card_text(card: &EmergencyCard) -> String {
    let mut out = format!(
        "⚠️ 紧急情况（{}）：立即拨打 {}\n",
        card.title,
        card.call.join(" / ")
    );
    for (n, action) in card.actions.iter().enumerate() {
        out.push_str(&format!("{}. {}\n", n + 1, action));
    }
    out
}

/// The honest fallback: say so, give the numbers, suggest how to ask.
pub fn no_answer_text() -> String {
    format!(
        "{NO_ANSWER_TEXT}\n· 遇到危险请立即拨打：火警 119、急救 120、报警 110、交通事故 122\n· 发现安全生产隐患或违法行为：拨打 12350 举报\n· {ASK_HINT}\n"
    )
}

/// The `/hotline` text.
pub fn hotline_text() -> String {
    let mut out = String::from("应急与举报电话：\n");
    for (number, use_for) in HOTLINES {
        out.push_str(&format!("{number}  {use_for}\n"));
    }
    out.push_str("紧急情况先打电话，说清地点、发生了什么、有没有人受伤或被困。");
    out
}

/// The `/help` text.
pub fn help_text() -> String {
    "我是安全知识问答助手，直接用一句话提问即可，例如：\n· 家里闻到煤气味怎么办\n· 电动车能推进电梯吗\n· 心肺复苏怎么做\n\n命令：\n/topics 按分类浏览问题\n/hotline 应急与举报电话\n/event 安全宣传咨询日活动信息\n/help 使用说明\n\n遇到正在发生的危险，请先拨打 119、120、110。".to_string()
}
