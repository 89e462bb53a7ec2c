//! Work spread over the cores, results in input order.

/// Maps `f` over `items` on up to eight threads (the calling one included),
/// keeping the order of `items`. A panic in `f` surfaces here as it would
/// have on one thread.
pub fn map<T, R, F>(items: Vec<T>, f: F) -> Vec<R>
where
    T: Send,
    R: Send,
    F: Fn(T) -> R + Sync,
{
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8);
    if threads == 1 || items.len() < 2 {
        return items.into_iter().map(f).collect();
    }
    let share = items.len().div_ceil(threads);
    let mut parts: Vec<Vec<T>> = Vec::with_capacity(threads);
    let mut rest = items;
    while rest.len() > share {
        let tail = rest.split_off(share);
        parts.push(rest);
        rest = tail;
    }
    parts.push(rest);
    let f = &f;
    std::thread::scope(|scope| {
        let mut parts = parts.into_iter();
        let first = parts.next().unwrap_or_default();
        let helpers: Vec<_> = parts
            .map(|part| scope.spawn(move || part.into_iter().map(f).collect::<Vec<R>>()))
            .collect();
        let mut all: Vec<R> = first.into_iter().map(f).collect();
        for helper in helpers {
            match helper.join() {
                Ok(part) => all.extend(part),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        all
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn keeps_the_order_at_every_size() {
        for n in [0usize, 1, 2, 3, 7, 100, 1001] {
            let squares = super::map((0..n).collect(), |x| x * x);
            assert_eq!(squares, (0..n).map(|x| x * x).collect::<Vec<_>>());
        }
    }
}
