//! Runs the sandbox in the foreground, for demos: `cargo run -p quickauth-sandbox --example serve -- [PORT] [STATE_DIR]`.

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let port = args.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let state_dir = args.next().map(std::path::PathBuf::from);
    if let Err(e) =
        quickauth_sandbox::run_foreground(quickauth_sandbox::ForegroundOptions { port, state_dir })
            .await
    {
        eprintln!("{}\n{}", e.message_zh(), e.message_en());
        std::process::exit(1);
    }
}
