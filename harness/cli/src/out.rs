//! Output that never panics.
//!
//! `println!` panics when stdout is a closed pipe (`poisonlab list | head`);
//! everything the binary prints goes through these macros instead
//! (`clippy::print_stdout` and `print_stderr` are denied in main.rs).
//! [`outln!`] and [`out!`] return a [`StdoutError`] to pass on with `?`:
//! main ends a command whose stdout was closed quietly with exit 0, as
//! ripgrep does. [`errln!`] ignores write errors: there is nowhere left to
//! report them. Progress bars (indicatif) draw on stderr and ignore errors.

use std::fmt;
use std::io::{self, Write as _};

/// Writing to stdout failed.
#[derive(Debug)]
pub struct StdoutError(io::Error);

impl StdoutError {
    /// The reader went away (`| head`): not an error worth a word.
    pub fn is_broken_pipe(&self) -> bool {
        self.0.kind() == io::ErrorKind::BrokenPipe
    }
}

impl fmt::Display for StdoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("writing to stdout")
    }
}

impl std::error::Error for StdoutError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// Write to stdout (the macros' back end).
pub fn stdout(args: fmt::Arguments<'_>) -> Result<(), StdoutError> {
    io::stdout().lock().write_fmt(args).map_err(StdoutError)
}

/// Write to stderr, ignoring failure (the macros' back end).
pub fn stderr(args: fmt::Arguments<'_>) {
    let _ = io::stderr().lock().write_fmt(args);
}

/// `print!` that returns `Result<(), StdoutError>` instead of panicking.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::out::stdout(format_args!($($arg)*))
    };
}

/// `println!` that returns `Result<(), StdoutError>` instead of panicking.
macro_rules! outln {
    () => {
        $crate::out::stdout(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::out::stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `eprintln!` that never panics.
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::out::stderr(format_args!("{}\n", format_args!($($arg)*)))
    };
}

pub(crate) use {errln, out, outln};
