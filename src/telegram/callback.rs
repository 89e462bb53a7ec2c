//! What an inline button means, packed into Telegram's `callback_data`
//! (1–64 bytes) and read back.
//!
//! The format is short and readable in logs: `a:gas-smell` opens an entry,
//! `+:gas-smell` / `-:gas-smell` are 👍 / 👎 on it, `c:3:1` is page 1 of
//! category 3 (its place in `knowledge::CATEGORIES`, which only grows at the
//! end), `t` sends the list of categories and `b` puts it back in place of
//! a category page. An entry id too long to fit is sent
//! as `#` and the 16 hex digits of its `index::entry_key`, which the engine
//! can look up too. Buttons outlive the process (they sit in people's chat
//! history), so the format must stay readable by later versions: add
//! prefixes, never change the meaning of one.

use crate::index::entry_key;

/// Telegram's limit for `callback_data`, in bytes.
pub const MAX_CALLBACK_BYTES: usize = 64;

/// Which entry a button points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryRef {
    Id(String),
    /// `index::entry_key` of an id too long to carry.
    Key(u64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vote {
    Up,
    Down,
}

impl Vote {
    /// The value `Store::record_feedback` takes.
    pub fn value(self) -> i8 {
        match self {
            Vote::Up => 1,
            Vote::Down => -1,
        }
    }
}

/// What pressing a button asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Show this entry's answer.
    Open(EntryRef),
    /// 👍 or 👎 on this entry.
    Vote(EntryRef, Vote),
    /// The list of categories, as a new message.
    Topics,
    /// The list of categories, replacing the category page it is under.
    BackToTopics,
    /// One page of the questions in a category.
    Category { index: usize, page: usize },
}

impl Action {
    pub fn open(id: &str) -> Action {
        Action::Open(EntryRef::Id(id.to_string()))
    }

    pub fn vote(id: &str, vote: Vote) -> Action {
        Action::Vote(EntryRef::Id(id.to_string()), vote)
    }

    /// The `callback_data` for this action: always 1 to 64 bytes.
    pub fn encode(&self) -> String {
        match self {
            Action::Open(entry) => with_entry("a:", entry),
            Action::Vote(entry, Vote::Up) => with_entry("+:", entry),
            Action::Vote(entry, Vote::Down) => with_entry("-:", entry),
            Action::Topics => "t".to_string(),
            Action::BackToTopics => "b".to_string(),
            Action::Category { index, page } => format!("c:{index}:{page}"),
        }
    }

    /// Reads `callback_data` back; `None` for anything this version does not
    /// know (an old or forged button), never a panic.
    pub fn decode(data: &str) -> Option<Action> {
        match data {
            "t" => return Some(Action::Topics),
            "b" => return Some(Action::BackToTopics),
            _ => {}
        }
        let (prefix, rest) = data.split_once(':')?;
        match prefix {
            "a" => entry_ref(rest).map(Action::Open),
            "+" => entry_ref(rest).map(|e| Action::Vote(e, Vote::Up)),
            "-" => entry_ref(rest).map(|e| Action::Vote(e, Vote::Down)),
            "c" => {
                let (index, page) = rest.split_once(':').unwrap_or((rest, "0"));
                Some(Action::Category {
                    index: index.parse().ok()?,
                    page: page.parse().ok()?,
                })
            }
            _ => None,
        }
    }
}

fn with_entry(prefix: &str, entry: &EntryRef) -> String {
    match entry {
        EntryRef::Id(id) if prefix.len() + id.len() <= MAX_CALLBACK_BYTES => {
            format!("{prefix}{id}")
        }
        EntryRef::Id(id) => format!("{prefix}#{:016x}", entry_key(id)),
        EntryRef::Key(key) => format!("{prefix}#{key:016x}"),
    }
}

fn entry_ref(text: &str) -> Option<EntryRef> {
    if let Some(hex) = text.strip_prefix('#') {
        return u64::from_str_radix(hex, 16).ok().map(EntryRef::Key);
    }
    is_entry_id(text).then(|| EntryRef::Id(text.to_string()))
}

/// Ids travel in buttons and deep links: ASCII letters, digits, `-` and
/// `_`, at most 64 characters (what a `/start` payload may carry).
pub fn is_entry_id(text: &str) -> bool {
    (1..=64).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(action: Action, encoded: &str) {
        assert_eq!(action.encode(), encoded);
        assert!(encoded.len() <= MAX_CALLBACK_BYTES);
        assert_eq!(Action::decode(encoded), Some(action));
    }

    #[test]
    fn actions_round_trip() {
        check(Action::open("gas-smell"), "a:gas-smell");
        check(Action::vote("gas-smell", Vote::Up), "+:gas-smell");
        check(Action::vote("gas-smell", Vote::Down), "-:gas-smell");
        check(Action::Topics, "t");
        check(Action::BackToTopics, "b");
        check(Action::Category { index: 3, page: 0 }, "c:3:0");
        check(Action::Category { index: 26, page: 5 }, "c:26:5");
    }

    #[test]
    fn a_long_id_travels_as_its_key() {
        let id = "a".repeat(64);
        let key = entry_key(&id);
        for action in [
            Action::open(&id),
            Action::vote(&id, Vote::Up),
            Action::vote(&id, Vote::Down),
        ] {
            let encoded = action.encode();
            assert!(encoded.len() <= MAX_CALLBACK_BYTES, "{encoded}");
            let decoded = Action::decode(&encoded).unwrap();
            let expected = match action {
                Action::Open(_) => Action::Open(EntryRef::Key(key)),
                Action::Vote(_, vote) => Action::Vote(EntryRef::Key(key), vote),
                _ => unreachable!(),
            };
            assert_eq!(decoded, expected);
        }
        // The longest id that still fits is carried as it is.
        let fits = "b".repeat(62);
        assert_eq!(Action::open(&fits).encode(), format!("a:{fits}"));
    }

    #[test]
    fn unknown_or_forged_data_is_refused() {
        for data in [
            "",
            "x",
            "a:",
            "a:<script>",
            "a:燃气",
            "+:#zz",
            "c:",
            "c:x:1",
            "c:1:-1",
            "q:gas",
            "t:1",
        ] {
            assert_eq!(Action::decode(data), None, "{data:?}");
        }
    }

    #[test]
    fn a_category_without_page_is_its_first_page() {
        assert_eq!(
            Action::decode("c:2"),
            Some(Action::Category { index: 2, page: 0 })
        );
    }
}
