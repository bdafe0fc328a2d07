//! Folding one ended session into the rollups' facts (slice: store).
