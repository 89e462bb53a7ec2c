//! `safety-bot chat`: a console conversation that behaves like the bot —
//! the same replies, `/help`, `/topics`, `/hotline`, `/event` — so anyone can
//! try the product without a Telegram token. Where the bot shows buttons,
//! the console shows numbers to type.

use std::io::{self, BufRead, Write};
use std::path::Path;
use std::sync::Arc;

use crate::engine::Engine;
use crate::knowledge::Entry;
use crate::reply::{self, Outcome};

enum Choice {
    Category(&'static str),
    Entry(Arc<Entry>),
}

pub fn run<R: BufRead, W: Write>(
    engine: &Engine,
    data_dir: &Path,
    mut input: R,
    mut output: W,
) -> io::Result<()> {
    writeln!(output, "{}\n输入 /quit 退出。", reply::help_text())?;
    let mut choices: Vec<Choice> = Vec::new();
    let mut buffer = Vec::new();
    loop {
        write!(output, "\n> ")?;
        output.flush()?;
        buffer.clear();
        if input.read_until(b'\n', &mut buffer)? == 0 {
            writeln!(output)?;
            return Ok(());
        }
        let line = String::from_utf8_lossy(&buffer);
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if let Ok(n) = line.parse::<usize>()
            && let Some(choice) = n.checked_sub(1).and_then(|i| choices.get(i))
        {
            let (text, next) = pick(engine, choice);
            writeln!(output, "{text}")?;
            choices = next;
            continue;
        }
        let command = line.split_whitespace().next().unwrap_or("");
        let (text, next) = match command {
            "/quit" | "/exit" | "/q" => return Ok(()),
            "/start" | "/help" => (reply::help_text(), Vec::new()),
            "/hotline" => (reply::hotline_text(), Vec::new()),
            "/event" => (crate::event::event_text(data_dir), Vec::new()),
            "/topics" => topics(engine),
            _ if command.starts_with('/') => (
                format!("不认识的命令 {command}。\n\n{}", reply::help_text()),
                Vec::new(),
            ),
            _ => {
                let reply = engine.ask(line);
                let next = match reply.outcome {
                    Outcome::Suggest => reply.suggestions().cloned().map(Choice::Entry).collect(),
                    Outcome::Answer => reply.related.iter().cloned().map(Choice::Entry).collect(),
                    Outcome::NoAnswer => Vec::new(),
                };
                let mut text = reply.text();
                if !next.is_empty() {
                    text.push_str("\n（输入序号查看");
                    text.push_str(if reply.outcome == Outcome::Suggest {
                        "）"
                    } else {
                        "相关问题）"
                    });
                    if reply.outcome == Outcome::Answer {
                        text = number_related(&text, &reply.related);
                    }
                }
                (text, next)
            }
        };
        writeln!(output, "{text}")?;
        choices = next;
    }
}

fn topics(engine: &Engine) -> (String, Vec<Choice>) {
    let categories = engine.categories();
    let mut text = String::from("按分类浏览（输入序号）：\n");
    for (n, category) in categories.iter().enumerate() {
        text.push_str(&format!(
            "{}. {} （{} 条）\n",
            n + 1,
            category,
            engine.entries_in(category).len()
        ));
    }
    (
        text.trim_end().to_string(),
        categories.into_iter().map(Choice::Category).collect(),
    )
}

fn pick(engine: &Engine, choice: &Choice) -> (String, Vec<Choice>) {
    match choice {
        Choice::Category(category) => {
            let entries = engine.entries_in(category);
            let mut text = format!("{category}（输入序号查看答案）：\n");
            for (n, entry) in entries.iter().enumerate() {
                text.push_str(&format!("{}. {}\n", n + 1, entry.question));
            }
            (
                text.trim_end().to_string(),
                entries.into_iter().map(Choice::Entry).collect(),
            )
        }
        Choice::Entry(entry) => (reply::entry_text(entry).trim_end().to_string(), Vec::new()),
    }
}

/// Puts numbers in front of the related questions of an answer's text.
fn number_related(text: &str, related: &[Arc<Entry>]) -> String {
    let mut out = text.to_string();
    for (n, entry) in related.iter().enumerate() {
        out = out.replacen(
            &format!("· {}", entry.question),
            &format!("{}. {}", n + 1, entry.question),
            1,
        );
    }
    out
}
