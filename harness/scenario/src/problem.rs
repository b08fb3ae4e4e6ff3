//! Problems with a scenario file, each located by key and line.

use std::collections::HashMap;
use std::fmt;

use toml::de::{DeTable, DeValue};

/// One problem with a scenario: where it is and what rule it breaks.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Problem {
    /// 1-based line in the scenario file, when the key is in the file.
    pub line: Option<usize>,
    /// Dotted key path, e.g. `attack.rate` or `defense[1].k`.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}: {}", self.key, self.message),
            None => write!(f, "{}: {}", self.key, self.message),
        }
    }
}

/// All problems found in one scenario file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problems {
    /// The file, as the user named it.
    pub file: String,
    /// Every problem, in file order.
    pub list: Vec<Problem>,
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.list.len();
        write!(
            f,
            "{}: {n} problem{}",
            self.file,
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.list {
            write!(f, "\n  {}: {p}", self.file)?;
        }
        Ok(())
    }
}

impl std::error::Error for Problems {}

/// The line of every key in a TOML document, by key path
/// (`["attack", "rate"]`, `["defense", "1", "k"]`, `["sweep", "attack.rate"]`).
#[derive(Debug, Default)]
pub struct Lines {
    by_path: HashMap<Vec<String>, usize>,
}

impl Lines {
    /// Index the keys of `text`; an unparsable document gives an empty index.
    pub fn index(text: &str) -> Self {
        let mut lines = Lines::default();
        if let Ok(root) = DeTable::parse(text) {
            let starts = line_starts(text);
            lines.walk(root.get_ref(), &mut Vec::new(), &starts);
        }
        lines
    }

    fn walk(&mut self, table: &DeTable<'_>, path: &mut Vec<String>, starts: &[usize]) {
        for (key, value) in table {
            path.push(key.get_ref().to_string());
            self.by_path
                .entry(path.clone())
                .or_insert_with(|| line_of(starts, key.span().start));
            match value.get_ref() {
                DeValue::Table(t) => self.walk(t, path, starts),
                DeValue::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        if let DeValue::Table(t) = item.get_ref() {
                            path.push(i.to_string());
                            self.by_path
                                .entry(path.clone())
                                .or_insert_with(|| line_of(starts, item.span().start));
                            self.walk(t, path, starts);
                            path.pop();
                        }
                    }
                }
                _ => {}
            }
            path.pop();
        }
    }

    /// The line of `path`, or of its closest ancestor that has one.
    pub fn line(&self, path: &[&str]) -> Option<usize> {
        (1..=path.len()).rev().find_map(|n| {
            let key: Vec<String> = path[..n].iter().map(|s| s.to_string()).collect();
            self.by_path.get(&key).copied()
        })
    }
}

fn line_starts(text: &str) -> Vec<usize> {
    std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect()
}

fn line_of(starts: &[usize], offset: usize) -> usize {
    starts.partition_point(|&s| s <= offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_keys_in_tables_arrays_of_tables_and_quoted_keys() {
        let text = "[scenario]\nname = \"x\"\n\n[attack]\nkind = \"label-flip\"\nrate = 0.1\n\n[[defense]]\nkind = \"a\"\n[[defense]]\nkind = \"b\"\nk = 3\n[sweep]\n\"attack.rate\" = [0.1]\n";
        let lines = Lines::index(text);
        assert_eq!(lines.line(&["scenario", "name"]), Some(2));
        assert_eq!(lines.line(&["attack", "rate"]), Some(6));
        assert_eq!(lines.line(&["defense", "1", "k"]), Some(12));
        assert_eq!(lines.line(&["defense", "0", "kind"]), Some(9));
        assert_eq!(lines.line(&["sweep", "attack.rate"]), Some(14));
        // A key that is not there falls back to its table.
        assert_eq!(lines.line(&["attack", "missing"]), Some(4));
        assert_eq!(lines.line(&["nothing"]), None);
    }
}
