//! The hypothesis graph's edges (`layered`): each from the bottom of its sender to the top
//! of its receiver, a curve where it crosses no box on its way, else through a lane beside
//! the columns; its end marked by the channels it feeds (a glyph each, and a key), its
//! label on a halo of the background so it reads over other edges.

use std::collections::{BTreeMap, BTreeSet};

use petgraph::graph::NodeIndex;
use petgraph::visit::EdgeRef;

use crate::dsl::Channel;
use crate::graph::{GraphEdge, GraphNode, HypothesisGraph};
use crate::report::html::layered::{Ends, Layout, Rect, text_width};
use crate::report::html::markup::{Element, coordinate};
use crate::report::html::svg::{INK, MUTED};

/// A point of the drawing, and a lane: its x and its track.
type Point = (f64, f64);
type Lane = (f64, usize);

/// The space between neighbouring lanes.
const LANE: f64 = 12.0;
/// A glyph's length along its edge and half its width, and the gap between stacked ones.
const GLYPH: f64 = 8.0;
const GLYPH_HALF_WIDTH: f64 = 4.5;
const GLYPH_GAP: f64 = 1.0;
/// The straight run into a receiver, which holds the glyphs.
const STUB: f64 = 18.0;
/// A curve's least control-point reach; a lane route's corner radius; how far below a
/// sender and above a receiver a lane route runs across, and its step per lane.
const MIN_REACH: f64 = 16.0;
const CORNER: f64 = 6.0;
const OUT_DROP: f64 = 9.0;
const IN_RISE: f64 = 24.0;
const STAGGER: f64 = 6.0;
/// How near a curve may pass a box it does not join.
const CLEARANCE: f64 = 4.0;
const LABEL_SIZE: f64 = 12.0;
const LABEL_BASELINE_DROP: f64 = 4.0;
/// The key's height and its text size.
pub(crate) const KEY_HEIGHT: f64 = 24.0;
const KEY_SIZE: f64 = 12.0;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Side {
    Left,
    Right,
}

/// One drawn edge: sender, receiver, the channels it feeds, and its lane (side, track),
/// if it takes one.
struct Route {
    from: NodeIndex,
    to: NodeIndex,
    channels: BTreeSet<Option<Channel>>,
    lane: Option<(Side, usize)>,
}

/// Every edge's route, and how many lanes each side holds.
pub(crate) struct Routes {
    routes: Vec<Route>,
    tracks: BTreeMap<Side, usize>,
}

impl Routes {
    /// The routes on `layout`: a curve where the receiver's row is below the sender's and
    /// the curve clears every other box, else a lane on the side nearer both ends, the
    /// shortest spans nearest the columns and lanes shared where their rows do not meet.
    pub fn new(graph: &HypothesisGraph, layout: &Layout) -> Self {
        let obstacles = layout.obstacles();
        let middle = (layout.columns_left + layout.columns_right) / 2.0;
        let mut routes = Vec::new();
        let mut laned: Vec<(usize, Side, (usize, usize))> = Vec::new();
        for ((from, to), channels) in merged_edges(graph) {
            let (a, b) = (&layout.ends[&from], &layout.ends[&to]);
            let (sx, tx) = anchors(a, b);
            let (source, target) = ((sx, a.out_of.bottom()), (tx, b.into.y));
            let blocked = |r: &&Rect| !r.overlaps(&a.out_of) && !r.overlaps(&b.into);
            let mut others = obstacles.iter().filter(blocked);
            let clear = b.row_in > a.row_out
                && !others.any(|r| curve_points(source, target).any(|p| r.near(p, CLEARANCE)));
            if !clear {
                let side = if sx + tx < 2.0 * middle {
                    Side::Left
                } else {
                    Side::Right
                };
                let rows = (a.row_out.min(b.row_in), a.row_out.max(b.row_in));
                laned.push((routes.len(), side, rows));
            }
            routes.push(Route {
                from,
                to,
                channels,
                lane: None,
            });
        }
        laned.sort_by_key(|(_, _, (top, bottom))| bottom - top);
        let mut taken: BTreeMap<(Side, usize), Vec<(usize, usize)>> = BTreeMap::new();
        let mut tracks = BTreeMap::from([(Side::Left, 0), (Side::Right, 0)]);
        for (i, side, (top, bottom)) in laned {
            let track = (0..)
                .find(|k| {
                    taken
                        .get(&(side, *k))
                        .is_none_or(|spans| spans.iter().all(|(t, b)| bottom < *t || top > *b))
                })
                .unwrap_or(0);
            taken.entry((side, track)).or_default().push((top, bottom));
            let count = tracks.entry(side).or_default();
            *count = (*count).max(track + 1);
            routes[i].lane = Some((side, track));
        }
        Self { routes, tracks }
    }

    /// The width the lanes take left and right of the columns.
    pub fn lane_widths(&self) -> (f64, f64) {
        let width = |side| match self.tracks[&side] {
            0 => 0.0,
            n => (n + 1) as f64 * LANE,
        };
        (width(Side::Left), width(Side::Right))
    }

    fn lane_x(&self, layout: &Layout, (side, track): (Side, usize)) -> f64 {
        let step = (track + 1) as f64 * LANE;
        match side {
            Side::Left => layout.columns_left - step,
            Side::Right => layout.columns_right + step,
        }
    }

    /// Each route's (source, target) points on `layout`: edges leaving (or entering) a box
    /// spread along its bottom (top) edge in the order of where they go (come from); a bar's
    /// edges leave or arrive straight above or below their other end.
    fn ports(&self, layout: &Layout) -> Vec<((f64, f64), (f64, f64))> {
        let toward = |i: usize, source: bool| {
            let route = &self.routes[i];
            match route.lane {
                Some(lane) => self.lane_x(layout, lane),
                None if source => layout.ends[&route.to].into.centre_x(),
                None => layout.ends[&route.from].out_of.centre_x(),
            }
        };
        let mut x: BTreeMap<(usize, bool), f64> = BTreeMap::new();
        for source in [true, false] {
            let mut at: BTreeMap<NodeIndex, Vec<usize>> = BTreeMap::new();
            for (i, route) in self.routes.iter().enumerate() {
                at.entry(if source { route.from } else { route.to })
                    .or_default()
                    .push(i);
            }
            for (node, mut routes) in at {
                let ends = &layout.ends[&node];
                let rect = if source { ends.out_of } else { ends.into };
                routes.sort_by(|p, q| toward(*p, source).total_cmp(&toward(*q, source)));
                let n = routes.len() as f64;
                for (k, i) in routes.into_iter().enumerate() {
                    let spread = rect.x + rect.width * (k as f64 + 1.0) / (n + 1.0);
                    x.insert((i, source), if ends.wide { f64::NAN } else { spread });
                }
            }
        }
        (0..self.routes.len())
            .map(|i| {
                let route = &self.routes[i];
                let (a, b) = (&layout.ends[&route.from], &layout.ends[&route.to]);
                let lane = route.lane.map(|l| self.lane_x(layout, l));
                let mut sx = x[&(i, true)];
                let mut tx = x[&(i, false)];
                if sx.is_nan() {
                    sx = lane.unwrap_or(if tx.is_nan() { a.out_of.centre_x() } else { tx });
                }
                if tx.is_nan() {
                    tx = lane.unwrap_or(sx);
                }
                ((sx, a.out_of.bottom()), (tx, b.into.y))
            })
            .collect()
    }

    /// Every edge's markup, each on a line: coloured as its sender's class (grey from the
    /// embeddings and MLPs).
    pub fn draw(
        &self,
        graph: &HypothesisGraph,
        layout: &Layout,
        colours: &BTreeMap<String, &'static str>,
    ) -> String {
        let mut drawn = String::new();
        for (route, (source, target)) in self.routes.iter().zip(self.ports(layout)) {
            let colour = match &graph.graph[route.from] {
                GraphNode::Class { name, .. } | GraphNode::Head { class: name, .. } => {
                    colours[name]
                }
                _ => MUTED,
            };
            let lane = route.lane.map(|l| (self.lane_x(layout, l), l.1));
            let name = format!(
                "{} → {}",
                graph.node_id(route.from),
                graph.node_id(route.to)
            );
            drawn += &edge((source, target, lane), colour, &route.channels, &name).to_string();
            drawn.push('\n');
        }
        drawn
    }
}

/// Where an edge between `a` and `b` leaves and arrives, before ports are spread: the
/// boxes' middles, a bar's straight above or below the other end.
fn anchors(a: &Ends, b: &Ends) -> (f64, f64) {
    let (sx, tx) = (a.out_of.centre_x(), b.into.centre_x());
    match (a.wide, b.wide) {
        (true, false) => (tx, tx),
        (false, true) => (sx, sx),
        _ => (sx, tx),
    }
}

/// The circuit's edges, one per (sender, receiver) with every channel it carries; `None`
/// in the set means all three (or, into the logits or an MLP, none to name).
fn merged_edges(
    graph: &HypothesisGraph,
) -> BTreeMap<(NodeIndex, NodeIndex), BTreeSet<Option<Channel>>> {
    let mut merged: BTreeMap<(NodeIndex, NodeIndex), BTreeSet<Option<Channel>>> = BTreeMap::new();
    for edge in graph.graph.edge_references() {
        if let GraphEdge::Reads(channel) = edge.weight() {
            merged
                .entry((edge.source(), edge.target()))
                .or_default()
                .insert(*channel);
        }
    }
    merged
}

/// The channels an edge feeds, one glyph each; every channel (or none to name) is one
/// arrowhead.
fn glyphs(channels: &BTreeSet<Option<Channel>>) -> Vec<Option<Channel>> {
    if channels.contains(&None) || channels.len() == Channel::ALL.len() {
        return vec![None];
    }
    channels.iter().copied().collect()
}

/// The channels as the edge's label: `q`, `k, v`, or nothing for all of them.
fn channel_label(channels: &BTreeSet<Option<Channel>>) -> String {
    glyphs(channels)
        .into_iter()
        .flatten()
        .map(|c| c.letter())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A path's points as SVG writes them: `x y`.
fn point((x, y): (f64, f64)) -> String {
    format!("{} {}", coordinate(x), coordinate(y))
}

/// A curve's control points from `source` down to the top of its stub above `target`.
fn controls((sx, sy): (f64, f64), (tx, ty): (f64, f64)) -> [(f64, f64); 4] {
    let end = ty - STUB;
    let reach = ((end - sy) / 2.0).max(MIN_REACH);
    [(sx, sy), (sx, sy + reach), (tx, end - reach), (tx, end)]
}

/// The cubic Bézier through `p` at `t`.
fn bezier(p: &[(f64, f64); 4], t: f64) -> (f64, f64) {
    let u = 1.0 - t;
    let (a, b, c, d) = (u * u * u, 3.0 * u * u * t, 3.0 * u * t * t, t * t * t);
    (
        a * p[0].0 + b * p[1].0 + c * p[2].0 + d * p[3].0,
        a * p[0].1 + b * p[1].1 + c * p[2].1 + d * p[3].1,
    )
}

/// Points along the curve from `source` to `target`, its stub included, ends excluded.
fn curve_points(source: (f64, f64), target: (f64, f64)) -> impl Iterator<Item = (f64, f64)> {
    let p = controls(source, target);
    (1..24)
        .map(move |i| bezier(&p, f64::from(i) / 24.0))
        .chain([(target.0, target.1 - STUB / 2.0)])
}

/// A path through `points` with rounded corners.
fn rounded(points: &[(f64, f64)]) -> String {
    let distance = |a: (f64, f64), b: (f64, f64)| (a.0 - b.0).hypot(a.1 - b.1);
    let mut kept: Vec<(f64, f64)> = Vec::new();
    for p in points {
        if kept.last().is_none_or(|last| distance(*last, *p) > 0.5) {
            kept.push(*p);
        }
    }
    let mut path = format!("M{}", point(kept[0]));
    for w in kept.windows(3) {
        let (a, b, c) = (w[0], w[1], w[2]);
        let r = CORNER.min(distance(a, b) / 2.0).min(distance(b, c) / 2.0);
        let toward = |p: (f64, f64)| {
            let d = distance(b, p);
            (b.0 + (p.0 - b.0) * r / d, b.1 + (p.1 - b.1) * r / d)
        };
        path += &format!(" L{} Q{}, {}", point(toward(a)), point(b), point(toward(c)));
    }
    path + &format!(" L{}", point(kept[kept.len() - 1]))
}

/// One edge: a curve from `source` down to `target`, or, with `lane` (its x and track),
/// down out of the sender, across to the lane, along it, across above the receiver and down
/// into it; its glyphs at the receiver and its label; and the label's point.
fn edge(
    (source, target, lane): (Point, Point, Option<Lane>),
    colour: &str,
    channels: &BTreeSet<Option<Channel>>,
    name: &str,
) -> Element {
    let label = channel_label(channels);
    let tooltip = if label.is_empty() {
        name.to_string()
    } else {
        format!("{name} ({label})")
    };
    let marks = glyphs(channels);
    let (tx, ty) = target;
    let line_end = (
        tx,
        ty - marks.len() as f64 * (GLYPH + GLYPH_GAP) + GLYPH_GAP,
    );
    let (path, (lx, ly)) = match lane {
        None => {
            let p = controls(source, target);
            let path = format!(
                "M{} C{}, {}, {} L{}",
                point(p[0]),
                point(p[1]),
                point(p[2]),
                point(p[3]),
                point(line_end)
            );
            (path, bezier(&p, 0.5))
        }
        Some((x, track)) => {
            let step = (track % 3) as f64 * STAGGER;
            let (out, into) = (source.1 + OUT_DROP + step, ty - IN_RISE - step);
            let points = [
                source,
                (source.0, out),
                (x, out),
                (x, into),
                (tx, into),
                line_end,
            ];
            let label_y =
                (into - 2.0 * LABEL_SIZE - (track % 2) as f64 * 16.0).max((out + into) / 2.0);
            (rounded(&points), (x, label_y))
        }
    };
    let mut group = Element::svg("g")
        .attr("class", "edge")
        .attr("data-route", if lane.is_some() { "lane" } else { "curve" })
        .title(tooltip)
        .child(
            Element::svg("path")
                .attr("d", path)
                .attr("stroke", colour)
                .attr("stroke-width", 1.6)
                .attr("stroke-opacity", 0.85),
        );
    for (i, channel) in marks.iter().enumerate() {
        let tip = (tx, ty - i as f64 * (GLYPH + GLYPH_GAP));
        group = group.child(glyph(*channel, tip, colour));
    }
    if !label.is_empty() {
        group = group.child(
            Element::svg("text")
                .attr("class", "channel")
                .at("x", lx)
                .at("y", ly + LABEL_BASELINE_DROP)
                .attr("text-anchor", "middle")
                .at("font-size", LABEL_SIZE)
                .attr("fill", INK)
                .attr("stroke", "#ffffff")
                .attr("stroke-width", 3)
                .attr("paint-order", "stroke")
                .text(&label),
        );
    }
    group
}

/// A channel's glyph pointing down at `tip`: all channels a filled arrowhead, q an open one,
/// k a diamond, v a dot.
fn glyph(channel: Option<Channel>, (x, y): (f64, f64), colour: &str) -> Element {
    let (w, h) = (GLYPH_HALF_WIDTH, GLYPH);
    let polygon = |points: &[(f64, f64)]| {
        let points: Vec<String> = points
            .iter()
            .map(|(px, py)| format!("{},{}", coordinate(*px), coordinate(*py)))
            .collect();
        Element::svg("polygon").attr("points", points.join(" "))
    };
    let arrow = [(x, y), (x - w, y - h), (x + w, y - h)];
    match channel {
        None => polygon(&arrow).attr("fill", colour),
        Some(Channel::Q) => polygon(&arrow)
            .attr("fill", "#ffffff")
            .attr("stroke", colour)
            .attr("stroke-width", 1.4),
        Some(Channel::K) => polygon(&[
            (x, y),
            (x - w, y - h / 2.0),
            (x, y - h),
            (x + w, y - h / 2.0),
        ])
        .attr("fill", colour),
        Some(Channel::V) => Element::svg("circle")
            .at("cx", x)
            .at("cy", y - h / 2.0)
            .at("r", h / 2.0)
            .attr("fill", colour),
    }
}

/// The key to the edges' glyphs, its top at `(x, y)`, on a line; and its width.
pub(crate) fn key(x: f64, y: f64) -> (String, f64) {
    let baseline = y + KEY_SIZE;
    let mut group = Element::svg("g").attr("class", "key channels");
    let mut at = x;
    let text = |group: Element, at: &mut f64, words: &str| {
        let element = Element::svg("text")
            .at("x", *at)
            .at("y", baseline)
            .at("font-size", KEY_SIZE)
            .attr("fill", INK)
            .text(words);
        *at += text_width(words, KEY_SIZE, false) + 6.0;
        group.child(element)
    };
    group = text(group, &mut at, "Edges feed:");
    let entries = [
        (None, "all of q, k, v"),
        (Some(Channel::Q), "q"),
        (Some(Channel::K), "k"),
        (Some(Channel::V), "v"),
    ];
    for (channel, words) in entries {
        at += GLYPH_HALF_WIDTH;
        group = group.child(glyph(channel, (at, baseline - 1.0), INK));
        at += GLYPH_HALF_WIDTH + 4.0;
        group = text(group, &mut at, words);
        at += 8.0;
    }
    (format!("{group}\n"), at - x)
}
