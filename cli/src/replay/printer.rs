//! The replay's report as a table or as one JSON document, written a chunk
//! of rows at a time.

use std::io::{self, Write};

use indicatif::ProgressBar;
use onboard_shared::batch::{self, Fate, Skip};

use super::report::{
    ArchivedReport, DeadLetterReport, FileReport, ParameterReport, Response, Row, Summary, Tally,
};
use crate::pipeline::DeadLettered;
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
}

/// Writes the report as a table or as one JSON document, a chunk of rows at
/// a time.
pub(super) struct Printer<'w> {
    json: bool,
    out: &'w mut dyn Write,
    progress: Option<ProgressBar>,
    rows_written: usize,
    refusals: Vec<(String, String)>,
}

const SOURCE_WIDTH: usize = 44;
const EVENT_WIDTH: usize = 30;

impl<'w> Printer<'w> {
    pub(super) fn new(
        json: bool,
        out: &'w mut dyn Write,
        progress: Option<ProgressBar>,
    ) -> io::Result<Self> {
        let printer = Self {
            json,
            out,
            progress,
            rows_written: 0,
            refusals: Vec::new(),
        };
        if json {
            printer.out.write_all(b"{\"records\":[")?;
        } else {
            let header = format!(
                "{:<SOURCE_WIDTH$}  {:<EVENT_WIDTH$}  {:<36}  {:>3}  {:<16}  {:<20}  {:<20}\n",
                "SOURCE", "EVENT", "USER", "VER", "ROUTER", "ARCHIVE", "PUBLISH"
            );
            printer.out.write_all(header.trim_end().as_bytes())?;
            printer.out.write_all(b"\n")?;
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
                writeln!(buffer, "{}", table_line(row).trim_end())?;
                if let Some(response) = &row.response {
                    writeln!(buffer, "    → {}", response_line(response))?;
                }
                // A trigger's outcome too long for its column (a rejection's
                // reason) is shown whole, under its line.
                if let Some(trigger) = row
                    .trigger
                    .as_ref()
                    .filter(|t| t.chars().count() > EVENT_WIDTH)
                {
                    writeln!(buffer, "    → {trigger}")?;
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
                    source: d.message.attribute(batch::SOURCE_ATTRIBUTE),
                    reason: d.message.attribute(batch::REASON_ATTRIBUTE),
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
        for (path, reason) in &self.refusals {
            writeln!(out, "not replayed: {path}: {reason}")?;
        }
        for d in finish.dead_letters {
            writeln!(
                out,
                "dead letter in {}: {}",
                d.queue,
                d.message
                    .attribute(batch::REASON_ATTRIBUTE)
                    .unwrap_or("no reason given")
            )?;
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
        writeln!(
            out,
            "{} from {}{}: router {}{consumers}.",
            plural(s.records, "record"),
            plural(s.files - s.refused_files, "file"),
            if s.refused_files > 0 {
                format!(" ({} files not replayed)", s.refused_files)
            } else {
                String::new()
            },
            tally_text(&s.router, "routed"),
        )?;
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
                "{} answered by the greeting.",
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
                "New writes: {} archive objects, {} parameters.",
                s.archive_writes, s.parameter_writes
            )?;
        }
        if s.dead_letters > 0 {
            writeln!(
                out,
                "{} dead letters, kept with their reasons.",
                s.dead_letters
            )?;
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

fn table_line(row: &Row) -> String {
    let mut source = format!("{}#{}", row.source, row.index);
    if source.chars().count() > SOURCE_WIDTH {
        let skip = source.chars().count() - (SOURCE_WIDTH - 1);
        source = format!("…{}", source.chars().skip(skip).collect::<String>());
    }
    let event = match (&row.trigger, row.kind) {
        (Some(trigger), _) => trigger.clone(),
        (None, Some(kind)) => kind.as_str().to_owned(),
        (None, None) if row.input == "sqs" => "not a change message".to_owned(),
        (None, None) => "not routable".to_owned(),
    };
    let event: String = event.chars().take(EVENT_WIDTH).collect();
    format!(
        "{source:<SOURCE_WIDTH$}  {event:<EVENT_WIDTH$}  {:<36}  {:>3}  {:<16}  {:<20}  {:<20}",
        row.user_id.as_ref().map_or("-", |u| u.as_str()),
        row.version.map_or("-".to_owned(), |v| v.to_string()),
        fate_cell(row.router.as_ref(), "routed"),
        fate_cell(row.archive.as_ref(), "written"),
        fate_cell(row.publish.as_ref(), "written"),
    )
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
