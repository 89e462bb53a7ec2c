//! kill -9 at any moment leaves the old state or the new one: never half
//! an import, never an index that disagrees with the store after restart.
//!
//! The real binary imports a large file; the test waits for its progress
//! lines on stderr (writing 10 %, 50 %, 90 % done), kills it there, opens
//! the store and checks that it holds either none or all of the file, then
//! restarts the binary and checks that what it answers agrees with the
//! store. Last, it kills a start-up in the middle of rebuilding the index
//! (signalled by the build directory appearing) and checks the next start.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use safety_bot::store::Store;

use crate::fixture_dir;
use crate::sheets::HEADER;

const BULK_ROWS: usize = 4000;
const FIXTURE_ENTRIES: usize = 11;
const MARKER_QUESTION: &str = "咨询日现场的燃气灶展台在几号馆";

fn bot(data: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_safety-bot"));
    command
        .arg("--knowledge")
        .arg(fixture_dir())
        .arg("--data-dir")
        .arg(data);
    command
}

/// The id `ask` answers the marker question with, if it answers it.
fn marker_answer(data: &Path) -> Option<String> {
    let output = bot(data)
        .args(["ask", "--json", MARKER_QUESTION])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let reply: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    (reply["answered"] == true)
        .then(|| reply["entry"]["id"].as_str().map(str::to_string))
        .flatten()
}

fn write_big_file(path: &Path) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(out, "{}", HEADER.join(",")).unwrap();
    writeln!(
        out,
        "crash-marker,燃气安全,{MARKER_QUESTION},燃气灶展台在哪,燃气灶展台在 3 号馆。,,活动通知,2026-06-01"
    )
    .unwrap();
    for n in 0..BULK_ROWS {
        writeln!(
            out,
            "bulk-{n},燃气安全,批量问题{n}号燃气表漏气找谁修,\"燃气表{n}坏了\n表{n}漏气打哪个电话\",关闭阀门、开窗通风、到室外打抢修电话。,燃气表,本市燃气公司,2026-06-01"
        )
        .unwrap();
    }
}

/// Reads the child's progress lines until writing reaches `tenths`/10,
/// then kills it. Returns the line it was killed at.
fn kill_while_writing(mut child: Child, tenths: usize) -> String {
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = Vec::new();
    for line in stderr.lines() {
        let line = line.unwrap();
        if let Some((done, total)) = line
            .strip_prefix("写入：")
            .and_then(|rest| rest.split_once('/'))
        {
            let (done, total): (usize, usize) = (done.parse().unwrap(), total.parse().unwrap());
            if done * 10 >= total * tenths && done < total {
                child.kill().unwrap();
                child.wait().unwrap();
                return line;
            }
        }
        seen.push(line);
    }
    let status = child.wait().unwrap();
    panic!("the import ended ({status}) before writing reached {tenths}/10: {seen:#?}");
}

fn active_count(data: &Path) -> usize {
    Store::open(data).unwrap().active_entries().unwrap().len()
}

#[test]
fn kill_9_during_an_import_leaves_the_old_state_or_the_new() {
    let data = tempfile::tempdir().unwrap();
    let file = data.path().join("big.csv");
    write_big_file(&file);
    assert_eq!(marker_answer(data.path()), None);

    let mut killed_before_commit = 0;
    let mut imported = false;
    for tenths in [1, 5, 9] {
        let child = bot(data.path())
            .arg("import")
            .arg(&file)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let at = kill_while_writing(child, tenths);
        let count = active_count(data.path());
        eprintln!("killed at {at}: the store holds {count} entries");
        assert!(
            count == FIXTURE_ENTRIES || count == FIXTURE_ENTRIES + BULK_ROWS + 1,
            "killed at {at:?}: {count} entries, half an import"
        );
        // The restarted binary answers from exactly what the store holds.
        let answer = marker_answer(data.path());
        if count == FIXTURE_ENTRIES {
            killed_before_commit += 1;
            assert_eq!(answer, None, "killed at {at:?}");
        } else {
            imported = true;
            assert_eq!(answer.as_deref(), Some("crash-marker"), "killed at {at:?}");
            break;
        }
    }
    assert!(
        killed_before_commit > 0,
        "no kill landed before the commit: the test proved nothing"
    );

    if !imported {
        let output = bot(data.path()).arg("import").arg(&file).output().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(active_count(data.path()), FIXTURE_ENTRIES + BULK_ROWS + 1);
    }

    // The next start rebuilds the index for the new entries; kill it while
    // it builds, as soon as the build directory appears.
    let mut child = bot(data.path())
        .args(["ask", "--json", MARKER_QUESTION])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let building = data.path().join(format!("index.building-{}", child.id()));
    let deadline = Instant::now() + Duration::from_secs(60);
    while !building.exists() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the start ended ({status}) before building the index");
        }
        assert!(Instant::now() < deadline, "no index build started");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(marker_answer(data.path()).as_deref(), Some("crash-marker"));
}
