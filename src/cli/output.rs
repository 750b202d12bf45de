//! Printing a report, and writing the page a long run produced without losing the run.

use std::path::{Path, PathBuf};

use crate::output;
use crate::report::text::{diagnostics, style::Style};

/// How a report is printed on standard output (check, sensitivity and diff).
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Format {
    Terminal,
    Json,
    Markdown,
}

/// A report's renderers, one per `Format`.
pub struct Renderers<R> {
    pub terminal: fn(&R, Style) -> String,
    pub json: fn(&R) -> String,
    pub markdown: fn(&R) -> String,
}

impl Format {
    /// Prints `report` on standard output with the renderer of this format (the terminal's
    /// coloured where standard output is a terminal), then writes its page where `--html`
    /// asked: after printing, so a page that cannot be written loses nothing of the run.
    pub fn publish<R>(
        self,
        report: &R,
        renderers: Renderers<R>,
        html: Option<HtmlOutput>,
        page: impl FnOnce() -> String,
    ) -> miette::Result<()> {
        let text = match self {
            Format::Terminal => {
                let color = diagnostics::use_color(&std::io::stdout());
                (renderers.terminal)(report, Style { color })
            }
            Format::Json => (renderers.json)(report),
            Format::Markdown => (renderers.markdown)(report),
        };
        print!("{text}");
        match html {
            Some(output) => output.write(&page()),
            None => Ok(()),
        }
    }
}

/// Where `--html` writes. Tried before any work (a file created beside it and removed), so
/// a path that cannot be written is refused at once rather than after a long check; the
/// page is written whole at the end (`output::write_whole`), so the path holds either its
/// old content or the whole new page. Callers print the report on
/// standard output first, so a failed write loses nothing.
pub struct HtmlOutput {
    path: PathBuf,
}

impl HtmlOutput {
    pub fn open(path: &Path) -> miette::Result<Self> {
        let refuse = |why: String| {
            miette::miette!(
                code = "check::html",
                help = "give --html a file path in a directory you can write to",
                "cannot write the HTML report to {}: {why}",
                path.display()
            )
        };
        if path.is_dir() {
            return Err(refuse("it is a directory".into()));
        }
        if path.file_name().is_none() {
            return Err(refuse("it names no file".into()));
        }
        // Not kept through the run: an interrupted check leaves nothing behind.
        output::try_directory_of(path).map_err(|e| refuse(e.to_string()))?;
        Ok(Self {
            path: path.to_path_buf(),
        })
    }

    pub fn write(self, page: &str) -> miette::Result<()> {
        output::write_whole(&self.path, page.as_bytes()).map_err(|e| {
            miette::miette!(
                code = "check::html",
                help = "the report above is complete; run again with another --html path",
                "cannot write the HTML report to {}: {e}",
                self.path.display()
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn html_output_is_tried_first_and_written_whole() {
        let dir = std::env::temp_dir().join(format!("circuitcheck-html-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("report.html");
        let output = HtmlOutput::open(&path).unwrap();
        assert!(files_in(&dir).is_empty(), "the try leaves nothing");
        output.write("<p>page</p>").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "<p>page</p>");
        assert_eq!(files_in(&dir), ["report.html"]);

        // The path turns into a directory during the run: the write fails, and says so,
        // leaving no temporary file.
        let late = dir.join("late.html");
        let output = HtmlOutput::open(&late).unwrap();
        std::fs::create_dir_all(late.join("inside")).unwrap();
        let error = output.write("<p>page</p>").unwrap_err();
        assert!(
            error
                .to_string()
                .contains("cannot write the HTML report to"),
            "{error}"
        );
        assert_eq!(files_in(&dir), ["late.html", "report.html"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
