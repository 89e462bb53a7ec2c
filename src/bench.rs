//! `safety-bot bench`: how fast the answer core answers, and what it costs in
//! memory, disk and start-up, at any corpus size — measured in one process
//! and reported as text or as one JSON object.
//!
//! The steps, on one temporary directory removed at the end:
//! 1. Corpus: the shipped one, grown to a size (`bench_data`), or read from
//!    an `export` JSONL file. It is written out as a knowledge directory
//!    (TOML, one file per topic) and loaded back with `knowledge::load_dir`,
//!    so what is measured is exactly what the bot would load from disk, and
//!    the spawned binary of step 5 finds an index that matches it.
//! 2. Build: `Engine::open` on an empty data directory — jieba's dictionary,
//!    the index written to disk — and the index's size on disk.
//! 3. Latency: every question once to warm up, then each question timed on
//!    its own through `Engine::ask` (normalise, triage, analyse, search,
//!    decide, build the reply), one thread.
//! 4. Throughput: all questions on one thread, then on two threads at once.
//! 5. Start-up: this binary spawned as `ask --json <question>` on the
//!    prepared directories, from spawn until the answer arrives on its
//!    standard output; the median of a few runs after one unmeasured run.
//! 6. The bot's own memory: this binary run as `ask` over all the questions,
//!    once on the built index and once building it first, its peak read
//!    from its `/proc/<pid>/status`.
//! 7. Edit: an entry gains a new wording through `Engine::apply` (which
//!    commits to disk), and the time runs until asking that wording finds it.
//! 8. Peak memory of this process: VmHWM, reset just before step 2 and read
//!    after step 7, so it covers building, answering on two threads and
//!    editing, but not the preparation of the corpus, which the bot never
//!    does.
//!
//! Figures are only as steady as the machine: run on an otherwise idle
//! machine, in release mode.

use std::hint::black_box;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::analysis::Analyzer;
use crate::bench_data::{builtin_questions, grow_corpus};
use crate::engine::{Engine, EngineError};
use crate::index::SearchIndex;
use crate::knowledge::{self, EmergencyCard, Entry, Knowledge, Problem};
use crate::reply::Outcome;

/// The fewest timed questions the issue asks for; the default of `bench`.
pub const DEFAULT_TIMED_QUESTIONS: usize = 2000;
/// Spawned start-ups timed after the unmeasured first one.
pub const STARTUP_RUNS: usize = 5;

/// Made-up phrases no entry holds, one per edit (see `time_edits`), and
/// nothing that reads as danger happening now: an emergency card would take
/// over the reply.
const EDIT_PROBES: &[&str] = &[
    "蓝鲸七号演练口令是什么",
    "青柠檬联络卡怎么领取",
    "紫藤花巡查编号在哪里查",
    "白鹭十三号集合点在哪",
    "银杏叶志愿证怎么补办",
];

/// Which entries to benchmark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorpusSource {
    /// The loaded knowledge as it is.
    Shipped,
    /// The loaded knowledge grown (or thinned) to this many entries.
    Grown(usize),
    /// An `export` JSONL file, as it is.
    File(PathBuf),
}

/// Which questions to time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuestionSource {
    BuiltIn,
    /// One question a line; blank lines are skipped.
    File(PathBuf),
}

#[derive(Debug, Clone)]
pub struct BenchConfig {
    pub corpus: CorpusSource,
    pub questions: QuestionSource,
    /// How many questions are timed: the size of the built-in set, or the
    /// number of asks over a question file (repeated when shorter).
    pub timed_questions: usize,
    pub save_corpus: Option<PathBuf>,
    pub save_questions: Option<PathBuf>,
    /// The `safety-bot` binary to spawn for the start-up figure. Without it,
    /// start-up is measured in process (load knowledge, open, first answer).
    pub binary: Option<PathBuf>,
    /// Prepare the knowledge and data directories here and keep them (for
    /// profiling or timing start-up by hand); a temporary directory,
    /// removed afterwards, when not set. Must be empty or not exist.
    pub work_dir: Option<PathBuf>,
}

impl Default for BenchConfig {
    fn default() -> Self {
        BenchConfig {
            corpus: CorpusSource::Shipped,
            questions: QuestionSource::BuiltIn,
            timed_questions: DEFAULT_TIMED_QUESTIONS,
            save_corpus: None,
            save_questions: None,
            binary: None,
            work_dir: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("无法读取语料文件 {}：{source}", path.display())]
    ReadCorpus { path: PathBuf, source: io::Error },
    #[error("语料文件 {} 第 {line} 行不是有效的条目：{message}", path.display())]
    CorpusLine {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("语料文件 {} 第 {line} 行：编号“{id}”与前面的条目重复", path.display())]
    DuplicateId {
        path: PathBuf,
        line: usize,
        id: String,
    },
    #[error("语料文件 {} 里没有任何条目", path.display())]
    EmptyCorpus { path: PathBuf },
    #[error("无法读取问题文件 {}：{source}", path.display())]
    ReadQuestions { path: PathBuf, source: io::Error },
    #[error("问题文件 {} 里没有任何问题（每行一个）", path.display())]
    NoQuestions { path: PathBuf },
    #[error("无法写入 {}：{source}", path.display())]
    Write { path: PathBuf, source: io::Error },
    #[error("没有可测的条目")]
    NoEntries,
    #[error("无法建立临时目录：{0}")]
    TempDir(io::Error),
    #[error("工作目录 {} 不是空目录：为了不覆盖别的文件，请指定一个新目录", path.display())]
    WorkDirNotEmpty { path: PathBuf },
    #[error("无法把语料写成知识库目录：{0}")]
    Toml(#[from] toml::ser::Error),
    #[error("读回测试用知识库失败：{0}")]
    Reload(Problem),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("刚编辑的条目 {id} 没有被它的新问法找到")]
    EditNotFound { id: String },
    #[error("启动测试失败：{0}")]
    Startup(String),
}

impl BenchError {
    /// True when the user can fix it (a file given on the command line);
    /// false for failures of the program or the machine.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            BenchError::ReadCorpus { .. }
                | BenchError::CorpusLine { .. }
                | BenchError::DuplicateId { .. }
                | BenchError::EmptyCorpus { .. }
                | BenchError::ReadQuestions { .. }
                | BenchError::NoQuestions { .. }
                | BenchError::Write { .. }
                | BenchError::WorkDirNotEmpty { .. }
                | BenchError::NoEntries
        )
    }
}

/// How the start-up figure was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartupProbe {
    /// The binary spawned as `ask --json`, spawn to answer.
    Spawned,
    /// In this process: open as the bot opens (knowledge, store, index), first answer.
    InProcess,
}

/// Every figure of one run.
#[derive(Debug, Clone)]
pub struct BenchReport {
    pub entries: usize,
    /// Entries of the knowledge the corpus was grown from (none for a file).
    pub grown_from: Option<usize>,
    /// Problems `check` would report in the benchmarked corpus.
    pub corpus_problems: usize,
    pub distinct_questions: usize,
    pub timed_questions: usize,
    pub p50_us: f64,
    pub p95_us: f64,
    pub p99_us: f64,
    pub max_us: f64,
    pub mean_us: f64,
    pub qps_1: f64,
    pub qps_2: f64,
    /// `Engine::open` on an empty data directory, dictionary included.
    pub build_s: f64,
    /// Loading jieba with the user dictionary alone, for scale.
    pub analyzer_s: f64,
    pub index_bytes: u64,
    /// VmHWM over build, answering and editing (0 where unknown).
    pub peak_rss_bytes: u64,
    /// VmHWM over build and answering, before the first edit creates an
    /// index writer.
    pub peak_before_edit_bytes: u64,
    /// VmRSS after the latency and throughput runs.
    pub serving_rss_bytes: u64,
    /// The slowest of the edits: apply, then the first ask that finds it.
    pub edit_visible_ms: f64,
    pub edit_runs_ms: Vec<f64>,
    /// The median start-up to first answer.
    pub startup_ms: f64,
    pub startup_runs_ms: Vec<f64>,
    pub startup_probe: StartupProbe,
    /// Load, open and first answer in process (always measured).
    pub in_process_startup_ms: f64,
    /// Peak memory of the binary run on its own over the questions, as the
    /// bot runs: with the index already built, and building it first
    /// (bytes; none where the system cannot tell, or nothing was spawned).
    pub process_peaks: Option<(u64, u64)>,
    /// Outcomes over the distinct questions: answer, suggest, no answer.
    pub outcomes: [usize; 3],
    pub threads_available: usize,
    /// The machine's one-minute load average at the start and at the end
    /// (none without `/proc/loadavg`): other work running skews every
    /// figure, and a report should say so.
    pub load_average: Option<(f64, f64)>,
}

/// Runs the benchmark. `base` is the loaded knowledge: the corpus to grow
/// and the synonyms, user dictionary and emergency cards every corpus uses.
/// `progress` receives one line per step, for a person watching.
pub fn run(
    base: Knowledge,
    config: &BenchConfig,
    progress: &mut dyn FnMut(&str),
) -> Result<BenchReport, BenchError> {
    let started = Instant::now();
    let load_at_start = load_average();
    let Knowledge {
        entries: base_entries,
        synonyms,
        user_dict,
        cards,
    } = base;
    let analyzer_started = Instant::now();
    let analyzer = Analyzer::new(&user_dict, &synonyms);
    let analyzer_s = analyzer_started.elapsed().as_secs_f64();

    let (entries, grown_from) = match &config.corpus {
        CorpusSource::Shipped => {
            let n = base_entries.len();
            (base_entries, Some(n))
        }
        CorpusSource::Grown(n) => {
            progress(&format!("生成语料：{n} 个条目……"));
            let grown = grow_corpus(&base_entries, &synonyms, &analyzer, *n);
            (grown, Some(base_entries.len()))
        }
        CorpusSource::File(path) => (read_corpus_jsonl(path)?, None),
    };
    drop(analyzer);
    if entries.is_empty() {
        return Err(BenchError::NoEntries);
    }

    // A temporary directory is removed when `_scratch` drops, at the end;
    // a work directory asked for is kept.
    let (_scratch, work_dir) = match &config.work_dir {
        Some(dir) => {
            prepare_work_dir(dir)?;
            (None, dir.clone())
        }
        None => {
            let temp = tempfile::Builder::new()
                .prefix("safety-bot-bench-")
                .tempdir()
                .map_err(BenchError::TempDir)?;
            let path = temp.path().to_path_buf();
            (Some(temp), path)
        }
    };
    let knowledge_dir = work_dir.join("knowledge");
    let data_dir = work_dir.join("data");
    // The bot's own processes get a data directory of their own: they open
    // a store there and may rebuild the index their way, which must not
    // touch the index this process is measuring and editing.
    let bot_data_dir = work_dir.join("data-bot");
    progress("写出测试用知识库并读回……");
    write_knowledge_dir(&knowledge_dir, &entries, &synonyms, &user_dict, &cards)?;
    drop(entries);
    let (knowledge, problems) = knowledge::load_dir(&knowledge_dir).map_err(BenchError::Reload)?;
    if let Some(path) = &config.save_corpus {
        write_file(path, corpus_jsonl(&knowledge.entries))?;
    }

    let distinct: Vec<String> = match &config.questions {
        QuestionSource::BuiltIn => builtin_questions(
            &knowledge.entries,
            &knowledge.synonyms,
            config.timed_questions.max(1),
        ),
        QuestionSource::File(path) => read_questions(path)?,
    };
    if let Some(path) = &config.save_questions {
        let mut text = distinct.join("\n");
        text.push('\n');
        write_file(path, text)?;
    }
    let timed: Vec<&str> = (0..config.timed_questions.max(distinct.len()))
        .map(|i| distinct[i % distinct.len()].as_str())
        .collect();
    let first_question = knowledge.entries[0].question.clone();
    let edit_ids: Vec<String> = (0..EDIT_PROBES.len())
        .map(|i| {
            knowledge.entries[i * knowledge.entries.len() / EDIT_PROBES.len()]
                .id
                .clone()
        })
        .collect();
    let entry_count = knowledge.entries.len();

    progress(&format!("建索引：{entry_count} 个条目……"));
    release_freed_memory();
    reset_peak_rss();
    let build_started = Instant::now();
    let (engine, _rebuilt) = Engine::open(knowledge, &data_dir)?;
    let build_s = build_started.elapsed().as_secs_f64();
    let index_bytes = SearchIndex::size_on_disk(&data_dir);

    progress(&format!("计时：{} 个问题……", timed.len()));
    let (latencies, outcomes) = time_questions(&engine, &distinct, &timed);
    let total: Duration = latencies.iter().sum();
    let micros = |d: Duration| d.as_secs_f64() * 1e6;

    progress("吞吐：1 线程、2 线程……");
    let qps_1 = throughput(&engine, &timed, 1);
    let qps_2 = throughput(&engine, &timed, 2);
    let serving_rss_bytes = proc_status_bytes("VmRSS:").unwrap_or(0);

    let (startup_probe, startup_runs_ms) = match &config.binary {
        Some(binary) => {
            progress("启动到第一个回答（运行本程序）……");
            let runs = (0..=STARTUP_RUNS)
                .map(|_| spawn_startup(binary, &knowledge_dir, &bot_data_dir, &first_question))
                .collect::<Result<Vec<f64>, BenchError>>()?;
            // The first run creates the bot's store and index and pays for
            // whatever the page cache lacks; a bot restarted on a running
            // server does neither.
            (StartupProbe::Spawned, runs[1..].to_vec())
        }
        None => (StartupProbe::InProcess, Vec::new()),
    };
    let process_peaks = match &config.binary {
        Some(binary) => {
            progress("单独进程的内存：用已有索引答题、先建索引再答题……");
            let fresh_dir = work_dir.join("data-fresh");
            let serving = batch_process_peak(binary, &knowledge_dir, &bot_data_dir, &distinct)?;
            let building = batch_process_peak(binary, &knowledge_dir, &fresh_dir, &distinct)?;
            // Only the figure matters; the second index would only take space.
            let _ = std::fs::remove_dir_all(&fresh_dir);
            serving.zip(building)
        }
        None => None,
    };

    let peak_before_edit_bytes = proc_status_bytes("VmHWM:").unwrap_or(0);
    progress("编辑生效……");
    let edit_runs_ms = time_edits(&engine, &edit_ids)?;
    let peak_rss_bytes = proc_status_bytes("VmHWM:").unwrap_or(0);
    drop(engine);

    progress("同一进程内：读知识库、打开数据库和索引、第一个回答……");
    let in_process_startup_ms = in_process_startup(&knowledge_dir, &bot_data_dir, &first_question)?;
    let startup_runs_ms = match startup_probe {
        StartupProbe::Spawned => startup_runs_ms,
        StartupProbe::InProcess => vec![in_process_startup_ms],
    };
    progress(&format!(
        "完成，用时 {:.1} 秒。",
        started.elapsed().as_secs_f64()
    ));

    Ok(BenchReport {
        entries: entry_count,
        grown_from,
        corpus_problems: problems.len(),
        distinct_questions: distinct.len(),
        timed_questions: timed.len(),
        p50_us: micros(percentile(&latencies, 50.0)),
        p95_us: micros(percentile(&latencies, 95.0)),
        p99_us: micros(percentile(&latencies, 99.0)),
        max_us: micros(latencies.last().copied().unwrap_or_default()),
        mean_us: micros(total) / latencies.len().max(1) as f64,
        qps_1,
        qps_2,
        build_s,
        analyzer_s,
        index_bytes,
        peak_rss_bytes,
        peak_before_edit_bytes,
        serving_rss_bytes,
        edit_visible_ms: edit_runs_ms.iter().copied().fold(0.0, f64::max),
        edit_runs_ms,
        startup_ms: median(&startup_runs_ms),
        startup_runs_ms,
        startup_probe,
        in_process_startup_ms,
        process_peaks,
        outcomes,
        threads_available: std::thread::available_parallelism().map_or(1, |n| n.get()),
        load_average: load_at_start.zip(load_average()),
    })
}

impl BenchReport {
    /// The one-line result of `bench --json`: exactly the keys the issue
    /// names, so scripts comparing runs can rely on them.
    pub fn to_json(&self) -> serde_json::Value {
        let round = |x: f64, places: i32| {
            let scale = 10f64.powi(places);
            (x * scale).round() / scale
        };
        serde_json::json!({
            "entries": self.entries,
            "questions": self.timed_questions,
            "p50_us": round(self.p50_us, 1),
            "p95_us": round(self.p95_us, 1),
            "p99_us": round(self.p99_us, 1),
            "max_us": round(self.max_us, 1),
            "qps_1": round(self.qps_1, 0),
            "qps_2": round(self.qps_2, 0),
            "build_s": round(self.build_s, 3),
            "index_bytes": self.index_bytes,
            "peak_rss_bytes": self.peak_rss_bytes,
            "edit_visible_ms": round(self.edit_visible_ms, 2),
            "startup_ms": round(self.startup_ms, 1),
        })
    }

    /// The report as a person reads it.
    pub fn text(&self) -> String {
        let mb = |bytes: u64| bytes as f64 / 1_000_000.0;
        let list = |runs: &[f64]| {
            runs.iter()
                .map(|ms| format!("{ms:.1}"))
                .collect::<Vec<_>>()
                .join("、")
        };
        let corpus = match self.grown_from {
            Some(base) if base == self.entries => format!("{} 个条目（知识库原样）", self.entries),
            Some(base) if base < self.entries => {
                format!("{} 个条目（由知识库 {base} 条扩充）", self.entries)
            }
            Some(base) => format!("{} 个条目（从知识库 {base} 条中均匀抽取）", self.entries),
            None => format!("{} 个条目（语料文件原样）", self.entries),
        };
        let startup = match self.startup_probe {
            StartupProbe::Spawned => format!(
                "{:.1} 毫秒（运行本程序 ask --json，{} 次的中位数：{}）；同一进程内读知识库、打开数据库和索引并回答 {:.1} 毫秒",
                self.startup_ms,
                self.startup_runs_ms.len(),
                list(&self.startup_runs_ms),
                self.in_process_startup_ms
            ),
            StartupProbe::InProcess => format!(
                "{:.1} 毫秒（同一进程内读知识库、打开数据库和索引并回答）",
                self.startup_ms
            ),
        };
        let memory = if self.peak_rss_bytes == 0 {
            "未知（此系统没有 /proc/self/status）".to_string()
        } else {
            format!(
                "{:.1} MB（建索引、答题、编辑期间的最高值）；编辑前最高 {:.1} MB；答题时 {:.1} MB",
                mb(self.peak_rss_bytes),
                mb(self.peak_before_edit_bytes),
                mb(self.serving_rss_bytes)
            )
        };
        let mut out = String::new();
        out.push_str(&format!("基准测试（本机 {} 个 CPU", self.threads_available));
        if let Some((start, end)) = self.load_average {
            // Other work on the machine slows every figure down; the load
            // average (which counts this run too) shows whether there was any.
            out.push_str(&format!("，1 分钟平均负载：开始 {start:.2}，结束 {end:.2}"));
        }
        out.push_str("）\n");
        out.push_str(&format!("语料：{corpus}"));
        if self.corpus_problems > 0 {
            out.push_str(&format!(
                "，检查发现 {} 处问题（不影响测量）",
                self.corpus_problems
            ));
        }
        out.push('\n');
        out.push_str(&format!(
            "问题：计时 {} 次（不同的问题 {} 个）；回答 {}、建议 {}、无答案 {}\n",
            self.timed_questions,
            self.distinct_questions,
            self.outcomes[0],
            self.outcomes[1],
            self.outcomes[2]
        ));
        out.push_str(&format!(
            "建索引：{:.2} 秒（其中加载分词词典约 {:.2} 秒），索引占磁盘 {:.1} MB\n",
            self.build_s,
            self.analyzer_s,
            mb(self.index_bytes)
        ));
        out.push_str(&format!(
            "单个问题（单线程，预热后）：p50 {:.0} µs，p95 {:.0} µs，p99 {:.0} µs，最长 {:.0} µs，平均 {:.0} µs\n",
            self.p50_us, self.p95_us, self.p99_us, self.max_us, self.mean_us
        ));
        out.push_str(&format!(
            "吞吐：1 线程 {:.0} 问/秒，2 线程 {:.0} 问/秒\n",
            self.qps_1, self.qps_2
        ));
        out.push_str(&format!("峰值内存：{memory}\n"));
        if let Some((serving, building)) = self.process_peaks {
            out.push_str(&format!(
                "单独运行 ask 答完全部问题的进程峰值：已有索引 {:.1} MB，先建索引 {:.1} MB\n",
                mb(serving),
                mb(building)
            ));
        }
        out.push_str(&format!(
            "编辑生效：最慢 {:.1} 毫秒（{} 次：{}）\n",
            self.edit_visible_ms,
            self.edit_runs_ms.len(),
            list(&self.edit_runs_ms)
        ));
        out.push_str(&format!("启动到第一个回答：{startup}"));
        out
    }
}

/// Asks every distinct question once — the warm-up, which also counts the
/// outcomes — then times each of `timed` on its own. Returns the sorted
/// latencies and the outcomes (answer, suggest, no answer).
fn time_questions(
    engine: &Engine,
    distinct: &[String],
    timed: &[&str],
) -> (Vec<Duration>, [usize; 3]) {
    let mut outcomes = [0; 3];
    for question in distinct {
        let reply = engine.ask(question);
        outcomes[match reply.outcome {
            Outcome::Answer => 0,
            Outcome::Suggest => 1,
            Outcome::NoAnswer => 2,
        }] += 1;
    }
    let mut latencies: Vec<Duration> = Vec::with_capacity(timed.len());
    for question in timed {
        let start = Instant::now();
        black_box(engine.ask(black_box(question)));
        latencies.push(start.elapsed());
    }
    latencies.sort();
    (latencies, outcomes)
}

/// Gives each entry a new wording through `Engine::apply`, as staff saving
/// an edit would, and times until asking that wording finds the entry.
/// The new wording is a made-up phrase in front of the entry's own
/// question: the phrase makes it unique, the question keeps it about the
/// entry's topic, whatever the decision thresholds are.
fn time_edits(engine: &Engine, ids: &[String]) -> Result<Vec<f64>, BenchError> {
    let mut runs_ms = Vec::with_capacity(ids.len());
    for (id, probe) in ids.iter().zip(EDIT_PROBES) {
        let Some(entry) = engine.entry(id) else {
            return Err(BenchError::EditNotFound { id: id.clone() });
        };
        let mut edited = (*entry).clone();
        let wording = format!("{probe}，{}", entry.question);
        edited.alternates.push(wording.clone());
        let start = Instant::now();
        engine.apply(&[], vec![edited])?;
        let reply = engine.ask(&wording);
        let elapsed = start.elapsed();
        if reply.entry.as_ref().is_none_or(|e| &e.id != id) {
            return Err(BenchError::EditNotFound { id: id.clone() });
        }
        runs_ms.push(elapsed.as_secs_f64() * 1e3);
    }
    Ok(runs_ms)
}

/// Reads an `export` JSONL file: one entry a line, blank lines skipped.
pub fn read_corpus_jsonl(path: &Path) -> Result<Vec<Entry>, BenchError> {
    let text = std::fs::read_to_string(path).map_err(|source| BenchError::ReadCorpus {
        path: path.to_path_buf(),
        source,
    })?;
    let mut entries: Vec<Entry> = Vec::new();
    let mut ids = std::collections::HashSet::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let entry: Entry = serde_json::from_str(line).map_err(|e| BenchError::CorpusLine {
            path: path.to_path_buf(),
            line: n + 1,
            message: e.to_string(),
        })?;
        if !ids.insert(entry.id.clone()) {
            return Err(BenchError::DuplicateId {
                path: path.to_path_buf(),
                line: n + 1,
                id: entry.id,
            });
        }
        entries.push(entry);
    }
    if entries.is_empty() {
        return Err(BenchError::EmptyCorpus {
            path: path.to_path_buf(),
        });
    }
    Ok(entries)
}

/// Entries in the `export` JSONL format: one JSON object a line.
pub fn corpus_jsonl(entries: &[Entry]) -> String {
    let mut text = String::new();
    for entry in entries {
        // An `Entry` is strings and lists of strings: serialising it cannot fail.
        text.push_str(&serde_json::to_string(entry).unwrap_or_default());
        text.push('\n');
    }
    text
}

fn read_questions(path: &Path) -> Result<Vec<String>, BenchError> {
    let bytes = std::fs::read(path).map_err(|source| BenchError::ReadQuestions {
        path: path.to_path_buf(),
        source,
    })?;
    let questions: Vec<String> = String::from_utf8_lossy(&bytes)
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect();
    if questions.is_empty() {
        return Err(BenchError::NoQuestions {
            path: path.to_path_buf(),
        });
    }
    Ok(questions)
}

/// Creates the work directory, refusing one that already holds anything.
fn prepare_work_dir(dir: &Path) -> Result<(), BenchError> {
    let write_error = |source| BenchError::Write {
        path: dir.to_path_buf(),
        source,
    };
    match std::fs::read_dir(dir) {
        Ok(mut listing) => {
            if listing.next().is_some() {
                return Err(BenchError::WorkDirNotEmpty {
                    path: dir.to_path_buf(),
                });
            }
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).map_err(write_error)
        }
        Err(e) => Err(write_error(e)),
    }
}

fn write_file(path: &Path, text: String) -> Result<(), BenchError> {
    std::fs::write(path, text).map_err(|source| BenchError::Write {
        path: path.to_path_buf(),
        source,
    })
}

#[derive(Serialize)]
struct TopicFileOut<'a> {
    category: &'a str,
    entry: Vec<TopicEntryOut<'a>>,
}

#[derive(Serialize)]
struct TopicEntryOut<'a> {
    id: &'a str,
    question: &'a str,
    alternates: &'a [String],
    answer: &'a str,
    keywords: &'a [String],
    source: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    reviewed: &'a str,
}

#[derive(Serialize)]
struct SynonymFileOut<'a> {
    group: Vec<SynonymGroupOut<'a>>,
}

#[derive(Serialize)]
struct SynonymGroupOut<'a> {
    terms: &'a [String],
}

#[derive(Serialize)]
struct CardFileOut<'a> {
    card: &'a [EmergencyCard],
}

/// Writes entries as a knowledge directory: one TOML file per category (in
/// the order categories first appear), the synonyms, the user dictionary
/// and the emergency cards.
fn write_knowledge_dir(
    dir: &Path,
    entries: &[Entry],
    synonyms: &[Vec<String>],
    user_dict: &str,
    cards: &[EmergencyCard],
) -> Result<(), BenchError> {
    let io_error = |source: io::Error| BenchError::Write {
        path: dir.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(io_error)?;
    let mut categories: Vec<&str> = Vec::new();
    for entry in entries {
        if !categories.contains(&entry.category.as_str()) {
            categories.push(&entry.category);
        }
    }
    for (n, category) in categories.iter().enumerate() {
        let file = TopicFileOut {
            category,
            entry: entries
                .iter()
                .filter(|e| e.category == *category)
                .map(|e| TopicEntryOut {
                    id: &e.id,
                    question: &e.question,
                    alternates: &e.alternates,
                    answer: &e.answer,
                    keywords: &e.keywords,
                    source: &e.source,
                    reviewed: &e.reviewed,
                })
                .collect(),
        };
        let path = dir.join(format!("topic-{n:03}.toml"));
        std::fs::write(&path, toml::to_string(&file)?).map_err(io_error)?;
    }
    let groups = SynonymFileOut {
        group: synonyms
            .iter()
            .map(|terms| SynonymGroupOut { terms })
            .collect(),
    };
    std::fs::write(
        dir.join(knowledge::SYNONYMS_FILE),
        toml::to_string(&groups)?,
    )
    .map_err(io_error)?;
    std::fs::write(dir.join(knowledge::USER_DICT_FILE), user_dict).map_err(io_error)?;
    std::fs::write(
        dir.join(knowledge::CARDS_FILE),
        toml::to_string(&CardFileOut { card: cards })?,
    )
    .map_err(io_error)?;
    Ok(())
}

/// Questions per second over `questions` on `threads` threads, each thread
/// asking every question once, starting at a different place.
fn throughput(engine: &Engine, questions: &[&str], threads: usize) -> f64 {
    let n = questions.len();
    let start = Instant::now();
    std::thread::scope(|scope| {
        for t in 0..threads {
            scope.spawn(move || {
                for i in 0..n {
                    black_box(engine.ask(black_box(questions[(i + t * n / threads) % n])));
                }
            });
        }
    });
    (n * threads) as f64 / start.elapsed().as_secs_f64()
}

/// Spawns the binary as `ask --json QUESTION` on the prepared directories:
/// milliseconds from spawn until its answer arrives on standard output.
/// Tearing the process down afterwards is not counted: the person asking
/// already has the answer.
fn spawn_startup(
    binary: &Path,
    knowledge_dir: &Path,
    data_dir: &Path,
    question: &str,
) -> Result<f64, BenchError> {
    use std::io::BufRead;
    let start = Instant::now();
    let mut child = Command::new(binary)
        .arg("--knowledge")
        .arg(knowledge_dir)
        .arg("--data-dir")
        .arg(data_dir)
        .args(["ask", "--json", question])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| BenchError::Startup(format!("无法运行 {}：{e}", binary.display())))?;
    let mut line = String::new();
    if let Some(stdout) = child.stdout.take() {
        // An error reading only leaves the line empty, reported below.
        let _ = io::BufReader::new(stdout).read_line(&mut line);
    }
    let elapsed = start.elapsed();
    let output = child
        .wait_with_output()
        .map_err(|e| BenchError::Startup(format!("{} 没有正常结束：{e}", binary.display())))?;
    let answered = serde_json::from_str::<serde_json::Value>(line.trim())
        .ok()
        .is_some_and(|v| v["question"] == question);
    if !output.status.success() || !answered {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: String = stderr
            .chars()
            .rev()
            .take(400)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        return Err(BenchError::Startup(format!(
            "{} 没有给出回答（{}）：{}",
            binary.display(),
            output.status,
            tail.trim()
        )));
    }
    Ok(elapsed.as_secs_f64() * 1e3)
}

/// Runs the binary as `ask --json` over the questions, one process for the
/// whole batch as the bot serves them, and returns its peak resident memory
/// (bytes; none where `/proc` is missing).
///
/// The peak is read from the child's own `/proc/<pid>/status` while it is
/// still alive: `wait4`'s figure cannot be used, because Linux counts into
/// it the memory of this (much larger) process the child was forked from.
/// To keep the child alive after its last answer, a few small messages
/// follow the questions; their answers push the real ones out of the
/// child's output buffer, and standard input stays open until the peak is
/// read.
fn batch_process_peak(
    binary: &Path,
    knowledge_dir: &Path,
    data_dir: &Path,
    questions: &[String],
) -> Result<Option<u64>, BenchError> {
    use std::io::{BufRead, Write};
    /// Enough short replies to fill the child's 8 KiB output buffer twice.
    const PADDING: usize = 64;
    /// However slow the machine, a batch that takes longer has hung.
    const DEADLINE: Duration = Duration::from_secs(1800);
    let failed = |what: String| BenchError::Startup(format!("{}：{what}", binary.display()));
    let mut child = Command::new(binary)
        .arg("--knowledge")
        .arg(knowledge_dir)
        .arg("--data-dir")
        .arg(data_dir)
        .args(["ask", "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| failed(e.to_string()))?;
    let pid = child.id();
    let (Some(mut stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        let _ = child.kill();
        let _ = child.wait();
        return Err(failed("无法连接标准输入输出".into()));
    };
    let expected = questions.len();
    let (answered_tx, answered_rx) = std::sync::mpsc::channel::<usize>();
    let reader = std::thread::spawn(move || {
        let mut count = 0;
        for line in io::BufReader::new(stdout).lines() {
            if line.is_err() {
                break;
            }
            count += 1;
            if count == expected {
                let _ = answered_tx.send(count);
            }
        }
        count
    });
    let mut batch = String::new();
    for question in questions {
        batch.push_str(question);
        batch.push('\n');
    }
    for _ in 0..PADDING {
        batch.push_str("你好\n");
    }
    // The reader drains the child's output meanwhile, so this cannot block
    // for good; a child that died early makes it fail, reported below.
    let written = stdin
        .write_all(batch.as_bytes())
        .and_then(|()| stdin.flush());
    let peak = match (written, answered_rx.recv_timeout(DEADLINE)) {
        (Ok(()), Ok(_)) => std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|status| status_bytes(&status, "VmHWM:")),
        _ => {
            let _ = child.kill();
            None
        }
    };
    drop(stdin);
    let status = child.wait().map_err(|e| failed(e.to_string()))?;
    let count = reader.join().unwrap_or(0);
    if !status.success() || count != expected + PADDING {
        return Err(failed(format!(
            "应回答 {} 个问题，实际 {count} 个",
            expected + PADDING
        )));
    }
    Ok(peak)
}

/// What the bot does before its first answer, in this process: read the
/// knowledge, open the store and bring it in line, open the index, answer
/// one question. Once unmeasured, so that the store and the index exist
/// (they do when the spawned runs came first), then timed.
fn in_process_startup(
    knowledge_dir: &Path,
    data_dir: &Path,
    question: &str,
) -> Result<f64, BenchError> {
    let open = || {
        let start = Instant::now();
        let opened = crate::staff::open(Some(knowledge_dir), data_dir)
            .map_err(|e| BenchError::Startup(e.to_string()))?;
        black_box(opened.engine.ask(question));
        Ok::<f64, BenchError>(start.elapsed().as_secs_f64() * 1e3)
    };
    open()?;
    open()
}

/// The nearest-rank percentile of sorted durations.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    }
}

/// Hands freed heap memory back to the system. Preparing the corpus (and
/// jieba for growing it) leaves megabytes of freed heap that glibc keeps
/// resident; without this the peak measured afterwards would count them.
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages of glibc's own heap to the
    // kernel; it has no preconditions and touches no memory in use.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Resets the process's peak resident size to its current size (Linux 4.0+:
/// writing 5 to `clear_refs`). Where that is impossible the peak keeps
/// counting from the start, which only overstates it.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// The one-minute load average, from `/proc/loadavg`.
fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// A `kB` line of `/proc/self/status` (VmHWM, VmRSS), in bytes.
fn proc_status_bytes(key: &str) -> Option<u64> {
    status_bytes(&std::fs::read_to_string("/proc/self/status").ok()?, key)
}

fn status_bytes(status: &str, key: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(key))?;
    let kb: u64 = line[key.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let sorted: Vec<Duration> = (1..=100).map(Duration::from_micros).collect();
        let check = |p: f64, expected: u64| {
            assert_eq!(
                percentile(&sorted, p),
                Duration::from_micros(expected),
                "p{p}"
            )
        };
        check(50.0, 50);
        check(95.0, 95);
        check(99.0, 99);
        check(100.0, 100);
        check(0.0, 1);
        assert_eq!(percentile(&[], 50.0), Duration::ZERO);
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(&[]), 0.0);
    }

    #[test]
    fn memory_lines_are_read_in_bytes() {
        let status = "Name:\tsafety-bot\nVmHWM:\t  161240 kB\nVmRSS:\t   98304 kB\n";
        assert_eq!(status_bytes(status, "VmHWM:"), Some(161_240 * 1024));
        assert_eq!(status_bytes(status, "VmRSS:"), Some(98_304 * 1024));
        assert_eq!(status_bytes(status, "VmSwap:"), None);
        assert_eq!(status_bytes("VmHWM:\tlots kB\n", "VmHWM:"), None);
    }

    #[test]
    fn this_process_has_a_peak_at_least_its_size() {
        // One reading of the file, so both figures are of the same moment.
        if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
            let peak = status_bytes(&status, "VmHWM:").unwrap();
            let now = status_bytes(&status, "VmRSS:").unwrap();
            assert!(peak >= now && now > 0, "peak {peak}, now {now}");
        }
    }
}
