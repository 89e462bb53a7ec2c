//! Paraphrase hold-out: how well the engine finds an entry from a wording it
//! has never seen. For every entry, one alternate (by position) is removed
//! from the index and asked as a question; the reply should answer with that
//! entry. Run: `cargo run --release --example holdout -- [POSITION]`.

use safety_bot::engine::Engine;
use safety_bot::knowledge::load_dir;
use safety_bot::reply::Outcome;

fn main() {
    let position: usize = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(1);
    let (mut knowledge, _) = load_dir(std::path::Path::new("knowledge")).expect("knowledge/ loads");
    let mut held_out = Vec::new();
    for entry in &mut knowledge.entries {
        if entry.alternates.len() > position {
            held_out.push((entry.id.clone(), entry.alternates.remove(position)));
        }
    }
    let engine = Engine::in_memory(knowledge).expect("engine builds");
    let (mut right, mut wrong, mut suggested, mut in_suggestions, mut none) = (0, 0, 0, 0, 0);
    let verbose = std::env::var_os("HOLDOUT_VERBOSE").is_some();
    if std::env::var_os("HOLDOUT_TSV").is_some() {
        // One line a question: the top candidates' signals and whether the
        // first is the held-out entry, for studying thresholds.
        for (id, question) in &held_out {
            let (_, candidates) = engine.explain(question, 2);
            let reply = engine.ask(question);
            let first = candidates.first();
            let second = candidates.get(1);
            println!(
                "{}\t{:.3}\t{:.3}\t{:.3}\t{:.3}\t{:?}\t{}",
                first.is_some_and(|c| &c.id == id) as u8,
                first.map_or(0.0, |c| c.coverage),
                first.map_or(0.0, |c| c.closeness),
                first.map_or(0.0, |c| c.score),
                second.map_or(0.0, |c| c.score),
                reply.outcome,
                question
            );
        }
        return;
    }
    for (id, question) in &held_out {
        let reply = engine.ask(question);
        let got = reply.entry.as_ref().map(|e| e.id.as_str());
        match reply.outcome {
            Outcome::Answer if got == Some(id.as_str()) => right += 1,
            Outcome::Answer => {
                wrong += 1;
                if verbose {
                    println!("WRONG  {question} -> {} (want {id})", got.unwrap_or("-"));
                }
            }
            Outcome::Suggest => {
                suggested += 1;
                if reply.suggestions().any(|e| &e.id == id) {
                    in_suggestions += 1;
                }
            }
            Outcome::NoAnswer => {
                none += 1;
                if verbose {
                    println!("NONE   {question} (want {id})");
                }
            }
        }
    }
    let n = held_out.len() as f64;
    println!(
        "held-out alternates: {} | answered right {:.1}% | answered wrong {:.1}% | suggested {:.1}% (right one among them {:.1}%) | no answer {:.1}%",
        held_out.len(),
        100.0 * right as f64 / n,
        100.0 * wrong as f64 / n,
        100.0 * suggested as f64 / n,
        100.0 * in_suggestions as f64 / n,
        100.0 * none as f64 / n
    );
}
