//! `bundle-bootstrap` (placeholder).
fn main() {}
