//! Reading replay inputs: files holding one event, a JSON array of events, or JSON lines; and folders, whose
//! `.json` and `.jsonl` files are read recursively in path order (stable from run to run). A path that yields no
//! input is an error: replaying nothing is never what the user meant.

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

/// Expands paths into the files to read, in order. An unreadable or missing path, or one that holds no `.json` or
/// `.jsonl` file, is an error naming it.
pub fn files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if !meta.is_dir() {
            files.push(path.clone());
            continue;
        }
        let mut found = Vec::new();
        let mut folders = vec![path.clone()];
        while let Some(folder) = folders.pop() {
            for entry in std::fs::read_dir(&folder).map_err(|e| format!("cannot list {}: {e}", folder.display()))? {
                let entry = entry.map_err(|e| format!("cannot list {}: {e}", folder.display()))?;
                let kind = entry.file_type().map_err(|e| format!("cannot read {}: {e}", entry.path().display()))?;
                let child = entry.path();
                if kind.is_dir() {
                    folders.push(child);
                } else if matches!(child.extension().and_then(|e| e.to_str()), Some("json" | "jsonl")) {
                    found.push(child);
                }
            }
        }
        if found.is_empty() {
            return Err(format!("{} holds no .json or .jsonl file (folders are read recursively)", path.display()));
        }
        found.sort();
        files.extend(found);
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
            if !looks_like_json_lines(lines().map(|(_, line)| line)) {
                // One document that does not parse (a pretty-printed event with a trailing comma): one rejection for
                // the file, not one per line.
                return Box::new(std::iter::once(input(None, Body::Invalid(bytes.to_vec()))));
            }
            let several = lines().nth(1).is_some();
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

/// JSON lines: at least half of the non-blank lines are whole JSON objects or arrays. A pretty-printed document that does
/// not parse has almost none (its lines are fragments), while a JSON-lines file with a few bad lines keeps most.
fn looks_like_json_lines<'a>(lines: impl Iterator<Item = &'a [u8]>) -> bool {
    let (mut objects, mut total) = (0_usize, 0_usize);
    for line in lines {
        total += 1;
        if matches!(serde_json::from_slice::<Value>(line), Ok(Value::Object(_) | Value::Array(_))) {
            objects += 1;
        }
    }
    total > 0 && objects * 2 >= total
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

    #[test]
    fn a_broken_document_is_one_rejection_not_one_per_line() {
        let pretty = b"{\n  \"version\": \"0\",\n  \"detail\": {\"a\": 1},\n  \"resources\": [],\n}\n";
        assert_eq!(kinds(split("f", pretty)), [(None, false)]);
        let array = b"[\n  {\"a\": 1},\n  {\"b\": 2},\n]\n";
        assert_eq!(kinds(split("f", array)), [(None, false)]);
        let opened_on_the_first_line = b"{ \"version\": \"0\",\n  \"a\": 1,\n  \"inner\": [\n    {\"b\": 2}\n  ],\n}\n";
        assert_eq!(kinds(split("f", opened_on_the_first_line)), [(None, false)]);
        assert_eq!(
            kinds(split("f", b"oops\n{\"a\":1}\n")),
            [(Some(1), false), (Some(2), true)],
            "JSON lines, a bad first line"
        );
    }

    #[test]
    fn folders_are_read_recursively_and_an_empty_one_is_an_error() {
        let dir = std::env::temp_dir().join(format!("warden-inputs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("b/c")).ok();
        std::fs::create_dir_all(dir.join("empty")).ok();
        for name in ["b/c/2.json", "a.jsonl", "b/1.json", "b/notes.txt"] {
            std::fs::write(dir.join(name), "{}").ok();
        }
        let found = files(std::slice::from_ref(&dir)).unwrap_or_default();
        let relative: Vec<_> =
            found.iter().filter_map(|f| f.strip_prefix(&dir).ok()).map(|p| p.display().to_string()).collect();
        assert_eq!(relative, ["a.jsonl", "b/1.json", "b/c/2.json"]);
        let error = files(&[dir.join("empty")]).err().unwrap_or_default();
        assert!(error.contains("holds no .json or .jsonl file"), "{error}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
