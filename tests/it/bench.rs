//! `safety-bot bench` on the real binary and a tiny corpus: it runs, prints
//! one JSON object with every figure, round-trips its corpus through the
//! `export` format, and refuses bad input with exit code 2 and a Chinese
//! message. The figures themselves are measured by hand (BENCHMARKS.md):
//! a test cannot hold a shared CI machine to a latency target.

use std::path::Path;
use std::process::{Command, Output};

use safety_bot::knowledge::Entry;

use crate::fixture_dir;

/// The keys `bench --json` promises, in the order the issue lists them.
const KEYS: &[&str] = &[
    "entries",
    "questions",
    "p50_us",
    "p95_us",
    "p99_us",
    "max_us",
    "qps_1",
    "qps_2",
    "build_s",
    "index_bytes",
    "peak_rss_bytes",
    "edit_visible_ms",
    "startup_ms",
];

fn bench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_safety-bot"))
        .arg("--knowledge")
        .arg(fixture_dir())
        .arg("bench")
        .args(args)
        .output()
        .unwrap()
}

fn figures(output: &Output) -> serde_json::Map<String, serde_json::Value> {
    assert!(
        output.status.success(),
        "bench failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout.clone()).unwrap();
    assert_eq!(stdout.lines().count(), 1, "one line of JSON: {stdout}");
    let value: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    value.as_object().unwrap().clone()
}

fn number(figures: &serde_json::Map<String, serde_json::Value>, key: &str) -> f64 {
    figures[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} is not a number: {}", figures[key]))
}

fn saved_entries(path: &Path) -> Vec<Entry> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[test]
fn bench_json_has_every_figure_and_they_are_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus.jsonl");
    let questions = dir.path().join("questions.txt");
    let output = bench(&[
        "--entries",
        "40",
        "--question-count",
        "60",
        "--save-corpus",
        corpus.to_str().unwrap(),
        "--save-questions",
        questions.to_str().unwrap(),
        "--json",
    ]);
    let figures = figures(&output);
    let mut keys: Vec<&str> = figures.keys().map(String::as_str).collect();
    keys.sort();
    let mut expected = KEYS.to_vec();
    expected.sort();
    assert_eq!(keys, expected);

    assert_eq!(figures["entries"], 40);
    assert_eq!(figures["questions"], 60);
    let ordered: Vec<f64> = ["p50_us", "p95_us", "p99_us", "max_us"]
        .iter()
        .map(|k| number(&figures, k))
        .collect();
    assert!(ordered[0] > 0.0, "{ordered:?}");
    assert!(ordered.windows(2).all(|w| w[0] <= w[1]), "{ordered:?}");
    for key in [
        "qps_1",
        "qps_2",
        "build_s",
        "index_bytes",
        "edit_visible_ms",
        "startup_ms",
    ] {
        assert!(number(&figures, key) > 0.0, "{key}: {}", figures[key]);
    }
    if Path::new("/proc/self/status").exists() {
        // Jieba's dictionary alone takes tens of megabytes.
        assert!(number(&figures, "peak_rss_bytes") > 10e6);
    }

    // The saved corpus is the benchmarked one, in the `export` format.
    let entries = saved_entries(&corpus);
    assert_eq!(entries.len(), 40);
    let grown = entries.iter().filter(|e| e.id.contains("-x")).count();
    assert_eq!(grown, 40 - 11, "the fixture's 11 entries, then grown ones");
    let saved_questions = std::fs::read_to_string(&questions).unwrap();
    assert_eq!(saved_questions.lines().count(), 60);
}

#[test]
fn a_saved_corpus_and_question_file_are_benchmarked_as_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus.jsonl");
    // At the fixture's own size the corpus is the fixture, exactly what
    // `export` writes (the order follows the topic files).
    let output = bench(&[
        "--question-count",
        "5",
        "--save-corpus",
        corpus.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(figures(&output)["entries"], 11);
    let export = Command::new(env!("CARGO_BIN_EXE_safety-bot"))
        .arg("--knowledge")
        .arg(fixture_dir())
        .arg("export")
        .output()
        .unwrap();
    let mut exported: Vec<String> = String::from_utf8(export.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    let mut saved: Vec<String> = std::fs::read_to_string(&corpus)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    exported.sort();
    saved.sort();
    assert_eq!(saved, exported);

    let questions = dir.path().join("questions.txt");
    std::fs::write(
        &questions,
        "燃气报警器装在哪\n\n电动车能进电梯吗\n今天天气怎么样\n",
    )
    .unwrap();
    let output = bench(&[
        "--corpus",
        corpus.to_str().unwrap(),
        "--questions",
        questions.to_str().unwrap(),
        "--question-count",
        "7",
        "--json",
    ]);
    let figures = figures(&output);
    assert_eq!(figures["entries"], 11);
    // Three questions (the blank line skipped), asked round-robin 7 times.
    assert_eq!(figures["questions"], 7);
}

#[test]
fn bench_prints_a_readable_report_without_json() {
    let output = bench(&["--question-count", "5"]);
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    for label in [
        "语料：11 个条目",
        "p99",
        "峰值内存",
        "编辑生效",
        "启动到第一个回答",
    ] {
        assert!(text.contains(label), "missing {label}:\n{text}");
    }
}

/// Bad input: exit code 2 and a Chinese message naming the problem.
#[track_caller]
fn check_refused(args: &[&str], message: &str) {
    let output = bench(args);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(stderr.contains(message), "{args:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(output.stdout.is_empty());
}

#[test]
fn bad_input_is_refused_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    };
    let good =
        r#"{"id":"a-1","category":"燃气安全","question":"问","answer":"答","source":"来源"}"#;
    let bad_line = path("bad.jsonl", &format!("{good}\n{{\"id\": 3}}\n"));
    let duplicate = path("dup.jsonl", &format!("{good}\n\n{good}\n"));
    let empty = path("empty.jsonl", "\n\n");
    let no_questions = path("blank.txt", "  \n\n");
    let missing = dir.path().join("missing.jsonl");
    let missing = missing.to_str().unwrap();
    let unwritable = dir.path().join("no-such-dir/corpus.jsonl");

    check_refused(&["--corpus", missing], "无法读取语料文件");
    check_refused(&["--corpus", &bad_line], "第 2 行不是有效的条目");
    check_refused(
        &["--corpus", &duplicate],
        "第 3 行：编号“a-1”与前面的条目重复",
    );
    check_refused(&["--corpus", &empty], "没有任何条目");
    check_refused(&["--questions", &no_questions], "没有任何问题");
    check_refused(&["--questions", missing], "无法读取问题文件");
    check_refused(&["--save-corpus", unwritable.to_str().unwrap()], "无法写入");
    check_refused(&["--entries", "0"], "命令行参数有误");
    check_refused(&["--question-count", "0"], "命令行参数有误");
    check_refused(&["--entries", "5", "--corpus", &bad_line], "命令行参数有误");
}
