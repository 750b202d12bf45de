//! The hypothesis graph drawn layer by layer, hand-written in SVG: `embed` on the left,
//! then one column per layer where a class starts (its first head's layer), `logits` on the
//! right; each class a coloured box holding its heads, each edge a curve from sender to
//! receiver labelled with its channels. plotters has no graph layout, no arrows and no
//! grouped boxes, so this one is drawn by hand.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use petgraph::graph::NodeIndex;
use petgraph::visit::EdgeRef;

use crate::dsl::{Channel, Circuit};
use crate::graph::{GraphEdge, GraphNode, HypothesisGraph};
use crate::report::html::markup::{Element, coordinate};
use crate::report::html::svg::{self, INK, MUTED, palette, tint};

const MARGIN: f64 = 14.0;
const HEADER: f64 = 30.0;
const GAP: f64 = 60.0;
const BOX_WIDTH: f64 = 184.0;
const TERMINAL_WIDTH: f64 = 74.0;
const TERMINAL_HEIGHT: f64 = 34.0;
const CHIP_WIDTH: f64 = 32.0;
const CHIP_HEIGHT: f64 = 20.0;
const CHIP_GAP: f64 = 4.0;
const CHIPS_PER_ROW: usize = 4;
const STACK_GAP: f64 = 18.0;
/// The longest class name a box shows whole; longer ones are cut, whole in the tooltip.
const NAME_CHARS: usize = 22;

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
}

/// Vertical distance between the lanes that edges skipping columns run in.
const LANE: f64 = 14.0;

fn box_height(heads: usize) -> f64 {
    let rows = heads.div_ceil(CHIPS_PER_ROW).max(1) as f64;
    44.0 + rows * (CHIP_HEIGHT + CHIP_GAP) + 4.0
}

/// The colour of each class, by its place in the circuit (the report's charts use the same).
pub fn class_colours(circuit: &Circuit) -> BTreeMap<String, &'static str> {
    circuit
        .classes
        .iter()
        .enumerate()
        .map(|(i, class)| (class.name.clone(), palette(i)))
        .collect()
}

/// The `<svg>` of the circuit's hypothesis graph.
pub fn draw(circuit: &Circuit) -> String {
    let graph = HypothesisGraph::build(circuit);
    let colours = class_colours(circuit);

    // Columns: embed, the layers where classes start, logits.
    let mut columns: BTreeMap<u32, Vec<&crate::dsl::Class>> = BTreeMap::new();
    for class in &circuit.classes {
        let first = class.heads.iter().map(|h| h.layer).min().unwrap_or(0);
        columns.entry(first).or_default().push(class);
    }
    let column_of_class: BTreeMap<&str, usize> = columns
        .values()
        .enumerate()
        .flat_map(|(i, classes)| classes.iter().map(move |c| (c.name.as_str(), i + 1)))
        .collect();
    let last = columns.len() + 1;
    let column_of = |index: NodeIndex| match &graph.graph[index] {
        GraphNode::Embed => 0,
        GraphNode::Logits => last,
        GraphNode::Class { name, .. } | GraphNode::Head { class: name, .. } => {
            column_of_class[name.as_str()]
        }
    };

    // Edges into the next column are drawn straight across; the others run in lanes above
    // and below the boxes (shorter spans nearer), so that none crosses a box on its way.
    let edges = merged_edges(&graph);
    let mut long: Vec<(NodeIndex, NodeIndex)> = edges
        .keys()
        .filter(|(from, to)| column_of(*to) != column_of(*from) + 1)
        .copied()
        .collect();
    long.sort_by_key(|(from, to)| column_of(*to).abs_diff(column_of(*from)));
    let lanes_above = long.len().div_ceil(2);
    let lanes_below = long.len() / 2;

    let heights: Vec<f64> = columns
        .values()
        .map(|classes| {
            classes
                .iter()
                .map(|c| box_height(c.heads.len()))
                .sum::<f64>()
                + STACK_GAP * (classes.len().saturating_sub(1)) as f64
        })
        .collect();
    let inner = heights.iter().copied().fold(TERMINAL_HEIGHT, f64::max);
    let above = lanes_above as f64 * LANE;
    let height = HEADER + above + inner + lanes_below as f64 * LANE + 2.0 * MARGIN;
    let width = 2.0 * MARGIN
        + 2.0 * TERMINAL_WIDTH
        + columns.len() as f64 * BOX_WIDTH
        + (columns.len() + 1) as f64 * GAP;
    let (content_top, content_bottom) = (
        HEADER + above + MARGIN / 2.0,
        HEADER + above + MARGIN / 2.0 + inner + MARGIN,
    );
    let middle = HEADER + above + MARGIN + inner / 2.0;

    let mut placed: BTreeMap<NodeIndex, Placed> = BTreeMap::new();
    let mut body = String::new();
    let mut x = MARGIN;
    placed.insert(
        graph.embed,
        Placed {
            x,
            y: middle - TERMINAL_HEIGHT / 2.0,
            width: TERMINAL_WIDTH,
            height: TERMINAL_HEIGHT,
            column: 0,
        },
    );
    column_label(&mut body, x + TERMINAL_WIDTH / 2.0, "embeddings");
    x += TERMINAL_WIDTH + GAP;
    for (column, ((layer, classes), column_height)) in columns.iter().zip(&heights).enumerate() {
        column_label(&mut body, x + BOX_WIDTH / 2.0, &format!("layer {layer}"));
        let mut y = middle - column_height / 2.0;
        for class in classes {
            let height = box_height(class.heads.len());
            let colour = colours[&class.name];
            class_box(&mut body, class, colour, x, y, height);
            for (i, head) in class.heads.iter().enumerate() {
                let (row, chip) = (i / CHIPS_PER_ROW, i % CHIPS_PER_ROW);
                placed.insert(
                    graph.heads[head],
                    Placed {
                        x: x + 8.0 + chip as f64 * (CHIP_WIDTH + CHIP_GAP),
                        y: y + 44.0 + row as f64 * (CHIP_HEIGHT + CHIP_GAP),
                        width: CHIP_WIDTH,
                        height: CHIP_HEIGHT,
                        column: column + 1,
                    },
                );
            }
            placed.insert(
                graph.classes[&class.name],
                Placed {
                    x,
                    y,
                    width: BOX_WIDTH,
                    height,
                    column: column + 1,
                },
            );
            y += height + STACK_GAP;
        }
        x += BOX_WIDTH + GAP;
    }
    placed.insert(
        graph.logits,
        Placed {
            x,
            y: middle - TERMINAL_HEIGHT / 2.0,
            width: TERMINAL_WIDTH,
            height: TERMINAL_HEIGHT,
            column: last,
        },
    );
    column_label(&mut body, x + TERMINAL_WIDTH / 2.0, "unembedding");
    for (index, label) in [(graph.embed, "embed"), (graph.logits, "logits")] {
        terminal(&mut body, &placed[&index], label);
    }

    let mut drawn = String::new();
    for ((from, to), channels) in &edges {
        let (a, b) = (&placed[from], &placed[to]);
        let colour = match &graph.graph[*from] {
            GraphNode::Class { name, .. } | GraphNode::Head { class: name, .. } => colours[name],
            _ => MUTED,
        };
        // The i-th long edge runs in lane i / 2, above for even i, below for odd.
        let lane = long.iter().position(|e| *e == (*from, *to)).map(|i| {
            let depth = (i / 2) as f64 * LANE + LANE / 2.0;
            if i % 2 == 0 {
                content_top - depth
            } else {
                content_bottom + depth
            }
        });
        debug_assert!(a.column < b.column || lane.is_some());
        edge(
            &mut drawn,
            (a.right(), b.left(), lane),
            colour,
            channels,
            &format!("{} → {}", graph.node_id(*from), graph.node_id(*to)),
        );
    }

    let title = format!("Hypothesis graph of {}", circuit.name);
    svg::root("graph", width, height, &title)
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

/// `embed` or `logits`: a pill with its name.
fn terminal(out: &mut String, at: &Placed, label: &str) {
    let _ = writeln!(
        out,
        "{}",
        Element::svg("g")
            .attr("class", format!("terminal {label}"))
            .raw(
                &Element::svg("rect")
                    .at("x", at.x)
                    .at("y", at.y)
                    .at("width", at.width)
                    .at("height", at.height)
                    .at("rx", at.height / 2.0)
                    .attr("fill", "#f3f4f6")
                    .attr("stroke", MUTED)
                    .to_string()
            )
            .raw(
                &Element::svg("text")
                    .at("x", at.x + at.width / 2.0)
                    .at("y", at.y + at.height / 2.0 + 5.0)
                    .attr("text-anchor", "middle")
                    .attr("font-size", 14)
                    .attr("fill", INK)
                    .text(label)
                    .to_string()
            )
    );
}

fn column_label(out: &mut String, x: f64, text: &str) {
    let _ = writeln!(
        out,
        "{}",
        Element::svg("text")
            .attr("class", "column")
            .at("x", x)
            .at("y", MARGIN + 8.0)
            .attr("text-anchor", "middle")
            .attr("font-size", 13)
            .attr("fill", MUTED)
            .text(text)
    );
}

fn class_box(
    out: &mut String,
    class: &crate::dsl::Class,
    colour: &str,
    x: f64,
    y: f64,
    height: f64,
) {
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
    let mut inside = String::new();
    let _ = write!(
        inside,
        "{}{}{}",
        Element::svg("rect")
            .at("x", x)
            .at("y", y)
            .at("width", BOX_WIDTH)
            .at("height", height)
            .at("rx", 8.0)
            .attr("fill", tint(colour, 0.86))
            .attr("stroke", colour)
            .attr("stroke-width", 1.5),
        Element::svg("text")
            .attr("class", "class-name")
            .at("x", x + 8.0)
            .at("y", y + 18.0)
            .attr("font-size", 12.5)
            .attr("font-weight", "bold")
            .attr("fill", INK)
            .text(&name),
        Element::svg("text")
            .at("x", x + 8.0)
            .at("y", y + 35.0)
            .attr("font-size", 12)
            .attr("fill", MUTED)
            .text(&format!("at {}", class.positions)),
    );
    for (i, head) in heads.iter().enumerate() {
        let (row, column) = (i / CHIPS_PER_ROW, i % CHIPS_PER_ROW);
        let (cx, cy) = (
            x + 8.0 + column as f64 * (CHIP_WIDTH + CHIP_GAP),
            y + 44.0 + row as f64 * (CHIP_HEIGHT + CHIP_GAP),
        );
        let _ = write!(
            inside,
            "{}",
            Element::svg("g").attr("class", "head").raw(&format!(
                "{}{}",
                Element::svg("rect")
                    .at("x", cx)
                    .at("y", cy)
                    .at("width", CHIP_WIDTH)
                    .at("height", CHIP_HEIGHT)
                    .at("rx", 4.0)
                    .attr("fill", "#ffffff")
                    .attr("stroke", colour),
                Element::svg("text")
                    .at("x", cx + CHIP_WIDTH / 2.0)
                    .at("y", cy + 14.5)
                    .attr("text-anchor", "middle")
                    .attr("font-size", 11.5)
                    .attr("fill", INK)
                    .text(head)
            ))
        );
    }
    let _ = writeln!(
        out,
        "{}",
        Element::svg("g")
            .attr("class", "class-box")
            .attr("data-class", &class.name)
            .title(tooltip)
            .raw(&inside)
    );
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

/// One edge: from the sender's right side to the receiver's left, straight across the gap
/// between neighbouring columns, or through `lane` (a height) when it skips columns.
fn edge(
    out: &mut String,
    ((sx, sy), (tx, ty), lane): ((f64, f64), (f64, f64), Option<f64>),
    colour: &str,
    channels: &BTreeSet<Option<Channel>>,
    name: &str,
) {
    let label = channel_label(channels);
    let tooltip = if label.is_empty() {
        name.to_string()
    } else {
        format!("{name} ({label})")
    };
    let end = tx - 7.0;
    // Both shapes end level, so the arrowhead points straight right.
    let (path, (mx, my)) = match lane {
        None => {
            let reach = ((tx - sx) / 2.0).abs().max(20.0);
            let (c1, c2) = ((sx + reach, sy), (tx - reach, ty));
            // The curve's middle: B(½) = (P0 + 3·P1 + 3·P2 + P3) / 8.
            let middle = (
                (sx + 3.0 * c1.0 + 3.0 * c2.0 + tx) / 8.0,
                (sy + 3.0 * c1.1 + 3.0 * c2.1 + ty) / 8.0,
            );
            (
                format!(
                    "M{} {} C{} {}, {} {}, {} {}",
                    coordinate(sx),
                    coordinate(sy),
                    coordinate(c1.0),
                    coordinate(c1.1),
                    coordinate(c2.0),
                    coordinate(c2.1),
                    coordinate(end),
                    coordinate(ty)
                ),
                middle,
            )
        }
        Some(y) => {
            let turn = 26.0;
            (
                format!(
                    "M{} {} C{} {}, {} {}, {} {} H{} C{} {}, {} {}, {} {}",
                    coordinate(sx),
                    coordinate(sy),
                    coordinate(sx + turn),
                    coordinate(sy),
                    coordinate(sx + 4.0),
                    coordinate(y),
                    coordinate(sx + turn),
                    coordinate(y),
                    coordinate(tx - turn - 4.0),
                    coordinate(tx - 8.0),
                    coordinate(y),
                    coordinate(tx - turn - 4.0),
                    coordinate(ty),
                    coordinate(end),
                    coordinate(ty)
                ),
                // Near the receiver, where the lane turns down to it.
                (tx - turn - 34.0, y),
            )
        }
    };
    let head = format!(
        "{},{} {},{} {},{}",
        coordinate(tx),
        coordinate(ty),
        coordinate(tx - 8.0),
        coordinate(ty - 4.0),
        coordinate(tx - 8.0),
        coordinate(ty + 4.0)
    );
    let mut inside = format!(
        "{}{}",
        Element::svg("path")
            .attr("d", path)
            .attr("stroke", colour)
            .attr("stroke-width", 1.6)
            .attr("stroke-opacity", 0.85),
        Element::svg("polygon")
            .attr("points", head)
            .attr("fill", colour),
    );
    if !label.is_empty() {
        inside += &Element::svg("text")
            .attr("class", "channel")
            .at("x", mx)
            .at("y", my + 4.0)
            .attr("text-anchor", "middle")
            .attr("font-size", 12)
            .attr("fill", INK)
            .attr("stroke", "#ffffff")
            .attr("stroke-width", 3)
            .attr("paint-order", "stroke")
            .text(&label)
            .to_string();
    }
    let _ = writeln!(
        out,
        "{}",
        Element::svg("g")
            .attr("class", "edge")
            .title(tooltip)
            .raw(&inside)
    );
}
