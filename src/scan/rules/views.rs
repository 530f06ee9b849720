//! Structured data read as assignments: a value whose name is elsewhere in the file (the column list
//! of an SQL `INSERT`, a `CREATE TABLE` or a `COPY`, the header of a CSV export, the code cell a
//! notebook output came from) or whose quotes are escaped (JSON stored in a column, a notebook
//! output string) is handed to the rules as a small text of its own — `column = "value"`, or the
//! unescaped string — located at the value in the file. The rules then judge it as anywhere else:
//! a random value under a secret-like name is a finding, a word, a hash or a placeholder is not.

use super::checks::secret_name;
use crate::scan::detect::decode::Decoded;
use std::collections::HashMap;

/// Largest file read as structured data (bigger dumps are scanned as plain text only).
const MAX_BYTES: usize = 64 << 20;

/// The views of `content` found at `path`: SQL statements, CSV rows, notebook outputs.
pub(crate) fn views(path: &str, content: &[u8]) -> Vec<Decoded> {
    if content.len() > MAX_BYTES {
        return Vec::new();
    }
    let lower_path = path.to_ascii_lowercase();
    let mut out = Vec::new();
    if lower_path.ends_with(".ipynb") {
        notebook(content, &mut out);
    } else if lower_path.ends_with(".csv") || lower_path.ends_with(".tsv") {
        csv(content, &mut out);
    } else if lower_path.ends_with(".sql") || has_sql(content) {
        sql(content, &mut out);
    }
    out
}

/// A value at `[start, end)` of the file, under column `name` (if known), with its unescaped text.
struct Cell<'a> {
    name: Option<&'a str>,
    start: usize,
    end: usize,
    text: Vec<u8>,
    escaped: bool,
}

/// Turns one value into views: `name = "value"` under a secret-like name (not a password hash),
/// and the unescaped text when escapes hid its quotes (JSON in a column).
fn push_cell(cell: Cell, out: &mut Vec<Decoded>) {
    let t = cell.text.trim_ascii();
    if t.len() < 4 || cell.end <= cell.start {
        return;
    }
    if let Some(name) = cell.name
        && secret_name(name.as_bytes())
        && !password_hash(name, t)
        && !t.contains(&b'\n')
    {
        let mut text = format!("{name} = \"").into_bytes();
        text.extend_from_slice(t);
        text.extend_from_slice(b"\"\n");
        out.push(Decoded {
            start: cell.start,
            end: cell.end,
            text,
        });
    }
    if cell.escaped && (t.contains(&b':') || t.contains(&b'=')) {
        out.push(Decoded {
            start: cell.start,
            end: cell.end,
            text: cell.text,
        });
    }
}

/// A stored password hash (crypt formats, Django's, LDAP's; a bare hex digest in a password
/// column): what a `password` column of a users table holds, not a credential.
fn password_hash(name: &str, v: &[u8]) -> bool {
    let lower = name.to_ascii_lowercase();
    let password_column = lower.contains("pass") || lower.contains("pwd");
    const PREFIXES: &[&[u8]] = &[
        b"$2a$",
        b"$2b$",
        b"$2y$",
        b"$argon2",
        b"$pbkdf2",
        b"$scrypt$",
        b"$1$",
        b"$5$",
        b"$6$",
        b"$apr1$",
        b"pbkdf2_sha",
        b"argon2$",
        b"bcrypt$",
        b"sha1$",
        b"{SSHA",
        b"{SHA",
        b"{CRYPT}",
    ];
    PREFIXES.iter().any(|p| v.starts_with(p))
        || (password_column
            && matches!(v.len(), 32 | 40 | 64 | 128)
            && v.iter().all(u8::is_ascii_hexdigit))
}

// ---- SQL ---------------------------------------------------------------------------------------

/// True when the content holds an `INSERT INTO` or a `COPY … FROM stdin` (seeds in code, dumps
/// with another extension).
fn has_sql(content: &[u8]) -> bool {
    let find = |n: &[u8]| memchr::memmem::find(content, n).is_some();
    find(b"INSERT INTO") || find(b"insert into") || find(b"FROM stdin;")
}

/// Every value of every `INSERT … VALUES` and `COPY … FROM stdin` in an SQL text, named by its
/// column (the statement's column list, else the table's `CREATE TABLE` seen before it).
fn sql(content: &[u8], out: &mut Vec<Decoded>) {
    let lower = content.to_ascii_lowercase();
    let mut tables: HashMap<String, Vec<String>> = HashMap::new();
    let mut at = 0;
    while let Some(p) = next_statement(&lower, at) {
        let (kind, body) = p;
        at = match kind {
            Statement::Create => create_table(content, body, &mut tables),
            Statement::Insert => insert(content, body, &tables, out),
            Statement::Copy => copy(content, body, out),
        }
        .max(body);
    }
}

#[derive(Clone, Copy)]
enum Statement {
    Create,
    Insert,
    Copy,
}

/// The next statement start at or after `at`: its kind and the offset just after its keywords.
fn next_statement(lower: &[u8], at: usize) -> Option<(Statement, usize)> {
    let find = |n: &[u8]| memchr::memmem::find(&lower[at..], n).map(|p| (at + p, at + p + n.len()));
    [
        (Statement::Create, find(b"create table")),
        (Statement::Insert, find(b"insert into")),
        (Statement::Copy, find(b"copy ")),
    ]
    .into_iter()
    .filter_map(|(k, f)| f.map(|(s, e)| (s, k, e)))
    .min_by_key(|(s, _, _)| *s)
    .map(|(_, k, e)| (k, e))
}

fn skip_ws(c: &[u8], mut i: usize) -> usize {
    while i < c.len() && c[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// A possibly qualified, possibly quoted name (`public.users`, `` `db`.`users` ``, `[dbo].[Users]`):
/// its last part, lower-case, and the offset after it.
fn sql_name(c: &[u8], i: usize) -> (String, usize) {
    let mut i = skip_ws(c, i);
    loop {
        let (part, next) = match c.get(i) {
            Some(&q @ (b'`' | b'"' | b'[')) => {
                let close = if q == b'[' { b']' } else { q };
                let end = memchr::memchr(close, &c[i + 1..]).map_or(c.len(), |p| i + 1 + p);
                (&c[(i + 1).min(end)..end], (end + 1).min(c.len()))
            }
            _ => {
                let n = c[i..]
                    .iter()
                    .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'$'))
                    .count();
                (&c[i..i + n], i + n)
            }
        };
        i = next;
        if c.get(i) == Some(&b'.') {
            i += 1;
        } else {
            return (String::from_utf8_lossy(part).to_ascii_lowercase(), i);
        }
    }
}

/// `(a, b, c)` → the names and the offset after `)`; `None` when no list starts at `i`.
fn name_list(c: &[u8], i: usize) -> Option<(Vec<String>, usize)> {
    let mut i = skip_ws(c, i);
    if c.get(i) != Some(&b'(') {
        return None;
    }
    let mut names = Vec::new();
    loop {
        let (name, next) = sql_name(c, i + 1);
        names.push(name);
        i = skip_ws(c, next);
        match c.get(i) {
            Some(b',') => continue,
            Some(b')') => return Some((names, i + 1)),
            _ => return None,
        }
    }
}

/// Records a table's column names from its definition; returns where parsing stopped.
fn create_table(c: &[u8], at: usize, tables: &mut HashMap<String, Vec<String>>) -> usize {
    let mut i = skip_ws(c, at);
    if c[i..].to_ascii_lowercase().starts_with(b"if not exists") {
        i += b"if not exists".len();
    }
    let (table, i) = sql_name(c, i);
    let i = skip_ws(c, i);
    if c.get(i) != Some(&b'(') {
        return i;
    }
    let mut cols = Vec::new();
    let (mut depth, mut j, mut def_start) = (0usize, i + 1, i + 1);
    while j < c.len() {
        match c[j] {
            b'(' => depth += 1,
            b')' if depth > 0 => depth -= 1,
            b'\'' => j = sql_string(c, j).1.saturating_sub(1),
            b',' | b')' if depth == 0 => {
                let (name, _) = sql_name(c, def_start);
                const NOT_COLUMNS: &[&str] = &[
                    "primary",
                    "key",
                    "unique",
                    "constraint",
                    "index",
                    "foreign",
                    "check",
                    "fulltext",
                    "spatial",
                    "",
                ];
                if !NOT_COLUMNS.contains(&name.as_str()) {
                    cols.push(name);
                }
                if c[j] == b')' {
                    break;
                }
                def_start = j + 1;
            }
            _ => {}
        }
        j += 1;
    }
    tables.insert(table, cols);
    j
}

/// An SQL string literal starting at the quote at `i`: its unescaped text, the offset after the
/// closing quote, and whether it held escapes.
fn sql_string(c: &[u8], i: usize) -> (Vec<u8>, usize, bool) {
    let mut text = Vec::new();
    let (mut j, mut escaped) = (i + 1, false);
    while j < c.len() {
        match c[j] {
            b'\\' if j + 1 < c.len() => {
                escaped = true;
                text.push(match c[j + 1] {
                    b'n' => b'\n',
                    b't' => b'\t',
                    b'r' => b'\r',
                    b'0' => 0,
                    other => other,
                });
                j += 2;
                continue;
            }
            b'\'' if c.get(j + 1) == Some(&b'\'') => {
                escaped = true;
                text.push(b'\'');
                j += 2;
                continue;
            }
            b'\'' => return (text, j + 1, escaped),
            b => text.push(b),
        }
        j += 1;
    }
    (text, j, escaped)
}

/// One `INSERT INTO t [(cols)] VALUES (…), (…);`: each quoted value becomes a cell.
fn insert(
    c: &[u8],
    at: usize,
    tables: &HashMap<String, Vec<String>>,
    out: &mut Vec<Decoded>,
) -> usize {
    let (table, i) = sql_name(c, at);
    let (cols, i) = match name_list(c, i) {
        Some((cols, i)) => (cols, i),
        None => (tables.get(&table).cloned().unwrap_or_default(), i),
    };
    let mut i = skip_ws(c, i);
    if !c[i..].to_ascii_lowercase().starts_with(b"values") {
        return i;
    }
    i += b"values".len();
    loop {
        i = skip_ws(c, i);
        if c.get(i) != Some(&b'(') {
            return i;
        }
        i = tuple(c, i + 1, &cols, out);
        i = skip_ws(c, i);
        if c.get(i) != Some(&b',') {
            return i;
        }
        i += 1;
    }
}

/// The values of one tuple, from just after its `(`; returns the offset after its `)`.
fn tuple(c: &[u8], mut i: usize, cols: &[String], out: &mut Vec<Decoded>) -> usize {
    let (mut col, mut depth) = (0usize, 0usize);
    while i < c.len() {
        match c[i] {
            b'\'' => {
                let (text, end, escaped) = sql_string(c, i);
                let name = cols.get(col).map(String::as_str);
                push_cell(
                    Cell {
                        name,
                        start: i + 1,
                        end: end.saturating_sub(1),
                        text,
                        escaped,
                    },
                    out,
                );
                i = end;
                continue;
            }
            b'(' => depth += 1,
            b')' if depth > 0 => depth -= 1,
            b')' => return i + 1,
            b',' if depth == 0 => col += 1,
            b';' => return i,
            _ => {}
        }
        i += 1;
    }
    i
}

/// PostgreSQL's `COPY t (cols) FROM stdin;` and its tab-separated rows up to `\.`.
fn copy(c: &[u8], at: usize, out: &mut Vec<Decoded>) -> usize {
    let (_, i) = sql_name(c, at);
    let Some((cols, i)) = name_list(c, i) else {
        return i;
    };
    let i = skip_ws(c, i);
    if !c[i..].to_ascii_lowercase().starts_with(b"from stdin;") {
        return i;
    }
    let mut line = memchr::memchr(b'\n', &c[i..]).map_or(c.len(), |p| i + p + 1);
    while line < c.len() {
        let end = memchr::memchr(b'\n', &c[line..]).map_or(c.len(), |p| line + p);
        let row = &c[line..end];
        if row == b"\\." || row == b"\\.\r" {
            return end;
        }
        let mut field_start = line;
        for (k, field) in row.split(|&b| b == b'\t').enumerate() {
            let (text, escaped) = copy_unescape(field);
            push_cell(
                Cell {
                    name: cols.get(k).map(String::as_str),
                    start: field_start,
                    end: field_start + field.len(),
                    text,
                    escaped,
                },
                out,
            );
            field_start += field.len() + 1;
        }
        line = end + 1;
    }
    c.len()
}

/// A `COPY` text-format field unescaped (`\N` is NULL: empty).
fn copy_unescape(f: &[u8]) -> (Vec<u8>, bool) {
    if f == b"\\N" {
        return (Vec::new(), false);
    }
    let mut out = Vec::with_capacity(f.len());
    let (mut i, mut escaped) = (0, false);
    while i < f.len() {
        if f[i] == b'\\' && i + 1 < f.len() {
            escaped = true;
            out.push(match f[i + 1] {
                b'n' => b'\n',
                b't' => b'\t',
                b'r' => b'\r',
                other => other,
            });
            i += 2;
        } else {
            out.push(f[i]);
            i += 1;
        }
    }
    (out, escaped)
}

// ---- CSV ---------------------------------------------------------------------------------------

/// A CSV/TSV export: the header names each column; quoted fields may hold `""` escapes.
fn csv(content: &[u8], out: &mut Vec<Decoded>) {
    let header_end = memchr::memchr(b'\n', content).unwrap_or(content.len());
    let header = &content[..header_end];
    let delim = [b',', b';', b'\t', b'|']
        .into_iter()
        .max_by_key(|d| header.iter().filter(|b| *b == d).count())
        .unwrap_or(b',');
    let mut names = Vec::new();
    let mut i = 0;
    while i < header_end {
        let (f, next) = csv_field(content, i, delim);
        names.push(String::from_utf8_lossy(f.text.trim_ascii()).into_owned());
        i = next;
        if content.get(next.saturating_sub(1)) == Some(&b'\n') {
            break;
        }
    }
    if !names.iter().any(|n| secret_name(n.as_bytes()))
        && memchr::memchr(b'\\', content).is_none()
        && memchr::memmem::find(content, b"\"\"").is_none()
    {
        return;
    }
    let mut col = 0;
    while i < content.len() {
        let (f, next) = csv_field(content, i, delim);
        let name = names.get(col).map(String::as_str);
        push_cell(
            Cell {
                name,
                start: f.start,
                end: f.end,
                text: f.text,
                escaped: f.escaped,
            },
            out,
        );
        col = if content[next - 1] == b'\n' {
            0
        } else {
            col + 1
        };
        i = next;
    }
}

struct Field {
    start: usize,
    end: usize,
    text: Vec<u8>,
    escaped: bool,
}

/// The field starting at `i` and the offset after its delimiter or line end.
fn csv_field(c: &[u8], i: usize, delim: u8) -> (Field, usize) {
    if c.get(i) == Some(&b'"') {
        let mut text = Vec::new();
        let (mut j, mut escaped) = (i + 1, false);
        while j < c.len() {
            if c[j] == b'"' {
                if c.get(j + 1) == Some(&b'"') {
                    text.push(b'"');
                    escaped = true;
                    j += 2;
                    continue;
                }
                break;
            }
            text.push(c[j]);
            j += 1;
        }
        let field = Field {
            start: i + 1,
            end: j.min(c.len()),
            text,
            escaped,
        };
        let mut k = j + 1;
        while k < c.len() && c[k] != delim && c[k] != b'\n' {
            k += 1;
        }
        return (field, (k + 1).min(c.len()).max(i + 1));
    }
    let mut j = i;
    while j < c.len() && c[j] != delim && c[j] != b'\n' {
        j += 1;
    }
    let end = if j > i && c[j - 1] == b'\r' { j - 1 } else { j };
    let field = Field {
        start: i,
        end,
        text: c[i..end].to_vec(),
        escaped: false,
    };
    (field, (j + 1).min(c.len()).max(i + 1))
}

// ---- Jupyter notebooks -------------------------------------------------------------------------

/// A notebook's cell outputs (`outputs[].text`, `outputs[].data["text/plain"]`): each string is a
/// view located at its line of the file; the value an expression naming a secret printed
/// (`os.environ["DB_PASSWORD"]`) is a view under that name.
fn notebook(content: &[u8], out: &mut Vec<Decoded>) {
    let Ok(nb) = serde_json::from_slice::<serde_json::Value>(content) else {
        return;
    };
    let Some(cells) = nb.get("cells").and_then(|c| c.as_array()) else {
        return;
    };
    let mut cursor = 0;
    for cell in cells {
        let source = lines(cell.get("source"));
        let named = source
            .iter()
            .rev()
            .find(|l| !l.trim().is_empty())
            .and_then(|l| secret_word(l));
        let outputs = cell.get("outputs").and_then(|o| o.as_array());
        for output in outputs.into_iter().flatten() {
            let result =
                output.get("output_type").and_then(|t| t.as_str()) == Some("execute_result");
            let texts = lines(output.get("text"))
                .into_iter()
                .chain(lines(output.pointer("/data/text~1plain")));
            for s in texts {
                let Some((start, end)) = locate(content, &mut cursor, &s) else {
                    continue;
                };
                let escaped = end - start != s.len();
                let name = named.as_deref().filter(|_| result);
                let value = s.trim().trim_matches(['\'', '"']).as_bytes().to_vec();
                push_cell(
                    Cell {
                        name,
                        start,
                        end,
                        text: value,
                        escaped: false,
                    },
                    out,
                );
                if escaped {
                    push_cell(
                        Cell {
                            name: None,
                            start,
                            end,
                            text: s.into_bytes(),
                            escaped,
                        },
                        out,
                    );
                }
            }
        }
    }
}

/// A notebook field that is a string or a list of strings (nbformat stores lines as a list).
fn lines(v: Option<&serde_json::Value>) -> Vec<String> {
    match v {
        Some(serde_json::Value::String(s)) => vec![s.clone()],
        Some(serde_json::Value::Array(a)) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

/// The last secret-like identifier or string literal of a line of code (`os.environ["DB_PASSWORD"]`
/// → `DB_PASSWORD`, `print(api_key)` → `api_key`).
fn secret_word(line: &str) -> Option<String> {
    line.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .rev()
        .find(|w| secret_name(w.as_bytes()))
        .map(str::to_string)
}

/// Where the JSON encoding of `s` sits in the file (inside its quotes), searching from `cursor`
/// on (outputs appear in file order) and then from the top.
fn locate(content: &[u8], cursor: &mut usize, s: &str) -> Option<(usize, usize)> {
    let encoded = serde_json::to_string(s).ok()?;
    let needle = &encoded.as_bytes()[1..encoded.len() - 1];
    if needle.len() < 4 {
        return None;
    }
    let from = (*cursor).min(content.len());
    let at = memchr::memmem::find(&content[from..], needle)
        .map(|p| from + p)
        .or_else(|| memchr::memmem::find(content, needle))?;
    *cursor = at + needle.len();
    Some((at, at + needle.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(path: &str, content: &str) -> Vec<(String, String)> {
        views(path, content.as_bytes())
            .into_iter()
            .map(|d| {
                (
                    content[d.start..d.end].to_string(),
                    String::from_utf8(d.text).unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn sql_values_are_named_by_their_columns() {
        let dump = "CREATE TABLE `t` (\n `id` int,\n `name` varchar(9) DEFAULT 'a,b',\n `api_key` text,\n PRIMARY KEY (`id`)\n);\nINSERT INTO `t` VALUES (1,'x(,)y','k1k1k1k1'),(2,'it''s','k2k2k2k2');\nINSERT INTO u (id, password, settings) VALUES (1, '$2y$10$abcdefghijklmnopqrstuv', '{\\\"token\\\":\\\"z\\\"}');\n";
        let v = texts("dump.sql", dump);
        assert_eq!(
            v,
            vec![
                ("k1k1k1k1".into(), "api_key = \"k1k1k1k1\"\n".into()),
                ("k2k2k2k2".into(), "api_key = \"k2k2k2k2\"\n".into()),
                (
                    "{\\\"token\\\":\\\"z\\\"}".into(),
                    "{\"token\":\"z\"}".into()
                ),
            ]
        );
    }

    #[test]
    fn copy_rows_and_csv_headers_name_values() {
        let dump = "COPY public.keys (id, client_secret) FROM stdin;\n1\tabcd1234\n2\t\\N\n\\.\n";
        assert_eq!(
            texts("x.sql", dump),
            vec![("abcd1234".into(), "client_secret = \"abcd1234\"\n".into())]
        );
        let csv = "id,email,api_token\n1,a@b.io,\"tok,en12\"\n2,c@d.io,zzzz9999\r\n";
        assert_eq!(
            texts("export.csv", csv),
            vec![
                ("tok,en12".into(), "api_token = \"tok,en12\"\n".into()),
                ("zzzz9999".into(), "api_token = \"zzzz9999\"\n".into()),
            ]
        );
    }

    #[test]
    fn notebook_outputs_are_located_in_the_file() {
        let nb = r#"{"cells": [{"cell_type": "code", "source": ["import os\n", "os.environ[\"DB_PASSWORD\"]"],
 "outputs": [{"output_type": "execute_result", "data": {"text/plain": ["'hunter2x9'"]}},
  {"output_type": "stream", "text": ["{\"api_key\": \"abc\"}\n"]}]}]}"#;
        let v = texts("a.ipynb", nb);
        assert_eq!(
            v[0],
            ("'hunter2x9'".into(), "DB_PASSWORD = \"hunter2x9\"\n".into())
        );
        assert_eq!(v[1].1, "{\"api_key\": \"abc\"}\n");
        assert_eq!(v[1].0, r#"{\"api_key\": \"abc\"}\n"#);
    }
}
