//! The HTML report in a real browser: headless Chromium (Debian's `chromium`, which .ci/run
//! installs) opens the toy model's page; the test reads the DOM after load, every console
//! message, and a screenshot. Each check is also shown to fail on a page that deserves it: a
//! script error, a fetch the page's policy blocks, a blank page. Where /usr/bin/chromium is
//! absent the tests pass with a note, so the suite runs on machines without it.

use crate::common;

use std::collections::HashSet;
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
