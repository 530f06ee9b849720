//! Go's regular-expression syntax (RE2 as Go's `regexp` reads it) rewritten into the `regex` crate's.
//!
//! Moby turns every `.dockerignore` pattern with a wildcard or an escape into a Go regular expression,
//! so `\d`, `[a&&b]` or `\<` mean what Go says, not what Rust says. The differences handled here: Go's
//! `\d \s \w \b` are ASCII; `\<`, `\>`, `\#`… are plain punctuation; `\123` is octal and `\1` an error;
//! `\Q…\E` quotes; inside a class `[`, `&&`, `--` and `~~` are plain characters. Every literal is
//! written out as `\x{…}` so nothing else can be read as syntax. What Go refuses is refused.

/// Translates a Go regular expression into the `regex` crate's syntax; `Err` says why Go refuses it.
pub fn translate(src: &str) -> Result<String, String> {
    let mut p = Parser {
        c: src.chars().collect(),
        i: 0,
        out: String::with_capacity(src.len() * 2),
    };
    p.top()?;
    Ok(p.out)
}

struct Parser {
    c: Vec<char>,
    i: usize,
    out: String,
}

/// What the last token allows next: a repetition operator needs an operand, and may not follow another.
#[derive(PartialEq, Clone, Copy)]
enum Last {
    Nothing,
    Atom,
    Repeat,
    Lazy,
}

fn lit(c: char) -> String {
    format!("\\x{{{:X}}}", c as u32)
}

const DIGIT: &str = "0-9";
const SPACE: &str = "\\t\\n\\x0C\\r ";
const WORD: &str = "0-9A-Za-z_";

impl Parser {
    fn peek(&self) -> Option<char> {
        self.c.get(self.i).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        self.i += 1;
        c
    }

    fn top(&mut self) -> Result<(), String> {
        let mut depth = 0usize;
        let mut last = Last::Nothing;
        while let Some(c) = self.next() {
            last = match c {
                '(' => {
                    if self.peek() == Some('?') {
                        return Err("flags and named groups are not supported here".into());
                    }
                    depth += 1;
                    self.out.push('(');
                    Last::Nothing
                }
                ')' => {
                    if depth == 0 {
                        return Err("unexpected )".into());
                    }
                    depth -= 1;
                    self.out.push(')');
                    Last::Atom
                }
                '|' => {
                    self.out.push('|');
                    Last::Nothing
                }
                '^' | '$' | '.' => {
                    self.out.push(c);
                    Last::Atom
                }
                '*' | '+' | '?' => self.repeat(c, last)?,
                '[' => {
                    self.class()?;
                    Last::Atom
                }
                '\\' => {
                    self.top_escape()?;
                    Last::Atom
                }
                _ => {
                    self.out.push_str(&lit(c));
                    Last::Atom
                }
            };
        }
        if depth > 0 {
            return Err("missing closing )".into());
        }
        Ok(())
    }

    fn repeat(&mut self, c: char, last: Last) -> Result<Last, String> {
        match last {
            Last::Nothing => Err(format!("missing argument to repetition operator: `{c}`")),
            Last::Repeat if c == '?' => {
                self.out.push('?');
                Ok(Last::Lazy)
            }
            Last::Repeat | Last::Lazy => Err(format!("invalid nested repetition operator: `{c}`")),
            Last::Atom => {
                self.out.push(c);
                Ok(Last::Repeat)
            }
        }
    }

    /// An escape outside a class.
    fn top_escape(&mut self) -> Result<(), String> {
        let Some(c) = self.peek() else {
            return Err("trailing backslash at end of expression".into());
        };
        match c {
            'A' | 'z' | 'B' => {
                self.i += 1;
                self.out.push('\\');
                self.out.push(c);
            }
            'b' => {
                self.i += 1;
                self.out.push_str("(?-u:\\b)");
            }
            'C' => return Err("invalid escape sequence: `\\C`".into()),
            'Q' => {
                self.i += 1;
                while let Some(q) = self.next() {
                    if q == '\\' && self.peek() == Some('E') {
                        self.i += 1;
                        break;
                    }
                    self.out.push_str(&lit(q));
                }
            }
            'd' | 'D' | 's' | 'S' | 'w' | 'W' => {
                self.i += 1;
                let set = perl(c);
                let neg = if c.is_ascii_uppercase() { "^" } else { "" };
                self.out.push_str(&format!("[{neg}{set}]"));
            }
            'p' | 'P' => {
                let u = self.unicode_class()?;
                self.out.push_str(&u);
            }
            _ => {
                let r = self.escape()?;
                self.out.push_str(&lit(r));
            }
        }
        Ok(())
    }

    /// `\pL`, `\p{Greek}`, `\p{^Greek}`, `\PL` (the cursor is on `p`/`P`).
    fn unicode_class(&mut self) -> Result<String, String> {
        let sign = self.next() == Some('p');
        let name: String = match self.next() {
            Some('{') => {
                let mut n = String::new();
                loop {
                    match self.next() {
                        Some('}') => break,
                        Some(ch) => n.push(ch),
                        None => return Err("invalid character class range".into()),
                    }
                }
                n
            }
            Some(ch) => ch.to_string(),
            None => return Err("invalid character class range".into()),
        };
        let (sign, name) = match name.strip_prefix('^') {
            Some(rest) => (!sign, rest.to_string()),
            None => (sign, name),
        };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("invalid character class range: {name}"));
        }
        Ok(format!("\\{}{{{name}}}", if sign { 'p' } else { 'P' }))
    }

    /// Go's `parseEscape` (the cursor is after the backslash): one character.
    fn escape(&mut self) -> Result<char, String> {
        let Some(c) = self.next() else {
            return Err("trailing backslash at end of expression".into());
        };
        let octal = |c: Option<char>| c.is_some_and(|c| ('0'..='7').contains(&c));
        match c {
            '1'..='7' if !octal(self.peek()) => Err(format!(
                "invalid escape sequence: `\\{c}` (backreferences are not supported)"
            )),
            '0'..='7' => {
                let mut r = c as u32 - '0' as u32;
                for _ in 1..3 {
                    if !octal(self.peek()) {
                        break;
                    }
                    r = r * 8 + (self.next().unwrap_or('0') as u32 - '0' as u32);
                }
                char::from_u32(r).ok_or_else(|| "invalid escape".into())
            }
            'x' => self.hex(),
            'a' => Ok('\x07'),
            'f' => Ok('\x0C'),
            't' => Ok('\t'),
            'n' => Ok('\n'),
            'r' => Ok('\r'),
            'v' => Ok('\x0B'),
            c if c.is_ascii() && !c.is_ascii_alphanumeric() => Ok(c),
            c => Err(format!("invalid escape sequence: `\\{c}`")),
        }
    }

    fn hex(&mut self) -> Result<char, String> {
        let bad = || "invalid escape sequence: `\\x`".to_string();
        let mut digits = String::new();
        if self.peek() == Some('{') {
            self.i += 1;
            loop {
                match self.next() {
                    Some('}') => break,
                    Some(h) if h.is_ascii_hexdigit() => digits.push(h),
                    _ => return Err(bad()),
                }
            }
            if digits.is_empty() {
                return Err(bad());
            }
        } else {
            for _ in 0..2 {
                match self.next() {
                    Some(h) if h.is_ascii_hexdigit() => digits.push(h),
                    _ => return Err(bad()),
                }
            }
        }
        u32::from_str_radix(&digits, 16)
            .ok()
            .filter(|v| *v <= 0x10FFFF)
            .and_then(char::from_u32)
            .ok_or_else(bad)
    }

    /// A bracketed class (the cursor is after `[`), Go's `parseClass`.
    fn class(&mut self) -> Result<(), String> {
        let mut items = String::new();
        let negated = self.peek() == Some('^');
        if negated {
            self.i += 1;
        }
        let mut first = true;
        loop {
            match self.peek() {
                None => return Err("missing closing ]".into()),
                Some(']') if !first => {
                    self.i += 1;
                    break;
                }
                _ => {}
            }
            first = false;
            if let Some(named) = self.posix_class()? {
                items.push_str(&named);
                continue;
            }
            if self.peek() == Some('\\') {
                match self.c.get(self.i + 1).copied() {
                    Some(p @ ('p' | 'P')) => {
                        let _ = p;
                        self.i += 1;
                        items.push_str(&self.unicode_class()?);
                        continue;
                    }
                    Some(d @ ('d' | 'D' | 's' | 'S' | 'w' | 'W')) => {
                        self.i += 2;
                        if d.is_ascii_uppercase() {
                            items.push_str(&format!("[^{}]", perl(d)));
                        } else {
                            items.push_str(perl(d));
                        }
                        continue;
                    }
                    _ => {}
                }
            }
            let lo = self.class_char()?;
            let mut hi = lo;
            if self.peek() == Some('-') && self.c.get(self.i + 1).is_some_and(|c| *c != ']') {
                self.i += 1;
                hi = self.class_char()?;
                if hi < lo {
                    return Err("invalid character class range".into());
                }
            }
            items.push_str(&lit(lo));
            if hi != lo {
                items.push('-');
                items.push_str(&lit(hi));
            }
        }
        self.out.push('[');
        if negated {
            self.out.push('^');
        }
        self.out.push_str(&items);
        self.out.push(']');
        Ok(())
    }

    fn class_char(&mut self) -> Result<char, String> {
        match self.next() {
            None => Err("missing closing ]".into()),
            Some('\\') => self.escape(),
            Some(c) => Ok(c),
        }
    }

    /// `[:alpha:]` or `[:^alpha:]` inside a class; `None` when the text is not one.
    fn posix_class(&mut self) -> Result<Option<String>, String> {
        if self.peek() != Some('[') || self.c.get(self.i + 1) != Some(&':') {
            return Ok(None);
        }
        let rest: String = self.c[self.i + 2..].iter().collect();
        let Some(end) = rest.find(":]") else {
            return Ok(None);
        };
        let name = &rest[..end];
        let bare = name.strip_prefix('^').unwrap_or(name);
        const NAMES: [&str; 14] = [
            "alnum", "alpha", "ascii", "blank", "cntrl", "digit", "graph", "lower", "print",
            "punct", "space", "upper", "word", "xdigit",
        ];
        if !NAMES.contains(&bare) {
            return Err(format!("invalid character class range: [:{name}:]"));
        }
        self.i += 2 + name.chars().count() + 2;
        Ok(Some(format!("[:{name}:]")))
    }
}

fn perl(c: char) -> &'static str {
    match c.to_ascii_lowercase() {
        'd' => DIGIT,
        's' => SPACE,
        _ => WORD,
    }
}

#[cfg(test)]
mod tests {
    use super::translate;

    fn is(go: &str, s: &str) -> bool {
        regex::Regex::new(&translate(go).unwrap())
            .unwrap()
            .is_match(s)
    }

    #[test]
    fn go_escapes() {
        assert!(is(r"^a\<b\>$", "a<b>"), "\\< is a literal in Go");
        assert!(is(r"^\075$", "="), "octal");
        assert!(translate(r"^\1$").is_err(), "backreference");
        assert!(is(r"^\d$", "7") && !is(r"^\d$", "٣"), "ASCII digits only");
        assert!(is(r"^\w+$", "a_1") && !is(r"^\w$", "é"));
        assert!(is(r"^\Qa.b\E$", "a.b") && !is(r"^\Qa.b\E$", "axb"));
        assert!(
            translate(r"^\caret\^$").is_err(),
            "\\c is not an escape in Go"
        );
        assert!(translate(r"\C").is_err());
        assert!(is(r"^\x41\x{42}$", "AB"));
    }

    #[test]
    fn go_classes() {
        assert!(
            is("^[a&&b]$", "&") && is("^[a&&b]$", "b"),
            "&& is not intersection"
        );
        assert!(
            is("^[a[b]]$", "[]") && is("^[a[b]]$", "a]"),
            "[ is a literal in a class"
        );
        assert!(is("^[a-c--]$", "-"));
        assert!(is("^[[:alpha:]]$", "q") && !is("^[[:alpha:]]$", "1"));
        assert!(is("^[]a]$", "]"), "] first is a literal");
        assert!(is("^[^/]$", "\n"));
        assert!(translate("^[b-a]$").is_err());
        assert!(translate("^[ab$").is_err());
        assert!(translate("^[[:nope:]]$").is_err());
        assert!(is("^[[^/]*]$", "^/]"), "[[^/] is one class in Go");
    }

    #[test]
    fn repetition_rules() {
        assert!(translate("^a**$").is_err());
        assert!(translate("*a").is_err());
        assert!(is("^(.*/)?x$", "a/b/x"));
    }
}
