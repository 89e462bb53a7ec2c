//! The Telegram front end (`safety-bot serve`): receives updates by long
//! polling (or a webhook), hands questions to the answer core and renders
//! its replies as HTML messages with buttons.
//!
//! This module is the only place that knows about Telegram or teloxide; it
//! holds no retrieval logic of its own. Layout:
//! - `mod.rs` (here): configuration, start-up checks, the listener, the
//!   dispatcher, graceful shutdown, logging that never shows the token.
//! - `handlers`: the dptree handler tree (`schema()`) and what each kind of
//!   update does.
//! - `render`: replies as HTML, split into messages Telegram accepts.
//! - `callback`: what a button means, packed into `callback_data`.
//! - `send`: sending with retries, so one failed request loses no answer.
//!
//! Delivery: an update is confirmed to Telegram (by asking `getUpdates` for
//! a higher offset) once it has been handed to a worker, so after a crash
//! the unconfirmed batch comes again (at least once) while handlers that
//! were running are lost; a graceful stop lets running handlers finish and
//! confirms what was handed out. See docs/arch-telegram.md.

mod callback;
mod handlers;
mod pace;
mod render;
mod send;
mod staffing;

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use teloxide::adaptors::CacheMe;
use teloxide::dispatching::Dispatcher;
use teloxide::payloads::SetMyCommandsSetters;
use teloxide::requests::{Request, Requester, RequesterExt};
use teloxide::stop::StopToken;
use teloxide::types::{BotCommand, BotCommandScope, ChatId, Me, Recipient};
use teloxide::update_listeners::{Polling, UpdateListener, webhooks};
use teloxide::utils::command::BotCommands;
use teloxide::{ApiError, Bot, RequestError};

use crate::engine::Engine;
use crate::staff::Staff;
use crate::store::Store;

pub use callback::{Action, EntryRef, MAX_CALLBACK_BYTES, Vote};
pub use handlers::{Command, HandlerError, schema};
pub use pace::{PaceLimits, Pacer, TELEGRAM_LIMITS};
pub use render::{MAX_MESSAGE_UNITS, visible_text, visible_units};
pub use send::RetryPolicy;
pub use staffing::{NO_PERMISSION, StaffCommand, StaffDesk};

/// The bot as handlers see it: `getMe` answered once and remembered.
/// Messages are paced by [`Pacer`] on their way out (`send`), not by
/// teloxide's `Throttle`, whose batches overran Telegram's windows.
pub type TelegramBot = CacheMe<Bot>;

/// Where Telegram lives unless told otherwise.
pub const DEFAULT_API_URL: &str = "https://api.telegram.org";

/// How `run` connects and behaves. `Config::new` gives the production
/// values; tests relax the limits and shorten the waits.
pub struct Config {
    pub token: String,
    /// Another Bot API server (self-hosted, or a test fake).
    pub api_url: Option<String>,
    /// A proxy for every request (`TELOXIDE_PROXY`); reqwest also honours
    /// `HTTPS_PROXY`/`NO_PROXY` on its own.
    pub proxy: Option<String>,
    /// Receive updates by webhook instead of long polling.
    pub webhook: Option<WebhookConfig>,
    /// A ready HTTP client (tests: one that ignores proxy variables);
    /// `proxy` is then not used.
    pub client: Option<reqwest::Client>,
    /// Telegram's flood limits as the bot keeps to them.
    pub limits: PaceLimits,
    pub retry: RetryPolicy,
    /// Attempts at `getMe` before start-up gives up as unreachable.
    pub startup_attempts: u32,
    /// How long one `getUpdates` long poll waits for news. Must stay below
    /// the HTTP client's 17 s timeout.
    pub poll_timeout: Duration,
    /// Back-off of the polling loop after a failed `getUpdates`.
    pub poll_backoff: (Duration, Duration),
    /// After a stop signal, how long running answers may take to finish.
    pub shutdown_grace: Duration,
}

impl Config {
    pub fn new(token: String) -> Config {
        Config {
            token,
            api_url: None,
            proxy: None,
            webhook: None,
            client: None,
            limits: TELEGRAM_LIMITS,
            retry: RetryPolicy::default(),
            startup_attempts: 4,
            poll_timeout: Duration::from_secs(10),
            poll_backoff: (Duration::from_secs(1), Duration::from_secs(64)),
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

/// Webhook mode: Telegram posts updates to `url`, which a reverse proxy
/// forwards to `listen`.
pub struct WebhookConfig {
    pub url: String,
    pub listen: Listen,
}

/// Where the webhook server listens.
pub enum Listen {
    Address(SocketAddr),
    /// A socket already bound (tests bind port 0 and pass it in).
    Socket(tokio::net::TcpListener),
}

/// What the handlers share: the answer core, the store, the data directory
/// and, when staff are configured, the staff operations.
#[derive(Clone)]
pub struct Services {
    pub engine: Arc<Engine>,
    pub store: Arc<Store>,
    pub data_dir: PathBuf,
    /// The staff operations over the same engine and store (`None`: every
    /// staff command is refused, and command-line changes reach the bot
    /// only at the next start).
    pub staff: Option<Arc<Staff>>,
    /// Telegram user ids allowed the staff commands.
    pub staff_ids: Vec<u64>,
}

/// How often the running bot looks for changes other processes committed
/// to the store (`safety-bot import` while it runs).
pub const REFRESH_EVERY: Duration = Duration::from_secs(1);

/// One refresh step: applies to the engine what other processes committed
/// to the store. Returns how many entries changed; failures are logged and
/// retried at the next step.
pub async fn refresh_once(staff: &Arc<Staff>) -> usize {
    let staff = staff.clone();
    match tokio::task::spawn_blocking(move || staff.refresh()).await {
        Ok(Ok(changed)) => {
            if changed > 0 {
                tracing::info!(changed, "已载入命令行等其他途径对知识库的修改");
            }
            changed
        }
        Ok(Err(error)) => {
            tracing::warn!(%error, "检查知识库修改失败，稍后重试");
            0
        }
        Err(error) => {
            tracing::error!(%error, "检查知识库修改的任务失败");
            0
        }
    }
}

/// Why the bot could not start or run. The messages are for the operator.
#[derive(Debug, thiserror::Error)]
pub enum TelegramError {
    #[error(
        "没有机器人令牌：请设置环境变量 TELOXIDE_TOKEN，或用 --token-file 指定存放令牌的文件（令牌向 @BotFather 申请）。"
    )]
    MissingToken,
    #[error("无法读取令牌文件 {path}：{source}")]
    TokenFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "令牌格式不对：应形如 123456789:AAH…（数字、冒号、字母数字串），不能有空格或其他字符。请检查是否复制完整。"
    )]
    MalformedToken,
    #[error("Telegram 不接受这个令牌（Unauthorized）：请向 @BotFather 核对，或重新生成令牌。")]
    InvalidToken,
    #[error("Bot API 地址无效：{0}（应形如 https://api.telegram.org 或 http://127.0.0.1:8081）")]
    BadApiUrl(String),
    #[error("代理设置无效（TELOXIDE_PROXY）：{0}")]
    BadProxy(String),
    #[error("webhook 地址无效：{0}（应为 Telegram 能访问到的 https:// 地址）")]
    BadWebhookUrl(String),
    #[error(
        "连接不上 Telegram Bot API（{api}）：{detail}。请检查网络；在无法直接访问 Telegram 的地方，用环境变量 TELOXIDE_PROXY 设置代理，或用 --api-url 指向自建的 Bot API 服务器。"
    )]
    Unreachable { api: String, detail: String },
    #[error("Bot API 拒绝了请求：{0}")]
    Refused(String),
    #[error("无法在 {address} 上监听 webhook：{source}")]
    Listen {
        address: String,
        source: std::io::Error,
    },
    #[error("设置 webhook 失败：{0}")]
    Webhook(String),
    #[error("无法启动异步运行时：{0}")]
    Runtime(std::io::Error),
}

/// Reads the token from `file`, or from `TELOXIDE_TOKEN` when no file is
/// given, and checks its shape (not its validity: only Telegram knows).
pub fn load_token(file: Option<&Path>) -> Result<String, TelegramError> {
    let raw = match file {
        Some(path) => std::fs::read_to_string(path).map_err(|source| TelegramError::TokenFile {
            path: path.to_path_buf(),
            source,
        })?,
        None => match std::env::var("TELOXIDE_TOKEN") {
            Ok(token) => token,
            Err(std::env::VarError::NotPresent) => return Err(TelegramError::MissingToken),
            Err(std::env::VarError::NotUnicode(_)) => return Err(TelegramError::MalformedToken),
        },
    };
    let token = raw.trim();
    if token.is_empty() {
        return Err(TelegramError::MissingToken);
    }
    // The token goes into every URL path: anything beyond Telegram's
    // alphabet is a copying mistake, and '/' or '?' would break requests.
    let allowed = |b: u8| b.is_ascii_alphanumeric() || b == b':' || b == b'_' || b == b'-';
    if token.len() > 256 || !token.bytes().all(allowed) {
        return Err(TelegramError::MalformedToken);
    }
    Ok(token.to_string())
}

/// `safety-bot serve`: sets up logging and a runtime, runs the bot until
/// SIGINT or SIGTERM, then lets running answers finish. A second signal
/// exits at once.
pub fn serve(config: Config, services: Services) -> Result<(), TelegramError> {
    init_logging(&config.token);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(TelegramError::Runtime)?;
    let result = runtime.block_on(async move {
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            if stop_signal().await.is_err() {
                tracing::warn!("无法监听停止信号；只能强行结束进程");
                std::future::pending::<()>().await;
            }
            tracing::info!(
                "收到停止信号：不再接收新消息，发完正在处理的回答后退出（再发一次信号立即退出）"
            );
            let _ = stop_tx.send(());
            let _ = stop_signal().await;
            tracing::warn!("再次收到停止信号，立即退出");
            std::process::exit(130);
        });
        run(config, services, async move {
            if stop_rx.await.is_err() {
                std::future::pending::<()>().await;
            }
        })
        .await
    });
    // Blocking tasks (an answer being computed) get a moment; nothing else
    // is left running by then.
    runtime.shutdown_timeout(Duration::from_secs(5));
    result
}

async fn stop_signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
        Ok(())
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}

/// Runs the bot until `shutdown` resolves (or the listener ends), then
/// stops taking updates, confirms the ones handed out, and waits up to
/// `Config::shutdown_grace` for running handlers. This is what tests drive.
pub async fn run(
    config: Config,
    services: Services,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), TelegramError> {
    let api_url = parse_api_url(config.api_url.as_deref())?;
    // A webhook's address and socket are checked before Telegram is
    // contacted, so a typo or a busy port is reported at once.
    let webhook = match config.webhook {
        Some(webhook) => Some(prepare_webhook(webhook).await?),
        None => None,
    };
    let client = match config.client.clone() {
        Some(client) => client,
        None => build_client(config.proxy.as_deref())?,
    };
    let bot: TelegramBot = Bot::with_client(config.token.clone(), client)
        .set_api_url(api_url.clone())
        .cache_me();

    tokio::pin!(shutdown);
    let api_shown = api_url.as_str().trim_end_matches('/').to_string();
    tracing::info!(api = %api_shown, entries = services.engine.entry_count(), "正在连接 Telegram Bot API");
    let me = tokio::select! {
        me = connect(&bot, config.startup_attempts, &config.retry, &api_shown) => me?,
        () = &mut shutdown => return Ok(()),
    };
    let username = me.user.username.clone().unwrap_or_default();
    tracing::info!(bot = %format!("@{username}"), "已连接");

    let menu_staff = if services.staff.is_some() {
        services.staff_ids.clone()
    } else {
        Vec::new()
    };
    tokio::spawn(register_commands(bot.clone(), config.retry, menu_staff));

    if services.staff.is_some() {
        tracing::info!(staff = services.staff_ids.len(), "工作人员命令已启用");
    }
    let desk = services
        .staff
        .clone()
        .map(|staff| Arc::new(StaffDesk::new(staff, services.staff_ids.iter().copied())));
    // Stopped when `run` returns (the guard aborts it), so nothing outlives
    // the bot.
    let _refresher = services.staff.clone().map(|staff| {
        AbortOnDrop(tokio::spawn(async move {
            let mut every = tokio::time::interval(REFRESH_EVERY);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                refresh_once(&staff).await;
            }
        }))
    });
    let context = handlers::Context {
        retry: config.retry,
        pacer: Pacer::new(config.limits),
        desk,
    };
    let mut dispatcher = Dispatcher::builder(bot.clone(), schema())
        .dependencies(teloxide::dptree::deps![
            services.engine.clone(),
            services.store.clone(),
            Arc::new(context)
        ])
        .default_handler(|update| async move {
            tracing::debug!(update_id = update.id.0, "忽略一条无需处理的更新");
        })
        .error_handler(Arc::new(|error: HandlerError| async move {
            tracing::error!(%error, "处理一条消息时出错");
        }))
        .build();

    match webhook {
        None => {
            remove_webhook(&bot, &config.retry).await;
            let (first, most) = config.poll_backoff;
            let mut polling = Polling::builder(bot.clone())
                .timeout(config.poll_timeout)
                .backoff_strategy(move |errors| {
                    first.saturating_mul(1u32 << errors.min(16)).min(most)
                })
                .build();
            let stop = polling.stop_token();
            tracing::info!("开始接收消息（长轮询）");
            let (listener_bot, retry) = (bot.clone(), config.retry);
            let errors = Arc::new(move |error: RequestError| {
                on_listener_error(&listener_bot, &retry, &error);
                std::future::ready(())
            });
            let dispatch = dispatcher.try_dispatch_with_listener(polling, errors);
            finish(dispatch, stop, shutdown, config.shutdown_grace).await
        }
        Some((url, socket, address)) => {
            let options = webhooks::Options::new(address, url);
            let (mut listener, stopped, router) = webhooks::axum_to_router(bot.clone(), options)
                .await
                .map_err(|e| TelegramError::Webhook(e.to_string()))?;
            let stop = listener.stop_token();
            let server = tokio::spawn(async move {
                if let Err(error) = axum::serve(socket, router)
                    .with_graceful_shutdown(stopped)
                    .await
                {
                    tracing::error!(%error, "webhook 服务器出错");
                }
            });
            tracing::info!(%address, "开始接收消息（webhook）");
            let errors = Arc::new(|error: std::convert::Infallible| async move { match error {} });
            let dispatch = dispatcher.try_dispatch_with_listener(listener, errors);
            let result = finish(dispatch, stop, shutdown, config.shutdown_grace).await;
            let _ = server.await;
            result
        }
    }
}

/// Checks the webhook URL and binds its socket.
async fn prepare_webhook(
    webhook: WebhookConfig,
) -> Result<(reqwest::Url, tokio::net::TcpListener, SocketAddr), TelegramError> {
    let url = reqwest::Url::parse(&webhook.url)
        .ok()
        .filter(|u| matches!(u.scheme(), "https" | "http") && u.host().is_some())
        .ok_or_else(|| TelegramError::BadWebhookUrl(webhook.url.clone()))?;
    let socket = match webhook.listen {
        Listen::Socket(socket) => socket,
        Listen::Address(address) => {
            tokio::net::TcpListener::bind(address)
                .await
                .map_err(|source| TelegramError::Listen {
                    address: address.to_string(),
                    source,
                })?
        }
    };
    let address = socket
        .local_addr()
        .map_err(|source| TelegramError::Listen {
            address: "?".to_string(),
            source,
        })?;
    Ok((url, socket, address))
}

/// Aborts a background task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Waits for the dispatcher; on shutdown, stops the listener (which
/// confirms the updates handed out) and gives running handlers the grace
/// period. The dispatcher's own `ShutdownToken` is not used: awaiting it
/// can miss its wake-up and hang (see docs/arch-telegram.md).
async fn finish(
    dispatch: impl Future<Output = Result<(), RequestError>>,
    stop: StopToken,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) -> Result<(), TelegramError> {
    tokio::pin!(dispatch);
    let result = tokio::select! {
        result = &mut dispatch => result,
        () = shutdown => {
            stop.stop();
            match tokio::time::timeout(grace, &mut dispatch).await {
                Ok(result) => result,
                Err(_) => {
                    tracing::warn!(
                        grace_s = grace.as_secs(),
                        "等待正在处理的回答超时，直接退出；未发出的回答不会重发"
                    );
                    Ok(())
                }
            }
        }
    };
    // `getMe` is cached by then, so this cannot fail; handled all the same.
    result.map_err(|e| TelegramError::Refused(e.to_string()))?;
    tracing::info!("已停止");
    Ok(())
}

fn parse_api_url(given: Option<&str>) -> Result<reqwest::Url, TelegramError> {
    let text = given
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .unwrap_or(DEFAULT_API_URL);
    // teloxide appends `/bot<token>/<method>` to the path: a trailing slash
    // would make an empty segment.
    let url = reqwest::Url::parse(text.trim_end_matches('/'))
        .map_err(|e| TelegramError::BadApiUrl(format!("{text}（{e}）")))?;
    if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() || url.host().is_none() {
        return Err(TelegramError::BadApiUrl(text.to_string()));
    }
    Ok(url)
}

fn build_client(proxy: Option<&str>) -> Result<reqwest::Client, TelegramError> {
    let mut builder = teloxide::net::default_reqwest_settings();
    if let Some(proxy) = proxy.map(str::trim).filter(|p| !p.is_empty()) {
        let proxy = reqwest::Proxy::all(proxy)
            .map_err(|e| TelegramError::BadProxy(format!("{proxy}（{e}）")))?;
        builder = builder.proxy(proxy);
    }
    builder
        .build()
        .map_err(|e| TelegramError::BadProxy(e.to_string()))
}

/// `getMe`, retried a few times: a wrong token fails at once, a network
/// that stays down fails after `startup_attempts`.
async fn connect(
    bot: &TelegramBot,
    attempts: u32,
    retry: &RetryPolicy,
    api: &str,
) -> Result<Me, TelegramError> {
    let mut failures = 0;
    loop {
        let error = match bot.get_me().send().await {
            Ok(me) => return Ok(me),
            Err(error) => error,
        };
        let wait = match (&error, send::retry_for(&error)) {
            (RequestError::Api(ApiError::InvalidToken), _) => {
                return Err(TelegramError::InvalidToken);
            }
            (_, Some(send::Retry::After(wait))) => wait,
            (_, Some(send::Retry::BackOff)) if failures + 1 < attempts => retry.delay(failures),
            (RequestError::Api(_), None) => return Err(TelegramError::Refused(error.to_string())),
            _ => {
                return Err(TelegramError::Unreachable {
                    api: api.to_string(),
                    detail: describe(&error),
                });
            }
        };
        failures += 1;
        tracing::warn!(%error, wait_ms = wait.as_millis() as u64, "连接 Telegram 失败，稍后重试");
        tokio::time::sleep(wait).await;
    }
}

/// A failed start-up request, for the operator.
fn describe(error: &RequestError) -> String {
    match error {
        RequestError::Network(source) => {
            let what = if source.is_timeout() {
                "超时"
            } else if source.is_connect() {
                "无法建立连接"
            } else {
                "网络错误"
            };
            format!("{what}（{source}）")
        }
        RequestError::InvalidJson { .. } => {
            "服务器的答复不是 Bot API 的格式，请检查地址是否正确".to_string()
        }
        other => other.to_string(),
    }
}

/// Puts the commands, with their Chinese descriptions, in the menu.
/// Answering does not depend on it, so failures are only logged.
async fn register_commands(bot: TelegramBot, retry: RetryPolicy, staff_ids: Vec<u64>) {
    // teloxide spells commands with their slash; the Bot API wants the bare
    // name (1–32 lowercase letters, digits, underscores).
    let commands: Vec<BotCommand> = Command::bot_commands()
        .into_iter()
        .map(|c| BotCommand::new(c.command.trim_start_matches('/'), c.description))
        .collect();
    match send::deliver(&retry, bot.set_my_commands(commands.clone())).await {
        Ok(_) => tracing::debug!("命令菜单已注册"),
        Err(error) => tracing::warn!(%error, "注册命令菜单失败（不影响回答问题）"),
    }
    // Staff see their commands too, in their own private chat only
    // (a private chat's id is the user's id). Residents never see them.
    let mut staff_menu = commands;
    staff_menu.extend(
        StaffCommand::bot_commands()
            .into_iter()
            .map(|c| BotCommand::new(c.command.trim_start_matches('/'), c.description)),
    );
    for id in staff_ids {
        let Ok(chat) = i64::try_from(id) else {
            continue;
        };
        let scope = BotCommandScope::Chat {
            chat_id: Recipient::Id(ChatId(chat)),
        };
        let request = bot.set_my_commands(staff_menu.clone()).scope(scope);
        if let Err(error) = send::deliver(&retry, request).await {
            tracing::warn!(%error, staff_id = id, "注册工作人员命令菜单失败（命令照样可用）");
        }
    }
}

/// Long polling and a webhook exclude each other: a webhook left set (by
/// an earlier webhook deployment) would make every `getUpdates` fail. One
/// retry only: should this check fail, polling starts anyway and a
/// "webhook is active" answer removes the webhook then (see
/// `on_listener_error`).
async fn remove_webhook(bot: &TelegramBot, retry: &RetryPolicy) {
    let retry = RetryPolicy {
        attempts: 2,
        ..*retry
    };
    match send::deliver(&retry, bot.get_webhook_info()).await {
        Ok(info) if info.url.is_some() => {
            tracing::warn!("检测到之前设置的 webhook，改用长轮询前将其删除");
            delete_webhook(bot, &retry).await;
        }
        Ok(_) => {}
        Err(error) => tracing::warn!(%error, "查询 webhook 状态失败，继续启动"),
    }
}

async fn delete_webhook(bot: &TelegramBot, retry: &RetryPolicy) {
    if let Err(error) = send::deliver(retry, bot.delete_webhook()).await {
        tracing::error!(%error, "删除 webhook 失败，长轮询收不到消息");
    }
}

/// What the polling loop reports when `getUpdates` fails; teloxide itself
/// waits (`retry_after`, or its back-off) and polls again.
fn on_listener_error(bot: &TelegramBot, retry: &RetryPolicy, error: &RequestError) {
    let webhook_active = match error {
        RequestError::Api(ApiError::CantGetUpdates) => true,
        // Telegram's wording has grown since teloxide learnt it.
        RequestError::Api(ApiError::Unknown(text)) => text.contains("webhook is active"),
        _ => false,
    };
    match error {
        _ if webhook_active => {
            tracing::warn!("Telegram 说 webhook 仍在使用，删除它以便长轮询");
            let (bot, retry) = (bot.clone(), *retry);
            tokio::spawn(async move { delete_webhook(&bot, &retry).await });
        }
        RequestError::Api(ApiError::TerminatedByOtherGetUpdates) => tracing::error!(
            "另一个进程正在用同一个令牌接收消息（409 Conflict）：同一个机器人只能运行一个 safety-bot serve"
        ),
        RequestError::Api(ApiError::InvalidToken) => {
            tracing::error!("Telegram 不再接受这个令牌：令牌可能已被重新生成，请更新后重启")
        }
        _ => tracing::warn!(%error, "接收消息失败，稍后自动重试"),
    }
}

/// Logs to stderr with `RUST_LOG` filtering (default `info`), with the
/// token masked in every line whatever a library prints.
fn init_logging(token: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    use std::io::IsTerminal;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(Redacting::new(token))
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
}

/// A stderr writer that masks secrets. Each log event is formatted into one
/// writer, so buffering until drop sees whole lines.
#[derive(Clone)]
struct Redacting {
    secrets: Arc<Vec<String>>,
}

impl Redacting {
    fn new(token: &str) -> Redacting {
        let mut secrets = vec![token.to_string(), token.replace(':', "%3A")];
        // The part after the colon is the secret proper; mask it alone too
        // when it is long enough not to collide with ordinary words.
        if let Some((_, secret)) = token.split_once(':')
            && secret.len() >= 16
        {
            secrets.push(secret.to_string());
        }
        secrets.retain(|s| !s.is_empty());
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        Redacting {
            secrets: Arc::new(secrets),
        }
    }

    fn mask(&self, text: &str) -> String {
        let mut out = text.to_string();
        for secret in self.secrets.iter() {
            out = out.replace(secret.as_str(), "<令牌已隐藏>");
        }
        out
    }
}

struct RedactingWriter {
    redacting: Redacting,
    buffer: Vec<u8>,
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Redacting {
    type Writer = RedactingWriter;

    fn make_writer(&'a self) -> RedactingWriter {
        RedactingWriter {
            redacting: self.clone(),
            buffer: Vec::new(),
        }
    }
}

impl std::io::Write for RedactingWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let text = self.redacting.mask(&String::from_utf8_lossy(&self.buffer));
        self.buffer.clear();
        let mut stderr = std::io::stderr().lock();
        stderr.write_all(text.as_bytes())?;
        stderr.flush()
    }
}

impl Drop for RedactingWriter {
    fn drop(&mut self) {
        use std::io::Write;
        let _ = self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_urls_are_checked_and_trailing_slashes_dropped() {
        let ok = |given: &str, expected: &str| {
            assert_eq!(parse_api_url(Some(given)).unwrap().as_str(), expected);
        };
        ok("http://127.0.0.1:8081/", "http://127.0.0.1:8081/");
        ok(
            "https://tg.example.org/botapi/",
            "https://tg.example.org/botapi",
        );
        assert_eq!(
            parse_api_url(None).unwrap().as_str(),
            "https://api.telegram.org/"
        );
        for bad in ["api.telegram.org", "ftp://x", "mailto:a@b", "http://"] {
            assert!(parse_api_url(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_token_file_is_read_trimmed_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        let good = file("good", "  123456789:AAH-x_y\n");
        assert_eq!(load_token(Some(&good)).unwrap(), "123456789:AAH-x_y");
        let empty = file("empty", "\n");
        assert!(matches!(
            load_token(Some(&empty)),
            Err(TelegramError::MissingToken)
        ));
        for (name, text) in [
            ("space", "123:abc def"),
            ("slash", "123:abc/def"),
            ("two", "a\nb"),
        ] {
            let path = file(name, text);
            assert!(
                matches!(load_token(Some(&path)), Err(TelegramError::MalformedToken)),
                "{text:?}"
            );
        }
        assert!(matches!(
            load_token(Some(&dir.path().join("missing"))),
            Err(TelegramError::TokenFile { .. })
        ));
    }

    #[test]
    fn the_token_is_masked_in_log_lines() {
        let token = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw";
        let redacting = Redacting::new(token);
        let line = format!(
            "GET http://x/bot{token}/GetMe failed; secret AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw; {}",
            token.replace(':', "%3A")
        );
        let masked = redacting.mask(&line);
        assert!(
            !masked.contains("AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"),
            "{masked}"
        );
        assert_eq!(masked.matches("<令牌已隐藏>").count(), 3, "{masked}");
    }
}
