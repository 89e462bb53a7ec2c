//! The tantivy index: one document per question wording, searched with a
//! boolean OR of term queries built from analyzed text.
//!
//! Documents carry the analysed words and bigrams (see `analysis`) joined by
//! spaces — terms never hold white space, so tantivy's whitespace tokenizer
//! gives back exactly the analysed terms — the entry id (for deletion) and a
//! numeric key (a fast field, to map hits back to entries without touching
//! the doc store). Queries are built from terms directly, never parsed. The index is derived data: it
//! lives under the data directory with the fingerprint of the knowledge it
//! was built from, and is rebuilt whenever that fingerprint changes.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tantivy::collector::TopDocs;
use tantivy::indexer::NoMergePolicy;
use tantivy::query::{BooleanQuery, Occur, Query, TermQuery};
use tantivy::schema::{
    FAST, Field, IndexRecordOption, STRING, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

use crate::analysis::Analyzer;
use crate::knowledge::{Entry, Knowledge};
use crate::text::normalize;

/// Changes whenever the schema or the analysis changes, so that an index
/// built by an older binary is rebuilt rather than misread.
pub const INDEX_FORMAT: &str = "safety-bot-index-4";
const FINGERPRINT_FILE: &str = "FINGERPRINT";
/// A full build: one indexing thread (see `add_all`) with room for a 10k
/// corpus in one segment; larger corpora flush several and merge them.
const BUILD_BUDGET_BYTES: usize = 64_000_000;
/// Edits touch a handful of documents: tantivy's minimum budget (15 MB) and
/// one thread, since the writer, once created, stays resident for as long as
/// the engine lives.
const EDIT_BUDGET_BYTES: usize = 15_000_000;
/// Entries analysed per batch during a build; each batch is split between
/// the available cores and its documents are added in corpus order.
const BUILD_BATCH_ENTRIES: usize = 512;

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("索引出错：{0}")]
    Tantivy(#[from] tantivy::TantivyError),
    #[error("索引目录读写失败：{0}")]
    Io(#[from] std::io::Error),
    #[error("索引目录出错：{0}")]
    OpenDirectory(#[from] tantivy::directory::error::OpenDirectoryError),
}

#[derive(Clone, Copy)]
struct Fields {
    id: Field,
    key: Field,
    words: Field,
    grams: Field,
}

fn schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let text = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            // Not pre-tokenised text: tantivy ships that to its indexing
            // thread as JSON and parses it back, a tenth of a build's time.
            .set_tokenizer("whitespace")
            .set_index_option(IndexRecordOption::WithFreqs),
    );
    let fields = Fields {
        id: builder.add_text_field("id", STRING),
        key: builder.add_u64_field("key", FAST),
        words: builder.add_text_field("words", text.clone()),
        grams: builder.add_text_field("grams", text),
    };
    (builder.build(), fields)
}

/// A hit: which entry, and how well one of its wordings matched.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    pub key: u64,
    pub score: f32,
}

/// The stable numeric key of an entry id (FNV-1a).
pub fn entry_key(id: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in id.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

pub struct SearchIndex {
    index: Index,
    reader: IndexReader,
    fields: Fields,
    /// Created on the first edit: a writer reserves its memory budget and
    /// holds the index lock, which a read-only `ask` never needs.
    writer: Mutex<Option<IndexWriter>>,
}

impl SearchIndex {
    /// Opens the index under `data_dir/index` if it was built from exactly
    /// this knowledge; otherwise builds it afresh (in a temporary directory
    /// that replaces the old one only when complete). Returns the index and
    /// whether it was rebuilt.
    pub fn open_or_build(
        data_dir: &Path,
        knowledge: &Knowledge,
        analyzer: &Analyzer,
    ) -> Result<(SearchIndex, bool), IndexError> {
        let path = data_dir.join("index");
        let fingerprint = knowledge.fingerprint();
        let current = std::fs::read_to_string(path.join(FINGERPRINT_FILE)).unwrap_or_default();
        if current.trim() == fingerprint
            && let Ok(index) = Index::open_in_dir(&path)
            && let Ok(opened) = SearchIndex::from_index(index)
        {
            return Ok((opened, false));
        }
        std::fs::create_dir_all(data_dir)?;
        let staging = data_dir.join(format!("index.building-{}", std::process::id()));
        if staging.exists() {
            std::fs::remove_dir_all(&staging)?;
        }
        std::fs::create_dir_all(&staging)?;
        {
            let (schema, _) = schema();
            let index = Index::create_in_dir(&staging, schema)?;
            let built = SearchIndex::from_index(index)?;
            built.add_all(&knowledge.entries, analyzer)?;
        }
        std::fs::write(staging.join(FINGERPRINT_FILE), &fingerprint)?;
        replace_dir(&staging, &path)?;
        let index = Index::open_in_dir(&path)?;
        Ok((SearchIndex::from_index(index)?, true))
    }

    /// Records that the index under `data_dir/index` now holds exactly the
    /// knowledge with this fingerprint, after live changes were applied to
    /// it, so that the next start opens it instead of rebuilding. Written
    /// aside and renamed: a crash leaves the old fingerprint, which only
    /// costs a rebuild.
    pub fn record_fingerprint(data_dir: &Path, fingerprint: &str) -> std::io::Result<()> {
        let path = data_dir.join("index");
        let staging = path.join(format!("{FINGERPRINT_FILE}.{}", std::process::id()));
        std::fs::write(&staging, fingerprint)?;
        std::fs::rename(&staging, path.join(FINGERPRINT_FILE))
    }

    /// Forgets which knowledge the index under `data_dir` was built from,
    /// so that the next open rebuilds it (`safety-bot reindex`).
    pub fn forget_fingerprint(data_dir: &Path) -> std::io::Result<()> {
        match std::fs::remove_file(data_dir.join("index").join(FINGERPRINT_FILE)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Builds an index in memory (tests and benchmarks).
    pub fn build_in_ram(entries: &[Entry], analyzer: &Analyzer) -> Result<SearchIndex, IndexError> {
        let (schema, _) = schema();
        let built = SearchIndex::from_index(Index::create_in_ram(schema))?;
        built.add_all(entries, analyzer)?;
        Ok(built)
    }

    fn from_index(index: Index) -> Result<SearchIndex, IndexError> {
        let (_, fields) = schema();
        let schema = index.schema();
        let fields = Fields {
            id: schema.get_field("id").unwrap_or(fields.id),
            key: schema.get_field("key").unwrap_or(fields.key),
            words: schema.get_field("words").unwrap_or(fields.words),
            grams: schema.get_field("grams").unwrap_or(fields.grams),
        };
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(SearchIndex {
            index,
            reader,
            fields,
            writer: Mutex::new(None),
        })
    }

    /// Indexes every entry into an empty index: one segment, in corpus order.
    ///
    /// Documents go through a single indexing thread and end in one merged
    /// segment, so every build of the same knowledge gives the same index
    /// and equal scores always come back in the same (corpus) order. With
    /// tantivy's default of one indexing thread per core the documents were
    /// split between segments at random: at 10k grown entries, two builds of
    /// the same corpus answered 142 of 300 questions with a different entry
    /// or different related questions among equally scored near-duplicates.
    /// One segment is also cheaper to search (20% fewer instructions per
    /// query at 10k). Analysis (jieba) is the expensive half of a build, so
    /// it is the part spread over the cores.
    fn add_all(&self, entries: &[Entry], analyzer: &Analyzer) -> Result<(), IndexError> {
        let mut writer: IndexWriter = self.index.writer_with_num_threads(1, BUILD_BUDGET_BYTES)?;
        writer.set_merge_policy(Box::new(NoMergePolicy));
        for batch in entries.chunks(BUILD_BATCH_ENTRIES) {
            let analysed = crate::par::map(batch.iter().collect(), |entry: &Entry| {
                self.documents(entry, analyzer)
            });
            for docs in analysed {
                for doc in docs {
                    writer.add_document(doc)?;
                }
            }
        }
        writer.commit()?;
        let segments = self.index.searchable_segment_ids()?;
        if segments.len() > 1 {
            writer.merge(&segments).wait()?;
        }
        writer.wait_merging_threads()?;
        self.reader.reload()?;
        Ok(())
    }

    fn writer(&self) -> Result<std::sync::MutexGuard<'_, Option<IndexWriter>>, IndexError> {
        // A poisoned lock only means another edit panicked; the writer is
        // still usable, tantivy rolls back uncommitted work.
        let mut guard = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_none() {
            *guard = Some(self.index.writer_with_num_threads(1, EDIT_BUDGET_BYTES)?);
        }
        Ok(guard)
    }

    /// Replaces (or adds) one entry's documents and makes the change
    /// searchable before returning.
    pub fn upsert(&self, entry: &Entry, analyzer: &Analyzer) -> Result<(), IndexError> {
        self.apply(&[], std::slice::from_ref(entry), analyzer)
    }

    /// Removes an entry's documents and makes the removal visible.
    pub fn delete(&self, id: &str) -> Result<(), IndexError> {
        let mut guard = self.writer()?;
        let writer = guard.as_mut().expect("writer was just created");
        writer.delete_term(Term::from_field_text(self.fields.id, id));
        writer.commit()?;
        drop(guard);
        self.reader.reload()?;
        Ok(())
    }

    /// Deletes `removed` ids and upserts `changed` entries in one commit.
    pub fn apply(
        &self,
        removed: &[String],
        changed: &[Entry],
        analyzer: &Analyzer,
    ) -> Result<(), IndexError> {
        let mut guard = self.writer()?;
        let writer = guard.as_mut().expect("writer was just created");
        for id in removed {
            writer.delete_term(Term::from_field_text(self.fields.id, id));
        }
        for entry in changed {
            writer.delete_term(Term::from_field_text(self.fields.id, &entry.id));
            for doc in self.documents(entry, analyzer) {
                writer.add_document(doc)?;
            }
        }
        writer.commit()?;
        drop(guard);
        self.reader.reload()?;
        Ok(())
    }

    /// The documents of one entry: its question, each alternate, and its
    /// keywords together.
    fn documents(&self, entry: &Entry, analyzer: &Analyzer) -> Vec<TantivyDocument> {
        let key = entry_key(&entry.id);
        let keywords = entry.keywords.join(" ");
        let mut seen = HashSet::new();
        entry
            .wordings()
            .chain(std::iter::once(keywords.as_str()))
            .filter(|w| !w.trim().is_empty())
            .filter_map(|wording| {
                let normalized = normalize(wording);
                if !seen.insert(normalized.clone()) {
                    return None;
                }
                let analysis = analyzer.analyze_document(&normalized);
                let mut doc = TantivyDocument::default();
                doc.add_text(self.fields.id, &entry.id);
                doc.add_u64(self.fields.key, key);
                doc.add_text(self.fields.words, analysis.words.join(" "));
                doc.add_text(self.fields.grams, analysis.grams.join(" "));
                Some(doc)
            })
            .collect()
    }

    /// The best `limit` wordings for these terms, as entry keys with scores
    /// (one entry may appear several times).
    pub fn search(
        &self,
        words: &[String],
        grams: &[String],
        limit: usize,
    ) -> Result<Vec<Hit>, IndexError> {
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let mut seen = HashSet::new();
        for (field, terms) in [(self.fields.words, words), (self.fields.grams, grams)] {
            for term in terms {
                if seen.insert((field, term.as_str())) {
                    clauses.push((
                        Occur::Should,
                        Box::new(TermQuery::new(
                            Term::from_field_text(field, term),
                            IndexRecordOption::WithFreqs,
                        )),
                    ));
                }
            }
        }
        if clauses.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let query = BooleanQuery::new(clauses);
        let searcher = self.reader.searcher();
        let top = searcher.search(&query, &TopDocs::with_limit(limit).order_by_score())?;
        let mut hits = Vec::with_capacity(top.len());
        // Opening a column costs about as much as scoring a few documents:
        // open each segment's once per search, not once per hit.
        let mut columns: Vec<Option<tantivy::columnar::Column<u64>>> =
            vec![None; searcher.segment_readers().len()];
        for (score, address) in top {
            let slot = &mut columns[address.segment_ord as usize];
            if slot.is_none() {
                *slot = Some(
                    searcher
                        .segment_reader(address.segment_ord)
                        .fast_fields()
                        .u64("key")?,
                );
            }
            if let Some(key) = slot.as_ref().and_then(|c| c.first(address.doc_id)) {
                hits.push(Hit { key, score });
            }
        }
        Ok(hits)
    }

    /// In how many wordings a word occurs, and how many wordings there are.
    pub fn word_frequency(&self, word: &str) -> (u64, u64) {
        let searcher = self.reader.searcher();
        let df = searcher
            .doc_freq(&Term::from_field_text(self.fields.words, word))
            .unwrap_or(0);
        (df, searcher.num_docs())
    }

    /// Bytes the index takes on disk (0 in memory).
    pub fn size_on_disk(dir: &Path) -> u64 {
        fn walk(path: &Path) -> u64 {
            let Ok(listing) = std::fs::read_dir(path) else {
                return 0;
            };
            listing
                .filter_map(Result::ok)
                .map(|item| match item.metadata() {
                    Ok(meta) if meta.is_dir() => walk(&item.path()),
                    Ok(meta) => meta.len(),
                    Err(_) => 0,
                })
                .sum()
        }
        walk(&dir.join("index"))
    }
}

/// Moves a finished `staging` directory into place at `target`.
fn replace_dir(staging: &Path, target: &Path) -> std::io::Result<()> {
    let old: PathBuf = target.with_extension(format!("old-{}", std::process::id()));
    if target.exists() {
        std::fs::rename(target, &old)?;
    }
    std::fs::rename(staging, target)?;
    if old.exists() {
        let _ = std::fs::remove_dir_all(&old);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(count: usize) -> Vec<Entry> {
        (0..count)
            .map(|n| Entry {
                id: format!("entry-{n}"),
                category: "燃气安全".into(),
                // Every question holds the same words once, so scores tie.
                question: format!("燃气泄漏怎么办{n}"),
                alternates: vec!["煤气漏了咋整".into(), format!("第{n}个问题")],
                answer: "关闭阀门，开窗通风。".into(),
                keywords: vec!["漏气".into()],
                source: "应急管理部".into(),
                reviewed: String::new(),
            })
            .collect()
    }

    fn segments(index: &SearchIndex) -> usize {
        index.index.searchable_segment_ids().unwrap().len()
    }

    #[test]
    fn a_build_is_one_segment_in_corpus_order_every_time() {
        // With one indexing thread per core, documents were split between
        // segments at random and equal scores came back in a different order
        // from one build to the next.
        let analyzer = Analyzer::new("", &[]);
        let corpus = entries(1500);
        let words = vec!["燃气".to_string(), "泄漏".to_string()];
        let first = SearchIndex::build_in_ram(&corpus, &analyzer).unwrap();
        let second = SearchIndex::build_in_ram(&corpus, &analyzer).unwrap();
        assert_eq!(segments(&first), 1);
        assert_eq!(segments(&second), 1);
        let hits = first.search(&words, &[], 60).unwrap();
        assert_eq!(hits.len(), 60);
        assert_eq!(hits, second.search(&words, &[], 60).unwrap());
        // Ties come back in corpus order.
        let top: Vec<u64> = hits.iter().take(3).map(|h| h.key).collect();
        let expected: Vec<u64> = ["entry-0", "entry-1", "entry-2"]
            .iter()
            .map(|id| entry_key(id))
            .collect();
        assert_eq!(top, expected);
    }

    #[test]
    fn indexed_terms_are_exactly_the_analysed_terms() {
        // Documents hold the terms joined by spaces and tantivy splits them
        // on white space: that is only the identity if no term holds any.
        let analyzer = Analyzer::new("", &[]);
        let wordings = [
            "CPR 步骤\t和 AED\u{3000}怎么用",
            "84消毒液 + 洁厕灵 = 氯气？",
            "ｅｂｉｋｅ　电动车 🔥 充电",
            "line\nbreak\r\nand\u{a0}nbsp 燃气",
        ];
        for wording in wordings {
            let analysis = analyzer.analyze_document(&normalize(wording));
            for term in analysis.words.iter().chain(&analysis.grams) {
                assert!(
                    !term.is_empty() && !term.chars().any(|c| c.is_whitespace()),
                    "{wording:?} gave the term {term:?}"
                );
            }
            let mut entry = entries(1).remove(0);
            entry.question = wording.to_string();
            entry.alternates.clear();
            entry.keywords.clear();
            let index = SearchIndex::build_in_ram(&[entry], &analyzer).unwrap();
            for term in &analysis.words {
                let hits = index.search(std::slice::from_ref(term), &[], 1).unwrap();
                assert_eq!(hits.len(), 1, "{wording:?}: word {term:?} not found");
            }
            for term in &analysis.grams {
                let hits = index.search(&[], std::slice::from_ref(term), 1).unwrap();
                assert_eq!(hits.len(), 1, "{wording:?}: bigram {term:?} not found");
            }
        }
    }

    #[test]
    fn an_edit_is_searchable_on_return() {
        let analyzer = Analyzer::new("", &[]);
        let index = SearchIndex::build_in_ram(&entries(20), &analyzer).unwrap();
        let mut edited = entries(1).remove(0);
        edited.alternates.push("蓝鲸七号演练口令".into());
        index.upsert(&edited, &analyzer).unwrap();
        let hits = index.search(&["蓝鲸".to_string()], &[], 5).unwrap();
        assert_eq!(hits.first().map(|h| h.key), Some(entry_key("entry-0")));
        index.delete("entry-0").unwrap();
        assert!(
            index
                .search(&["蓝鲸".to_string()], &[], 5)
                .unwrap()
                .is_empty()
        );
    }
}
