//! What staff learn from the question log: the questions the bot could not
//! answer well (`unanswered`), grouped when they are near duplicates, each
//! with the entry to add it to; and the figures of a period (`stats`), as
//! text and as a PNG chart of questions per hour.
//!
//! Reports read the store and never change it. Times are stored in UTC and
//! shown in Beijing time (UTC+8), the time staff and residents live in,
//! whatever the server's time zone.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, FixedOffset, NaiveDateTime, Timelike, Utc};

use crate::engine::Engine;
use crate::knowledge::{self, Entry};
use crate::store::{Store, StoreError};

/// Beijing time, in seconds east of UTC.
const SHOWN_OFFSET_SECONDS: i32 = 8 * 3600;
/// Longest period a report covers (ten years): longer ones are cut to it.
pub const MAX_REPORT_DAYS: u32 = 3660;
/// Two questions are near duplicates when the Dice similarity of their
/// character pairs reaches this.
const NEAR_DUPLICATE: f32 = 0.6;

fn shown_zone() -> FixedOffset {
    FixedOffset::east_opt(SHOWN_OFFSET_SECONDS).unwrap_or_else(|| FixedOffset::east_opt(0).unwrap())
}

/// The start of a report period of `days` days ending at `now`, as stored
/// (RFC 3339, UTC).
pub fn period_start(now: DateTime<Utc>, days: u32) -> String {
    (now - Duration::days(i64::from(days.clamp(1, MAX_REPORT_DAYS))))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn parse_time(text: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&shown_zone()))
}

// ---------------------------------------------------------------------------
// Unanswered questions.

/// What staff can do about a group of unanswered questions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proposal {
    /// Add the question as an alternate wording of this entry (the one the
    /// bot suggested, or the closest one).
    AddAlternate { id: String, question: String },
    /// Residents said 👎 to this entry's answer: read it again.
    Review { id: String, question: String },
}

/// Questions the bot answered badly, grouped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnansweredGroup {
    /// The most frequent wording.
    pub question: String,
    pub count: usize,
    pub no_answer: usize,
    pub suggested: usize,
    pub thumbs_down: usize,
    /// The other wordings in the group, most frequent first, with counts.
    pub wordings: Vec<(String, usize)>,
    /// When one of them was last asked (Beijing time, "MM-DD HH:MM").
    pub last_asked: String,
    pub proposal: Option<Proposal>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    NoAnswer,
    Suggested,
    ThumbsDown,
}

struct Item {
    question: String,
    kind: Kind,
    entry_id: Option<String>,
    at: String,
}

/// The first groups of unanswered questions, and how many there are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unanswered {
    pub days: u32,
    pub groups: Vec<UnansweredGroup>,
    pub total: usize,
}

/// Questions of the last `days` days that got no answer, a "您是不是想问"
/// or a 👎, near duplicates grouped, most frequent first: the first `limit`
/// groups, each with its proposal.
pub fn unanswered(
    store: &Store,
    engine: &Engine,
    days: u32,
    now: DateTime<Utc>,
    limit: usize,
) -> Result<Unanswered, StoreError> {
    let days = days.clamp(1, MAX_REPORT_DAYS);
    let since = period_start(now, days);
    let mut items = Vec::new();
    for row in store.questions_since(&since)? {
        // An urgent message got its emergency card, which is its answer.
        let kind = match row.outcome.as_str() {
            "no_answer" if !row.urgent => Kind::NoAnswer,
            "suggest" => Kind::Suggested,
            _ => continue,
        };
        items.push(Item {
            question: row.question,
            kind,
            entry_id: row.entry_id,
            at: row.asked_at,
        });
    }
    for vote in store.feedback_since(&since)? {
        if vote.vote < 0
            && let Some(question) = vote.question
        {
            items.push(Item {
                question,
                kind: Kind::ThumbsDown,
                entry_id: Some(vote.entry_id),
                at: vote.created_at,
            });
        }
    }
    let entries: HashMap<String, Entry> = store
        .all_entries()?
        .into_iter()
        .map(|s| (s.entry.id.clone(), s.entry))
        .collect();
    let groups = group(items);
    let total = groups.len();
    Ok(Unanswered {
        days,
        // Proposals search the index: only for the groups shown.
        groups: groups
            .into_iter()
            .take(limit)
            .map(|bucket| bucket.finish(engine, &entries))
            .collect(),
        total,
    })
}

/// Questions with the same key, then near-duplicate keys, together.
struct Bucket {
    key: String,
    pairs: HashSet<(char, char)>,
    count: usize,
    kinds: [usize; 3],
    wordings: HashMap<String, usize>,
    suggested_entries: HashMap<String, usize>,
    disliked_entries: HashMap<String, usize>,
    last: String,
}

impl Bucket {
    fn new(key: String) -> Bucket {
        Bucket {
            pairs: char_pairs(&key),
            key,
            count: 0,
            kinds: [0; 3],
            wordings: HashMap::new(),
            suggested_entries: HashMap::new(),
            disliked_entries: HashMap::new(),
            last: String::new(),
        }
    }

    fn add(&mut self, item: Item) {
        self.count += 1;
        let slot = match item.kind {
            Kind::NoAnswer => 0,
            Kind::Suggested => 1,
            Kind::ThumbsDown => 2,
        };
        self.kinds[slot] += 1;
        if let Some(id) = item.entry_id {
            let counts = match item.kind {
                Kind::ThumbsDown => &mut self.disliked_entries,
                _ => &mut self.suggested_entries,
            };
            *counts.entry(id).or_default() += 1;
        }
        *self
            .wordings
            .entry(item.question.trim().to_string())
            .or_default() += 1;
        if item.at > self.last {
            self.last = item.at;
        }
    }

    fn merge(&mut self, other: Bucket) {
        self.count += other.count;
        for (slot, n) in other.kinds.iter().enumerate() {
            self.kinds[slot] += n;
        }
        for (wording, n) in other.wordings {
            *self.wordings.entry(wording).or_default() += n;
        }
        for (id, n) in other.suggested_entries {
            *self.suggested_entries.entry(id).or_default() += n;
        }
        for (id, n) in other.disliked_entries {
            *self.disliked_entries.entry(id).or_default() += n;
        }
        if other.last > self.last {
            self.last = other.last;
        }
    }

    fn finish(self, engine: &Engine, entries: &HashMap<String, Entry>) -> UnansweredGroup {
        let mut wordings: Vec<(String, usize)> = self.wordings.into_iter().collect();
        wordings.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let question = wordings.first().map(|w| w.0.clone()).unwrap_or(self.key);
        let most = |counts: &HashMap<String, usize>| {
            counts
                .iter()
                .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
                .map(|(id, _)| id.clone())
        };
        let [no_answer, suggested, thumbs_down] = self.kinds;
        let proposal = if thumbs_down > no_answer + suggested {
            most(&self.disliked_entries)
                .and_then(|id| entries.get(&id))
                .map(|e| Proposal::Review {
                    id: e.id.clone(),
                    question: e.question.clone(),
                })
        } else {
            most(&self.suggested_entries)
                .and_then(|id| entries.get(&id).cloned())
                .or_else(|| engine.closest_entry(&question).map(|e| (*e).clone()))
                .map(|e| Proposal::AddAlternate {
                    id: e.id,
                    question: e.question,
                })
        };
        UnansweredGroup {
            question,
            count: self.count,
            no_answer,
            suggested,
            thumbs_down,
            wordings: wordings.into_iter().skip(1).collect(),
            last_asked: parse_time(&self.last)
                .map(|t| t.format("%m-%d %H:%M").to_string())
                .unwrap_or_default(),
            proposal,
        }
    }
}

fn char_pairs(key: &str) -> HashSet<(char, char)> {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() == 1 {
        return std::iter::once((chars[0], ' ')).collect();
    }
    chars.windows(2).map(|w| (w[0], w[1])).collect()
}

fn dice(a: &HashSet<(char, char)>, b: &HashSet<(char, char)>) -> f32 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let shared = a.intersection(b).count();
    2.0 * shared as f32 / (a.len() + b.len()) as f32
}

fn group(items: Vec<Item>) -> Vec<Bucket> {
    let mut exact: HashMap<String, Bucket> = HashMap::new();
    for item in items {
        let key = knowledge::question_key(&item.question);
        // One character, or none, says nothing staff can act on.
        if key.chars().count() < 2 {
            continue;
        }
        exact
            .entry(key.clone())
            .or_insert_with(|| Bucket::new(key))
            .add(item);
    }
    let mut buckets: Vec<Bucket> = exact.into_values().collect();
    buckets.sort_by(|a, b| b.count.cmp(&a.count).then(a.key.cmp(&b.key)));
    // Greedy: each bucket joins the first (most frequent) group it is near;
    // candidates come from an index of character pairs, not from every group.
    let mut groups: Vec<Bucket> = Vec::new();
    let mut by_pair: HashMap<(char, char), Vec<usize>> = HashMap::new();
    for bucket in buckets {
        let mut candidates: Vec<usize> = bucket
            .pairs
            .iter()
            .filter_map(|pair| by_pair.get(pair))
            .flatten()
            .copied()
            .collect();
        candidates.sort_unstable();
        candidates.dedup();
        let home = candidates
            .into_iter()
            .find(|&g| dice(&groups[g].pairs, &bucket.pairs) >= NEAR_DUPLICATE);
        match home {
            Some(g) => groups[g].merge(bucket),
            None => {
                let index = groups.len();
                for pair in &bucket.pairs {
                    by_pair.entry(*pair).or_default().push(index);
                }
                groups.push(bucket);
            }
        }
    }
    groups.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then(b.last.cmp(&a.last))
            .then(a.key.cmp(&b.key))
    });
    groups
}

/// The unanswered list as staff read it on the command line.
pub fn unanswered_text(unanswered: &Unanswered) -> String {
    let days = unanswered.days;
    if unanswered.total == 0 {
        return format!("最近 {days} 天没有未回答、只给出建议或被点 👎 的问题。");
    }
    let mut out = format!(
        "最近 {days} 天未能很好回答的问题（{} 组，按次数排序）：\n",
        unanswered.total
    );
    for (n, group) in unanswered.groups.iter().enumerate() {
        let mut kinds = Vec::new();
        if group.no_answer > 0 {
            kinds.push(format!("未回答 {}", group.no_answer));
        }
        if group.suggested > 0 {
            kinds.push(format!("只给出建议 {}", group.suggested));
        }
        if group.thumbs_down > 0 {
            kinds.push(format!("👎 {}", group.thumbs_down));
        }
        out.push_str(&format!(
            "\n{}. {}  ×{}（{}；最近 {}）\n",
            n + 1,
            group.question,
            group.count,
            kinds.join("，"),
            group.last_asked
        ));
        if !group.wordings.is_empty() {
            let others: Vec<String> = group
                .wordings
                .iter()
                .take(5)
                .map(|(w, c)| {
                    if *c > 1 {
                        format!("{w}（{c}）")
                    } else {
                        w.clone()
                    }
                })
                .collect();
            out.push_str(&format!("   相似说法：{}\n", others.join("；")));
        }
        match &group.proposal {
            Some(Proposal::AddAlternate { id, question }) => out.push_str(&format!(
                "   建议：加为条目 {id}（{question}）的相似问法：safety-bot entries add-alternate {id} \"{}\"\n",
                group.question.replace('"', "")
            )),
            Some(Proposal::Review { id, question }) => out.push_str(&format!(
                "   建议：检查条目 {id}（{question}）的答案：safety-bot entries show {id}\n"
            )),
            None => {}
        }
    }
    if unanswered.total > unanswered.groups.len() {
        out.push_str(&format!(
            "\n……另有 {} 组未列出",
            unanswered.total - unanswered.groups.len()
        ));
    }
    out.trim_end().to_string()
}

// ---------------------------------------------------------------------------
// Figures of a period.

#[derive(Debug, Clone, PartialEq)]
pub struct Stats {
    pub days: u32,
    pub questions: usize,
    pub answered: usize,
    pub suggested: usize,
    pub no_answer: usize,
    pub urgent: usize,
    pub thumbs_up: usize,
    pub thumbs_down: usize,
    /// Categories of the entries given, most asked first.
    pub top_topics: Vec<(String, usize)>,
    /// Entries given as answers, most given first: (id, question, count).
    pub top_entries: Vec<(String, String, usize)>,
    /// Questions per hour over the whole period, oldest first, Beijing
    /// time: (start of the hour, count).
    pub per_hour: Vec<(NaiveDateTime, usize)>,
}

impl Stats {
    /// Share of questions answered directly, 0..=1.
    pub fn answered_share(&self) -> f32 {
        if self.questions == 0 {
            0.0
        } else {
            self.answered as f32 / self.questions as f32
        }
    }
}

/// The figures of the last `days` days.
pub fn stats(store: &Store, days: u32, now: DateTime<Utc>) -> Result<Stats, StoreError> {
    let days = days.clamp(1, MAX_REPORT_DAYS);
    let since = period_start(now, days);
    let entries: HashMap<String, Entry> = store
        .all_entries()?
        .into_iter()
        .map(|s| (s.entry.id.clone(), s.entry))
        .collect();
    let zone = shown_zone();
    let start_hour = floor_hour((now - Duration::days(i64::from(days))).with_timezone(&zone));
    let hours = usize::try_from(days).unwrap_or(1) * 24 + 1;
    let mut per_hour: Vec<(NaiveDateTime, usize)> = (0..hours)
        .map(|h| (start_hour + Duration::hours(h as i64), 0))
        .collect();
    let mut stats = Stats {
        days,
        questions: 0,
        answered: 0,
        suggested: 0,
        no_answer: 0,
        urgent: 0,
        thumbs_up: 0,
        thumbs_down: 0,
        top_topics: Vec::new(),
        top_entries: Vec::new(),
        per_hour: Vec::new(),
    };
    let mut topics: HashMap<String, usize> = HashMap::new();
    let mut given: HashMap<String, usize> = HashMap::new();
    for row in store.questions_since(&since)? {
        stats.questions += 1;
        match row.outcome.as_str() {
            "answer" => stats.answered += 1,
            "suggest" => stats.suggested += 1,
            _ => stats.no_answer += 1,
        }
        if row.urgent {
            stats.urgent += 1;
        }
        if let Some(entry) = row.entry_id.as_ref().and_then(|id| entries.get(id))
            && row.outcome != "no_answer"
        {
            *topics.entry(entry.category.clone()).or_default() += 1;
            if row.outcome == "answer" {
                *given.entry(entry.id.clone()).or_default() += 1;
            }
        }
        if let Some(at) = parse_time(&row.asked_at) {
            let hour = floor_hour(at);
            let index = (hour - start_hour).num_hours();
            if let Some(slot) = usize::try_from(index)
                .ok()
                .and_then(|i| per_hour.get_mut(i))
            {
                slot.1 += 1;
            }
        }
    }
    for vote in store.feedback_since(&since)? {
        if vote.vote > 0 {
            stats.thumbs_up += 1;
        } else {
            stats.thumbs_down += 1;
        }
    }
    let mut topics: Vec<(String, usize)> = topics.into_iter().collect();
    topics.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    stats.top_topics = topics.into_iter().take(5).collect();
    let mut given: Vec<(String, usize)> = given.into_iter().collect();
    given.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    stats.top_entries = given
        .into_iter()
        .take(5)
        .map(|(id, n)| {
            let question = entries
                .get(&id)
                .map(|e| e.question.clone())
                .unwrap_or_default();
            (id, question, n)
        })
        .collect();
    stats.per_hour = per_hour;
    Ok(stats)
}

fn floor_hour(at: DateTime<FixedOffset>) -> NaiveDateTime {
    let naive = at.naive_local();
    naive
        .with_minute(0)
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(naive)
}

fn percent(part: usize, whole: usize) -> String {
    if whole == 0 {
        "0%".to_string()
    } else {
        format!("{:.0}%", 100.0 * part as f64 / whole as f64)
    }
}

/// The figures as staff read them.
pub fn stats_text(stats: &Stats) -> String {
    let mut out = format!("最近 {} 天（北京时间）：\n", stats.days);
    if stats.questions == 0 {
        out.push_str("还没有人提问。");
        return out;
    }
    out.push_str(&format!(
        "提问 {} 次：直接回答 {}（{} 次），给出“您是不是想问” {}（{} 次），未能回答 {}（{} 次）。\n",
        stats.questions,
        percent(stats.answered, stats.questions),
        stats.answered,
        percent(stats.suggested, stats.questions),
        stats.suggested,
        percent(stats.no_answer, stats.questions),
        stats.no_answer,
    ));
    out.push_str(&format!("紧急情况提示 {} 次。\n", stats.urgent));
    out.push_str(&format!(
        "反馈：👍 {}，👎 {}。\n",
        stats.thumbs_up, stats.thumbs_down
    ));
    if !stats.top_topics.is_empty() {
        let topics: Vec<String> = stats
            .top_topics
            .iter()
            .map(|(topic, n)| format!("{topic} {n}"))
            .collect();
        out.push_str(&format!("热门分类：{}。\n", topics.join("、")));
    }
    if !stats.top_entries.is_empty() {
        out.push_str("最常给出的回答：\n");
        for (n, (id, question, count)) in stats.top_entries.iter().enumerate() {
            out.push_str(&format!("  {}. {question}（{id}，{count} 次）\n", n + 1));
        }
    }
    if let Some((hour, count)) = stats
        .per_hour
        .iter()
        .filter(|(_, n)| *n > 0)
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
    {
        out.push_str(&format!(
            "提问最多的一小时：{} 起（{count} 次）。",
            hour.format("%m-%d %H:00")
        ));
    }
    out.trim_end().to_string()
}

// ---------------------------------------------------------------------------
// The chart.

#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    #[error("画图失败：{0}")]
    Draw(String),
    #[error("生成 PNG 失败：{0}")]
    Encode(#[from] png::EncodingError),
}

const CHART_SIZE: (u32, u32) = (960, 420);
/// DejaVu Sans, printable ASCII only: axis labels are digits and dates;
/// the Chinese caption goes with the picture, not in it, so no CJK font
/// (megabytes) has to ship.
static CHART_FONT: &[u8] = include_bytes!("../assets/chart-font.ttf");

fn register_chart_font() -> Result<(), ChartError> {
    static REGISTERED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font("sans-serif", plotters::style::FontStyle::Normal, CHART_FONT)
            .is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(ChartError::Draw("图表字体无法加载".to_string()))
    }
}

/// Questions per hour as a PNG bar chart (960×420). Its x axis is Beijing
/// time: hours for a one-day period, dates for longer ones.
pub fn chart_png(stats: &Stats) -> Result<Vec<u8>, ChartError> {
    use plotters::prelude::*;
    register_chart_font()?;
    let (width, height) = CHART_SIZE;
    let mut pixels = vec![255u8; (width * height * 3) as usize];
    let hours = stats.per_hour.len().max(1);
    let top = stats
        .per_hour
        .iter()
        .map(|(_, n)| *n)
        .max()
        .unwrap_or(0)
        .max(4);
    let label_hour = |index: &usize| -> String {
        stats
            .per_hour
            .get(*index)
            .map(|(hour, _)| {
                if stats.days <= 1 {
                    hour.format("%H:00").to_string()
                } else {
                    hour.format("%m-%d").to_string()
                }
            })
            .unwrap_or_default()
    };
    let draw = |pixels: &mut [u8]| -> Result<(), Box<dyn std::error::Error>> {
        let root = BitMapBackend::with_buffer(pixels, (width, height)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(16)
            .x_label_area_size(36)
            .y_label_area_size(48)
            .build_cartesian_2d(0..hours, 0..top + top / 10 + 1)?;
        let x_labels = if stats.days <= 1 {
            hours / 3
        } else {
            (stats.days as usize).min(12)
        };
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(x_labels.max(2))
            .x_label_formatter(&label_hour)
            .y_desc("questions / hour")
            .label_style(("sans-serif", 14))
            .draw()?;
        let bar = RGBColor(0x2E, 0x75, 0xB6).filled();
        chart.draw_series(
            stats
                .per_hour
                .iter()
                .enumerate()
                .filter(|(_, (_, n))| *n > 0)
                .map(|(i, (_, n))| Rectangle::new([(i, 0), (i + 1, *n)], bar)),
        )?;
        root.present()?;
        Ok(())
    };
    draw(&mut pixels).map_err(|e| ChartError::Draw(e.to_string()))?;
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header()?;
        writer.write_image_data(&pixels)?;
        writer.finish()?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(question: &str, kind: Kind) -> Item {
        Item {
            question: question.to_string(),
            kind,
            entry_id: None,
            at: "2026-06-16T02:00:00.000Z".to_string(),
        }
    }

    #[test]
    fn near_duplicates_group_and_the_most_frequent_comes_first() {
        let items = vec![
            item("燃气表漏气找谁修", Kind::NoAnswer),
            item("燃气表漏气找谁修？", Kind::NoAnswer),
            item("燃气表漏气该找谁修", Kind::Suggested),
            item("小区停车收费标准", Kind::NoAnswer),
            item("啊", Kind::NoAnswer),
        ];
        let groups = group(items);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].count, 3);
        assert_eq!(groups[0].kinds, [2, 1, 0]);
        assert_eq!(groups[1].count, 1);
    }

    #[test]
    fn dice_is_symmetric_and_bounded() {
        let a = char_pairs("燃气泄漏");
        let b = char_pairs("燃气泄漏怎么办");
        assert!((dice(&a, &b) - dice(&b, &a)).abs() < f32::EPSILON);
        assert!(dice(&a, &a) > 0.99);
        assert_eq!(dice(&a, &HashSet::new()), 0.0);
    }
}
