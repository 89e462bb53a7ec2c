//! The staff commands on the real binary: template → import → export round
//! trips, row errors and refusals with exit code 2 and Chinese messages,
//! `entries`, `event`, `unanswered`, `stats` and `reindex`.

use std::path::Path;
use std::process::{Command, Output};

use safety_bot::store::{LoggedQuestion, Store};

use crate::fixture_dir;
use crate::sheets::{HEADER, csv, good_row, row};

fn run(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_safety-bot"))
        .arg("--knowledge")
        .arg(fixture_dir())
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).to_string()
}

#[track_caller]
fn ok(data: &Path, args: &[&str]) -> String {
    let output = run(data, args);
    assert!(
        output.status.success(),
        "{args:?} failed: {}\n{}",
        stdout(&output),
        stderr(&output)
    );
    stdout(&output)
}

/// Runs a command that must fail as bad input (exit 2), with a message and
/// no panic; returns stdout and stderr together.
#[track_caller]
fn refused(data: &Path, args: &[&str]) -> String {
    let output = run(data, args);
    assert_eq!(
        output.status.code(),
        Some(2),
        "{args:?}: {}",
        stderr(&output)
    );
    let text = format!("{}{}", stdout(&output), stderr(&output));
    assert!(!text.contains("panicked"), "{text}");
    assert!(stderr(&output).starts_with("错误："), "{text}");
    text
}

fn path(data: &Path, name: &str) -> String {
    data.join(name).to_str().unwrap().to_string()
}

#[test]
fn template_import_and_export_round_trip() {
    let data = tempfile::tempdir().unwrap();
    let d = data.path();
    let template = path(d, "模板.xlsx");
    ok(d, &["template", "--output", &template]);
    let imported = ok(d, &["import", &template]);
    assert!(
        imported.contains("导入完成：新增 2 条，更新 0 条，未变 0 条，拒绝 0 条。"),
        "{imported}"
    );
    for format in ["xlsx", "csv", "jsonl"] {
        let file = path(d, &format!("全部.{format}"));
        ok(d, &["export", "--format", format, "--output", &file]);
        let again = ok(d, &["import", &file]);
        assert!(
            again.contains("新增 0 条，更新 0 条，未变 13 条，拒绝 0 条"),
            "{format}: {again}"
        );
    }
    let output = run(d, &["export", "--format", "csv"]);
    assert!(
        output
            .stdout
            .starts_with(b"\xEF\xBB\xBF\xE7\xBC\x96\xE5\x8F\xB7"),
        "BOM then 编号"
    );
}

#[test]
fn a_file_with_problems_exits_2_and_lists_each_row() {
    let data = tempfile::tempdir().unwrap();
    let d = data.path();
    let bad = path(d, "bad.csv");
    let rows = vec![
        good_row(1),
        row("", "燃气安全", "燃气表在哪", "", "燃气公司"),
        row("", "天气", "明天下雨吗", "不知道。", "气象台"),
    ];
    std::fs::write(&bad, csv(&HEADER, &rows)).unwrap();
    let text = refused(d, &["import", &bad]);
    assert!(text.contains("bad.csv 第 3 行“答案”列：缺少答案"), "{text}");
    assert!(
        text.contains("bad.csv 第 4 行“分类”列：未知分类“天气”"),
        "{text}"
    );
    assert!(
        text.contains("错误：文件有问题，没有导入任何内容。"),
        "{text}"
    );
    // With --skip-invalid the good row goes in.
    let partial = ok(d, &["import", "--skip-invalid", &bad]);
    assert!(
        partial.contains("导入完成：新增 1 条，更新 0 条，未变 0 条，拒绝 2 条"),
        "{partial}"
    );
}

#[test]
fn unreadable_files_are_refused_in_chinese() {
    let data = tempfile::tempdir().unwrap();
    let d = data.path();
    let mut encrypted = vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
    encrypted.extend(
        "EncryptedPackage"
            .encode_utf16()
            .flat_map(|u| u.to_le_bytes()),
    );
    let locked = path(d, "加密.xlsx");
    std::fs::write(&locked, encrypted).unwrap();
    assert!(refused(d, &["import", &locked]).contains("密码保护"));
    let missing = path(d, "没有这个文件.xlsx");
    assert!(refused(d, &["import", &missing]).contains("无法读取文件"));
    let photo = path(d, "照片.jpg");
    std::fs::write(&photo, b"\xFF\xD8\xFF\xE0").unwrap();
    assert!(refused(d, &["import", &photo]).contains("不支持的文件类型"));
}

#[test]
fn entries_can_be_listed_shown_deleted_and_restored() {
    let data = tempfile::tempdir().unwrap();
    let d = data.path();
    let list = ok(d, &["entries", "list", "--category", "燃气安全"]);
    assert!(
        list.contains("gas-alarm\t燃气安全\t燃气报警器应该装在什么位置？"),
        "{list}"
    );
    assert!(list.ends_with("共 3 个条目。\n"), "{list}");
    let show = ok(d, &["entries", "show", "gas-alarm"]);
    assert!(show.contains("状态：使用中，与知识库文件一致"), "{show}");
    assert!(show.contains("随知识库文件新增  knowledge/"), "{show}");
    assert!(
        ok(d, &["ask", "--json", "燃气报警器应该装在什么位置"]).contains("\"id\":\"gas-alarm\"")
    );
    ok(d, &["entries", "delete", "gas-alarm"]);
    assert!(refused(d, &["entries", "delete", "gas-alarm"]).contains("条目 gas-alarm 已经删除"));
    assert!(ok(d, &["entries", "list", "--deleted"]).contains("gas-alarm"));
    // The next start rebuilds the index from the store: no longer answered.
    assert!(
        !ok(d, &["ask", "--json", "燃气报警器应该装在什么位置"]).contains("\"id\":\"gas-alarm\"")
    );
    ok(d, &["entries", "restore", "gas-alarm"]);
    assert!(
        ok(d, &["ask", "--json", "燃气报警器应该装在什么位置"]).contains("\"id\":\"gas-alarm\"")
    );
    let history = ok(d, &["entries", "show", "gas-alarm"]);
    assert!(history.contains("删除  cli:"), "{history}");
    assert!(history.contains("恢复  cli:"), "{history}");
    assert!(refused(d, &["entries", "show", "no-such"]).contains("没有编号为 no-such 的条目"));
    assert!(refused(d, &["entries", "list", "--category", "天气"]).contains("未知分类"));
}

#[test]
fn the_event_notice_is_set_and_shown_everywhere() {
    let data = tempfile::tempdir().unwrap();
    let d = data.path();
    assert!(ok(d, &["event", "show"]).contains("还没有发布"));
    ok(
        d,
        &["event", "set", "6月16日上午9点，人民广场，燃气与消防咨询台"],
    );
    assert!(ok(d, &["event", "show"]).contains("人民广场"));
    let chat = Command::new(env!("CARGO_BIN_EXE_safety-bot"))
        .arg("--knowledge")
        .arg(fixture_dir())
        .arg("--data-dir")
        .arg(d)
        .arg("chat")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = chat.stdin.as_ref().unwrap();
        stdin.write_all("/event\n/quit\n".as_bytes()).unwrap();
    }
    let output = chat.wait_with_output().unwrap();
    assert!(stdout(&output).contains("安全宣传咨询日活动信息：\n6月16日上午9点，人民广场"));
    ok(d, &["event", "clear"]);
    assert!(ok(d, &["event", "show"]).contains("还没有发布"));
    let too_long = "字".repeat(3001);
    assert!(refused(d, &["event", "set", &too_long]).contains("活动信息太长"));
}

fn log(store: &Store, question: &str, outcome: &str, entry_id: Option<&str>) {
    store
        .log_question(&LoggedQuestion {
            channel: "telegram",
            user_hash: Some("u1"),
            question,
            outcome,
            urgent: false,
            entry_id,
            score: 0.5,
        })
        .unwrap();
}

#[test]
fn unanswered_and_stats_read_the_question_log() {
    let data = tempfile::tempdir().unwrap();
    let d = data.path();
    ok(d, &["entries", "list"]);
    {
        let store = Store::open(d).unwrap();
        for _ in 0..3 {
            log(&store, "燃气报警器挂多高合适", "suggest", Some("gas-alarm"));
        }
        log(
            &store,
            "燃气报警器挂多高合适？",
            "suggest",
            Some("gas-alarm"),
        );
        log(&store, "燃气报警器该挂多高", "no_answer", None);
        log(&store, "小区停车位怎么收费", "no_answer", None);
        log(&store, "心肺复苏怎么做", "answer", Some("aid-cpr"));
        store
            .record_feedback("aid-cpr", "u2", -1, Some("心肺复苏按压多快"))
            .unwrap();
        store.record_feedback("gas-hose", "u3", 1, None).unwrap();
    }
    let text = ok(d, &["unanswered", "--days", "7"]);
    assert!(
        text.contains("1. 燃气报警器挂多高合适  ×5（未回答 1，只给出建议 4；"),
        "{text}"
    );
    assert!(
        text.contains("建议：加为条目 gas-alarm（燃气报警器应该装在什么位置？）的相似问法：safety-bot entries add-alternate gas-alarm \"燃气报警器挂多高合适\""),
        "{text}"
    );
    assert!(text.contains("心肺复苏按压多快  ×1（👎 1；"), "{text}");
    assert!(text.contains("建议：检查条目 aid-cpr"), "{text}");
    ok(
        d,
        &[
            "entries",
            "add-alternate",
            "gas-alarm",
            "燃气报警器挂多高合适",
        ],
    );
    assert!(ok(d, &["entries", "show", "gas-alarm"]).contains("· 燃气报警器挂多高合适"));

    let chart = path(d, "chart.png");
    let stats = ok(d, &["stats", "--days", "1", "--chart", &chart]);
    assert!(stats.contains("提问 7 次：直接回答 14%（1 次）"), "{stats}");
    assert!(stats.contains("反馈：👍 1，👎 1。"), "{stats}");
    assert!(stats.contains("热门分类：燃气安全 4、急救 1。"), "{stats}");
    let png = std::fs::read(&chart).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
}

#[test]
fn reindex_rebuilds_from_the_store() {
    let data = tempfile::tempdir().unwrap();
    let text = ok(data.path(), &["reindex"]);
    assert!(text.starts_with("索引已重建：11 个条目"), "{text}");
}
