//! `safety-bot serve` as an operator runs it: a process pointed at the fake
//! with `--api-url`, stopped with SIGTERM. Also the start-up failures: no
//! token, a malformed one, one Telegram refuses, an API nobody answers.

use std::io::Read;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use crate::fake::FakeBotApi;
use crate::{TOKEN, USER, WITHIN, fixture_dir, message, text_of};

/// The binary with a clean environment: fixture knowledge, a fresh data
/// directory, no proxies (they would reroute loopback calls), no token.
fn serve(data_dir: &std::path::Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_safety-bot"));
    command
        .arg("--knowledge")
        .arg(fixture_dir())
        .arg("--data-dir")
        .arg(data_dir)
        .arg("serve")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for variable in [
        "TELOXIDE_TOKEN",
        "TELOXIDE_API_URL",
        "TELOXIDE_PROXY",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "SAFETY_BOT_DATA",
        "SAFETY_BOT_KNOWLEDGE",
    ] {
        command.env_remove(variable);
    }
    command.env("NO_PROXY", "*").env("RUST_LOG", "trace");
    command
}

/// Waits for the process to exit (on a thread, so the deadline holds) and
/// returns its status and standard error.
fn finish(mut child: Child, within: Duration) -> (ExitStatus, String) {
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    let status = match rx.recv_timeout(within) {
        Ok(status) => status.unwrap(),
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            panic!("safety-bot serve did not exit within {within:?}");
        }
    };
    (status, reader.join().unwrap())
}

fn terminate(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_answers_and_stops_cleanly_on_sigterm_without_logging_the_token() {
    let fake = FakeBotApi::start(TOKEN).await;
    let data_dir = tempfile::tempdir().unwrap();
    let token_file = data_dir.path().join("token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    let child = serve(
        data_dir.path(),
        &[
            "--token-file",
            token_file.to_str().unwrap(),
            "--api-url",
            &fake.url,
        ],
    )
    .spawn()
    .unwrap();

    let update = fake.push(message(USER, USER, "燃气报警器装在哪"));
    let sent = fake
        .wait_call("sendmessage", WITHIN, |b| b["chat_id"] == USER)
        .await
        .body;
    assert!(
        text_of(&sent).starts_with("<b>燃气报警器应该装在什么位置？</b>"),
        "{sent}"
    );
    fake.wait_call("setmycommands", WITHIN, |_| true).await;

    terminate(&child);
    let (status, stderr) = tokio::task::spawn_blocking(move || finish(child, WITHIN))
        .await
        .unwrap();
    assert!(status.success(), "exit {status:?}\n{stderr}");
    assert_eq!(
        fake.confirmed_offset(),
        update + 1,
        "the update is confirmed"
    );
    let secret = TOKEN.split_once(':').unwrap().1;
    assert!(!stderr.contains(secret), "the token leaked into the log");
    assert!(stderr.contains("已连接"), "{stderr}");
    assert!(stderr.contains("已停止"), "{stderr}");
}

#[test]
fn a_missing_token_is_explained_in_chinese_with_exit_2() {
    let data_dir = tempfile::tempdir().unwrap();
    let (status, stderr) = finish(serve(data_dir.path(), &[]).spawn().unwrap(), WITHIN);
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("TELOXIDE_TOKEN"), "{stderr}");
    assert!(stderr.contains("--token-file"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_malformed_token_is_refused_before_connecting() {
    let data_dir = tempfile::tempdir().unwrap();
    for token in ["123:abc def", "123/abc", "   "] {
        let mut command = serve(data_dir.path(), &["--api-url", "http://127.0.0.1:9"]);
        command.env("TELOXIDE_TOKEN", token);
        let (status, stderr) = finish(command.spawn().unwrap(), WITHIN);
        assert_eq!(status.code(), Some(2), "{token:?}: {stderr}");
        assert!(
            stderr.contains("令牌格式不对") || stderr.contains("没有机器人令牌"),
            "{token:?}: {stderr}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_telegram_refuses_is_explained_with_exit_2() {
    let fake = FakeBotApi::start(TOKEN).await;
    let data_dir = tempfile::tempdir().unwrap();
    let mut command = serve(data_dir.path(), &["--api-url", &fake.url]);
    command.env("TELOXIDE_TOKEN", "999999:a-token-that-was-revoked-long-ago");
    let child = command.spawn().unwrap();
    let (status, stderr) = tokio::task::spawn_blocking(move || finish(child, WITHIN))
        .await
        .unwrap();
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("Telegram 不接受这个令牌"), "{stderr}");
    assert!(
        !stderr.contains("a-token-that-was-revoked-long-ago"),
        "{stderr}"
    );
    assert_eq!(fake.calls("getme").len(), 1, "no retry for a refused token");
}

#[test]
fn an_unreachable_api_is_explained_with_exit_1() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let data_dir = tempfile::tempdir().unwrap();
    let mut command = serve(
        data_dir.path(),
        &["--api-url", &format!("http://127.0.0.1:{port}")],
    );
    command.env("TELOXIDE_TOKEN", TOKEN);
    let (status, stderr) = finish(command.spawn().unwrap(), WITHIN);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("连接不上 Telegram Bot API"), "{stderr}");
    assert!(stderr.contains("TELOXIDE_PROXY"), "{stderr}");
    assert!(
        !stderr.contains(TOKEN.split_once(':').unwrap().1),
        "{stderr}"
    );
}

#[test]
fn webhook_options_go_together() {
    let data_dir = tempfile::tempdir().unwrap();
    let mut command = serve(
        data_dir.path(),
        &["--webhook-url", "https://bot.example.org/hook"],
    );
    command.env("TELOXIDE_TOKEN", TOKEN);
    let (status, stderr) = finish(command.spawn().unwrap(), WITHIN);
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--listen"), "{stderr}");

    // A bad webhook address is reported before Telegram is contacted (the
    // API address here would take seconds to give up on).
    let mut command = serve(
        data_dir.path(),
        &[
            "--webhook-url",
            "bot.example.org/hook",
            "--listen",
            "127.0.0.1:0",
            "--api-url",
            "http://127.0.0.1:9",
        ],
    );
    command.env("TELOXIDE_TOKEN", TOKEN);
    let (status, stderr) = finish(command.spawn().unwrap(), WITHIN);
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("webhook 地址无效"), "{stderr}");
}

/// `SAFETY_BOT_STAFF` names the staff of the real binary: theirs `/stats`
/// is answered, anyone else's is refused and the attempt logged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_come_from_the_environment_and_refusals_are_logged() {
    let fake = FakeBotApi::start(TOKEN).await;
    let data_dir = tempfile::tempdir().unwrap();
    let mut command = serve(data_dir.path(), &["--api-url", &fake.url]);
    command
        .env("TELOXIDE_TOKEN", TOKEN)
        .env("SAFETY_BOT_STAFF", format!("{USER},12345"));
    let child = command.spawn().unwrap();

    fake.push(message(USER, USER, "/stats"));
    let stats = fake
        .wait_call("sendmessage", WITHIN, |b| b["chat_id"] == USER)
        .await
        .body;
    assert!(text_of(&stats).contains("最近 7 天"), "{stats}");
    const STRANGER: i64 = 777_001;
    fake.push(message(STRANGER, STRANGER, "/stats"));
    let refused = fake
        .wait_call("sendmessage", WITHIN, |b| b["chat_id"] == STRANGER)
        .await
        .body;
    assert!(text_of(&refused).contains("无权限"), "{refused}");

    terminate(&child);
    let (status, stderr) = tokio::task::spawn_blocking(move || finish(child, WITHIN))
        .await
        .unwrap();
    assert!(status.success(), "exit {status:?}\n{stderr}");
    assert!(
        stderr.contains("非工作人员尝试使用工作人员命令"),
        "{stderr}"
    );
    assert!(stderr.contains("777001"), "{stderr}");
}

#[test]
fn staff_ids_must_be_numbers() {
    let data_dir = tempfile::tempdir().unwrap();
    let mut command = serve(data_dir.path(), &["--staff", "4242,张三"]);
    command.env("TELOXIDE_TOKEN", TOKEN);
    let (status, stderr) = finish(command.spawn().unwrap(), WITHIN);
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--staff"), "{stderr}");
}
