//! The dev binary wiring.
