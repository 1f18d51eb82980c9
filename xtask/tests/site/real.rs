//! A real site nobody here wrote: rustdoc's output for the xtask, served by
//! serve and by nginx, crawled by wget, fetched by curl, rendered by chromium.
