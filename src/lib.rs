//! bulten: a self-hosted newsletter and mailing-list platform for news publishers.
//!
//! A short tour, following a request: [`web`] routes it (the listmonk-compatible JSON API in
//! `web::api`, the reader's pages in `web::public`, the newsroom's desk in `web::admin`); a
//! handler parses its input into [`domain`] types and calls the [`ops`] function of its use
//! case, which reads and writes through [`db`] (the only module with SQL, on SQLite or
//! PostgreSQL). The CLI ([`cli`]) calls the same `ops` functions. A campaign goes out through
//! `delivery` (the workers that empty the ledger), which composes each message with `render`
//! (templates to text) and [`mail`] (links, sealing, DKIM, SMTP); `i18n` holds every text a
//! reader or the newsroom reads, in English and Turkish. [`app`] builds the server from
//! [`config`]'s settings, the one place they are read besides the CLI; [`telemetry`] sets up
//! logs.
//!
//! See ARCHITECTURE.md for the why.

pub mod app;
pub mod cli;
pub mod config;
pub mod db;
pub(crate) mod delivery;
pub mod domain;
pub(crate) mod i18n;
pub mod mail;
pub mod ops;
pub(crate) mod render;
pub mod telemetry;
pub mod web;
