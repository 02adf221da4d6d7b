//! Customer360's ingest wing: what writes the projection. Depends on no HTTP and no JWT code.
//!
//! - [`decode`]: stream images to source records.
//! - [`projector`]: one source change, one conditional transaction (load, plan, commit).
//! - [`handler`]: the stream Lambda (partial batch responses).
//! - [`rebuild`]: the projection rebuilt from the source tables.
//! - [`calibrate`]: the prediction models fitted per scope from the stored statistics.
//! - [`rescore`]: the daily segment rescoring (time-driven memberships, new segments).
//! - [`store_reco`]: each scope's dish statistics and coupon baseline (with the calibration).

pub mod calibrate;
pub mod decode;
pub mod handler;
pub mod projector;
pub mod rebuild;
pub mod rescore;
pub mod store_reco;
