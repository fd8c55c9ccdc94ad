//! The integration suite: black-box tests against a running bulten, each on SQLite and on
//! PostgreSQL. One binary, one file per feature.

mod helpers;

mod auth;
mod browser;
mod campaigns;
mod cli;
mod crash;
mod delivery;
mod dkim;
mod imports;
mod links;
mod lists;
mod query;
mod reader;
mod regression;
mod signup;
mod sink;
mod subscribers;
mod templates;
mod tls;
