//! Behaviour over the fixture corpus: each case is one line, routed through
//! `check`. The expectation reads `answer:ID`, `suggest`, `none`,
//! `urgent:CARD` (a danger-now reply, with or without an entry) or
//! `urgent:CARD:ID` (with that entry).

use safety_bot::reply::Outcome;

use crate::fixture_engine;

#[track_caller]
fn check(question: &str, expected: &str) {
    let reply = fixture_engine().ask(question);
    let entry = reply.entry.as_ref().map(|e| e.id.as_str()).unwrap_or("-");
    let card = reply.urgent.as_ref().map(|c| c.id.as_str());
    let got = match (card, reply.outcome) {
        (Some(card), Outcome::Answer) => format!("urgent:{card}:{entry}"),
        (Some(card), _) => format!("urgent:{card}"),
        (None, Outcome::Answer) => format!("answer:{entry}"),
        (None, Outcome::Suggest) => "suggest".to_string(),
        (None, Outcome::NoAnswer) => "none".to_string(),
    };
    let matches = if expected.starts_with("urgent:") && expected.matches(':').count() == 1 {
        got == expected || got.starts_with(&format!("{expected}:"))
    } else {
        got == expected
    };
    assert!(
        matches,
        "question {question:?}: expected {expected}, got {got} (score {:.3})\n{}",
        reply.score,
        reply.text()
    );
}

#[test]
fn standard_wordings_are_answered() {
    check("燃气报警器应该装在什么位置？", "answer:gas-alarm");
    check("心肺复苏怎么做？", "answer:aid-cpr");
    check(
        "电动自行车新国标规定最高车速是多少？",
        "answer:ebike-standard-speed",
    );
}

#[test]
fn colloquial_wordings_are_answered() {
    check("煤气管子老化了多久要换", "answer:gas-hose");
    check("小电驴能在走廊充电不", "answer:ebike-corridor-charging");
    check("胸外按压按多深", "answer:aid-cpr");
}

#[test]
fn synonyms_bridge_everyday_words() {
    check("液化气报警器装高还是装低", "answer:gas-alarm");
    check("电驴可以坐电梯上楼吗", "answer:ebike-lift");
    check("电瓶车国标时速多少", "answer:ebike-standard-speed");
}

#[test]
fn traditional_characters_are_understood() {
    check("燃氣報警器裝在哪裡", "answer:gas-alarm");
    check("電動車可以進電梯嗎", "answer:ebike-lift");
}

#[test]
fn a_typo_still_finds_the_entry() {
    check(
        "灭火气压力表指针在红区还能用吗",
        "answer:fire-extinguisher-gauge",
    );
}

#[test]
fn out_of_scope_near_misses_are_not_answered() {
    check("今天天气怎么样", "none");
    check("天然气开户需要带什么材料", "none");
    check("哪个牌子的电动车续航最长", "none");
    check("灭火器哪里买最便宜", "none");
    check("消防员招聘有什么条件", "none");
    check("红烧肉怎么做", "none");
    check("你是谁", "none");
    check("灭火器多少钱一个", "none");
    check("燃气费怎么交", "none");
}

#[test]
fn danger_now_leads_with_the_card() {
    check("救命，楼下着火了！", "urgent:fire");
    check("家里煤气味很重", "urgent:gas-leak");
    check("有人掉进河里了", "urgent:drowning");
    check("邻居被电线电到了倒在地上", "urgent:electric-shock");
    check("我爸突然晕倒了叫不醒", "urgent:cardiac-arrest");
}

#[test]
fn prevention_look_alikes_are_not_urgent() {
    check("怎么预防火灾", "answer:fire-prevention-home");
    check("燃气报警器装在哪", "answer:gas-alarm");
    check("如果家里着火了怎么逃生", "answer:fire-escape");
}

#[test]
fn urgent_reply_starts_with_the_number_to_call() {
    let reply = fixture_engine().ask("厨房着火了");
    let text = reply.text();
    assert!(text.starts_with("⚠️"), "{text}");
    assert!(text.lines().next().unwrap().contains("119"), "{text}");
}

#[test]
fn no_answer_is_honest_and_gives_hotlines() {
    let text = fixture_engine().ask("最近股票行情怎么样").text();
    for needle in ["没有把握", "119", "120", "110", "12350"] {
        assert!(text.contains(needle), "missing {needle}: {text}");
    }
}

#[test]
fn an_answer_shows_its_source() {
    let text = fixture_engine().ask("燃气报警器装在哪").text();
    assert!(text.contains("来源："), "{text}");
}

#[test]
fn a_question_of_only_question_words_asks_for_more() {
    let reply = fixture_engine().ask("怎么办？");
    assert_eq!(reply.outcome, Outcome::NoAnswer);
    assert!(reply.empty_question);
}

#[test]
fn live_edits_are_answered_at_once() {
    use safety_bot::engine::Engine;
    let (knowledge, _) = safety_bot::knowledge::load_dir(&crate::fixture_dir()).unwrap();
    let engine = Engine::in_memory(knowledge).unwrap();
    let question = "安全宣传咨询日在哪个广场举办";
    assert_ne!(engine.ask(question).outcome, Outcome::Answer);
    let entry = safety_bot::knowledge::Entry {
        id: "campaign-venue".into(),
        category: "安全生产月与宣传活动".into(),
        question: "安全宣传咨询日在哪里举办？".into(),
        alternates: vec!["咨询日活动在哪个广场".into()],
        answer: "今年在人民广场举办。".into(),
        keywords: vec![],
        source: "市安委会办公室".into(),
        reviewed: "2026-06-01".into(),
    };
    engine.apply(&[], vec![entry]).unwrap();
    let reply = engine.ask(question);
    assert_eq!(
        reply.entry.as_ref().map(|e| e.id.as_str()),
        Some("campaign-venue")
    );
    engine.apply(&["campaign-venue".into()], vec![]).unwrap();
    assert!(engine.entry("campaign-venue").is_none());
    assert_ne!(engine.ask(question).outcome, Outcome::Answer);
}
