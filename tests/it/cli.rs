//! The command line on the real binary: exit codes, messages and the
//! `ask --json` contract.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use crate::fixture_dir;

fn bot(args: &[&str], stdin: &str) -> Output {
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_safety-bot"))
        .arg("--knowledge")
        .arg(fixture_dir())
        .arg("--data-dir")
        .arg(data.path())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

#[test]
fn ask_json_has_exactly_the_contract_fields() {
    let output = bot(&["ask", "--json", "燃气报警器装在哪"], "");
    assert!(output.status.success());
    let value: serde_json::Value = serde_json::from_str(stdout(&output).trim()).unwrap();
    let mut keys: Vec<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "answered", "entry", "question", "related", "reply", "score", "urgent"
        ]
    );
    assert_eq!(value["question"], "燃气报警器装在哪");
    assert_eq!(value["answered"], true);
    assert_eq!(value["urgent"], false);
    assert!(value["score"].is_number());
    let entry = value["entry"].as_object().unwrap();
    let mut entry_keys: Vec<&str> = entry.keys().map(String::as_str).collect();
    entry_keys.sort();
    assert_eq!(
        entry_keys,
        ["answer", "category", "id", "question", "source"]
    );
    assert_eq!(entry["id"], "gas-alarm");
    assert!(value["reply"].as_str().unwrap().contains("来源："));
    for related in value["related"].as_array().unwrap() {
        let mut keys: Vec<&str> = related
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort();
        assert_eq!(keys, ["answer", "id", "question"]);
    }
}

#[test]
fn ask_reads_one_question_a_line_and_answers_in_order() {
    let input = "燃气报警器装在哪\n\n今天天气怎么样\n楼下着火了\n电动车能进电梯吗";
    let output = bot(&["ask", "--json"], input);
    assert!(output.status.success());
    let lines: Vec<serde_json::Value> = stdout(&output)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 5);
    let questions: Vec<&str> = lines
        .iter()
        .map(|l| l["question"].as_str().unwrap())
        .collect();
    assert_eq!(
        questions,
        [
            "燃气报警器装在哪",
            "",
            "今天天气怎么样",
            "楼下着火了",
            "电动车能进电梯吗"
        ]
    );
    assert_eq!(lines[1]["answered"], false);
    assert_eq!(lines[2]["answered"], false);
    assert!(lines[2]["entry"].is_null());
    assert_eq!(lines[3]["urgent"], true);
    assert!(lines[3]["reply"].as_str().unwrap().starts_with("⚠️"));
    assert_eq!(lines[4]["entry"]["id"], "ebike-lift");
}

#[test]
fn invalid_utf8_on_stdin_is_not_a_crash() {
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_safety-bot"))
        .args(["--knowledge"])
        .arg(fixture_dir())
        .arg("--data-dir")
        .arg(data.path())
        .args(["ask", "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"\xff\xfe\xe7\x87\x83\n")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    assert_eq!(String::from_utf8(output.stdout).unwrap().lines().count(), 1);
}

#[test]
fn plain_ask_prints_the_reply_text() {
    let output = bot(&["ask", "燃气报警器装在哪"], "");
    assert!(output.status.success());
    let text = stdout(&output);
    assert!(text.contains("【燃气报警器应该装在什么位置？】"), "{text}");
}

#[test]
fn bad_usage_exits_2_with_a_chinese_message() {
    let output = bot(&["no-such-command"], "");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("命令行参数有误"));
}

#[test]
fn a_missing_knowledge_directory_exits_2() {
    let data = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_safety-bot"))
        .args(["--knowledge", "/nonexistent/knowledge", "--data-dir"])
        .arg(data.path())
        .args(["ask", "燃气"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("无法读取知识库目录"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn check_reports_file_entry_and_field_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("gas.toml"),
        "category = \"燃气安全\"\n[[entry]]\nid = \"gas-x\"\nquestion = \"燃气\"\nalternates = []\nanswer = \"短\"\nsource = \"\"\nreviewed = \"2026-11-28\"\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("broken.toml"), "category = \n").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_safety-bot"))
        .arg("--knowledge")
        .arg(dir.path())
        .arg("check")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let text = stdout(&output);
    assert!(text.contains("gas.toml 条目 gas-x 字段 answer"), "{text}");
    assert!(text.contains("字段 source"), "{text}");
    assert!(text.contains("字段 alternates"), "{text}");
    assert!(
        text.contains("broken.toml 第 1 行：TOML 格式错误"),
        "{text}"
    );
}

#[test]
fn check_passes_on_the_fixture() {
    let output = bot(&["check"], "");
    assert!(output.status.success(), "{}", stdout(&output));
}

#[test]
fn export_writes_every_entry_with_the_contract_fields() {
    let data = tempfile::tempdir().unwrap();
    let file = data.path().join("corpus.jsonl");
    let output = bot(
        &[
            "export",
            "--format",
            "jsonl",
            "--output",
            file.to_str().unwrap(),
        ],
        "",
    );
    assert!(output.status.success());
    let text = std::fs::read_to_string(&file).unwrap();
    let (knowledge, _) = safety_bot::knowledge::load_dir(&fixture_dir()).unwrap();
    assert_eq!(text.lines().count(), knowledge.entries.len());
    for line in text.lines() {
        let value: serde_json::Value = serde_json::from_str(line).unwrap();
        for key in [
            "id",
            "category",
            "question",
            "alternates",
            "answer",
            "keywords",
            "source",
            "reviewed",
        ] {
            assert!(value.get(key).is_some(), "{key} missing in {line}");
        }
    }
}

#[test]
fn chat_behaves_like_the_bot() {
    let output = bot(
        &["chat"],
        "/hotline\n/topics\n1\n1\n燃气报警器装在哪\n/quit\n",
    );
    assert!(output.status.success());
    let text = stdout(&output);
    assert!(text.contains("12350"), "{text}");
    assert!(text.contains("燃气安全"), "{text}");
    assert!(text.contains("来源："), "{text}");
}

#[test]
fn the_index_is_rebuilt_when_the_knowledge_changes() {
    let data = tempfile::tempdir().unwrap();
    let knowledge = tempfile::tempdir().unwrap();
    for file in std::fs::read_dir(fixture_dir()).unwrap() {
        let file = file.unwrap().path();
        std::fs::copy(&file, knowledge.path().join(file.file_name().unwrap())).unwrap();
    }
    let run = |question: &str| -> serde_json::Value {
        let output = Command::new(env!("CARGO_BIN_EXE_safety-bot"))
            .arg("--knowledge")
            .arg(knowledge.path())
            .arg("--data-dir")
            .arg(data.path())
            .args(["ask", "--json", question])
            .output()
            .unwrap();
        serde_json::from_str(String::from_utf8(output.stdout).unwrap().trim()).unwrap()
    };
    assert_eq!(run("燃气报警器装在哪")["entry"]["id"], "gas-alarm");
    let gas = knowledge.path().join("gas.toml");
    let text = std::fs::read_to_string(&gas)
        .unwrap()
        .replace("id = \"gas-alarm\"", "id = \"gas-alarm-renamed\"");
    std::fs::write(&gas, text).unwrap();
    assert_eq!(run("燃气报警器装在哪")["entry"]["id"], "gas-alarm-renamed");
}
