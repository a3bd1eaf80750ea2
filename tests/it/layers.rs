//! The module layers of `docs/internals.md`, held by a test (issue #10: "the module walk from
//! `jwtprobe run` and `jwtprobe load` to their reports goes down the layers without climbing
//! back"). The compiler already keeps the library from importing `cli` (it is private to the
//! binary); this test keeps each library module to the modules below it, and the synchronous
//! modules away from the network.

use std::collections::{BTreeMap, BTreeSet};

use camino::{Utf8Path, Utf8PathBuf};

/// Each top-level module of the library and the library modules it may import. A module
/// imports only what is listed: a new edge is a design change, made here and in
/// `docs/internals.md` together.
const LAYERS: &[(&str, &[&str])] = &[
    // Leaves: every module may use them.
    ("diag", &[]),
    ("jose", &[]),
    ("client", &[]),
    ("embedded", &[]),
    // Synchronous, no network.
    ("keys", &["diag", "jose"]),
    ("token", &["jose", "keys"]),
    ("scenario", &["diag", "jose"]),
    ("check", &["diag", "jose", "scenario", "token"]),
    // The harness.
    (
        "runner",
        &[
            "check", "client", "diag", "jose", "keys", "scenario", "token",
        ],
    ),
    ("probe", &["client", "scenario", "token"]),
    (
        "load",
        &[
            "check", "client", "diag", "jose", "runner", "scenario", "token",
        ],
    ),
    // The emulator never reaches the harness, so the harness cannot cheat through it.
    ("mock", &["diag", "jose", "keys", "token"]),
    // Reads results, never drives a run.
    (
        "report",
        &[
            "check", "client", "diag", "load", "runner", "scenario", "token",
        ],
    ),
    // Resolves settings into the plan of the modules below it.
    (
        "settings",
        &["client", "diag", "jose", "load", "runner", "scenario"],
    ),
    // Hidden entry points for the fuzz targets.
    (
        "fuzzing",
        &[
            "client", "diag", "jose", "keys", "mock", "scenario", "token",
        ],
    ),
];

/// Modules that are synchronous and do no network I/O (DESIGN.md).
const SYNCHRONOUS: &[&str] = &["diag", "jose", "keys", "token", "scenario", "check"];

fn src() -> Utf8PathBuf {
    Utf8PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The Rust files of module `name`: `src/name.rs` and everything under `src/name/`.
fn files_of(name: &str) -> Vec<Utf8PathBuf> {
    let mut out = Vec::new();
    let file = src().join(format!("{name}.rs"));
    if file.is_file() {
        out.push(file);
    }
    let mut dirs = vec![src().join(name)];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = fs_err::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = Utf8PathBuf::try_from(entry.path()).expect("UTF-8 path");
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension() == Some("rs") {
                out.push(path);
            }
        }
    }
    out
}

/// The code of a file without its comments (line comments, doc comments and `/* */`), so that a
/// doc link to another module is not an import.
fn code_of(path: &Utf8Path) -> String {
    let text = fs_err::read_to_string(path).expect("read source");
    let mut out = String::new();
    let mut block = false;
    for line in text.lines() {
        let mut rest = line;
        let mut kept = String::new();
        loop {
            if block {
                match rest.find("*/") {
                    Some(end) => {
                        rest = &rest[end + 2..];
                        block = false;
                    }
                    None => break,
                }
            } else {
                let line_comment = rest.find("//");
                let block_comment = rest.find("/*");
                let block_first = match (line_comment, block_comment) {
                    (Some(l), Some(b)) => b < l,
                    (None, Some(_)) => true,
                    _ => false,
                };
                match (line_comment, block_comment) {
                    (_, Some(b)) if block_first => {
                        kept.push_str(&rest[..b]);
                        rest = &rest[b + 2..];
                        block = true;
                    }
                    (Some(l), _) => {
                        kept.push_str(&rest[..l]);
                        break;
                    }
                    _ => {
                        kept.push_str(rest);
                        break;
                    }
                }
            }
        }
        out.push_str(&kept);
        out.push('\n');
    }
    out
}

/// The library modules a piece of code names as `crate::<module>`.
fn imports(code: &str, modules: &BTreeSet<&str>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let name: String = code[at + "crate::".len()..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if modules.contains(name.as_str()) {
            out.insert(name);
        }
    }
    out
}

#[test]
fn every_library_module_imports_only_the_layers_below_it() {
    let modules: BTreeSet<&str> = LAYERS.iter().map(|(m, _)| *m).collect();
    // Every module declared in lib.rs is in the table, so a new one cannot skip it.
    let lib = code_of(&src().join("lib.rs"));
    let declared: BTreeSet<&str> = lib
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub mod "))
        .map(|l| l.trim_end_matches(';'))
        .collect();
    assert_eq!(declared, modules, "lib.rs modules vs the layer table");
    assert!(!declared.contains("cli"), "cli is private to the binary");

    let mut climbing = BTreeMap::new();
    for (module, allowed) in LAYERS {
        let files = files_of(module);
        assert!(!files.is_empty(), "no source for module `{module}`");
        for file in files {
            let used = imports(&code_of(&file), &modules);
            let bad: Vec<_> = used
                .iter()
                .filter(|u| u.as_str() != *module && !allowed.contains(&u.as_str()))
                .cloned()
                .collect();
            if !bad.is_empty() {
                climbing.insert(file.to_string(), bad);
            }
        }
    }
    assert!(
        climbing.is_empty(),
        "imports outside the layer table: {climbing:#?}"
    );
}

#[test]
fn synchronous_modules_use_no_network_or_async_runtime() {
    let network = ["tokio::", "reqwest::", "hyper::", "std::net::", "axum::"];
    let mut found = Vec::new();
    for module in SYNCHRONOUS {
        for file in files_of(module) {
            let code = code_of(&file);
            for word in network {
                if code.contains(word) {
                    found.push(format!("{file}: {word}"));
                }
            }
        }
    }
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn the_scan_sees_an_import_and_skips_a_doc_link() {
    let modules: BTreeSet<&str> = ["load", "report"].into_iter().collect();
    let code = "/// see [`x`](crate::report::y)\nuse crate::load::z; // crate::report\n/* crate::report */";
    let path = Utf8PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/layers-probe.rs");
    fs_err::create_dir_all(path.parent().expect("parent")).expect("target dir");
    fs_err::write(&path, code).expect("write probe");
    let used = imports(&code_of(&path), &modules);
    assert_eq!(used, ["load".to_owned()].into_iter().collect());
}
