//! The knowledge the bot answers from: Q&A entries, synonym groups, the jieba
//! user dictionary and the emergency cards, as plain data.
//!
//! This module knows the on-disk format of `knowledge/` (TOML topic files,
//! `synonyms.toml`, `userdict.txt`, `emergency.toml`) and the rules every
//! entry must meet. It does no searching: see `index` and `engine`.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The topics the bot knows, in the order `/topics` shows them.
pub const CATEGORIES: &[&str] = &[
    "燃气安全",
    "用电安全",
    "电动自行车",
    "消防与火灾逃生",
    "一氧化碳中毒",
    "道路交通",
    "防溺水",
    "地震",
    "暴雨洪涝与台风",
    "雷电",
    "高温中暑",
    "山体滑坡与泥石流",
    "急救",
    "企业安全生产主体责任",
    "有限空间作业",
    "危险化学品",
    "烟花爆竹",
    "建筑施工",
    "特种设备",
    "家庭与儿童",
    "人员密集场所",
    "户外",
    "安全生产月与宣传活动",
    "应急电话与隐患举报",
    "家庭应急准备",
    "食品中毒",
    "从业人员权利与义务",
];

/// Shortest and longest answer in the shipped corpus, in characters.
pub const SHIPPED_ANSWER_CHARS: std::ops::RangeInclusive<usize> = 80..=400;
/// Longest answer staff may load (a phone screen or two).
pub const MAX_ANSWER_CHARS: usize = 1000;
/// Fewest alternate wordings a shipped entry needs.
pub const MIN_ALTERNATES: usize = 3;

/// One question and its answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub id: String,
    pub category: String,
    pub question: String,
    #[serde(default)]
    pub alternates: Vec<String>,
    pub answer: String,
    #[serde(default)]
    pub keywords: Vec<String>,
    pub source: String,
    #[serde(default)]
    pub reviewed: String,
}

impl Entry {
    /// The entry in the one form it is stored and compared in: fields
    /// trimmed, line breaks as `\n`, empty and repeated alternates and
    /// keywords dropped. Two entries that differ only in such details are
    /// the same entry, so re-importing an exported file changes nothing.
    pub fn tidy(self) -> Entry {
        fn text(value: &str) -> String {
            value
                .replace("\r\n", "\n")
                .replace('\r', "\n")
                .trim()
                .to_string()
        }
        fn list(values: &[String]) -> Vec<String> {
            let mut out: Vec<String> = Vec::with_capacity(values.len());
            for value in values {
                let value = text(value);
                if !value.is_empty() && !out.contains(&value) {
                    out.push(value);
                }
            }
            out
        }
        Entry {
            id: text(&self.id),
            category: text(&self.category),
            question: text(&self.question),
            alternates: list(&self.alternates),
            answer: text(&self.answer),
            keywords: list(&self.keywords),
            source: text(&self.source),
            reviewed: text(&self.reviewed),
        }
    }

    /// The standard question followed by every alternate wording.
    pub fn wordings(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.question.as_str()).chain(self.alternates.iter().map(String::as_str))
    }
}

/// What an emergency card tells someone in danger right now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmergencyCard {
    pub id: String,
    pub title: String,
    /// Numbers to call, most important first (119, 120, 110, 122).
    pub call: Vec<String>,
    /// Phrases that mean the danger is happening now.
    pub triggers: Vec<String>,
    /// Two to four first actions.
    pub actions: Vec<String>,
    /// The entry shown after the card, if any.
    #[serde(default)]
    pub entry: Option<String>,
    pub source: String,
}

/// Everything the engine needs, loaded and validated.
#[derive(Debug, Clone, Default)]
pub struct Knowledge {
    pub entries: Vec<Entry>,
    /// Groups of interchangeable terms, as written (not yet normalised).
    pub synonyms: Vec<Vec<String>>,
    /// The jieba user dictionary, in jieba's text format.
    pub user_dict: String,
    pub cards: Vec<EmergencyCard>,
}

impl Knowledge {
    /// A hash of everything that shapes the index. When it changes, the index
    /// on disk is stale and is rebuilt.
    pub fn fingerprint(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(crate::index::INDEX_FORMAT.as_bytes());
        for entry in &self.entries {
            hasher.update(serde_json::to_vec(entry).unwrap_or_default());
            hasher.update([0]);
        }
        hasher.update(serde_json::to_vec(&self.synonyms).unwrap_or_default());
        hasher.update(self.user_dict.as_bytes());
        hex::encode(&hasher.finalize()[..16])
    }

    pub fn entry(&self, id: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.id == id)
    }
}

/// One problem found in the knowledge, located as precisely as we can.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// File (or `行 N` for a spreadsheet row) where it is.
    pub place: String,
    pub entry: Option<String>,
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.place)?;
        if let Some(entry) = &self.entry {
            write!(f, " 条目 {entry}")?;
        }
        if let Some(field) = &self.field {
            write!(f, " 字段 {field}")?;
        }
        write!(f, "：{}", self.message)
    }
}

/// How strictly an entry is checked: the shipped corpus is held to the
/// corpus rules (length, three alternates, simplified text); staff imports
/// only to what the bot needs to answer well.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strictness {
    Shipped,
    Staff,
}

/// Checks one entry on its own; returns `(field, message)` pairs.
pub fn check_entry(entry: &Entry, strictness: Strictness) -> Vec<(&'static str, String)> {
    let mut problems = Vec::new();
    if !is_valid_id(&entry.id) {
        problems.push((
            "id",
            format!(
                "编号“{}”无效：只能用小写英文字母、数字和连字符，3 到 64 个字符",
                entry.id
            ),
        ));
    }
    if !CATEGORIES.contains(&entry.category.as_str()) {
        problems.push((
            "category",
            format!(
                "未知分类“{}”，可用分类：{}",
                entry.category,
                CATEGORIES.join("、")
            ),
        ));
    }
    if entry.question.trim().is_empty() {
        problems.push(("question", "缺少问题".to_string()));
    }
    let answer_chars = entry.answer.trim().chars().count();
    if answer_chars == 0 {
        problems.push(("answer", "缺少答案".to_string()));
    } else if strictness == Strictness::Shipped && !SHIPPED_ANSWER_CHARS.contains(&answer_chars) {
        problems.push((
            "answer",
            format!(
                "答案 {answer_chars} 字，应在 {} 到 {} 字之间",
                SHIPPED_ANSWER_CHARS.start(),
                SHIPPED_ANSWER_CHARS.end()
            ),
        ));
    } else if answer_chars > MAX_ANSWER_CHARS {
        problems.push((
            "answer",
            format!("答案过长：{answer_chars} 字，上限 {MAX_ANSWER_CHARS} 字"),
        ));
    }
    if entry.source.trim().is_empty() {
        problems.push(("source", "缺少来源（法律、标准或发布机构）".to_string()));
    }
    if !entry.reviewed.is_empty() && !is_valid_date(&entry.reviewed) {
        problems.push((
            "reviewed",
            format!("审核日期“{}”应写成 YYYY-MM-DD", entry.reviewed),
        ));
    }
    if strictness == Strictness::Shipped {
        if entry.reviewed.is_empty() {
            problems.push(("reviewed", "缺少审核日期".to_string()));
        }
        let distinct: HashSet<&str> = entry
            .alternates
            .iter()
            .map(|a| a.trim())
            .filter(|a| !a.is_empty() && *a != entry.question.trim())
            .collect();
        if distinct.len() < MIN_ALTERNATES {
            problems.push((
                "alternates",
                format!(
                    "相似问法只有 {} 个不同的，至少需要 {MIN_ALTERNATES} 个",
                    distinct.len()
                ),
            ));
        }
        let simplified_fields = [
            ("question", vec![entry.question.as_str()]),
            ("answer", vec![entry.answer.as_str()]),
            ("source", vec![entry.source.as_str()]),
            (
                "keywords",
                entry.keywords.iter().map(String::as_str).collect(),
            ),
        ];
        for (field, texts) in simplified_fields {
            for text in texts {
                let converted = hanconv::t2s(text);
                if converted != text {
                    problems.push((
                        field,
                        format!(
                            "含繁体字：“{}”转为简体后是“{}”",
                            first_difference(text, &converted).0,
                            first_difference(text, &converted).1
                        ),
                    ));
                }
            }
        }
    }
    problems
}

fn first_difference(a: &str, b: &str) -> (String, String) {
    let ac: Vec<char> = a.chars().collect();
    let bc: Vec<char> = b.chars().collect();
    let at = ac.iter().zip(&bc).position(|(x, y)| x != y).unwrap_or(0);
    let from = at.saturating_sub(4);
    let snippet = |v: &[char]| v[from..(at + 4).min(v.len())].iter().collect::<String>();
    (snippet(&ac), snippet(&bc))
}

/// Checks rules that span entries: unique ids, unique questions. Returns the
/// problems as `(entry id, field, message)`.
pub fn check_collection(entries: &[Entry]) -> Vec<(String, &'static str, String)> {
    let mut problems = Vec::new();
    let mut ids: HashMap<&str, usize> = HashMap::new();
    let mut questions: HashMap<String, &str> = HashMap::new();
    for entry in entries {
        *ids.entry(entry.id.as_str()).or_default() += 1;
        if ids[entry.id.as_str()] == 2 {
            problems.push((entry.id.clone(), "id", format!("编号“{}”重复", entry.id)));
        }
        let key = question_key(&entry.question);
        if let Some(other) = questions.get(&key) {
            if *other != entry.id {
                problems.push((
                    entry.id.clone(),
                    "question",
                    format!("问题与条目 {other} 的问题重复"),
                ));
            }
        } else {
            questions.insert(key, &entry.id);
        }
    }
    problems
}

/// The form under which two questions count as the same: normalised, with
/// punctuation and spaces removed.
pub fn question_key(question: &str) -> String {
    crate::text::normalize(question)
        .chars()
        .filter(|c| crate::text::is_word_char(*c))
        .collect()
}

pub fn is_valid_id(id: &str) -> bool {
    (3..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !id.starts_with('-')
}

fn is_valid_date(date: &str) -> bool {
    let b = date.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

// ---------------------------------------------------------------------------
// Loading `knowledge/`.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TopicFile {
    category: String,
    #[serde(default)]
    entry: Vec<TopicEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TopicEntry {
    id: String,
    question: String,
    #[serde(default)]
    alternates: Vec<String>,
    answer: String,
    #[serde(default)]
    keywords: Vec<String>,
    #[serde(default)]
    source: String,
    #[serde(default)]
    reviewed: Option<toml::Value>,
}

impl TopicFile {
    /// The file's entries, trimmed, each carrying the file's category.
    fn into_entries(self) -> Vec<Entry> {
        let category = self.category.trim().to_string();
        self.entry
            .into_iter()
            .map(|raw| Entry {
                id: raw.id.trim().to_string(),
                category: category.clone(),
                question: raw.question.trim().to_string(),
                alternates: raw
                    .alternates
                    .iter()
                    .map(|a| a.trim().to_string())
                    .collect(),
                answer: raw.answer.trim().to_string(),
                keywords: raw.keywords.iter().map(|k| k.trim().to_string()).collect(),
                source: raw.source.trim().to_string(),
                reviewed: match raw.reviewed {
                    Some(toml::Value::String(s)) => s.trim().to_string(),
                    Some(toml::Value::Datetime(d)) => d.to_string(),
                    Some(other) => other.to_string(),
                    None => String::new(),
                },
            })
            .collect()
    }
}

/// Parses the text of one topic file (the `knowledge/` format) into its
/// entries, unchecked. `place` names the file in the problem returned when
/// the text is not a topic file.
pub fn parse_topic_file(text: &str, place: &str) -> Result<Vec<Entry>, Problem> {
    parse_toml::<TopicFile>(text, place).map(TopicFile::into_entries)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SynonymFile {
    #[serde(default)]
    group: Vec<SynonymGroup>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SynonymGroup {
    terms: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CardFile {
    #[serde(default)]
    card: Vec<EmergencyCard>,
}

pub const SYNONYMS_FILE: &str = "synonyms.toml";
pub const USER_DICT_FILE: &str = "userdict.txt";
pub const CARDS_FILE: &str = "emergency.toml";

/// One file of a knowledge directory, as read.
pub struct SourceFile {
    /// The file name (`gas.toml`, `synonyms.toml`…).
    pub name: String,
    /// Where it came from, as problems name it.
    pub place: String,
    /// Its text, or why it could not be read.
    pub text: Result<String, String>,
}

/// Loads a `knowledge/` directory. Returns the knowledge and every problem
/// found; callers decide whether problems are fatal (`check` says they are).
pub fn load_dir(dir: &Path) -> Result<(Knowledge, Vec<Problem>), Problem> {
    Ok(load_sources(&read_dir_sources(dir)?))
}

/// The files of a knowledge directory, read but not parsed.
fn read_dir_sources(dir: &Path) -> Result<Vec<SourceFile>, Problem> {
    let listing = std::fs::read_dir(dir).map_err(|e| Problem {
        place: dir.display().to_string(),
        entry: None,
        field: None,
        message: format!("无法读取知识库目录：{e}"),
    })?;
    let mut paths: Vec<PathBuf> = listing
        .filter_map(|item| item.ok().map(|item| item.path()))
        .filter(|path| {
            path.extension().is_some_and(|ext| ext == "toml")
                || path.file_name().is_some_and(|name| name == USER_DICT_FILE)
        })
        .collect();
    paths.sort();
    let files: Vec<SourceFile> = paths
        .iter()
        .map(|path| SourceFile {
            name: path
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default(),
            place: display_path(path),
            text: std::fs::read_to_string(path).map_err(|e| e.to_string()),
        })
        .collect();
    Ok(files)
}

/// The files [`load_shipped`] would load, read but not parsed.
pub fn read_shipped(dir: Option<&Path>) -> Result<Vec<SourceFile>, Problem> {
    let default = Path::new("knowledge");
    match dir {
        Some(dir) => read_dir_sources(dir),
        None if default.is_dir() => read_dir_sources(default),
        None => Ok(embedded_sources()),
    }
}

/// A fingerprint of knowledge files as read (names and text) and of the
/// program reading them: equal fingerprints load to equal knowledge.
pub fn sources_fingerprint(files: &[SourceFile]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(env!("CARGO_PKG_VERSION").as_bytes());
    for file in files {
        for part in [file.name.as_bytes(), file.place.as_bytes()] {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part);
        }
        let (tag, text) = match &file.text {
            Ok(text) => (0u8, text.as_bytes()),
            Err(error) => (1u8, error.as_bytes()),
        };
        hasher.update([tag]);
        hasher.update((text.len() as u64).to_le_bytes());
        hasher.update(text);
    }
    hex::encode(&hasher.finalize()[..16])
}

/// The shipped knowledge: the directory named, else `knowledge/` in the
/// working directory, else the corpus built into the binary.
pub fn load_shipped(dir: Option<&Path>) -> Result<(Knowledge, Vec<Problem>), Problem> {
    let default = Path::new("knowledge");
    match dir {
        Some(dir) => load_dir(dir),
        None if default.is_dir() => load_dir(default),
        None => Ok(load_embedded()),
    }
}

/// Where [`load_shipped`] reads from, as a person would name it.
pub fn shipped_place(dir: Option<&Path>) -> String {
    match dir {
        Some(dir) => dir.display().to_string(),
        None if Path::new("knowledge").is_dir() => "knowledge".to_string(),
        None => "内置知识库".to_string(),
    }
}

/// The corpus shipped inside the binary: `knowledge/` as it was at build
/// time, so one binary can run with no files beside it.
pub fn load_embedded() -> (Knowledge, Vec<Problem>) {
    load_sources(&embedded_sources())
}

fn embedded_sources() -> Vec<SourceFile> {
    embedded::SHIPPED
        .iter()
        .map(|(name, text)| SourceFile {
            name: name.to_string(),
            place: format!("内置知识库/{name}"),
            text: Ok(text.to_string()),
        })
        .collect()
}

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/shipped_knowledge.rs"));
}

/// Loads knowledge from files already read: topic files, then the synonyms,
/// the user dictionary and the emergency cards.
pub fn load_sources(files: &[SourceFile]) -> (Knowledge, Vec<Problem>) {
    load_sources_with(files, Topics::Load)
}

/// Whether [`load_sources_with`] reads the entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topics {
    Load,
    /// The entries are not needed (the store already holds them as these
    /// very files gave them): only the synonyms, the user dictionary and
    /// the cards are loaded, and a card's link to an entry is not checked.
    Skip,
}

/// [`load_sources`], with or without the entries.
pub fn load_sources_with(files: &[SourceFile], topics: Topics) -> (Knowledge, Vec<Problem>) {
    let special = [SYNONYMS_FILE, CARDS_FILE, USER_DICT_FILE];
    let topic_files: Vec<&SourceFile> = files
        .iter()
        .filter(|f| f.name.ends_with(".toml") && !special.contains(&f.name.as_str()))
        .filter(|_| topics == Topics::Load)
        .collect();
    let find = |name: &str| files.iter().find(|f| f.name == name);

    let mut knowledge = Knowledge::default();
    let mut problems = Vec::new();
    let mut origin: HashMap<String, String> = HashMap::new();
    // Parsing and checking the topic files is most of a start-up at 10k
    // entries and more: spread over the cores, merged in file order.
    let parsed = crate::par::map(topic_files, |source| {
        let mut problems = Vec::new();
        let mut entries = Vec::new();
        if let Some(file) = parse_source::<TopicFile>(source, &mut problems) {
            for entry in file.into_entries() {
                for (field, message) in check_entry(&entry, Strictness::Shipped) {
                    problems.push(Problem {
                        place: source.place.clone(),
                        entry: Some(entry.id.clone()),
                        field: Some(field.to_string()),
                        message,
                    });
                }
                entries.push(entry);
            }
        }
        (&source.place, entries, problems)
    });
    for (place, entries, file_problems) in parsed {
        problems.extend(file_problems);
        for entry in entries {
            origin.insert(entry.id.clone(), place.clone());
            knowledge.entries.push(entry);
        }
    }
    for (id, field, message) in check_collection(&knowledge.entries) {
        problems.push(Problem {
            place: origin.get(&id).cloned().unwrap_or_default(),
            entry: Some(id),
            field: Some(field.to_string()),
            message,
        });
    }

    if let Some(source) = find(SYNONYMS_FILE)
        && let Some(file) = parse_source::<SynonymFile>(source, &mut problems)
    {
        for (n, group) in file.group.into_iter().enumerate() {
            let terms: Vec<String> = group
                .terms
                .iter()
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
                .collect();
            if terms.len() < 2 {
                problems.push(Problem {
                    place: source.place.clone(),
                    entry: Some(format!("第 {} 组", n + 1)),
                    field: Some("terms".into()),
                    message: "同义词组至少需要两个词".into(),
                });
                continue;
            }
            knowledge.synonyms.push(terms);
        }
    }

    if let Some(source) = find(USER_DICT_FILE) {
        match &source.text {
            Ok(text) => {
                for (n, line) in text.lines().enumerate() {
                    let mut parts = line.split_whitespace();
                    let Some(word) = parts.next() else { continue };
                    if word.starts_with('#') {
                        continue;
                    }
                    if let Some(freq) = parts.next()
                        && freq.parse::<usize>().is_err()
                    {
                        problems.push(Problem {
                            place: format!("{} 第 {} 行", source.place, n + 1),
                            entry: None,
                            field: None,
                            message: format!("词频“{freq}”不是整数"),
                        });
                    }
                }
                knowledge.user_dict = text.clone();
            }
            Err(e) => problems.push(Problem {
                place: source.place.clone(),
                entry: None,
                field: None,
                message: format!("无法读取用户词典：{e}"),
            }),
        }
    }

    if let Some(source) = find(CARDS_FILE)
        && let Some(file) = parse_source::<CardFile>(source, &mut problems)
    {
        for card in file.card {
            let place = source.place.clone();
            let mut problem = |field: &str, message: String| {
                problems.push(Problem {
                    place: place.clone(),
                    entry: Some(card.id.clone()),
                    field: Some(field.to_string()),
                    message,
                })
            };
            if card.call.is_empty() {
                problem("call", "缺少要拨打的电话".into());
            }
            if card.triggers.is_empty() {
                problem("triggers", "缺少触发短语".into());
            }
            if !(2..=4).contains(&card.actions.len()) {
                problem(
                    "actions",
                    format!("应有 2 到 4 条行动，现有 {} 条", card.actions.len()),
                );
            }
            if card.source.trim().is_empty() {
                problem("source", "缺少来源".into());
            }
            if let Some(entry) = &card.entry
                && topics == Topics::Load
                && knowledge.entry(entry).is_none()
            {
                problem("entry", format!("关联条目 {entry} 不存在"));
            }
            knowledge.cards.push(card);
        }
    }
    (knowledge, problems)
}

fn display_path(path: &Path) -> String {
    let parent = path
        .parent()
        .and_then(|p| p.file_name())
        .map(|p| p.to_string_lossy().to_string());
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    match parent {
        Some(parent) => format!("{parent}/{name}"),
        None => name,
    }
}

fn parse_source<T: serde::de::DeserializeOwned>(
    source: &SourceFile,
    problems: &mut Vec<Problem>,
) -> Option<T> {
    let place = source.place.clone();
    let text = match &source.text {
        Ok(text) => text,
        Err(e) => {
            problems.push(Problem {
                place,
                entry: None,
                field: None,
                message: format!("无法读取文件（需要 UTF-8 编码）：{e}"),
            });
            return None;
        }
    };
    parse_toml(text, &place)
        .map_err(|problem| problems.push(problem))
        .ok()
}

fn parse_toml<T: serde::de::DeserializeOwned>(text: &str, place: &str) -> Result<T, Problem> {
    toml::from_str::<T>(text).map_err(|e| {
        let line = e
            .span()
            .and_then(|span| text.get(..span.start))
            .map(|before| before.lines().count().max(1));
        Problem {
            place: match line {
                Some(line) => format!("{place} 第 {line} 行"),
                None => place.to_string(),
            },
            entry: None,
            field: None,
            message: format!("TOML 格式错误：{}", e.message()),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Entry {
        Entry {
            id: "gas-test".into(),
            category: "燃气安全".into(),
            question: "闻到燃气味怎么办".into(),
            alternates: vec![
                "煤气泄漏咋整".into(),
                "天然气漏了".into(),
                "瓦斯外洩".into(),
            ],
            answer: "关阀门，开窗通风，不要开关电器。".repeat(6),
            keywords: vec![],
            source: "应急管理部".into(),
            reviewed: "2026-11-28".into(),
        }
    }

    #[test]
    fn a_good_entry_has_no_problems() {
        assert_eq!(check_entry(&entry(), Strictness::Shipped), vec![]);
    }

    #[test]
    fn each_rule_names_its_field() {
        let fields = |e: Entry| -> Vec<&'static str> {
            check_entry(&e, Strictness::Shipped)
                .into_iter()
                .map(|(f, _)| f)
                .collect()
        };
        assert_eq!(
            fields(Entry {
                id: "Bad Id".into(),
                ..entry()
            }),
            vec!["id"]
        );
        assert_eq!(
            fields(Entry {
                category: "天气".into(),
                ..entry()
            }),
            vec!["category"]
        );
        assert_eq!(
            fields(Entry {
                source: " ".into(),
                ..entry()
            }),
            vec!["source"]
        );
        assert_eq!(
            fields(Entry {
                answer: "太短".into(),
                ..entry()
            }),
            vec!["answer"]
        );
        assert_eq!(
            fields(Entry {
                alternates: vec!["a".into(), "a".into(), "b".into()],
                ..entry()
            }),
            vec!["alternates"]
        );
        assert_eq!(
            fields(Entry {
                question: "聞到燃氣味".into(),
                ..entry()
            }),
            vec!["question"]
        );
        assert_eq!(
            fields(Entry {
                reviewed: "28/11/2026".into(),
                ..entry()
            }),
            vec!["reviewed"]
        );
    }

    #[test]
    fn staff_entries_may_be_short_but_not_empty() {
        let short = Entry {
            answer: "拨打 12350".into(),
            alternates: vec![],
            ..entry()
        };
        assert!(check_entry(&short, Strictness::Staff).is_empty());
        let empty = Entry {
            answer: " ".into(),
            ..entry()
        };
        assert_eq!(check_entry(&empty, Strictness::Staff)[0].0, "answer");
    }

    #[test]
    fn duplicate_ids_and_questions_are_found() {
        let a = entry();
        let b = Entry {
            question: "闻到燃气味，怎么办？".into(),
            ..entry()
        };
        let problems = check_collection(&[a, b]);
        let fields: Vec<&str> = problems.iter().map(|p| p.1).collect();
        assert!(fields.contains(&"id"));
        let c = Entry {
            id: "gas-other".into(),
            ..entry()
        };
        let problems = check_collection(&[entry(), c]);
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].1, "question");
    }
}
