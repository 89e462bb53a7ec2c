//! Pacing messages under Telegram's flood limits.
//!
//! Telegram answers 429 to a bot that sends more than about 30 messages a
//! second overall, more than one a second to one chat, or more than 20 a
//! minute to one group. teloxide's `Throttle` keeps to those counts by its
//! own clock, but it releases messages in batches on a 250 ms tick: a batch
//! of 30 is sent at once, the next one a second later, and as requests
//! overtake one another on the way, Telegram's clock can see 31 in a second
//! (the load test measured 60–133 such 429s in a burst of 1,000).
//!
//! [`Pacer`] gives every message a time slot instead, as soon as it is
//! asked, and the message waits for its slot: no more than `overall` slots
//! in any `window`, slots to one chat at least `chat_interval` apart, and
//! no more than `group_per_minute` slots to a group in any `group_window`.
//! The windows are a little longer than Telegram's, so a message that
//! arrives some tens of milliseconds later or earlier than it left is still
//! within the limits. Slots are given in the order messages ask, and a chat
//! that must wait does not hold up the others.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// What [`Pacer`] keeps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaceLimits {
    /// At most this many messages in any `window`, all chats together.
    pub overall: usize,
    pub window: Duration,
    /// The least time between two messages to one chat.
    pub chat_interval: Duration,
    /// At most this many messages to one group in any `group_window`.
    pub group_per_minute: usize,
    pub group_window: Duration,
}

impl PaceLimits {
    /// No pacing at all (tests that are not about limits).
    pub const UNLIMITED: PaceLimits = PaceLimits {
        overall: usize::MAX,
        window: Duration::ZERO,
        chat_interval: Duration::ZERO,
        group_per_minute: usize::MAX,
        group_window: Duration::ZERO,
    };
}

/// Telegram's published limits with a margin of 10% on each window
/// (about 27 messages a second at most, overall).
pub const TELEGRAM_LIMITS: PaceLimits = PaceLimits {
    overall: 30,
    window: Duration::from_millis(1_100),
    chat_interval: Duration::from_millis(1_100),
    group_per_minute: 20,
    group_window: Duration::from_secs(66),
};

/// Gives messages their time slots; shared by every handler.
#[derive(Debug)]
pub struct Pacer {
    limits: PaceLimits,
    slots: Mutex<Slots>,
}

#[derive(Debug, Default)]
struct Slots {
    /// Every slot given out that still counts, sorted.
    overall: Vec<Instant>,
    /// Per chat, sorted.
    chats: HashMap<i64, Vec<Instant>>,
}

impl Pacer {
    pub fn new(limits: PaceLimits) -> Pacer {
        Pacer {
            limits,
            slots: Mutex::new(Slots::default()),
        }
    }

    /// Waits until a message to `chat` may be sent.
    pub async fn wait(&self, chat: i64) {
        if self.limits == PaceLimits::UNLIMITED {
            return;
        }
        let slot = self.reserve(chat, Instant::now());
        tokio::time::sleep_until(slot).await;
    }

    /// The earliest slot at or after `now` that keeps every limit, taken.
    pub fn reserve(&self, chat: i64, now: Instant) -> Instant {
        let limits = &self.limits;
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        // Slots that can no longer share a window with a new one go.
        let keep = |slot: &Instant, window: Duration| *slot + window > now;
        slots.overall.retain(|s| keep(s, limits.window));
        slots.chats.retain(|_, chat_slots| {
            chat_slots.retain(|s| keep(s, limits.chat_interval.max(limits.group_window)));
            !chat_slots.is_empty()
        });
        let group = is_group(chat);
        let empty = Vec::new();
        let chat_slots = slots.chats.get(&chat).unwrap_or(&empty);
        let fits = |t: Instant| {
            fits_window(&slots.overall, t, limits.overall, limits.window)
                && fits_window(chat_slots, t, 1, limits.chat_interval)
                && (!group
                    || fits_window(chat_slots, t, limits.group_per_minute, limits.group_window))
        };
        // The earliest feasible time is now or the moment some slot leaves
        // a window: a limit only ever starts to allow a time there.
        let slot = if fits(now) {
            now
        } else {
            let mut candidates: Vec<Instant> = slots
                .overall
                .iter()
                .map(|s| *s + limits.window)
                .chain(chat_slots.iter().map(|s| *s + limits.chat_interval))
                .chain(
                    chat_slots
                        .iter()
                        .filter(|_| group)
                        .map(|s| *s + limits.group_window),
                )
                .filter(|t| *t > now)
                .collect();
            candidates.sort();
            candidates.dedup();
            candidates
                .into_iter()
                .find(|t| fits(*t))
                // Unreachable: after the last slot plus the longest window
                // nothing counts any more; kept as a safe answer.
                .unwrap_or_else(|| {
                    let last = slots.overall.last().copied().unwrap_or(now);
                    let last_chat = chat_slots.last().copied().unwrap_or(now);
                    last.max(last_chat)
                        + limits
                            .window
                            .max(limits.chat_interval)
                            .max(limits.group_window)
                })
        };
        insert_sorted(&mut slots.overall, slot);
        insert_sorted(slots.chats.entry(chat).or_default(), slot);
        slot
    }
}

/// Telegram's groups, supergroups and channels have negative ids.
fn is_group(chat: i64) -> bool {
    chat < 0
}

/// Whether one more slot at `t` keeps every span of `window` (half-open:
/// a slot exactly `window` after another no longer shares its window) at
/// no more than `limit` slots.
fn fits_window(sorted: &[Instant], t: Instant, limit: usize, window: Duration) -> bool {
    if limit == 0 {
        return false;
    }
    if window.is_zero() || sorted.len() < limit {
        return true;
    }
    // With `t` in its place, every run of `limit + 1` consecutive slots
    // that includes `t` must span at least `window`.
    let at = sorted.partition_point(|s| *s <= t);
    let with_t = |i: usize| -> Instant {
        match i.cmp(&at) {
            std::cmp::Ordering::Less => sorted[i],
            std::cmp::Ordering::Equal => t,
            std::cmp::Ordering::Greater => sorted[i - 1],
        }
    };
    let len = sorted.len() + 1;
    let first = at.saturating_sub(limit);
    let last = at.min(len - 1 - limit);
    (first..=last).all(|i| with_t(i + limit).duration_since(with_t(i)) >= window)
}

fn insert_sorted(slots: &mut Vec<Instant>, slot: Instant) {
    let at = slots.partition_point(|s| *s <= slot);
    slots.insert(at, slot);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Every limit holds over a list of (chat, slot) pairs.
    fn assert_within(limits: &PaceLimits, sent: &[(i64, Instant)]) {
        let mut all: Vec<Instant> = sent.iter().map(|(_, t)| *t).collect();
        all.sort();
        for run in all.windows(limits.overall + 1) {
            assert!(run[limits.overall] - run[0] >= limits.window, "overall");
        }
        let mut by_chat: HashMap<i64, Vec<Instant>> = HashMap::new();
        for (chat, t) in sent {
            by_chat.entry(*chat).or_default().push(*t);
        }
        for (chat, mut times) in by_chat {
            times.sort();
            for pair in times.windows(2) {
                assert!(pair[1] - pair[0] >= limits.chat_interval, "chat {chat}");
            }
            if is_group(chat) {
                for run in times.windows(limits.group_per_minute + 1) {
                    assert!(
                        run[limits.group_per_minute] - run[0] >= limits.group_window,
                        "group {chat}"
                    );
                }
            }
        }
    }

    #[test]
    fn thirty_go_at_once_the_thirty_first_a_window_later() {
        let pacer = Pacer::new(TELEGRAM_LIMITS);
        let now = Instant::now();
        let slots: Vec<Instant> = (0..31).map(|chat| pacer.reserve(chat, now)).collect();
        assert!(slots[..30].iter().all(|s| *s == now));
        assert_eq!(slots[30], now + TELEGRAM_LIMITS.window);
    }

    #[test]
    fn one_chat_waits_its_interval_without_holding_up_others() {
        let pacer = Pacer::new(TELEGRAM_LIMITS);
        let now = Instant::now();
        assert_eq!(pacer.reserve(7, now), now);
        assert_eq!(pacer.reserve(7, now), now + TELEGRAM_LIMITS.chat_interval);
        // Another chat asking after it still goes at once.
        assert_eq!(pacer.reserve(8, now), now);
        // A third message to chat 7 comes after its second.
        assert_eq!(
            pacer.reserve(7, now + ms(10)),
            now + TELEGRAM_LIMITS.chat_interval * 2
        );
    }

    #[test]
    fn a_group_gets_twenty_a_minute() {
        let pacer = Pacer::new(TELEGRAM_LIMITS);
        let now = Instant::now();
        let slots: Vec<Instant> = (0..21).map(|_| pacer.reserve(-1_000_042, now)).collect();
        assert_eq!(slots[19], now + TELEGRAM_LIMITS.chat_interval * 19);
        assert_eq!(slots[20], slots[0] + TELEGRAM_LIMITS.group_window);
        // A private chat is not held to it.
        let private: Vec<Instant> = (0..21).map(|_| pacer.reserve(42, now)).collect();
        assert_eq!(private[20], now + TELEGRAM_LIMITS.chat_interval * 20);
    }

    #[test]
    fn a_free_slot_between_later_ones_is_used() {
        let limits = PaceLimits {
            overall: 2,
            window: ms(1_000),
            ..TELEGRAM_LIMITS
        };
        let pacer = Pacer::new(limits);
        let now = Instant::now();
        // Chat 1 twice: at now and one interval later.
        assert_eq!(pacer.reserve(1, now), now);
        assert_eq!(pacer.reserve(1, now), now + limits.chat_interval);
        // Chat 2 fits beside the first one, chat 3 must wait for a window.
        assert_eq!(pacer.reserve(2, now), now);
        let third = pacer.reserve(3, now);
        assert_eq!(third, now + limits.window);
        assert_within(
            &limits,
            &[
                (1, now),
                (1, now + limits.chat_interval),
                (2, now),
                (3, third),
            ],
        );
    }

    #[test]
    fn any_order_of_requests_keeps_every_limit() {
        // A deterministic mix of private chats and groups asking at
        // scattered times, as a burst after an outage would.
        let limits = PaceLimits {
            overall: 5,
            window: ms(1_000),
            chat_interval: ms(300),
            group_per_minute: 3,
            group_window: ms(4_000),
        };
        let pacer = Pacer::new(limits);
        let start = Instant::now();
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut sent = Vec::new();
        let mut clock = start;
        for _ in 0..400 {
            clock += ms(next() % 120);
            let chat = (next() % 12) as i64 - 3; // chats -3..=8: some groups
            let slot = pacer.reserve(chat, clock);
            assert!(slot >= clock);
            sent.push((chat, slot));
        }
        assert_within(&limits, &sent);
        // And it is not simply slow: 400 messages at 5 a second take about
        // 80 s, not much more.
        let last = sent.iter().map(|(_, t)| *t).max().unwrap();
        assert!(last - start < Duration::from_secs(90), "{:?}", last - start);
    }

    #[test]
    fn unlimited_never_waits() {
        let pacer = Pacer::new(PaceLimits::UNLIMITED);
        let now = Instant::now();
        assert!((0..100).all(|_| pacer.reserve(1, now) == now));
    }
}
