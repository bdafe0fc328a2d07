//! The API's error type (being written).
