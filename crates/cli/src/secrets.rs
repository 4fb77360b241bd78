//! Reading secrets: stdin lines when piped, a hidden prompt on a TTY, or a file named on the command line
//! (`@path`). Never argv, never echoed, never logged; errors name the flag and the path, never the content.

use std::io::{BufRead, IsTerminal, Read};
use std::path::{Path, PathBuf};

use quickauth_protocol::{Action, Localized};
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

/// Where the value of a flag such as `--msign` comes from.
#[derive(Debug, PartialEq, Eq)]
pub enum ArgSource<'a> {
    /// `-`: standard input (a hidden prompt on a terminal).
    Stdin,
    /// `@path`: a file.
    File(&'a Path),
    /// Anything else: the text itself, which is visible in the process list and shell history.
    Literal(&'a str),
}

impl<'a> ArgSource<'a> {
    pub fn of(arg: &'a str) -> Self {
        if arg == "-" {
            ArgSource::Stdin
        } else if let Some(path) = arg.strip_prefix('@') {
            ArgSource::File(Path::new(path))
        } else {
            ArgSource::Literal(arg)
        }
    }
}

/// How much of a stdin or file source is the value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Take {
    /// The first line (a key).
    FirstLine,
    /// All of it (a label's text may span lines), at most `max` bytes plus one so "too long" can still be told.
    Whole { max: usize },
}

/// Longest first line read for a key; longer is refused by the key validator anyway, this only bounds memory.
const MAX_LINE_BYTES: u64 = 4096;

/// Reads the value of `flag` from stdin or a file, trimmed of surrounding whitespace. `None` for a literal: the
/// caller decides whether a literal is allowed.
pub fn read_arg(
    flag: &'static str,
    source: &ArgSource<'_>,
    take: Take,
    prompt: &str,
) -> Result<Option<Zeroizing<String>>, ArgReadError> {
    let origin = |problem| ArgReadError {
        flag,
        path: match source {
            ArgSource::File(p) => Some(p.to_path_buf()),
            _ => None,
        },
        problem,
    };
    let raw = match source {
        ArgSource::Literal(_) => return Ok(None),
        ArgSource::Stdin if std::io::stdin().is_terminal() => {
            Zeroizing::new(rpassword::prompt_password(prompt).map_err(|e| origin(e.into()))?)
        }
        ArgSource::Stdin => read_from(std::io::stdin().lock(), take).map_err(origin)?,
        ArgSource::File(path) => {
            let file = std::fs::File::open(path).map_err(|e| origin(e.into()))?;
            if file.metadata().is_ok_and(|m| m.is_dir()) {
                return Err(origin(Problem::IsDirectory));
            }
            read_from(std::io::BufReader::new(file), take).map_err(origin)?
        }
    };
    Ok(Some(Zeroizing::new(raw.trim().to_owned())))
}

fn read_from(reader: impl BufRead, take: Take) -> Result<Zeroizing<String>, Problem> {
    let mut bytes = Zeroizing::new(Vec::new());
    match take {
        Take::FirstLine => {
            reader.take(MAX_LINE_BYTES).read_until(b'\n', &mut bytes)?;
        }
        Take::Whole { max } => {
            reader.take(max as u64 + 1).read_to_end(&mut bytes)?;
        }
    }
    match std::str::from_utf8(&bytes) {
        Ok(text) => Ok(Zeroizing::new(text.to_owned())),
        Err(_) => Err(Problem::NotText),
    }
}

/// Why a value could not be read from stdin or a file.
#[derive(Debug)]
pub enum Problem {
    Io(std::io::ErrorKind),
    IsDirectory,
    NotText,
}

impl From<std::io::Error> for Problem {
    fn from(e: std::io::Error) -> Self {
        Problem::Io(e.kind())
    }
}

/// A flag's value could not be read. Names the flag and the file, never what was (or was not) in it.
#[derive(Debug)]
pub struct ArgReadError {
    pub flag: &'static str,
    /// `None` for standard input.
    pub path: Option<PathBuf>,
    pub problem: Problem,
}

impl std::fmt::Display for ArgReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message_en())
    }
}

impl std::error::Error for ArgReadError {}

fn where_en(path: &Option<PathBuf>) -> String {
    match path {
        Some(p) => format!("the file {}", p.display()),
        None => "standard input".to_owned(),
    }
}

impl Localized for ArgReadError {
    fn kind(&self) -> &'static str {
        "invalid_input"
    }

    fn message_zh(&self) -> String {
        let flag = self.flag;
        let place = match &self.path {
            Some(p) => format!("文件 {}", p.display()),
            None => "标准输入".to_owned(),
        };
        let why = match &self.problem {
            Problem::Io(std::io::ErrorKind::NotFound) => "文件不存在，请检查路径".to_owned(),
            Problem::Io(std::io::ErrorKind::PermissionDenied) => {
                "没有读取权限，请检查文件权限".to_owned()
            }
            Problem::Io(kind) => format!("读取失败（{kind}）"),
            Problem::IsDirectory => "这是一个目录，请给出文件路径".to_owned(),
            Problem::NotText => "内容不是 UTF-8 文本，请只写入密钥或标签文字".to_owned(),
        };
        format!("无法从{place}读取 {flag} 的值：{why}。")
    }

    fn message_en(&self) -> String {
        let flag = self.flag;
        let place = where_en(&self.path);
        let why = match &self.problem {
            Problem::Io(std::io::ErrorKind::NotFound) => {
                "it does not exist; check the path".to_owned()
            }
            Problem::Io(std::io::ErrorKind::PermissionDenied) => {
                "permission denied; check the file's permissions".to_owned()
            }
            Problem::Io(kind) => format!("reading failed ({kind})"),
            Problem::IsDirectory => "it is a directory; give the path of a file".to_owned(),
            Problem::NotText => {
                "it is not UTF-8 text; put only the key or the label's text in it".to_owned()
            }
        };
        format!("Cannot read the value of {flag} from {place}: {why}.")
    }

    fn action(&self) -> Action {
        Action::EditInput
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources() {
        assert_eq!(ArgSource::of("-"), ArgSource::Stdin);
        assert_eq!(
            ArgSource::of("@/tmp/k.txt"),
            ArgSource::File(Path::new("/tmp/k.txt"))
        );
        assert_eq!(ArgSource::of("abc"), ArgSource::Literal("abc"));
        assert_eq!(ArgSource::of("--"), ArgSource::Literal("--"));
    }

    #[test]
    fn first_line_or_whole_bounded() {
        let line = read_from(&b"key-1\nsecond\n"[..], Take::FirstLine).unwrap();
        assert_eq!(line.as_str(), "key-1\n");
        let whole = read_from(&b"a=1\nb=2\n"[..], Take::Whole { max: 100 }).unwrap();
        assert_eq!(whole.as_str(), "a=1\nb=2\n");
        let long = vec![b'x'; 10_000];
        let cut = read_from(&long[..], Take::Whole { max: 4096 }).unwrap();
        assert_eq!(cut.len(), 4097);
        let line = read_from(&long[..], Take::FirstLine).unwrap();
        assert_eq!(line.len(), MAX_LINE_BYTES as usize);
        assert!(matches!(
            read_from(&b"\xff\xfe"[..], Take::FirstLine),
            Err(Problem::NotText)
        ));
    }
}
