//! The architecture holds: no import cycle between the modules of any crate, the pure core depends on no async
//! runtime, storage engine or AWS crate, the AWS crate decides nothing, and every function's `main.rs` is wiring.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use warden_tests::root;

/// Every crate's source folder.
const CRATES: &[&str] =
    &["shared/core/src", "shared/app/src", "shared/embedded/src", "shared/aws/src", "cli/src", "tests/src"];

/// Module path (`breakglass::status`) -> source text without comments.
fn modules(src: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut folders = vec![src.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap().filter_map(Result::ok) {
            let path = entry.path();
            if path.is_dir() {
                folders.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let relative = path.strip_prefix(src).unwrap().with_extension("");
            let mut parts: Vec<String> = relative.iter().map(|p| p.to_string_lossy().into_owned()).collect();
            if matches!(parts.last().map(String::as_str), Some("mod" | "lib" | "main")) {
                parts.pop();
            }
            let text: String = std::fs::read_to_string(&path)
                .unwrap()
                .lines()
                .filter(|line| !line.trim_start().starts_with("//"))
                .map(|line| format!("{line}\n"))
                .collect();
            out.insert(parts.join("::"), text);
        }
    }
    out
}

/// `crate::a::b::...` references, resolved to the longest module they name.
fn edges(modules: &BTreeMap<String, String>) -> BTreeMap<String, BTreeSet<String>> {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, text) in modules {
        let targets = edges.entry(module.clone()).or_default();
        for (at, _) in text.match_indices("crate::") {
            let path: Vec<&str> = text[at + 7..]
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                .next()
                .unwrap_or_default()
                .split("::")
                .take_while(|p| p.chars().next().is_some_and(|c| c.is_ascii_lowercase()))
                .collect();
            let target = (1..=path.len()).rev().map(|k| path[..k].join("::")).find(|c| modules.contains_key(c));
            if let Some(target) = target
                && target != *module
                && !module.starts_with(&format!("{target}::"))
            {
                targets.insert(target);
            }
        }
    }
    edges
}

/// The first cycle found, as the modules on it.
fn cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(node.to_owned(), 1);
        stack.push(node.to_owned());
        for next in edges.get(node).into_iter().flatten() {
            match state.get(next.as_str()) {
                Some(1) => {
                    let start = stack.iter().position(|n| n == next).unwrap_or_default();
                    return Some(stack[start..].to_vec());
                }
                None => {
                    if let Some(found) = visit(next, edges, state, stack) {
                        return Some(found);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(node.to_owned(), 2);
        None
    }
    let mut state = BTreeMap::new();
    edges.keys().find_map(
        |node| {
            if state.contains_key(node) { None } else { visit(node, edges, &mut state, &mut Vec::new()) }
        },
    )
}

#[test]
fn no_crate_has_an_import_cycle_between_its_modules() {
    for src in CRATES {
        let modules = modules(&root().join(src));
        assert!(!modules.is_empty(), "{src}: no module found");
        if let Some(cycle) = cycle(&edges(&modules)) {
            panic!("{src}: import cycle {}", cycle.join(" -> "));
        }
    }
}

/// The detector's own check of the check: a planted cycle is found.
#[test]
fn the_cycle_check_finds_a_planted_cycle() {
    let modules: BTreeMap<String, String> = [
        ("a".to_owned(), "use crate::b::X;".to_owned()),
        ("b".to_owned(), "use crate::c::{Y};".to_owned()),
        ("c".to_owned(), "fn f() { crate::a::g() }".to_owned()),
        ("a::child".to_owned(), "use crate::a::Z;".to_owned()),
    ]
    .into();
    assert_eq!(cycle(&edges(&modules)), Some(vec!["a".to_owned(), "b".to_owned(), "c".to_owned()]));
}

fn dependencies(manifest: &str) -> BTreeSet<String> {
    let text = std::fs::read_to_string(root().join(manifest)).unwrap();
    let value: toml_like::Table = toml_like::parse(&text);
    value.section("dependencies")
}

#[test]
fn the_core_is_pure_and_the_aws_crate_decides_nothing() {
    let core = dependencies("shared/core/Cargo.toml");
    for forbidden in ["tokio", "redb", "lambda_runtime", "aws-config", "aws-sdk-dynamodb", "warden-app"] {
        assert!(!core.contains(forbidden), "warden-core depends on {forbidden}");
    }
    let app = dependencies("shared/app/Cargo.toml");
    for forbidden in ["redb", "lambda_runtime", "aws-config", "aws-sdk-dynamodb", "aws-sdk-sagemaker"] {
        assert!(!app.contains(forbidden), "warden-app depends on {forbidden}");
    }
    // The AWS crate adapts and serves: no policy evaluation, decision planning or event routing of its own.
    let aws = modules(&root().join("shared/aws/src"));
    for (module, text) in &aws {
        for decides in ["policy.decide(", "plan(", "decode_value(", "\"warden.governance\""] {
            assert!(!text.contains(decides), "warden-aws::{module} contains {decides}");
        }
    }
}

#[test]
fn every_function_main_is_wiring_only() {
    for function in warden_tests::FUNCTIONS.iter().map(|f| f.name).chain([warden_app::inbox::FUNCTION_NAME]) {
        let main = std::fs::read_to_string(root().join(format!("functions/{function}/src/main.rs"))).unwrap();
        let code: Vec<&str> =
            main.lines().filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with("//")).collect();
        assert!(code.len() <= 15, "functions/{function}/src/main.rs has {} lines of code: wiring only", code.len());
        assert!(!main.contains("warden_core"), "functions/{function}: decisions belong in the libraries");
    }
}

/// Just enough TOML reading for dependency names (the tests crate does not link a TOML parser for this).
mod toml_like {
    use std::collections::BTreeSet;

    pub struct Table(Vec<(String, Vec<String>)>);

    pub fn parse(text: &str) -> Table {
        let mut sections: Vec<(String, Vec<String>)> = Vec::new();
        for line in text.lines().map(str::trim) {
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                sections.push((name.to_owned(), Vec::new()));
            } else if let (Some(section), Some((key, _))) = (sections.last_mut(), line.split_once('='))
                && !line.starts_with('#')
            {
                section.1.push(key.trim().trim_end_matches(".workspace").to_owned());
            }
        }
        Table(sections)
    }

    impl Table {
        pub fn section(&self, name: &str) -> BTreeSet<String> {
            self.0.iter().filter(|(n, _)| n == name).flat_map(|(_, keys)| keys.iter().cloned()).collect()
        }
    }
}
