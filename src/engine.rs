//! The answer core: a question in, a [`Reply`] out.
//!
//! Steps: normalise → emergency triage → analyse → search the index for
//! candidate wordings → merge by entry → rescore each candidate on how much
//! of the question it covers → decide between *answer*, *suggest* and *no
//! answer*. The core does no network I/O and knows nothing of Telegram; the
//! front ends render the reply it returns.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, OnceLock, RwLock};

use crate::analysis::{Analyzer, OFF_SERVICE_WORDS};
use crate::index::{IndexError, SearchIndex, entry_key};
use crate::knowledge::{CATEGORIES, EmergencyCard, Entry, Knowledge};
use crate::reply::{Outcome, Reply};
use crate::text::{MAX_QUESTION_CHARS, normalize, truncate_chars};
use crate::triage::Triage;

/// The thresholds of the decision. Coverage is the weighted share of the
/// question's content words that a candidate entry speaks about (0..1).
/// Candidates are ranked by a score that blends coverage, closeness to one
/// wording and relative BM25; the decision looks at coverage alone, because
/// it means the same thing for every question while BM25 scores do not.
///
/// Measured on the dev set and the team set (`eval/`), a margin between the
/// first and second candidate did not help: close candidates are nearly
/// always near-duplicate entries, and either answers the question.
#[derive(Debug, Clone, Copy)]
pub struct DecisionConfig {
    /// Answer when the best candidate covers at least this much.
    pub answer_coverage: f32,
    /// Below `answer_coverage` but at least this: offer the top three.
    pub suggest_coverage: f32,
    /// Related questions shown under an answer need at least this coverage.
    pub related_coverage: f32,
    /// How many wordings the index returns before merging by entry.
    pub candidate_wordings: usize,
    /// In an urgent reply, retrieval's answer replaces the emergency card's
    /// own entry only with at least this coverage.
    pub urgent_override_coverage: f32,
}

impl Default for DecisionConfig {
    fn default() -> Self {
        DecisionConfig {
            answer_coverage: 0.5,
            suggest_coverage: 0.38,
            related_coverage: 0.3,
            candidate_wordings: 60,
            urgent_override_coverage: 0.7,
        }
    }
}

/// Total word count behind jieba's default dictionary frequencies.
const GENERAL_CORPUS_WORDS: f32 = 60_101_964.0;
/// A word is everyday language when the wordings use it less than this many
/// times as often as general Chinese does.
const EVERYDAY_RATIO: f32 = 20.0;

/// Closeness from which a question counts as one of the entry's wordings.
const SAME_WORDING: f32 = 0.9;

/// Related questions under an answer (a suggestion offers one fewer).
const MAX_RELATED: usize = 3;

/// Room for rounding between a candidate's bound and its score.
const BOUND_SLACK: f32 = 1e-4;

/// How much of the ranking must be exact.
#[derive(Debug, Clone, Copy)]
enum Depth {
    /// Every candidate the index found, scored (`ask --explain`).
    All,
    /// The first candidate and the next `related` that have enough coverage
    /// to be shown as related questions; candidates that cannot reach those
    /// places are left out.
    Best { related: usize },
}

/// Separates the cached content words of a wording; analysed words hold
/// only word characters, never a line break.
const WORD_SEPARATOR: char = '\n';

/// An entry with its text prepared for coverage checks.
struct Prepared {
    entry: Arc<Entry>,
    /// Normalised wordings: the question and its alternates.
    wordings: Vec<String>,
    /// Normalised keywords, in one string.
    keyword_text: String,
    /// The normalised answer, made on first use: only candidates need it,
    /// and it is most of an entry's text (9 MB at 10,000 entries).
    answer_text: OnceLock<String>,
    /// Content words of each wording, segmented on first use: closeness
    /// needs them for every candidate of every question, and segmenting
    /// them again each time was a quarter of the cost of a question. One
    /// string per wording, words separated by `WORD_SEPARATOR`, so the
    /// cache costs one allocation per wording, not one per word.
    wording_words: OnceLock<Vec<Box<str>>>,
}

impl Prepared {
    fn answer_text(&self) -> &str {
        self.answer_text
            .get_or_init(|| normalize(&self.entry.answer))
    }

    fn new(entry: Entry) -> Prepared {
        let wordings: Vec<String> = entry.wordings().map(normalize).collect();
        let keyword_text = normalize(&entry.keywords.join("|"));
        Prepared {
            entry: Arc::new(entry),
            wordings,
            keyword_text,
            answer_text: OnceLock::new(),
            wording_words: OnceLock::new(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Index(#[from] IndexError),
}

pub struct Engine {
    analyzer: Analyzer,
    index: SearchIndex,
    entries: RwLock<HashMap<u64, Arc<Prepared>>>,
    triage: Triage,
    cards: Vec<EmergencyCard>,
    config: DecisionConfig,
}

/// One candidate entry during the decision.
struct Candidate {
    prepared: Arc<Prepared>,
    bm25: f32,
    coverage: f32,
    closeness: f32,
    score: f32,
    /// The entry holds a domain word of the question (a curated term in a
    /// wording, or any question word among its keywords).
    anchored: bool,
}

/// How one candidate was scored, for `ask --explain`.
#[derive(Debug, Clone)]
pub struct Explained {
    pub id: String,
    pub question: String,
    pub coverage: f32,
    pub closeness: f32,
    pub bm25: f32,
    pub score: f32,
}

impl Engine {
    /// Opens (or builds) the index under `data_dir` for this knowledge.
    /// Returns the engine and whether the index was rebuilt.
    pub fn open(knowledge: Knowledge, data_dir: &Path) -> Result<(Engine, bool), EngineError> {
        Engine::open_with_dictionary(knowledge, data_dir, Analyzer::base_dictionary())
    }

    /// As [`Engine::open`], on jieba's dictionary loaded beforehand
    /// ([`Analyzer::base_dictionary`], on another thread at start-up).
    pub fn open_with_dictionary(
        knowledge: Knowledge,
        data_dir: &Path,
        dictionary: jieba_rs::Jieba,
    ) -> Result<(Engine, bool), EngineError> {
        let analyzer =
            Analyzer::with_dictionary(dictionary, &knowledge.user_dict, &knowledge.synonyms);
        let (index, rebuilt) = SearchIndex::open_or_build(data_dir, &knowledge, &analyzer)?;
        Ok((Engine::assemble(knowledge, analyzer, index), rebuilt))
    }

    /// An engine whose index lives in memory (tests, benchmarks).
    pub fn in_memory(knowledge: Knowledge) -> Result<Engine, EngineError> {
        let analyzer = Analyzer::new(&knowledge.user_dict, &knowledge.synonyms);
        let index = SearchIndex::build_in_ram(&knowledge.entries, &analyzer)?;
        Ok(Engine::assemble(knowledge, analyzer, index))
    }

    fn assemble(knowledge: Knowledge, analyzer: Analyzer, index: SearchIndex) -> Engine {
        // Normalising every wording and answer is a fifth of a start-up at
        // 10k entries: spread over the cores.
        let entries = crate::par::map(knowledge.entries, |entry| {
            (entry_key(&entry.id), Arc::new(Prepared::new(entry)))
        })
        .into_iter()
        .collect();
        Engine {
            analyzer,
            index,
            entries: RwLock::new(entries),
            triage: Triage::new(&knowledge.cards),
            cards: knowledge.cards,
            config: DecisionConfig::default(),
        }
    }

    pub fn with_config(mut self, config: DecisionConfig) -> Engine {
        self.config = config;
        self
    }

    pub fn cards(&self) -> &[EmergencyCard] {
        &self.cards
    }

    /// The entry with this id, if there is one.
    pub fn entry(&self, id: &str) -> Option<Arc<Entry>> {
        self.read_entries()
            .get(&entry_key(id))
            .filter(|p| p.entry.id == id)
            .map(|p| p.entry.clone())
    }

    /// The entry whose [`entry_key`] is `key`: Telegram buttons carry the
    /// key instead of the id when the id is too long for their 64 bytes.
    pub fn entry_by_key(&self, key: u64) -> Option<Arc<Entry>> {
        self.read_entries().get(&key).map(|p| p.entry.clone())
    }

    /// Every entry of a category, ordered by id.
    pub fn entries_in(&self, category: &str) -> Vec<Arc<Entry>> {
        let mut found: Vec<Arc<Entry>> = self
            .read_entries()
            .values()
            .filter(|p| p.entry.category == category)
            .map(|p| p.entry.clone())
            .collect();
        found.sort_by(|a, b| a.id.cmp(&b.id));
        found
    }

    /// Categories that have at least one entry, in the canonical order.
    pub fn categories(&self) -> Vec<&'static str> {
        let entries = self.read_entries();
        CATEGORIES
            .iter()
            .copied()
            .filter(|c| entries.values().any(|p| p.entry.category == *c))
            .collect()
    }

    pub fn entry_count(&self) -> usize {
        self.read_entries().len()
    }

    /// Adds or replaces entries and removes ids; searchable on return.
    pub fn apply(&self, removed: &[String], changed: Vec<Entry>) -> Result<(), EngineError> {
        self.index.apply(removed, &changed, &self.analyzer)?;
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        for id in removed {
            entries.remove(&entry_key(id));
        }
        for entry in changed {
            entries.insert(entry_key(&entry.id), Arc::new(Prepared::new(entry)));
        }
        Ok(())
    }

    fn read_entries(&self) -> std::sync::RwLockReadGuard<'_, HashMap<u64, Arc<Prepared>>> {
        self.entries.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Answers one message. Never fails: a search error becomes an honest
    /// *no answer* (and is logged).
    pub fn ask(&self, question: &str) -> Reply {
        let shown = truncate_chars(question.trim(), MAX_QUESTION_CHARS);
        let normalized = normalize(shown);
        let urgent = self.triage.detect(&normalized).cloned();
        let mut reply = Reply {
            question: question.to_string(),
            outcome: Outcome::NoAnswer,
            urgent,
            entry: None,
            related: Vec::new(),
            score: 0.0,
            coverage: 0.0,
            empty_question: false,
        };
        let query = self.analyzer.analyze_query(&normalized);
        if query.words.is_empty() && query.grams.is_empty() {
            reply.empty_question = true;
            self.attach_card_entry(&mut reply);
            return reply;
        }
        let depth = Depth::Best {
            related: MAX_RELATED,
        };
        let candidates = match self.rank(&normalized, &query.words, &query.grams, depth) {
            Ok(candidates) => candidates,
            Err(error) => {
                tracing::error!(%error, "search failed");
                self.attach_card_entry(&mut reply);
                return reply;
            }
        };
        self.decide(&mut reply, candidates);
        self.attach_card_entry(&mut reply);
        reply
    }

    /// The entry that ranks first for a question, however weakly. Staff
    /// are offered it when they turn an unanswered question into an
    /// alternate wording; residents never see it (`ask` decides that).
    pub fn closest_entry(&self, question: &str) -> Option<Arc<Entry>> {
        let normalized = normalize(truncate_chars(question.trim(), MAX_QUESTION_CHARS));
        let query = self.analyzer.analyze_query(&normalized);
        if query.words.is_empty() && query.grams.is_empty() {
            return None;
        }
        let candidates = self
            .rank(
                &normalized,
                &query.words,
                &query.grams,
                Depth::Best { related: 0 },
            )
            .ok()?;
        candidates
            .into_iter()
            .next()
            .map(|c| c.prepared.entry.clone())
    }

    /// With an emergency card, the reply shows the card's entry (if it names
    /// one) unless retrieval found an answer it is sure of: in danger, the
    /// vetted first-aid entry beats a merely plausible match.
    fn attach_card_entry(&self, reply: &mut Reply) {
        let Some(card) = &reply.urgent else { return };
        if reply.outcome == Outcome::Answer
            && reply.coverage >= self.config.urgent_override_coverage
        {
            return;
        }
        if let Some(entry) = card.entry.as_deref().and_then(|id| self.entry(id)) {
            if let Some(found) = reply.entry.take()
                && found.id != entry.id
            {
                reply.related.insert(0, found);
            }
            reply.related.retain(|r| r.id != entry.id);
            reply.related.truncate(3);
            reply.entry = Some(entry);
            reply.outcome = Outcome::Answer;
        }
    }

    fn decide(&self, reply: &mut Reply, candidates: Vec<Candidate>) {
        let config = &self.config;
        let Some(best) = candidates.first() else {
            return;
        };
        reply.score = best.score;
        reply.coverage = best.coverage;
        // An answer shows up to three related questions; a suggestion
        // offers three candidates in all, the best first.
        let (outcome, others) = if best.coverage >= config.answer_coverage && best.anchored {
            (Outcome::Answer, MAX_RELATED)
        } else if best.coverage >= config.suggest_coverage {
            (Outcome::Suggest, 2)
        } else {
            return;
        };
        reply.outcome = outcome;
        reply.entry = Some(best.prepared.entry.clone());
        reply.related = candidates[1..]
            .iter()
            .filter(|c| c.coverage >= config.related_coverage)
            .take(others)
            .map(|c| c.prepared.entry.clone())
            .collect();
    }

    /// The query words with their weights and the top candidates with
    /// every signal, for staff to see why the bot answered as it did.
    pub fn explain(&self, question: &str, limit: usize) -> (Vec<(String, f32)>, Vec<Explained>) {
        let normalized = normalize(truncate_chars(question.trim(), MAX_QUESTION_CHARS));
        let query = self.analyzer.analyze_query(&normalized);
        let weights = self.term_weights(&query.words);
        let candidates = self
            .rank(&normalized, &query.words, &query.grams, Depth::All)
            .unwrap_or_default();
        let explained = candidates
            .into_iter()
            .take(limit)
            .map(|c| Explained {
                id: c.prepared.entry.id.clone(),
                question: c.prepared.entry.question.clone(),
                coverage: c.coverage,
                closeness: c.closeness,
                bm25: c.bm25,
                score: c.score,
            })
            .collect();
        (weights, explained)
    }

    /// Candidate entries for a question, best first: every candidate the
    /// index found (`Depth::All`), or only as many as decide the reply.
    fn rank(
        &self,
        normalized: &str,
        words: &[String],
        grams: &[String],
        depth: Depth,
    ) -> Result<Vec<Candidate>, IndexError> {
        let mut expanded: Vec<String> = words.to_vec();
        for word in words {
            for synonym in self.analyzer.synonyms_of(word) {
                if !expanded.contains(synonym) {
                    expanded.push(synonym.clone());
                }
            }
        }
        let hits = self
            .index
            .search(&expanded, grams, self.config.candidate_wordings)?;
        let Some(top_bm25) = hits.first().map(|h| h.score) else {
            return Ok(Vec::new());
        };
        let entries = self.read_entries();
        let mut by_entry: Vec<(Arc<Prepared>, f32)> = Vec::new();
        let mut merged: Vec<u64> = Vec::new();
        for hit in hits {
            if merged.contains(&hit.key) {
                continue;
            }
            if let Some(prepared) = entries.get(&hit.key) {
                merged.push(hit.key);
                by_entry.push((prepared.clone(), hit.score));
            }
        }
        drop(entries);

        let weighed = self.weigh_terms(words);
        let weights: Vec<(String, f32)> = weighed
            .iter()
            .map(|(w, weight, _)| (w.clone(), *weight))
            .collect();
        let domain_words: Vec<&str> = weighed
            .iter()
            .filter(|(_, _, domain)| *domain)
            .map(|(w, _, _)| w.as_str())
            .collect();
        let terms = self.query_terms(&weights);
        let total: f32 = weights.iter().map(|(_, w)| w).sum();
        // Coverage and BM25 for every candidate, and from them the highest
        // score each could reach: closeness is the harmonic mean of a share
        // of the question a wording holds (at most the coverage) and a share
        // at most 1, so it is at most 2c/(1+c). Closeness — the costly part,
        // which segments and searches every wording — is then worked out
        // best bound first, only until no candidate left could change the
        // first places of the ranking.
        let mut pending: Vec<(usize, Candidate)> = by_entry
            .into_iter()
            .enumerate()
            .map(|(order, (prepared, bm25))| {
                let coverage = coverage(&terms, total, &prepared);
                let bound = 0.5 * coverage
                    + 0.3 * (2.0 * coverage / (1.0 + coverage))
                    + 0.2 * (bm25 / top_bm25);
                let candidate = Candidate {
                    prepared,
                    bm25,
                    coverage,
                    closeness: 0.0,
                    score: bound,
                    anchored: false,
                };
                (order, candidate)
            })
            .collect();
        pending.sort_by(|(_, a), (_, b)| b.score.total_cmp(&a.score));
        // Sorted as the final ranking: score, then BM25, then the index's
        // order.
        let ranking = |(ia, a): &(usize, Candidate), (ib, b): &(usize, Candidate)| {
            b.score
                .total_cmp(&a.score)
                .then(b.bm25.total_cmp(&a.bm25))
                .then(ia.cmp(ib))
        };
        let mut scored: Vec<(usize, Candidate)> = Vec::with_capacity(pending.len());
        for (order, mut candidate) in pending {
            if let Depth::Best { related } = depth
                && self.settled(&scored, candidate.score + BOUND_SLACK, related)
            {
                break;
            }
            candidate.closeness = self.closeness(normalized, &terms, total, &candidate.prepared);
            candidate.score = 0.5 * candidate.coverage
                + 0.3 * candidate.closeness
                + 0.2 * (candidate.bm25 / top_bm25);
            scored.push((order, candidate));
            scored.sort_by(ranking);
        }
        let mut candidates: Vec<Candidate> = scored.into_iter().map(|(_, c)| c).collect();
        // Only the first candidate's anchoring decides anything. A question
        // that is essentially one of the entry's own wordings is anchored
        // by it: staff wrote that wording.
        if let Some(best) = candidates.first_mut() {
            best.anchored = best.closeness >= SAME_WORDING
                || self.anchored(&weights, &domain_words, &best.prepared);
        }
        Ok(candidates)
    }

    /// Whether the first candidate and the first `related` after it with
    /// enough coverage for a related question all score above `bound`, so
    /// no candidate still unscored can displace them.
    fn settled(&self, scored: &[(usize, Candidate)], bound: f32, related: usize) -> bool {
        let mut ahead = scored
            .iter()
            .map(|(_, c)| c)
            .take_while(|c| c.score > bound);
        if ahead.next().is_none() {
            return false;
        }
        related == 0
            || ahead
                .filter(|c| c.coverage >= self.config.related_coverage)
                .nth(related - 1)
                .is_some()
    }

    /// How much a query word weighs: rarer in the indexed wordings weighs
    /// more; a word no wording contains weighs most, so a question about
    /// something the bot does not know is not answered by what it does.
    fn term_weights(&self, words: &[String]) -> Vec<(String, f32)> {
        self.weigh_terms(words)
            .into_iter()
            .map(|(w, weight, _)| (w, weight))
            .collect()
    }

    /// Each distinct query word with its weight and whether it is a domain
    /// word: curated vocabulary, or a word the wordings use at least
    /// `EVERYDAY_RATIO` times as often as general Chinese, in three or more
    /// wordings.
    fn weigh_terms(&self, words: &[String]) -> Vec<(String, f32, bool)> {
        let mut weights: Vec<(String, f32, bool)> = Vec::new();
        for word in words {
            if weights.iter().any(|(w, _, _)| w == word) {
                continue;
            }
            let (mut df, docs) = self.index.word_frequency(word);
            for synonym in self.analyzer.synonyms_of(word) {
                df = df.max(self.index.word_frequency(synonym).0);
            }
            let docs = docs.max(1) as f32;
            let idf = (1.0 + docs / (df as f32 + 1.0)).ln();
            let length_factor = if word.chars().count() == 1 { 0.5 } else { 1.0 };
            // A word the wordings use no more often than everyday Chinese
            // does (最近, 直接, 申请) says little about which entry is meant:
            // matching it by chance must not make an unrelated question look
            // covered. Words the wordings never use keep their full weight:
            // they are what a question about something else is made of.
            let corpus_rate = df as f32 / docs;
            let general_rate = self.analyzer.general_frequency(word) as f32 / GENERAL_CORPUS_WORDS;
            let everyday = df > 0 && corpus_rate < EVERYDAY_RATIO * general_rate;
            let domain = self.analyzer.is_domain_term(word)
                || (df >= 3 && corpus_rate >= EVERYDAY_RATIO * general_rate);
            let everyday_factor = if everyday { 0.5 } else { 1.0 };
            let weight = if OFF_SERVICE_WORDS.contains(&word.as_str()) {
                // Weighs like the rarest word and a half: an entry must speak
                // of the service itself to cover such a question.
                1.5 * (1.0 + docs).ln()
            } else {
                idf * length_factor * everyday_factor
            };
            weights.push((word.clone(), weight, domain));
        }
        weights
    }

    /// The weighed query words with what rescoring needs of each, looked
    /// up once per question rather than once per candidate and wording.
    fn query_terms<'a>(&'a self, weights: &'a [(String, f32)]) -> Vec<QueryTerm<'a>> {
        weights
            .iter()
            .map(|(text, weight)| {
                let curated = self.analyzer.is_domain_term(text);
                let chars: Vec<char> = text.chars().collect();
                // A curated word is never credited in part.
                let pairs = if curated || chars.len() < 3 {
                    Vec::new()
                } else {
                    chars.windows(2).map(|p| p.iter().collect()).collect()
                };
                QueryTerm {
                    text,
                    weight: *weight,
                    synonyms: self.analyzer.synonyms_of(text),
                    pairs,
                }
            })
            .collect()
    }

    /// Whether the entry speaks of a domain word of the question: everyday
    /// words alone (头疼, 明天, 谁) never make a safety answer.
    fn anchored(
        &self,
        weights: &[(String, f32)],
        domain_words: &[&str],
        prepared: &Prepared,
    ) -> bool {
        weights
            .iter()
            .any(|(term, _)| self.contains_term(&prepared.keyword_text, term))
            || domain_words.iter().any(|term| {
                prepared
                    .wordings
                    .iter()
                    .any(|w| self.contains_term(w, term))
            })
    }

    fn contains_term(&self, text: &str, term: &str) -> bool {
        text.contains(term)
            || self
                .analyzer
                .synonyms_of(term)
                .iter()
                .any(|s| text.contains(s.as_str()))
    }

    /// How close the question is to the single nearest wording: the harmonic
    /// mean of the share of the question the wording holds and the share of
    /// the wording the question holds.
    fn closeness(
        &self,
        normalized: &str,
        terms: &[QueryTerm],
        total: f32,
        prepared: &Prepared,
    ) -> f32 {
        if total <= 0.0 {
            return 0.0;
        }
        let all_words = prepared.wording_words.get_or_init(|| {
            prepared
                .wordings
                .iter()
                .map(|w| {
                    let words = self.analyzer.content_words(w);
                    debug_assert!(words.iter().all(|w| !w.contains(WORD_SEPARATOR)));
                    words.join(&WORD_SEPARATOR.to_string()).into_boxed_str()
                })
                .collect()
        });
        let mut best: f32 = 0.0;
        for (wording, wording_words) in prepared.wordings.iter().zip(all_words) {
            let held: f32 = terms
                .iter()
                .filter(|term| term.is_in(wording))
                .map(|term| term.weight)
                .sum::<f32>()
                / total;
            if held <= best {
                continue;
            }
            if wording_words.is_empty() {
                continue;
            }
            let mut count = 0usize;
            let mut found = 0usize;
            for word in wording_words.split(WORD_SEPARATOR) {
                count += 1;
                if normalized.contains(word)
                    || self
                        .analyzer
                        .synonyms_of(word)
                        .iter()
                        .any(|s| normalized.contains(s.as_str()))
                {
                    found += 1;
                }
            }
            let present = found as f32 / count as f32;
            if held + present > 0.0 {
                best = best.max(2.0 * held * present / (held + present));
            }
        }
        best
    }
}

/// A query word as rescoring sees it.
struct QueryTerm<'a> {
    text: &'a str,
    weight: f32,
    synonyms: &'a [String],
    /// The word's character pairs, when it may earn partial credit: three
    /// or more characters and not curated vocabulary (a typo of a long word,
    /// 灭火气, still finds most of 灭火器's pairs).
    pairs: Vec<String>,
}

impl QueryTerm<'_> {
    /// Whether a text holds the word or one of its synonyms.
    fn is_in(&self, text: &str) -> bool {
        text.contains(self.text) || self.synonyms.iter().any(|s| text.contains(s.as_str()))
    }

    /// Credit for a word an entry's wording lacks: 0.7 when its keywords
    /// hold it, 0.6 when its answer does.
    fn fallback(&self, prepared: &Prepared) -> f32 {
        if self.is_in(&prepared.keyword_text) {
            0.7
        } else if self.is_in(prepared.answer_text()) {
            0.6
        } else {
            0.0
        }
    }

    /// Credit for a word a text holds only in part: 0.7 times the share of
    /// its character pairs found there.
    fn partial_credit(&self, text: &str) -> f32 {
        if self.pairs.is_empty() {
            return 0.0;
        }
        let found = self
            .pairs
            .iter()
            .filter(|pair| text.contains(pair.as_str()))
            .count();
        0.7 * found as f32 / self.pairs.len() as f32
    }
}

/// The most a word missing from a wording can earn (0.7, from the keywords
/// or in part), with room for rounding.
const MISSING_CREDIT_CAP: f32 = 0.7001;

/// How much of the question an entry speaks about: for each of its
/// wordings, the weighted share of query words it holds (a synonym counts),
/// where a word the wording lacks still earns 0.7 from the entry's keywords
/// or 0.6 from its answer, and a longer word only partly there (a typo:
/// 灭火气) earns in proportion. The best wording counts, so an entry cannot
/// cover a question by pooling unrelated alternates.
///
/// Wordings are tried most promising first, and one that could not beat the
/// best so far even with every missing word at the cap is skipped; the
/// keywords and the (long) answer are searched only for words a wording
/// still being scored lacks, once per entry.
fn coverage(terms: &[QueryTerm], total: f32, prepared: &Prepared) -> f32 {
    if total <= 0.0 {
        return 0.0;
    }
    // Which terms each wording holds, one row per wording in one buffer,
    // and the most each wording could score.
    let width = terms.len();
    let mut held: Vec<bool> = Vec::with_capacity(width * prepared.wordings.len());
    let mut bounds: Vec<(f32, usize)> = Vec::with_capacity(prepared.wordings.len());
    for (at, wording) in prepared.wordings.iter().enumerate() {
        let mut bound = 0.0f32;
        for term in terms {
            let has = term.is_in(wording);
            held.push(has);
            bound += term.weight * if has { 1.0 } else { MISSING_CREDIT_CAP };
        }
        bounds.push((bound, at));
    }
    bounds.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut fallback: Vec<Option<f32>> = vec![None; width];
    let mut best: f32 = 0.0;
    for (bound, at) in bounds {
        if bound / total <= best {
            break;
        }
        let held = &held[at * width..(at + 1) * width];
        let wording = &prepared.wordings[at];
        let sum: f32 = terms
            .iter()
            .zip(held.iter())
            .enumerate()
            .map(|(i, (term, held))| {
                let credit = if *held {
                    1.0
                } else {
                    let fallback = *fallback[i].get_or_insert_with(|| term.fallback(prepared));
                    fallback.max(term.partial_credit(wording))
                };
                term.weight * credit
            })
            .sum();
        best = best.max(sum / total);
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench_data::builtin_questions;
    use crate::knowledge::load_embedded;

    /// The engine on the shipped corpus and 600 of the benchmark's
    /// questions about it (perturbed wordings, out-of-scope, small talk).
    fn engine_and_questions() -> (Engine, Vec<String>) {
        let (knowledge, _) = load_embedded();
        let questions = builtin_questions(&knowledge.entries, &knowledge.synonyms, 600);
        (Engine::in_memory(knowledge).unwrap(), questions)
    }

    /// Coverage as defined, every wording scored in full: what the pruned
    /// `coverage` must equal.
    fn coverage_in_full(terms: &[QueryTerm], total: f32, prepared: &Prepared) -> f32 {
        if total <= 0.0 {
            return 0.0;
        }
        let fallback: Vec<f32> = terms.iter().map(|term| term.fallback(prepared)).collect();
        prepared
            .wordings
            .iter()
            .map(|wording| {
                let held: f32 = terms
                    .iter()
                    .zip(&fallback)
                    .map(|(term, fallback)| {
                        let credit = if term.is_in(wording) {
                            1.0
                        } else {
                            fallback.max(term.partial_credit(wording))
                        };
                        term.weight * credit
                    })
                    .sum();
                held / total
            })
            .fold(0.0, f32::max)
    }

    #[test]
    fn pruned_coverage_equals_coverage_in_full() {
        let (engine, questions) = engine_and_questions();
        let entries: Vec<Arc<Prepared>> = engine.read_entries().values().cloned().collect();
        let mut compared = 0;
        for question in questions.iter().step_by(10) {
            let query = engine.analyzer.analyze_query(&normalize(question));
            let weights = engine.term_weights(&query.words);
            let terms = engine.query_terms(&weights);
            let total: f32 = weights.iter().map(|(_, w)| w).sum();
            for prepared in &entries {
                let pruned = coverage(&terms, total, prepared);
                let full = coverage_in_full(&terms, total, prepared);
                assert_eq!(pruned, full, "{question} / {}", prepared.entry.id);
                compared += 1;
            }
        }
        assert!(compared > 10_000, "{compared}");
    }

    /// Scoring only the candidates that can reach the first places gives
    /// the same best candidate and the same related questions as scoring
    /// them all.
    #[test]
    fn the_first_places_are_the_same_as_with_every_candidate_scored() {
        let (engine, questions) = engine_and_questions();
        let related = engine.config.related_coverage;
        let first_places = |candidates: &[Candidate]| -> Vec<(String, u32, u32)> {
            let mut places = Vec::new();
            for (n, c) in candidates.iter().enumerate() {
                if n == 0 || c.coverage >= related {
                    places.push((
                        c.prepared.entry.id.clone(),
                        c.score.to_bits(),
                        c.coverage.to_bits(),
                    ));
                }
                if places.len() == 1 + MAX_RELATED {
                    break;
                }
            }
            places
        };
        let mut pruned_away = 0;
        for question in &questions {
            let normalized = normalize(question);
            let query = engine.analyzer.analyze_query(&normalized);
            let all = engine
                .rank(&normalized, &query.words, &query.grams, Depth::All)
                .unwrap();
            let best = engine
                .rank(
                    &normalized,
                    &query.words,
                    &query.grams,
                    Depth::Best {
                        related: MAX_RELATED,
                    },
                )
                .unwrap();
            assert_eq!(first_places(&best), first_places(&all), "{question}");
            if let (Some(a), Some(b)) = (all.first(), best.first()) {
                let anchored = a.closeness >= SAME_WORDING
                    || engine.anchored(
                        &engine.term_weights(&query.words),
                        &engine
                            .weigh_terms(&query.words)
                            .iter()
                            .filter(|(_, _, domain)| *domain)
                            .map(|(w, _, _)| w.as_str())
                            .collect::<Vec<_>>(),
                        &a.prepared,
                    );
                assert_eq!(b.anchored, anchored, "{question}");
            }
            pruned_away += all.len() - best.len();
        }
        // The pruning does happen: otherwise this test proves nothing.
        assert!(pruned_away > questions.len(), "{pruned_away}");
    }
}
