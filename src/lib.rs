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
//! - `store`: SQLite under the data directory: question log, feedback.
//! - `chat`: the console conversation (`safety-bot chat`).
//! - `cli`: the command line; only it turns errors into exit codes.

pub mod analysis;
pub mod chat;
pub mod cli;
pub mod engine;
pub mod event;
pub mod export;
pub mod index;
pub mod knowledge;
pub mod reply;
pub mod report;
pub mod sheet;
pub mod staff;
pub mod store;
pub mod text;
pub mod triage;
