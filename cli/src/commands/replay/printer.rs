//! The replay's report as a table or as one JSON document, written a chunk
//! of rows at a time.

use std::io::{self, Write};

use indicatif::ProgressBar;
use onboard_shared::batch::{Fate, Skip};

use super::report::{
    ArchivedReport, DeadLetterReport, FileReport, ParameterReport, Response, Row, Summary, Tally,
};
use crate::engine::pipeline::{DeadLettered, Repair};
use crate::output::{self, Fit};
use crate::plural;
use onboard_shared::local::OVERSIZED_KEY;

/// Everything the end of the report shows.
pub(super) struct Finish<'a> {
    pub(super) summary: &'a Summary,
    pub(super) files: &'a [FileReport],
    pub(super) dead_letters: &'a [DeadLettered],
    pub(super) archive: &'a [ArchivedReport],
    pub(super) parameters: &'a [ParameterReport<'a>],
    /// The local state folder, or the stack's queues.
    pub(super) location: String,
    /// The changes went to a stack, whose consumers write on their own.
    pub(super) remote: bool,
    /// The local state's files mended when it was opened.
    pub(super) repairs: &'a [Repair],
}

/// Writes the report as a table or as one JSON document, a chunk of rows at
/// a time.
pub(super) struct Printer<'w> {
    json: bool,
    columns: Columns,
    fit: Fit,
    out: &'w mut dyn Write,
    progress: Option<ProgressBar>,
    rows_written: usize,
    refusals: Vec<(String, String)>,
    /// Each dead letter of the table's rows: the row's record, the queue
    /// and the reason.
    dead_letters: Vec<(String, String, String)>,
}

/// The table's columns: SOURCE, EVENT, USER, VER, ROUTER, ARCHIVE, PUBLISH.
const HEADERS: [&str; 7] = [
    "SOURCE", "EVENT", "USER", "VER", "ROUTER", "ARCHIVE", "PUBLISH",
];
/// Each column's width with its lines whole (a UUID is 36 characters).
const FULL: [usize; 7] = [44, 30, 36, 3, 16, 20, 20];
/// Each column's least width, for an 80-column terminal: an id keeps its
/// two ends, a source its file name's end and record number.
const LEAST: [usize; 7] = [12, 10, 13, 3, 10, 9, 9];
/// The widths the room above the least goes to first: the fates whole
/// (`DLQ archive-dlq`), before the source and the event grow.
const FATES_WHOLE: [usize; 7] = [14, 12, 13, 3, 14, 15, 15];
const GAP: &str = "  ";

/// The widths of the table's columns, fitted to a width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Columns([usize; 7]);

impl Columns {
    /// The full widths, or, on a narrower width, each column's least
    /// width, and the room left shared out: up to [`FATES_WHOLE`] first,
    /// then towards [`FULL`], each column in proportion to what it lacks.
    fn fit(width: Option<usize>) -> Self {
        let gaps = GAP.len() * (FULL.len() - 1);
        let Some(width) = width.filter(|&w| w < FULL.iter().sum::<usize>() + gaps) else {
            return Columns(FULL);
        };
        let mut widths = LEAST;
        let mut room = width.saturating_sub(gaps + LEAST.iter().sum::<usize>());
        for target in [FATES_WHOLE, FULL] {
            let lacking: usize = (0..7).map(|i| target[i] - widths[i]).sum();
            if lacking == 0 {
                continue;
            }
            let give = room.min(lacking);
            let mut given = 0;
            for i in 0..7 {
                let share = (target[i] - widths[i]) * give / lacking;
                widths[i] += share;
                given += share;
            }
            // What rounding left, a column at a time.
            for i in (0..7).cycle().take(7 * 7) {
                if given == give {
                    break;
                }
                if widths[i] < target[i] {
                    widths[i] += 1;
                    given += 1;
                }
            }
            room -= given;
        }
        Columns(widths)
    }

    fn line(&self, cells: [&str; 7]) -> String {
        let mut line = String::new();
        for (i, cell) in cells.into_iter().enumerate() {
            let width = self.0[i];
            let cell = match i {
                0 => output::cut_start(cell, width),
                2 => output::cut_middle(cell, width),
                _ => output::cut_end(cell, width),
            };
            if i > 0 {
                line.push_str(GAP);
            }
            if i == 3 {
                line.push_str(&format!("{cell:>width$}"));
            } else {
                line.push_str(&format!("{cell:<width$}"));
            }
        }
        line.truncate(line.trim_end().len());
        line
    }
}

impl<'w> Printer<'w> {
    pub(super) fn new(
        json: bool,
        fit: Fit,
        out: &'w mut dyn Write,
        progress: Option<ProgressBar>,
    ) -> io::Result<Self> {
        let printer = Self {
            json,
            columns: Columns::fit(fit.width),
            fit,
            out,
            progress,
            rows_written: 0,
            refusals: Vec::new(),
            dead_letters: Vec::new(),
        };
        if json {
            printer.out.write_all(b"{\"records\":[")?;
        } else {
            writeln!(printer.out, "{}", printer.columns.line(HEADERS))?;
        }
        Ok(printer)
    }

    pub(super) fn rows(&mut self, rows: &[Row]) -> io::Result<()> {
        let mut buffer = Vec::with_capacity(rows.len() * 200);
        for row in rows {
            if self.json {
                if self.rows_written > 0 {
                    buffer.push(b',');
                }
                serde_json::to_writer(&mut buffer, row).map_err(io::Error::other)?;
            } else {
                writeln!(buffer, "{}", self.columns.line_of(row))?;
                if let Some(response) = &row.response {
                    writeln!(
                        buffer,
                        "{}",
                        self.fit.wrap(&response_line(response), "    → ")
                    )?;
                }
                // A trigger's outcome too long for its column (a rejection's
                // reason) is shown whole, under its line.
                if let Some(trigger) = row
                    .trigger
                    .as_ref()
                    .filter(|t| t.chars().count() > self.columns.0[1])
                {
                    writeln!(buffer, "{}", self.fit.wrap(trigger, "    → "))?;
                }
                for fate in [&row.router, &row.archive, &row.publish]
                    .into_iter()
                    .flatten()
                {
                    if let Fate::DeadLettered { queue, reason, .. } = fate {
                        self.dead_letters.push((
                            format!("{}#{}", row.source, row.index),
                            queue.clone(),
                            reason.to_string(),
                        ));
                    }
                }
            }
            self.rows_written += 1;
        }
        match &self.progress {
            Some(bar) => bar.suspend(|| self.out.write_all(&buffer)),
            None => self.out.write_all(&buffer),
        }
    }

    pub(super) fn refused(&mut self, path: &str, reason: &str) -> io::Result<()> {
        self.refusals.push((path.to_owned(), reason.to_owned()));
        Ok(())
    }

    pub(super) fn finish(self, finish: &Finish<'_>) -> io::Result<()> {
        if self.json {
            let dead_letters: Vec<_> = finish
                .dead_letters
                .iter()
                .map(|d| DeadLetterReport {
                    queue: &d.queue,
                    message_id: &d.message.message_id,
                    source: d.message.attribute(onboard_shared::wire::SOURCE_ATTRIBUTE),
                    reason: d.message.attribute(onboard_shared::wire::REASON_ATTRIBUTE),
                    kept_at: kept_at(&d.message.body),
                })
                .collect();
            let rest = serde_json::json!({
                "dead_letters": dead_letters,
                "archive": finish.archive,
                "parameters": finish.parameters,
                "files": finish.files,
                "summary": finish.summary,
                "state": finish.location,
                "repairs": finish.repairs,
            });
            // Close the records array and splice in the other fields.
            let rest = rest.to_string();
            self.out.write_all(b"],")?;
            self.out.write_all(&rest.as_bytes()[1..])?;
            self.out.write_all(b"\n")?;
            return self.out.flush();
        }
        let s = finish.summary;
        let out = self.out;
        writeln!(out)?;
        for repair in finish.repairs {
            writeln!(out, "{repair}")?;
        }
        for (path, reason) in &self.refusals {
            writeln!(out, "not replayed: {path}: {reason}")?;
        }
        for (record, queue, reason) in &self.dead_letters {
            let line = format!("dead letter in {queue}, from {record}: {reason}");
            writeln!(out, "{}", self.fit.wrap(&line, ""))?;
        }
        // A stack's consumers run on their own: only the router's part is known here.
        let consumers = if finish.remote {
            String::new()
        } else {
            format!(
                "; archive {}; publish {}",
                tally_text(&s.archive, "written"),
                tally_text(&s.publish, "written")
            )
        };
        let totals = format!(
            "{} from {}{}: router {}{consumers}.",
            plural(s.records, "record"),
            plural(s.files - s.refused_files, "file"),
            if s.refused_files > 0 {
                format!(" ({} not replayed)", plural(s.refused_files, "file"))
            } else {
                String::new()
            },
            tally_text(&s.router, "routed"),
        );
        writeln!(out, "{}", self.fit.wrap(&totals, ""))?;
        if s.failed() > 0 {
            writeln!(
                out,
                "{} failed and could not be kept anywhere: see the reasons above.",
                plural(s.failed(), "record")
            )?;
        }
        if s.triggers_rejected > 0 {
            writeln!(
                out,
                "{} rejected: nothing was recorded for {} (the reasons are above).",
                plural(s.triggers_rejected, "trigger event"),
                if s.triggers_rejected == 1 {
                    "it"
                } else {
                    "them"
                }
            )?;
        }
        if s.requests > 0 {
            writeln!(
                out,
                "{} answered by the greeting and the account function.",
                plural(s.requests, "API request")
            )?;
        }
        if finish.remote {
            writeln!(
                out,
                "Sent to the stack: its consumers archive and publish the routed changes."
            )?;
        } else if s.archive_writes + s.parameter_writes == 0
            && s.triggers_rejected == 0
            && s.dead_letters == 0
            && s.failed() == 0
        {
            writeln!(out, "No new writes: the state already held every change.")?;
        } else if s.archive_writes + s.parameter_writes == 0 {
            writeln!(out, "No new writes.")?;
        } else {
            writeln!(
                out,
                "New writes: {}, {} of names.",
                plural(s.archive_writes, "archive object"),
                plural(s.parameter_writes, "parameter")
            )?;
        }
        if s.dead_letters > 0 {
            let kept = if s.dead_letters == 1 {
                "kept with its reason"
            } else {
                "kept with their reasons"
            };
            writeln!(out, "{}, {kept}.", plural(s.dead_letters, "dead letter"))?;
        }
        for kept in finish
            .dead_letters
            .iter()
            .filter_map(|d| kept_at(&d.message.body))
        {
            writeln!(
                out,
                "A record too big for a queue is kept apart, its dead letter pointing to it: {kept}"
            )?;
        }
        let metered: Vec<_> = s
            .metrics
            .iter()
            .filter(|(_, counts)| counts.iter().next().is_some())
            .collect();
        if !metered.is_empty() {
            writeln!(out, "Metrics, as the functions report them to CloudWatch:")?;
            for (function, counts) in metered {
                let counts: Vec<String> = counts
                    .iter()
                    .map(|(metric, n)| format!("{} {n}", metric.name()))
                    .collect();
                writeln!(out, "  {:<18} {}", function.name(), counts.join(", "))?;
            }
        }
        let label = if finish.remote { "Sent to" } else { "State" };
        writeln!(out, "{label}: {}", finish.location)?;
        out.flush()
    }
}

fn tally_text(tally: &Tally, applied: &str) -> String {
    let mut parts = vec![format!("{} {applied}", tally.applied)];
    if tally.skipped > 0 {
        parts.push(format!("{} skipped", tally.skipped));
    }
    if tally.dead_lettered > 0 {
        parts.push(format!("{} dead-lettered", tally.dead_lettered));
    }
    if tally.failed > 0 {
        parts.push(format!("{} failed", tally.failed));
    }
    parts.join(", ")
}

fn fate_cell(fate: Option<&Fate>, applied: &str) -> String {
    match fate {
        None => "-".to_owned(),
        Some(Fate::Applied) => applied.to_owned(),
        Some(Fate::Skipped {
            why: Skip::Superseded,
        }) => "superseded".to_owned(),
        Some(Fate::Skipped { why }) => format!("skipped: {}", why.as_str()),
        Some(Fate::DeadLettered { queue, .. }) => format!("DLQ {queue}"),
        Some(Fate::Failed { .. }) => "failed".to_owned(),
    }
}

impl Columns {
    fn line_of(&self, row: &Row) -> String {
        let source = format!("{}#{}", row.source, row.index);
        let event = match (&row.trigger, row.kind) {
            (Some(trigger), _) => trigger.clone(),
            (None, Some(kind)) => kind.as_str().to_owned(),
            (None, None) if row.input == "sqs" => "not a change message".to_owned(),
            (None, None) => "not routable".to_owned(),
        };
        let version = row.version.map_or("-".to_owned(), |v| v.to_string());
        self.line([
            &source,
            &event,
            row.user_id.as_ref().map_or("-", |u| u.as_str()),
            &version,
            &fate_cell(row.router.as_ref(), "routed"),
            &fate_cell(row.archive.as_ref(), "written"),
            &fate_cell(row.publish.as_ref(), "written"),
        ])
    }
}

/// Bytes of a response body the table shows.
const BODY_SHOWN: usize = 120;

/// A response on one line: status, type, and the start of the body.
fn response_line(response: &Response) -> String {
    let body: String = response
        .body
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let body = match body.char_indices().nth(BODY_SHOWN) {
        Some((end, _)) => format!("{}… ({} bytes)", &body[..end], response.body.len()),
        None => body,
    };
    format!(
        "{} {} {body}",
        response.status,
        response.content_type.as_deref().unwrap_or("-")
    )
}

/// Where a dead letter's record is kept, when the letter is a pointer to a
/// record too big for a queue.
fn kept_at(body: &str) -> Option<String> {
    let pointer: serde_json::Value = serde_json::from_str(body).ok()?;
    pointer[OVERSIZED_KEY]["location"]
        .as_str()
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_columns_fit_a_narrow_terminal_and_keep_their_full_widths_on_a_wide_one() {
        let cells = [
            "fixtures/dynamodb/batch-with-poison-records.json#12",
            "rejected: the confirmed user cannot be recorded",
            "1b2c3d4e-5f60-4718-8293-a4b5c6d7e8f9",
            "12",
            "DLQ router-dlq",
            "skipped: no change to the user",
            "written",
        ];
        for width in [80, 100, 120, 160] {
            let line = Columns::fit(Some(width)).line(cells);
            assert!(line.chars().count() <= width, "{width}: {line}");
            assert!(line.contains(".json#12"), "{line}");
        }
        let narrow = Columns::fit(Some(100)).line(cells);
        assert!(
            narrow.contains("1b2c3d…d7e8f9"),
            "an id cut in the middle: {narrow}"
        );
        assert!(narrow.contains("DLQ router-dlq"), "a fate whole: {narrow}");
        assert_eq!(Columns::fit(None), Columns(FULL));
        assert_eq!(Columns::fit(Some(400)), Columns(FULL));
        let wide = Columns::fit(None).line(cells);
        assert!(
            wide.contains("1b2c3d4e-5f60-4718-8293-a4b5c6d7e8f9"),
            "{wide}"
        );
    }
}
