//! The webhook relay (being written).
