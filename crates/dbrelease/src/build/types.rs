//! Which DuckDB types survive the trip DuckDB → Arrow → Parquet → DuckDB unchanged, and the
//! documented conversions for those that do not.
//!
//! Pure functions over DuckDB's own type strings (as `duckdb_columns()` prints them), parsed
//! into a small tree so that conversions apply inside LIST, ARRAY, STRUCT and MAP as well.
//!
//! | source type                        | written as / read back as  | why                          |
//! |------------------------------------|----------------------------|------------------------------|
//! | HUGEINT, UHUGEINT                  | DECIMAL(38,0)              | Parquet has no 128-bit int; values beyond 38 digits are refused |
//! | ENUM(...)                          | VARCHAR                    | Parquet stores the labels as strings |
//! | UUID                               | VARCHAR                    | canonical text form; `CAST(x AS UUID)` restores it |
//! | INTERVAL, TIME WITH TIME ZONE, BIT, BIGNUM, UNION | VARCHAR     | no exact Parquet type; DuckDB's text form casts back |
//! | TIMESTAMP_S, TIMESTAMP_MS          | TIMESTAMP                  | same instants; Parquet has no seconds unit |
//! | fixed-size ARRAY `T[n]`            | LIST `T[]`                 | Parquet has no fixed-size list |

use std::fmt;

/// A parsed DuckDB type.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ty {
    /// A type without children, kept as written (e.g. `DECIMAL(18,3)`, `TIMESTAMP WITH TIME ZONE`).
    Simple(String),
    /// An ENUM, kept as written.
    Enum(String),
    /// `T[]`
    List(Box<Ty>),
    /// `T[n]`
    Array(Box<Ty>, String),
    /// `STRUCT(name T, ...)`; names kept as written (quoted when DuckDB quoted them).
    Struct(Vec<(String, Ty)>),
    /// `UNION(name T, ...)`
    Union(Vec<(String, Ty)>),
    /// `MAP(K, V)`
    Map(Box<Ty>, Box<Ty>),
}

impl fmt::Display for Ty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ty::Simple(text) | Ty::Enum(text) => f.write_str(text),
            Ty::List(child) => write!(f, "{child}[]"),
            Ty::Array(child, size) => write!(f, "{child}[{size}]"),
            Ty::Struct(fields) | Ty::Union(fields) => {
                let keyword = if matches!(self, Ty::Struct(_)) {
                    "STRUCT"
                } else {
                    "UNION"
                };
                write!(f, "{keyword}(")?;
                for (index, (name, ty)) in fields.iter().enumerate() {
                    if index > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{name} {ty}")?;
                }
                f.write_str(")")
            }
            Ty::Map(key, value) => write!(f, "MAP({key}, {value})"),
        }
    }
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn skip_spaces(&mut self) {
        while self.peek() == Some(' ') {
            self.pos += 1;
        }
    }

    fn expect(&mut self, wanted: char) -> Result<(), String> {
        self.skip_spaces();
        if self.peek() == Some(wanted) {
            self.pos += wanted.len_utf8();
            Ok(())
        } else {
            Err(format!(
                "expected '{wanted}' at offset {} in type {:?}",
                self.pos, self.text
            ))
        }
    }

    /// Text up to the matching close paren, honouring quotes; the cursor ends after it.
    fn balanced(&mut self) -> Result<&'a str, String> {
        let start = self.pos;
        let mut depth = 0usize;
        let mut quote: Option<char> = None;
        for (offset, c) in self.text[start..].char_indices() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '\'' | '"') => quote = Some(c),
                (None, '(') => depth += 1,
                (None, ')') => {
                    depth -= 1;
                    if depth == 0 {
                        self.pos = start + offset + 1;
                        return Ok(&self.text[start..self.pos]);
                    }
                }
                _ => {}
            }
        }
        Err(format!("unbalanced parentheses in type {:?}", self.text))
    }

    /// A STRUCT/UNION field name: a quoted identifier or a word.
    fn field_name(&mut self) -> Result<String, String> {
        self.skip_spaces();
        let start = self.pos;
        if self.peek() == Some('"') {
            self.pos += 1;
            loop {
                match self.peek() {
                    Some('"') if self.text[self.pos + 1..].starts_with('"') => self.pos += 2,
                    Some('"') => {
                        self.pos += 1;
                        break;
                    }
                    Some(c) => self.pos += c.len_utf8(),
                    None => return Err(format!("unterminated quote in type {:?}", self.text)),
                }
            }
        } else {
            while let Some(c) = self.peek() {
                if c == ' ' {
                    break;
                }
                self.pos += c.len_utf8();
            }
        }
        Ok(self.text[start..self.pos].to_string())
    }

    fn fields(&mut self) -> Result<Vec<(String, Ty)>, String> {
        self.expect('(')?;
        let mut fields = Vec::new();
        loop {
            let name = self.field_name()?;
            let ty = self.parse()?;
            fields.push((name, ty));
            self.skip_spaces();
            match self.peek() {
                Some(',') => self.pos += 1,
                Some(')') => {
                    self.pos += 1;
                    return Ok(fields);
                }
                _ => return Err(format!("malformed field list in type {:?}", self.text)),
            }
        }
    }

    fn parse(&mut self) -> Result<Ty, String> {
        self.skip_spaces();
        let start = self.pos;
        while let Some(c) = self.peek() {
            if "([,)".contains(c) {
                break;
            }
            self.pos += c.len_utf8();
        }
        let name = self.text[start..self.pos].trim_end().to_string();
        let mut ty = match name.to_ascii_uppercase().as_str() {
            "STRUCT" => Ty::Struct(self.fields()?),
            "UNION" => Ty::Union(self.fields()?),
            "MAP" => {
                self.expect('(')?;
                let key = self.parse()?;
                self.expect(',')?;
                let value = self.parse()?;
                self.expect(')')?;
                Ty::Map(Box::new(key), Box::new(value))
            }
            "ENUM" => {
                let args = self.balanced()?;
                Ty::Enum(format!("{name}{args}"))
            }
            _ if self.peek() == Some('(') => {
                let args = self.balanced()?;
                Ty::Simple(format!("{name}{args}"))
            }
            _ => Ty::Simple(name),
        };
        while self.peek() == Some('[') {
            let close = self.text[self.pos..]
                .find(']')
                .ok_or_else(|| format!("unclosed '[' in type {:?}", self.text))?;
            let size = self.text[self.pos + 1..self.pos + close].to_string();
            self.pos += close + 1;
            ty = if size.is_empty() {
                Ty::List(Box::new(ty))
            } else {
                Ty::Array(Box::new(ty), size)
            };
        }
        Ok(ty)
    }
}

fn parse(text: &str) -> Result<Ty, String> {
    let mut parser = Parser { text, pos: 0 };
    let ty = parser.parse()?;
    parser.skip_spaces();
    if parser.pos != text.len() {
        return Err(format!(
            "unexpected text at offset {} in type {text:?}",
            parser.pos
        ));
    }
    Ok(ty)
}

/// Types written through a cast (see the module table).
fn cast_for_export(ty: &Ty) -> Ty {
    match ty {
        Ty::Simple(name) => match name.to_ascii_uppercase().as_str() {
            "HUGEINT" | "UHUGEINT" => Ty::Simple("DECIMAL(38,0)".into()),
            // Parquet has no seconds unit and arrow-rs would write plain INT64.
            "TIMESTAMP_S" | "TIMESTAMP_MS" => Ty::Simple("TIMESTAMP".into()),
            "UUID" | "INTERVAL" | "TIME WITH TIME ZONE" | "BIT" | "BIGNUM" | "VARINT" => {
                Ty::Simple("VARCHAR".into())
            }
            _ => ty.clone(),
        },
        Ty::Enum(_) | Ty::Union(_) => Ty::Simple("VARCHAR".into()),
        Ty::List(child) => Ty::List(Box::new(cast_for_export(child))),
        Ty::Array(child, size) => Ty::Array(Box::new(cast_for_export(child)), size.clone()),
        Ty::Struct(fields) => Ty::Struct(
            fields
                .iter()
                .map(|(name, child)| (name.clone(), cast_for_export(child)))
                .collect(),
        ),
        Ty::Map(key, value) => Ty::Map(
            Box::new(cast_for_export(key)),
            Box::new(cast_for_export(value)),
        ),
    }
}

/// What DuckDB reads back from Parquet for an (already cast) exported type: only the
/// shape changes (fixed-size arrays become lists).
fn read_back(ty: &Ty) -> Ty {
    match ty {
        Ty::Simple(_) | Ty::Enum(_) | Ty::Union(_) => ty.clone(),
        Ty::List(child) | Ty::Array(child, _) => Ty::List(Box::new(read_back(child))),
        Ty::Struct(fields) => Ty::Struct(
            fields
                .iter()
                .map(|(name, child)| (name.clone(), read_back(child)))
                .collect(),
        ),
        Ty::Map(key, value) => Ty::Map(Box::new(read_back(key)), Box::new(read_back(value))),
    }
}

/// How one column is exported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnExport {
    /// Type to `CAST` the column to in the export query, when one is needed.
    pub cast_to: Option<String>,
    /// Type DuckDB reads back from the Parquet file.
    pub read_back_type: String,
}

/// Plans the export of a column of `duckdb_type`; errors name what could not be understood.
pub fn plan_column(duckdb_type: &str) -> Result<ColumnExport, String> {
    let source = parse(duckdb_type)?;
    let cast = cast_for_export(&source);
    let read_back_type = read_back(&cast).to_string();
    Ok(ColumnExport {
        cast_to: (cast != source).then(|| cast.to_string()),
        read_back_type,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_types_need_no_cast_and_read_back_unchanged() {
        for ty in [
            "BIGINT",
            "DECIMAL(18,3)",
            "TIMESTAMP WITH TIME ZONE",
            "VARCHAR[]",
            "STRUCT(\"x y\" INTEGER, z VARCHAR)",
            "MAP(VARCHAR, DOUBLE[])",
        ] {
            let plan = plan_column(ty).unwrap();
            assert_eq!(plan.cast_to, None, "{ty}");
            assert_eq!(plan.read_back_type, ty);
        }
    }

    #[test]
    fn conversions_apply_inside_nested_types() {
        let plan = plan_column("STRUCT(\"x, y\" ENUM('a', 'b)'), z HUGEINT, w UUID[])").unwrap();
        assert_eq!(
            plan.cast_to.as_deref(),
            Some("STRUCT(\"x, y\" VARCHAR, z DECIMAL(38,0), w VARCHAR[])")
        );
        let plan = plan_column("MAP(VARCHAR, ENUM('sad', 'ok'))").unwrap();
        assert_eq!(plan.cast_to.as_deref(), Some("MAP(VARCHAR, VARCHAR)"));
        let plan = plan_column("INTEGER[3]").unwrap();
        assert_eq!(plan.cast_to, None);
        assert_eq!(plan.read_back_type, "INTEGER[]");
        let plan = plan_column("TIMESTAMP_MS").unwrap();
        assert_eq!(plan.read_back_type, "TIMESTAMP");
        let plan = plan_column("UNION(a INTEGER, b VARCHAR)").unwrap();
        assert_eq!(plan.cast_to.as_deref(), Some("VARCHAR"));
    }

    #[test]
    fn malformed_types_are_reported() {
        assert!(plan_column("STRUCT(a INTEGER").is_err());
        assert!(plan_column("INTEGER[").is_err());
    }
}
