//! The HTML report in a real browser: headless Chromium (Debian's `chromium`, which .ci/run
//! installs) opens the toy model's page; the test reads the DOM after load, every console
//! message, and a screenshot. Each check is also shown to fail on a page that deserves it: a
//! script error, a fetch the page's policy blocks, a blank page. Where /usr/bin/chromium is
//! absent the tests pass with a note, so the suite runs on machines without it.
//!
//! The pages as a reader sees them (`inspect`), on the toy model's pages and on a
//! GPT-2-shaped random model's, whose F(M) interval includes 0: every warning of the terminal
//! on the page; every SVG well-formed XML with no attribute given twice; measured in the
//! browser by `html_probe.js` (added to a copy of the page, whose policy then lets it run),
//! every mark inside its drawing and off its legend, every table inside its card at 1200 px,
//! nothing cut off or too small to read at 800 px, and in dark mode a dark page with
//! readable charts.

use crate::common;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::circuitcheck;

const CHROMIUM: &str = "/usr/bin/chromium";

fn have_chromium() -> bool {
    let found = Path::new(CHROMIUM).exists();
    if !found {
        eprintln!(
            "note: {CHROMIUM} is absent; skipping the browser test (apt-get install chromium)"
        );
    }
    found
}

/// What the browser gave back: its standard output and the console messages it logged.
struct Loaded {
    stdout: String,
    console: Vec<String>,
}

/// Opens `page` in headless Chromium with `extra` arguments (`--dump-dom`, `--screenshot`).
fn open(page: &Path, extra: &[String]) -> Loaded {
    let profile = tempfile::tempdir().unwrap();
    let output = Command::new("timeout")
        .arg("120")
        .arg(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
            // Console messages reach stderr as `…:INFO:CONSOLE:N] "message", source: …`.
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    assert!(output.status.success(), "chromium failed: {output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    Loaded {
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        console: stderr
            .lines()
            .filter(|l| l.contains(":CONSOLE"))
            .map(String::from)
            .collect(),
    }
}

/// The toy model's report, written by `check --html` into `dir`.
fn report(dir: &Path) -> PathBuf {
    let page = dir.join("report.html");
    let run = circuitcheck(&[
        "check",
        "circuits/toy-induction.circuit",
        "--quiet",
        "--cache-dir",
        dir.to_str().unwrap(),
        "--html",
        page.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    page
}

#[test]
fn the_report_loads_cleanly_with_every_chart() {
    if !have_chromium() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let page = report(dir.path());
    let loaded = open(&page, &["--dump-dom".into()]);
    assert!(loaded.console.is_empty(), "console: {:#?}", loaded.console);
    let dom = &loaded.stdout;
    for element in [
        "<html lang=\"en\">",
        "<title>circuitcheck: toy_induction</title>",
        "<svg class=\"graph\"",
        "<svg class=\"chart scores\"",
        "<svg class=\"chart templates\"",
        "<svg class=\"chart distribution\"",
        "<svg class=\"chart completeness\"",
        "<svg class=\"chart incompleteness\"",
        "<svg class=\"chart knockouts\"",
        "<svg class=\"chart minimality\"",
        "class=\"threshold\"",
        "class=\"diagonal\"",
        "All 3 expectations met.",
    ] {
        assert!(dom.contains(element), "the loaded page lacks {element:?}");
    }
    // A browser keeps the first of a repeated attribute: the worst K's ring reaches it.
    let worst = dom
        .split("<circle class=\"point worst\"")
        .nth(1)
        .and_then(|c| c.split('>').next())
        .expect("the worst K's point");
    assert!(worst.contains("stroke-width=\"3\""), "{worst}");
    // The browser parsed every mark the file holds: nothing was dropped as malformed.
    let source = std::fs::read_to_string(&page).unwrap();
    for mark in [
        "<circle class=\"point",
        "class=\"bar",
        "<g class=\"edge\"",
        "class=\"bin\"",
    ] {
        assert_eq!(
            dom.matches(mark).count(),
            source.matches(mark).count(),
            "{mark}"
        );
        assert!(source.contains(mark), "{mark}");
    }
}

#[test]
fn the_sensitivity_page_loads_cleanly_with_its_heat_maps() {
    if !have_chromium() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("sensitivity.html");
    let run = circuitcheck(&[
        "sensitivity",
        "circuits/toy-induction.circuit",
        "--quiet",
        "--no-cache",
        "--html",
        page.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    let loaded = open(&page, &["--dump-dom".into()]);
    assert!(loaded.console.is_empty(), "console: {:#?}", loaded.console);
    let dom = &loaded.stdout;
    for element in [
        "<title>circuitcheck sensitivity: toy_induction</title>",
        "<svg class=\"graph\"",
        "<svg class=\"chart families\"",
        "<svg class=\"chart templates\"",
    ] {
        assert!(dom.contains(element), "the loaded page lacks {element:?}");
    }
    let source = std::fs::read_to_string(&page).unwrap();
    for mark in [
        "<svg class=\"heatmap\"",
        "<g class=\"cell\">",
        "class=\"bar",
    ] {
        assert_eq!(
            dom.matches(mark).count(),
            source.matches(mark).count(),
            "{mark}"
        );
    }
    assert_eq!(dom.matches("<svg class=\"heatmap\"").count(), 2);
}

#[test]
fn a_broken_page_shows_in_the_console() {
    if !have_chromium() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // A script error.
    let broken = dir.path().join("broken.html");
    std::fs::write(
        &broken,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>broken</title></head><body><p>text</p><script>notAFunction();</script></body></html>",
    )
    .unwrap();
    let loaded = open(&broken, &["--dump-dom".into()]);
    assert!(
        loaded
            .console
            .iter()
            .any(|l| l.contains("Uncaught ReferenceError: notAFunction is not defined")),
        "{:#?}",
        loaded.console
    );
    // The report with a file reference slipped in: its policy blocks the fetch, loudly.
    let page = report(dir.path());
    let html = std::fs::read_to_string(&page).unwrap().replace(
        "</main>",
        "<img alt=\"\" src=\"file:///nonexistent.png\"></main>",
    );
    let tampered = dir.path().join("tampered.html");
    std::fs::write(&tampered, html).unwrap();
    let loaded = open(&tampered, &["--dump-dom".into()]);
    assert!(
        loaded
            .console
            .iter()
            .any(|l| l.contains("violates the following Content Security Policy")),
        "{:#?}",
        loaded.console
    );
}

/// The pixels of an RGB or RGBA PNG: (width, height, distinct colours, fraction not white).
fn pixels(png_file: &Path) -> (u32, u32, usize, f64) {
    let file = std::io::BufReader::new(std::fs::File::open(png_file).unwrap());
    let mut reader = png::Decoder::new(file).read_info().unwrap();
    let mut buffer = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buffer).unwrap();
    let channels = info.color_type.samples();
    assert!(
        channels >= 3 && info.bit_depth == png::BitDepth::Eight,
        "{info:?}"
    );
    let mut colours = HashSet::new();
    let mut coloured = 0usize;
    let data = &buffer[..info.buffer_size()];
    for row in data.chunks(info.line_size) {
        for pixel in row[..info.width as usize * channels].chunks(channels) {
            let rgb = [pixel[0], pixel[1], pixel[2]];
            colours.insert(rgb);
            if rgb.iter().any(|c| *c < 240) {
                coloured += 1;
            }
        }
    }
    let total = f64::from(info.width) * f64::from(info.height);
    (
        info.width,
        info.height,
        colours.len(),
        coloured as f64 / total,
    )
}

#[test]
fn the_screenshot_shows_the_report() {
    if !have_chromium() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let page = report(dir.path());
    let shot = dir.path().join("report.png");
    let size = "--window-size=1200,2400".to_string();
    open(
        &page,
        &[format!("--screenshot={}", shot.display()), size.clone()],
    );
    let (width, height, colours, coloured) = pixels(&shot);
    assert_eq!((width, height), (1200, 2400));
    assert!(colours > 200, "{colours} colours");
    assert!(
        coloured > 0.05,
        "{:.1} % of the pixels are not white",
        100.0 * coloured
    );

    // The same check on an empty page fails, as it should.
    let blank = dir.path().join("blank.html");
    std::fs::write(
        &blank,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>blank</title></head><body></body></html>",
    )
    .unwrap();
    let blank_shot = dir.path().join("blank.png");
    open(
        &blank,
        &[format!("--screenshot={}", blank_shot.display()), size],
    );
    let (_, _, colours, coloured) = pixels(&blank_shot);
    assert!(
        colours <= 2 && coloured < 0.001,
        "{colours} colours, {coloured}"
    );
}

/// What `html_probe.js` measured on a page.
#[derive(serde::Deserialize, Debug)]
struct Probe {
    width: u32,
    dark: bool,
    /// The page's background, RGB.
    background: [f64; 3],
    /// Marks (SVG shapes and text) reaching outside their `<svg>`'s box.
    outside: Vec<String>,
    /// Marks of a chart lying on its legend.
    overlapping: Vec<String>,
    /// Tables wider than their card (`<section>`).
    wide_tables: Vec<String>,
    /// Boxes that hide or scroll what they hold, and elements past the window's right edge.
    clipped: Vec<String>,
    /// SVG text drawn below 9.5 px.
    small_text: Vec<String>,
    /// Text whose colour is too close to what is behind it (contrast under 3).
    unreadable: Vec<String>,
    /// Drawings with a light background, in dark mode.
    light_drawings: Vec<String>,
}

const PROBE: &str = include_str!("html_probe.js");

/// `page` laid out in a `width` px window (in dark mode when `dark`), measured by the probe.
fn probe(page: &Path, width: u32, dark: bool) -> Probe {
    let html = std::fs::read_to_string(page).unwrap();
    let probed = html
        .replacen(
            "style-src 'unsafe-inline';",
            "style-src 'unsafe-inline'; script-src 'unsafe-inline';",
            1,
        )
        .replacen("</body>", &format!("<script>{PROBE}</script></body>"), 1);
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("probed.html");
    std::fs::write(&copy, probed).unwrap();
    // A window as tall as the page, so that every mark is in view where the probe asks
    // what lies under a text.
    let mut extra = vec![
        "--dump-dom".to_string(),
        format!("--window-size={width},12000"),
    ];
    if dark {
        extra.push("--force-dark-mode".into());
    }
    let loaded = open(&copy, &extra);
    let json = loaded
        .stdout
        .split("<pre id=\"probe\">{")
        .nth(1)
        .and_then(|rest| rest.split("</pre>").next())
        .unwrap_or_else(|| panic!("the probe ran: {:#?}", loaded.console));
    let json = format!("{{{json}")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&");
    let probe: Probe = serde_json::from_str(&json).unwrap();
    assert_eq!((probe.width, probe.dark), (width, dark), "{probe:?}");
    probe
}

/// Why `svg` (one `<svg>…</svg>` of a page's source) is not well-formed XML with each
/// attribute once, if it is not: its tags nest, its attributes are quoted and not repeated,
/// its text and values hold no `<` and only entities after `&`.
fn xml_problem(svg: &str) -> Option<String> {
    let entity = |text: &str| -> bool {
        text.split('&').skip(1).all(|rest| {
            let name = rest.split(';').next().unwrap_or("");
            rest.contains(';')
                && (["amp", "lt", "gt", "quot", "apos"].contains(&name)
                    || name.strip_prefix('#').is_some_and(|n| {
                        n.parse::<u32>().is_ok()
                            || n.strip_prefix('x')
                                .is_some_and(|h| u32::from_str_radix(h, 16).is_ok())
                    }))
        })
    };
    let mut open: Vec<&str> = Vec::new();
    let mut rest = svg;
    while let Some(at) = rest.find('<') {
        if !entity(&rest[..at]) || rest[..at].contains('>') {
            return Some(format!("text {:?}", &rest[..at]));
        }
        rest = &rest[at + 1..];
        let end = rest.find('>')?;
        let tag = &rest[..end];
        rest = &rest[end + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            if open.pop() != Some(name.trim()) {
                return Some(format!("</{name}> closes nothing open"));
            }
            continue;
        }
        let closed = tag.ends_with('/');
        let tag = tag.trim_end_matches('/');
        let (name, mut attributes) = tag.split_once(char::is_whitespace).unwrap_or((tag, ""));
        let mut names = HashSet::new();
        loop {
            attributes = attributes.trim_start();
            if attributes.is_empty() {
                break;
            }
            let Some((attribute, value)) = attributes.split_once('=') else {
                return Some(format!("<{tag}>: an attribute without a value"));
            };
            let attribute = attribute.trim();
            if !names.insert(attribute) {
                return Some(format!("<{tag}>: {attribute} twice"));
            }
            let value = value.trim_start();
            let Some(quote) = value.chars().next().filter(|q| *q == '"' || *q == '\'') else {
                return Some(format!("<{tag}>: {attribute} unquoted"));
            };
            let Some(close) = value[1..].find(quote) else {
                return Some(format!("<{tag}>: {attribute} not closed"));
            };
            if !entity(&value[1..1 + close]) {
                return Some(format!("<{tag}>: {attribute} holds a bare &"));
            }
            attributes = &value[close + 2..];
        }
        if !closed {
            open.push(name);
        }
    }
    if !open.is_empty() || !rest.trim().is_empty() {
        return Some(format!("unclosed: {open:?}"));
    }
    None
}

/// Every problem a reader would see on `page`, by check: `warnings` (the terminal's, as
/// `warning: TEXT` lines) missing from it, SVG that is not well-formed or repeats an
/// attribute, and what the probe measures at 1200 px, at 800 px and in dark mode.
fn inspect(page: &Path, stderr: &str) -> BTreeMap<&'static str, Vec<String>> {
    let mut found: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    let mut add = |check: &'static str, problems: Vec<String>| {
        found.entry(check).or_default().extend(problems);
    };
    let html = std::fs::read_to_string(page).unwrap();
    let warnings = stderr.lines().filter_map(|l| l.strip_prefix("warning: "));
    add(
        "warnings",
        warnings
            .filter(|w| !html.contains(&circuitcheck::report::html::escape(w)))
            .map(String::from)
            .collect(),
    );
    let svgs: Vec<&str> = html
        .match_indices("<svg")
        .map(|(at, _)| &html[at..at + html[at..].find("</svg>").map_or(0, |e| e + 6)])
        .collect();
    assert!(!svgs.is_empty());
    add("xml", svgs.iter().filter_map(|s| xml_problem(s)).collect());
    let wide = probe(page, 1200, false);
    let narrow = probe(page, 800, false);
    for (at, p) in [("1200 px", &wide), ("800 px", &narrow)] {
        let tagged = |list: &[String]| list.iter().map(|l| format!("{at}: {l}")).collect();
        add("outside", tagged(&p.outside));
        add("overlapping", tagged(&p.overlapping));
        add("unreadable", tagged(&p.unreadable));
    }
    add("wide tables", wide.wide_tables);
    add("clipped", wide.clipped);
    add("clipped", narrow.clipped);
    // Every drawing's text keeps the least size, the hypothesis graph's too: its layers
    // are rows, so its width is the circuit's breadth, not its depth.
    // At 1200 px the graph is held to it too (a comparison's charts side by side shrink
    // there, which is another matter).
    add("small text", narrow.small_text);
    add(
        "small text",
        wide.small_text
            .into_iter()
            .filter(|t| t.starts_with("svg.graph "))
            .collect(),
    );
    let dark = probe(page, 1200, true);
    let luminance = dark.background.iter().sum::<f64>() / 3.0;
    add(
        "dark",
        (luminance > 80.0)
            .then(|| format!("a light page in dark mode: {:?}", dark.background))
            .into_iter()
            .chain(dark.light_drawings)
            .chain(dark.unreadable.iter().map(|u| format!("dark: {u}")))
            .collect(),
    );
    found.retain(|_, problems| !problems.is_empty());
    found
}

/// A tiny GPT-2-shaped random model (12 layers of 12 heads, as GPT-2 small, but d 48) in
/// `dir`, and `check circuits/ioi.circuit` on it for the first seed whose F(M) interval
/// includes 0: the page, and the run's standard error.
fn random_gpt2_page(dir: &Path) -> (PathBuf, String) {
    let page = dir.join("ioi.html");
    for seed in 0..8 {
        let model = dir.join(format!("model-{seed}"));
        circuitcheck::testing::TinyGpt2 {
            layers: 12,
            heads: 12,
            d_model: 48,
            context: 64,
            words: common::ioi_words(),
            seed,
            prefixed: false,
        }
        .write(&model)
        .unwrap();
        let run = circuitcheck(&[
            "check",
            "circuits/ioi.circuit",
            "--model",
            model.to_str().unwrap(),
            "--n",
            "20",
            "--random-sets",
            "2",
            "--greedy-budget",
            "1",
            "--minimality-budget",
            "1",
            "--bootstrap",
            "100",
            "--no-cache",
            "--html",
            page.to_str().unwrap(),
        ]);
        assert!(run.code <= 1, "{}", run.transcript());
        if run.stderr.contains("includes 0") {
            return (page, run.stderr);
        }
    }
    panic!("no seed's F(M) interval includes 0");
}

#[test]
fn the_toy_pages_read_well_at_every_width_and_in_dark_mode() {
    // The check page, the diff page and the sensitivity page.
    if !have_chromium() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let page = report(dir.path());
    assert_eq!(inspect(&page, ""), BTreeMap::new(), "the check page");
    let diff = dir.path().join("diff.html");
    let run = circuitcheck(&[
        "diff",
        "circuits/toy-induction.circuit",
        "circuits/toy-induction-wrong.circuit",
        "--eval",
        "--cache-dir",
        dir.path().to_str().unwrap(),
        "--html",
        diff.to_str().unwrap(),
    ]);
    assert!(run.code <= 1, "{}", run.transcript());
    assert_eq!(
        inspect(&diff, &run.stderr),
        BTreeMap::new(),
        "the diff page"
    );
    let sensitivity = dir.path().join("sensitivity.html");
    let run = circuitcheck(&[
        "sensitivity",
        "circuits/toy-induction.circuit",
        "--cache-dir",
        dir.path().to_str().unwrap(),
        "--html",
        sensitivity.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert_eq!(
        inspect(&sensitivity, &run.stderr),
        BTreeMap::new(),
        "the sensitivity page"
    );
}

#[test]
fn a_random_gpt2_page_reads_well_at_every_width_and_in_dark_mode() {
    if !have_chromium() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (page, stderr) = random_gpt2_page(dir.path());
    assert!(stderr.contains("warning: "), "{stderr}");
    assert_eq!(inspect(&page, &stderr), BTreeMap::new());
}

/// Each check of `inspect` finds what a page made to break it breaks.
#[test]
fn a_page_made_to_break_each_check_fails_it() {
    if !have_chromium() {
        return;
    }
    assert_eq!(xml_problem("<svg><rect x=\"1\"/></svg>"), None);
    for broken in [
        "<svg><rect fill=\"a\" fill=\"b\"/></svg>",
        "<svg><g></svg>",
        "<svg><rect x=1/></svg>",
        "<svg><text>a & b</text></svg>",
    ] {
        assert!(xml_problem(broken).is_some(), "{broken}");
    }
    let dir = tempfile::tempdir().unwrap();
    let page = report(dir.path());
    let html = std::fs::read_to_string(&page).unwrap();
    // Every way at once: a drawing with a repeated attribute, a mark off its canvas, a mark
    // on its legend, white behind and black text in any mode, small text; a table wider than
    // its card; a line of text wider than any window; no dark theme.
    let drawing = "<svg class=\"chart broken\" viewBox=\"0 0 400 200\" width=\"400\" height=\"200\"><rect width=\"100%\" height=\"100%\" fill=\"#ffffff\" style=\"fill:#ffffff\"/><g class=\"marks\"><g class=\"legend\"><rect x=\"10\" y=\"10\" width=\"100\" height=\"20\" fill=\"#cccccc\"/></g><circle cx=\"50\" cy=\"20\" r=\"5\" fill=\"red\" fill=\"blue\"/><rect x=\"380\" y=\"50\" width=\"60\" height=\"10\"/><text x=\"200\" y=\"100\" font-size=\"6\" style=\"fill:#000000\">tiny</text></g></svg>";
    let cells = "<td>wide cell</td>".repeat(200);
    let broken = html
        .replace("@media (prefers-color-scheme: dark)", "@media (max-width: 1px)")
        .replace(
            "</main>",
            &format!(
                "<section id=\"broken\"><h2>Broken</h2>{drawing}<table><tr>{cells}</tr></table><p style=\"white-space:nowrap\">{}</p></section></main>",
                "unbroken text ".repeat(200)
            ),
        );
    let broken_page = dir.path().join("broken.html");
    std::fs::write(&broken_page, broken).unwrap();
    let found = inspect(
        &broken_page,
        "warning: a warning the page lacks\nwarning: one more\n",
    );
    for check in [
        "warnings",
        "xml",
        "outside",
        "overlapping",
        "wide tables",
        "clipped",
        "small text",
        "dark",
    ] {
        assert!(
            found.contains_key(check),
            "{check} finds nothing: {found:#?}"
        );
    }
    // Dark mode without the page's dark theme: a light page.
    assert!(
        found["dark"].iter().any(|p| p.starts_with("a light page")),
        "{:#?}",
        found["dark"]
    );
    assert!(
        found["dark"].iter().any(|p| p.contains("svg.chart.broken")),
        "{:#?}",
        found["dark"]
    );
}
