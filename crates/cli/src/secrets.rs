//! Reading secrets: stdin lines when piped, a hidden prompt on a TTY. Never argv, never echoed, never logged.

use std::io::{BufRead, IsTerminal};

use zeroize::Zeroizing;

/// Reads up to `prompts.len()` secrets. Piped stdin: one per line (missing trailing lines → None).
/// TTY: a hidden prompt per secret (an empty answer → None).
pub fn read_secrets(prompts: &[&str]) -> std::io::Result<Vec<Option<Zeroizing<String>>>> {
    let stdin = std::io::stdin();
    let mut out = Vec::with_capacity(prompts.len());
    if stdin.is_terminal() {
        for prompt in prompts {
            let value = Zeroizing::new(rpassword::prompt_password(prompt)?);
            out.push(Some(value).filter(|v| !v.trim().is_empty()));
        }
        return Ok(out);
    }
    let mut lock = stdin.lock();
    for _ in prompts {
        let mut line = Zeroizing::new(String::new());
        let n = lock.read_line(&mut line)?;
        let trimmed = Zeroizing::new(line.trim_end_matches(['\r', '\n']).to_owned());
        out.push(Some(trimmed).filter(|v| n > 0 && !v.trim().is_empty()));
    }
    Ok(out)
}
