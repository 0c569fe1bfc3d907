//! Snapshot tests of the expansion: each case's expansion, formatted, must equal the expanded-output file
//! `tests/expand/<case>.expanded.rs` of this crate. After a deliberate change, rewrite them with
//! `MAGEFLOW_BLESS=1 cargo test -p mageflow-macros snapshots` and review the diff.

use std::path::PathBuf;

use proc_macro2::TokenStream;
use quote::quote;

/// Every form of the grammar, and two mistakes (whose expansion keeps what could be read).
const CASES: &[(&str, &str)] = &[
    ("sequence", "extract >> clean >> load"),
    ("bind", r#"charge >> send_email.bind(template = "receipt", cc = None)"#),
    ("swarm", "fetch >> [resize, thumbnail >> upload; max_concurrency = 4] >> publish"),
    ("swarm_tolerant_first", "[resize, thumbnail; stop_after_failures = 2, max_items = 2]"),
    ("group_and_escape", "extract >> (clean >> dedupe) >> { load_flow(day) }"),
    ("options", r#"extract >> load, name = "etl", on_success = notify.bind(to = "ops") >> archive, on_error = alert"#),
    ("dangling_arrow", "extract >> load >>"),
    ("empty", ""),
];

fn expansion(source: &str) -> String {
    let tokens: TokenStream = source.parse().unwrap_or_else(|error| panic!("case `{source}`: {error}"));
    let expanded = super::expand(tokens);
    let file: syn::File = syn::parse2(quote!(fn flow() { let _ = #expanded; }))
        .unwrap_or_else(|error| panic!("the expansion of `{source}` is not an expression: {error}\n{expanded}"));
    format!("// flow!({source})\n{}", prettyplease::unparse(&file))
}

#[test]
fn expansions_match_their_snapshots() {
    let directory = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/expand");
    let bless = std::env::var_os("MAGEFLOW_BLESS").is_some();
    let mut stale = Vec::new();
    for (name, source) in CASES {
        let path = directory.join(format!("{name}.expanded.rs"));
        let actual = expansion(source);
        if bless {
            std::fs::create_dir_all(&directory).expect("the snapshot directory can be created");
            std::fs::write(&path, &actual).expect("the snapshot can be written");
            continue;
        }
        let expected = std::fs::read_to_string(&path).unwrap_or_default();
        if expected != actual {
            stale.push(format!("--- {} (expected) / actual:\n{actual}", path.display()));
        }
    }
    assert!(
        stale.is_empty(),
        "expansions differ from their snapshots (MAGEFLOW_BLESS=1 rewrites them):\n{}",
        stale.join("\n")
    );
}
