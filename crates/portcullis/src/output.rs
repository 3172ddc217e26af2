//! How the operator commands print: `--output table` (the default: tab-separated columns under
//! a header line, for people and `cut`) or `--output json` (for scripts: one JSON object per
//! line for a list, one object for a single thing). Field names are camelCase, as in the JSON
//! API, and stay stable; times are RFC 3339 in UTC.

use std::io::Write as _;

use serde_json::Value;

/// The format of a command's output.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Tab-separated columns under a header line
    #[default]
    Table,
    /// JSON: one object per line for a list, one object for a single thing
    Json,
}

/// The `--output` flag of every command that prints.
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub struct OutputArgs {
    /// How to print: `table` or `json` (one JSON object per line for lists)
    #[arg(
        long,
        global = true,
        value_enum,
        default_value_t = Format::Table,
        value_name = "FORMAT"
    )]
    pub output: Format,
}

/// A time as RFC 3339 in UTC (`2026-12-04T10:00:00Z`); unix seconds out of chrono's range stay
/// a number rather than becoming a wrong date.
pub fn time(unix: i64) -> Value {
    chrono::DateTime::from_timestamp(unix, 0).map_or(Value::from(unix), |t| {
        Value::from(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
    })
}

/// An optional time: RFC 3339, or `null`.
pub fn opt_time(unix: Option<i64>) -> Value {
    unix.map_or(Value::Null, time)
}

/// Writes a command's results in the chosen format.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    format: Format,
}

impl Printer {
    pub fn new(format: Format) -> Self {
        Self { format }
    }

    /// A list: the header and one line per row (table), or one JSON object per line.
    pub fn list(&self, columns: &[&str], rows: &[Value]) -> Result<(), String> {
        match self.format {
            Format::Json => {
                for row in rows {
                    line(&row.to_string())?;
                }
                Ok(())
            }
            Format::Table => {
                line(&columns.join("\t"))?;
                for row in rows {
                    let cells: Vec<String> = columns.iter().map(|c| cell(&row[*c])).collect();
                    line(&cells.join("\t"))?;
                }
                Ok(())
            }
        }
    }

    /// One thing: `field<TAB>value` lines (a list of objects inside, such as an
    /// organization's members, follows as a table of its own), or one JSON object.
    pub fn object(&self, object: &Value) -> Result<(), String> {
        match self.format {
            Format::Json => line(&object.to_string()),
            Format::Table => {
                let Value::Object(map) = object else {
                    return line(&cell(object));
                };
                let mut tables = Vec::new();
                for (key, value) in map {
                    match value {
                        Value::Array(items) if items.iter().any(Value::is_object) => {
                            tables.push((key, items));
                        }
                        _ => line(&format!("{key}\t{}", cell(value)))?,
                    }
                }
                for (key, items) in tables {
                    let mut columns: Vec<&str> = Vec::new();
                    for item in items {
                        if let Value::Object(fields) = item {
                            for k in fields.keys() {
                                if !columns.contains(&k.as_str()) {
                                    columns.push(k);
                                }
                            }
                        }
                    }
                    line("")?;
                    line(&format!("{key}:"))?;
                    self.list(&columns, items)?;
                }
                Ok(())
            }
        }
    }

    /// The outcome of a command that changes something: a sentence (table) or an object.
    pub fn done(&self, object: &Value, sentence: &str) -> Result<(), String> {
        match self.format {
            Format::Json => line(&object.to_string()),
            Format::Table => line(sentence),
        }
    }
}

/// One table cell: text as it is (tabs and line breaks as spaces, so a row stays one line),
/// `-` for nothing, lists joined with commas.
fn cell(value: &Value) -> String {
    let text = match value {
        Value::Null => "-".to_owned(),
        Value::String(s) => s.clone(),
        Value::Array(items) if items.is_empty() => "-".to_owned(),
        Value::Array(items) => items.iter().map(cell).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    };
    text.replace(['\t', '\n', '\r'], " ")
}

fn line(text: &str) -> Result<(), String> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{text}").map_err(|e| format!("cannot write to stdout: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn times_are_rfc3339_in_utc() {
        assert_eq!(time(0), json!("1970-01-01T00:00:00Z"));
        assert_eq!(time(1_800_000_000), json!("2027-01-15T08:00:00Z"));
        assert_eq!(opt_time(None), Value::Null);
        assert_eq!(time(i64::MAX), json!(i64::MAX));
    }

    #[test]
    fn cells_stay_on_one_line() {
        assert_eq!(cell(&json!("a\tb\nc")), "a b c");
        assert_eq!(cell(&json!(null)), "-");
        assert_eq!(cell(&json!([])), "-");
        assert_eq!(cell(&json!(["x", "y"])), "x,y");
        assert_eq!(cell(&json!(true)), "true");
    }
}
