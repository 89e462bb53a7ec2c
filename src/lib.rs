//! safety-bot: answers residents' safety-knowledge questions in Chinese.
//!
//! One core answers questions; the command line and the Telegram bot are thin
//! front ends over it and behave the same.
//!
//! # Layout
//! - `text`: normalisation (traditional → simplified, width, case).
//! - `analysis`: jieba words, CJK bigrams, stop words, synonyms.
//! - `knowledge`: the entry format, loading and checking `knowledge/`.
//! - `index`: the tantivy index, built from entries, searched with term queries.
//! - `triage`: recognising danger happening now, before retrieval.
//! - `engine`: the answer core — a question in, a `Reply` out.
//! - `reply`: the reply as data, its plain-text and JSON renderings.
//! - `event`: the consultation-day notice staff publish.
//! - `store`: SQLite under the data directory, the system of record: entries
//!   and their revisions, the notice, the question log, feedback.
//! - `sheet`: reading the files staff import (xlsx, CSV, JSON lines, TOML).
//! - `export`: writing entries as JSON lines, CSV, xlsx; the template.
//! - `staff`: the staff operations any front end calls: import, save,
//!   delete, restore, export; commit to the store, then apply live.
//! - `draft`: an entry written step by step in a conversation (`/add`).
//! - `report`: unanswered questions and usage figures, the PNG chart.
//! - `chat`: the console conversation (`safety-bot chat`).
//! - `telegram`: the Telegram bot (`safety-bot serve`); the only module that
//!   knows Telegram or teloxide.
//! - `cli`: the command line; only it turns errors into exit codes.
//! - `bench`: `safety-bot bench` — latency, throughput, memory, build,
//!   edit and start-up figures at any corpus size.
//! - `bench_data`: the corpus grown to a size and the built-in questions.
//! - `par`: work spread over the cores (loading, preparing entries).

pub mod analysis;
pub mod bench;
pub mod bench_data;
pub mod chat;
pub mod cli;
pub mod draft;
pub mod engine;
pub mod event;
pub mod export;
pub mod index;
pub mod knowledge;
pub mod par;
pub mod reply;
pub mod report;
pub mod sheet;
pub mod staff;
pub mod store;
pub mod telegram;
pub mod text;
pub mod triage;
