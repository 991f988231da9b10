//! One file per page family.

pub mod customers;
pub mod login;
pub mod marketing;
pub mod officer;
