//! The command line. Parses arguments, loads the knowledge, opens the engine
//! and runs one subcommand. This is the only place that turns errors into
//! exit codes: 0 success, 2 bad usage or bad input, 1 internal failure.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use crate::bench::{BenchConfig, CorpusSource, QuestionSource};
use crate::engine::Engine;
use crate::export::ExportFormat;
use crate::knowledge;
use crate::staff::{self, ImportFile, ImportOptions, Staff, StaffError, Stage};
use crate::store::{EntryState, Origin, Pending, ShippedSync, StoredEntry};

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
    /// 导出全部使用中的条目（可再导入：导出、导入，什么都不变）
    Export {
        #[arg(long, value_enum, default_value = "jsonl")]
        format: ExportFormat,
        /// 输出文件（省略时写到标准输出；xlsx 在终端上必须指定文件）
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// 导入条目：.xlsx 表格、.csv、.jsonl（导出格式）或 .toml（知识库格式）
    ///
    /// 先检查全部文件，逐行报告问题；默认只要有一行不合格就什么都不导入。
    Import {
        /// 要导入的文件（可以多个，一起检查、一起写入）
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// 只导入合格的行，不合格的行跳过并报告
        #[arg(long)]
        skip_invalid: bool,
        /// 只检查，不写入
        #[arg(long)]
        dry_run: bool,
    },
    /// 生成填写用的 Excel 模板（表头、两行示例、分类下拉列表、填写说明）
    Template {
        /// 模板文件名，例如 问答模板.xlsx
        #[arg(long)]
        output: PathBuf,
    },
    /// 按数据库里的条目重建搜索索引
    Reindex,
    /// 查看和管理条目：list、show、delete、restore、add-alternate、adopt
    #[command(subcommand)]
    Entries(EntriesCommand),
    /// 最近没能很好回答的问题（未回答、只给出建议、被点 👎），相似的合并，次数多的在前
    Unanswered {
        /// 统计最近几天
        #[arg(long, default_value_t = 7)]
        days: u32,
        /// 最多列出几组
        #[arg(long, default_value_t = 30)]
        limit: usize,
    },
    /// 使用统计：提问次数、直接回答比例、紧急提示、热门分类、👍/👎
    Stats {
        /// 统计最近几天
        #[arg(long, default_value_t = 7)]
        days: u32,
        /// 同时把每小时提问数的柱状图写成 PNG 文件
        #[arg(long)]
        chart: Option<PathBuf>,
    },
    /// 安全宣传咨询日活动信息（机器人 /event 显示的内容）
    #[command(subcommand)]
    Event(EventCommand),
    /// 检查知识库，逐条报告问题
    Check,
    /// 性能基准测试：延迟、吞吐、内存、建索引、编辑生效和启动时间
    ///
    /// 在临时目录里建索引并测量，不动数据目录。默认用知识库原样；
    /// --entries 把知识库按固定规则扩充到指定条数（同样的知识库得到同样的语料）。
    /// 请用 release 版本（cargo build --release）在空闲的机器上运行。
    Bench {
        /// 把知识库扩充（或均匀抽取）到这么多条目
        #[arg(long, value_name = "N", conflicts_with = "corpus", value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
        entries: Option<u64>,
        /// 用导出的语料文件（export 的 JSONL 格式）原样测试
        #[arg(long, value_name = "FILE.jsonl")]
        corpus: Option<PathBuf>,
        /// 把测试用的语料存成 export 的 JSONL 格式，供对比的引擎使用同样的条目
        #[arg(long, value_name = "FILE.jsonl")]
        save_corpus: Option<PathBuf>,
        /// 问题文件（每行一个），代替内置的问题集
        #[arg(long, value_name = "FILE")]
        questions: Option<PathBuf>,
        /// 把计时用的问题存成文件（每行一个）
        #[arg(long, value_name = "FILE")]
        save_questions: Option<PathBuf>,
        /// 计时的问题数：内置问题集的大小；用问题文件时至少提问这么多次（文件较短时循环提问）
        #[arg(long, value_name = "N", default_value_t = crate::bench::DEFAULT_TIMED_QUESTIONS as u64, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
        question_count: u64,
        /// 在这个目录里准备测试用的知识库和索引并保留（默认用临时目录，测完删除）
        #[arg(long, value_name = "DIR")]
        work_dir: Option<PathBuf>,
        /// 输出一个 JSON 对象
        #[arg(long)]
        json: bool,
    },
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
        /// 工作人员的 Telegram 用户 id，逗号分隔；只有他们能用导入、统计等工作人员命令
        #[arg(
            long,
            env = "SAFETY_BOT_STAFF",
            value_delimiter = ',',
            value_name = "IDS"
        )]
        staff: Vec<u64>,
    },
}

#[derive(Subcommand, Debug)]
pub enum EntriesCommand {
    /// 列出条目（默认只列使用中的）
    List {
        /// 只列这个分类
        #[arg(long)]
        category: Option<String>,
        /// 只列已删除（可恢复）的条目
        #[arg(long)]
        deleted: bool,
        /// 只列工作人员改过或新增的条目
        #[arg(long)]
        edited: bool,
        /// 只列知识库文件有新版本、但因工作人员改过而没有采用的条目
        #[arg(long)]
        pending: bool,
    },
    /// 显示一个条目的全部内容和修改历史
    Show { id: String },
    /// 删除条目（可用 restore 恢复）
    Delete { id: String },
    /// 恢复已删除的条目
    Restore { id: String },
    /// 给条目加一个相似问法（例如 unanswered 列出的问题）
    AddAlternate { id: String, question: String },
    /// 采用知识库文件里的新版本（见 list --pending）
    Adopt { id: String },
}

#[derive(Subcommand, Debug)]
pub enum EventCommand {
    /// 显示当前的活动信息
    Show,
    /// 发布活动信息（时间、地点、活动安排）
    Set {
        /// 活动信息全文（多个参数以空格连接）
        #[arg(required = true)]
        text: Vec<String>,
    },
    /// 撤下活动信息
    Clear,
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
    let knowledge_dir = cli.knowledge.as_deref();
    let data_dir = cli.data_dir.as_path();
    match cli.command {
        Command::Ask {
            json,
            text,
            explain,
            question,
        } => {
            if explain {
                let engine = open_engine(knowledge_dir, data_dir)?;
                return explain_question(&engine, &question.join(" "));
            }
            use std::io::IsTerminal;
            // A batch from standard input into a pipe is read by a program:
            // JSON lines unless text is asked for.
            let batch_to_program = question.is_empty() && !std::io::stdout().is_terminal();
            let json = json || (batch_to_program && !text);
            let engine = open_engine(knowledge_dir, data_dir)?;
            ask(&engine, json, &question)
        }
        Command::Chat => {
            let engine = open_engine(knowledge_dir, data_dir)?;
            let stdin = std::io::stdin();
            crate::chat::run(&engine, data_dir, stdin.lock(), std::io::stdout())
                .map_err(|e| CliError::internal(format!("输出失败：{e}")))
        }
        Command::Export { format, output } => {
            let staff = open_store(knowledge_dir, data_dir)?;
            export(&staff, format, output.as_deref())
        }
        Command::Import {
            files,
            skip_invalid,
            dry_run,
        } => {
            let staff = open_store(knowledge_dir, data_dir)?;
            import(&staff, &files, skip_invalid, dry_run)
        }
        Command::Template { output } => {
            let bytes = crate::export::template().map_err(|e| CliError::internal(e.to_string()))?;
            write_file(&output, &bytes)?;
            print_out(&format!(
                "已生成模板 {}：在“问答”工作表里每行填一个条目，再用 safety-bot import 导入。",
                output.display()
            ))
        }
        Command::Reindex => reindex(knowledge_dir, data_dir),
        Command::Entries(command) => entries(knowledge_dir, data_dir, command),
        Command::Unanswered { days, limit } => {
            let opened = open(knowledge_dir, data_dir)?;
            let unanswered = crate::report::unanswered(
                &opened.store,
                &opened.engine,
                days,
                chrono::Utc::now(),
                limit,
            )
            .map_err(|e| CliError::internal(e.to_string()))?;
            print_out(&crate::report::unanswered_text(&unanswered))
        }
        Command::Stats { days, chart } => {
            let staff = open_store(knowledge_dir, data_dir)?;
            let stats = crate::report::stats(staff.store(), days, chrono::Utc::now())
                .map_err(|e| CliError::internal(e.to_string()))?;
            if let Some(path) = chart {
                let png = crate::report::chart_png(&stats)
                    .map_err(|e| CliError::internal(e.to_string()))?;
                write_file(&path, &png)?;
                eprintln!("每小时提问数的柱状图已写入 {}", path.display());
            }
            print_out(&crate::report::stats_text(&stats))
        }
        Command::Event(command) => {
            let staff = open_store(knowledge_dir, data_dir)?;
            match command {
                EventCommand::Show => print_out(&crate::event::text_from(staff.store())),
                EventCommand::Set { text } => {
                    staff
                        .set_event(&text.join(" "), &actor())
                        .map_err(staff_error)?;
                    print_out(&format!(
                        "已发布。/event 现在显示：\n{}",
                        crate::event::text_from(staff.store())
                    ))
                }
                EventCommand::Clear => {
                    staff.set_event("", &actor()).map_err(staff_error)?;
                    print_out("已撤下活动信息。")
                }
            }
        }
        Command::Check => check(knowledge_dir),
        Command::Bench {
            entries,
            corpus,
            save_corpus,
            questions,
            save_questions,
            question_count,
            work_dir,
            json,
        } => {
            let config = BenchConfig {
                corpus: match (entries, corpus) {
                    (Some(n), _) => CorpusSource::Grown(n as usize),
                    (None, Some(path)) => CorpusSource::File(path),
                    (None, None) => CorpusSource::Shipped,
                },
                questions: questions.map_or(QuestionSource::BuiltIn, QuestionSource::File),
                timed_questions: question_count as usize,
                save_corpus,
                save_questions,
                // Start-up is timed on this very binary, as an operator runs it.
                binary: std::env::current_exe().ok(),
                work_dir,
            };
            bench(knowledge_dir, &config, json)
        }
        Command::Serve {
            token_file,
            api_url,
            webhook_url,
            listen,
            staff,
        } => {
            // The token first: a missing one should not wait for the index.
            let token =
                crate::telegram::load_token(token_file.as_deref()).map_err(telegram_error)?;
            let opened = open(knowledge_dir, data_dir)?;
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
                engine: opened.engine,
                store: opened.store,
                data_dir: data_dir.to_path_buf(),
                staff: Some(Arc::new(opened.staff)),
                staff_ids: staff,
            };
            crate::telegram::serve(config, services).map_err(telegram_error)
        }
    }
}

fn bench(knowledge_dir: Option<&Path>, config: &BenchConfig, json: bool) -> Result<(), CliError> {
    let (knowledge, problems) =
        knowledge::load_shipped(knowledge_dir).map_err(|p| CliError::input(p.to_string()))?;
    if !problems.is_empty() {
        eprintln!(
            "提示：知识库有 {} 处问题，运行 safety-bot check 查看详情。",
            problems.len()
        );
    }
    if knowledge.entries.is_empty() {
        return Err(CliError::input(format!(
            "{} 里没有任何条目",
            knowledge::shipped_place(knowledge_dir)
        )));
    }
    let mut progress = |line: &str| eprintln!("… {line}");
    let report = crate::bench::run(knowledge, config, &mut progress).map_err(|e| {
        if e.is_bad_input() {
            CliError::input(e.to_string())
        } else {
            CliError::internal(e.to_string())
        }
    })?;
    if json {
        println!("{}", report.to_json());
    } else {
        println!("{}", report.text());
    }
    Ok(())
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

/// Who acts, as the revision history records it.
fn actor() -> String {
    let user = std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "unknown".to_string());
    format!("cli:{user}")
}

fn staff_error(error: StaffError) -> CliError {
    if error.is_user_error() {
        CliError::input(error.to_string())
    } else {
        CliError::internal(error.to_string())
    }
}

fn open_error(error: staff::OpenError) -> CliError {
    match error {
        staff::OpenError::Knowledge(_) | staff::OpenError::NoEntries(_) => {
            CliError::input(error.to_string())
        }
        _ => CliError::internal(error.to_string()),
    }
}

/// Says on stderr what loading `knowledge/` did, when a person should know:
/// problems in the files, staff-owned entries with a newer shipped version.
fn report_opening(problems: usize, shipped: &ShippedSync) {
    if problems > 0 {
        eprintln!("提示：知识库有 {problems} 处问题，运行 safety-bot check 查看详情。");
    }
    if !shipped.newly_pending.is_empty() {
        eprintln!(
            "提示：知识库文件更新了 {} 个工作人员改过的条目（{}），已保留工作人员的版本。运行 safety-bot entries list --pending 查看，entries adopt 编号 采用新版本。",
            shipped.newly_pending.len(),
            shipped.newly_pending.join("、")
        );
    }
}

/// Opens the store, the engine and the staff operations together.
pub fn open(knowledge_dir: Option<&Path>, data_dir: &Path) -> Result<staff::Opened, CliError> {
    let opened = staff::open(knowledge_dir, data_dir).map_err(open_error)?;
    report_opening(opened.problems, &opened.shipped);
    Ok(opened)
}

fn open_store(knowledge_dir: Option<&Path>, data_dir: &Path) -> Result<Staff, CliError> {
    let opened = staff::open_store(knowledge_dir, data_dir).map_err(open_error)?;
    report_opening(opened.problems.len(), &opened.shipped);
    Ok(opened.staff)
}

/// The engine over the store's active entries (after loading `knowledge/`
/// into the store), with its index under `data_dir`.
pub fn open_engine(knowledge_dir: Option<&Path>, data_dir: &Path) -> Result<Arc<Engine>, CliError> {
    Ok(open(knowledge_dir, data_dir)?.engine)
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

fn export(staff: &Staff, format: ExportFormat, output: Option<&Path>) -> Result<(), CliError> {
    use std::io::IsTerminal;
    let bytes = staff.export(format).map_err(staff_error)?;
    match output {
        Some(path) => {
            write_file(path, &bytes)?;
            eprintln!("已导出到 {}", path.display());
            Ok(())
        }
        None if format == ExportFormat::Xlsx && std::io::stdout().is_terminal() => Err(
            CliError::input("xlsx 是二进制文件，请用 --output 文件名.xlsx 指定输出文件"),
        ),
        None => write_stdout(&bytes),
    }
}

fn write_stdout(bytes: &[u8]) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(CliError::internal(format!("输出失败：{e}")))
        }
        _ => Ok(()),
    }
}

fn print_out(text: &str) -> Result<(), CliError> {
    write_stdout(format!("{}\n", text.trim_end()).as_bytes())
}

/// Writes a file whole: into a temporary file beside it, then renamed, so
/// nobody ever opens half of it.
fn write_file(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    let fail = |e: std::io::Error| CliError::input(format!("无法写入 {}：{e}", path.display()));
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut file = tempfile::NamedTempFile::new_in(&dir).map_err(fail)?;
    file.write_all(bytes).map_err(fail)?;
    file.persist(path).map_err(|e| fail(e.error))?;
    Ok(())
}

/// What the command line says after a change it made to the store.
const CHANGE_NOTE: &str =
    "运行中的机器人会自动载入这一更改；机器人没有运行时，下次启动会自动更新搜索索引。";

fn import(
    staff: &Staff,
    files: &[PathBuf],
    skip_invalid: bool,
    dry_run: bool,
) -> Result<(), CliError> {
    let mut loaded = Vec::new();
    for path in files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| path.display().to_string());
        let bytes = crate::sheet::read_path(path)
            .map_err(|e| CliError::input(format!("{}：{e}", path.display())))?;
        loaded.push(ImportFile { name, bytes });
    }
    let options = ImportOptions {
        skip_invalid,
        dry_run,
        dedupe_key: None,
        actor: actor(),
    };
    let mut progress = ImportProgress::new();
    let report = staff
        .import(loaded, &options, &mut |stage, done, total| {
            progress.update(stage, done, total)
        })
        .map_err(staff_error)?;
    progress.finish();
    let mut text = report.text(usize::MAX);
    if report.written && report.added + report.updated + report.restored > 0 {
        text.push('\n');
        text.push_str(CHANGE_NOTE);
    }
    print_out(&text)?;
    if report.is_clean() || report.written {
        Ok(())
    } else {
        Err(CliError::input("文件有问题，没有导入任何内容。"))
    }
}

/// Below this many rows, no progress lines are written to a non-terminal.
const PLAIN_PROGRESS_FROM: usize = 1000;

/// Progress of a long import: a bar on a terminal; otherwise plain lines
/// on stderr (each stage, then every tenth of it), for logs and for
/// whoever watches the process.
struct ImportProgress {
    bar: Option<indicatif::ProgressBar>,
    stage: Option<Stage>,
    reported_tenth: usize,
}

impl ImportProgress {
    fn new() -> ImportProgress {
        use std::io::IsTerminal;
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(0);
            if let Ok(style) =
                indicatif::ProgressStyle::with_template("{msg:8} [{bar:40}] {pos}/{len} {eta}")
            {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        });
        ImportProgress {
            bar,
            stage: None,
            reported_tenth: 0,
        }
    }

    fn label(stage: Stage) -> &'static str {
        match stage {
            Stage::Reading => "读取文件",
            Stage::Checking => "检查",
            Stage::Writing => "写入",
            Stage::Indexing => "更新索引",
        }
    }

    fn update(&mut self, stage: Stage, done: usize, total: usize) {
        let new_stage = self.stage != Some(stage);
        self.stage = Some(stage);
        if let Some(bar) = &self.bar {
            if new_stage {
                bar.set_message(Self::label(stage));
                bar.set_length(total as u64);
            }
            bar.set_position(done as u64);
            return;
        }
        // Small imports finish before anyone could read a progress line.
        if total < PLAIN_PROGRESS_FROM || stage == Stage::Reading {
            return;
        }
        if new_stage {
            self.reported_tenth = 0;
            eprintln!("{}：{done}/{total}", Self::label(stage));
        } else if let Some(tenth) = (done * 10).checked_div(total)
            && tenth > self.reported_tenth
        {
            self.reported_tenth = tenth;
            eprintln!("{}：{done}/{total}", Self::label(stage));
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

fn reindex(knowledge_dir: Option<&Path>, data_dir: &Path) -> Result<(), CliError> {
    crate::index::SearchIndex::forget_fingerprint(data_dir)
        .map_err(|e| CliError::internal(format!("无法重置索引：{e}")))?;
    let started = std::time::Instant::now();
    let opened = open(knowledge_dir, data_dir)?;
    print_out(&format!(
        "索引已重建：{} 个条目，用时 {:.1} 秒。",
        opened.engine.entry_count(),
        started.elapsed().as_secs_f64()
    ))
}

fn entries(
    knowledge_dir: Option<&Path>,
    data_dir: &Path,
    command: EntriesCommand,
) -> Result<(), CliError> {
    let staff = open_store(knowledge_dir, data_dir)?;
    let actor = actor();
    match command {
        EntriesCommand::List {
            category,
            deleted,
            edited,
            pending,
        } => {
            if let Some(category) = &category
                && !knowledge::CATEGORIES.contains(&category.as_str())
            {
                return Err(CliError::input(format!(
                    "未知分类“{category}”，可用分类：{}",
                    knowledge::CATEGORIES.join("、")
                )));
            }
            let all = staff
                .store()
                .all_entries()
                .map_err(|e| CliError::internal(e.to_string()))?;
            let shown: Vec<&StoredEntry> = all
                .iter()
                .filter(|s| category.as_deref().is_none_or(|c| s.entry.category == c))
                .filter(|s| (s.state != EntryState::Active) == deleted)
                .filter(|s| !edited || s.origin == Origin::Staff)
                .filter(|s| !pending || s.pending.is_some())
                .collect();
            let mut out = String::new();
            for stored in &shown {
                out.push_str(&format!(
                    "{}\t{}\t{}{}\n",
                    stored.entry.id,
                    stored.entry.category,
                    stored.entry.question,
                    entry_marks(stored)
                ));
            }
            out.push_str(&format!("共 {} 个条目。", shown.len()));
            print_out(&out)
        }
        EntriesCommand::Show { id } => {
            let stored = staff
                .store()
                .stored_entry(&id)
                .map_err(|e| CliError::internal(e.to_string()))?
                .ok_or_else(|| CliError::input(format!("没有编号为 {id} 的条目")))?;
            let history = staff
                .store()
                .history(&id)
                .map_err(|e| CliError::internal(e.to_string()))?;
            print_out(&show_entry(&stored, &history))
        }
        EntriesCommand::Delete { id } => {
            let entry = staff.delete(&id, &actor).map_err(staff_error)?;
            print_out(&format!(
                "已删除 {id}（{}）。可用 safety-bot entries restore {id} 恢复。\n{CHANGE_NOTE}",
                entry.question
            ))
        }
        EntriesCommand::Restore { id } => {
            let entry = staff.restore(&id, &actor).map_err(staff_error)?;
            print_out(&format!(
                "已恢复 {id}（{}）。\n{CHANGE_NOTE}",
                entry.question
            ))
        }
        EntriesCommand::AddAlternate { id, question } => {
            let entry = staff
                .add_alternate(&id, &question, &actor)
                .map_err(staff_error)?;
            print_out(&format!(
                "已把“{}”加为 {id}（{}）的相似问法，现有 {} 个相似问法。\n{CHANGE_NOTE}",
                question.trim(),
                entry.question,
                entry.alternates.len()
            ))
        }
        EntriesCommand::Adopt { id } => {
            match staff.adopt_shipped(&id, &actor).map_err(staff_error)? {
                Some(entry) => print_out(&format!(
                    "已采用知识库文件里的版本：{id}（{}）。\n{CHANGE_NOTE}",
                    entry.question
                )),
                None => print_out(&format!(
                    "知识库文件已不再包含 {id}，已按文件删除（可用 entries restore 恢复）。\n{CHANGE_NOTE}"
                )),
            }
        }
    }
}

fn entry_marks(stored: &StoredEntry) -> String {
    let mut marks = Vec::new();
    if stored.state != EntryState::Active {
        marks.push(stored.state.label().to_string());
    }
    if stored.origin == Origin::Staff {
        marks.push("工作人员编辑".to_string());
    }
    match &stored.pending {
        Some(Pending::Update(_)) => marks.push("知识库文件有新版本".to_string()),
        Some(Pending::Removal) => marks.push("知识库文件已移除".to_string()),
        None => {}
    }
    if marks.is_empty() {
        String::new()
    } else {
        format!("\t[{}]", marks.join("，"))
    }
}

/// A time as stored (UTC), in Beijing time.
fn shown_time(at: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(at)
        .ok()
        .zip(chrono::FixedOffset::east_opt(8 * 3600))
        .map(|(t, zone)| {
            t.with_timezone(&zone)
                .format("%Y-%m-%d %H:%M:%S")
                .to_string()
        })
        .unwrap_or_else(|| at.to_string())
}

fn show_entry(stored: &StoredEntry, history: &[crate::store::Revision]) -> String {
    let entry = &stored.entry;
    let mut out = format!(
        "编号：{}\n分类：{}\n问题：{}\n相似问法：\n",
        entry.id, entry.category, entry.question
    );
    for alternate in &entry.alternates {
        out.push_str(&format!("  · {alternate}\n"));
    }
    out.push_str(&format!("答案：\n{}\n", entry.answer));
    if !entry.keywords.is_empty() {
        out.push_str(&format!("关键词：{}\n", entry.keywords.join("、")));
    }
    out.push_str(&format!("来源：{}\n", entry.source));
    if !entry.reviewed.is_empty() {
        out.push_str(&format!("审核日期：{}\n", entry.reviewed));
    }
    out.push_str(&format!(
        "状态：{}，{}（第 {} 版，{} 由 {} 修改）\n",
        stored.state.label(),
        if stored.origin == Origin::Staff {
            "工作人员编辑"
        } else {
            "与知识库文件一致"
        },
        stored.revision,
        shown_time(&stored.updated_at),
        stored.updated_by
    ));
    match &stored.pending {
        Some(Pending::Update(shipped)) => out.push_str(&format!(
            "知识库文件里有不同的版本（问题：{}），没有采用；运行 safety-bot entries adopt {} 采用。\n",
            shipped.question, entry.id
        )),
        Some(Pending::Removal) => out.push_str(&format!(
            "知识库文件已不再包含这个条目；运行 safety-bot entries adopt {} 按文件删除。\n",
            entry.id
        )),
        None => {}
    }
    out.push_str("修改历史：\n");
    for revision in history {
        out.push_str(&format!(
            "  第 {} 版  {}  {}  {}{}\n",
            revision.revision,
            shown_time(&revision.at),
            revision.action.label(),
            revision.actor,
            if revision.note.is_empty() {
                String::new()
            } else {
                format!("（{}）", revision.note)
            }
        ));
    }
    out
}

fn check(dir: Option<&Path>) -> Result<(), CliError> {
    let (knowledge, problems) =
        knowledge::load_shipped(dir).map_err(|p| CliError::input(p.to_string()))?;
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
