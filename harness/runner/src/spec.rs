//! From TOML text to typed, checked parts, collecting every problem.

use poisonlab_core::ParamError;
use serde::de::DeserializeOwned;
use toml::{Table, Value};

use crate::problem::{Lines, Problem};

/// Collects problems while a scenario is read, locating each by key path.
pub(crate) struct Reader<'a> {
    lines: &'a Lines,
    pub(crate) problems: Vec<Problem>,
}

/// A key path for messages: `defense[1].k`, `attack.rate`.
pub(crate) fn display_path(path: &[&str]) -> String {
    let mut out = String::new();
    for (i, part) in path.iter().enumerate() {
        if part.chars().all(|c| c.is_ascii_digit()) && i > 0 {
            out.push_str(&format!("[{part}]"));
        } else {
            if i > 0 {
                out.push('.');
            }
            out.push_str(part);
        }
    }
    out
}

impl<'a> Reader<'a> {
    pub(crate) fn new(lines: &'a Lines) -> Self {
        Self {
            lines,
            problems: Vec::new(),
        }
    }

    /// Record a problem at `path`.
    pub(crate) fn problem(&mut self, path: &[&str], message: impl Into<String>) {
        self.problems.push(Problem {
            line: self.lines.line(path),
            key: display_path(path),
            message: message.into(),
        });
    }

    /// Record the problems a parameter check found in the table at `table`.
    pub(crate) fn param_errors(&mut self, table: &[&str], errors: Vec<ParamError>) {
        for e in errors {
            let mut path = table.to_vec();
            path.push(&e.key);
            self.problem(&path, e.message);
        }
    }

    /// Deserialize `table` (found at `path`) into `T`, which denies unknown keys.
    ///
    /// Every unknown key and every value of the wrong type is recorded; the
    /// offending key is then dropped and the rest read again, so one pass
    /// reports all of them. `None` when the table could not be read at all.
    pub(crate) fn read<T: DeserializeOwned>(&mut self, path: &[&str], table: &Table) -> Option<T> {
        let mut table = table.clone();
        loop {
            match serde_path_to_error::deserialize::<_, T>(Value::Table(table.clone())) {
                Ok(v) => return Some(v),
                Err(err) => {
                    let message = err.inner().to_string();
                    let key = unknown_field(&message).unwrap_or_else(|| {
                        err.path()
                            .iter()
                            .next()
                            .map(|s| s.to_string())
                            .unwrap_or_default()
                    });
                    let mut full = path.to_vec();
                    if !key.is_empty() && key != "?" {
                        full.push(&key);
                    }
                    let message = if unknown_field(&message).is_some() {
                        format!("unknown key; {}", expected_part(&message))
                    } else {
                        message
                    };
                    self.problem(&full, message);
                    // Drop the offending key and read the rest again.
                    table.remove(&key)?;
                }
            }
        }
    }
}

/// The field name of serde's "unknown field `x`, expected ..." message.
fn unknown_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    Some(rest[..rest.find('`')?].to_string())
}

/// The "expected one of ..." part of serde's unknown-field message.
fn expected_part(message: &str) -> String {
    match message.find("expected") {
        Some(i) => message[i..].replace('`', "\""),
        None => "this table takes no such key".to_string(),
    }
}

/// A table's value as a sub-table, recording a problem when it is not one.
pub(crate) fn sub_table(reader: &mut Reader<'_>, root: &Table, key: &str) -> Option<Table> {
    match root.get(key) {
        None => None,
        Some(Value::Table(t)) => Some(t.clone()),
        Some(other) => {
            reader.problem(&[key], format!("must be a table, got {}", other.type_str()));
            None
        }
    }
}

/// Take `key` out of `table` as a string, recording a problem when it is missing or not one.
pub(crate) fn take_kind(
    reader: &mut Reader<'_>,
    path: &[&str],
    table: &mut Table,
    key: &str,
) -> Option<String> {
    let mut full = path.to_vec();
    full.push(key);
    match table.remove(key) {
        Some(Value::String(s)) => Some(s),
        Some(other) => {
            reader.problem(&full, format!("must be a string, got {}", other.type_str()));
            None
        }
        None => {
            reader.problem(&full, "is required");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "kebab-case")]
    #[allow(dead_code)]
    struct P {
        #[serde(default)]
        rate: f64,
        #[serde(default)]
        k: usize,
    }

    #[test]
    fn read_reports_every_unknown_and_mistyped_key() {
        let text = "[t]\nrat = 1\nk = \"x\"\nfoo = 2\nrate = 0.5\n";
        let lines = Lines::index(text);
        let root: Table = text.parse().unwrap();
        let mut r = Reader::new(&lines);
        let t = root["t"].as_table().unwrap();
        let p: Option<P> = r.read(&["t"], t);
        assert_eq!(p.map(|p| p.rate), Some(0.5));
        let mut got: Vec<(Option<usize>, String)> =
            r.problems.iter().map(|p| (p.line, p.key.clone())).collect();
        got.sort();
        assert_eq!(
            got,
            vec![
                (Some(2), "t.rat".to_string()),
                (Some(3), "t.k".to_string()),
                (Some(4), "t.foo".to_string())
            ]
        );
        assert!(r.problems.iter().any(|p| p.message.contains("expected")));
    }

    #[test]
    fn paths_display_array_indices() {
        assert_eq!(display_path(&["defense", "1", "k"]), "defense[1].k");
        assert_eq!(display_path(&["attack", "rate"]), "attack.rate");
    }
}
