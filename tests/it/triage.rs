//! Triage over the shipped emergency cards: danger-now messages lead with
//! the right card; prevention, knowledge, hypothetical and past look-alikes
//! do not. Cases live in `tests/fixtures/triage.tsv`, one a line.

use std::path::PathBuf;

use safety_bot::knowledge::load_dir;
use safety_bot::text::normalize;
use safety_bot::triage::Triage;

#[test]
fn danger_now_and_look_alikes() {
    let (knowledge, _) = load_dir(&crate::shipped_dir()).expect("knowledge/ loads");
    let triage = Triage::new(&knowledge.cards);
    let cases = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/triage.tsv"),
    )
    .unwrap();
    let mut failures = Vec::new();
    let mut count = 0;
    for line in cases
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let (expected, message) = line.split_once('\t').expect("expected<TAB>message");
        let got = triage
            .detect(&normalize(message))
            .map(|c| c.id.as_str())
            .unwrap_or("-");
        count += 1;
        if got != expected {
            failures.push(format!("{message}: expected {expected}, got {got}"));
        }
    }
    assert!(count >= 60, "only {count} cases");
    assert!(
        failures.is_empty(),
        "{} of {count} wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
