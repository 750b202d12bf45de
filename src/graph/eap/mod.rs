//! The graph files of EAP-IG and the MIB circuit track (`Graph.to_json`): a model's full
//! graph of components and edges, each marked `in_graph`, edges scored by an attribution
//! method. `shape` builds the full graph of a model shape; `file` reads and writes the JSON;
//! `select` checks a file against its shape and takes the circuit's edges from it (marked,
//! top N, above a threshold); `import` turns edges into a `.circuit` text and `export` a
//! circuit into a graph file. docs/formats.md describes the mapping.

pub mod classes;
pub mod export;
pub mod file;
pub mod import;
pub mod names;
pub mod problem;
pub mod prune;
pub mod select;
pub mod shape;

pub use file::{Cfg, GraphFile};
pub use names::{Component, GraphEdge};
pub use problem::Problem;
pub use select::{Ranking, ReadGraph, ScoredEdge, Selection};
pub use shape::Shape;
