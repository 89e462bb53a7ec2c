//! Live edits and the store as the system of record: a saved change is
//! answered on return, without a restart; the index on disk follows the
//! store across restarts; a running engine picks up changes another
//! process made; and the rules for shipped files meeting staff edits.

use safety_bot::knowledge::{Entry, Knowledge};
use safety_bot::reply::Outcome;
use safety_bot::staff::{self, Opened, StaffError};
use safety_bot::store::{Action, EntryState, Origin, Pending, Store};

use crate::sheets::{fixture_knowledge, staff};
use crate::{fixture_dir, shipped_dir};

fn live() -> Opened {
    staff::assemble(fixture_knowledge(), Store::in_memory().unwrap(), None).unwrap()
}

fn answer_id(opened: &Opened, question: &str) -> Option<String> {
    let reply = opened.engine.ask(question);
    (reply.outcome == Outcome::Answer)
        .then(|| reply.entry.map(|e| e.id.clone()))
        .flatten()
}

fn meter_entry() -> Entry {
    Entry {
        id: String::new(),
        category: "燃气安全".to_string(),
        question: "燃气表漏气了找谁来修？".to_string(),
        alternates: vec!["燃气表坏了打哪个电话".to_string()],
        answer: "关闭表前阀门、开窗通风，到室外拨打燃气公司抢修电话。".to_string(),
        keywords: vec!["燃气表".to_string()],
        source: "本市燃气公司".to_string(),
        reviewed: String::new(),
    }
}

#[test]
fn a_new_entry_is_answered_right_after_saving() {
    let opened = live();
    assert_eq!(answer_id(&opened, "燃气表漏气了找谁修"), None);
    let saved = opened.staff.save(meter_entry(), "telegram:7").unwrap();
    assert!(saved.id.starts_with("gas-q"), "{}", saved.id);
    assert_eq!(
        answer_id(&opened, "燃气表漏气了找谁修"),
        Some(saved.id.clone())
    );
    let history = opened.store.history(&saved.id).unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].action, Action::Add);
    assert_eq!(history[0].actor, "telegram:7");
}

#[test]
fn edits_deletions_restores_and_new_wordings_take_effect_at_once() {
    let opened = live();
    let staff = &opened.staff;
    // Edit an answer.
    let mut alarm = opened
        .store
        .stored_entry("gas-alarm")
        .unwrap()
        .unwrap()
        .entry;
    alarm.answer = "咨询日特别提示：报警器装在燃气灶附近。".to_string();
    staff.save(alarm.clone(), "cli:wang").unwrap();
    let reply = opened.engine.ask("燃气报警器装在哪");
    assert_eq!(reply.entry.unwrap().answer, alarm.answer);
    // Delete: no longer answered; restore: answered again.
    staff.delete("gas-alarm", "cli:wang").unwrap();
    assert_ne!(
        answer_id(&opened, "燃气报警器装在哪").as_deref(),
        Some("gas-alarm")
    );
    assert!(opened.engine.entry("gas-alarm").is_none());
    staff.restore("gas-alarm", "cli:wang").unwrap();
    assert_eq!(
        answer_id(&opened, "燃气报警器装在哪").as_deref(),
        Some("gas-alarm")
    );
    // A wording residents used becomes an alternate and is answered.
    let wording = "那个会叫的小白盒子挂哪儿";
    assert_ne!(answer_id(&opened, wording).as_deref(), Some("gas-alarm"));
    let entry = staff
        .add_alternate("gas-alarm", wording, "cli:wang")
        .unwrap();
    assert!(entry.alternates.contains(&wording.to_string()));
    assert_eq!(answer_id(&opened, wording).as_deref(), Some("gas-alarm"));
    let actions: Vec<Action> = opened
        .store
        .history("gas-alarm")
        .unwrap()
        .iter()
        .map(|r| r.action)
        .collect();
    assert_eq!(
        actions,
        [
            Action::ShippedAdd,
            Action::Update,
            Action::Delete,
            Action::Restore,
            Action::Update
        ]
    );
}

#[test]
fn invalid_saves_are_refused_with_every_problem() {
    let opened = live();
    let mut entry = meter_entry();
    entry.question = "燃气报警器应该装在什么位置".to_string();
    entry.source = String::new();
    entry.category = "天气".to_string();
    let Err(StaffError::Invalid(problems)) = opened.staff.save(entry, "t") else {
        panic!("saved an invalid entry");
    };
    let fields: Vec<&str> = problems.iter().map(|p| p.field).collect();
    assert_eq!(fields, ["category", "source", "question"]);
    assert!(
        problems[2].to_string().contains("与已有条目 gas-alarm"),
        "{}",
        problems[2]
    );
    // Deleting what is not there is the person's mistake, not a failure.
    let missing = opened.staff.delete("no-such-entry", "t").unwrap_err();
    assert!(missing.is_user_error());
    assert_eq!(missing.to_string(), "没有编号为 no-such-entry 的条目");
}

#[test]
fn the_index_on_disk_follows_the_store_across_restarts() {
    let data = tempfile::tempdir().unwrap();
    let first = staff::open(Some(&fixture_dir()), data.path()).unwrap();
    assert!(first.index_rebuilt);
    let saved = first.staff.save(meter_entry(), "t").unwrap();
    drop(first);
    // Live changes recorded the index's fingerprint: no rebuild.
    let second = staff::open(Some(&fixture_dir()), data.path()).unwrap();
    assert!(!second.index_rebuilt);
    assert_eq!(
        answer_id(&second, "燃气表漏气了找谁修"),
        Some(saved.id.clone())
    );
    drop(second);
    // A change made with the store alone (the command line) leaves the
    // index behind: the next start sees it and rebuilds.
    let cli = staff::open_store(Some(&fixture_dir()), data.path()).unwrap();
    cli.staff.delete(&saved.id, "cli").unwrap();
    drop(cli);
    let third = staff::open(Some(&fixture_dir()), data.path()).unwrap();
    assert!(third.index_rebuilt);
    assert_ne!(answer_id(&third, "燃气表漏气了找谁修"), Some(saved.id));
}

#[test]
fn a_running_engine_picks_up_changes_from_another_process() {
    let data = tempfile::tempdir().unwrap();
    let bot = staff::open(Some(&fixture_dir()), data.path()).unwrap();
    assert_eq!(bot.staff.refresh().unwrap(), 0);
    let cli = staff::open_store(Some(&fixture_dir()), data.path()).unwrap();
    let saved = cli.staff.save(meter_entry(), "cli").unwrap();
    cli.staff.delete("gas-hose", "cli").unwrap();
    assert_eq!(bot.staff.refresh().unwrap(), 2);
    assert_eq!(answer_id(&bot, "燃气表漏气了找谁修"), Some(saved.id));
    assert!(bot.engine.entry("gas-hose").is_none());
    assert_eq!(bot.staff.refresh().unwrap(), 0);
    drop(bot);
    // The refresh recorded the fingerprint: the next start opens, not rebuilds.
    assert!(
        !staff::open(Some(&fixture_dir()), data.path())
            .unwrap()
            .index_rebuilt
    );
}

// ---------------------------------------------------------------------------
// Shipped files and staff edits.

/// The store hands the engine the shipped entries unchanged and in file
/// order, so answers (and the index fingerprint) are what they were when
/// the engine read `knowledge/` directly.
#[test]
fn a_fresh_store_holds_exactly_the_shipped_entries_in_order() {
    let (knowledge, _) = safety_bot::knowledge::load_dir(&shipped_dir()).unwrap();
    let opened = staff::store_only(knowledge.clone(), Store::in_memory().unwrap()).unwrap();
    assert_eq!(
        opened.staff.store().active_entries().unwrap(),
        knowledge.entries
    );
}

fn shipped_with(change: impl Fn(&mut Knowledge)) -> Knowledge {
    let mut knowledge = fixture_knowledge();
    change(&mut knowledge);
    knowledge
}

fn edit(knowledge: &mut Knowledge, id: &str, answer: &str) {
    knowledge
        .entries
        .iter_mut()
        .find(|e| e.id == id)
        .unwrap()
        .answer = answer.to_string();
}

#[test]
fn loading_the_same_files_again_changes_nothing() {
    let staff = staff();
    let mark = staff.store().revision_mark().unwrap();
    let again = staff
        .store()
        .sync_shipped(&fixture_knowledge().entries)
        .unwrap();
    assert!(again.skipped);
    assert_eq!(staff.store().revision_mark().unwrap(), mark);
}

#[test]
fn untouched_shipped_entries_follow_the_files() {
    let staff = staff();
    let store = staff.store();
    let updated = shipped_with(|k| edit(k, "gas-hose", "新版答案：胶管 18 个月更换。"));
    let sync = store.sync_shipped(&updated.entries).unwrap();
    assert_eq!((sync.updated, sync.added, sync.withdrawn), (1, 0, 0));
    let hose = store.stored_entry("gas-hose").unwrap().unwrap();
    assert_eq!(hose.entry.answer, "新版答案：胶管 18 个月更换。");
    assert_eq!(hose.origin, Origin::Shipped);
    assert_eq!(
        store.history("gas-hose").unwrap()[1].action,
        Action::ShippedUpdate
    );
    // Removed from the files: withdrawn, restorable; back in the files: restored.
    let removed = shipped_with(|k| k.entries.retain(|e| e.id != "gas-hose"));
    assert_eq!(store.sync_shipped(&removed.entries).unwrap().withdrawn, 1);
    assert_eq!(
        store.stored_entry("gas-hose").unwrap().unwrap().state,
        EntryState::Withdrawn
    );
    assert_eq!(store.sync_shipped(&updated.entries).unwrap().restored, 1);
    assert_eq!(
        store.stored_entry("gas-hose").unwrap().unwrap().state,
        EntryState::Active
    );
}

#[test]
fn staff_edits_win_and_the_shipped_update_waits_as_pending() {
    let staff = staff();
    let store = staff.store();
    let mut alarm = store.stored_entry("gas-alarm").unwrap().unwrap().entry;
    alarm.answer = "工作人员的版本。".to_string();
    staff.save(alarm.clone(), "staff").unwrap();
    let shipped = shipped_with(|k| edit(k, "gas-alarm", "知识库的新版本。"));
    let sync = store.sync_shipped(&shipped.entries).unwrap();
    assert_eq!(sync.newly_pending, ["gas-alarm"]);
    assert_eq!(sync.updated, 0);
    let stored = store.stored_entry("gas-alarm").unwrap().unwrap();
    assert_eq!(stored.entry.answer, "工作人员的版本。");
    assert_eq!(stored.origin, Origin::Staff);
    let Some(Pending::Update(pending)) = stored.pending else {
        panic!("no pending update");
    };
    assert_eq!(pending.answer, "知识库的新版本。");
    // Syncing the same files again does not announce it again.
    assert!(store.sync_shipped(&shipped.entries).unwrap().skipped);
    // Adopting takes the shipped text; the entry follows the files again.
    staff.adopt_shipped("gas-alarm", "staff").unwrap();
    let stored = store.stored_entry("gas-alarm").unwrap().unwrap();
    assert_eq!(stored.entry.answer, "知识库的新版本。");
    assert_eq!(stored.origin, Origin::Shipped);
    assert!(stored.pending.is_none());
    let later = shipped_with(|k| edit(k, "gas-alarm", "再下一版。"));
    assert_eq!(store.sync_shipped(&later.entries).unwrap().updated, 1);
}

#[test]
fn staff_deletions_stay_deleted() {
    let staff = staff();
    let store = staff.store();
    staff.delete("gas-smell", "staff").unwrap();
    let shipped = shipped_with(|k| edit(k, "gas-smell", "知识库改了答案。"));
    let sync = store.sync_shipped(&shipped.entries).unwrap();
    assert_eq!(sync.newly_pending, ["gas-smell"]);
    let stored = store.stored_entry("gas-smell").unwrap().unwrap();
    assert_eq!(stored.state, EntryState::Deleted);
}

#[test]
fn a_staff_edited_entry_removed_from_the_files_stays_until_staff_decide() {
    let staff = staff();
    let store = staff.store();
    let mut hose = store.stored_entry("gas-hose").unwrap().unwrap().entry;
    hose.answer = "工作人员补充的答案。".to_string();
    staff.save(hose, "staff").unwrap();
    let removed = shipped_with(|k| k.entries.retain(|e| e.id != "gas-hose"));
    let sync = store.sync_shipped(&removed.entries).unwrap();
    assert_eq!((sync.withdrawn, sync.newly_pending.len()), (0, 1));
    let stored = store.stored_entry("gas-hose").unwrap().unwrap();
    assert_eq!(stored.state, EntryState::Active);
    assert_eq!(stored.pending, Some(Pending::Removal));
    assert_eq!(staff.adopt_shipped("gas-hose", "staff").unwrap(), None);
    assert_eq!(
        store.stored_entry("gas-hose").unwrap().unwrap().state,
        EntryState::Deleted
    );
}

#[test]
fn a_staff_text_equal_to_the_shipped_one_follows_the_files_again() {
    let staff = staff();
    let store = staff.store();
    let mut alarm = store.stored_entry("gas-alarm").unwrap().unwrap().entry;
    alarm.answer = "两边都改成这样。".to_string();
    staff.save(alarm, "staff").unwrap();
    let shipped = shipped_with(|k| edit(k, "gas-alarm", "两边都改成这样。"));
    let sync = store.sync_shipped(&shipped.entries).unwrap();
    assert!(sync.newly_pending.is_empty());
    assert_eq!(
        store.stored_entry("gas-alarm").unwrap().unwrap().origin,
        Origin::Shipped
    );
}

#[test]
fn the_event_notice_is_kept_with_its_history_and_old_files_are_adopted() {
    let data = tempfile::tempdir().unwrap();
    std::fs::write(data.path().join("event.txt"), "6月16日 上午9点 人民广场\n").unwrap();
    assert!(safety_bot::event::event_text(data.path()).contains("人民广场"));
    let store = Store::open(data.path()).unwrap();
    store.set_event_notice("改到文化宫", "telegram:1").unwrap();
    assert_eq!(store.event_notice().unwrap().as_deref(), Some("改到文化宫"));
    store.set_event_notice("  ", "telegram:1").unwrap();
    assert_eq!(store.event_notice().unwrap(), None);
    assert_eq!(
        safety_bot::event::text_from(&store),
        safety_bot::event::NOT_ANNOUNCED
    );
    // The old file is not taken over a second time.
    drop(store);
    assert_eq!(
        Store::open(data.path()).unwrap().event_notice().unwrap(),
        None
    );
}

/// A copy of the fixture knowledge that a test may change.
fn knowledge_copy() -> tempfile::TempDir {
    let copy = tempfile::tempdir().unwrap();
    for file in std::fs::read_dir(fixture_dir()).unwrap() {
        let path = file.unwrap().path();
        std::fs::copy(&path, copy.path().join(path.file_name().unwrap())).unwrap();
    }
    copy
}

/// A start with the same knowledge files as the last one does not parse
/// their entries again (the store holds them); a changed file is loaded
/// and synced as before, and the problem count survives the shortcut.
#[test]
fn unchanged_knowledge_files_are_not_loaded_again() {
    let files = knowledge_copy();
    let synonyms = files.path().join("synonyms.toml");
    let mut text = std::fs::read_to_string(&synonyms).unwrap();
    text.push_str("\n[[group]]\nterms = [\"孤词\"]\n");
    std::fs::write(&synonyms, text).unwrap();
    let data = tempfile::tempdir().unwrap();

    let first = staff::open(Some(files.path()), data.path()).unwrap();
    assert!(!first.shipped.skipped);
    assert!(first.shipped.added > 0);
    assert_eq!(first.problems, 1);
    let entries = first.engine.entry_count();
    let answered = answer_id(&first, "家里闻到燃气味怎么办");
    assert_eq!(answered.as_deref(), Some("gas-smell"));
    drop(first);

    let second = staff::open(Some(files.path()), data.path()).unwrap();
    assert!(second.shipped.skipped);
    assert_eq!(second.problems, 1);
    assert_eq!(second.engine.entry_count(), entries);
    assert!(!second.index_rebuilt);
    assert_eq!(answer_id(&second, "家里闻到燃气味怎么办"), answered);
    drop(second);

    let gas = files.path().join("gas.toml");
    let text = std::fs::read_to_string(&gas).unwrap();
    let changed = text.replacen(
        "4. 查明原因并修好之前不要再用气。",
        "4. 查明原因并修好之前不要再用气，也不要自行拆修。",
        1,
    );
    assert_ne!(text, changed);
    std::fs::write(&gas, changed).unwrap();
    let third = staff::open(Some(files.path()), data.path()).unwrap();
    assert!(!third.shipped.skipped);
    assert_eq!(third.shipped.updated, 1);
    assert!(
        third
            .engine
            .entry("gas-smell")
            .unwrap()
            .answer
            .contains("也不要自行拆修")
    );
}

/// The shortcut never skips a sync the command line made meanwhile from
/// other files: back on the first files, the bot brings the store back in
/// line with them.
#[test]
fn a_sync_from_other_files_in_between_is_not_skipped_over() {
    let files = knowledge_copy();
    let data = tempfile::tempdir().unwrap();
    let gas = files.path().join("gas.toml");
    let original = std::fs::read_to_string(&gas).unwrap();
    drop(staff::open(Some(files.path()), data.path()).unwrap());

    let changed = original.replacen(
        "4. 查明原因并修好之前不要再用气。",
        "4. 查明原因并修好之前不要再用气，也不要自行拆修。",
        1,
    );
    assert_ne!(original, changed);
    std::fs::write(&gas, &changed).unwrap();
    let cli = staff::open_store(Some(files.path()), data.path()).unwrap();
    assert_eq!(cli.shipped.updated, 1);
    drop(cli);

    std::fs::write(&gas, &original).unwrap();
    let bot = staff::open(Some(files.path()), data.path()).unwrap();
    assert!(!bot.shipped.skipped);
    assert!(
        !bot.engine
            .entry("gas-smell")
            .unwrap()
            .answer
            .contains("也不要自行拆修")
    );
}
