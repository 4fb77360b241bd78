//! `qa-reliability`: the reliability run (at least 1,000 injected faults; writes docs/reliability.md), and the child
//! mode it uses to run one service operation per process (`qa-reliability child ...`).
//!
//!   qa-reliability [--faults N] [--data-dir DIR] [--report PATH] [--no-timeouts] [--children N]
//!   qa-reliability --counter-wait-only [--report PATH]   (only the "waiting at the counter" measurements; its
//!                                                                      section of an existing report is replaced in place)
//!   qa-reliability --delivery-only [--data-dir DIR] [--report PATH]   (only the webhook delivery matrix; its section
//!                                                                      of an existing report is replaced in place)
//!   qa-reliability child --data-dir DIR --op OP --machine-code MC --profile P --keyring-timeout-ms N --backoff A:I:C

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use quickauth_reliability::{child, report, run, RunConfig};

fn arg_value(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn init_logging() {
    // Logs go to stderr; the level comes from RUST_LOG (the hygiene scan runs everything at debug).
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    init_logging();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    if args.first().map(String::as_str) == Some("child") {
        let parsed = match child::ChildArgs::parse(&args[1..]) {
            Ok(a) => a,
            Err(e) => {
                eprintln!("qa-reliability child: {e}");
                return ExitCode::from(2);
            }
        };
        let result = rt.block_on(child::run_child(parsed));
        child::print_result(&result);
        // Exit at once: a worker thread stuck in a never-answering keyring must not keep the process alive.
        std::process::exit(0);
    }

    let faults: usize = arg_value(&args, "--faults")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000);
    let report_path = arg_value(&args, "--report").map(PathBuf::from);
    let tmp = tempfile::Builder::new()
        .prefix("qa-reliability-")
        .tempdir()
        .expect("temp dir");
    let data_dir = arg_value(&args, "--data-dir")
        .map(PathBuf::from)
        .unwrap_or_else(|| tmp.path().join("data"));
    let exe = std::env::current_exe().expect("own path");
    let mut cfg = RunConfig::new(exe, data_dir, faults);
    if args.iter().any(|a| a == "--no-timeouts") {
        cfg.include_timeouts = false;
    }
    if let Some(n) = arg_value(&args, "--children").and_then(|v| v.parse().ok()) {
        cfg.child_parallelism = n;
    }
    if args.iter().any(|a| a == "--counter-wait-only") {
        let root = cfg.data_dir.join("counter");
        let waits = rt.block_on(quickauth_reliability::counter::run(&root));
        let section = quickauth_reliability::counter::markdown(
            &waits,
            "scripts/reliability.sh --counter-wait-only",
        );
        print!("{section}");
        if let Some(path) = report_path {
            let old = std::fs::read_to_string(&path).unwrap_or_default();
            if let Err(e) = std::fs::write(
                &path,
                quickauth_reliability::counter::splice(&old, &section),
            ) {
                eprintln!("qa-reliability: cannot write {}: {e}", path.display());
                return ExitCode::from(2);
            }
            eprintln!(
                "[qa-reliability] counter-wait section written to {}",
                path.display()
            );
        }
        let bounded = waits.iter().filter(|w| w.budget.is_some()).all(|w| {
            w.kind == "no_answer_in_time"
                && w.waited < quickauth_core::INTERACTIVE_BUDGET + Duration::from_secs(3)
        });
        return if bounded {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    }
    if args.iter().any(|a| a == "--delivery-only") {
        let root = cfg.data_dir.join("delivery");
        let outcome = rt.block_on(quickauth_reliability::delivery::run_matrix(
            &root,
            &cfg.child_exe,
            |line| eprintln!("[qa-reliability] {line}"),
        ));
        let section = quickauth_reliability::delivery::markdown(&outcome);
        print!("{section}");
        if let Some(path) = report_path {
            let old = std::fs::read_to_string(&path).unwrap_or_default();
            if let Err(e) = std::fs::write(
                &path,
                quickauth_reliability::delivery::splice(&old, &section),
            ) {
                eprintln!("qa-reliability: cannot write {}: {e}", path.display());
                return ExitCode::from(2);
            }
            eprintln!(
                "[qa-reliability] delivery section written to {}",
                path.display()
            );
        }
        return if outcome.ok() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    }
    let command = format!("qa-reliability {}", args.join(" "));
    let outcome = match rt.block_on(run::run(cfg, |line| eprintln!("[qa-reliability] {line}"))) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("qa-reliability: the run could not start: {e}");
            return ExitCode::from(2);
        }
    };
    print!("{}", report::summary(&outcome));
    if let Some(path) = report_path {
        let generated = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string();
        let mut md = report::markdown(&outcome, &generated, command.trim());
        // The wait-at-the-counter section comes from its own run (--counter-wait-only): keep it.
        let old = std::fs::read_to_string(&path).unwrap_or_default();
        if let Some(counter) = report::section_of(
            &old,
            quickauth_reliability::counter::SECTION_BEGIN,
            quickauth_reliability::counter::SECTION_END,
        ) {
            md = quickauth_reliability::counter::splice(&md, counter);
        }
        if let Err(e) = std::fs::write(&path, md) {
            eprintln!("qa-reliability: cannot write {}: {e}", path.display());
            return ExitCode::from(2);
        }
        eprintln!("[qa-reliability] report written to {}", path.display());
    }
    if outcome.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
