//! Only a list of dependency features; see Cargo.toml.
