//! The simulations and benchmarks: the demo crawl and the demo service on embedded mocks (Clari
//! and Gong), the simulated weeks (`week`, `week_gong`), the crawl and per-item benchmarks
//! (`bench`, `bench_items`) and the density benchmark (`density`). They drive the mock servers'
//! controls, so this is the only product crate that depends on the mocks; the service and the
//! tenant instance do not.

pub mod bench;
pub mod bench_items;
pub mod demo;
pub mod demo_gong;
pub mod density;
pub mod density_cluster;
pub mod week;
pub mod week_gong;
