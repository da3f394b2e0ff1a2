//! Distribute: where a publisher puts finished bundles so instances can fetch them.
//!
//! Only transport lives here (upload, download, list); what is uploaded and in which order is
//! `publish.rs`'s job. Knows no bundle formats.

pub mod s3;
mod s3_error;
mod s3_list;
