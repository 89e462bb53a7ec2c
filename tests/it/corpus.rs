//! The shipped corpus in `knowledge/` meets the corpus rules: every file
//! loads, ids are unique, no two entries share a question, every entry has a
//! source and at least three alternates, answers are 80–400 characters,
//! simplified fields stay unchanged by traditional → simplified conversion,
//! and every topic has its minimum number of entries.

use safety_bot::knowledge::{CATEGORIES, load_dir};

use crate::shipped_dir;

/// Minimum entries per topic, as the corpus issue sets them.
const MINIMUMS: &[(&str, usize)] = &[
    ("燃气安全", 25),
    ("用电安全", 25),
    ("电动自行车", 25),
    ("消防与火灾逃生", 35),
    ("一氧化碳中毒", 10),
    ("道路交通", 25),
    ("防溺水", 12),
    ("地震", 10),
    ("暴雨洪涝与台风", 10),
    ("雷电", 6),
    ("高温中暑", 8),
    ("山体滑坡与泥石流", 6),
    ("急救", 30),
    ("企业安全生产主体责任", 20),
    ("有限空间作业", 10),
    ("危险化学品", 15),
    ("烟花爆竹", 10),
    ("建筑施工", 15),
    ("特种设备", 12),
    ("家庭与儿童", 15),
    ("人员密集场所", 10),
    ("户外", 10),
    ("安全生产月与宣传活动", 12),
    ("应急电话与隐患举报", 12),
    ("家庭应急准备", 8),
    ("食品中毒", 8),
    ("从业人员权利与义务", 25),
];

#[test]
fn the_shipped_corpus_has_no_problems() {
    let (knowledge, problems) = load_dir(&shipped_dir()).expect("knowledge/ loads");
    let listed: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert!(
        listed.is_empty(),
        "{} problems:\n{}",
        listed.len(),
        listed.join("\n")
    );
    assert!(
        knowledge.entries.len() >= 400,
        "only {} entries",
        knowledge.entries.len()
    );
}

#[test]
fn every_topic_meets_its_minimum() {
    let (knowledge, _) = load_dir(&shipped_dir()).expect("knowledge/ loads");
    assert_eq!(MINIMUMS.len(), CATEGORIES.len());
    let short: Vec<String> = MINIMUMS
        .iter()
        .filter_map(|(category, minimum)| {
            let n = knowledge
                .entries
                .iter()
                .filter(|e| e.category == *category)
                .count();
            (n < *minimum).then(|| format!("{category}: {n} < {minimum}"))
        })
        .collect();
    assert!(short.is_empty(), "{short:?}");
}

#[test]
fn synonyms_dictionary_and_cards_are_substantial() {
    let (knowledge, _) = load_dir(&shipped_dir()).expect("knowledge/ loads");
    assert!(
        knowledge.synonyms.len() >= 80,
        "{} synonym groups",
        knowledge.synonyms.len()
    );
    let terms = knowledge
        .user_dict
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .count();
    assert!(terms >= 300, "{terms} dictionary terms");
    assert!(
        knowledge.cards.len() >= 12,
        "{} cards",
        knowledge.cards.len()
    );
    for card in &knowledge.cards {
        if let Some(id) = &card.entry {
            assert!(
                knowledge.entry(id).is_some(),
                "card {} names missing entry {id}",
                card.id
            );
        }
    }
}

#[test]
fn simplified_text_is_unchanged_by_conversion() {
    let (knowledge, _) = load_dir(&shipped_dir()).expect("knowledge/ loads");
    for entry in &knowledge.entries {
        for text in [&entry.question, &entry.answer, &entry.source]
            .into_iter()
            .chain(&entry.keywords)
        {
            assert_eq!(&hanconv::t2s(text), text, "entry {}", entry.id);
        }
    }
}

#[test]
fn the_binary_carries_the_same_corpus() {
    let (on_disk, _) = load_dir(&shipped_dir()).expect("knowledge/ loads");
    let (embedded, problems) = safety_bot::knowledge::load_embedded();
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(embedded.fingerprint(), on_disk.fingerprint());
    assert_eq!(embedded.cards, on_disk.cards);
}
