//! Text from the data or from a server, made safe for where it is shown: a terminal or Actions
//! log (workflow commands), and Markdown (release notes, step summaries). Used by every writer
//! of such text; depends on nothing.

/// Text that may carry names from the data or answers from a server (a table called
/// `"x\n::error::y"`), made safe to print where GitHub Actions reads workflow commands: a line
/// that would start with `::` gets a `\` first, and carriage returns and other control
/// characters (but newline and tab) are shown escaped, so nothing can start a command or
/// repaint the terminal.
pub fn terminal_safe(text: &str) -> String {
    let mut safe = String::with_capacity(text.len());
    for (index, line) in text.split('\n').enumerate() {
        if index > 0 {
            safe.push('\n');
        }
        if line.trim_start().starts_with("::") {
            safe.push('\\');
        }
        for c in line.chars() {
            match c {
                '\t' => safe.push(c),
                c if c.is_control() => safe.push_str(&c.escape_default().to_string()),
                c => safe.push(c),
            }
        }
    }
    safe
}

/// Text from the data (a table name, a server's message) as literal Markdown: every character
/// that Markdown or HTML reads as syntax where this text goes (inline, in a table cell, a list
/// item or a quote) is escaped and line breaks become spaces, so a name cannot add links, HTML,
/// table cells or headings to release notes or a step summary. Plain names stay readable:
/// `daily_availability.parquet` is unchanged.
pub fn markdown_text(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut safe = String::with_capacity(text.len());
    for (index, &c) in chars.iter().enumerate() {
        let alphanumeric = |at: Option<&char>| at.is_some_and(|c| c.is_alphanumeric());
        match c {
            '<' => safe.push_str("&lt;"),
            '>' => safe.push_str("&gt;"),
            '&' => safe.push_str("&amp;"),
            c if c.is_control() => safe.push(' '),
            '\\' | '`' | '*' | '[' | ']' | '|' | '~' => {
                safe.push('\\');
                safe.push(c);
            }
            // Inside a word `_` is text (GitHub Flavored Markdown); at its edges, emphasis.
            '_' if !(index > 0
                && alphanumeric(chars.get(index - 1))
                && alphanumeric(chars.get(index + 1))) =>
            {
                safe.push_str("\\_");
            }
            // At the start, these would open a heading, a list or a quote.
            '#' | '+' | '-' | '=' | '!' if index == 0 => {
                safe.push('\\');
                safe.push(c);
            }
            c => safe.push(c),
        }
    }
    safe
}

/// Text as literal HTML (element content or a quoted attribute value): the five characters
/// HTML reads as markup become entities, so a name from the data cannot add elements.
pub fn html_text(text: &str) -> String {
    let mut safe = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => safe.push_str("&amp;"),
            '<' => safe.push_str("&lt;"),
            '>' => safe.push_str("&gt;"),
            '"' => safe.push_str("&quot;"),
            '\'' => safe.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => safe.push(' '),
            c => safe.push(c),
        }
    }
    safe
}

/// Writes log lines to stderr through [`terminal_safe`] (tracing escapes ANSI sequences in
/// values, not line breaks).
pub struct SafeStderr;

impl std::io::Write for SafeStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        std::io::stderr().write_all(terminal_safe(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cannot_start_workflow_commands_or_repaint_the_terminal() {
        let hostile = "table x\n::error::pwned\r\n  ::add-mask::secret\u{1b}[2J";
        let safe = terminal_safe(hostile);
        assert!(
            safe.lines().all(|l| !l.trim_start().starts_with("::")),
            "{safe}"
        );
        assert!(!safe.contains('\r') && !safe.contains('\u{1b}'), "{safe:?}");
        assert_eq!(
            terminal_safe("plain\n  indented: ok"),
            "plain\n  indented: ok"
        );
    }

    #[test]
    fn names_stay_literal_in_markdown() {
        let safe = markdown_text("x|y <img src=a> [link](http://e) `code`\n# head");
        assert!(!safe.contains('<') && !safe.contains('\n'), "{safe}");
        // Every bracket, pipe and backtick is escaped.
        let chars: Vec<char> = safe.chars().collect();
        for (index, c) in chars.iter().enumerate() {
            if "[]|`".contains(*c) {
                assert!(index > 0 && chars[index - 1] == '\\', "{safe}");
            }
        }
        assert_eq!(
            markdown_text("daily_availability.parquet: v1.0.0"),
            "daily_availability.parquet: v1.0.0"
        );
        assert_eq!(markdown_text("# _x_"), "\\# \\_x\\_");
    }

    #[test]
    fn names_stay_literal_in_html() {
        let safe = html_text("<script>alert('x')</script> & \"q\"");
        assert_eq!(
            safe,
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
    }
}
