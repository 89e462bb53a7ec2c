//! Chinese analysis: jieba words, CJK bigrams, stop words and synonyms.
//!
//! Index and query go through the same [`Analyzer`], always on text that
//! [`crate::text::normalize`] has already folded. The analyzer produces plain
//! strings; the index stores them as pre-tokenised text, so tantivy never
//! tokenises anything itself and user text can never become query syntax.

use std::collections::{HashMap, HashSet};

use jieba_rs::Jieba;

use crate::text::{is_han, is_word_char, normalize};

/// Question words, particles and pronouns: they say how something is asked,
/// not what it is about. Dropped from queries and from indexed wordings.
const STOP_WORDS: &[&str] = &[
    // how / what / why
    "怎么办",
    "怎么",
    "怎样",
    "怎么样",
    "如何",
    "咋",
    "咋办",
    "咋整",
    "咋弄",
    "咋样",
    "咋回事",
    "怎么回事",
    "怎么弄",
    "怎么处理",
    "怎么做",
    "该怎么办",
    "怎么搞",
    "啥",
    "啥样",
    "什么",
    "什么样",
    "为什么",
    "为啥",
    "干啥",
    "干嘛",
    "干吗",
    "谁",
    "哪一年",
    "哪年",
    "是从",
    "哪",
    "哪些",
    "哪里",
    "哪儿",
    "哪个",
    "哪种",
    "几",
    "几个",
    "多少",
    "多久",
    "多长",
    "多长时间",
    "多大",
    "多深",
    "多高",
    "多远",
    "多快",
    "多宽",
    "多厚",
    "多重",
    "多少次",
    "何时",
    "什么时候",
    // yes/no question forms
    "吗",
    "呢",
    "吧",
    "啊",
    "呀",
    "哦",
    "嘛",
    "么",
    "哈",
    "嗯",
    "呗",
    "哇",
    "啦",
    "喔",
    "呐",
    "是否",
    "是不是",
    "能不能",
    "能否",
    "可不可以",
    "可以",
    "可否",
    "行不行",
    "行吗",
    "会不会",
    "要不要",
    "有没有",
    "对不对",
    "好不好",
    "应该",
    "应当",
    "需要",
    "得",
    "该",
    "必须",
    // politeness and pronouns
    "请问",
    "请",
    "问",
    "问下",
    "问一下",
    "一下",
    "帮",
    "帮我",
    "告诉",
    "告诉我",
    "我",
    "你",
    "您",
    "他",
    "她",
    "它",
    "我们",
    "你们",
    "他们",
    "咱",
    "咱们",
    "俺",
    "自己",
    "大家",
    // particles and function words
    "的",
    "了",
    "着",
    "过",
    "地",
    "是",
    "在",
    "和",
    "与",
    "及",
    "以及",
    "或",
    "或者",
    "就",
    "都",
    "也",
    "还",
    "又",
    "才",
    "很",
    "太",
    "非常",
    "特别",
    "比较",
    "最",
    "把",
    "被",
    "让",
    "给",
    "对",
    "从",
    "这",
    "那",
    "这个",
    "那个",
    "这些",
    "那些",
    "这种",
    "那种",
    "这样",
    "那样",
    "一个",
    "一些",
    "些",
    "个",
    "时",
    "时候",
    "的话",
    "如果",
    "假如",
    "万一",
    "要是",
    "然后",
    "还是",
    "到底",
    "究竟",
    "一般",
    "一定",
    "有",
    "要",
    "会",
    "能",
    "想",
    "吧",
];

/// Phrases added to jieba's dictionary so they segment whole and can be
/// recognised as stop words ("咋整" would otherwise split into 咋 / 整).
const STOP_PHRASES_TO_JOIN: &[&str] = &[
    "咋办",
    "咋整",
    "咋弄",
    "咋样",
    "咋回事",
    "怎么弄",
    "怎么处理",
    "怎么做",
    "该怎么办",
    "怎么搞",
    "多长时间",
    "能不能",
    "可不可以",
    "行不行",
    "会不会",
    "要不要",
    "有没有",
    "问一下",
    "是不是",
];

/// Words that ask for a service the bot does not give: prices and shopping,
/// bills and accounts, exams and recruiting, recommendations, leisure. A
/// question that uses one is about that service unless the entry speaks of
/// it too, so the engine weighs these words heavily.
pub const OFF_SERVICE_WORDS: &[&str] = &[
    "多少钱",
    "价格",
    "价钱",
    "便宜",
    "性价比",
    "哪里买",
    "在哪买",
    "去哪买",
    "怎么买",
    "网购",
    "品牌",
    "牌子",
    "推荐",
    "续航",
    "缴费",
    "交费",
    "充值",
    "开户",
    "过户",
    "报名",
    "报考",
    "考证",
    "招聘",
    "应聘",
    "工资",
    "股票",
    "理财",
    "贷款",
    "旅游",
    "签证",
    "电影",
    "好吃",
    "餐厅",
    "菜谱",
    "做法",
    "减肥",
    "笑话",
    "翻译",
    "天气预报",
    "燃气费",
    "电费",
    "水费",
    "物业费",
    "话费",
    "学游泳",
    "游泳课",
    "培训班",
    "不制冷",
    "驾校",
    "挂号",
    "放假",
    "表演",
    "演出",
    "晚会",
];

/// What analysis of one text yields.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Analysis {
    /// Content words (stop words removed).
    pub words: Vec<String>,
    /// CJK bigrams inside runs of content words (a lone character kept).
    pub grams: Vec<String>,
}

pub struct Analyzer {
    jieba: Jieba,
    /// Curated domain vocabulary: the user dictionary and every synonym,
    /// normalised. A question must touch one of these (or an entry's
    /// keyword) before the engine answers it.
    domain_terms: HashSet<String>,
    stop_words: HashSet<&'static str>,
    /// Normalised term → the other normalised terms of its groups.
    synonyms: HashMap<String, Vec<String>>,
}

impl Analyzer {
    /// Builds an analyzer with jieba's default dictionary, the user
    /// dictionary (jieba text format) and the synonym groups.
    pub fn new(user_dict: &str, synonym_groups: &[Vec<String>]) -> Analyzer {
        Analyzer::with_dictionary(Analyzer::base_dictionary(), user_dict, synonym_groups)
    }

    /// jieba with its default dictionary alone: a tenth of a second to
    /// load, so start-up loads it on another thread while it reads the
    /// knowledge (see [`Analyzer::with_dictionary`]).
    pub fn base_dictionary() -> Jieba {
        Jieba::new()
    }

    /// As [`Analyzer::new`], on a dictionary from [`Analyzer::base_dictionary`].
    pub fn with_dictionary(
        mut jieba: Jieba,
        user_dict: &str,
        synonym_groups: &[Vec<String>],
    ) -> Analyzer {
        for phrase in STOP_PHRASES_TO_JOIN.iter().chain(OFF_SERVICE_WORDS) {
            jieba.add_word(phrase, None, None);
        }
        let mut domain_terms = HashSet::new();
        for line in user_dict.lines() {
            let mut parts = line.split_whitespace();
            let Some(word) = parts.next() else { continue };
            if word.starts_with('#') {
                continue;
            }
            let word = normalize(word);
            domain_terms.insert(word.clone());
            // A user-dictionary word must come out whole: let jieba suggest
            // the frequency that guarantees it rather than trusting a small
            // hand-written one.
            let given: Option<usize> = parts.next().and_then(|f| f.parse().ok());
            let freq = given.unwrap_or(0).max(jieba.suggest_freq(&word));
            jieba.add_word(&word, Some(freq), parts.next());
        }
        let mut synonyms: HashMap<String, Vec<String>> = HashMap::new();
        for group in synonym_groups {
            let terms: Vec<String> = group
                .iter()
                .map(|t| normalize(t))
                .filter(|t| !t.is_empty())
                .collect();
            for term in &terms {
                domain_terms.insert(term.clone());
                if term.chars().count() > 1 && !jieba.has_word(term) {
                    let freq = jieba.suggest_freq(term);
                    jieba.add_word(term, Some(freq), None);
                }
                let others = synonyms.entry(term.clone()).or_default();
                for other in &terms {
                    if other != term && !others.contains(other) {
                        others.push(other.clone());
                    }
                }
            }
        }
        Analyzer {
            jieba,
            domain_terms,
            stop_words: STOP_WORDS.iter().copied().collect(),
            synonyms,
        }
    }

    /// How often a word occurs in general Chinese, by jieba's dictionary
    /// (for a word it does not list, jieba's estimate from its parts).
    pub fn general_frequency(&self, word: &str) -> usize {
        self.jieba.suggest_freq(word)
    }

    /// Whether a normalised word (or one of its synonyms) is curated domain
    /// vocabulary.
    pub fn is_domain_term(&self, word: &str) -> bool {
        self.domain_terms.contains(word)
            || self
                .synonyms_of(word)
                .iter()
                .any(|s| self.domain_terms.contains(s))
    }

    pub fn is_stop_word(&self, word: &str) -> bool {
        self.stop_words.contains(word)
    }

    /// The synonyms of a normalised term (empty when it has none).
    pub fn synonyms_of(&self, term: &str) -> &[String] {
        self.synonyms.get(term).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Analyses a query: precise-mode words, so 电动车 stays 电动车 and
    /// does not also match 动车 (a bullet train).
    pub fn analyze_query(&self, normalized: &str) -> Analysis {
        self.analyze(normalized, false)
    }

    /// Analyses an indexed wording: search-mode words (sub-words included),
    /// so a query word that is part of a longer indexed term still matches.
    pub fn analyze_document(&self, normalized: &str) -> Analysis {
        self.analyze(normalized, true)
    }

    /// Content words of a normalised text in precise mode, in order, with
    /// duplicates kept.
    pub fn content_words(&self, normalized: &str) -> Vec<String> {
        self.analyze(normalized, false).words
    }

    fn analyze(&self, normalized: &str, search_mode: bool) -> Analysis {
        let mut analysis = Analysis::default();
        let mut run = String::new();
        for token in self.jieba.cut(normalized, false) {
            let word = token.word;
            if !word.chars().any(is_word_char) || self.is_stop_word(word) {
                flush_bigrams(&mut run, &mut analysis.grams);
                continue;
            }
            let word: String = word.chars().filter(|c| is_word_char(*c)).collect();
            if word.chars().all(is_han) {
                run.push_str(&word);
            } else {
                flush_bigrams(&mut run, &mut analysis.grams);
            }
            if search_mode && word.chars().count() > 2 {
                for sub in self.jieba.cut_for_search(&word, true) {
                    if sub.word != word
                        && sub.word.chars().count() > 1
                        && !self.is_stop_word(sub.word)
                    {
                        analysis.words.push(sub.word.to_string());
                    }
                }
            }
            analysis.words.push(word);
        }
        flush_bigrams(&mut run, &mut analysis.grams);
        analysis
    }
}

/// Emits the bigrams of a run of Han characters (a lone character as itself)
/// and empties the run.
fn flush_bigrams(run: &mut String, grams: &mut Vec<String>) {
    let chars: Vec<char> = run.chars().collect();
    match chars.len() {
        0 => {}
        1 => grams.push(chars[0].to_string()),
        _ => {
            for pair in chars.windows(2) {
                grams.push(pair.iter().collect());
            }
        }
    }
    run.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn analyzer() -> Analyzer {
        Analyzer::new(
            "电动自行车 10 n\n燃气热水器 10 n\n",
            &[vec!["燃气".into(), "煤气".into(), "天然气".into()]],
        )
    }

    #[test]
    fn question_words_are_dropped() {
        let a = analyzer();
        assert_eq!(
            a.analyze_query("煤气泄漏了咋整").words,
            vec!["煤气", "泄漏"]
        );
        assert!(a.analyze_query("怎么办呢？").words.is_empty());
    }

    #[test]
    fn bigrams_cover_what_segmentation_misses() {
        let a = analyzer();
        let grams = a.analyze_query("闻到煤气味").grams;
        assert!(grams.contains(&"煤气".to_string()), "{grams:?}");
    }

    #[test]
    fn user_dictionary_terms_stay_whole() {
        let a = analyzer();
        assert!(
            a.analyze_query("电动自行车充电")
                .words
                .contains(&"电动自行车".to_string())
        );
        let doc = a.analyze_document("燃气热水器安装");
        assert!(doc.words.contains(&"燃气热水器".to_string()));
        assert!(doc.words.contains(&"热水器".to_string()), "{:?}", doc.words);
    }

    #[test]
    fn latin_words_are_kept_whole() {
        let a = analyzer();
        let words = a.analyze_query("aed怎么用").words;
        assert_eq!(words[0], "aed");
    }

    #[test]
    fn synonyms_are_symmetric() {
        let a = analyzer();
        assert!(a.synonyms_of("煤气").contains(&"燃气".to_string()));
        assert!(a.synonyms_of("燃气").contains(&"天然气".to_string()));
        assert!(a.synonyms_of("电").is_empty());
    }
}
