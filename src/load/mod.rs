//! Load testing: fixed-rate and fixed-user load with honest latency percentiles.
//!
//! A load run prepares a scenario's steps once, then drives them from virtual users: in the
//! open model ([`pacer`]) a dedicated pacing thread releases intended send times at a fixed
//! arrival rate, and latency is measured from those times, so a target (or a generator) that
//! falls behind shows up as latency instead of disappearing (coordinated omission); in the
//! closed model a fixed number of users loop over the steps. Workers record into per-worker
//! HDR histograms ([`stats`]) that one aggregator drains at interval boundaries, so memory
//! stays flat. [`threshold`] turns `p99 < 20ms` into a gate. The engine hands each interval to
//! an [`sink::IntervalSink`]; `load` writes no output format itself: `crate::report::hlog`
//! writes (and `jwtprobe merge` reads) the HdrHistogram interval log, `crate::report::load` the
//! summary, JSON, JUnit and HTML. [`plan::LoadPlan`] is what a command drives: it checks the
//! thresholds against the prepared steps, builds the transport and runs the engine.

pub mod engine;
pub mod http;
pub mod pacer;
pub mod plan;
pub mod sink;
pub mod stats;
pub mod threshold;
