//! What a command prints for a person or a pipe. A reader that goes away
//! (`onboard queues --json | head -1`) ends the command quietly, with
//! status 0, as `ripgrep` does: `println!` would panic on the closed pipe.
//! On a terminal, tables and reasons fit its width ([`Fit`]): ids are cut
//! in the middle, long text wraps; `--wide`, or output that is no terminal,
//! keeps every line whole.

use std::io::{self, Write};

/// Prints a line to standard output, like `println!`, ending the process
/// quietly when nobody reads it any more.
#[macro_export]
macro_rules! outln {
    () => { $crate::output::line(format_args!("")) };
    ($($arg:tt)*) => { $crate::output::line(format_args!($($arg)*)) };
}

/// Prints to standard output without a newline, like `print!`.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => { $crate::output::text(format_args!($($arg)*), false) };
}

#[doc(hidden)]
pub fn line(args: std::fmt::Arguments<'_>) {
    text(args, true);
}

#[doc(hidden)]
pub fn text(args: std::fmt::Arguments<'_>, newline: bool) {
    let mut stdout = io::stdout().lock();
    let written = stdout.write_fmt(args).and_then(|()| {
        if newline {
            stdout.write_all(b"\n")
        } else {
            stdout.flush()
        }
    });
    if let Err(err) = written {
        ended(&err);
    }
}

/// Ends the process for an error writing standard output: quietly when the
/// reader has gone, with the reason otherwise.
pub fn ended(err: &io::Error) -> ! {
    if err.kind() == io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    eprintln!("onboard: standard output could not be written: {err}");
    std::process::exit(2);
}

/// A writer whose reader may go away mid-way: from then on it takes every
/// write and drops it, so a command with work still to do (a replay's state
/// to save) finishes it, and only then ends quietly ([`Self::reader_left`]).
#[derive(Debug)]
pub struct UntilClosed<W> {
    inner: W,
    closed: bool,
}

impl<W: Write> UntilClosed<W> {
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            closed: false,
        }
    }

    /// Whether the reader went away.
    pub fn reader_left(&self) -> bool {
        self.closed
    }

    fn guard<T: Default>(&mut self, result: io::Result<T>) -> io::Result<T> {
        match result {
            Err(err) if err.kind() == io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(T::default())
            }
            other => other,
        }
    }
}

impl<W: Write> Write for UntilClosed<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.closed {
            return Ok(buf.len());
        }
        let result = self.inner.write(buf);
        let written = self.guard(result)?;
        Ok(if self.closed { buf.len() } else { written })
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.closed {
            return Ok(());
        }
        let result = self.inner.flush();
        self.guard(result)
    }
}

/// The width the output has to fit: a terminal's, or none (lines whole).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fit {
    pub width: Option<usize>,
}

/// Below this many columns an id (36 characters for a UUID) is cut in the
/// middle, so the rest of its row keeps room.
const ROOM_FOR_WHOLE_IDS: usize = 140;
/// The characters of an id kept on each side of the cut.
const ID_END: usize = 6;

impl Fit {
    /// Standard output's terminal width, unless `wide` or no terminal.
    pub fn stdout(wide: bool) -> Self {
        let width = (!wide)
            .then(|| console::Term::stdout().size_checked())
            .flatten()
            .map(|(_rows, columns)| usize::from(columns));
        Self { width }
    }

    /// Lines kept whole.
    pub const WIDE: Fit = Fit { width: None };

    /// An id as the width allows: whole, or its two ends around `…`.
    pub fn id(&self, id: &str) -> String {
        match self.width {
            Some(width) if width < ROOM_FOR_WHOLE_IDS => cut_middle(id, 2 * ID_END + 1),
            _ => id.to_owned(),
        }
    }

    /// `text` on lines that fit, each after `indent`; one line when wide.
    pub fn wrap(&self, text: &str, indent: &str) -> String {
        match self.width {
            Some(width) => {
                let options = textwrap::Options::new(width.max(indent.len() + 20))
                    .initial_indent(indent)
                    .subsequent_indent(indent);
                textwrap::fill(text, options)
            }
            None => format!("{indent}{text}"),
        }
    }

    /// A table in the house style (no borders), its cells wrapped to fit.
    pub fn table(&self) -> comfy_table::Table {
        let mut table = comfy_table::Table::new();
        table.load_preset(comfy_table::presets::NOTHING);
        match self.width {
            Some(width) => {
                table
                    .set_content_arrangement(comfy_table::ContentArrangement::Dynamic)
                    .set_width(u16::try_from(width).unwrap_or(u16::MAX));
            }
            None => {
                table.set_content_arrangement(comfy_table::ContentArrangement::Disabled);
            }
        }
        table
    }
}

/// `text` in at most `width` characters: its two ends around `…`.
pub fn cut_middle(text: &str, width: usize) -> String {
    let count = text.chars().count();
    if count <= width || width < 3 {
        return text.to_owned();
    }
    let head = (width - 1) / 2;
    let tail = width - 1 - head;
    let start: String = text.chars().take(head).collect();
    let end: String = text.chars().skip(count - tail).collect();
    format!("{start}…{end}")
}

/// `text` in at most `width` characters: its end, after `…`.
pub fn cut_start(text: &str, width: usize) -> String {
    let count = text.chars().count();
    if count <= width || width == 0 {
        return text.to_owned();
    }
    let end: String = text.chars().skip(count - (width - 1)).collect();
    format!("…{end}")
}

/// `text` in at most `width` characters: its start, then `…`.
pub fn cut_end(text: &str, width: usize) -> String {
    if text.chars().count() <= width || width == 0 {
        return text.to_owned();
    }
    let start: String = text.chars().take(width - 1).collect();
    format!("{start}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_cut_in_the_middle_only_where_the_width_is_short() {
        let id = "1b2c3d4e-5f60-4718-8293-a4b5c6d7e8f9";
        assert_eq!(Fit { width: Some(100) }.id(id), "1b2c3d…d7e8f9");
        assert_eq!(Fit { width: Some(200) }.id(id), id);
        assert_eq!(Fit::WIDE.id(id), id);
        assert_eq!(cut_start("fixtures/dynamodb/x.json#3", 10), "…/x.json#3");
        assert_eq!(cut_end("not a change message", 8), "not a c…");
    }

    #[test]
    fn a_narrow_table_wraps_its_cells_to_the_width_and_a_wide_one_keeps_its_lines() {
        let reason = "the trigger would refuse the user: the attribute `sub` is required but missing, and more words follow here";
        for (fit, longest) in [(Fit { width: Some(80) }, 80), (Fit::WIDE, usize::MAX)] {
            let mut table = fit.table();
            table.add_row([
                fit.id("1b2c3d4e-5f60-4718-8293-a4b5c6d7e8f9").as_str(),
                "CONFIRMED",
                reason,
            ]);
            let text = table.to_string();
            let widest = text.lines().map(|l| l.chars().count()).max().unwrap_or(0);
            assert!(widest <= longest, "{widest}: {text}");
            if fit.width.is_none() {
                assert_eq!(text.lines().count(), 1, "{text}");
            }
        }
    }

    /// A reader that takes `room` bytes, then goes away.
    struct Pipe {
        room: usize,
    }

    impl Write for Pipe {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.room == 0 {
                return Err(io::ErrorKind::BrokenPipe.into());
            }
            let n = buf.len().min(self.room);
            self.room -= n;
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn writes_after_the_reader_left_are_taken_and_dropped() {
        let mut out = UntilClosed::new(Pipe { room: 4 });
        out.write_all(b"first line\n")
            .unwrap_or_else(|err| panic!("{err}"));
        assert!(out.reader_left());
        out.write_all(b"second line\n")
            .unwrap_or_else(|err| panic!("{err}"));
        out.flush().unwrap_or_else(|err| panic!("{err}"));
    }
}
