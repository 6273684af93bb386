//! Keeps `ARCHITECTURE.md` true to the tree: every path its code map names in backticks exists,
//! and every workspace member and every top-level module of each library crate is named in
//! it. A rename or a new module that the document does not follow fails here.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the repository")
        .to_path_buf()
}

fn document() -> String {
    let path = repository().join("ARCHITECTURE.md");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
}

/// The text of every `` `...` `` span in `text`.
fn code_spans(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

/// A code span that names a path of the repository: a known top-level directory followed by
/// more, without spaces, wildcards or placeholders.
fn as_repository_path(span: &str) -> Option<&str> {
    const ROOTS: [&str; 9] = [
        "runtime/",
        "tables/",
        "apps/",
        "examples/",
        "tests/",
        "testkit/",
        "deploy/",
        "bench/",
        ".ci/",
    ];
    let path = span.split(':').next().unwrap_or(span);
    let clean = !path.contains([' ', '*', '<', '>', '{', '}', '…']) && !path.contains("..");
    (clean && ROOTS.iter().any(|root| path.starts_with(root))).then_some(path)
}

#[test]
fn every_path_the_document_names_exists() {
    let text = document();
    let root = repository();
    let missing: BTreeSet<&str> = code_spans(&text)
        .into_iter()
        .filter_map(as_repository_path)
        .filter(|path| !root.join(path).exists())
        .collect();
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md names paths that do not exist: {missing:?}"
    );
}

/// The workspace members, read from the root manifest.
fn members() -> Vec<String> {
    let manifest = std::fs::read_to_string(repository().join("Cargo.toml")).expect("Cargo.toml");
    let start = manifest.find("members").expect("a members list");
    let list = &manifest[start..];
    let list = &list[list.find('[').expect("[") + 1..list.find(']').expect("]")];
    list.split(',')
        .map(|member| member.trim().trim_matches('"').to_string())
        .filter(|member| !member.is_empty())
        .collect()
}

#[test]
fn every_crate_and_top_level_module_is_on_the_map() {
    let text = document();
    let root = repository();
    let mut unmapped = Vec::new();
    for member in members() {
        if !text.contains(&format!("`{member}/")) {
            unmapped.push(format!("{member}/"));
        }
        let lib = root.join(&member).join("src").join("lib.rs");
        let Ok(lib) = std::fs::read_to_string(&lib) else {
            continue;
        };
        for line in lib.lines() {
            let line = line.trim_start();
            let Some(module) = line
                .strip_prefix("pub mod ")
                .or_else(|| line.strip_prefix("mod "))
                .and_then(|rest| rest.strip_suffix(';'))
            else {
                continue;
            };
            let file = format!("{member}/src/{module}.rs");
            let dir = format!("{member}/src/{module}/");
            if !text.contains(&format!("`{file}")) && !text.contains(&format!("`{dir}")) {
                unmapped.push(dir);
            }
        }
    }
    assert!(
        unmapped.is_empty(),
        "ARCHITECTURE.md's code map does not name: {unmapped:?}"
    );
}

#[test]
fn path_spans_are_recognised() {
    assert_eq!(
        as_repository_path("runtime/src/supervisor/plan.rs:12"),
        Some("runtime/src/supervisor/plan.rs")
    );
    assert_eq!(as_repository_path("apps/xmpp/tests/*.rs"), None);
    assert_eq!(as_repository_path("cargo test"), None);
    assert_eq!(code_spans("a `b` c `d/e` f"), vec!["b", "d/e"]);
}
