//! The integration suite: black-box tests against a running bulten, each on SQLite and on
//! PostgreSQL. One binary, one file per feature.

mod helpers;

mod access;
mod auth;
mod browser;
mod campaigns;
mod captcha;
mod cli;
mod confirm;
mod counts;
mod crash;
mod delivery;
mod desk;
mod desk_readers;
mod desk_settings;
mod dkim;
mod imports;
mod links;
mod lists;
mod mailbox;
mod manage;
mod query;
mod regression;
mod signup;
mod sink;
mod subscribers;
mod templates;
mod tls;
mod unsubscribe;
