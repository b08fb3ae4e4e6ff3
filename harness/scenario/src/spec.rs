//! From TOML text to typed, checked parts, collecting every problem.

use poisonlab_core::ParamError;
use serde::de::DeserializeOwned;
use toml::{Table, Value};

use crate::problem::{Lines, Problem};

/// Collects problems while a scenario is read, locating each by key path.
pub struct Reader<'a> {
    lines: &'a Lines,
    /// The scenario file's folder: relative paths in it are relative to this.
    pub(crate) base_dir: std::path::PathBuf,
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
    pub(crate) fn new(lines: &'a Lines, base_dir: &std::path::Path) -> Self {
        Self {
            lines,
            base_dir: base_dir.to_path_buf(),
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
                    let message = err.inner().to_string().trim().to_string();
                    // The path to the problem inside this table: nested keys such as
                    // `trigger.size` keep their parents.
                    let mut key: Vec<String> = err
                        .path()
                        .iter()
                        .map(|seg| seg.to_string())
                        .filter(|seg| seg != "?")
                        .collect();
                    let unknown = unknown_field(&message);
                    if let Some(field) = &unknown
                        && key.last() != Some(field)
                    {
                        key.push(field.clone());
                    }
                    let mut full = path.to_vec();
                    full.extend(key.iter().map(String::as_str));
                    let message = if unknown.is_some() {
                        format!("unknown key; {}", expected_part(&message))
                    } else {
                        message
                    };
                    self.problem(&full, message);
                    // Drop the offending key and read the rest again.
                    remove_path(&mut table, &key)?;
                }
            }
        }
    }
}

/// Remove the value at `key` (a path of nested keys) from `table`.
fn remove_path(table: &mut Table, key: &[String]) -> Option<Value> {
    match key {
        [] => None,
        [last] => table.remove(last),
        [first, rest @ ..] => match table.get_mut(first) {
            Some(Value::Table(t)) => remove_path(t, rest),
            _ => None,
        },
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
        Some(i) => message[i..]
            .lines()
            .next()
            .unwrap_or_default()
            .replace('`', "\""),
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
        #[serde(default)]
        inner: Inner,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        #[serde(default)]
        size: usize,
    }

    #[test]
    fn nested_unknown_keys_keep_their_path() {
        let text = "[t]\ninner = { sise = 2, size = 3 }\nrate = 0.5\n";
        let lines = Lines::index(text);
        let root: Table = text.parse().unwrap();
        let mut r = Reader::new(&lines, std::path::Path::new("."));
        let p: Option<P> = r.read(&["t"], root["t"].as_table().unwrap());
        assert_eq!(p.map(|p| (p.rate, p.inner.size)), Some((0.5, 3)));
        assert_eq!(r.problems.len(), 1);
        assert_eq!(
            (r.problems[0].key.as_str(), r.problems[0].line),
            ("t.inner.sise", Some(2))
        );
    }

    #[test]
    fn read_reports_every_unknown_and_mistyped_key() {
        let text = "[t]\nrat = 1\nk = \"x\"\nfoo = 2\nrate = 0.5\n";
        let lines = Lines::index(text);
        let root: Table = text.parse().unwrap();
        let mut r = Reader::new(&lines, std::path::Path::new("."));
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
