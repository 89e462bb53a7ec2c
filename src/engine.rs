//! The answer core: a question in, a [`Reply`] out.
//!
//! Steps: normalise → emergency triage → analyse → search the index for
//! candidate wordings → merge by entry → rescore each candidate on how much
//! of the question it covers → decide between *answer*, *suggest* and *no
//! answer*. The core does no network I/O and knows nothing of Telegram; the
//! front ends render the reply it returns.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, RwLock};

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

/// An entry with its text prepared for coverage checks.
struct Prepared {
    entry: Arc<Entry>,
    /// Normalised wordings: the question and its alternates.
    wordings: Vec<String>,
    /// Normalised keywords, in one string.
    keyword_text: String,
    answer_text: String,
}

impl Prepared {
    fn new(entry: Entry) -> Prepared {
        let wordings: Vec<String> = entry.wordings().map(normalize).collect();
        let keyword_text = normalize(&entry.keywords.join("|"));
        let answer_text = normalize(&entry.answer);
        Prepared {
            entry: Arc::new(entry),
            wordings,
            keyword_text,
            answer_text,
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
        let analyzer = Analyzer::new(&knowledge.user_dict, &knowledge.synonyms);
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
        let entries = knowledge
            .entries
            .into_iter()
            .map(|entry| (entry_key(&entry.id), Arc::new(Prepared::new(entry))))
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
        let candidates = match self.rank(&normalized, &query.words, &query.grams) {
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
        let candidates = self.rank(&normalized, &query.words, &query.grams).ok()?;
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
            (Outcome::Answer, 3)
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
            .rank(&normalized, &query.words, &query.grams)
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

    /// Candidate entries for a question, best first.
    fn rank(
        &self,
        normalized: &str,
        words: &[String],
        grams: &[String],
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
        for hit in hits {
            if by_entry
                .iter()
                .any(|(p, _)| entry_key(&p.entry.id) == hit.key)
            {
                continue;
            }
            if let Some(prepared) = entries.get(&hit.key) {
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
        let total: f32 = weights.iter().map(|(_, w)| w).sum();
        let mut candidates: Vec<Candidate> = by_entry
            .into_iter()
            .map(|(prepared, bm25)| {
                let coverage = self.coverage(&weights, total, &prepared);
                let closeness = self.closeness(normalized, &weights, &prepared);
                // A question that is essentially one of the entry's own
                // wordings is anchored by it: staff wrote that wording.
                let anchored =
                    closeness >= SAME_WORDING || self.anchored(&weights, &domain_words, &prepared);
                let bm25_rel = bm25 / top_bm25;
                let score = 0.5 * coverage + 0.3 * closeness + 0.2 * bm25_rel;
                Candidate {
                    prepared,
                    bm25,
                    coverage,
                    closeness,
                    score,
                    anchored,
                }
            })
            .collect();
        candidates.sort_by(|a, b| b.score.total_cmp(&a.score).then(b.bm25.total_cmp(&a.bm25)));
        Ok(candidates)
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

    /// How much of the question an entry speaks about: for each of its
    /// wordings, the weighted share of query words it holds (a synonym
    /// counts), where a word the wording lacks still earns 0.7 from the
    /// entry's keywords or 0.6 from its answer, and a longer word only partly
    /// there (a typo: 灭火气) earns in proportion. The best wording counts,
    /// so an entry cannot cover a question by pooling unrelated alternates.
    fn coverage(&self, weights: &[(String, f32)], total: f32, prepared: &Prepared) -> f32 {
        if total <= 0.0 {
            return 0.0;
        }
        let fallback: Vec<f32> = weights
            .iter()
            .map(|(term, _)| {
                if self.contains_term(&prepared.keyword_text, term) {
                    0.7
                } else if self.contains_term(&prepared.answer_text, term) {
                    0.6
                } else {
                    0.0
                }
            })
            .collect();
        let mut best: f32 = 0.0;
        for wording in &prepared.wordings {
            let held: f32 = weights
                .iter()
                .zip(&fallback)
                .map(|((term, weight), fallback)| {
                    let credit = if self.contains_term(wording, term) {
                        1.0
                    } else {
                        fallback.max(if self.analyzer.is_domain_term(term) {
                            0.0
                        } else {
                            partial_credit(term, wording)
                        })
                    };
                    weight * credit
                })
                .sum();
            best = best.max(held / total);
        }
        best
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
    fn closeness(&self, normalized: &str, weights: &[(String, f32)], prepared: &Prepared) -> f32 {
        let total: f32 = weights.iter().map(|(_, w)| w).sum();
        if total <= 0.0 {
            return 0.0;
        }
        let mut best: f32 = 0.0;
        for wording in &prepared.wordings {
            let held: f32 = weights
                .iter()
                .filter(|(term, _)| {
                    wording.contains(term.as_str())
                        || self
                            .analyzer
                            .synonyms_of(term)
                            .iter()
                            .any(|s| wording.contains(s.as_str()))
                })
                .map(|(_, w)| w)
                .sum::<f32>()
                / total;
            if held <= best {
                continue;
            }
            let wording_words = self.analyzer.content_words(wording);
            if wording_words.is_empty() {
                continue;
            }
            let present = wording_words
                .iter()
                .filter(|w| {
                    normalized.contains(w.as_str())
                        || self
                            .analyzer
                            .synonyms_of(w)
                            .iter()
                            .any(|s| normalized.contains(s.as_str()))
                })
                .count() as f32
                / wording_words.len() as f32;
            if held + present > 0.0 {
                best = best.max(2.0 * held * present / (held + present));
            }
        }
        best
    }
}

/// Credit for a word of three or more characters that a text holds only in
/// part: 0.7 times the share of its character pairs found there.
fn partial_credit(term: &str, text: &str) -> f32 {
    let chars: Vec<char> = term.chars().collect();
    if chars.len() < 3 {
        return 0.0;
    }
    let mut pair = String::new();
    let found = chars
        .windows(2)
        .filter(|p| {
            pair.clear();
            pair.extend(p.iter());
            text.contains(pair.as_str())
        })
        .count();
    0.7 * found as f32 / (chars.len() - 1) as f32
}
