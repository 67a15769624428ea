//! The module graph stays a DAG with `model` as its leaf, and follows the
//! layer order of docs/ARCHITECTURE.md: read every source file, collect
//! which top-level modules it names through `crate::`, and which files of
//! its own package it names through `super::` (or `crate::PACKAGE::`), and
//! fail on a cycle or an import from a lower layer, naming it. A compile
//! catches neither (Rust allows both).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level module name of a file under `src/` (`render/decode.rs` ->
/// `render`), or `None` for the crate root and the binary.
fn module_of(rel: &Path) -> Option<String> {
    let first = rel.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (!matches!(name, "lib" | "main")).then(|| name.to_string())
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `crate::NAME` and `use crate::{A, B::…}` references in `text`, outside
/// line comments.
fn referenced(text: &str) -> BTreeSet<String> {
    referenced_after(text, "crate::")
}

/// The names that follow `prefix` in `text` (`PREFIX::NAME`, or each
/// item of `PREFIX::{A, B::…}`), outside line comments.
fn referenced_after(text: &str, prefix: &str) -> BTreeSet<String> {
    let code: String = text
        .lines()
        .map(|line| line.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let ident = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut names = BTreeSet::new();
    // `super::super::` names the package's parent, not a sibling.
    let code = code.replace("super::super::", "parent::");
    let mut rest = code.as_str();
    while let Some(at) = rest.find(prefix) {
        rest = &rest[at + prefix.len()..];
        let Some(group) = rest.strip_prefix('{') else {
            names.insert(ident(rest));
            continue;
        };
        // The top-level items of the group, which may span lines.
        let mut depth = 0;
        let mut item_start = true;
        for (i, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => {
                    rest = &group[i..];
                    break;
                }
                '}' => depth -= 1,
                ',' if depth == 0 => item_start = true,
                c if item_start && !c.is_whitespace() => {
                    names.insert(ident(&group[i..]));
                    item_start = false;
                }
                _ => {}
            }
        }
    }
    names.remove("");
    names
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let Some(module) = module_of(file.strip_prefix(&src).unwrap()) else {
            continue;
        };
        let text = std::fs::read_to_string(&file).unwrap();
        let deps = graph.entry(module.clone()).or_default();
        deps.extend(referenced(&text).into_iter().filter(|d| *d != module));
    }
    let modules: BTreeSet<String> = graph.keys().cloned().collect();
    for deps in graph.values_mut() {
        deps.retain(|d| modules.contains(d));
    }
    graph
}

/// A cycle through `graph`, if there is one, as the list of modules on it.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        marks: &mut BTreeMap<String, Mark>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        marks.insert(node.to_string(), Mark::Open);
        stack.push(node.to_string());
        for dep in &graph[node] {
            match marks[dep.as_str()] {
                Mark::Open => {
                    let start = stack.iter().position(|n| n == dep).unwrap();
                    let mut cycle = stack[start..].to_vec();
                    cycle.push(dep.clone());
                    return Some(cycle);
                }
                Mark::New => {
                    if let Some(cycle) = visit(dep, graph, marks, stack) {
                        return Some(cycle);
                    }
                }
                Mark::Done => {}
            }
        }
        stack.pop();
        marks.insert(node.to_string(), Mark::Done);
        None
    }
    let mut marks: BTreeMap<String, Mark> = graph.keys().map(|k| (k.clone(), Mark::New)).collect();
    for node in graph.keys() {
        if marks[node.as_str()] == Mark::New {
            if let Some(cycle) = visit(node, graph, &mut marks, &mut Vec::new()) {
                return Some(cycle);
            }
        }
    }
    None
}

#[test]
fn modules_form_no_cycle() {
    let graph = graph();
    assert!(graph.len() > 10, "found the modules: {graph:?}");
    if let Some(cycle) = find_cycle(&graph) {
        panic!("module import cycle: {}", cycle.join(" -> "));
    }
}

#[test]
fn the_vocabulary_imports_nothing_of_the_crate() {
    let graph = graph();
    assert_eq!(graph["model"], BTreeSet::new(), "model must stay a leaf");
}

#[test]
fn the_cycle_finder_finds_cycles() {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let edge = |g: &mut BTreeMap<String, BTreeSet<String>>, a: &str, b: &str| {
        g.entry(a.into()).or_default().insert(b.into());
        g.entry(b.into()).or_default();
    };
    edge(&mut graph, "a", "b");
    edge(&mut graph, "b", "c");
    assert_eq!(find_cycle(&graph), None);
    edge(&mut graph, "c", "a");
    assert_eq!(
        find_cycle(&graph).unwrap(),
        ["a", "b", "c", "a"].map(String::from)
    );
    assert_eq!(
        referenced(
            "use crate::{\n    model::{Stat, Hash},\n    hash,\n};\n// crate::plan\nlet x = crate::db::Db;"
        ),
        ["db", "hash", "model"].map(String::from).into()
    );
    assert_eq!(
        referenced_after(
            "use super::pixels::{Px};\nuse super::{Limits, jpeg};\nsuper::super::x::y;\n",
            "super::"
        ),
        ["Limits", "jpeg", "pixels"].map(String::from).into()
    );
}

/// The code of a file without its test modules (by convention at the
/// end, after `#[cfg(test)]`): in them `super::` names the file itself.
fn without_tests(text: &str) -> &str {
    text.find("#[cfg(test)]\nmod ")
        .map_or(text, |at| &text[..at])
}

/// For each package (a folder under `src/` with a `mod.rs`), the files it
/// holds and which of them each names.
fn package_graphs() -> BTreeMap<String, BTreeMap<String, BTreeSet<String>>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut packages = BTreeMap::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let dir = entry.unwrap().path();
        if !dir.join("mod.rs").is_file() {
            continue;
        }
        let package = dir.file_name().unwrap().to_str().unwrap().to_string();
        let mut files = Vec::new();
        rust_files(&dir, &mut files);
        let name = |file: &Path| file.file_stem().unwrap().to_str().unwrap().to_string();
        let members: BTreeSet<String> = files.iter().map(|f| name(f)).collect();
        let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for file in &files {
            let me = name(file);
            let text = std::fs::read_to_string(file).unwrap();
            let code = without_tests(&text);
            // In `mod.rs`, `self::` names a member; elsewhere `super::` does.
            let local = if me == "mod" { "self::" } else { "super::" };
            let mut deps = referenced_after(code, local);
            deps.extend(referenced_after(code, &format!("crate::{package}::")));
            deps.retain(|d| members.contains(d) && *d != me && d != "mod");
            graph.entry(me).or_default().extend(deps);
        }
        packages.insert(package, graph);
    }
    packages
}

#[test]
fn files_inside_a_package_form_no_cycle() {
    let packages = package_graphs();
    assert!(packages.contains_key("render") && packages["render"].len() > 10);
    for (package, graph) in &packages {
        if let Some(cycle) = find_cycle(graph) {
            panic!("import cycle inside {package}/: {}", cycle.join(" -> "));
        }
    }
}

/// The modules of docs/ARCHITECTURE.md's table, top to bottom.
fn documented_layers() -> Vec<String> {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/ARCHITECTURE.md"))
            .unwrap();
    let table = doc
        .split("## Who owns what")
        .nth(1)
        .expect("docs/ARCHITECTURE.md has its table of modules");
    table
        .lines()
        .skip_while(|l| !l.starts_with("| module"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .filter_map(|l| {
            let cell = l.split('|').nth(1)?.trim().trim_matches('`');
            Some(cell.trim_end_matches('/').to_string())
        })
        .collect()
}

/// A module imports only modules above it in the documented table, and
/// the leaves every layer may use.
#[test]
fn modules_import_only_the_layers_above_them() {
    const LEAVES: [&str; 4] = ["model", "paths", "error", "cli"];
    let layers = documented_layers();
    let graph = graph();
    for module in graph.keys() {
        assert!(
            layers.contains(module),
            "src/{module} is missing from the table in docs/ARCHITECTURE.md"
        );
    }
    let rank = |m: &str| layers.iter().position(|l| l == m).unwrap();
    for (module, deps) in &graph {
        for dep in deps {
            assert!(
                LEAVES.contains(&dep.as_str()) || rank(dep) < rank(module),
                "{module} imports {dep}, which docs/ARCHITECTURE.md places below it"
            );
        }
    }
}

/// The lints that keep the crate documented, its `pub` honest, its unsafe
/// blocks justified and its printing in one module stay switched on: a
/// `-D warnings` clippy run passes just as well without them.
#[test]
fn the_lints_table_stays() {
    let manifest =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap();
    let manifest: toml::Table = manifest.parse().unwrap();
    let lints = manifest.get("lints").and_then(|l| l.as_table());
    for (group, names) in [
        ("rust", &["missing_docs", "unreachable_pub"][..]),
        (
            "clippy",
            &["undocumented_unsafe_blocks", "print_stdout", "print_stderr"][..],
        ),
    ] {
        for name in names {
            let level = lints
                .and_then(|l| l.get(group))
                .and_then(|g| g.get(*name))
                .and_then(|v| v.as_str());
            assert!(
                matches!(level, Some("warn" | "deny")),
                "[lints.{group}] {name} is {level:?} in Cargo.toml; it must be \"warn\" (CI denies warnings)"
            );
        }
    }
}

/// Every benchmark script is in bench/README.md, with a line that runs it
/// (the modules the scripts import are described only).
#[test]
fn every_benchmark_script_is_documented() {
    let bench = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench");
    let readme = std::fs::read_to_string(bench.join("README.md")).unwrap();
    for entry in std::fs::read_dir(&bench).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".py") || name.ends_with(".sh") {
            assert!(
                readme.contains(&format!("`{name}`")),
                "bench/{name} is not described in bench/README.md"
            );
            if !["benchlib.py", "s3_memory.py"].contains(&name.as_str()) {
                assert!(
                    readme.contains(&format!("bench/{name}")),
                    "bench/README.md has no line that runs bench/{name}"
                );
            }
        }
    }
}
