//! The pages of the HTML report (`check --html`, `diff --eval --html`, `sensitivity
//! --html`): one self-contained file each, with its CSS inline, its charts as inline SVG, no
//! script, and nothing to fetch (its Content-Security-Policy forbids any fetch, so a browser
//! says so if one ever creeps in). The pages are made of `components`, shared between them.

use crate::diff::diff;
use crate::dsl::Circuit;
use crate::eval::curve::{CurveReport, Series};
use crate::eval::schema::{Options, Report};
use crate::eval::sensitivity::SensitivityReport;
use crate::report::html::components::{
    Colours, breakdowns, by_group, completeness, distribution, expectations, faithfulness, graph,
    grid, key_figures, metric_name, minimality, sensitivity_settings, settings,
};
use crate::report::html::layered::class_colours;
use crate::report::html::markup::Element;
use crate::report::html::minimality_shading::{Measured, measured};
use crate::report::html::{charts, curve};
use crate::report::text::check::headline;
use crate::report::text::curve as curve_text;
use crate::report::text::sensitivity as sensitivity_text;

const STYLE: &str = include_str!("page.css");

/// No fetch of any kind, no script: styles inline only.
const POLICY: &str =
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'";

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// What the page says beside the report: how the check ran, and on which model files.
pub struct Run<'a> {
    pub options: &'a Options,
    /// `eval::cache::short_identity` of the model files.
    pub model_files: &'a str,
    /// What the run warned about on standard error (`report::text::warnings`), shown above
    /// the verdict, which is not green while one stands.
    pub warnings: &'a [String],
}

/// One side of a comparison.
pub struct Side<'a> {
    pub label: &'a str,
    pub report: &'a Report,
    pub circuit: &'a Circuit,
}

fn document(title: &str, body: &str) -> String {
    let meta = |name: &'static str, content: &str| {
        Element::void("meta")
            .attr("name", name)
            .attr("content", content)
    };
    let head = Element::html("head")
        .newline()
        .line(Element::void("meta").attr("charset", "utf-8"))
        .line(
            Element::void("meta")
                .attr("http-equiv", "Content-Security-Policy")
                .constant("content", POLICY),
        )
        .line(meta("viewport", "width=device-width, initial-scale=1"))
        .line(meta("color-scheme", "light dark"))
        .line(meta("generator", &format!("circuitcheck {VERSION}")))
        .line(Element::html("title").text(title))
        .line(Element::html("style").newline().raw(STYLE));
    let body = Element::html("body")
        .newline()
        .line(Element::html("main").newline().raw(body));
    let page = Element::html("html")
        .attr("lang", "en")
        .newline()
        .line(head)
        .line(body);
    format!("<!DOCTYPE html>\n{page}\n")
}

fn section(id: &str, heading: &str, content: &str) -> String {
    let section = Element::html("section")
        .attr("id", id)
        .newline()
        .line(Element::html("h2").text(heading))
        .raw(content);
    format!("{section}\n")
}

fn footer() -> String {
    let footer = Element::html("footer").text(&format!(
        "Made by circuitcheck {VERSION}. This page is self-contained: it loads nothing and runs no script. Hover a mark for its figures."
    ));
    format!("{footer}\n")
}

/// The page's header: its heading (markup), the headline (markup), the run's warnings and
/// the settings.
fn header(heading: Element, headline: Element, warnings: &[String], settings: &str) -> String {
    let header = Element::html("header")
        .attr("class", "page")
        .newline()
        .line(heading)
        .line(headline.attr("class", "headline"))
        .raw(&warning_list(warnings))
        .raw(settings);
    format!("{header}\n")
}

/// Every warning the terminal gave, word for word, before anything the page claims.
fn warning_list(warnings: &[String]) -> String {
    if warnings.is_empty() {
        return String::new();
    }
    let mut list = Element::html("div")
        .attr("class", "warnings")
        .attr("role", "alert")
        .newline();
    for warning in warnings {
        list = list.line(
            Element::html("p")
                .attr("class", "warning")
                .child(Element::html("strong").text("Warning:"))
                .text(" ")
                .text(warning),
        );
    }
    format!("{list}\n")
}

fn code(text: &str) -> Element {
    Element::html("code").text(text)
}

/// The page of `check --html`.
pub fn check_page(report: &Report, circuit: &Circuit, run: &Run) -> String {
    let mut body = header(
        Element::html("h1")
            .text("circuitcheck: ")
            .child(code(&report.circuit)),
        Element::html("p").text(&headline(report)),
        run.warnings,
        &settings(report, run, true),
    );
    let warned = !run.warnings.is_empty();
    body += &section(
        "expectations",
        "Expectations",
        &expectations(report, warned),
    );
    let colours = class_colours(&[circuit]);
    body += &section(
        "graph",
        "Hypothesis",
        &graph(circuit, &colours, &measured(report)),
    );
    let metric = metric_name(report, circuit);
    body += &section(
        "faithfulness",
        "Faithfulness",
        &faithfulness(report, &[], metric),
    );
    body += &section(
        "groups",
        "Faithfulness per family and template",
        &by_group(report, &[]),
    );
    body += &section(
        "distribution",
        "Faithfulness per prompt",
        &distribution(report),
    );
    body += &section(
        "completeness",
        "Completeness",
        &completeness(report, &[], metric),
    );
    body += &section(
        "minimality",
        "Minimality",
        &minimality(
            report,
            circuit,
            &colours,
            run.options.minimality_threshold,
            &[],
        ),
    );
    body += &footer();
    document(&format!("circuitcheck: {}", report.circuit), &body)
}

/// Two sides' components next to each other.
fn sides(old: &Side, new: &Side, component: impl Fn(&Side) -> String) -> String {
    let mut both = Element::html("div").attr("class", "sides").newline();
    for (which, side) in [("old", old), ("new", new)] {
        both = both.line(
            Element::html("div")
                .attr("class", format!("side {which}"))
                .newline()
                .line(
                    Element::html("h3")
                        .text(&format!("{which}: "))
                        .child(code(side.label)),
                )
                .raw(&component(side)),
        );
    }
    format!("{both}\n")
}

/// The colour of each class of two circuits: the old circuit's classes in their order, and
/// each new class the colour of the old class it is (by name, or renamed: `diff`'s
/// matching), or a colour of its own; so a class, and the heads in it, look the same on
/// both sides.
fn comparison_colours(old: &Circuit, new: &Circuit) -> Colours {
    let mut colours = class_colours(&[old, new]);
    for rename in diff(old, new).classes.renamed {
        if let Some(colour) = colours.get(&rename.old).copied() {
            colours.insert(rename.new, colour);
        }
    }
    colours
}

/// The page of `diff --eval --html`: the structural diff (as text), both reports' key
/// figures side by side, then each component of the check page for both circuits: a class
/// has one colour on both sides (by name), and each pair of charts one set of axes.
pub fn comparison_page(old: &Side, new: &Side, run: &Run, diff: &str) -> String {
    let heading = Element::html("h1")
        .text("circuitcheck diff: ")
        .child(code(old.label))
        .text(" → ")
        .child(code(new.label));
    let headline = Element::html("p")
        .text(&format!("old: {}", headline(old.report)))
        .child(Element::void("br"))
        .text(&format!("new: {}", headline(new.report)));
    let changes = Element::html("pre").attr("class", "diff").text(diff);
    let mut body = header(
        heading,
        headline,
        run.warnings,
        &settings(new.report, run, false),
    );
    let warned = !run.warnings.is_empty();
    body += &section("changes", "Changes", &format!("{changes}\n"));
    body += &section(
        "comparison",
        "Key figures",
        &key_figures(old.report, new.report, warned),
    );
    body += &section(
        "expectations",
        "Expectations",
        &sides(old, new, |s| expectations(s.report, warned)),
    );
    let colours = comparison_colours(old.circuit, new.circuit);
    let both = [old.report, new.report];
    body += &section(
        "graph",
        "Hypotheses",
        &sides(old, new, |s| {
            graph(s.circuit, &colours, &measured(s.report))
        }),
    );
    body += &section(
        "faithfulness",
        "Faithfulness",
        &sides(old, new, |s| {
            faithfulness(s.report, &both, metric_name(s.report, s.circuit))
        }),
    );
    body += &section(
        "groups",
        "Faithfulness per family and template",
        &sides(old, new, |s| by_group(s.report, &both)),
    );
    body += &section(
        "completeness",
        "Completeness",
        &sides(old, new, |s| {
            completeness(s.report, &both, metric_name(s.report, s.circuit))
        }),
    );
    body += &section(
        "minimality",
        "Minimality",
        &sides(old, new, |s| {
            minimality(
                s.report,
                s.circuit,
                &colours,
                run.options.minimality_threshold,
                &both,
            )
        }),
    );
    body += &footer();
    document(
        &format!(
            "circuitcheck diff: {} → {}",
            old.report.circuit, new.report.circuit
        ),
        &body,
    )
}

/// The page of `sensitivity --html`, with the run's `warnings` (`report::text::warnings`).
pub fn sensitivity_page(
    report: &SensitivityReport,
    circuit: &Circuit,
    identity: &str,
    warnings: &[String],
) -> String {
    let mut body = header(
        Element::html("h1")
            .text("circuitcheck sensitivity: ")
            .child(code(&report.circuit)),
        Element::html("p").text(&sensitivity_text::headline(report)),
        warnings,
        &sensitivity_settings(report, identity),
    );
    body += &section(
        "graph",
        "Hypothesis",
        &graph(circuit, &class_colours(&[circuit]), &Measured::new()),
    );
    body += &section("grid", "Faithfulness, measured every way", &grid(report));
    body += &section(
        "groups",
        "Faithfulness per family and template",
        &breakdowns(report),
    );
    body += &footer();
    document(
        &format!("circuitcheck sensitivity: {}", report.circuit),
        &body,
    )
}

/// The page of `curve --html`: the settings, the curve, and each ranking's table.
pub fn curve_page(report: &CurveReport, identity: &str, warnings: &[String]) -> String {
    let settings = Element::html("p").attr("class", "settings").text(&format!(
        "Model files {identity}. {} ablation; {:.0} % percentile bootstrap intervals over \
         prompts, the same draws for every point and both areas. At each fraction the top N edges are \
         pruned as EAP-IG prunes them (edges on no path from the input to the logits are \
         dropped) and scored as a circuit at level edge; areas by trapezoids over the \
         fractions as x.",
        report.ablation.name(),
        100.0 * report.confidence
    ));
    let mut body = header(
        Element::html("h1")
            .text("circuitcheck curve: ")
            .child(code(&report.graph)),
        Element::html("p").text(&curve_text::headline(report)),
        warnings,
        &format!("{settings}\n"),
    );
    body += &section("curve", "Faithfulness curve", &curve::curve(report));
    for (name, series) in [("CPR", &report.cpr), ("CMD", &report.cmd)] {
        body += &section(
            &name.to_lowercase(),
            &format!(
                "Edges ranked {}: {name} {}",
                series.ranking.describe(),
                charts::said(&series.area, charts::number)
            ),
            &curve_table(series),
        );
    }
    body += &footer();
    document(&format!("circuitcheck curve: {}", report.graph), &body)
}

fn curve_table(series: &Series) -> String {
    let cell = |tag: &'static str, text: &str| Element::html(tag).text(text);
    let mut head = Element::html("tr");
    for title in ["fraction", "edges", "after pruning", "F(C)", "f"] {
        head = head.child(cell("th", title));
    }
    let mut table = Element::html("table").newline().line(head);
    for p in &series.points {
        table = table.line(
            Element::html("tr")
                .child(cell("td", &format!("{} %", 100.0 * p.fraction)))
                .child(cell("td", &p.edges.to_string()))
                .child(cell("td", &p.pruned_edges.to_string()))
                .child(cell("td", &charts::said(&p.circuit_score, charts::number)))
                .child(cell("td", &charts::said(&p.normalized, charts::number))),
        );
    }
    format!("{table}\n")
}
