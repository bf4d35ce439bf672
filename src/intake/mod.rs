//! Intake: the inbox folder and the CSV call lists in it, decoded, checked row by row, and
//! committed to the store as campaigns of `pending` rows.

pub mod campaign;
pub mod decode;
pub mod list;
pub mod numbers;
pub mod rows;
