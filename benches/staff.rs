//! Timings of the staff workflow on the shipped corpus, printed as a table.
//! Run with `cargo bench --bench staff` (release build; a few minutes the
//! first time). Speed targets are shown here, not asserted in tests.
//!
//! - live edit: `Staff::save` of a changed entry until `ask` answers it
//!   (store commit, index commit, reader reload, fingerprint);
//! - start-up: opening store, shipped sync and engine when nothing changed,
//!   against loading `knowledge/` alone (what `ask` paid before the store);
//! - import: a 5,000-row CSV into the store (read, check, one transaction).

use std::path::Path;
use std::time::{Duration, Instant};

use safety_bot::knowledge::load_dir;
use safety_bot::staff::{self, ImportFile, ImportOptions};

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let at = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[at]
}

fn row(label: &str, samples: &mut [Duration]) {
    println!(
        "{label:<48} median {:>8.2} ms   p99 {:>8.2} ms   (n = {})",
        percentile(samples, 0.5).as_secs_f64() * 1000.0,
        percentile(samples, 0.99).as_secs_f64() * 1000.0,
        samples.len()
    );
}

fn main() {
    let knowledge_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("knowledge");
    let data = tempfile::tempdir().expect("temporary directory");
    let started = Instant::now();
    let opened = staff::open(Some(&knowledge_dir), data.path()).expect("open");
    println!(
        "first start (store filled from knowledge/, index built): {:.2} s, {} entries",
        started.elapsed().as_secs_f64(),
        opened.engine.entry_count()
    );

    // Live edits: each save changes an answer and must be answered at once.
    let ids: Vec<String> = opened
        .store
        .active_entries()
        .expect("entries")
        .into_iter()
        .take(60)
        .map(|e| e.id)
        .collect();
    let mut samples = Vec::new();
    for (n, id) in ids.iter().enumerate() {
        let mut entry = opened.store.stored_entry(id).unwrap().unwrap().entry;
        let marker = format!("（第 {n} 次修改）");
        entry.answer = format!("{}{marker}", entry.answer.trim_end());
        let question = entry.question.clone();
        let started = Instant::now();
        opened.staff.save(entry, "bench").expect("save");
        let reply = opened.engine.ask(&question);
        samples.push(started.elapsed());
        let answered = reply
            .entry
            .map(|e| e.answer.ends_with(&marker))
            .unwrap_or(false);
        assert!(answered, "edit of {id} not answered");
    }
    row("live edit: save → answered", &mut samples);

    // Where the time of an edit goes: the store commit, the index commit
    // and reload, each alone.
    let mut store_only = Vec::new();
    let mut index_only = Vec::new();
    for (n, id) in ids.iter().enumerate().take(30) {
        let mut entry = opened.store.stored_entry(id).unwrap().unwrap().entry;
        entry.answer = format!("{}（分段计时 {n}）", entry.answer.trim_end());
        let batch = safety_bot::store::Batch {
            actor: "bench".to_string(),
            note: String::new(),
            changes: vec![safety_bot::store::Change::Upsert(entry.clone())],
            import: None,
        };
        let started = Instant::now();
        opened.store.write(&batch, &mut |_, _| {}).expect("write");
        store_only.push(started.elapsed());
        let started = Instant::now();
        opened.engine.apply(&[], vec![entry]).expect("apply");
        index_only.push(started.elapsed());
    }
    // The engine already holds these changes: refresh finds nothing to
    // apply and records the index fingerprint.
    assert_eq!(opened.staff.refresh().expect("refresh"), 0);
    row("  of which: store commit", &mut store_only);
    row("  of which: index commit + reader reload", &mut index_only);
    drop(opened);

    // Start-up with nothing changed.
    let mut load_only = Vec::new();
    let mut full_open = Vec::new();
    for _ in 0..15 {
        let started = Instant::now();
        let _ = load_dir(&knowledge_dir).expect("load");
        load_only.push(started.elapsed());
        let started = Instant::now();
        let opened = staff::open(Some(&knowledge_dir), data.path()).expect("open");
        full_open.push(started.elapsed());
        assert!(!opened.index_rebuilt, "index rebuilt on an unchanged start");
    }
    let mut without_store = Vec::new();
    for _ in 0..15 {
        // What `ask` did before the store: the engine straight from the files
        // (its own index directory, so the store's index is not disturbed).
        let plain = data.path().join("plain");
        let started = Instant::now();
        let (knowledge, _) = load_dir(&knowledge_dir).expect("load");
        let _ = safety_bot::engine::Engine::open(knowledge, &plain).expect("engine");
        without_store.push(started.elapsed());
    }
    row("start-up: load knowledge/ only", &mut load_only);
    row(
        "start-up: knowledge/ + engine, no store (before)",
        &mut without_store,
    );
    row("start-up: knowledge/ + store sync + engine", &mut full_open);

    // A large import into the store.
    let mut csv = String::from("编号,分类,问题,相似问法,答案,关键词,来源,审核日期\n");
    for n in 0..5000 {
        csv.push_str(&format!(
            "bench-{n},燃气安全,压测问题{n}号燃气表漏气找谁修,\"燃气表{n}坏了\n表{n}漏气打哪个电话\",关闭阀门、开窗通风、到室外打抢修电话。,燃气表,本市燃气公司,2026-06-01\n"
        ));
    }
    let store_only = staff::open_store(Some(&knowledge_dir), data.path()).expect("open store");
    let started = Instant::now();
    let report = store_only
        .staff
        .import(
            vec![ImportFile {
                name: "bench.csv".to_string(),
                bytes: csv.into_bytes(),
            }],
            &ImportOptions {
                actor: "bench".to_string(),
                ..ImportOptions::default()
            },
            &mut |_, _, _| {},
        )
        .expect("import");
    assert_eq!(report.added, 5000, "{}", report.text(5));
    println!(
        "import of 5,000 CSV rows into the store: {:.2} s",
        started.elapsed().as_secs_f64()
    );
    drop(store_only);
    let started = Instant::now();
    let opened = staff::open(Some(&knowledge_dir), data.path()).expect("open");
    assert!(opened.index_rebuilt);
    println!(
        "next start, index rebuilt for {} entries: {:.2} s",
        opened.engine.entry_count(),
        started.elapsed().as_secs_f64()
    );
}
