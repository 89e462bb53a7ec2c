//! The command line. Parses arguments, loads the knowledge, opens the engine
//! and runs one subcommand. This is the only place that turns errors into
//! exit codes: 0 success, 2 bad usage or bad input, 1 internal failure.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::engine::Engine;
use crate::knowledge::{self, Knowledge};

#[derive(Parser, Debug)]
#[command(
    name = "safety-bot",
    version,
    about = "安全知识问答：回答居民的安全生产与生活安全问题",
    disable_help_subcommand = true
)]
pub struct Cli {
    /// 数据目录（索引等），也可用环境变量 SAFETY_BOT_DATA 设置
    #[arg(long, global = true, env = "SAFETY_BOT_DATA", default_value = "data")]
    pub data_dir: PathBuf,
    /// 知识库目录，也可用环境变量 SAFETY_BOT_KNOWLEDGE 设置；
    /// 省略时用当前目录下的 knowledge/，没有则用程序内置的知识库
    #[arg(long, global = true, env = "SAFETY_BOT_KNOWLEDGE")]
    pub knowledge: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// 回答问题：给出问题，或从标准输入每行读一个问题
    ///
    /// 从标准输入批量读取且输出不是终端时（管道、文件），默认每个回答输出一行 JSON；
    /// 用 --text 改为文字。
    Ask {
        /// 每个回答输出一行 JSON
        #[arg(long, conflicts_with = "text")]
        json: bool,
        /// 输出给人看的文字（即使输出到管道）
        #[arg(long)]
        text: bool,
        /// 列出候选条目及各项得分，便于排查为什么这样回答
        #[arg(long, conflicts_with = "json")]
        explain: bool,
        /// 问题（省略时从标准输入读取）
        question: Vec<String>,
    },
    /// 在终端里对话，行为与机器人相同（/help、/topics、/hotline）
    Chat,
    /// 导出全部条目
    Export {
        #[arg(long, value_enum, default_value = "jsonl")]
        format: ExportFormat,
        /// 输出文件（省略时写到标准输出）
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// 检查知识库，逐条报告问题
    Check,
    /// 启动 Telegram 机器人（默认长轮询；给出 --webhook-url 时用 webhook）
    ///
    /// 令牌从环境变量 TELOXIDE_TOKEN 读取，或用 --token-file 指定文件；
    /// 需要代理时设置环境变量 TELOXIDE_PROXY（也认 HTTPS_PROXY）。
    /// 日志写到标准错误，用 RUST_LOG 调整详细程度（默认 info），不会出现令牌。
    /// 收到 SIGINT/SIGTERM 后发完正在处理的回答再退出。
    Serve {
        /// 从文件读取机器人令牌（文件里只放令牌）
        #[arg(long, value_name = "FILE")]
        token_file: Option<PathBuf>,
        /// Bot API 服务器地址（自建服务器或测试用），默认 https://api.telegram.org
        #[arg(long, env = "TELOXIDE_API_URL", value_name = "URL")]
        api_url: Option<String>,
        /// 改用 webhook 接收消息：Telegram 推送到的 https 地址（反向代理对外的地址）
        #[arg(long, requires = "listen", value_name = "URL")]
        webhook_url: Option<String>,
        /// webhook 模式下本机监听的地址，例如 127.0.0.1:8443
        #[arg(long, requires = "webhook_url", value_name = "ADDR")]
        listen: Option<std::net::SocketAddr>,
    },
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum ExportFormat {
    Jsonl,
}

/// An error on its way to the user: a Chinese message and an exit code.
#[derive(Debug)]
pub struct CliError {
    pub code: u8,
    pub message: String,
}

impl CliError {
    pub fn input(message: impl Into<String>) -> CliError {
        CliError {
            code: 2,
            message: message.into(),
        }
    }
    pub fn internal(message: impl Into<String>) -> CliError {
        CliError {
            code: 1,
            message: message.into(),
        }
    }
}

/// clap's built-in texts are English; residents and staff read Chinese.
/// Headings, the usage line and the help and version flags are replaced for
/// every subcommand, including ones added later.
fn localize(command: clap::Command, root: bool) -> clap::Command {
    use clap::{Arg, ArgAction};
    let mut command = command
        .help_template("{about-with-newline}\n用法：{usage}\n\n{all-args}{after-help}")
        .subcommand_help_heading("命令")
        .disable_help_flag(true)
        .arg(
            Arg::new("help")
                .short('h')
                .long("help")
                .action(ArgAction::Help)
                .help("显示帮助")
                .global(true),
        )
        .mut_args(|arg| {
            if arg.get_help_heading().is_some() {
                arg
            } else if arg.is_positional() {
                arg.help_heading("参数")
            } else {
                arg.help_heading("选项")
            }
        });
    if root {
        command = command.disable_version_flag(true).arg(
            Arg::new("version")
                .short('V')
                .long("version")
                .action(ArgAction::Version)
                .help("显示版本")
                .help_heading("选项"),
        );
    }
    command.mut_subcommands(|sub| localize(sub, false))
}

pub fn run() -> ExitCode {
    use clap::{CommandFactory, FromArgMatches};
    let parsed = localize(Cli::command(), true)
        .try_get_matches()
        .and_then(|matches| Cli::from_arg_matches(&matches));
    let cli = match parsed {
        Ok(cli) => cli,
        Err(error) => {
            use clap::error::ErrorKind;
            return match error.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                    let _ = error.print();
                    ExitCode::SUCCESS
                }
                ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    let _ = error.print();
                    ExitCode::from(2)
                }
                _ => {
                    eprintln!(
                        "命令行参数有误：{}\n用 safety-bot --help 查看用法。",
                        usage_problem(&error)
                    );
                    ExitCode::from(2)
                }
            };
        }
    };
    match execute(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("错误：{}", error.message);
            ExitCode::from(error.code)
        }
    }
}

/// A clap error in one Chinese sentence.
fn usage_problem(error: &clap::Error) -> String {
    use clap::error::{ContextKind, ErrorKind};
    let context = |kind: ContextKind| error.get(kind).map(ToString::to_string).unwrap_or_default();
    match error.kind() {
        ErrorKind::UnknownArgument => format!("不认识的参数 {}", context(ContextKind::InvalidArg)),
        ErrorKind::InvalidSubcommand => {
            format!("没有 {} 这个命令", context(ContextKind::InvalidSubcommand))
        }
        ErrorKind::MissingRequiredArgument => {
            format!("缺少必需的参数 {}", context(ContextKind::InvalidArg))
        }
        ErrorKind::MissingSubcommand => "缺少命令（如 ask、chat、check）".to_string(),
        ErrorKind::InvalidValue | ErrorKind::ValueValidation => format!(
            "{} 的值“{}”无效",
            context(ContextKind::InvalidArg),
            context(ContextKind::InvalidValue)
        ),
        ErrorKind::ArgumentConflict => format!(
            "{} 不能和 {} 同时使用",
            context(ContextKind::InvalidArg),
            context(ContextKind::PriorArg)
        ),
        ErrorKind::TooManyValues => {
            format!("参数 {} 给得太多", context(ContextKind::InvalidArg))
        }
        ErrorKind::InvalidUtf8 => "参数不是有效的 UTF-8 文本".to_string(),
        _ => "无法识别".to_string(),
    }
}

fn execute(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Ask {
            json,
            text,
            explain,
            question,
        } => {
            if explain {
                let engine = open_engine(cli.knowledge.as_deref(), &cli.data_dir)?;
                return explain_question(&engine, &question.join(" "));
            }
            use std::io::IsTerminal;
            // A batch from standard input into a pipe is read by a program:
            // JSON lines unless text is asked for.
            let batch_to_program = question.is_empty() && !std::io::stdout().is_terminal();
            let json = json || (batch_to_program && !text);
            let engine = open_engine(cli.knowledge.as_deref(), &cli.data_dir)?;
            ask(&engine, json, &question)
        }
        Command::Chat => {
            let engine = open_engine(cli.knowledge.as_deref(), &cli.data_dir)?;
            let stdin = std::io::stdin();
            crate::chat::run(&engine, &cli.data_dir, stdin.lock(), std::io::stdout())
                .map_err(|e| CliError::internal(format!("输出失败：{e}")))
        }
        Command::Export { format, output } => {
            let knowledge = load_knowledge(cli.knowledge.as_deref())?;
            export(&knowledge, format, output.as_deref())
        }
        Command::Check => check(cli.knowledge.as_deref()),
        Command::Serve {
            token_file,
            api_url,
            webhook_url,
            listen,
        } => {
            // The token first: a missing one should not wait for the index.
            let token =
                crate::telegram::load_token(token_file.as_deref()).map_err(telegram_error)?;
            let engine = open_engine(cli.knowledge.as_deref(), &cli.data_dir)?;
            let store = crate::store::Store::open(&cli.data_dir).map_err(|e| {
                CliError::internal(format!(
                    "无法打开数据库（数据目录 {}）：{e}",
                    cli.data_dir.display()
                ))
            })?;
            let mut config = crate::telegram::Config::new(token);
            config.api_url = api_url;
            config.proxy = std::env::var("TELOXIDE_PROXY").ok();
            config.webhook = match (webhook_url, listen) {
                (Some(url), Some(address)) => Some(crate::telegram::WebhookConfig {
                    url,
                    listen: crate::telegram::Listen::Address(address),
                }),
                _ => None,
            };
            let services = crate::telegram::Services {
                engine: std::sync::Arc::new(engine),
                store: std::sync::Arc::new(store),
                data_dir: cli.data_dir.clone(),
            };
            crate::telegram::serve(config, services).map_err(telegram_error)
        }
    }
}

/// Configuration mistakes the operator can fix are bad input (2); a network
/// or server that fails us is an internal failure (1).
fn telegram_error(error: crate::telegram::TelegramError) -> CliError {
    use crate::telegram::TelegramError as E;
    match error {
        E::MissingToken
        | E::TokenFile { .. }
        | E::MalformedToken
        | E::InvalidToken
        | E::BadApiUrl(_)
        | E::BadProxy(_)
        | E::BadWebhookUrl(_)
        | E::Listen { .. } => CliError::input(error.to_string()),
        E::Unreachable { .. } | E::Refused(_) | E::Webhook(_) | E::Runtime(_) => {
            CliError::internal(error.to_string())
        }
    }
}

/// Where the knowledge comes from: the directory named, else `knowledge/`
/// in the working directory, else the corpus built into the binary.
fn read_knowledge(dir: Option<&Path>) -> Result<(Knowledge, Vec<knowledge::Problem>), CliError> {
    let default = Path::new("knowledge");
    match dir {
        Some(dir) => knowledge::load_dir(dir).map_err(|p| CliError::input(p.to_string())),
        None if default.is_dir() => {
            knowledge::load_dir(default).map_err(|p| CliError::input(p.to_string()))
        }
        None => Ok(knowledge::load_embedded()),
    }
}

/// Loads the knowledge, warning on stderr about problems that do not stop
/// the bot from answering (run `check` for the full list).
pub fn load_knowledge(dir: Option<&Path>) -> Result<Knowledge, CliError> {
    let (knowledge, problems) = read_knowledge(dir)?;
    if !problems.is_empty() {
        eprintln!(
            "提示：知识库有 {} 处问题，运行 safety-bot check 查看详情。",
            problems.len()
        );
    }
    if knowledge.entries.is_empty() {
        return Err(CliError::input("知识库里没有任何条目"));
    }
    Ok(knowledge)
}

pub fn open_engine(knowledge_dir: Option<&Path>, data_dir: &Path) -> Result<Engine, CliError> {
    let knowledge = load_knowledge(knowledge_dir)?;
    let (engine, _rebuilt) = Engine::open(knowledge, data_dir).map_err(|e| {
        CliError::internal(format!(
            "无法打开或建立索引（数据目录 {}）：{e}",
            data_dir.display()
        ))
    })?;
    Ok(engine)
}

fn ask(engine: &Engine, json: bool, question: &[String]) -> Result<(), CliError> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let answer = |line: &str, out: &mut dyn Write| -> std::io::Result<()> {
        let reply = engine.ask(line);
        if json {
            writeln!(out, "{}", reply.to_json())
        } else {
            writeln!(out, "{}\n", reply.text())
        }
    };
    let result = if question.is_empty() {
        let stdin = std::io::stdin();
        let mut input = stdin.lock();
        let mut buffer = Vec::new();
        loop {
            buffer.clear();
            match input.read_until(b'\n', &mut buffer) {
                Ok(0) => break Ok(()),
                Ok(_) => {
                    let line = String::from_utf8_lossy(&buffer);
                    let line = line.trim_end_matches(['\n', '\r']);
                    if let Err(e) = answer(line, &mut out) {
                        break Err(e);
                    }
                }
                Err(e) => return Err(CliError::input(format!("读取标准输入失败：{e}"))),
            }
        }
    } else {
        answer(&question.join(" "), &mut out)
    };
    match result.and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        // The reader went away (`| head`): nothing more to say.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(CliError::internal(format!("输出失败：{e}"))),
    }
}

fn explain_question(engine: &Engine, question: &str) -> Result<(), CliError> {
    let reply = engine.ask(question);
    let (weights, candidates) = engine.explain(question, 8);
    let mut out = String::new();
    out.push_str("检索词及权重：");
    for (word, weight) in &weights {
        out.push_str(&format!(" {word}({weight:.2})"));
    }
    out.push_str("\n候选（覆盖度 / 贴近度 / BM25 / 综合分）：\n");
    for c in &candidates {
        out.push_str(&format!(
            "  {:.3} / {:.3} / {:6.2} / {:.3}  {}  {}\n",
            c.coverage, c.closeness, c.bm25, c.score, c.id, c.question
        ));
    }
    out.push_str(&format!(
        "结论：{:?}{}\n",
        reply.outcome,
        if reply.urgent.is_some() {
            "（紧急）"
        } else {
            ""
        }
    ));
    print!("{out}");
    Ok(())
}

fn export(
    knowledge: &Knowledge,
    format: ExportFormat,
    output: Option<&Path>,
) -> Result<(), CliError> {
    let mut text = String::new();
    match format {
        ExportFormat::Jsonl => {
            for entry in &knowledge.entries {
                let line = serde_json::to_string(entry)
                    .map_err(|e| CliError::internal(format!("导出失败：{e}")))?;
                text.push_str(&line);
                text.push('\n');
            }
        }
    }
    match output {
        Some(path) => std::fs::write(path, text)
            .map_err(|e| CliError::input(format!("无法写入 {}：{e}", path.display()))),
        None => {
            let mut out = std::io::stdout().lock();
            match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    Err(CliError::internal(format!("输出失败：{e}")))
                }
                _ => Ok(()),
            }
        }
    }
}

fn check(dir: Option<&Path>) -> Result<(), CliError> {
    let (knowledge, problems) = read_knowledge(dir)?;
    let mut counts: Vec<(&str, usize)> = knowledge::CATEGORIES
        .iter()
        .map(|c| {
            (
                *c,
                knowledge
                    .entries
                    .iter()
                    .filter(|e| e.category == *c)
                    .count(),
            )
        })
        .collect();
    counts.retain(|(_, n)| *n > 0);
    println!(
        "共 {} 个条目、{} 个同义词组、{} 张应急卡片。",
        knowledge.entries.len(),
        knowledge.synonyms.len(),
        knowledge.cards.len()
    );
    for (category, n) in counts {
        println!("  {category}：{n}");
    }
    if problems.is_empty() {
        println!("检查通过，没有发现问题。");
        Ok(())
    } else {
        for problem in &problems {
            println!("{problem}");
        }
        Err(CliError::input(format!(
            "知识库有 {} 处问题，请逐条修改后再检查。",
            problems.len()
        )))
    }
}
