//! Who is calling: staff bearer tokens, customer session tokens (being written).
