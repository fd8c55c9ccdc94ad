//! Pages for readers, reached from links in mail: no login, no cookies. A GET only shows;
//! every change is a POST.

pub mod signup;
pub mod unsubscribe;
