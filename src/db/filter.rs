//! Compiles a [`Filter`] into a parameterised `WHERE` fragment for one backend.
//!
//! Every literal and every attribute key becomes a bind parameter; the SQL text is built only
//! from the fixed pieces below. The dialects differ in three places: SQLite has no `ILIKE`
//! (lowercase both sides; `LIKE` is made case-sensitive at connect time to match PostgreSQL),
//! PostgreSQL's `->` on JSONB needs a cast to compare as JSON text, and booleans in JSON
//! compare through their JSON text (`true`/`false`) on both.

use crate::domain::Timestamp;
use crate::domain::filter::{Cast, Column, Field, Filter, Literal};

use super::Backend;

/// A value bound to a placeholder.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Param {
    Text(String),
    Int(i64),
    Float(f64),
    Uuid(uuid::Uuid),
    Time(Timestamp),
}

/// A compiled filter: SQL using `$first…` placeholders, and the values for them in order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SqlFilter {
    pub sql: String,
    pub params: Vec<Param>,
}

/// Binds each [`Param`] in order onto a sqlx query (`query`, `query_as` or `query_scalar`).
macro_rules! bind_params {
    ($query:expr, $params:expr) => {{
        let mut query = $query;
        for param in $params {
            query = match param {
                $crate::db::filter::Param::Text(v) => query.bind(v.clone()),
                $crate::db::filter::Param::Int(v) => query.bind(*v),
                $crate::db::filter::Param::Float(v) => query.bind(*v),
                $crate::db::filter::Param::Uuid(v) => query.bind(*v),
                $crate::db::filter::Param::Time(v) => query.bind(*v),
            };
        }
        query
    }};
}
pub(crate) use bind_params;

/// Compiles `filter` for `backend`, numbering placeholders from `$first`.
pub(crate) fn compile(filter: &Filter, backend: Backend, first: usize) -> SqlFilter {
    let mut compiler = Compiler {
        backend,
        next: first,
        params: Vec::new(),
    };
    let sql = compiler.filter(filter);
    SqlFilter {
        sql,
        params: compiler.params,
    }
}

struct Compiler {
    backend: Backend,
    next: usize,
    params: Vec<Param>,
}

impl Compiler {
    fn bind(&mut self, param: Param) -> String {
        self.params.push(param);
        self.next += 1;
        format!("${}", self.next - 1)
    }

    fn filter(&mut self, filter: &Filter) -> String {
        match filter {
            Filter::And(a, b) => format!("({} AND {})", self.filter(a), self.filter(b)),
            Filter::Or(a, b) => format!("({} OR {})", self.filter(a), self.filter(b)),
            Filter::Not(inner) => format!("(NOT {})", self.filter(inner)),
            Filter::Compare { field, op, value } => {
                let (lhs, rhs) = self.operands(field, value);
                format!("{lhs} {} {rhs}", op.as_sql())
            }
            Filter::Like {
                field,
                pattern,
                negated,
                case_insensitive,
            } => {
                let lhs = self.field(field, None);
                let rhs = self.bind(Param::Text(pattern.clone()));
                let not = if *negated { "NOT " } else { "" };
                // `\` escapes on both (PostgreSQL's default; SQLite has none unless told).
                match (case_insensitive, self.backend) {
                    (false, _) => format!("{lhs} {not}LIKE {rhs} ESCAPE '\\'"),
                    (true, Backend::Postgres) => format!("{lhs} {not}ILIKE {rhs} ESCAPE '\\'"),
                    (true, Backend::Sqlite) => {
                        format!("lower({lhs}) {not}LIKE lower({rhs}) ESCAPE '\\'")
                    }
                }
            }
            Filter::In {
                field,
                values,
                negated,
            } => {
                // The field's SQL form depends on the literal kind (numbers compare as numbers),
                // so it is taken from the first value; the parser makes all of one kind.
                let mut lhs = String::new();
                let mut rhs = Vec::with_capacity(values.len());
                for value in values {
                    let (l, r) = self.operands(field, value);
                    lhs = l;
                    rhs.push(r);
                }
                let not = if *negated { "NOT " } else { "" };
                format!("{lhs} {not}IN ({})", rhs.join(", "))
            }
            Filter::IsNull { field, negated } => {
                let lhs = self.field(field, None);
                format!("{lhs} IS {}NULL", if *negated { "NOT " } else { "" })
            }
        }
    }

    /// The field and the bound value, each in the form that makes them comparable.
    fn operands(&mut self, field: &Field, value: &Literal) -> (String, String) {
        let lhs = self.field(field, Some(value));
        let numeric_attribute = matches!(field, Field::Attribute { .. })
            && effective_cast(field, Some(value)) == Some(Cast::Number);
        let rhs = match value {
            Literal::Text(text) => self.bind(Param::Text(text.clone())),
            Literal::Int(n) if matches!(field, Field::Attribute { .. }) => {
                self.bind(Param::Float(*n as f64))
            }
            Literal::Int(n) => self.bind(Param::Int(*n)),
            Literal::Float(x) => self.bind(Param::Float(*x)),
            Literal::Bool(b) => self.bind(Param::Text(b.to_string())),
            Literal::Uuid(u) => self.bind(Param::Uuid(*u)),
            Literal::Time(t) => self.bind(Param::Time(*t)),
        };
        // Attributes compare as NUMERIC on PostgreSQL (see `postgres_attribute`); the
        // literal goes the same way, or PostgreSQL would turn both into doubles.
        let rhs = if numeric_attribute && self.backend == Backend::Postgres {
            format!("CAST({rhs} AS NUMERIC)")
        } else {
            rhs
        };
        (lhs, rhs)
    }

    fn field(&mut self, field: &Field, compared_with: Option<&Literal>) -> String {
        let Field::Attribute { path, .. } = field else {
            let Field::Column(column) = field else {
                unreachable!()
            };
            return column_sql(*column).to_owned();
        };
        let effective = effective_cast(field, compared_with);
        match self.backend {
            Backend::Postgres => self.postgres_attribute(path, effective),
            Backend::Sqlite => self.sqlite_attribute(path, effective),
        }
    }

    /// An attribute on PostgreSQL: `->` for each key but the last, then `->>` for its text.
    /// Only JSON numbers and strings that are plain decimals compare as numbers; any other
    /// value is NULL there (so no comparison holds), where a bare cast would fail the whole
    /// query on the first reader whose value is not a number. Numbers compare as NUMERIC,
    /// which holds any JSON number exactly (a double overflows on `1e400`, and fails the
    /// query); a decimal string counts up to 255 characters, on both databases.
    fn postgres_attribute(&mut self, path: &[String], cast: Option<Cast>) -> String {
        let (last, init) = path.split_last().expect("an attribute path is never empty");
        let mut json = String::from("subscribers.attribs");
        for key in init {
            let p = self.bind(Param::Text(key.clone()));
            json = format!("{json}->{p}");
        }
        let last = self.bind(Param::Text(last.clone()));
        let value = format!("{json}->{last}");
        let text = format!("({json}->>{last})");
        match cast {
            None | Some(Cast::Text) => text,
            Some(Cast::Number) => format!(
                "(CASE WHEN jsonb_typeof({value}) = 'number' THEN CAST({value} AS NUMERIC) \
                 WHEN jsonb_typeof({value}) = 'string' \
                 AND {text} ~ '^-?[0-9]+(\\.[0-9]+)?$' AND length(ltrim({text}, '-')) <= {MAX_DECIMAL} \
                 THEN CAST({text} AS NUMERIC) END)"
            ),
            // JSON true/false, compared through its JSON text on both backends.
            Some(Cast::Bool) => format!("CAST({value} AS TEXT)"),
        }
    }

    /// An attribute on SQLite, reached by one quoted JSON path (`$."a"."b"`): a bare key
    /// would be read as a path itself when it starts with `$` or holds a `.`. Its text is the
    /// text PostgreSQL's `->>` gives (SQLite's `->>` gives numbers as numbers and booleans as
    /// 1 and 0), and numbers follow the same rule as there.
    fn sqlite_attribute(&mut self, path: &[String], cast: Option<Cast>) -> String {
        let quoted: String = path.iter().map(|key| format!(".\"{key}\"")).collect();
        let p = self.bind(Param::Text(format!("${quoted}")));
        let json = "subscribers.attribs";
        let kind = format!("json_type({json}, {p})");
        let raw = format!("({json} ->> {p})");
        match cast {
            None | Some(Cast::Text) => format!(
                "(CASE {kind} WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' \
                 ELSE CAST({raw} AS TEXT) END)"
            ),
            Some(Cast::Number) => {
                let digits = format!(
                    "(CASE WHEN substr({raw}, 1, 1) = '-' THEN substr({raw}, 2) ELSE {raw} END)"
                );
                format!(
                    "(CASE WHEN {kind} IN ('integer', 'real') THEN {raw} \
                     WHEN {kind} = 'text' AND {digits} GLOB '[0-9]*' \
                     AND {digits} NOT GLOB '*[^0-9.]*' AND {digits} NOT GLOB '*.*.*' \
                     AND {digits} NOT GLOB '*.' AND length({digits}) <= {MAX_DECIMAL} \
                     THEN CAST({raw} AS REAL) END)"
                )
            }
            Some(Cast::Bool) => format!("({json} -> {p})"),
        }
    }
}

/// The longest text (sign aside) a string attribute may be to compare as a number.
const MAX_DECIMAL: usize = 255;

/// How an attribute compares: as its cast says, else as the literal it meets (a number
/// makes it numeric, a boolean boolean), else as text.
fn effective_cast(field: &Field, compared_with: Option<&Literal>) -> Option<Cast> {
    let Field::Attribute { cast, .. } = field else {
        return None;
    };
    match (cast, compared_with) {
        (Some(cast), _) => Some(*cast),
        (None, Some(Literal::Int(_) | Literal::Float(_))) => Some(Cast::Number),
        (None, Some(Literal::Bool(_))) => Some(Cast::Bool),
        _ => None,
    }
}

fn column_sql(column: Column) -> &'static str {
    match column {
        Column::Id => "subscribers.id",
        Column::Uuid => "subscribers.uuid",
        Column::Email => "subscribers.email",
        Column::Name => "subscribers.name",
        Column::Status => "subscribers.status",
        Column::CreatedAt => "subscribers.created_at",
        Column::UpdatedAt => "subscribers.updated_at",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::filter::parse;

    #[test]
    fn literals_and_keys_become_parameters() {
        let filter = parse("subscribers.attribs->>'city' = 'İzmir'' OR 1=1 --'").unwrap();
        let compiled = compile(&filter, Backend::Postgres, 1);
        assert_eq!(compiled.sql, "(subscribers.attribs->>$1) = $2");
        let on_sqlite = compile(&filter, Backend::Sqlite, 1);
        assert_eq!(on_sqlite.params[0], Param::Text("$.\"city\"".into()));
        assert_eq!(
            compiled.params,
            [
                Param::Text("city".into()),
                Param::Text("İzmir' OR 1=1 --".into())
            ]
        );
    }

    #[test]
    fn ilike_is_lowercased_like_on_sqlite() {
        let filter = parse("name ILIKE '%ayşe%'").unwrap();
        assert_eq!(
            compile(&filter, Backend::Sqlite, 3).sql,
            "lower(subscribers.name) LIKE lower($3) ESCAPE '\\'"
        );
        assert_eq!(
            compile(&filter, Backend::Postgres, 3).sql,
            "subscribers.name ILIKE $3 ESCAPE '\\'"
        );
    }

    #[test]
    fn attributes_compared_with_numbers_are_numeric_only_where_they_hold_numbers() {
        let filter = parse("attribs->'a'->>'age' >= 18").unwrap();
        let compiled = compile(&filter, Backend::Postgres, 1);
        assert!(compiled.sql.contains("jsonb_typeof"), "{}", compiled.sql);
        assert!(
            compiled.sql.ends_with(">= CAST($3 AS NUMERIC)"),
            "{}",
            compiled.sql
        );
        assert_eq!(compiled.params[2], Param::Float(18.0));
        let compiled = compile(&filter, Backend::Sqlite, 1);
        assert_eq!(compiled.params[0], Param::Text("$.\"a\".\"age\"".into()));
        assert_eq!(compiled.params[1], Param::Float(18.0));
    }
}
