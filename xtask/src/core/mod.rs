//! The bottom layer: plain helpers every other layer uses, which use nothing
//! of the xtask's but [`crate::Error`].
pub mod args;
pub mod blocks;
pub mod cmd;
pub mod files;
pub mod platform;
pub mod reference;
pub mod svg;
