//! The integration tests, in one binary so they share one build and one
//! fixture engine.
//!
//! - `behaviour`: questions in, outcomes out, through one `check` helper.
//! - `robustness`: input that must never crash or be read as syntax.
//! - `cli`: the command line and its JSON contract, on the real binary.
//! - `triage`: danger-now messages versus look-alikes, over the shipped cards.
//! - `corpus`: the shipped `knowledge/` meets the corpus rules.
//! - `sheets`: files as staff send them, built in the tests (shared helpers).
//! - `staff_import`: every import format, every validation error, round trips.
//! - `staff_live`: edits searchable at once; shipped files meet staff edits.
//! - `staff_crash`: kill -9 during an import, then restart: old or new, never half.
//! - `staff_cli`: the staff commands on the real binary, exit codes and messages.
//! - `staff_fuzz`: arbitrary bytes into the file readers and imports: never a panic.
//! - `bench`: `safety-bot bench` runs on a tiny corpus and keeps its JSON
//!   contract (the figures themselves are measured by hand).

mod behaviour;
mod bench;
mod cli;
mod corpus;
mod robustness;
mod sheets;
mod staff_cli;
mod staff_crash;
mod staff_fuzz;
mod staff_import;
mod staff_live;
mod triage;

use std::path::PathBuf;
use std::sync::OnceLock;

use safety_bot::engine::Engine;

pub fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/knowledge")
}

pub fn shipped_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("knowledge")
}

/// One engine over the fixture corpus, built once per test run.
pub fn fixture_engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let (knowledge, problems) =
            safety_bot::knowledge::load_dir(&fixture_dir()).expect("fixture loads");
        assert!(problems.is_empty(), "fixture problems: {problems:?}");
        Engine::in_memory(knowledge).expect("fixture engine")
    })
}
