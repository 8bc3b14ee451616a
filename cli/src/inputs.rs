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

/// Splits one file into inputs.
pub fn read(path: &Path) -> Result<Vec<Input>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let file = path.display().to_string();
    Ok(split(&file, &bytes))
}

/// One JSON value (an event, or an array of events), else JSON lines where each line stands alone.
pub fn split(file: &str, bytes: &[u8]) -> Vec<Input> {
    let input = |index, body| Input { file: file.to_owned(), index, body };
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Array(items)) => items
            .into_iter()
            .enumerate()
            .map(|(i, item)| {
                let raw = serde_json::to_vec(&item).unwrap_or_default();
                input(Some(i + 1), Body::Json(item, raw))
            })
            .collect(),
        Ok(value) => vec![input(None, Body::Json(value, bytes.to_vec()))],
        Err(_) => {
            let lines: Vec<(usize, &[u8])> = bytes
                .split(|b| *b == b'\n')
                .enumerate()
                .filter(|(_, line)| !line.iter().all(u8::is_ascii_whitespace))
                .collect();
            if lines.is_empty() {
                return vec![input(None, Body::Invalid(bytes.to_vec()))];
            }
            let several = lines.len() > 1;
            lines
                .into_iter()
                .map(|(number, line)| {
                    let body = match serde_json::from_slice::<Value>(line) {
                        Ok(value) => Body::Json(value, line.to_vec()),
                        Err(_) => Body::Invalid(line.to_vec()),
                    };
                    input(several.then_some(number + 1), body)
                })
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(inputs: &[Input]) -> Vec<(Option<usize>, bool)> {
        inputs.iter().map(|i| (i.index, matches!(i.body, Body::Json(..)))).collect()
    }

    #[test]
    fn splits_every_supported_layout() {
        assert_eq!(kinds(&split("f", br#"{"a":1}"#)), [(None, true)]);
        assert_eq!(kinds(&split("f", br#"[{"a":1},{"b":2}]"#)), [(Some(1), true), (Some(2), true)]);
        assert_eq!(
            kinds(&split("f", b"{\"a\":1}\n\n{oops\n{\"b\":2}\n")),
            [(Some(1), true), (Some(3), false), (Some(4), true)]
        );
        assert_eq!(kinds(&split("f", b"not json")), [(None, false)]);
        assert_eq!(kinds(&split("f", b"  \n")), [(None, false)]);
    }
}
