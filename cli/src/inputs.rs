//! Reading replay inputs: files holding one event, a JSON array of events, or JSON lines; and folders, whose
//! `.json` and `.jsonl` files are read in file-name order (sub-folders are not entered, so `events/invalid/`
//! stays apart from `events/`).

use std::path::{Path, PathBuf};

use serde_json::Value;

/// One input to ingest: where it came from and its bytes.
#[derive(Debug)]
pub struct Input {
    pub file: String,
    /// 1-based position within the file when it holds several events.
    pub index: Option<usize>,
    pub body: Body,
}

#[derive(Debug)]
pub enum Body {
    /// A parsed JSON value and the bytes it came from (digested for rejections).
    Json(Value, Vec<u8>),
    /// Bytes that are not JSON (the engine rejects them with the parser's error).
    Invalid(Vec<u8>),
}

/// Expands paths into the files to read, in order. An unreadable or missing path is an error naming it.
pub fn files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if meta.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|e| format!("cannot list {}: {e}", path.display()))?
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && matches!(p.extension().and_then(|e| e.to_str()), Some("json" | "jsonl")))
                .collect();
            entries.sort();
            files.extend(entries);
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

/// Reads one file's bytes.
pub fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// One JSON value (an event, or an array of events), else JSON lines where each line stands alone. Lines are
/// parsed one at a time as the caller asks, so a large JSON-lines file never sits in memory as parsed values.
pub fn split<'a>(file: &'a str, bytes: &'a [u8]) -> Box<dyn Iterator<Item = Input> + 'a> {
    let input = move |index, body| Input { file: file.to_owned(), index, body };
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Array(items)) => Box::new(items.into_iter().enumerate().map(move |(i, item)| {
            let raw = serde_json::to_vec(&item).unwrap_or_default();
            input(Some(i + 1), Body::Json(item, raw))
        })),
        Ok(value) => Box::new(std::iter::once(input(None, Body::Json(value, bytes.to_vec())))),
        Err(_) => {
            let is_blank = |line: &&[u8]| line.iter().all(u8::is_ascii_whitespace);
            let lines = || bytes.split(|b| *b == b'\n').enumerate().filter(move |(_, line)| !is_blank(line));
            match lines().nth(1) {
                None if lines().next().is_none() => {
                    Box::new(std::iter::once(input(None, Body::Invalid(bytes.to_vec()))))
                }
                only_one => {
                    let several = only_one.is_some();
                    Box::new(lines().map(move |(number, line)| {
                        let body = match serde_json::from_slice::<Value>(line) {
                            Ok(value) => Body::Json(value, line.to_vec()),
                            Err(_) => Body::Invalid(line.to_vec()),
                        };
                        input(several.then_some(number + 1), body)
                    }))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(inputs: Box<dyn Iterator<Item = Input> + '_>) -> Vec<(Option<usize>, bool)> {
        inputs.map(|i| (i.index, matches!(i.body, Body::Json(..)))).collect()
    }

    #[test]
    fn splits_every_supported_layout() {
        assert_eq!(kinds(split("f", br#"{"a":1}"#)), [(None, true)]);
        assert_eq!(kinds(split("f", br#"[{"a":1},{"b":2}]"#)), [(Some(1), true), (Some(2), true)]);
        assert_eq!(
            kinds(split("f", b"{\"a\":1}\n\n{oops\n{\"b\":2}\n")),
            [(Some(1), true), (Some(3), false), (Some(4), true)]
        );
        assert_eq!(kinds(split("f", b"not json")), [(None, false)]);
        assert_eq!(kinds(split("f", b"  \n")), [(None, false)]);
    }
}
