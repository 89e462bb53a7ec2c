//! The consultation-day notice (time, place, programme) that staff publish
//! with `/setevent`. Kept as one text file in the data directory, so it
//! survives restarts and needs no knowledge rebuild.

use std::path::Path;

const EVENT_FILE: &str = "event.txt";

pub const NOT_ANNOUNCED: &str = "本市今年安全宣传咨询日的时间、地点和活动安排还没有发布，请关注当地应急管理部门的通知。全国“安全宣传咨询日”一般在每年 6 月 16 日前后举行。";

/// The published notice, if any.
pub fn load(data_dir: &Path) -> Option<String> {
    std::fs::read_to_string(data_dir.join(EVENT_FILE))
        .ok()
        .map(|text| text.trim().to_string())
        .filter(|text| !text.is_empty())
}

/// Publishes a notice (atomically: written aside, then renamed).
pub fn save(data_dir: &Path, text: &str) -> std::io::Result<()> {
    std::fs::create_dir_all(data_dir)?;
    let staging = data_dir.join(format!("{EVENT_FILE}.tmp"));
    std::fs::write(&staging, text.trim())?;
    std::fs::rename(staging, data_dir.join(EVENT_FILE))
}

/// What `/event` shows.
pub fn event_text(data_dir: &Path) -> String {
    match load(data_dir) {
        Some(text) => format!("安全宣传咨询日活动信息：\n{text}"),
        None => NOT_ANNOUNCED.to_string(),
    }
}
