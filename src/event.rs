//! The consultation-day notice (time, place, programme) that staff publish
//! with `/setevent` or `safety-bot event set`. Kept in the store with who
//! set it and when, so it survives restarts, needs no knowledge rebuild and
//! has a history. (A notice from the older `event.txt` file is taken over
//! when the store is first opened.)
//!
//! Front ends that hold a [`Store`] use [`text_from`]; the functions taking
//! a data directory open the store for one call.

use std::path::Path;

use crate::store::{Store, StoreError};

pub const NOT_ANNOUNCED: &str = "本市今年安全宣传咨询日的时间、地点和活动安排还没有发布，请关注当地应急管理部门的通知。全国“安全宣传咨询日”一般在每年 6 月 16 日前后举行。";

/// The longest notice accepted: it must fit one Telegram message with its heading.
pub const MAX_EVENT_CHARS: usize = 3000;

/// The published notice, if any. A store that cannot be opened counts as
/// no notice (and is logged): `/event` must always answer.
pub fn load(data_dir: &Path) -> Option<String> {
    match Store::open(data_dir).and_then(|store| store.event_notice()) {
        Ok(text) => text,
        Err(error) => {
            tracing::warn!(%error, "cannot read the event notice");
            None
        }
    }
}

/// Publishes a notice; an empty text withdraws it. Front ends that know
/// who acts use `Staff::set_event`, which records it and checks the length.
pub fn save(data_dir: &Path, text: &str) -> Result<(), StoreError> {
    Store::open(data_dir)?.set_event_notice(text, "unknown")
}

/// What `/event` shows.
pub fn event_text(data_dir: &Path) -> String {
    render(load(data_dir))
}

/// What `/event` shows, from a store already open.
pub fn text_from(store: &Store) -> String {
    render(store.event_notice().unwrap_or_else(|error| {
        tracing::warn!(%error, "cannot read the event notice");
        None
    }))
}

fn render(notice: Option<String>) -> String {
    match notice {
        Some(text) => format!("安全宣传咨询日活动信息：\n{text}"),
        None => NOT_ANNOUNCED.to_string(),
    }
}
