//! `authorize --code-flow`: open the browser, then take whichever comes first — the redirect caught on
//! 127.0.0.1:<random>/callback, or a callback URL pasted on stdin.

use std::time::Duration;

use quickauth_core::{DeviceSummary, QuickAuth};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// The authorization code is valid 600 s; waiting longer cannot succeed.
const WAIT: Duration = Duration::from_secs(600);

const DONE_PAGE: &str = "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>QuickAuth</title></head>\
<body><h1>授权已收到，可以关闭此页面。</h1><p>Authorization received; you can close this page.</p></body></html>";

pub async fn run(qa: &QuickAuth, profile: &str) -> Result<DeviceSummary, quickauth_core::Error> {
    let io = |source| quickauth_core::Error::Io {
        context: "loopback callback",
        path: "127.0.0.1".into(),
        source,
    };
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.map_err(io)?;
    let port = listener.local_addr().map_err(io)?.port();
    let redirect =
        url::Url::parse(&format!("http://127.0.0.1:{port}/callback")).expect("valid URL");
    let flow = qa.begin_code_flow(profile, redirect).await?;

    eprintln!(
        "请在浏览器中完成授权 / Approve in your browser:\n  {}",
        flow.url
    );
    eprintln!("（浏览器没有自动打开时，请手动打开上面的地址；也可以把最终跳转到的地址粘贴到这里并回车。）");
    eprintln!("(If no browser opens, open the address above; or paste the final redirected URL here and press Enter.)");
    open_browser(flow.url.as_str());

    let callback = tokio::time::timeout(WAIT, wait_for_callback(&listener, port)).await;
    match callback {
        Ok(Some(url)) => qa.complete_code_flow(&flow, &url).await,
        _ => Err(quickauth_core::Error::CodeFlowDenied {
            reason: "timeout".into(),
        }),
    }
}

async fn wait_for_callback(listener: &TcpListener, port: u16) -> Option<String> {
    let mut stdin = BufReader::new(tokio::io::stdin()).lines();
    let mut stdin_open = true;
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((mut sock, _)) = accepted else { continue };
                let mut buf = vec![0u8; 8192];
                let n = match tokio::time::timeout(Duration::from_secs(5), sock.read(&mut buf)).await {
                    Ok(Ok(n)) => n,
                    _ => continue,
                };
                let head = String::from_utf8_lossy(&buf[..n]);
                let target = head.lines().next().and_then(|l| l.split_whitespace().nth(1)).unwrap_or("").to_owned();
                if target.starts_with("/callback") {
                    let body = DONE_PAGE;
                    let reply = format!("HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
                    let _ = sock.write_all(reply.as_bytes()).await;
                    let _ = sock.shutdown().await;
                    return Some(format!("http://127.0.0.1:{port}{target}"));
                }
                let _ = sock.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").await;
            }
            line = stdin.next_line(), if stdin_open => {
                match line {
                    Ok(Some(l)) if l.contains("code=") || l.contains("error=") => return Some(l.trim().to_owned()),
                    Ok(Some(_)) => {}
                    _ => stdin_open = false,
                }
            }
        }
    }
}

/// `QUICKAUTH_BROWSER=<cmd>` (called with the URL as its one argument) or the system's opener.
fn open_browser(url: &str) {
    let mut cmd = match std::env::var("QUICKAUTH_BROWSER") {
        Ok(custom) if !custom.trim().is_empty() => {
            let mut c = std::process::Command::new("sh");
            c.arg("-c")
                .arg(format!("{custom} \"$1\""))
                .arg("quickauth-browser")
                .arg(url);
            c
        }
        _ if cfg!(target_os = "macos") => {
            let mut c = std::process::Command::new("open");
            c.arg(url);
            c
        }
        _ if cfg!(windows) => {
            let mut c = std::process::Command::new("cmd");
            c.args(["/C", "start", ""]).arg(url);
            c
        }
        _ => {
            let mut c = std::process::Command::new("xdg-open");
            c.arg(url);
            c
        }
    };
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null());
    if let Err(e) = cmd.spawn() {
        tracing::info!(error = %e, "could not start a browser; waiting for a pasted URL");
    }
}
