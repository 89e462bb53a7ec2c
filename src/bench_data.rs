//! Data for the benchmarks: a corpus grown deterministically from the
//! shipped one to any size, and a built-in set of questions to time.
//!
//! Growing keeps term statistics close to the real corpus instead of
//! inventing random strings: every new entry is a real entry whose wordings
//! are varied the way residents vary them — one content word swapped for a
//! word of a related entry (usually of the same topic, the donor word comes
//! from its wordings or its answer), synonyms from `synonyms.toml` swapped
//! in, and a situation added (a place, a kind of person, a season). Its
//! answer is the real answer, with the same word swapped, plus one sentence
//! of the donor entry's answer. The vocabulary is bounded by the shipped one,
//! so at 100k entries each term occurs in more entries than it would in a
//! corpus written by hand: posting lists are longer and the timings are an
//! upper bound rather than a flattering guess.
//!
//! Everything here is a pure function of its inputs and a fixed seed: the
//! same shipped corpus and the same size give the same entries on every
//! machine, so figures can be reproduced and peers can be run on the very
//! same entries (`bench --save-corpus`).

use std::collections::{HashMap, HashSet};

use crate::analysis::Analyzer;
use crate::knowledge::{Entry, SHIPPED_ANSWER_CHARS, question_key};
use crate::text::{is_han, normalize};

/// Places, kinds of people and times a grown entry's situation is made of:
/// the filler topics that give grown wordings vocabulary of their own.
const PLACES: &[&str] = &[
    "老旧小区",
    "农村自建房",
    "出租屋",
    "学生宿舍",
    "工厂车间",
    "养老院",
    "地下车库",
    "商场",
    "菜市场",
    "建筑工地",
    "高速服务区",
    "旅游景区",
    "幼儿园",
    "医院",
    "宾馆",
    "快递站",
    "农家乐",
    "物流仓库",
    "写字楼",
    "地铁站",
    "加油站",
    "餐馆后厨",
    "小作坊",
    "城中村",
    "高层住宅",
    "学校食堂",
    "电影院",
    "体育馆",
    "山区",
    "河边",
    "海边",
    "果园",
    "养殖场",
    "码头",
    "批发市场",
    "夜市",
    "网吧",
    "健身房",
    "村委会",
    "服装厂",
];
const PEOPLE: &[&str] = &[
    "老人",
    "孩子",
    "孕妇",
    "外卖骑手",
    "保安",
    "租户",
    "房东",
    "保洁员",
    "学生",
    "电工",
    "货车司机",
    "游客",
    "装修工人",
    "独居老人",
    "残疾人",
    "新员工",
    "店主",
    "物业人员",
    "农民工",
    "志愿者",
];
const TIMES: &[&str] = &[
    "冬天",
    "夏天",
    "半夜",
    "下雨天",
    "春节期间",
    "台风天",
    "开学前",
    "节假日",
    "大风天",
    "停电的时候",
];

/// Out-of-scope questions are a subject and a predicate from these lists.
const OFF_TOPIC_SUBJECTS: &[&str] = &[
    "明天的天气",
    "附近的火锅店",
    "个人所得税",
    "高考志愿",
    "手机套餐",
    "社保卡",
    "房贷利率",
    "宠物狗疫苗",
    "减肥食谱",
    "公积金提取",
    "孩子上幼儿园",
    "医保报销",
    "护照",
    "股票",
    "二手房",
    "快递丢件",
    "信用卡额度",
    "考研",
    "装修风格",
    "广场舞音乐",
];
const OFF_TOPIC_PREDICATES: &[&str] = &[
    "怎么办理",
    "哪家好",
    "多少钱",
    "怎么样",
    "推荐一下",
    "在哪里查",
    "需要什么材料",
    "有什么技巧",
];
/// Messages with nothing to search for once question words are gone.
const SMALL_TALK: &[&str] = &["你好", "在吗", "怎么办？", "谢谢", "？？", "好的"];
const POLITE_PREFIXES: &[&str] = &["请问", "我想问一下，", "师傅，", "您好，", "问下"];
const COLLOQUIAL_ENDINGS: &[&str] = &["啊", "呢？", "？？", "，急", "，在线等", "。"];

/// A small deterministic generator (SplitMix64): the same seed gives the
/// same corpus everywhere, with no dependency on a random-number crate.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n`; `n` must not be 0.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// True `percent` times in a hundred.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const GROW_SEED: u64 = 0x5afe_7b07_c0de_0001;
const QUESTION_SEED: u64 = 0x5afe_7b07_c0de_0002;
/// Attempts at a grown entry whose question no other entry has.
const MAX_ATTEMPTS: usize = 64;

/// `count` entries grown deterministically from `base`.
///
/// Fewer than `base` holds: an even spread across it (every topic keeps its
/// share). More: all of `base`, then composed entries with ids
/// `<base id>-x<n>`, each question unique under [`question_key`].
pub fn grow_corpus(
    base: &[Entry],
    synonyms: &[Vec<String>],
    analyzer: &Analyzer,
    count: usize,
) -> Vec<Entry> {
    if base.is_empty() || count == 0 {
        return Vec::new();
    }
    if count <= base.len() {
        return (0..count)
            .map(|i| base[i * base.len() / count].clone())
            .collect();
    }
    let grower = Grower::new(base, synonyms, analyzer);
    let mut seen: HashSet<String> = base.iter().map(|e| question_key(&e.question)).collect();
    let mut entries = base.to_vec();
    entries.reserve(count - base.len());
    for n in base.len()..count {
        let mut rng = Rng::new(GROW_SEED ^ (n as u64).wrapping_mul(0x2545_f491_4f6c_dd1d));
        let mut attempt = 0;
        let entry = loop {
            let mut entry = grower.compose(n, &mut rng);
            attempt += 1;
            if attempt >= MAX_ATTEMPTS {
                // Practically unreachable (millions of combinations per
                // base entry), but growth must end: a numbered situation
                // makes the question unique.
                entry.question = format!("{}（第{n}例）", entry.question);
            }
            if seen.insert(question_key(&entry.question)) {
                break entry;
            }
        };
        entries.push(entry);
    }
    entries
}

/// What growth needs to know of one base entry.
struct Profile {
    /// Content words of the question (two characters or more, Han only)
    /// that can be swapped for another word.
    swappable: Vec<String>,
    /// Words this entry can lend to others: content words of its wordings,
    /// keywords and answer.
    lendable: Vec<String>,
    /// The first sentence of its answer, lent to grown answers.
    first_sentence: String,
}

struct Grower<'a> {
    base: &'a [Entry],
    profiles: Vec<Profile>,
    /// Base entry positions by category.
    by_category: HashMap<&'a str, Vec<usize>>,
    /// Term (as written) → the other terms of its synonym groups.
    synonyms: HashMap<&'a str, Vec<&'a str>>,
}

impl<'a> Grower<'a> {
    fn new(base: &'a [Entry], groups: &'a [Vec<String>], analyzer: &Analyzer) -> Grower<'a> {
        let words_of = |text: &str| -> Vec<String> {
            analyzer
                .content_words(&normalize(text))
                .into_iter()
                .filter(|w| w.chars().count() >= 2 && w.chars().all(is_han))
                .collect()
        };
        let profiles = base
            .iter()
            .map(|entry| {
                let mut swappable = words_of(&entry.question);
                swappable.retain(|w| entry.question.contains(w.as_str()));
                let mut lendable: Vec<String> = Vec::new();
                let texts = entry
                    .wordings()
                    .chain(entry.keywords.iter().map(String::as_str))
                    .chain(std::iter::once(entry.answer.as_str()));
                for text in texts {
                    for word in words_of(text) {
                        if !lendable.contains(&word) {
                            lendable.push(word);
                        }
                    }
                }
                Profile {
                    swappable,
                    lendable,
                    first_sentence: first_sentence(&entry.answer),
                }
            })
            .collect();
        let mut by_category: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, entry) in base.iter().enumerate() {
            by_category
                .entry(entry.category.as_str())
                .or_default()
                .push(i);
        }
        let mut synonyms: HashMap<&str, Vec<&str>> = HashMap::new();
        for group in groups {
            for term in group {
                let others = synonyms.entry(term.as_str()).or_default();
                others.extend(group.iter().map(String::as_str).filter(|t| t != term));
            }
        }
        Grower {
            base,
            profiles,
            by_category,
            synonyms,
        }
    }

    fn compose(&self, n: usize, rng: &mut Rng) -> Entry {
        let at = rng.below(self.base.len());
        let base = &self.base[at];
        let profile = &self.profiles[at];
        // A donor of the same topic most of the time, so the swapped word
        // still belongs to the topic; sometimes any topic, as questions that
        // mix topics exist too.
        let donor = if rng.chance(70) {
            *rng.pick(&self.by_category[base.category.as_str()])
        } else {
            rng.below(self.base.len())
        };
        let donor = &self.profiles[donor];
        let swap = if profile.swappable.is_empty() || donor.lendable.is_empty() {
            None
        } else {
            let from = rng.pick(&profile.swappable).clone();
            let to = rng.pick(&donor.lendable).clone();
            (from != to).then_some((from, to))
        };
        let replace = |text: &str| match &swap {
            Some((from, to)) => text.replace(from.as_str(), to),
            None => text.to_string(),
        };
        let situation = Situation::draw(rng);
        let question = situation.frame(&self.swap_synonyms(&replace(&base.question), rng), rng);
        let alternates = base
            .alternates
            .iter()
            .map(|a| {
                let varied = self.swap_synonyms(&replace(a), rng);
                // Not every resident says where they are.
                if rng.chance(25) {
                    varied
                } else {
                    situation.frame(&varied, rng)
                }
            })
            .collect();
        let mut keywords: Vec<String> = base.keywords.iter().map(|k| replace(k)).collect();
        if let Some((_, to)) = &swap {
            keywords.push(to.clone());
        }
        if let Some(place) = situation.place {
            keywords.push(place.to_string());
        }
        let mut answer = replace(&base.answer);
        let limit = *SHIPPED_ANSWER_CHARS.end();
        let extra = &donor.first_sentence;
        if !extra.is_empty()
            && !answer.contains(extra.as_str())
            && answer.chars().count() + extra.chars().count() < limit
        {
            answer.push('\n');
            answer.push_str(extra);
        }
        if answer.chars().count() > limit {
            answer = answer.chars().take(limit).collect();
        }
        let base_id: String = base.id.chars().take(48).collect();
        Entry {
            id: format!("{base_id}-x{n}"),
            category: base.category.clone(),
            question,
            alternates,
            answer,
            keywords,
            source: base.source.clone(),
            reviewed: base.reviewed.clone(),
        }
    }

    /// Each term of a synonym group in `text` becomes another term of its
    /// group half of the time.
    fn swap_synonyms(&self, text: &str, rng: &mut Rng) -> String {
        let mut out = text.to_string();
        // Longest terms first, so 电动自行车 is swapped before 电动车 and
        // the shorter term never cuts into a longer one.
        let mut present: Vec<&str> = self
            .synonyms
            .keys()
            .copied()
            .filter(|t| text.contains(t))
            .collect();
        present.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
        let mut swapped: Vec<&str> = Vec::new();
        for term in present {
            if swapped.iter().any(|s| s.contains(term)) || !out.contains(term) {
                continue;
            }
            if rng.chance(50) {
                let other = *rng.pick(&self.synonyms[term]);
                out = out.replacen(term, other, 1);
                swapped.push(other);
            } else {
                swapped.push(term);
            }
        }
        out
    }
}

/// Where and to whom a grown entry's question happens.
struct Situation {
    place: Option<&'static str>,
    person: Option<&'static str>,
    time: Option<&'static str>,
}

impl Situation {
    fn draw(rng: &mut Rng) -> Situation {
        let mut place = rng.chance(60).then(|| *rng.pick(PLACES));
        let person = rng.chance(35).then(|| *rng.pick(PEOPLE));
        let time = rng.chance(30).then(|| *rng.pick(TIMES));
        if place.is_none() && person.is_none() && time.is_none() {
            place = Some(*rng.pick(PLACES));
        }
        Situation {
            place,
            person,
            time,
        }
    }

    /// The wording with the situation in front, phrased one of two ways.
    fn frame(&self, wording: &str, rng: &mut Rng) -> String {
        let mut out = String::new();
        if let Some(time) = self.time {
            out.push_str(time);
        }
        if let Some(place) = self.place {
            if rng.chance(50) {
                out.push('在');
                out.push_str(place);
                out.push('，');
            } else {
                out.push_str(place);
            }
        }
        if let Some(person) = self.person {
            out.push_str(person);
        }
        out.push_str(wording);
        out
    }
}

fn first_sentence(answer: &str) -> String {
    let line = answer.lines().map(str::trim).find(|l| !l.is_empty());
    let line = line.unwrap_or("");
    match line.find('。') {
        Some(end) => line[..end + '。'.len_utf8()].to_string(),
        None => line.to_string(),
    }
}

/// The built-in question set: `count` questions drawn from `entries`.
///
/// About 85% are an entry's own wording perturbed as residents type it (a
/// synonym, a dropped character, traditional characters, a polite opening,
/// a colloquial ending); 12% are out-of-scope questions (tax, weather,
/// restaurants) and 3% small talk with nothing to search for. It is not the
/// evaluation set: it measures speed over the kinds of questions the bot
/// sees, not accuracy.
pub fn builtin_questions(entries: &[Entry], synonyms: &[Vec<String>], count: usize) -> Vec<String> {
    let mut groups: HashMap<&str, Vec<&str>> = HashMap::new();
    for group in synonyms {
        for term in group {
            groups
                .entry(term.as_str())
                .or_default()
                .extend(group.iter().map(String::as_str).filter(|t| t != term));
        }
    }
    let mut terms: Vec<&str> = groups.keys().copied().collect();
    terms.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
    (0..count)
        .map(|n| {
            let mut rng = Rng::new(QUESTION_SEED ^ (n as u64).wrapping_mul(0x9e37_79b9));
            if entries.is_empty() || rng.chance(12) {
                return format!(
                    "{}{}",
                    rng.pick(OFF_TOPIC_SUBJECTS),
                    rng.pick(OFF_TOPIC_PREDICATES)
                );
            }
            if rng.chance(3) {
                return rng.pick(SMALL_TALK).to_string();
            }
            let entry = rng.pick(entries);
            let wordings: Vec<&str> = entry.wordings().collect();
            let mut question = rng.pick(&wordings).to_string();
            let perturbations = 1 + rng.below(2);
            for _ in 0..perturbations {
                question = perturb(&question, &terms, &groups, &mut rng);
            }
            question
        })
        .collect()
}

fn perturb(
    question: &str,
    terms: &[&str],
    groups: &HashMap<&str, Vec<&str>>,
    rng: &mut Rng,
) -> String {
    match rng.below(6) {
        0 => match terms.iter().find(|t| question.contains(**t)) {
            Some(term) => {
                let other = *rng.pick::<&str>(&groups[*term]);
                question.replacen(term, other, 1)
            }
            None => question.to_string(),
        },
        1 => {
            // A typo: one Han character missing.
            let chars: Vec<char> = question.chars().collect();
            let han: Vec<usize> = (0..chars.len()).filter(|&i| is_han(chars[i])).collect();
            if han.len() < 6 {
                return question.to_string();
            }
            let skip = *rng.pick(&han);
            chars
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != skip)
                .map(|(_, c)| c)
                .collect()
        }
        2 => to_traditional(question),
        3 => format!("{}{question}", rng.pick(POLITE_PREFIXES)),
        4 => {
            let stem = question.trim_end_matches(['？', '?', '。', '！', '!']);
            format!("{stem}{}", rng.pick(COLLOQUIAL_ENDINGS))
        }
        _ => question
            .chars()
            .filter(|c| !matches!(c, '？' | '?' | '，' | ',' | '。'))
            .collect(),
    }
}

/// Common characters of safety questions in their traditional form, as
/// residents from Hong Kong, Macao and Taiwan type them. A small table and
/// not `hanconv::s2t`: that would load a dictionary the bot itself never
/// loads, and the memory measured would no longer be the bot's.
const TRADITIONAL: &[(char, char)] = &[
    ('气', '氣'),
    ('电', '電'),
    ('车', '車'),
    ('么', '麼'),
    ('办', '辦'),
    ('门', '門'),
    ('里', '裏'),
    ('开', '開'),
    ('关', '關'),
    ('灭', '滅'),
    ('烧', '燒'),
    ('险', '險'),
    ('应', '應'),
    ('该', '該'),
    ('发', '發'),
    ('现', '現'),
    ('楼', '樓'),
    ('带', '帶'),
    ('护', '護'),
    ('预', '預'),
    ('动', '動'),
    ('热', '熱'),
    ('烟', '煙'),
    ('报', '報'),
    ('灾', '災'),
    ('还', '還'),
    ('这', '這'),
    ('样', '樣'),
    ('时', '時'),
    ('说', '說'),
    ('们', '們'),
    ('为', '為'),
    ('会', '會'),
    ('吗', '嗎'),
    ('认', '認'),
    ('处', '處'),
];

fn to_traditional(text: &str) -> String {
    text.chars()
        .map(|c| {
            TRADITIONAL
                .iter()
                .find(|(simplified, _)| *simplified == c)
                .map_or(c, |(_, traditional)| *traditional)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Vec<Entry> {
        let entry = |id: &str, category: &str, question: &str, answer: &str| Entry {
            id: id.into(),
            category: category.into(),
            question: question.into(),
            alternates: vec![
                format!("{question}咋办"),
                format!("请问{question}"),
                format!("{question}呢"),
            ],
            answer: answer.repeat(8),
            keywords: vec!["燃气".into()],
            source: "应急管理部".into(),
            reviewed: "2026-11-28".into(),
        };
        vec![
            entry(
                "gas-smell",
                "燃气安全",
                "家里闻到燃气味怎么办",
                "关闭阀门，开窗通风。",
            ),
            entry(
                "gas-hose",
                "燃气安全",
                "燃气软管多久更换",
                "软管老化要及时更换。",
            ),
            entry(
                "ebike-charge",
                "电动自行车",
                "电动车能在楼道充电吗",
                "不要在楼道充电。",
            ),
        ]
    }

    fn synonyms() -> Vec<Vec<String>> {
        vec![
            vec!["燃气".into(), "煤气".into(), "天然气".into()],
            vec!["电动车".into(), "电瓶车".into()],
        ]
    }

    fn grow(count: usize) -> Vec<Entry> {
        // Loading jieba's dictionary is the slow part: once for all tests.
        static ANALYZER: std::sync::OnceLock<Analyzer> = std::sync::OnceLock::new();
        let analyzer = ANALYZER.get_or_init(|| Analyzer::new("", &synonyms()));
        grow_corpus(&base(), &synonyms(), analyzer, count)
    }

    #[test]
    fn growth_is_deterministic_and_exact() {
        let first = grow(200);
        assert_eq!(first.len(), 200);
        assert_eq!(first, grow(200));
        assert_eq!(&first[..3], &base()[..]);
        // A bigger corpus starts with the smaller one.
        assert_eq!(&grow(300)[..200], &first[..]);
    }

    #[test]
    fn grown_entries_have_unique_ids_and_questions() {
        let grown = grow(500);
        let ids: HashSet<&str> = grown.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids.len(), grown.len());
        let questions: HashSet<String> = grown.iter().map(|e| question_key(&e.question)).collect();
        assert_eq!(questions.len(), grown.len());
        for entry in &grown {
            assert!(crate::knowledge::is_valid_id(&entry.id), "{}", entry.id);
            assert!(entry.answer.chars().count() <= *SHIPPED_ANSWER_CHARS.end());
            assert_eq!(entry.alternates.len(), 3);
        }
    }

    #[test]
    fn a_smaller_corpus_is_a_spread_of_the_base() {
        let ids: Vec<String> = grow(2).into_iter().map(|e| e.id).collect();
        assert_eq!(ids, ["gas-smell", "gas-hose"]);
        assert!(grow(0).is_empty());
    }

    #[test]
    fn grown_wordings_stay_on_the_base_topic() {
        // Every grown entry keeps its base entry's category and source.
        let base = base();
        for entry in &grow(100)[3..] {
            let origin = entry.id.rsplit_once("-x").unwrap().0;
            let origin = base.iter().find(|e| e.id == origin).unwrap();
            assert_eq!(entry.category, origin.category);
            assert_eq!(entry.source, origin.source);
        }
    }

    #[test]
    fn the_traditional_table_agrees_with_the_normaliser() {
        // Every traditional form must come back to its simplified form, or
        // the "traditional" questions would ask something else.
        for (simplified, traditional) in TRADITIONAL {
            assert_ne!(simplified, traditional);
            assert_eq!(
                hanconv::t2s(traditional.to_string()),
                simplified.to_string()
            );
        }
        assert_eq!(to_traditional("燃气泄漏怎么办"), "燃氣泄漏怎麼辦");
    }

    #[test]
    fn questions_are_deterministic_and_mixed() {
        let entries = grow(50);
        let questions = builtin_questions(&entries, &synonyms(), 400);
        assert_eq!(questions.len(), 400);
        assert_eq!(questions, builtin_questions(&entries, &synonyms(), 400));
        let off_topic = questions
            .iter()
            .filter(|q| OFF_TOPIC_SUBJECTS.iter().any(|s| q.starts_with(s)))
            .count();
        assert!((20..=80).contains(&off_topic), "{off_topic} off-topic");
        assert!(questions.iter().all(|q| !q.is_empty()));
    }
}
