//! Embeds the shipped `knowledge/` in the binary, so that one file is all an
//! operator needs to deploy. `knowledge::load_embedded` reads it.

use std::fmt::Write as _;
use std::path::PathBuf;

fn main() {
    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"))
        .join("knowledge");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map(|listing| {
            listing
                .filter_map(|item| item.ok())
                .map(|item| item.file_name().to_string_lossy().to_string())
                .filter(|name| name.ends_with(".toml") || name == "userdict.txt")
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let mut code = String::from("pub static SHIPPED: &[(&str, &str)] = &[\n");
    for name in &names {
        let path = dir.join(name);
        println!("cargo:rerun-if-changed={}", path.display());
        writeln!(
            code,
            "    ({name:?}, include_str!({:?})),",
            path.display().to_string()
        )
        .expect("writing to a String");
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it"))
        .join("shipped_knowledge.rs");
    std::fs::write(out, code).expect("OUT_DIR is writable");
}
