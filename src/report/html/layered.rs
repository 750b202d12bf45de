//! The hypothesis graph drawn top to bottom, hand-written in SVG: `embed` a bar at the top,
//! then a row per layer that holds heads (and one per MLP an edge names, below its layer),
//! `logits` a bar at the bottom. Each head sits in its own layer's row, in a box of its
//! class's colour; a class spanning layers keeps one column, its boxes joined by a spine.
//! Layers as rows keep the drawing's width to the circuit's breadth, not its depth, so its
//! labels keep their size on a narrow page. plotters has no graph layout, no arrows and no
//! grouped boxes, so this one is drawn by hand; `graph_edges` routes and draws the edges.

use std::collections::BTreeMap;

use petgraph::graph::NodeIndex;

use crate::dsl::{Circuit, Class, Head};
use crate::graph::HypothesisGraph;
use crate::report::html::graph_edges::{self, Routes};
use crate::report::html::markup::Element;
use crate::report::html::minimality_shading::{self, Measured};
use crate::report::html::svg::{self, INK, MUTED, palette, tint};

// The layout, in pixels.
/// Around the drawing.
pub(crate) const MARGIN: f64 = 12.0;
/// The band left of the rows holding their labels (`layer 10`, `MLP 3`).
const ROW_LABEL_WIDTH: f64 = 64.0;
const ROW_LABEL_SIZE: f64 = 12.0;
/// Between neighbouring rows, where edges run; between neighbouring columns.
pub(crate) const ROW_GAP: f64 = 50.0;
const COLUMN_GAP: f64 = 16.0;
/// `embed` and `logits` bars, and MLP pills.
const BAR_HEIGHT: f64 = 28.0;
const PILL_WIDTH: f64 = 76.0;
const TERMINAL_SIZE: f64 = 13.0;
const TERMINAL_BASELINE_DROP: f64 = 4.5;
/// A class's box in one row: its name (and, in its first row, its positions) on lines at
/// the top, then its heads there as chips, `CHIPS_PER_ROW` a line.
const INSET: f64 = 8.0;
const BOX_RADIUS: f64 = 7.0;
const NAME_SIZE: f64 = 12.0;
const NAME_BASELINE: f64 = 17.0;
const POSITIONS_BASELINE: f64 = 32.0;
const CHIPS_TOP: f64 = 24.0;
const CHIPS_TOP_FIRST: f64 = 39.0;
const BOX_BOTTOM_PADDING: f64 = 7.0;
const CHIP_WIDTH: f64 = 40.0;
const CHIP_HEIGHT: f64 = 22.0;
const CHIP_RADIUS: f64 = 4.0;
const CHIP_SIZE: f64 = 12.0;
const CHIP_BASELINE: f64 = 15.5;
const CHIP_GAP: f64 = 4.0;
const CHIPS_PER_ROW: usize = 4;
/// The longest class name a box shows whole; longer ones are cut, whole in the tooltip.
const NAME_CHARS: usize = 22;
/// The spine joining a class's boxes: its width and its distance from their left edge.
const SPINE_WIDTH: f64 = 4.0;
const SPINE_INSET: f64 = 5.0;

/// A rectangle of the drawing.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Rect {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
}

impl Rect {
    pub fn right(&self) -> f64 {
        self.x + self.width
    }

    pub fn bottom(&self) -> f64 {
        self.y + self.height
    }

    pub fn centre_x(&self) -> f64 {
        self.x + self.width / 2.0
    }

    /// Whether `(x, y)` lies within `pad` of the rectangle.
    pub fn near(&self, (x, y): (f64, f64), pad: f64) -> bool {
        x > self.x - pad && x < self.right() + pad && y > self.y - pad && y < self.bottom() + pad
    }

    pub fn overlaps(&self, other: &Rect) -> bool {
        self.x < other.right()
            && other.x < self.right()
            && self.y < other.bottom()
            && other.y < self.bottom()
    }
}

/// Where a node's edges end: incoming ones on `into`'s top edge, in row `row_in`; outgoing
/// ones on `out_of`'s bottom edge, in row `row_out` (a class's first and last box; a head's
/// chip's span of its box). `wide`: the embed and logits bars, whose edges leave or arrive
/// straight above or below the other end.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ends {
    pub into: Rect,
    pub out_of: Rect,
    pub row_in: usize,
    pub row_out: usize,
    pub wide: bool,
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

/// A text's width at `size` px, over-estimated for DejaVu Sans (the page's first font), so
/// that a box sized by it holds the text.
pub(crate) fn text_width(text: &str, size: f64, bold: bool) -> f64 {
    let per_char = if bold { 0.68 } else { 0.62 };
    text.chars().count() as f64 * size * per_char
}

/// The rows, top to bottom: embed (0), then (layer, 0) for each layer holding heads and
/// (layer, 1) for each MLP an edge names, then logits (`last`).
struct Rows {
    slots: Vec<(u32, u8)>,
    last: usize,
}

impl Rows {
    fn new(circuit: &Circuit) -> Self {
        let mut slots: Vec<(u32, u8)> = circuit
            .classes
            .iter()
            .flat_map(|c| c.heads.iter().map(|h| (h.layer, 0)))
            .chain(circuit.wired_mlps().into_iter().map(|layer| (layer, 1)))
            .collect();
        slots.sort();
        slots.dedup();
        let last = slots.len() + 1;
        Self { slots, last }
    }

    fn of(&self, slot: (u32, u8)) -> usize {
        self.slots.binary_search(&slot).map_or(0, |i| i + 1)
    }
}

/// The text of a class's box: its name, cut to `NAME_CHARS`.
fn shown_name(class: &Class) -> String {
    if class.name.chars().count() > NAME_CHARS {
        class.name.chars().take(NAME_CHARS - 1).collect::<String>() + "…"
    } else {
        class.name.clone()
    }
}

/// The width of a class's boxes: room for its name and positions, and its widest row of
/// chips.
fn class_width(class: &Class) -> f64 {
    let mut per_layer: BTreeMap<u32, usize> = BTreeMap::new();
    for head in &class.heads {
        *per_layer.entry(head.layer).or_default() += 1;
    }
    let chips = per_layer
        .values()
        .copied()
        .max()
        .unwrap_or(1)
        .min(CHIPS_PER_ROW) as f64;
    let chips = chips * CHIP_WIDTH + (chips - 1.0) * CHIP_GAP;
    let name = text_width(&shown_name(class), NAME_SIZE, true);
    let positions = text_width(&format!("at {}", class.positions), NAME_SIZE, false);
    chips.max(name).max(positions) + 2.0 * INSET
}

/// The column of each class: the first whose classes all end (in layer) before it starts,
/// so a class's boxes stack in one column and columns are shared down the depth.
fn columns(circuit: &Circuit) -> (BTreeMap<&str, usize>, Vec<f64>) {
    let span = |c: &Class| {
        let layers = c.heads.iter().map(|h| h.layer);
        (layers.clone().min().unwrap_or(0), layers.max().unwrap_or(0))
    };
    let mut order: Vec<&Class> = circuit.classes.iter().collect();
    order.sort_by_key(|c| span(c));
    let mut ends: Vec<u32> = Vec::new();
    let mut widths: Vec<f64> = Vec::new();
    let mut of = BTreeMap::new();
    for class in order {
        let (first, last) = span(class);
        let column = ends.iter().position(|end| *end < first).unwrap_or_else(|| {
            ends.push(0);
            widths.push(0.0);
            ends.len() - 1
        });
        ends[column] = last;
        widths[column] = widths[column].max(class_width(class));
        of.insert(class.name.as_str(), column);
    }
    (of, widths)
}

/// One class's box in one row: where it is, the class, the heads in it, whether it is the
/// class's first.
struct ClassBox<'c> {
    rect: Rect,
    class: &'c Class,
    heads: Vec<Head>,
    first: bool,
}

fn box_height(heads: usize, first: bool) -> f64 {
    let rows = heads.div_ceil(CHIPS_PER_ROW).max(1) as f64;
    let top = if first { CHIPS_TOP_FIRST } else { CHIPS_TOP };
    top + rows * CHIP_HEIGHT + (rows - 1.0) * CHIP_GAP + BOX_BOTTOM_PADDING
}

/// The top-left corner of the `i`-th chip in a box.
fn chip_at(rect: &Rect, first: bool, i: usize) -> (f64, f64) {
    let (row, column) = (i / CHIPS_PER_ROW, i % CHIPS_PER_ROW);
    let top = if first { CHIPS_TOP_FIRST } else { CHIPS_TOP };
    (
        rect.x + INSET + column as f64 * (CHIP_WIDTH + CHIP_GAP),
        rect.y + top + row as f64 * (CHIP_HEIGHT + CHIP_GAP),
    )
}

/// Everything placed: the drawing's size, each node's ends, each class's boxes, the MLP
/// pills, each row's label and height, and where the lanes may go.
pub(crate) struct Layout<'c> {
    pub width: f64,
    pub height: f64,
    pub ends: BTreeMap<NodeIndex, Ends>,
    boxes: Vec<ClassBox<'c>>,
    pills: Vec<(u32, Rect)>,
    row_labels: Vec<(f64, String)>,
    /// The left edge of the columns, and their right edge.
    pub columns_left: f64,
    pub columns_right: f64,
    /// The top of the key below the logits.
    key_top: f64,
}

impl<'c> Layout<'c> {
    /// The boxes and pills edges must not cross (the bars are never between two rows).
    pub fn obstacles(&self) -> Vec<Rect> {
        self.boxes
            .iter()
            .map(|b| b.rect)
            .chain(self.pills.iter().map(|(_, r)| *r))
            .collect()
    }

    /// The layout with `left_lanes` px of lanes left of the columns and `right_lanes` right
    /// of them.
    fn new(
        circuit: &'c Circuit,
        graph: &HypothesisGraph,
        (left_lanes, right_lanes): (f64, f64),
        key_height: f64,
    ) -> Self {
        let rows = Rows::new(circuit);
        let (column_of, widths) = columns(circuit);
        let columns_left = MARGIN + ROW_LABEL_WIDTH + left_lanes;
        let mut column_x = Vec::new();
        let mut x = columns_left;
        for width in &widths {
            column_x.push(x);
            x += width + COLUMN_GAP;
        }
        let columns_right = (x - COLUMN_GAP).max(columns_left + PILL_WIDTH);
        let width = columns_right + right_lanes + MARGIN;
        // The bars span the lanes too, so that a lane edge leaves or arrives straight.
        let bar = |y| Rect {
            x: MARGIN + ROW_LABEL_WIDTH,
            y,
            width: columns_right + right_lanes - MARGIN - ROW_LABEL_WIDTH,
            height: BAR_HEIGHT,
        };
        let mut boxes: Vec<ClassBox> = Vec::new();
        let mut pills = Vec::new();
        let mut row_labels = Vec::new();
        let mut y = MARGIN + BAR_HEIGHT + ROW_GAP;
        for &(layer, kind) in &rows.slots {
            let mut height = BAR_HEIGHT;
            if kind == 1 {
                let middle = (columns_left + columns_right) / 2.0;
                let pill = Rect {
                    x: middle - PILL_WIDTH / 2.0,
                    y,
                    width: PILL_WIDTH,
                    height: BAR_HEIGHT,
                };
                pills.push((layer, pill));
                row_labels.push((y + BAR_HEIGHT / 2.0, format!("MLP {layer}")));
            } else {
                for class in &circuit.classes {
                    let heads: Vec<Head> = class
                        .heads
                        .iter()
                        .filter(|h| h.layer == layer)
                        .copied()
                        .collect();
                    if heads.is_empty() {
                        continue;
                    }
                    let first = class.heads.iter().all(|h| h.layer >= layer);
                    let column = column_of[class.name.as_str()];
                    let rect = Rect {
                        x: column_x[column],
                        y,
                        width: class_width(class),
                        height: box_height(heads.len(), first),
                    };
                    height = f64::max(height, rect.height);
                    boxes.push(ClassBox {
                        rect,
                        class,
                        heads,
                        first,
                    });
                }
                // Level with its boxes' names.
                let label_y = y + NAME_BASELINE - TERMINAL_BASELINE_DROP;
                row_labels.push((label_y, format!("layer {layer}")));
            }
            y += height + ROW_GAP;
        }
        let (top, bottom) = (bar(MARGIN), bar(y));
        let mut layout = Self {
            width,
            height: y + BAR_HEIGHT + key_height + MARGIN,
            ends: BTreeMap::new(),
            boxes,
            pills,
            row_labels,
            columns_left,
            columns_right,
            key_top: y + BAR_HEIGHT,
        };
        layout.ends = layout.place_ends(graph, &rows, top, bottom);
        layout
    }

    /// Each node's ends (`Ends`).
    fn place_ends(
        &self,
        graph: &HypothesisGraph,
        rows: &Rows,
        top: Rect,
        bottom: Rect,
    ) -> BTreeMap<NodeIndex, Ends> {
        let mut ends = BTreeMap::new();
        let terminal = |rect: Rect, row: usize| Ends {
            into: rect,
            out_of: rect,
            row_in: row,
            row_out: row,
            wide: true,
        };
        ends.insert(graph.embed, terminal(top, 0));
        ends.insert(graph.logits, terminal(bottom, rows.last));
        for (layer, rect) in &self.pills {
            let row = rows.of((*layer, 1));
            let mut pill = terminal(*rect, row);
            pill.wide = false;
            ends.insert(graph.mlps[layer], pill);
        }
        for b in &self.boxes {
            let row = rows.of((b.heads[0].layer, 0));
            for (i, head) in b.heads.iter().enumerate() {
                let (x, _) = chip_at(&b.rect, b.first, i);
                let span = Rect {
                    x,
                    width: CHIP_WIDTH,
                    ..b.rect
                };
                let chip = Ends {
                    into: span,
                    out_of: span,
                    row_in: row,
                    row_out: row,
                    wide: false,
                };
                ends.insert(graph.heads[head], chip);
            }
            let index = graph.classes[&b.class.name];
            let class = ends.entry(index).or_insert(Ends {
                into: b.rect,
                out_of: b.rect,
                row_in: row,
                row_out: row,
                wide: false,
            });
            // Boxes come row by row: the first seen is the class's first, the last its last.
            class.out_of = b.rect;
            class.row_out = row;
        }
        ends
    }

    /// The boxes, pills, bars, spines and row labels, each on a line.
    fn body(
        &self,
        graph: &HypothesisGraph,
        colours: &BTreeMap<String, &'static str>,
        measured: &Measured,
    ) -> String {
        let mut body = String::new();
        for (y, label) in &self.row_labels {
            body += &row_label(*y, label);
        }
        let mut previous: BTreeMap<&str, Rect> = BTreeMap::new();
        for b in &self.boxes {
            let colour = colours[&b.class.name];
            if let Some(above) = previous.insert(&b.class.name, b.rect) {
                body += &spine(&above, &b.rect, colour);
            }
            body += &class_box(b, colour, measured);
        }
        for (layer, rect) in &self.pills {
            body += &terminal(rect, &format!("mlp.{layer}"));
        }
        body += &terminal(&self.ends[&graph.embed].into, "embed");
        body += &terminal(&self.ends[&graph.logits].into, "logits");
        body
    }
}

/// The `<svg>` of the circuit's hypothesis graph, each class in its colour of `colours`
/// (`class_colours`), each head's chip shaded by its minimality where `measured` has it.
pub fn draw(
    circuit: &Circuit,
    colours: &BTreeMap<String, &'static str>,
    measured: &Measured,
) -> String {
    let graph = HypothesisGraph::build(circuit);
    let key_height = ROW_GAP / 3.0
        + graph_edges::KEY_HEIGHT
        + if measured.is_empty() {
            0.0
        } else {
            minimality_shading::KEY_HEIGHT
        };
    // The routes decide which edges take lanes and on which side; the columns then make
    // room for them, which moves every box alike and so changes no route.
    let first = Layout::new(circuit, &graph, (0.0, 0.0), key_height);
    let routes = Routes::new(&graph, &first);
    let layout = Layout::new(circuit, &graph, routes.lane_widths(), key_height);
    let edges = routes.draw(&graph, &layout, colours);

    let key_top = layout.key_top + ROW_GAP / 3.0;
    let (mut key, mut key_width) = graph_edges::key(MARGIN, key_top);
    if !measured.is_empty() {
        let (shading, width) = minimality_shading::key(MARGIN, key_top + graph_edges::KEY_HEIGHT);
        key += &shading;
        key_width = key_width.max(width);
    }
    let width = layout.width.max(key_width + 2.0 * MARGIN);
    let title = format!("Hypothesis graph of {}", circuit.name);
    svg::root("graph", width, layout.height, &title)
        .line(svg::background())
        .raw(&layout.body(&graph, colours, measured))
        .line(
            Element::svg("g")
                .attr("class", "edges")
                .attr("fill", "none")
                .newline()
                .raw(&edges),
        )
        .raw(&key)
        .to_string()
        + "\n"
}

/// `embed`, `logits` or an MLP: a pill with its name, on a line.
fn terminal(at: &Rect, label: &str) -> String {
    let pill = Element::svg("rect")
        .at("x", at.x)
        .at("y", at.y)
        .at("width", at.width)
        .at("height", at.height)
        .at("rx", at.height / 2.0)
        .attr("fill", "#f3f4f6")
        .attr("stroke", MUTED);
    let name = Element::svg("text")
        .at("x", at.centre_x())
        .at("y", at.y + at.height / 2.0 + TERMINAL_BASELINE_DROP)
        .attr("text-anchor", "middle")
        .at("font-size", TERMINAL_SIZE)
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

/// A row's label in the band at the left, its baseline at `y`, on a line.
fn row_label(y: f64, text: &str) -> String {
    let label = Element::svg("text")
        .attr("class", "row")
        .at("x", MARGIN)
        .at("y", y + TERMINAL_BASELINE_DROP)
        .at("font-size", ROW_LABEL_SIZE)
        .attr("fill", MUTED)
        .text(text);
    format!("{label}\n")
}

/// The spine from a class's box `above` to its next box `below`, on a line.
fn spine(above: &Rect, below: &Rect, colour: &str) -> String {
    let spine = Element::svg("rect")
        .attr("class", "spine")
        .at("x", above.x + SPINE_INSET)
        .at("y", above.bottom())
        .at("width", SPINE_WIDTH)
        .at("height", below.y - above.bottom())
        .attr("fill", tint(colour, 0.4));
    format!("{spine}\n")
}

/// A class's box in one row: its name (and, in its first row, positions) and heads, the
/// whole class in the tooltip; on a line.
fn class_box(b: &ClassBox, colour: &str, measured: &Measured) -> String {
    let class = b.class;
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
    let Rect { x, y, .. } = b.rect;
    let mut group = Element::svg("g")
        .attr("class", "class-box")
        .attr("data-class", &class.name)
        .title(tooltip)
        .child(
            Element::svg("rect")
                .at("x", x)
                .at("y", y)
                .at("width", b.rect.width)
                .at("height", b.rect.height)
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
                .at("font-size", NAME_SIZE)
                .attr("font-weight", "bold")
                .attr("fill", INK)
                .text(&shown_name(class)),
        );
    if b.first {
        group = group.child(
            Element::svg("text")
                .at("x", x + INSET)
                .at("y", y + POSITIONS_BASELINE)
                .at("font-size", NAME_SIZE)
                .attr("fill", MUTED)
                .text(&format!("at {}", class.positions)),
        );
    }
    for (i, head) in b.heads.iter().enumerate() {
        let at = chip_at(&b.rect, b.first, i);
        group = group.child(head_chip(at, colour, *head, measured.get(head).copied()));
    }
    format!("{group}\n")
}

/// A head's chip, its top-left corner at `(x, y)`: ringed in its class's colour, filled by
/// its minimality (`minimality_shading`) where it was measured, white where not.
fn head_chip((x, y): (f64, f64), colour: &str, head: Head, minimality: Option<f64>) -> Element {
    let (fill, ink) = minimality.map_or(("#ffffff", INK), minimality_shading::fill);
    let tooltip = match minimality {
        Some(m) => format!("{head}: minimality {:.1} % of F(M)", 100.0 * m),
        None => format!("{head}: minimality not measured"),
    };
    let mut chip = Element::svg("g").attr("class", "head");
    if let Some(m) = minimality {
        chip = chip.attr("data-minimality", format!("{m:.4}"));
    }
    chip.title(tooltip)
        .child(
            Element::svg("rect")
                .at("x", x)
                .at("y", y)
                .at("width", CHIP_WIDTH)
                .at("height", CHIP_HEIGHT)
                .at("rx", CHIP_RADIUS)
                .attr("fill", fill)
                .attr("stroke", colour)
                .attr("stroke-width", 1.5),
        )
        .child(
            Element::svg("text")
                .at("x", x + CHIP_WIDTH / 2.0)
                .at("y", y + CHIP_BASELINE)
                .attr("text-anchor", "middle")
                .at("font-size", CHIP_SIZE)
                .attr("fill", ink)
                .text(&head.to_string()),
        )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::dsl::{Channel, Edge, Mlps, Node, Positions, TaskRef};

    fn class(name: &str, heads: &[(u32, u32)]) -> Class {
        Class {
            name: name.into(),
            description: None,
            positions: Positions::All,
            heads: heads.iter().map(|(l, h)| Head::new(*l, *h)).collect(),
        }
    }

    fn edge(from: Node, to: Node, channel: Option<Channel>) -> Edge {
        Edge { from, to, channel }
    }

    fn circuit(classes: Vec<Class>, edges: BTreeSet<Edge>) -> Circuit {
        Circuit {
            name: "drawn".into(),
            model: "gpt2-small".into(),
            task: TaskRef::Builtin("ioi".into()),
            ablation: None,
            level: None,
            classes,
            mlps: Mlps::All,
            edges,
            expectations: Vec::new(),
            minimality_sets: Vec::new(),
        }
    }

    /// circuits/ioi.circuit's classes and edges.
    fn ioi() -> Circuit {
        let c = |name: &str| Node::Class(name.into());
        let classes = vec![
            class("duplicate_token", &[(0, 1), (0, 10), (3, 0)]),
            class("previous_token", &[(2, 2), (4, 11)]),
            class("induction", &[(5, 5), (5, 8), (5, 9), (6, 9)]),
            class("s_inhibition", &[(7, 3), (7, 9), (8, 6), (8, 10)]),
            class(
                "backup_name_mover",
                &[
                    (9, 0),
                    (9, 7),
                    (10, 1),
                    (10, 2),
                    (10, 6),
                    (10, 10),
                    (11, 2),
                    (11, 9),
                ],
            ),
            class("name_mover", &[(9, 6), (9, 9), (10, 0)]),
            class("negative_name_mover", &[(10, 7), (11, 10)]),
        ];
        let mut edges = BTreeSet::new();
        for name in [
            "duplicate_token",
            "previous_token",
            "induction",
            "s_inhibition",
        ] {
            edges.insert(edge(Node::Embed, c(name), None));
        }
        for name in ["backup_name_mover", "name_mover", "negative_name_mover"] {
            edges.insert(edge(Node::Embed, c(name), Some(Channel::K)));
            edges.insert(edge(Node::Embed, c(name), Some(Channel::V)));
            edges.insert(edge(c("s_inhibition"), c(name), Some(Channel::Q)));
            edges.insert(edge(c(name), Node::Logits, None));
        }
        for name in ["duplicate_token", "induction"] {
            edges.insert(edge(c(name), c("s_inhibition"), Some(Channel::V)));
        }
        edges.insert(edge(c("previous_token"), c("induction"), Some(Channel::K)));
        circuit(classes, edges)
    }

    /// The numbers of every `d` and `points` attribute of `svg`, as (x, y) pairs.
    fn drawn_points(svg: &str) -> Vec<(f64, f64)> {
        let mut points = Vec::new();
        for attribute in [" d=\"", " points=\""] {
            for value in svg.split(attribute).skip(1) {
                let value = value.split('"').next().unwrap();
                let numbers: Vec<f64> = value
                    .split(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
                    .filter(|n| !n.is_empty())
                    .map(|n| n.parse().unwrap())
                    .collect();
                points.extend(numbers.chunks(2).map(|p| (p[0], p[1])));
            }
        }
        points
    }

    /// IOI's 26 heads over 11 layers: each head in its layer's row, no two boxes meeting,
    /// everything inside the drawing, and narrow enough to keep its labels' size on an
    /// 800 px page (whose card holds about 700 px).
    #[test]
    fn ioi_lays_out_by_layer_inside_a_narrow_drawing() {
        let circuit = ioi();
        let graph = HypothesisGraph::build(&circuit);
        let first = Layout::new(&circuit, &graph, (0.0, 0.0), 0.0);
        let routes = Routes::new(&graph, &first);
        let layout = Layout::new(&circuit, &graph, routes.lane_widths(), 40.0);
        assert!(layout.width <= 700.0, "{} px wide", layout.width);
        let obstacles = layout.obstacles();
        assert_eq!(obstacles.len(), 15, "a box per class and layer");
        for (i, a) in obstacles.iter().enumerate() {
            assert!(a.x >= 0.0 && a.y >= 0.0, "{a:?}");
            assert!(
                a.right() <= layout.width && a.bottom() <= layout.height,
                "{a:?}"
            );
            for b in &obstacles[i + 1..] {
                assert!(!a.overlaps(b), "{a:?} meets {b:?}");
            }
        }
        let mut row_of_layer: BTreeMap<u32, f64> = BTreeMap::new();
        for (head, index) in &graph.heads {
            let y = layout.ends[index].into.y;
            assert_eq!(*row_of_layer.entry(head.layer).or_insert(y), y, "{head}");
        }
        let rows: Vec<f64> = row_of_layer.values().copied().collect();
        assert!(rows.windows(2).all(|w| w[0] < w[1]), "{rows:?}");
        let embed = layout.ends[&graph.embed].into;
        let logits = layout.ends[&graph.logits].into;
        assert!(embed.bottom() < rows[0] && logits.y > rows[rows.len() - 1]);

        let svg = draw(&circuit, &class_colours(&[&circuit]), &Measured::new());
        let (width, height) = (layout.width, layout.height);
        for (x, y) in drawn_points(&svg) {
            assert!(
                (0.0..=width).contains(&x) && (0.0..=height).contains(&y),
                "{x} {y}"
            );
        }
        // One edge per sender and receiver; the long ones in lanes.
        assert_eq!(svg.matches("class=\"edge\"").count(), 16);
        assert!(svg.contains("data-route=\"lane\""));
        assert!(svg.contains("data-route=\"curve\""));
        assert!(!svg.contains("class=\"key minimality\""));
    }

    /// A measured head's chip is filled by its minimality's step and carries its value; an
    /// unmeasured one stays white in its class's ring; the key appears with the measures.
    #[test]
    fn a_heads_fill_follows_its_minimality() {
        let circuit = ioi();
        let colours = class_colours(&[&circuit]);
        let measured = Measured::from([(Head::new(9, 9), 0.31), (Head::new(10, 7), 0.002)]);
        let svg = draw(&circuit, &colours, &measured);
        let chip = |head: &str| -> String {
            svg.split("<g class=\"head\"")
                .find(|chip| chip.contains(&format!(">{head}</text>")))
                .unwrap_or_else(|| panic!("no chip of {head}"))
                .to_string()
        };
        let strong = chip("9.9");
        assert!(strong.contains("data-minimality=\"0.3100\""), "{strong}");
        assert!(strong.contains("fill=\"#8c2d04\""), "{strong}");
        assert!(strong.contains("fill=\"#ffffff\">9.9<"), "{strong}");
        assert!(strong.contains("minimality 31.0 % of F(M)"), "{strong}");
        assert!(chip("10.7").contains("fill=\"#ffffd4\""));
        let unmeasured = chip("5.5");
        assert!(!unmeasured.contains("data-minimality"), "{unmeasured}");
        let ring = format!("fill=\"#ffffff\" stroke=\"{}\"", colours["induction"]);
        assert!(unmeasured.contains(&ring), "{unmeasured}");
        assert!(svg.contains("class=\"key minimality\""));
    }

    /// An MLP an edge names is a pill in a row of its own, below its layer's heads, with its
    /// edges.
    #[test]
    fn wired_mlps_get_rows_of_their_own() {
        let circuit = circuit(
            vec![class("a", &[(1, 0)])],
            BTreeSet::from([
                edge(Node::Mlp(0), Node::Class("a".into()), None),
                edge(Node::Class("a".into()), Node::Mlp(1), None),
                edge(Node::Mlp(1), Node::Logits, None),
            ]),
        );
        assert_eq!(Rows::new(&circuit).slots, [(0, 1), (1, 0), (1, 1)]);
        let svg = draw(&circuit, &class_colours(&[&circuit]), &Measured::new());
        assert_eq!(svg.matches("class=\"terminal mlp\"").count(), 2);
        for label in ["MLP 0", "layer 1", "MLP 1", ">mlp.0<", ">mlp.1<"] {
            assert!(svg.contains(label), "{label}: {svg}");
        }
        for name in ["mlp.0 → a", "a → mlp.1", "mlp.1 → logits"] {
            assert!(svg.contains(name), "{name}: {svg}");
        }
    }

    /// A class's boxes share its column; another class whose layers come after it takes
    /// the same column, one whose layers overlap it another.
    #[test]
    fn classes_share_columns_down_the_depth() {
        let circuit = circuit(
            vec![
                class("early", &[(0, 0), (2, 0)]),
                class("overlapping", &[(1, 0)]),
                class("late", &[(3, 0), (3, 1)]),
            ],
            BTreeSet::new(),
        );
        let (of, widths) = columns(&circuit);
        assert_eq!(of["early"], 0);
        assert_eq!(of["overlapping"], 1);
        assert_eq!(of["late"], 0);
        assert_eq!(widths.len(), 2);
    }
}
