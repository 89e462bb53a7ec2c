//! Arbitrary bytes thrown at the file readers (CSV, xlsx, JSON lines, TOML)
//! and at a whole import: an error or rows, never a panic.
//!
//! The suite runs a few thousand cases; set `FUZZ_CASES` for a longer run
//! (docs/readme-staff.md): `FUZZ_CASES=200000 cargo test --release --test it staff_fuzz`.

use std::sync::OnceLock;

use proptest::prelude::*;
use safety_bot::sheet;

use crate::sheets::{HEADER, good_row, staff, xlsx};

fn cases(default: u32) -> u32 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

/// A small valid workbook, to damage.
fn workbook() -> &'static [u8] {
    static WORKBOOK: OnceLock<Vec<u8>> = OnceLock::new();
    WORKBOOK.get_or_init(|| xlsx(&HEADER, &[good_row(1), good_row(2)]))
}

const NAMES: &[&str] = &[
    "f.csv", "f.xlsx", "f.jsonl", "f.toml", "f.json", "f.txt", "f",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(1500)))]

    #[test]
    fn any_bytes_under_any_name(
        bytes in proptest::collection::vec(any::<u8>(), 0..600),
        name in proptest::sample::select(NAMES),
    ) {
        let _ = sheet::read(name, &bytes);
    }

    #[test]
    fn a_damaged_workbook(
        flips in proptest::collection::vec((any::<proptest::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<proptest::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let mut bytes = workbook().to_vec();
        for (at, value) in flips {
            let at = at.index(bytes.len());
            bytes[at] = value;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len()));
        }
        let _ = sheet::read("damaged.xlsx", &bytes);
    }

    #[test]
    fn csv_and_json_made_of_their_own_syntax(
        text in "[\",;\t\r\n{}\\[\\]:a1 问题答案来源分类编号燃气安全-]{0,300}",
        name in proptest::sample::select(&["f.csv", "f.jsonl", "f.toml"][..]),
    ) {
        let _ = sheet::read(name, text.as_bytes());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(300)))]

    /// A whole import (reading, checking against the store, writing) of a
    /// CSV whose cells are anything: a report, never a panic.
    #[test]
    fn any_cells_through_a_whole_import(
        cells in proptest::collection::vec(proptest::collection::vec(any::<String>(), 8), 0..6),
    ) {
        let staff = staff();
        let rows: Vec<Vec<String>> = cells;
        let text = crate::sheets::csv(&HEADER, &rows);
        let report = crate::sheets::import(&staff, "any.csv", text.into_bytes());
        prop_assert!(!report.summary().is_empty());
    }
}
