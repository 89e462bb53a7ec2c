//! Emergency triage: is this message about danger happening now?
//!
//! Runs before retrieval on the normalised message. A card matches when one
//! of its trigger patterns occurs and nothing marks the message as a question
//! about prevention, a hypothetical or the past ("怎么预防火灾", "如果着火了",
//! "昨天被狗咬了"). Strong signs of urgency (救命, 快, 现在, 正在…) override
//! a hypothetical marker, but not a prevention one.
//!
//! A trigger is literal text, where `*` stands for a gap of up to
//! [`MAX_GAP_CHARS`] characters: `有人*掉*水里` matches 有人掉进水里 and
//! 有人不小心掉到水里.

use crate::knowledge::EmergencyCard;
use crate::text::normalize;

/// Longest gap a `*` in a trigger spans, in characters.
pub const MAX_GAP_CHARS: usize = 6;

/// The message is about preventing or understanding — or about what follows
/// afterwards (insurance, liability, fines) — not about danger now.
const PREVENTION_MARKERS: &[&str] = &[
    "预防",
    "防止",
    "避免",
    "防范",
    "注意事项",
    "注意什么",
    "要注意",
    "怎么防",
    "如何防",
    "知识",
    "常识",
    "原因",
    "为什么会",
    "是什么",
    "什么是",
    "演练",
    "培训",
    "宣传",
    "标准",
    "规定",
    "应急包",
    "准备哪些",
    "准备什么",
    "提前",
    "算不算",
    "算工伤",
    "工伤",
    "赔偿",
    "怎么赔",
    "责任",
    "罚款",
    "处罚",
    "保险",
    "报销",
    "认定",
];

/// The message imagines or recalls a danger rather than reporting one.
const HYPOTHETICAL_MARKERS: &[&str] = &[
    "如果",
    "假如",
    "假设",
    "万一",
    "要是",
    "的话",
    "假若",
    "倘若",
    "一旦",
    "遇到",
    "遇见",
    "碰到",
    "时该",
    "时往",
    "的时候",
    "时怎么",
    "时应该",
    "时要",
    "后怎么",
    "后该",
    "后应该",
];

/// The message recalls a danger that is over.
const PAST_MARKERS: &[&str] = &[
    "以前",
    "之前",
    "昨天",
    "前天",
    "昨晚",
    "上次",
    "去年",
    "上个月",
    "上周",
    "小时候",
    "曾经",
];

/// Words that say "now, help": they outweigh a hypothetical marker.
const URGENCY_MARKERS: &[&str] = &[
    "救命", "快来", "快救", "赶紧", "马上", "现在", "正在", "刚刚", "刚才", "急", "!!", "！！",
];

/// The triggers of every card, normalised and split at `*` once.
pub struct Triage {
    cards: Vec<(EmergencyCard, Vec<Vec<String>>)>,
}

impl Triage {
    pub fn new(cards: &[EmergencyCard]) -> Triage {
        let cards = cards
            .iter()
            .map(|card| {
                let patterns = card
                    .triggers
                    .iter()
                    .map(|t| {
                        normalize(t)
                            .split('*')
                            .map(str::trim)
                            .filter(|p| !p.is_empty())
                            .map(String::from)
                            .collect::<Vec<_>>()
                    })
                    .filter(|parts| !parts.is_empty())
                    .collect();
                (card.clone(), patterns)
            })
            .collect();
        Triage { cards }
    }

    /// The card for a normalised message, if it reports danger happening now.
    pub fn detect(&self, normalized: &str) -> Option<&EmergencyCard> {
        let text: String = normalized.chars().filter(|c| !c.is_whitespace()).collect();
        if PREVENTION_MARKERS
            .iter()
            .chain(PAST_MARKERS)
            .any(|m| text.contains(m))
        {
            return None;
        }
        let hypothetical = HYPOTHETICAL_MARKERS.iter().any(|m| text.contains(m));
        let pressing = URGENCY_MARKERS.iter().any(|m| text.contains(m));
        if hypothetical && !pressing {
            return None;
        }
        self.cards
            .iter()
            .find(|(_, patterns)| patterns.iter().any(|parts| matches_with_gaps(&text, parts)))
            .map(|(card, _)| card)
    }
}

/// Whether `parts` occur in `text` in order, each within `MAX_GAP_CHARS`
/// characters of the previous one.
fn matches_with_gaps(text: &str, parts: &[String]) -> bool {
    let Some((first, rest)) = parts.split_first() else {
        return false;
    };
    text.match_indices(first.as_str()).any(|(start, _)| {
        let mut at = start + first.len();
        for part in rest {
            let window_end = text[at..]
                .char_indices()
                .nth(MAX_GAP_CHARS + part.chars().count())
                .map(|(i, _)| at + i)
                .unwrap_or(text.len());
            match text[at..window_end].find(part.as_str()) {
                Some(found) => at += found + part.len(),
                None => return false,
            }
        }
        true
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn triage() -> Triage {
        Triage::new(&[EmergencyCard {
            id: "fire".into(),
            title: "火灾".into(),
            call: vec!["119".into()],
            triggers: vec!["着火了".into(), "烧*起来了".into()],
            actions: vec!["离开".into(), "报警".into()],
            entry: None,
            source: "国家消防救援局".into(),
        }])
    }

    fn urgent(message: &str) -> bool {
        triage().detect(&normalize(message)).is_some()
    }

    #[test]
    fn danger_now_is_urgent() {
        assert!(urgent("楼下着火了！"));
        assert!(urgent("厨房烧起来了"));
        assert!(urgent("窗帘一下子烧得起来了"));
        assert!(urgent("如果着火了怎么办？救命，现在就着火了"));
    }

    #[test]
    fn prevention_hypotheticals_and_the_past_are_not() {
        assert!(!urgent("怎么预防家里着火了"));
        assert!(!urgent("如果家里着火了怎么逃生"));
        assert!(!urgent("昨天楼下着火了，现在还能住吗"));
        assert!(!urgent("灭火器怎么用"));
    }

    #[test]
    fn gaps_are_bounded() {
        assert!(matches_with_gaps(
            "烧起来了",
            &["烧".into(), "起来了".into()]
        ));
        assert!(!matches_with_gaps(
            "烧烤的时候大家都很开心地唱起来了",
            &["烧".into(), "起来了".into()]
        ));
    }
}
