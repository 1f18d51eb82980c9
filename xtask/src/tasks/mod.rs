//! The top layer: one module per `cargo xtask` task, each with its options
//! (`OPTS`), its help and a `run`. No task imports another.
pub mod bench_serve;
pub mod dist;
pub mod explain;
pub mod image;
pub mod publish;
pub mod report;
pub mod stress;
