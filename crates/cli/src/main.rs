//! `quickauth`: the command-line shell over quickauth-core, sharing the app's data dir and keyring.
//!
//! Exit codes: 0 ok, 1 error (zh + en message on stderr; with `--json` the ErrorReport JSON), 2 usage.
//! Secrets are never taken from argv: stdin lines, a hidden prompt, or a file (`@path`). The one exception is the
//! label's temporary `qr_key` (and a label payload carrying one), which dies 300 s after the printer shows it.

mod codeflow;
mod delivery;
mod output;
mod secrets;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};
use quickauth_core::{
    Error, NewLingjuProfile, NewYilianyunProfile, Options, QuickAuth, BUILTIN_SANDBOX_PROFILE,
};
use quickauth_protocol::secret::{ClientSecret, LingjuAppKey, LingjuAuthCode};
use quickauth_protocol::{ApiVersion, DeviceKey, LingjuEndpoint, MachineCode, Region, UserId};

use crate::output::{fail, Out};
use zeroize::Zeroizing;

#[derive(Parser)]
#[command(
    name = "quickauth",
    version,
    about = "QuickAuth：易联云打印机 / 灵聚设备授权工具 — authorize Yilianyun printers and Lingju devices",
    after_help = "Secrets (client secret, Lingju appkey/authcode) are read from stdin, one per line, or a hidden prompt.\n\
A printer's permanent msign is read only from stdin (--msign -) or a file (--msign @FILE), never from the command line:\n\
  printf '%s\\n' \"$MSIGN\" | quickauth authorize --machine-code 4004123456 --msign -\n\
Exit codes: 0 ok, 1 error (zh + en message on stderr), 2 usage.\n\
Environment: QUICKAUTH_DATA_DIR (data dir), QUICKAUTH_LOG (log filter, e.g. debug; logs never contain secrets),\n\
QUICKAUTH_REFRESH_DAYS (refresh --all policy, default 5), QUICKAUTH_BROWSER (browser command for --code-flow),\n\
QUICKAUTH_CRASH_AT (crash tests only: abort at a refresh step, see crates/core/README.md)."
)]
struct Cli {
    /// Data directory shared with the app (default: the app's, e.g. ~/.local/share/quickauth)
    #[arg(long, global = true, env = "QUICKAUTH_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Manage provider profiles (app credentials)
    #[command(subcommand)]
    Profile(ProfileCmd),
    /// Authorize a printer / device
    Authorize(AuthorizeArgs),
    /// Every authorized device (no secrets)
    List(JsonFlag),
    /// Show a device's tokens (masked unless --reveal; revealing warns on stderr; in a terminal it asks, and a delivered device needs --yes when not run in a terminal)
    Token {
        id: String,
        #[arg(long)]
        reveal: bool,
        /// Confirm --reveal without asking (a revealed pair stops working after QuickAuth's next refresh)
        #[arg(long, requires = "reveal")]
        yes: bool,
        #[arg(long)]
        json: bool,
    },
    /// Refresh one device now, or every device that is due (--all: fewer than QUICKAUTH_REFRESH_DAYS, default 5, days left)
    #[command(group(ArgGroup::new("which").required(true).args(["id", "all"])))]
    Refresh {
        id: Option<String>,
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// Printer status and model (getprintstatus + getversion)
    Status {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Print a small test ticket
    PrintTest {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Forget a device (--remote: also remove the authorization at Yilianyun with deleteprinter)
    Forget {
        id: String,
        #[arg(long)]
        remote: bool,
        #[arg(long)]
        json: bool,
    },
    /// Hand a device's tokens over to its profile's delivery destination (QuickAuth never refreshes it again)
    Handover {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Run the delivery outbox once (for cron); --now also sends events still waiting for their retry time
    Deliver {
        #[arg(long)]
        now: bool,
        /// Queue failed events (refused with a 4xx, or given up) again and send them now
        #[arg(long)]
        retry_failed: bool,
        #[arg(long)]
        json: bool,
    },
    /// Webhook events and their delivery status (no tokens)
    Deliveries {
        #[arg(long, default_value_t = 200)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Every authorization / refresh / printer call attempt and its outcome
    History {
        #[arg(long, default_value_t = 100)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Run the sandbox server in the foreground, or mint a sandbox label
    Sandbox(SandboxArgs),
    /// Decode printer-label QR codes from image files (one JSON object per line per file)
    Decode {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
struct JsonFlag {
    /// Print JSON (errors: the ErrorReport JSON on stderr)
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum ProfileCmd {
    /// Add a profile; secrets come from stdin (line 1, and line 2 for a Lingju authcode) or a hidden prompt
    Add(ProfileAdd),
    /// List profiles (never shows secrets)
    List(JsonFlag),
    /// Remove a profile and its keyring secrets
    Remove {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Set (--webhook URL), show, or remove (--off) the profile's delivery destination
    Delivery(delivery::DeliveryArgs),
}

#[derive(Clone, Copy, ValueEnum)]
enum ProviderArg {
    Yilianyun,
    Lingju,
}

#[derive(Clone, Copy, ValueEnum)]
enum RegionArg {
    Cn,
    Overseas,
    CnAlt,
}

#[derive(Clone, Copy, ValueEnum)]
enum ApiArg {
    V1,
    V2,
}

#[derive(Clone, Copy, ValueEnum)]
enum EndpointArg {
    Httpapi,
    Bltapi,
}

#[derive(Args)]
struct ProfileAdd {
    name: String,
    #[arg(long)]
    provider: ProviderArg,
    #[arg(long)]
    client_id: Option<String>,
    #[arg(long)]
    region: Option<RegionArg>,
    #[arg(long)]
    api: Option<ApiArg>,
    #[arg(long)]
    endpoint: Option<EndpointArg>,
    #[arg(long)]
    base_url: Option<url::Url>,
    /// Print JSON (errors: the ErrorReport JSON on stderr)
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
#[command(group(ArgGroup::new("source").required(true).args(["payload", "image", "machine_code", "userid", "code_flow"])))]
#[command(group(ArgGroup::new("key").args(["qr_key", "msign"])))]
struct AuthorizeArgs {
    /// Profile to use (default: the built-in sandbox)
    #[arg(long, default_value = BUILTIN_SANDBOX_PROFILE)]
    profile: String,
    /// Label QR text; `-` reads it from stdin, `@FILE` from a file. A label carrying a permanent msign must come
    /// from stdin or a file
    #[arg(long, value_name = "TEXT|-|@FILE")]
    payload: Option<String>,
    /// Photo / scan of the label
    #[arg(long)]
    image: Option<PathBuf>,
    /// Printer terminal number (终端号), with --qr-key or --msign
    #[arg(long, requires = "key")]
    machine_code: Option<String>,
    /// Temporary key from the printer's QR (valid 300 s); `-` reads it from stdin, `@FILE` from a file's first line
    #[arg(long, requires = "machine_code", value_name = "KEY|-|@FILE")]
    qr_key: Option<String>,
    /// Permanent device key from the label: only `-` (stdin, one line) or `@FILE` (first line), never the key itself
    #[arg(long, requires = "machine_code", value_name = "-|@FILE")]
    msign: Option<String>,
    /// Lingju device userid (a MAC with separators is fine)
    #[arg(long)]
    userid: Option<String>,
    /// Browser authorization (open-app mode)
    #[arg(long)]
    code_flow: bool,
    /// Print JSON (errors: the ErrorReport JSON on stderr)
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
struct SandboxArgs {
    /// Port on 127.0.0.1 (0 picks a free one)
    #[arg(long, default_value_t = 0)]
    port: u16,
    #[command(subcommand)]
    action: Option<SandboxCmd>,
}

#[derive(Subcommand)]
enum SandboxCmd {
    /// A signature-verifying delivery webhook receiver on 127.0.0.1 (demos, tests); signing secret from stdin line 1.
    /// Prints each event's id, type, device and generation (never a token); keeps nothing on disk.
    Receiver {
        #[arg(long, default_value_t = 0)]
        port: u16,
    },
    /// Mint a sandbox printer label offline: prints the payload, optionally writes a label PNG
    Mint {
        /// A permanent msign label instead of a temporary qr_key
        #[arg(long)]
        msign: bool,
        #[arg(long, value_enum, default_value = "json")]
        format: FormatArg,
        #[arg(long, value_name = "FILE")]
        png: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum FormatArg {
    Json,
    Url,
    Kv,
    Hash,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .worker_threads(2)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("无法启动运行时 / cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let code = runtime.block_on(run(cli));
    // The in-process sandbox and keyring workers must not keep the process alive.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    ExitCode::from(code)
}

/// `QUICKAUTH_LOG` (or `RUST_LOG`) filters; default warnings only. Logs go to stderr and never hold a secret.
fn init_logging() {
    let filter = std::env::var("QUICKAUTH_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "warn".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
}

fn data_dir(cli: &Cli) -> PathBuf {
    cli.data_dir
        .clone()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or_else(quickauth_core::default_data_dir)
}

/// `QUICKAUTH_REFRESH_DAYS=N`: refresh when fewer than N days are left (default 5), as the app's setting does.
async fn open(cli: &Cli) -> Result<QuickAuth, Error> {
    let mut opts = Options::new(data_dir(cli));
    if let Some(days) = std::env::var("QUICKAUTH_REFRESH_DAYS")
        .ok()
        .and_then(|d| d.trim().parse::<i64>().ok())
    {
        opts.refresh_days_before = days.clamp(0, 365);
    }
    QuickAuth::open(opts).await
}

async fn run(cli: Cli) -> u8 {
    match &cli.command {
        Command::Sandbox(args) => return sandbox(&cli, args).await,
        Command::Decode { files, json } => return output::decode(files, *json),
        _ => {}
    }
    let json = command_json(&cli.command);
    let res: Result<u8, Failure> = async {
        // Flag values are read (stdin, files) and checked before anything is opened or sent.
        let target = match &cli.command {
            Command::Authorize(a) => Some(authorize_target(a)?),
            _ => None,
        };
        let qa = open(&cli).await?;
        match (&cli.command, target) {
            (Command::Authorize(a), Some(target)) => authorize(&qa, a, target).await,
            (command, _) => dispatch(&qa, command).await,
        }
    }
    .await;
    match res {
        Ok(code) => code,
        Err(Failure::Core(e)) => fail(&e, json),
        Err(Failure::Read(e)) => fail(&e, json),
        Err(Failure::Usage(msg)) => {
            eprintln!("{msg}");
            2
        }
    }
}

fn command_json(c: &Command) -> bool {
    match c {
        Command::Profile(ProfileCmd::Add(a)) => a.json,
        Command::Profile(ProfileCmd::List(j)) | Command::List(j) => j.json,
        Command::Profile(ProfileCmd::Remove { json, .. }) => *json,
        Command::Profile(ProfileCmd::Delivery(a)) => a.json,
        Command::Handover { json, .. }
        | Command::Deliver { json, .. }
        | Command::Deliveries { json, .. } => *json,
        Command::Authorize(a) => a.json,
        Command::Token { json, .. }
        | Command::Refresh { json, .. }
        | Command::Status { json, .. }
        | Command::PrintTest { json, .. }
        | Command::Forget { json, .. }
        | Command::History { json, .. }
        | Command::Decode { json, .. } => *json,
        Command::Sandbox(_) => false,
    }
}

enum Failure {
    Core(Error),
    /// A flag's value could not be read from stdin or its file.
    Read(secrets::ArgReadError),
    Usage(String),
}

impl From<secrets::ArgReadError> for Failure {
    fn from(e: secrets::ArgReadError) -> Self {
        Failure::Read(e)
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Core(e)
    }
}

impl From<quickauth_protocol::InputError> for Failure {
    fn from(e: quickauth_protocol::InputError) -> Self {
        Failure::Core(e.into())
    }
}

async fn dispatch(qa: &QuickAuth, command: &Command) -> Result<u8, Failure> {
    match command {
        Command::Profile(ProfileCmd::Add(a)) => profile_add(qa, a),
        Command::Profile(ProfileCmd::List(j)) => {
            let profiles = qa.list_profiles()?;
            Out::new(j.json).profiles(&profiles);
            Ok(0)
        }
        Command::Profile(ProfileCmd::Remove { name, json }) => {
            qa.remove_profile(name)?;
            Out::new(*json).done("profile_removed", name, "已删除配置", "Profile removed");
            Ok(0)
        }
        Command::Authorize(_) => {
            unreachable!("authorize reads its flags before opening the data dir")
        }
        Command::Profile(ProfileCmd::Delivery(a)) => delivery::profile_delivery(qa, a),
        Command::Handover { id, json } => delivery::handover(qa, id, *json).await,
        Command::Deliver {
            now,
            retry_failed,
            json,
        } => delivery::deliver(qa, *now, *retry_failed, *json).await,
        Command::Deliveries { limit, json } => delivery::deliveries(qa, *limit, *json),
        Command::List(j) => {
            let devices = qa.list_devices()?;
            Out::new(j.json).devices(&devices);
            Ok(0)
        }
        Command::Token {
            id,
            reveal,
            yes,
            json,
        } => {
            if *reveal {
                if !delivery::confirm_reveal(qa, id, *yes)? {
                    return Err(Failure::Usage(
                        "已取消，未显示令牌 / Cancelled; nothing was revealed".into(),
                    ));
                }
                let t = qa.reveal_tokens(id)?;
                Out::new(*json).revealed(&t);
            } else {
                let info = qa.token_info(id)?;
                Out::new(*json).masked(&info);
            }
            Ok(0)
        }
        Command::Refresh { id, all, json } => {
            let out = Out::new(*json);
            if *all {
                let results = qa.refresh_due().await?;
                let code = out.refresh_all(&results);
                // The cron run also delivers what is queued (new pairs of delivered devices, hand-overs).
                match qa.deliver(false).await {
                    Ok(run) if !*json => delivery::print_run(&run, false),
                    Ok(_) => {}
                    Err(e) => {
                        eprintln!(
                            "交付未运行 / Deliveries not run: {}",
                            quickauth_core::ErrorReport::from(&e).message_en
                        );
                    }
                }
                Ok(code)
            } else {
                let id = id.as_deref().expect("clap group");
                let report = qa.refresh(id).await?;
                out.refreshed(&report);
                Ok(0)
            }
        }
        Command::Status { id, json } => {
            let r = qa.printer_status(id).await?;
            Out::new(*json).status(&r);
            Ok(0)
        }
        Command::PrintTest { id, json } => {
            let r = qa.print_test(id).await?;
            Out::new(*json).printed(&r);
            Ok(0)
        }
        Command::Forget { id, remote, json } => {
            qa.forget(id, *remote).await?;
            let (zh, en) = if *remote {
                (
                    "已移除设备并撤销授权",
                    "Device forgotten and its authorization removed",
                )
            } else {
                ("已移除设备", "Device forgotten")
            };
            Out::new(*json).done("forgotten", id, zh, en);
            Ok(0)
        }
        Command::History { limit, json } => {
            let h = qa.history(*limit)?;
            Out::new(*json).history(&h);
            Ok(0)
        }
        Command::Sandbox(_) | Command::Decode { .. } => {
            unreachable!("handled before opening the data dir")
        }
    }
}

fn profile_add(qa: &QuickAuth, a: &ProfileAdd) -> Result<u8, Failure> {
    let io = |e: std::io::Error| Error::Io {
        context: "read secret from stdin",
        path: "<stdin>".into(),
        source: e,
    };
    let profile = match a.provider {
        ProviderArg::Yilianyun => {
            if a.endpoint.is_some() {
                return Err(Failure::Usage(
                    "--endpoint 只用于灵聚配置 / --endpoint is for Lingju profiles only".into(),
                ));
            }
            let Some(client_id) = a.client_id.clone() else {
                return Err(Failure::Usage(
                    "易联云配置需要 --client-id / a Yilianyun profile needs --client-id".into(),
                ));
            };
            let mut lines = secrets::read_secrets(&["应用密钥 / Client secret: "]).map_err(io)?;
            let Some(secret) = lines.remove(0) else {
                return Err(Failure::Core(Error::InvalidInput {
                    field: "client_secret",
                    detail:
                        "标准输入第 1 行应为应用密钥 / stdin line 1 must hold the client secret"
                            .into(),
                }));
            };
            qa.add_yilianyun_profile(NewYilianyunProfile {
                name: a.name.clone(),
                client_id,
                region: match a.region.unwrap_or(RegionArg::Cn) {
                    RegionArg::Cn => Region::Cn,
                    RegionArg::Overseas => Region::Overseas,
                    RegionArg::CnAlt => Region::CnAlt,
                },
                api_version: match a.api.unwrap_or(ApiArg::V2) {
                    ApiArg::V1 => ApiVersion::V1,
                    ApiArg::V2 => ApiVersion::V2,
                },
                base_url: a.base_url.clone(),
                client_secret: ClientSecret::new(secret.as_str()),
            })?
        }
        ProviderArg::Lingju => {
            if a.client_id.is_some() || a.region.is_some() || a.api.is_some() {
                return Err(Failure::Usage(
                    "--client-id/--region/--api 只用于易联云配置 / are for Yilianyun profiles only"
                        .into(),
                ));
            }
            let mut lines = secrets::read_secrets(&[
                "灵聚 appkey / Lingju appkey: ",
                "灵聚授权码（可留空）/ Lingju authcode (optional): ",
            ])
            .map_err(io)?;
            let authcode = lines.pop().flatten();
            let Some(appkey) = lines.pop().flatten() else {
                return Err(Failure::Core(Error::InvalidInput {
                    field: "appkey",
                    detail: "标准输入第 1 行应为 appkey / stdin line 1 must hold the appkey".into(),
                }));
            };
            qa.add_lingju_profile(NewLingjuProfile {
                name: a.name.clone(),
                endpoint: match a.endpoint.unwrap_or(EndpointArg::Httpapi) {
                    EndpointArg::Httpapi => LingjuEndpoint::HttpApi,
                    EndpointArg::Bltapi => LingjuEndpoint::BltApi,
                },
                base_url: a.base_url.clone(),
                appkey: LingjuAppKey::new(appkey.as_str()),
                authcode: authcode.map(|c| LingjuAuthCode::new(c.as_str())),
            })?
        }
    };
    Out::new(a.json).profiles(std::slice::from_ref(&profile));
    Ok(0)
}

/// What `authorize` was asked to do, every value already read from stdin or its file and validated.
enum AuthorizeTarget {
    Payload(Zeroizing<String>),
    Image(PathBuf),
    Yilianyun(MachineCode, DeviceKey),
    Lingju(UserId),
    CodeFlow,
}

/// Reads `--payload`/`--qr-key`/`--msign` from stdin or a file when asked to, and refuses a permanent msign
/// written on the command line (exit 2) without ever repeating it. Clap's groups allow at most one of them, so
/// stdin never has to hold two values.
fn authorize_target(a: &AuthorizeArgs) -> Result<AuthorizeTarget, Failure> {
    use secrets::{read_arg, ArgSource, Take};
    if let Some(arg) = &a.payload {
        let source = ArgSource::of(arg);
        let take = Take::Whole {
            max: quickauth_qr::payload::MAX_PAYLOAD_BYTES,
        };
        return match read_arg("--payload", &source, take, "标签内容 / Label text: ")? {
            Some(text) => Ok(AuthorizeTarget::Payload(text)),
            None => {
                if let Ok(quickauth_qr::LabelPayload::Yilianyun {
                    key: quickauth_qr::LabelKey::Msign(_),
                    ..
                }) = quickauth_qr::parse_payload(arg)
                {
                    return Err(Failure::Usage(msign_on_command_line(true, None)));
                }
                Ok(AuthorizeTarget::Payload(Zeroizing::new(arg.clone())))
            }
        };
    }
    if let Some(image) = &a.image {
        return Ok(AuthorizeTarget::Image(image.clone()));
    }
    if let Some(mc) = &a.machine_code {
        // Parsed first, so a bad machine code is reported before stdin is read.
        let mc = MachineCode::parse(mc)?;
        let key = match (&a.qr_key, &a.msign) {
            (Some(arg), None) => {
                let source = ArgSource::of(arg);
                match read_arg("--qr-key", &source, Take::FirstLine, "qr_key: ")? {
                    Some(key) => DeviceKey::parse_qr_key(&key)?,
                    None => DeviceKey::parse_qr_key(arg)?,
                }
            }
            (None, Some(arg)) => {
                let source = ArgSource::of(arg);
                let prompt = "终端密钥 / msign: ";
                match read_arg("--msign", &source, Take::FirstLine, prompt)? {
                    Some(key) => DeviceKey::parse_msign(&key)?,
                    None => {
                        return Err(Failure::Usage(msign_on_command_line(false, Some(&mc))))
                    }
                }
            }
            _ => return Err(Failure::Usage("--machine-code 需要 --qr-key 或 --msign 之一 / needs exactly one of --qr-key, --msign".into())),
        };
        return Ok(AuthorizeTarget::Yilianyun(mc, key));
    }
    if let Some(uid) = &a.userid {
        return Ok(AuthorizeTarget::Lingju(UserId::parse(uid)?));
    }
    Ok(AuthorizeTarget::CodeFlow)
}

/// The exit-2 message for a permanent msign given on the command line. Shows the safe forms; never the value.
fn msign_on_command_line(in_payload: bool, mc: Option<&MachineCode>) -> String {
    let mc = mc.map_or_else(|| "4004123456".to_owned(), MachineCode::to_string);
    let (what_zh, what_en, flag, example) = if in_payload {
        (
            "这段标签内容含有打印机的永久密钥（msign）",
            "This label text carries the printer's permanent key (msign)",
            "--payload",
            "printf '%s\\n' \"$LABEL\" | quickauth authorize --payload -".to_owned(),
        )
    } else {
        (
            "终端密钥（msign）是打印机的永久密钥",
            "The msign is the printer's permanent key",
            "--msign",
            format!(
                "printf '%s\\n' \"$MSIGN\" | quickauth authorize --machine-code {mc} --msign -"
            ),
        )
    };
    format!(
        "{what_zh}，不能直接写在命令行里（会留在 shell 历史和进程列表中）。请从标准输入或文件读取：\n\
         \x20 {example}\n\
         \x20 quickauth authorize ... {flag} @文件路径\n\
         刚才输入的命令已经进入 shell 历史，请删除那一行。\n\
         {what_en} and must not be written on the command line (it stays in shell history and the process list). \
         Read it from stdin or a file:\n\
         \x20 {example}\n\
         \x20 quickauth authorize ... {flag} @path/to/file\n\
         The command you typed is already in your shell history: delete that line."
    )
}

async fn authorize(
    qa: &QuickAuth,
    a: &AuthorizeArgs,
    target: AuthorizeTarget,
) -> Result<u8, Failure> {
    let out = Out::new(a.json);
    let device = match target {
        AuthorizeTarget::Payload(payload) => qa.authorize_payload(&a.profile, &payload).await?,
        AuthorizeTarget::Image(image) => {
            let decoded = quickauth_qr::decode_image_file(&image).map_err(Error::from)?;
            // Several codes in one photo: take the first that is a printer label (else the first, for its error).
            let label = decoded
                .iter()
                .position(|d| quickauth_qr::parse_payload(&d.text).is_ok())
                .unwrap_or(0);
            let Some(first) = decoded.into_iter().nth(label) else {
                return Err(Failure::Core(Error::InvalidInput {
                    field: "image",
                    detail: "图片里没有找到二维码，请拍清楚标签上的二维码 / no QR code found in the image; photograph the label's QR code clearly".into(),
                }));
            };
            qa.authorize_payload(&a.profile, &first.text).await?
        }
        AuthorizeTarget::Yilianyun(mc, key) => qa.authorize_yilianyun(&a.profile, mc, key).await?,
        AuthorizeTarget::Lingju(uid) => qa.authorize_lingju(&a.profile, uid).await?,
        AuthorizeTarget::CodeFlow => codeflow::run(qa, &a.profile).await?,
    };
    out.authorized(&device);
    Ok(0)
}

async fn sandbox(cli: &Cli, args: &SandboxArgs) -> u8 {
    match &args.action {
        None => {
            let opts = quickauth_sandbox::ForegroundOptions {
                port: args.port,
                state_dir: Some(data_dir(cli).join("sandbox")),
            };
            match quickauth_sandbox::run_foreground(opts).await {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!(
                        "沙盒无法启动：{}\nSandbox could not start: {}",
                        e.message_zh(),
                        e.message_en()
                    );
                    1
                }
            }
        }
        Some(SandboxCmd::Mint { msign, format, png }) => {
            output::mint(*msign, *format, png.as_deref())
        }
        Some(SandboxCmd::Receiver { port }) => delivery::run_receiver(*port).await,
    }
}
