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

use crate::analysis::Analyzer;
use crate::index::{IndexError, SearchIndex, entry_key};
use crate::knowledge::{CATEGORIES, EmergencyCard, Entry, Knowledge};
use crate::reply::{Outcome, Reply};
use crate::text::{MAX_QUESTION_CHARS, normalize, truncate_chars};
use crate::triage::Triage;

/// The thresholds of the decision. Coverage is the weighted share of the
/// question's content words that a candidate entry speaks about (0..1);
/// `score` blends coverage, closeness to one wording and relative BM25.
#[derive(Debug, Clone, Copy)]
pub struct DecisionConfig {
    /// Answer only when the best candidate covers at least this much…
    pub answer_coverage: f32,
    /// …and its score beats the runner-up by this margin, or its coverage
    /// reaches `sure_coverage`.
    pub answer_margin: f32,
    pub sure_coverage: f32,
    /// Below `answer_coverage` but at least this: offer the top three.
    pub suggest_coverage: f32,
    /// Related questions shown under an answer need at least this coverage.
    pub related_coverage: f32,
    /// How many wordings the index returns before merging by entry.
    pub candidate_wordings: usize,
}

impl Default for DecisionConfig {
    fn default() -> Self {
        DecisionConfig {
            answer_coverage: 0.62,
            answer_margin: 0.02,
            sure_coverage: 0.8,
            suggest_coverage: 0.42,
            related_coverage: 0.3,
            candidate_wordings: 60,
        }
    }
}

/// An entry with its text prepared for coverage checks.
struct Prepared {
    entry: Arc<Entry>,
    /// Normalised wordings (question and alternates) and keywords.
    wordings: Vec<String>,
    /// All wordings and keywords in one string.
    wording_text: String,
    answer_text: String,
}

impl Prepared {
    fn new(entry: Entry) -> Prepared {
        let mut wordings: Vec<String> = entry.wordings().map(normalize).collect();
        wordings.extend(entry.keywords.iter().map(|k| normalize(k)));
        let wording_text = wordings.join("|");
        let answer_text = normalize(&entry.answer);
        Prepared {
            entry: Arc::new(entry),
            wordings,
            wording_text,
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
    score: f32,
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

    /// With an emergency card and no answer of its own, the reply shows the
    /// card's entry, if it names one.
    fn attach_card_entry(&self, reply: &mut Reply) {
        if reply.outcome == Outcome::Answer {
            return;
        }
        let Some(card) = &reply.urgent else { return };
        if let Some(entry) = card.entry.as_deref().and_then(|id| self.entry(id)) {
            reply.related.retain(|r| r.id != entry.id);
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
        let runner_up = candidates.get(1).map(|c| c.score).unwrap_or(0.0);
        let clear =
            best.score - runner_up >= config.answer_margin || best.coverage >= config.sure_coverage;
        if best.coverage >= config.answer_coverage && clear {
            reply.outcome = Outcome::Answer;
            reply.entry = Some(best.prepared.entry.clone());
            reply.related = candidates[1..]
                .iter()
                .filter(|c| c.coverage >= config.related_coverage)
                .take(3)
                .map(|c| c.prepared.entry.clone())
                .collect();
        } else if best.coverage >= config.suggest_coverage {
            reply.outcome = Outcome::Suggest;
            reply.entry = Some(best.prepared.entry.clone());
            reply.related = candidates[1..]
                .iter()
                .filter(|c| c.coverage >= config.related_coverage)
                .take(2)
                .map(|c| c.prepared.entry.clone())
                .collect();
        }
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

        let weights: Vec<(String, f32)> = self.term_weights(words);
        let total: f32 = weights.iter().map(|(_, w)| w).sum();
        let mut candidates: Vec<Candidate> = by_entry
            .into_iter()
            .map(|(prepared, bm25)| {
                let coverage = if total > 0.0 {
                    weights
                        .iter()
                        .map(|(term, weight)| weight * self.credit(term, &prepared))
                        .sum::<f32>()
                        / total
                } else {
                    0.0
                };
                let closeness = self.closeness(normalized, &weights, &prepared);
                let bm25_rel = bm25 / top_bm25;
                let score = 0.5 * coverage + 0.3 * closeness + 0.2 * bm25_rel;
                Candidate {
                    prepared,
                    bm25,
                    coverage,
                    score,
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
        let mut weights: Vec<(String, f32)> = Vec::new();
        for word in words {
            if weights.iter().any(|(w, _)| w == word) {
                continue;
            }
            let (mut df, docs) = self.index.word_frequency(word);
            for synonym in self.analyzer.synonyms_of(word) {
                df = df.max(self.index.word_frequency(synonym).0);
            }
            let docs = docs.max(1) as f32;
            let idf = (1.0 + docs / (df as f32 + 1.0)).ln();
            let length_factor = if word.chars().count() == 1 { 0.5 } else { 1.0 };
            weights.push((word.clone(), idf * length_factor));
        }
        weights
    }

    /// How far an entry speaks about a query word: 1 when a wording or
    /// keyword contains it (or a synonym), 0.6 when only the answer does,
    /// partial when a longer word is only partly there (a typo: 灭火气).
    fn credit(&self, term: &str, prepared: &Prepared) -> f32 {
        let contains = |text: &str| {
            text.contains(term)
                || self
                    .analyzer
                    .synonyms_of(term)
                    .iter()
                    .any(|s| text.contains(s.as_str()))
        };
        if contains(&prepared.wording_text) {
            return 1.0;
        }
        if contains(&prepared.answer_text) {
            return 0.6;
        }
        let chars: Vec<char> = term.chars().collect();
        if chars.len() >= 3 {
            let pairs: Vec<String> = chars.windows(2).map(|p| p.iter().collect()).collect();
            let found = pairs
                .iter()
                .filter(|p| prepared.wording_text.contains(p.as_str()))
                .count();
            return 0.7 * found as f32 / pairs.len() as f32;
        }
        0.0
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
