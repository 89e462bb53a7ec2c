//! The staff workflow as plain operations that any front end calls: import
//! files, save, delete and restore entries, add a wording to an entry,
//! adopt a shipped update, export, publish the consultation-day notice, and
//! pick up changes another process made.
//!
//! Every change goes the same way: validate, commit to the store in one
//! transaction, then apply it to the live engine (which commits the index
//! and reloads its reader), so it is searchable when the call returns,
//! without a restart, while other threads keep answering. The store is the
//! record; the index only follows it. Each change is serialised behind one
//! lock, so the index sees changes in the order the store committed them.
//!
//! No Telegram and no terminal here: the command line (`cli`) and the bot
//! render the reports this module returns, and pass in who acts.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use crate::analysis::Analyzer;
use crate::engine::{Engine, EngineError};
use crate::export::{self, ExportError, ExportFormat};
use crate::index::SearchIndex;
use crate::knowledge::{self, Entry, Knowledge, Problem, Strictness};
use crate::sheet::{self, FileError, Sheet};
use crate::store::{
    Batch, Change, EntryState, ImportRecord, Pending, ShippedSync, Store, StoreError, StoredEntry,
};

/// An ASCII stem for generated ids, per category.
const CATEGORY_SLUGS: &[(&str, &str)] = &[
    ("燃气安全", "gas"),
    ("用电安全", "elec"),
    ("电动自行车", "ebike"),
    ("消防与火灾逃生", "fire"),
    ("一氧化碳中毒", "co"),
    ("道路交通", "traffic"),
    ("防溺水", "drown"),
    ("地震", "quake"),
    ("暴雨洪涝与台风", "flood"),
    ("雷电", "thunder"),
    ("高温中暑", "heat"),
    ("山体滑坡与泥石流", "slide"),
    ("急救", "aid"),
    ("企业安全生产主体责任", "ent"),
    ("有限空间作业", "confined"),
    ("危险化学品", "chem"),
    ("烟花爆竹", "fw"),
    ("建筑施工", "build"),
    ("特种设备", "equip"),
    ("家庭与儿童", "home"),
    ("人员密集场所", "crowd"),
    ("户外", "outdoor"),
    ("安全生产月与宣传活动", "campaign"),
    ("应急电话与隐患举报", "hotline"),
    ("家庭应急准备", "prep"),
    ("食品中毒", "food"),
    ("从业人员权利与义务", "rights"),
];

/// The id a new entry gets when none is given: the category's stem and a
/// hash of the question, so the same row imported twice is the same entry.
pub fn generated_id(category: &str, question: &str) -> String {
    let stem = CATEGORY_SLUGS
        .iter()
        .find(|(name, _)| *name == category.trim())
        .map(|(_, slug)| *slug)
        .unwrap_or("entry");
    let mut hasher = Sha256::new();
    hasher.update(category.trim().as_bytes());
    hasher.update(b"\n");
    hasher.update(knowledge::question_key(question).as_bytes());
    format!("{stem}-q{}", hex::encode(&hasher.finalize()[..4]))
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("{0}")]
    Knowledge(Problem),
    #[error("没有任何条目：知识库目录 {0} 和数据库里都是空的")]
    NoEntries(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("无法打开或建立索引（数据目录 {dir}）：{error}")]
    Engine { dir: String, error: EngineError },
}

#[derive(Debug, thiserror::Error)]
pub enum StaffError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("已保存，但更新搜索索引失败（重启或运行 safety-bot reindex 可修复）：{0}")]
    Index(#[from] EngineError),
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("；"))]
    Invalid(Vec<FieldProblem>),
    #[error("{0}")]
    Export(#[from] ExportError),
    #[error("条目 {0} 没有来自知识库文件的待处理更新")]
    NothingPending(String),
}

impl StaffError {
    /// True when the person acting can fix it (a bad entry, a wrong id),
    /// false when something is broken underneath.
    pub fn is_user_error(&self) -> bool {
        match self {
            StaffError::Invalid(_) | StaffError::NothingPending(_) => true,
            StaffError::Store(error) => matches!(
                error,
                StoreError::NoSuchEntry(_)
                    | StoreError::AlreadyDeleted(_)
                    | StoreError::NotDeleted(_)
                    | StoreError::AlreadyImported { .. }
            ),
            StaffError::Index(_) | StaffError::Export(_) => false,
        }
    }
}

/// A problem with one field of an entry being saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldProblem {
    pub field: &'static str,
    pub message: String,
}

impl fmt::Display for FieldProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}：{}", field_name(self.field), self.message)
    }
}

/// The Chinese name of an entry field.
pub fn field_name(field: &str) -> &str {
    sheet::FIELDS
        .iter()
        .find(|(name, _, _)| *name == field)
        .map(|(_, chinese, _)| *chinese)
        .unwrap_or(match field {
            "event" => "活动信息",
            other => other,
        })
}

/// Everything a front end needs, opened together.
pub struct Opened {
    pub engine: Arc<Engine>,
    pub store: Arc<Store>,
    pub staff: Staff,
    /// What loading `knowledge/` into the store did.
    pub shipped: ShippedSync,
    /// How many problems `knowledge/` has (`safety-bot check` lists
    /// them); not fatal.
    pub problems: usize,
    pub index_rebuilt: bool,
}

/// Opens the store under `data_dir`, brings it in line with the shipped
/// `knowledge_dir` (cheap when the files did not change) and opens the
/// engine on the store's active entries; the index under `data_dir` is
/// rebuilt when it does not match them.
pub fn open(knowledge_dir: Option<&Path>, data_dir: &Path) -> Result<Opened, OpenError> {
    // jieba's dictionary loads on a second core while the knowledge is read.
    let dictionary = std::thread::spawn(Analyzer::base_dictionary);
    let files = knowledge::read_shipped(knowledge_dir).map_err(OpenError::Knowledge)?;
    let files_fingerprint = knowledge::sources_fingerprint(&files);
    let store = Store::open(data_dir)?;
    // The engine answers from the store's entries. When the shipped files
    // are exactly those the store was last brought in line with, their
    // entries need not be parsed, checked and compared again — at 10,000
    // entries that was two thirds of a start-up. The key pairs the files
    // with the store's own record of the shipped entries, so a sync made
    // meanwhile from other files (the command line) is never skipped over.
    let files_key = |store: &Store| -> Result<String, StoreError> {
        Ok(format!(
            "{files_fingerprint} {}",
            store.shipped_fingerprint()?.unwrap_or_default()
        ))
    };
    let unchanged = store.meta(SHIPPED_FILES_KEY)? == Some(files_key(&store)?);
    let (knowledge, problem_count) = if unchanged {
        let (knowledge, _) = knowledge::load_sources_with(&files, knowledge::Topics::Skip);
        let count = store
            .meta(SHIPPED_PROBLEMS_KEY)?
            .and_then(|count| count.parse().ok())
            .unwrap_or(0);
        (knowledge, count)
    } else {
        let (knowledge, problems) = knowledge::load_sources(&files);
        (knowledge, problems.len())
    };
    // The files' text (15 MB at 10,000 entries) is not needed any more.
    drop(files);
    let step = if unchanged {
        ShippedStep::Skip
    } else {
        ShippedStep::Sync
    };
    let mut opened = assemble_with(knowledge, store, Some(data_dir), Some(dictionary), step)?;
    if opened.engine.entry_count() == 0 {
        return Err(OpenError::NoEntries(knowledge::shipped_place(
            knowledge_dir,
        )));
    }
    if !unchanged {
        // Only once the store holds these files' entries.
        opened
            .store
            .set_meta(SHIPPED_PROBLEMS_KEY, &problem_count.to_string())?;
        let key = files_key(&opened.store)?;
        opened.store.set_meta(SHIPPED_FILES_KEY, &key)?;
    }
    opened.problems = problem_count;
    Ok(opened)
}

/// The store's `meta` keys for the shipped files it was last brought in
/// line with, and how many problems they had.
const SHIPPED_FILES_KEY: &str = "shipped_files_fingerprint";
const SHIPPED_PROBLEMS_KEY: &str = "shipped_files_problems";

/// Whether [`assemble_with`] brings the store in line with the knowledge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ShippedStep {
    Sync,
    /// The knowledge holds no entries: the store already has them.
    Skip,
}

/// Like [`open`], from knowledge already loaded, a store already open and,
/// when `data_dir` is `None`, an index in memory (tests and benchmarks).
pub fn assemble(
    knowledge: Knowledge,
    store: Store,
    data_dir: Option<&Path>,
) -> Result<Opened, OpenError> {
    assemble_with(knowledge, store, data_dir, None, ShippedStep::Sync)
}

fn assemble_with(
    mut knowledge: Knowledge,
    store: Store,
    data_dir: Option<&Path>,
    dictionary: Option<std::thread::JoinHandle<jieba_rs::Jieba>>,
    step: ShippedStep,
) -> Result<Opened, OpenError> {
    let shipped = match step {
        ShippedStep::Sync => store.sync_shipped(&knowledge.entries)?,
        ShippedStep::Skip => ShippedSync {
            skipped: true,
            ..ShippedSync::default()
        },
    };
    let (entries, mark) = store.active_entries_with_mark()?;
    knowledge.entries = entries;
    let synonyms = knowledge.synonyms.clone();
    let user_dict = knowledge.user_dict.clone();
    let engine_error = |error| OpenError::Engine {
        dir: data_dir
            .map(|d| d.display().to_string())
            .unwrap_or_else(|| "内存".to_string()),
        error,
    };
    let (engine, index_rebuilt) = match data_dir {
        Some(dir) => Engine::open_with_dictionary(
            knowledge,
            dir,
            // Joined only now: the store's entries were read meanwhile.
            match dictionary {
                Some(loading) => loading
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                None => Analyzer::base_dictionary(),
            },
        )
        .map_err(engine_error)?,
        None => (Engine::in_memory(knowledge).map_err(engine_error)?, true),
    };
    let engine = Arc::new(engine);
    let store = Arc::new(store);
    let staff = Staff {
        store: store.clone(),
        engine: Some(engine.clone()),
        synonyms,
        user_dict,
        data_dir: data_dir.map(Path::to_path_buf),
        mark: Mutex::new(mark),
    };
    Ok(Opened {
        engine,
        store,
        staff,
        shipped,
        problems: 0,
        index_rebuilt,
    })
}

/// Opens the store alone, for changes made from the command line while the
/// bot may be running: the store is brought in line with `knowledge_dir`
/// and changed, the index is not touched (the running bot picks changes up
/// with [`Staff::refresh`]; otherwise the next start rebuilds the index,
/// whose fingerprint no longer matches). This also spares loading the
/// dictionary and the index for a command that does not search.
pub fn open_store(knowledge_dir: Option<&Path>, data_dir: &Path) -> Result<StoreOnly, OpenError> {
    let (knowledge, problems) =
        knowledge::load_shipped(knowledge_dir).map_err(OpenError::Knowledge)?;
    let mut opened = store_only(knowledge, Store::open(data_dir)?)?;
    opened.problems = problems;
    Ok(opened)
}

/// Like [`open_store`], from knowledge already loaded and a store already
/// open (tests).
pub fn store_only(knowledge: Knowledge, store: Store) -> Result<StoreOnly, OpenError> {
    let shipped = store.sync_shipped(&knowledge.entries)?;
    let mark = store.revision_mark()?;
    Ok(StoreOnly {
        staff: Staff {
            store: Arc::new(store),
            engine: None,
            synonyms: knowledge.synonyms,
            user_dict: knowledge.user_dict,
            data_dir: None,
            mark: Mutex::new(mark),
        },
        shipped,
        problems: Vec::new(),
    })
}

/// What [`open_store`] opens.
pub struct StoreOnly {
    pub staff: Staff,
    pub shipped: ShippedSync,
    pub problems: Vec<Problem>,
}

/// The staff operations over one store and, in a front end that answers,
/// the live engine.
pub struct Staff {
    store: Arc<Store>,
    /// `None` when only the store is open (see [`open_store`]).
    engine: Option<Arc<Engine>>,
    /// With the store's entries, these make the knowledge the index holds.
    synonyms: Vec<Vec<String>>,
    user_dict: String,
    /// Where the index lives on disk (`None`: in memory).
    data_dir: Option<PathBuf>,
    /// The store's revision mark that the engine reflects. The lock also
    /// serialises changes: store commit and index apply happen in one order.
    mark: Mutex<i64>,
}

/// One file to import: its name (for the format and for messages) and its bytes.
#[derive(Debug, Clone)]
pub struct ImportFile {
    pub name: String,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Import the valid rows even when others are invalid.
    pub skip_invalid: bool,
    /// Check only; write nothing.
    pub dry_run: bool,
    /// Refuse a second import with this key (Telegram's `file_unique_id`).
    pub dedupe_key: Option<String>,
    pub actor: String,
}

/// Where a long import is, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Reading,
    Checking,
    Writing,
    Indexing,
}

/// A problem with one row of an imported file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub file: String,
    /// "第 5 行".
    pub place: String,
    /// The column as the file names it, if the problem is in one column.
    pub column: Option<String>,
    pub message: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.file, self.place)?;
        if let Some(column) = &self.column {
            write!(f, "“{column}”列")?;
        }
        write!(f, "：{}", self.message)
    }
}

/// What an import did, or would do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub files: Vec<String>,
    pub added: usize,
    pub updated: usize,
    pub restored: usize,
    pub unchanged: usize,
    pub rejected: usize,
    /// Every problem found, row by row.
    pub errors: Vec<RowError>,
    /// Files that could not be read at all, with the reason.
    pub refused: Vec<(String, FileError)>,
    /// Columns ignored because their names are unknown, per file.
    pub ignored_columns: Vec<(String, Vec<String>)>,
    /// Whether anything was written (false after errors without
    /// `--skip-invalid`, or on a dry run).
    pub written: bool,
    pub dry_run: bool,
}

impl ImportReport {
    /// True when every file was read and every row was valid.
    pub fn is_clean(&self) -> bool {
        self.errors.is_empty() && self.refused.is_empty()
    }

    /// The one-line summary.
    pub fn summary(&self) -> String {
        let rows = self.added + self.updated + self.restored + self.unchanged + self.rejected;
        if rows == 0 && self.refused.is_empty() {
            return "文件里没有任何问答行（只有表头？），没有导入任何内容。".to_string();
        }
        let counts = format!(
            "新增 {} 条，更新 {} 条{}，未变 {} 条，拒绝 {} 条",
            self.added,
            self.updated,
            if self.restored > 0 {
                format!("，恢复 {} 条", self.restored)
            } else {
                String::new()
            },
            self.unchanged,
            self.rejected
        );
        if self.dry_run {
            format!("检查完毕（未写入）：若导入将{counts}。")
        } else if self.written {
            format!("导入完成：{counts}。")
        } else {
            let problems = self.errors.len() + self.refused.len();
            format!(
                "没有导入任何内容：发现 {problems} 处问题，请改正后重新导入（或加 --skip-invalid 只导入合格的行）。若导入将{counts}。"
            )
        }
    }

    /// The summary and the problems, at most `max_errors` of them listed.
    pub fn text(&self, max_errors: usize) -> String {
        let mut out = self.summary();
        for (file, error) in &self.refused {
            out.push_str(&format!("\n{file}：{error}"));
        }
        for error in self.errors.iter().take(max_errors) {
            out.push_str(&format!("\n{error}"));
        }
        if self.errors.len() > max_errors {
            out.push_str(&format!(
                "\n……另有 {} 处问题未列出",
                self.errors.len() - max_errors
            ));
        }
        for (file, columns) in &self.ignored_columns {
            out.push_str(&format!(
                "\n提示：{file} 中的列“{}”不认识，已忽略",
                columns.join("”“")
            ));
        }
        out
    }
}

/// A row on its way into the store.
struct Planned {
    file: usize,
    number: usize,
    entry: Entry,
    errors: Vec<RowError>,
}

impl Staff {
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The live engine, when one is open.
    pub fn engine(&self) -> Option<&Arc<Engine>> {
        self.engine.as_ref()
    }

    /// Imports files: reads and checks them all, then writes every row (or,
    /// with `skip_invalid`, every valid row) in one transaction, then makes
    /// the changes searchable. Problems in the files are reported, not
    /// returned as errors.
    pub fn import(
        &self,
        files: Vec<ImportFile>,
        options: &ImportOptions,
        progress: &mut dyn FnMut(Stage, usize, usize),
    ) -> Result<ImportReport, StaffError> {
        let mut report = ImportReport {
            files: files.iter().map(|f| f.name.clone()).collect(),
            dry_run: options.dry_run,
            ..ImportReport::default()
        };
        if let Some(key) = &options.dedupe_key
            && let Some(at) = self.store.imported_at(key)?
        {
            return Err(StaffError::Store(StoreError::AlreadyImported { at }));
        }
        let total_files = files.len();
        let mut sheets: Vec<(String, Sheet)> = Vec::new();
        for (n, file) in files.into_iter().enumerate() {
            progress(Stage::Reading, n, total_files);
            match sheet::read(&file.name, &file.bytes) {
                Ok(sheet) => {
                    if !sheet.ignored_columns.is_empty() {
                        report
                            .ignored_columns
                            .push((file.name.clone(), sheet.ignored_columns.clone()));
                    }
                    sheets.push((file.name, sheet));
                }
                Err(error) => report.refused.push((file.name, error)),
            }
        }
        progress(Stage::Reading, total_files, total_files);

        let mut planned = self.check(&sheets, progress)?;
        let mut changes = Vec::new();
        let existing: HashMap<String, StoredEntry> = self
            .store
            .all_entries()?
            .into_iter()
            .map(|s| (s.entry.id.clone(), s))
            .collect();
        for row in &mut planned {
            if !row.errors.is_empty() {
                report.rejected += 1;
                report.errors.append(&mut row.errors);
                continue;
            }
            match existing.get(&row.entry.id) {
                None => report.added += 1,
                Some(stored) if stored.state != EntryState::Active => report.restored += 1,
                Some(stored) if stored.entry == row.entry => {
                    report.unchanged += 1;
                    continue;
                }
                Some(_) => report.updated += 1,
            }
            changes.push(Change::Upsert(row.entry.clone()));
        }
        if options.dry_run || (!report.is_clean() && !options.skip_invalid) {
            return Ok(report);
        }
        let summary = serde_json::json!({
            "added": report.added,
            "updated": report.updated,
            "restored": report.restored,
            "unchanged": report.unchanged,
            "rejected": report.rejected,
        });
        let batch = Batch {
            actor: options.actor.clone(),
            note: format!("导入 {}", report.files.join("、")),
            changes,
            import: Some(ImportRecord {
                dedupe_key: options.dedupe_key.clone(),
                files: report.files.join("\n"),
                summary: summary.to_string(),
            }),
        };
        self.commit(&batch, progress)?;
        report.written = true;
        Ok(report)
    }

    /// Gives ids to rows without one and finds every problem: in the cells,
    /// in the entry, against other rows and against the stored entries.
    fn check(
        &self,
        sheets: &[(String, Sheet)],
        progress: &mut dyn FnMut(Stage, usize, usize),
    ) -> Result<Vec<Planned>, StaffError> {
        let total: usize = sheets.iter().map(|(_, s)| s.rows.len()).sum();
        let mut planned: Vec<Planned> = Vec::with_capacity(total);
        // Where each id and each question first appears in the import.
        let mut ids: HashMap<String, (usize, usize)> = HashMap::new();
        let mut questions: HashMap<String, (usize, usize, String)> = HashMap::new();
        for (file_index, (file, sheet)) in sheets.iter().enumerate() {
            for row in &sheet.rows {
                if planned.len().is_multiple_of(500) {
                    progress(Stage::Checking, planned.len(), total);
                }
                let place = sheet.place(row.number);
                let error = |field: &str, message: String| RowError {
                    file: file.clone(),
                    place: place.clone(),
                    column: (!field.is_empty()).then(|| sheet.label(field)),
                    message,
                };
                let mut errors: Vec<RowError> = row
                    .problems
                    .iter()
                    .map(|p| error(p.field, p.message.clone()))
                    .collect();
                let mut entry = row.entry.clone();
                let generated = entry.id.is_empty();
                if generated {
                    entry.id = generated_id(&entry.category, &entry.question);
                }
                // A row that could not be read at all (a broken JSON line)
                // has nothing more to say: its empty fields are not news.
                if row.problems.iter().any(|p| p.field.is_empty()) {
                    planned.push(Planned {
                        file: file_index,
                        number: row.number,
                        entry,
                        errors,
                    });
                    continue;
                }
                for (field, message) in knowledge::check_entry(&entry, Strictness::Staff) {
                    errors.push(error(field, message));
                }
                let elsewhere = |at: (usize, usize)| -> String {
                    let (other_file, number) = at;
                    let other = &sheets[other_file];
                    if other_file == file_index {
                        other.1.place(number)
                    } else {
                        format!("{} {}", other.0, other.1.place(number))
                    }
                };
                if let Some(first) = ids.get(&entry.id) {
                    errors.push(if generated {
                        error("question", format!("与{}是同一个问题", elsewhere(*first)))
                    } else {
                        error("id", format!("编号与{}重复", elsewhere(*first)))
                    });
                } else {
                    ids.insert(entry.id.clone(), (file_index, row.number));
                }
                let key = knowledge::question_key(&entry.question);
                if !key.is_empty() {
                    match questions.get(&key) {
                        Some((other_file, number, id)) if *id != entry.id => errors.push(error(
                            "question",
                            format!("问题与{}重复", elsewhere((*other_file, *number))),
                        )),
                        Some(_) => {}
                        None => {
                            questions.insert(key, (file_index, row.number, entry.id.clone()));
                        }
                    }
                }
                planned.push(Planned {
                    file: file_index,
                    number: row.number,
                    entry,
                    errors,
                });
            }
        }
        // Questions of stored active entries that stay after the import.
        let changing: HashSet<&str> = planned.iter().map(|p| p.entry.id.as_str()).collect();
        let mut taken: HashMap<String, (String, String)> = HashMap::new();
        for entry in self.store.active_entries()? {
            if !changing.contains(entry.id.as_str()) {
                taken.insert(
                    knowledge::question_key(&entry.question),
                    (entry.id.clone(), entry.question.clone()),
                );
            }
        }
        for row in &mut planned {
            let key = knowledge::question_key(&row.entry.question);
            if let Some((id, question)) = taken.get(&key) {
                let (file, sheet) = &sheets[row.file];
                row.errors.push(RowError {
                    file: file.clone(),
                    place: sheet.place(row.number),
                    column: Some(sheet.label("question")),
                    message: format!(
                        "问题与已有条目 {id}（{question}）重复；要修改那个条目，请在“{}”列填 {id}",
                        sheet.label("id")
                    ),
                });
            }
        }
        progress(Stage::Checking, total, total);
        Ok(planned)
    }

    /// Checks an entry as staff would save it: the staff rules, and no
    /// other active entry may have the same question.
    pub fn check_entry(&self, entry: &Entry) -> Result<Vec<FieldProblem>, StaffError> {
        let mut problems: Vec<FieldProblem> = knowledge::check_entry(entry, Strictness::Staff)
            .into_iter()
            .map(|(field, message)| FieldProblem { field, message })
            .collect();
        if let Some(other) = self.duplicate_of(&entry.question, &entry.id)? {
            problems.push(FieldProblem {
                field: "question",
                message: format!("与已有条目 {}（{}）的问题重复", other.id, other.question),
            });
        }
        Ok(problems)
    }

    /// The active entry other than `id` whose question is this one, if any.
    pub fn duplicate_of(&self, question: &str, id: &str) -> Result<Option<Entry>, StaffError> {
        let key = knowledge::question_key(question);
        if key.is_empty() {
            return Ok(None);
        }
        Ok(self
            .store
            .active_entries()?
            .into_iter()
            .find(|e| e.id != id && knowledge::question_key(&e.question) == key))
    }

    /// Saves one entry (new or changed; an empty id gets a generated one):
    /// checked, committed, searchable on return. Returns the entry as saved.
    pub fn save(&self, entry: Entry, actor: &str) -> Result<Entry, StaffError> {
        let mut entry = entry.tidy();
        if entry.id.is_empty() {
            entry.id = generated_id(&entry.category, &entry.question);
        }
        let problems = self.check_entry(&entry)?;
        if !problems.is_empty() {
            return Err(StaffError::Invalid(problems));
        }
        self.commit(
            &Batch {
                actor: actor.to_string(),
                note: String::new(),
                changes: vec![Change::Upsert(entry.clone())],
                import: None,
            },
            &mut |_, _, _| {},
        )?;
        Ok(entry)
    }

    /// Adds a wording (an unanswered question, typically) to an entry's
    /// alternates. Adding one it already has changes nothing.
    pub fn add_alternate(&self, id: &str, wording: &str, actor: &str) -> Result<Entry, StaffError> {
        let mut entry = self.active_entry(id)?;
        let wording = wording.trim();
        let key = knowledge::question_key(wording);
        if key.is_empty() {
            return Err(StaffError::Invalid(vec![FieldProblem {
                field: "alternates",
                message: "问法是空的".to_string(),
            }]));
        }
        let known = entry.wordings().any(|w| knowledge::question_key(w) == key);
        if !known {
            entry.alternates.push(wording.to_string());
        }
        self.save(entry, actor)
    }

    /// Deletes an entry (restorable); it stops being answered on return.
    pub fn delete(&self, id: &str, actor: &str) -> Result<Entry, StaffError> {
        let entry = self.active_entry(id)?;
        self.commit(
            &Batch {
                actor: actor.to_string(),
                note: String::new(),
                changes: vec![Change::Delete(id.to_string())],
                import: None,
            },
            &mut |_, _, _| {},
        )?;
        Ok(entry)
    }

    /// Restores a deleted (or withdrawn) entry; answered again on return.
    /// Refused when an active entry has taken its question meanwhile.
    pub fn restore(&self, id: &str, actor: &str) -> Result<Entry, StaffError> {
        let stored = self
            .store
            .stored_entry(id)?
            .ok_or_else(|| StoreError::NoSuchEntry(id.to_string()))?;
        if stored.state == EntryState::Active {
            return Err(StoreError::NotDeleted(id.to_string()).into());
        }
        if let Some(other) = self.duplicate_of(&stored.entry.question, id)? {
            return Err(StaffError::Invalid(vec![FieldProblem {
                field: "question",
                message: format!(
                    "无法恢复：已有条目 {}（{}）用了同一个问题",
                    other.id, other.question
                ),
            }]));
        }
        self.commit(
            &Batch {
                actor: actor.to_string(),
                note: String::new(),
                changes: vec![Change::Restore(id.to_string())],
                import: None,
            },
            &mut |_, _, _| {},
        )?;
        Ok(stored.entry)
    }

    /// Takes the pending shipped version of an entry staff own (an update,
    /// or the removal). Returns the entry as it now is (`None`: deleted).
    pub fn adopt_shipped(&self, id: &str, actor: &str) -> Result<Option<Entry>, StaffError> {
        let stored = self
            .store
            .stored_entry(id)?
            .ok_or_else(|| StoreError::NoSuchEntry(id.to_string()))?;
        match stored.pending {
            Some(Pending::Update(entry)) => {
                self.commit(
                    &Batch {
                        actor: actor.to_string(),
                        note: "采用知识库文件的版本".to_string(),
                        changes: vec![Change::Upsert(entry.clone())],
                        import: None,
                    },
                    &mut |_, _, _| {},
                )?;
                Ok(Some(entry))
            }
            Some(Pending::Removal) if stored.state == EntryState::Active => {
                self.delete(id, actor)?;
                Ok(None)
            }
            _ => Err(StaffError::NothingPending(id.to_string())),
        }
    }

    fn active_entry(&self, id: &str) -> Result<Entry, StaffError> {
        match self.store.stored_entry(id)? {
            Some(stored) if stored.state == EntryState::Active => Ok(stored.entry),
            Some(_) => Err(StoreError::AlreadyDeleted(id.to_string()).into()),
            None => Err(StoreError::NoSuchEntry(id.to_string()).into()),
        }
    }

    /// Writes a batch, then brings the engine up to date with the store.
    fn commit(
        &self,
        batch: &Batch,
        progress: &mut dyn FnMut(Stage, usize, usize),
    ) -> Result<(), StaffError> {
        let mut mark = self.mark.lock().unwrap_or_else(|e| e.into_inner());
        let written = self.store.write(batch, &mut |done, total| {
            progress(Stage::Writing, done, total)
        })?;
        let Some(engine) = &self.engine else {
            return Ok(());
        };
        progress(Stage::Indexing, 0, 1);
        if !written.changed.is_empty() || !written.removed.is_empty() {
            engine.apply(&written.removed, written.changed)?;
        }
        // Our own revisions are applied already; this also picks up any
        // change another process committed meanwhile, and moves the mark.
        self.catch_up(engine, &mut mark)?;
        progress(Stage::Indexing, 1, 1);
        Ok(())
    }

    /// Picks up changes other processes committed to the store (a
    /// `safety-bot import` while the bot runs) and applies them to the
    /// engine. Cheap when nothing changed (one query): a front end calls it
    /// every second or so. Returns how many entries changed in the engine.
    pub fn refresh(&self) -> Result<usize, StaffError> {
        let Some(engine) = &self.engine else {
            return Ok(0);
        };
        let mut mark = self.mark.lock().unwrap_or_else(|e| e.into_inner());
        self.catch_up(engine, &mut mark)
    }

    fn catch_up(&self, engine: &Engine, mark: &mut i64) -> Result<usize, StaffError> {
        let (ids, latest) = self.store.changed_since(*mark)?;
        if ids.is_empty() {
            return Ok(0);
        }
        let mut changed = Vec::new();
        let mut removed = Vec::new();
        for id in ids {
            let live = engine.entry(&id);
            match self.store.stored_entry(&id)? {
                Some(stored) if stored.state == EntryState::Active => {
                    if live.as_deref() != Some(&stored.entry) {
                        changed.push(stored.entry);
                    }
                }
                _ => {
                    if live.is_some() {
                        removed.push(id);
                    }
                }
            }
        }
        let count = changed.len() + removed.len();
        if count > 0 {
            engine.apply(&removed, changed)?;
        }
        *mark = latest;
        self.record_index_fingerprint(*mark);
        Ok(count)
    }

    /// After live changes, marks the index on disk as matching the store,
    /// so the next start does not rebuild it, but only when the store has
    /// not moved past what the engine holds. Failing to record costs only
    /// a rebuild at the next start, so it is logged, not returned.
    fn record_index_fingerprint(&self, mark: i64) {
        let Some(data_dir) = &self.data_dir else {
            return;
        };
        let (entries, now_mark) = match self.store.active_entries_with_mark() {
            Ok(read) => read,
            Err(error) => {
                tracing::warn!(%error, "cannot read entries to fingerprint the index");
                return;
            }
        };
        if now_mark != mark {
            return;
        }
        let knowledge = Knowledge {
            entries,
            synonyms: self.synonyms.clone(),
            user_dict: self.user_dict.clone(),
            cards: Vec::new(),
        };
        if let Err(error) = SearchIndex::record_fingerprint(data_dir, &knowledge.fingerprint()) {
            tracing::warn!(%error, "cannot record the index fingerprint");
        }
    }

    /// The active entries in an export format.
    pub fn export(&self, format: ExportFormat) -> Result<Vec<u8>, StaffError> {
        Ok(export::export(&self.store.active_entries()?, format)?)
    }

    /// Publishes the consultation-day notice (empty text withdraws it).
    pub fn set_event(&self, text: &str, actor: &str) -> Result<(), StaffError> {
        let chars = text.trim().chars().count();
        if chars > crate::event::MAX_EVENT_CHARS {
            return Err(StaffError::Invalid(vec![FieldProblem {
                field: "event",
                message: format!(
                    "活动信息太长：{chars} 字，上限 {} 字",
                    crate::event::MAX_EVENT_CHARS
                ),
            }]));
        }
        Ok(self.store.set_event_notice(text, actor)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knowledge::CATEGORIES;

    #[test]
    fn every_category_has_an_id_stem() {
        for category in CATEGORIES {
            let id = generated_id(category, "测试问题");
            assert!(!id.starts_with("entry-"), "{category}");
            assert!(knowledge::is_valid_id(&id), "{id}");
        }
    }

    #[test]
    fn generated_ids_are_stable_and_ignore_punctuation() {
        assert_eq!(
            generated_id("燃气安全", "燃气表漏气找谁？"),
            generated_id("燃气安全", "燃气表漏气找谁")
        );
        assert_ne!(
            generated_id("燃气安全", "燃气表漏气找谁"),
            generated_id("燃气安全", "燃气灶漏气找谁")
        );
    }
}
