//! Writing an entry step by step, as staff do in a chat with `/add` and
//! `/edit`: question → alternates → answer → source → category →
//! confirmation.
//!
//! Plain data in and out, so any front end can hold the conversation: it
//! shows each [`Prompt`]'s text, offers its choices as buttons, and passes
//! back what staff typed or tapped. Each answer is checked when it is
//! given (an empty answer, a question another entry already has, an
//! unknown category), so a mistake is put right at that step, not found at
//! the end. Saving is the front end's call to `Staff::save` with the entry
//! [`Turn::Save`] hands over.

use crate::knowledge::{CATEGORIES, Entry, MAX_ANSWER_CHARS};
use crate::staff::{Staff, StaffError, generated_id};

/// Tapped or typed to keep a field as it is (when editing).
pub const KEEP: &str = "保持不变";
/// Tapped or typed to give no alternates.
pub const NONE: &str = "没有";
pub const CONFIRM: &str = "确认保存";
pub const CANCEL: &str = "取消";
/// Longest question accepted: a question, not a paragraph.
pub const MAX_QUESTION_CHARS: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Question,
    Alternates,
    Answer,
    Source,
    Category,
    Confirm,
}

/// What to show staff next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    pub text: String,
    /// Offered as buttons; tapping one sends its text back.
    pub choices: Vec<String>,
}

/// The outcome of one answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Turn {
    /// Show this (the next step, or the same one again after a problem).
    Ask(Prompt),
    /// Staff confirmed: save this entry.
    Save(Entry),
    Cancelled,
}

/// An entry being written (or edited) in a conversation.
#[derive(Debug, Clone)]
pub struct Draft {
    step: Step,
    entry: Entry,
    /// Editing an existing entry: every step offers to keep its value.
    editing: bool,
}

impl Draft {
    /// Starts `/add`. With a question (staff tapped "add" under an
    /// unanswered question), the first step is already answered.
    pub fn new(question: Option<&str>, staff: &Staff) -> (Draft, Prompt) {
        let mut draft = Draft {
            step: Step::Question,
            entry: Entry {
                id: String::new(),
                category: String::new(),
                question: String::new(),
                alternates: Vec::new(),
                answer: String::new(),
                keywords: Vec::new(),
                source: String::new(),
                reviewed: String::new(),
            },
            editing: false,
        };
        // A question already taken comes back with the reason, at step one.
        if let Some(question) = question
            && let Turn::Ask(prompt) = draft.answer(question, staff)
        {
            return (draft, prompt);
        }
        let prompt = draft.prompt();
        (draft, prompt)
    }

    /// Starts `/edit` of an entry.
    pub fn edit(entry: Entry) -> (Draft, Prompt) {
        let draft = Draft {
            step: Step::Question,
            entry,
            editing: true,
        };
        let prompt = draft.prompt();
        (draft, prompt)
    }

    pub fn step(&self) -> Step {
        self.step
    }

    /// The entry as written so far.
    pub fn entry(&self) -> &Entry {
        &self.entry
    }

    /// Takes what staff sent at the current step.
    pub fn answer(&mut self, input: &str, staff: &Staff) -> Turn {
        let input = input.trim();
        if input == CANCEL || input == "/cancel" {
            return Turn::Cancelled;
        }
        let keep = self.editing && input == KEEP;
        let problem = match self.step {
            Step::Question if keep => None,
            Step::Question => self.take_question(input, staff),
            Step::Alternates if keep => None,
            Step::Alternates => {
                self.entry.alternates = if input == NONE {
                    Vec::new()
                } else {
                    input
                        .split(['\n', '｜', '|', '；', ';'])
                        .map(|a| a.trim().to_string())
                        .filter(|a| !a.is_empty() && *a != self.entry.question)
                        .collect()
                };
                None
            }
            Step::Answer if keep => None,
            Step::Answer => {
                let chars = input.chars().count();
                if chars == 0 {
                    Some("答案不能是空的，请发送答案。".to_string())
                } else if chars > MAX_ANSWER_CHARS {
                    Some(format!(
                        "答案 {chars} 字，超过上限 {MAX_ANSWER_CHARS} 字，请精简后重新发送。"
                    ))
                } else {
                    self.entry.answer = input.to_string();
                    None
                }
            }
            Step::Source if keep => None,
            Step::Source => {
                if input.is_empty() {
                    Some("来源不能是空的：请写法律、标准或发布机构。".to_string())
                } else {
                    self.entry.source = input.to_string();
                    None
                }
            }
            Step::Category if keep => None,
            Step::Category => {
                let chosen = input
                    .parse::<usize>()
                    .ok()
                    .and_then(|n| n.checked_sub(1))
                    .and_then(|n| CATEGORIES.get(n))
                    .or_else(|| CATEGORIES.iter().find(|c| **c == input));
                match chosen {
                    Some(category) => {
                        self.entry.category = category.to_string();
                        None
                    }
                    None => Some(format!("没有“{input}”这个分类，请从按钮中选择。")),
                }
            }
            Step::Confirm => {
                if input == CONFIRM {
                    let mut entry = self.entry.clone();
                    if entry.id.is_empty() {
                        entry.id = generated_id(&entry.category, &entry.question);
                    }
                    return Turn::Save(entry);
                }
                Some(format!("请点“{CONFIRM}”保存，或点“{CANCEL}”放弃。"))
            }
        };
        if let Some(problem) = problem {
            let mut prompt = self.prompt();
            prompt.text = format!("{problem}\n\n{}", prompt.text);
            return Turn::Ask(prompt);
        }
        self.step = match self.step {
            Step::Question => Step::Alternates,
            Step::Alternates => Step::Answer,
            Step::Answer => Step::Source,
            Step::Source => Step::Category,
            Step::Category | Step::Confirm => Step::Confirm,
        };
        Turn::Ask(self.prompt())
    }

    fn take_question(&mut self, input: &str, staff: &Staff) -> Option<String> {
        let chars = input.chars().count();
        if chars == 0 {
            return Some("问题不能是空的，请发送居民会怎么问。".to_string());
        }
        if chars > MAX_QUESTION_CHARS {
            return Some(format!(
                "问题 {chars} 字，太长了（上限 {MAX_QUESTION_CHARS} 字），请写成一句话。"
            ));
        }
        match staff.duplicate_of(input, &self.entry.id) {
            Ok(Some(other)) => Some(format!(
                "已有条目 {}（{}）是这个问题。要修改它，请用 /edit {}；要给它加说法，请换一个问题。",
                other.id, other.question, other.id
            )),
            Ok(None) => {
                self.entry.question = input.to_string();
                None
            }
            Err(error) => Some(problem_reading(&error)),
        }
    }

    /// The prompt of the current step.
    pub fn prompt(&self) -> Prompt {
        let keep = |current: &str| -> (String, Vec<String>) {
            if self.editing {
                (format!("\n现在是：{current}"), vec![KEEP.to_string()])
            } else {
                (String::new(), Vec::new())
            }
        };
        let cancel = CANCEL.to_string();
        match self.step {
            Step::Question => {
                let (now, mut choices) = keep(&self.entry.question);
                choices.push(cancel);
                Prompt {
                    text: format!(
                        "第 1 步（共 5 步）：请发送标准问题，也就是居民最常见的问法。{now}"
                    ),
                    choices,
                }
            }
            Step::Alternates => {
                let (now, mut choices) = keep(&self.entry.alternates.join("；"));
                if !self.editing {
                    choices.push(NONE.to_string());
                }
                choices.push(cancel);
                Prompt {
                    text: format!(
                        "第 2 步：请发送其他问法，每行一个（居民可能怎么说），没有就点“{NONE}”。{now}"
                    ),
                    choices,
                }
            }
            Step::Answer => {
                let (now, mut choices) = keep(&self.entry.answer);
                choices.push(cancel);
                Prompt {
                    text: format!(
                        "第 3 步：请发送答案（不超过 {MAX_ANSWER_CHARS} 字，先说最要紧的做法）。{now}"
                    ),
                    choices,
                }
            }
            Step::Source => {
                let (now, mut choices) = keep(&self.entry.source);
                choices.push(cancel);
                Prompt {
                    text: format!("第 4 步：请发送来源（法律、标准或发布机构）。{now}"),
                    choices,
                }
            }
            Step::Category => {
                let (now, keep_choice) = keep(&self.entry.category);
                let mut choices: Vec<String> = keep_choice;
                choices.extend(CATEGORIES.iter().map(|c| c.to_string()));
                choices.push(cancel);
                Prompt {
                    text: format!("第 5 步：请选择分类。{now}"),
                    choices,
                }
            }
            Step::Confirm => Prompt {
                text: format!("请确认：\n{}", preview(&self.entry)),
                choices: vec![CONFIRM.to_string(), cancel],
            },
        }
    }
}

/// The entry as staff check it before saving.
pub fn preview(entry: &Entry) -> String {
    let mut out = format!("分类：{}\n问题：{}\n", entry.category, entry.question);
    if !entry.alternates.is_empty() {
        out.push_str(&format!("其他问法：{}\n", entry.alternates.join("；")));
    }
    out.push_str(&format!("答案：{}\n来源：{}", entry.answer, entry.source));
    out
}

fn problem_reading(error: &StaffError) -> String {
    format!("暂时无法检查这个问题（{error}），请稍后再试。")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn staff() -> Staff {
        let knowledge = crate::knowledge::Knowledge {
            entries: vec![Entry {
                id: "gas-alarm".into(),
                category: "燃气安全".into(),
                question: "燃气报警器装在哪？".into(),
                alternates: vec![],
                answer: "装在高处。".into(),
                keywords: vec![],
                source: "燃气公司".into(),
                reviewed: String::new(),
            }],
            ..Default::default()
        };
        crate::staff::store_only(knowledge, crate::store::Store::in_memory().unwrap())
            .unwrap()
            .staff
    }

    /// Sends each input in turn; returns the last turn.
    fn talk(draft: &mut Draft, staff: &Staff, inputs: &[&str]) -> Turn {
        let mut last = Turn::Cancelled;
        for input in inputs {
            last = draft.answer(input, staff);
        }
        last
    }

    #[test]
    fn add_walks_through_five_steps_then_confirms() {
        let staff = staff();
        let (mut draft, first) = Draft::new(None, &staff);
        assert!(first.text.starts_with("第 1 步"));
        let turn = talk(
            &mut draft,
            &staff,
            &[
                "燃气表漏气找谁修",
                "燃气表坏了打哪个电话\n表漏气找谁",
                "拨打燃气公司抢修电话。",
                "本市燃气公司",
                "1",
            ],
        );
        let Turn::Ask(confirm) = turn else {
            panic!("{turn:?}")
        };
        assert_eq!(draft.step(), Step::Confirm);
        assert!(confirm.text.contains("分类：燃气安全"), "{}", confirm.text);
        assert_eq!(confirm.choices, [CONFIRM, CANCEL]);
        let Turn::Save(entry) = draft.answer(CONFIRM, &staff) else {
            panic!("not saved")
        };
        assert_eq!(entry.alternates, ["燃气表坏了打哪个电话", "表漏气找谁"]);
        assert!(entry.id.starts_with("gas-q"));
        assert!(staff.save(entry, "telegram:1").is_ok());
    }

    #[test]
    fn each_step_refuses_what_it_cannot_take() {
        let staff = staff();
        let (mut draft, _) = Draft::new(None, &staff);
        let Turn::Ask(again) = draft.answer("燃气报警器装在哪", &staff) else {
            panic!()
        };
        assert!(
            again.text.starts_with("已有条目 gas-alarm"),
            "{}",
            again.text
        );
        assert_eq!(draft.step(), Step::Question);
        talk(&mut draft, &staff, &["燃气表漏气找谁修", NONE]);
        let Turn::Ask(again) = draft.answer(&"长".repeat(1001), &staff) else {
            panic!()
        };
        assert!(again.text.contains("超过上限 1000 字"));
        talk(&mut draft, &staff, &["拨打抢修电话。"]);
        let Turn::Ask(again) = draft.answer("", &staff) else {
            panic!()
        };
        assert!(again.text.starts_with("来源不能是空的"));
        talk(&mut draft, &staff, &["燃气公司"]);
        let Turn::Ask(again) = draft.answer("天气", &staff) else {
            panic!()
        };
        assert!(again.text.starts_with("没有“天气”这个分类"));
        assert_eq!(draft.answer(CANCEL, &staff), Turn::Cancelled);
    }

    #[test]
    fn an_unanswered_question_can_start_the_dialogue() {
        let staff = staff();
        let (draft, prompt) = Draft::new(Some("燃气表漏气找谁修"), &staff);
        assert_eq!(draft.step(), Step::Alternates);
        assert!(prompt.text.starts_with("第 2 步"));
        // A question that is taken starts at the first step, saying why.
        let (draft, prompt) = Draft::new(Some("燃气报警器装在哪"), &staff);
        assert_eq!(draft.step(), Step::Question);
        assert!(
            prompt.text.starts_with("已有条目 gas-alarm"),
            "{}",
            prompt.text
        );
    }

    #[test]
    fn editing_offers_to_keep_each_value() {
        let staff = staff();
        let entry = staff
            .store()
            .stored_entry("gas-alarm")
            .unwrap()
            .unwrap()
            .entry;
        let (mut draft, first) = Draft::edit(entry.clone());
        assert!(first.choices.contains(&KEEP.to_string()));
        assert!(first.text.contains("现在是：燃气报警器装在哪？"));
        let turn = talk(
            &mut draft,
            &staff,
            &[
                KEEP,
                KEEP,
                "天然气报警器装在高处，液化气报警器装在低处。",
                KEEP,
                KEEP,
                CONFIRM,
            ],
        );
        let Turn::Save(saved) = turn else {
            panic!("{turn:?}")
        };
        assert_eq!(saved.id, "gas-alarm");
        assert_eq!(saved.question, entry.question);
        assert_eq!(saved.answer, "天然气报警器装在高处，液化气报警器装在低处。");
        // Its own question is not a duplicate of itself.
        let (mut draft, _) = Draft::edit(entry.clone());
        draft.answer("燃气报警器装在哪", &staff);
        assert_eq!(draft.step(), Step::Alternates);
    }
}
