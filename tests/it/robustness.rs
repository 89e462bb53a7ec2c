//! Input that must never crash the core or be read as query syntax.

use proptest::prelude::*;
use safety_bot::reply::Outcome;

use crate::fixture_engine;

#[test]
fn query_syntax_characters_are_plain_text() {
    let engine = fixture_engine();
    for input in [
        "\"",
        ":",
        "(",
        ")",
        "AND",
        "OR",
        "NOT",
        "*",
        "~",
        "^",
        "\\",
        "[",
        "]",
        "{",
        "}",
        "+",
        "-",
        "id:gas-smell",
        "question:燃气",
        "燃气 AND 电动车",
        "\"燃气报警器",
        "燃气报警器^10",
        "燃气~2",
        "(燃气 OR 煤气)",
        "*燃气*",
        "\\燃气\\",
    ] {
        let reply = engine.ask(input);
        assert!(!reply.text().is_empty(), "{input:?}");
    }
    // Syntax around a real question changes nothing.
    let plain = engine.ask("燃气报警器装在哪");
    let decorated = engine.ask("\"燃气报警器\" AND (装在哪)^2 ~");
    assert_eq!(
        plain.entry.as_ref().map(|e| e.id.clone()),
        decorated.entry.as_ref().map(|e| e.id.clone())
    );
}

#[test]
fn empty_and_odd_input_gets_a_polite_reply() {
    let engine = fixture_engine();
    for input in [
        "",
        "   ",
        "\t\n",
        "😀😀😀",
        "🔥",
        "\u{0}\u{1}\u{7f}",
        "\u{200b}\u{feff}",
        "ｈｅｌｌｏ　ｗｏｒｌｄ",
    ] {
        let reply = engine.ask(input);
        assert_eq!(reply.outcome, Outcome::NoAnswer, "{input:?}");
        assert!(!reply.text().is_empty(), "{input:?}");
    }
}

#[test]
fn a_very_long_message_is_answered_quickly_and_safely() {
    let engine = fixture_engine();
    let long = "燃气报警器装在哪".repeat(1250);
    assert_eq!(long.chars().count(), 10_000);
    let reply = engine.ask(&long);
    assert_eq!(reply.question, long);
    let mixed = "电动车 electric bike 電動車 ⚡ 충전 でんき 123 ".repeat(300);
    let _ = engine.ask(&mixed);
}

#[test]
fn mixed_scripts_and_control_characters() {
    let engine = fixture_engine();
    let reply = engine.ask("電動車\u{0}能進\t電梯嗎？？?!!");
    assert_eq!(
        reply.entry.as_ref().map(|e| e.id.as_str()),
        Some("ebike-lift")
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

    #[test]
    fn any_string_gets_a_reply(input in any::<String>()) {
        let reply = fixture_engine().ask(&input);
        prop_assert!(!reply.text().is_empty());
        let json = reply.to_json();
        prop_assert!(json["answered"].is_boolean());
    }

    #[test]
    fn any_mix_of_chinese_and_syntax_gets_a_reply(
        input in "[燃气电动车着火了怎么办吗的\"():*~^\\\\ANDOR \\-+!？。，]{0,60}"
    ) {
        let reply = fixture_engine().ask(&input);
        prop_assert!(!reply.text().is_empty());
    }
}
