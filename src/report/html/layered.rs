//! The hypothesis graph drawn layer by layer, hand-written in SVG: `embed` on the left,
//! then one column per layer where a class starts (its first head's layer) and one per MLP
//! an edge names, `logits` on the right; each class a coloured box holding its heads, each edge a curve from sender to
//! receiver labelled with its channels. plotters has no graph layout, no arrows and no
//! grouped boxes, so this one is drawn by hand.

use std::collections::{BTreeMap, BTreeSet};

use petgraph::graph::NodeIndex;
use petgraph::visit::EdgeRef;

use crate::dsl::{Channel, Circuit, Class};
use crate::graph::{GraphEdge, GraphNode, HypothesisGraph};
use crate::report::html::markup::{Element, coordinate};
use crate::report::html::svg::{self, INK, MUTED, palette, tint};

// The layout, in pixels.
/// Around the drawing, and between the lanes and the boxes.
const MARGIN: f64 = 14.0;
/// The band of the column labels at the top, and their baseline below the margin.
const HEADER: f64 = 30.0;
const COLUMN_LABEL_DROP: f64 = 8.0;
/// Between neighbouring columns, where edges cross.
const GAP: f64 = 34.0;
/// `embed` and `logits`, pills with their name.
const TERMINAL_WIDTH: f64 = 64.0;
const TERMINAL_HEIGHT: f64 = 34.0;
const TERMINAL_BASELINE_DROP: f64 = 5.0;
/// A class box, stacked `STACK_GAP` apart in its column: its name and positions on two
/// lines at the top (baselines `NAME_BASELINE`, `POSITIONS_BASELINE`), then its heads as
/// chips in rows from `CHIPS_TOP`, `INSET` from the left edge.
const BOX_WIDTH: f64 = 136.0;
const BOX_RADIUS: f64 = 8.0;
const STACK_GAP: f64 = 18.0;
const INSET: f64 = 8.0;
const NAME_BASELINE: f64 = 18.0;
const POSITIONS_BASELINE: f64 = 35.0;
const CHIPS_TOP: f64 = 44.0;
const CHIPS_BOTTOM_PADDING: f64 = 4.0;
const CHIP_WIDTH: f64 = 32.0;
const CHIP_HEIGHT: f64 = 20.0;
const CHIP_RADIUS: f64 = 4.0;
const CHIP_BASELINE: f64 = 14.5;
const CHIP_GAP: f64 = 4.0;
const CHIPS_PER_ROW: usize = 3;
/// The longest class name a box shows whole; longer ones are cut, whole in the tooltip.
const NAME_CHARS: usize = 16;
/// Vertical distance between the lanes that edges skipping columns run in.
const LANE: f64 = 14.0;
/// An edge: the arrowhead's length and half its width, the gap its line stops short of the
/// tip; a straight edge's least control-point reach; where a lane edge turns, and how far
/// before the receiver its label sits; a label's baseline below the point it marks.
const ARROW_LENGTH: f64 = 8.0;
const ARROW_HALF_WIDTH: f64 = 4.0;
const ARROW_INSET: f64 = 7.0;
const MIN_REACH: f64 = 20.0;
const TURN: f64 = 26.0;
const TURN_EASE: f64 = 4.0;
const LANE_LABEL_BEFORE: f64 = 34.0;
const LABEL_BASELINE_DROP: f64 = 4.0;

/// A box on the drawing, and its column (0: embed, then the layers, then logits).
struct Placed {
    x: f64,
    y: f64,
    width: f64,
    height: f64,
    column: usize,
}

impl Placed {
    fn right(&self) -> (f64, f64) {
        (self.x + self.width, self.y + self.height / 2.0)
    }

    fn left(&self) -> (f64, f64) {
        (self.x, self.y + self.height / 2.0)
    }

    /// A terminal pill whose left edge is at `x`, centred on `middle`.
    fn terminal(x: f64, middle: f64, column: usize) -> Self {
        Self {
            x,
            y: middle - TERMINAL_HEIGHT / 2.0,
            width: TERMINAL_WIDTH,
            height: TERMINAL_HEIGHT,
            column,
        }
    }
}

fn box_height(heads: usize) -> f64 {
    let rows = heads.div_ceil(CHIPS_PER_ROW).max(1) as f64;
    CHIPS_TOP + rows * (CHIP_HEIGHT + CHIP_GAP) + CHIPS_BOTTOM_PADDING
}

/// The top-left corner of the `i`-th head's chip in a box at (`x`, `y`).
fn chip_at(x: f64, y: f64, i: usize) -> (f64, f64) {
    let (row, column) = (i / CHIPS_PER_ROW, i % CHIPS_PER_ROW);
    (
        x + INSET + column as f64 * (CHIP_WIDTH + CHIP_GAP),
        y + CHIPS_TOP + row as f64 * (CHIP_HEIGHT + CHIP_GAP),
    )
}

/// The colour of each class of `circuits`, by name: the first circuit's classes in their
/// order, then each later circuit's new names (the report's charts use the same, and a
/// comparison gives both sides one map, so a class has one colour on the page).
pub fn class_colours(circuits: &[&Circuit]) -> BTreeMap<String, &'static str> {
    let mut colours = BTreeMap::new();
    for class in circuits.iter().flat_map(|c| &c.classes) {
        let next = palette(colours.len());
        colours.entry(class.name.clone()).or_insert(next);
    }
    colours
}

/// The columns: embed (0), the layers where classes start (a class's first head's layer),
/// each MLP an edge names (after its layer's classes), logits (`last`).
struct Columns<'c> {
    /// Each middle column's (layer, 0 for classes or 1 for the layer's MLP) and its classes
    /// (none for an MLP's).
    slots: Vec<((u32, u8), Vec<&'c Class>)>,
    of_class: BTreeMap<&'c str, usize>,
    of_mlp: BTreeMap<u32, usize>,
    last: usize,
}

impl<'c> Columns<'c> {
    fn new(circuit: &'c Circuit) -> Self {
        let mut slots: BTreeMap<(u32, u8), Vec<&Class>> = BTreeMap::new();
        for class in &circuit.classes {
            let first = class.heads.iter().map(|h| h.layer).min().unwrap_or(0);
            slots.entry((first, 0)).or_default().push(class);
        }
        for layer in circuit.wired_mlps() {
            slots.entry((layer, 1)).or_default();
        }
        let slots: Vec<((u32, u8), Vec<&Class>)> = slots.into_iter().collect();
        let of_class = slots
            .iter()
            .enumerate()
            .flat_map(|(i, (_, classes))| classes.iter().map(move |c| (c.name.as_str(), i + 1)))
            .collect();
        let of_mlp = slots
            .iter()
            .enumerate()
            .filter(|(_, ((_, kind), _))| *kind == 1)
            .map(|(i, ((layer, _), _))| (*layer, i + 1))
            .collect();
        let last = slots.len() + 1;
        Self {
            slots,
            of_class,
            of_mlp,
            last,
        }
    }

    fn of(&self, graph: &HypothesisGraph, index: NodeIndex) -> usize {
        match &graph.graph[index] {
            GraphNode::Embed => 0,
            GraphNode::Logits => self.last,
            GraphNode::Mlp { layer } => self.of_mlp[layer],
            GraphNode::Class { name, .. } | GraphNode::Head { class: name, .. } => {
                self.of_class[name.as_str()]
            }
        }
    }

    /// The height of each column's stack of boxes (an MLP's pill).
    fn heights(&self) -> Vec<f64> {
        self.slots
            .iter()
            .map(|((_, kind), classes)| {
                if *kind == 1 {
                    return TERMINAL_HEIGHT;
                }
                classes
                    .iter()
                    .map(|c| box_height(c.heads.len()))
                    .sum::<f64>()
                    + STACK_GAP * (classes.len().saturating_sub(1)) as f64
            })
            .collect()
    }
}

/// The drawing's size, and the heights its parts line up on.
struct Frame {
    width: f64,
    height: f64,
    /// Just above the boxes and just below them: where the innermost lanes start.
    content_top: f64,
    content_bottom: f64,
    /// The centre line of the columns.
    middle: f64,
}

impl Frame {
    fn new(layers: usize, heights: &[f64], long_edges: usize) -> Self {
        let (lanes_above, lanes_below) = (long_edges.div_ceil(2), long_edges / 2);
        let inner = heights.iter().copied().fold(TERMINAL_HEIGHT, f64::max);
        let above = lanes_above as f64 * LANE;
        Self {
            width: 2.0 * MARGIN
                + 2.0 * TERMINAL_WIDTH
                + layers as f64 * BOX_WIDTH
                + (layers + 1) as f64 * GAP,
            height: HEADER + above + inner + lanes_below as f64 * LANE + 2.0 * MARGIN,
            content_top: HEADER + above + MARGIN / 2.0,
            content_bottom: HEADER + above + MARGIN / 2.0 + inner + MARGIN,
            middle: HEADER + above + MARGIN + inner / 2.0,
        }
    }

    /// The height of the lane of the `i`-th long edge: lane i / 2, above for even i, below
    /// for odd.
    fn lane(&self, i: usize) -> f64 {
        let depth = (i / 2) as f64 * LANE + LANE / 2.0;
        if i.is_multiple_of(2) {
            self.content_top - depth
        } else {
            self.content_bottom + depth
        }
    }
}

/// The `<svg>` of the circuit's hypothesis graph, each class in its colour of `colours`
/// (`class_colours`).
pub fn draw(circuit: &Circuit, colours: &BTreeMap<String, &'static str>) -> String {
    let graph = HypothesisGraph::build(circuit);
    let columns = Columns::new(circuit);
    // Edges into the next column are drawn straight across; the others run in lanes above
    // and below the boxes (shorter spans nearer), so that none crosses a box on its way.
    let edges = merged_edges(&graph);
    let column_of = |index| columns.of(&graph, index);
    let mut long: Vec<(NodeIndex, NodeIndex)> = edges
        .keys()
        .filter(|(from, to)| column_of(*to) != column_of(*from) + 1)
        .copied()
        .collect();
    long.sort_by_key(|(from, to)| column_of(*to).abs_diff(column_of(*from)));
    let heights = columns.heights();
    let frame = Frame::new(columns.slots.len(), &heights, long.len());
    let (placed, body) = place(&graph, &columns, &heights, colours, frame.middle);

    let mut drawn = String::new();
    for ((from, to), channels) in &edges {
        let (a, b) = (&placed[from], &placed[to]);
        let colour = match &graph.graph[*from] {
            GraphNode::Class { name, .. } | GraphNode::Head { class: name, .. } => colours[name],
            _ => MUTED,
        };
        let lane = long
            .iter()
            .position(|e| *e == (*from, *to))
            .map(|i| frame.lane(i));
        debug_assert!(a.column < b.column || lane.is_some());
        let name = format!("{} → {}", graph.node_id(*from), graph.node_id(*to));
        drawn += &edge((a.right(), b.left(), lane), colour, channels, &name).to_string();
        drawn.push('\n');
    }

    let title = format!("Hypothesis graph of {}", circuit.name);
    svg::root("graph", frame.width, frame.height, &title)
        .line(svg::background())
        .raw(&body)
        .line(
            Element::svg("g")
                .attr("class", "edges")
                .attr("fill", "none")
                .newline()
                .raw(&drawn),
        )
        .to_string()
        + "\n"
}

/// Every box in its place, left to right: where each node is, and the boxes' markup (each
/// on a line) with the column labels.
fn place(
    graph: &HypothesisGraph,
    columns: &Columns,
    heights: &[f64],
    colours: &BTreeMap<String, &'static str>,
    middle: f64,
) -> (BTreeMap<NodeIndex, Placed>, String) {
    let mut placed: BTreeMap<NodeIndex, Placed> = BTreeMap::new();
    let mut body = String::new();
    let mut x = MARGIN;
    placed.insert(graph.embed, Placed::terminal(x, middle, 0));
    body += &column_label(x + TERMINAL_WIDTH / 2.0, "embeddings");
    x += TERMINAL_WIDTH + GAP;
    for (column, (((layer, kind), classes), column_height)) in
        columns.slots.iter().zip(heights).enumerate()
    {
        if *kind == 1 {
            body += &column_label(x + BOX_WIDTH / 2.0, &format!("MLP {layer}"));
            let pill = Placed::terminal(x + (BOX_WIDTH - TERMINAL_WIDTH) / 2.0, middle, column + 1);
            body += &terminal(&pill, &format!("mlp.{layer}"));
            placed.insert(graph.mlps[layer], pill);
            x += BOX_WIDTH + GAP;
            continue;
        }
        body += &column_label(x + BOX_WIDTH / 2.0, &format!("layer {layer}"));
        let mut y = middle - column_height / 2.0;
        for class in classes {
            let height = box_height(class.heads.len());
            body += &class_box(class, colours[&class.name], x, y, height);
            for (i, head) in class.heads.iter().enumerate() {
                let (cx, cy) = chip_at(x, y, i);
                let chip = Placed {
                    x: cx,
                    y: cy,
                    width: CHIP_WIDTH,
                    height: CHIP_HEIGHT,
                    column: column + 1,
                };
                placed.insert(graph.heads[head], chip);
            }
            let class_box = Placed {
                x,
                y,
                width: BOX_WIDTH,
                height,
                column: column + 1,
            };
            placed.insert(graph.classes[&class.name], class_box);
            y += height + STACK_GAP;
        }
        x += BOX_WIDTH + GAP;
    }
    placed.insert(graph.logits, Placed::terminal(x, middle, columns.last));
    body += &column_label(x + TERMINAL_WIDTH / 2.0, "unembedding");
    for (index, label) in [(graph.embed, "embed"), (graph.logits, "logits")] {
        body += &terminal(&placed[&index], label);
    }
    (placed, body)
}

/// `embed`, `logits` or an MLP: a pill with its name, on a line.
fn terminal(at: &Placed, label: &str) -> String {
    let pill = Element::svg("rect")
        .at("x", at.x)
        .at("y", at.y)
        .at("width", at.width)
        .at("height", at.height)
        .at("rx", at.height / 2.0)
        .attr("fill", "#f3f4f6")
        .attr("stroke", MUTED);
    let name = Element::svg("text")
        .at("x", at.x + at.width / 2.0)
        .at("y", at.y + at.height / 2.0 + TERMINAL_BASELINE_DROP)
        .attr("text-anchor", "middle")
        .attr("font-size", 14)
        .attr("fill", INK)
        .text(label);
    let terminal = Element::svg("g")
        .attr(
            "class",
            format!("terminal {}", label.split('.').next().unwrap_or(label)),
        )
        .child(pill)
        .child(name);
    format!("{terminal}\n")
}

/// A column's label at the top, centred on `x`, on a line.
fn column_label(x: f64, text: &str) -> String {
    let label = Element::svg("text")
        .attr("class", "column")
        .at("x", x)
        .at("y", MARGIN + COLUMN_LABEL_DROP)
        .attr("text-anchor", "middle")
        .attr("font-size", 13)
        .attr("fill", MUTED)
        .text(text);
    format!("{label}\n")
}

/// A class's box at (`x`, `y`): its name, positions and heads, the whole class in the
/// tooltip; on a line.
fn class_box(class: &Class, colour: &str, x: f64, y: f64, height: f64) -> String {
    let heads: Vec<String> = class.heads.iter().map(|h| h.to_string()).collect();
    let tooltip = format!(
        "{}{} at {}: {}",
        class.name,
        class
            .description
            .as_ref()
            .map(|d| format!(" ({d})"))
            .unwrap_or_default(),
        class.positions,
        heads.join(" ")
    );
    let name: String = if class.name.chars().count() > NAME_CHARS {
        class.name.chars().take(NAME_CHARS - 1).collect::<String>() + "…"
    } else {
        class.name.clone()
    };
    let mut group = Element::svg("g")
        .attr("class", "class-box")
        .attr("data-class", &class.name)
        .title(tooltip)
        .child(
            Element::svg("rect")
                .at("x", x)
                .at("y", y)
                .at("width", BOX_WIDTH)
                .at("height", height)
                .at("rx", BOX_RADIUS)
                .attr("fill", tint(colour, 0.86))
                .attr("stroke", colour)
                .attr("stroke-width", 1.5),
        )
        .child(
            Element::svg("text")
                .attr("class", "class-name")
                .at("x", x + INSET)
                .at("y", y + NAME_BASELINE)
                .attr("font-size", 11.5)
                .attr("font-weight", "bold")
                .attr("fill", INK)
                .text(&name),
        )
        .child(
            Element::svg("text")
                .at("x", x + INSET)
                .at("y", y + POSITIONS_BASELINE)
                .attr("font-size", 12)
                .attr("fill", MUTED)
                .text(&format!("at {}", class.positions)),
        );
    for (i, head) in heads.iter().enumerate() {
        group = group.child(head_chip(chip_at(x, y, i), colour, head));
    }
    format!("{group}\n")
}

/// A head's chip in its class's box, its top-left corner at `(x, y)`.
fn head_chip((x, y): (f64, f64), colour: &str, head: &str) -> Element {
    Element::svg("g")
        .attr("class", "head")
        .child(
            Element::svg("rect")
                .at("x", x)
                .at("y", y)
                .at("width", CHIP_WIDTH)
                .at("height", CHIP_HEIGHT)
                .at("rx", CHIP_RADIUS)
                .attr("fill", "#ffffff")
                .attr("stroke", colour),
        )
        .child(
            Element::svg("text")
                .at("x", x + CHIP_WIDTH / 2.0)
                .at("y", y + CHIP_BASELINE)
                .attr("text-anchor", "middle")
                .attr("font-size", 11.5)
                .attr("fill", INK)
                .text(head),
        )
}

/// The circuit's edges, one per (sender, receiver) with every channel it carries; `None`
/// in the set means all three (or, into the logits, none to name).
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

/// The channels as the edge's label: `q`, `k, v`, or nothing for all of them.
fn channel_label(channels: &BTreeSet<Option<Channel>>) -> String {
    if channels.contains(&None) || channels.len() == Channel::ALL.len() {
        return String::new();
    }
    channels
        .iter()
        .flatten()
        .map(|c| c.letter())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A path's points as SVG writes them: `x y`.
fn point((x, y): (f64, f64)) -> String {
    format!("{} {}", coordinate(x), coordinate(y))
}

/// A curve between neighbouring columns, leaving and arriving level; and its middle.
fn curve((sx, sy): (f64, f64), (tx, ty): (f64, f64)) -> (String, (f64, f64)) {
    let reach = ((tx - sx) / 2.0).abs().max(MIN_REACH);
    let (c1, c2) = ((sx + reach, sy), (tx - reach, ty));
    // The curve's middle: B(½) = (P0 + 3·P1 + 3·P2 + P3) / 8.
    let middle = (
        (sx + 3.0 * c1.0 + 3.0 * c2.0 + tx) / 8.0,
        (sy + 3.0 * c1.1 + 3.0 * c2.1 + ty) / 8.0,
    );
    let path = format!(
        "M{} C{}, {}, {}",
        point((sx, sy)),
        point(c1),
        point(c2),
        point((tx - ARROW_INSET, ty))
    );
    (path, middle)
}

/// A path that turns into the lane at height `lane`, runs along it, and turns down (or up)
/// to the receiver; and where its label goes: near the receiver, where the lane turns.
fn through_lane((sx, sy): (f64, f64), (tx, ty): (f64, f64), lane: f64) -> (String, (f64, f64)) {
    let path = format!(
        "M{} C{}, {}, {} H{} C{}, {}, {}",
        point((sx, sy)),
        point((sx + TURN, sy)),
        point((sx + TURN_EASE, lane)),
        point((sx + TURN, lane)),
        coordinate(tx - TURN - TURN_EASE),
        point((tx - ARROW_LENGTH, lane)),
        point((tx - TURN - TURN_EASE, ty)),
        point((tx - ARROW_INSET, ty))
    );
    (path, (tx - TURN - LANE_LABEL_BEFORE, lane))
}

/// One edge: from the sender's right side to the receiver's left, straight across the gap
/// between neighbouring columns, or through `lane` (a height) when it skips columns.
fn edge(
    (source, target, lane): ((f64, f64), (f64, f64), Option<f64>),
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
    // Both shapes end level, so the arrowhead points straight right.
    let (path, (mx, my)) = match lane {
        None => curve(source, target),
        Some(y) => through_lane(source, target, y),
    };
    let (tx, ty) = target;
    let arrowhead = format!(
        "{},{} {},{} {},{}",
        coordinate(tx),
        coordinate(ty),
        coordinate(tx - ARROW_LENGTH),
        coordinate(ty - ARROW_HALF_WIDTH),
        coordinate(tx - ARROW_LENGTH),
        coordinate(ty + ARROW_HALF_WIDTH)
    );
    let mut group = Element::svg("g")
        .attr("class", "edge")
        .title(tooltip)
        .child(
            Element::svg("path")
                .attr("d", path)
                .attr("stroke", colour)
                .attr("stroke-width", 1.6)
                .attr("stroke-opacity", 0.85),
        )
        .child(
            Element::svg("polygon")
                .attr("points", arrowhead)
                .attr("fill", colour),
        );
    if !label.is_empty() {
        group = group.child(
            Element::svg("text")
                .attr("class", "channel")
                .at("x", mx)
                .at("y", my + LABEL_BASELINE_DROP)
                .attr("text-anchor", "middle")
                .attr("font-size", 12)
                .attr("fill", INK)
                .attr("stroke", "#ffffff")
                .attr("stroke-width", 3)
                .attr("paint-order", "stroke")
                .text(&label),
        );
    }
    group
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::dsl::{Edge, Head, Mlps, Node, Positions, TaskRef};

    /// An MLP an edge names is a pill in a column of its own, after its layer's classes, with
    /// its edges.
    #[test]
    fn wired_mlps_get_columns_of_their_own() {
        let class = Class {
            name: "a".into(),
            description: None,
            positions: Positions::All,
            heads: BTreeSet::from([Head::new(1, 0)]),
        };
        let edge = |from: Node, to: Node| Edge {
            from,
            to,
            channel: None,
        };
        let circuit = Circuit {
            name: "wired".into(),
            model: "gpt2-small".into(),
            task: TaskRef::Builtin("ioi".into()),
            ablation: None,
            level: None,
            classes: vec![class],
            mlps: Mlps::All,
            edges: BTreeSet::from([
                edge(Node::Mlp(0), Node::Class("a".into())),
                edge(Node::Class("a".into()), Node::Mlp(1)),
                edge(Node::Mlp(1), Node::Logits),
            ]),
            expectations: Vec::new(),
            minimality_sets: Vec::new(),
        };
        let columns = Columns::new(&circuit);
        let slots: Vec<(u32, u8)> = columns.slots.iter().map(|(slot, _)| *slot).collect();
        assert_eq!(slots, [(0, 1), (1, 0), (1, 1)]);
        let svg = draw(&circuit, &class_colours(&[&circuit]));
        assert_eq!(svg.matches("class=\"terminal mlp\"").count(), 2);
        for label in ["MLP 0", "layer 1", "MLP 1", ">mlp.0<", ">mlp.1<"] {
            assert!(svg.contains(label), "{label}: {svg}");
        }
        for name in ["mlp.0 → a", "a → mlp.1", "mlp.1 → logits"] {
            assert!(svg.contains(name), "{name}: {svg}");
        }
    }
}
