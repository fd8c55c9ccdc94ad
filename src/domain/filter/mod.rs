//! The subscriber filter language.
//!
//! listmonk's `query` parameter is a raw SQL `WHERE` clause. bulten accepts the same everyday
//! forms (`subscribers.email = 'a@b.c'`, `subscribers.attribs->>'city' = 'İzmir'`) but parses
//! them into the [`Filter`] tree below and compiles that tree to parameterised SQL for each
//! database (`db::filter`). Input is never pasted into SQL, and anything outside the language
//! is refused with an error naming the part that is not supported.
//!
//! # The language
//!
//! ```text
//! filter     := filter AND filter | filter OR filter | NOT filter | ( filter ) | predicate
//! predicate  := field op literal | field [NOT] LIKE 'pattern' | field [NOT] ILIKE 'pattern'
//!             | field [NOT] IN ( literal, ... ) | field IS [NOT] NULL
//! op         := = | != | <> | < | <= | > | >=
//! field      := [subscribers.]id | uuid | email | name | status | created_at | updated_at
//!             | [subscribers.]attribs ( -> 'key' )* ->> 'key'  [ ::type ]
//!             | CAST( attribute AS type )
//! type       := int | integer | bigint | numeric | decimal | float | real | double precision
//!             | text | varchar | bool | boolean
//! literal    := 'text' (with '' for a quote) | 123 | -1.5 | true | false
//! ```
//!
//! `created_at` and `updated_at` take an RFC 3339 time or a `YYYY-MM-DD` date; `uuid` takes a
//! UUID. An attribute compared with a number is compared numerically.

mod parse;

use std::fmt;

pub(crate) use parse::parse;

use super::Timestamp;

/// A parsed filter over subscribers.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    Compare {
        field: Field,
        op: CmpOp,
        value: Literal,
    },
    Like {
        field: Field,
        pattern: String,
        negated: bool,
        case_insensitive: bool,
    },
    In {
        field: Field,
        values: Vec<Literal>,
        negated: bool,
    },
    IsNull {
        field: Field,
        negated: bool,
    },
}

impl Filter {
    /// listmonk's free-text `search`: the text anywhere in the name or the address, in any
    /// case, with `%`, `_` and `\` taken literally. `None` for blank text.
    pub fn search(text: &str) -> Option<Filter> {
        let text = text.trim();
        if text.is_empty() {
            return None;
        }
        let mut pattern = String::with_capacity(text.len() + 2);
        pattern.push('%');
        for c in text.chars() {
            if matches!(c, '%' | '_' | '\\') {
                pattern.push('\\');
            }
            pattern.push(c);
        }
        pattern.push('%');
        let like = |column| Filter::Like {
            field: Field::Column(column),
            pattern: pattern.clone(),
            negated: false,
            case_insensitive: true,
        };
        Some(Filter::Or(
            Box::new(like(Column::Name)),
            Box::new(like(Column::Email)),
        ))
    }
}

/// What a predicate tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    Column(Column),
    /// A value inside the attributes JSON, reached by `path` (at least one key).
    Attribute {
        path: Vec<String>,
        cast: Option<Cast>,
    },
}

/// The subscriber columns a filter may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    Id,
    Uuid,
    Email,
    Name,
    Status,
    CreatedAt,
    UpdatedAt,
}

impl Column {
    pub const ALL: [Column; 7] = [
        Column::Id,
        Column::Uuid,
        Column::Email,
        Column::Name,
        Column::Status,
        Column::CreatedAt,
        Column::UpdatedAt,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Column::Id => "id",
            Column::Uuid => "uuid",
            Column::Email => "email",
            Column::Name => "name",
            Column::Status => "status",
            Column::CreatedAt => "created_at",
            Column::UpdatedAt => "updated_at",
        }
    }

    fn kind(self) -> ValueKind {
        match self {
            Column::Id => ValueKind::Int,
            Column::Uuid => ValueKind::Uuid,
            Column::Email | Column::Name | Column::Status => ValueKind::Text,
            Column::CreatedAt | Column::UpdatedAt => ValueKind::Time,
        }
    }
}

/// The type an attribute is converted to before comparing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cast {
    Number,
    Text,
    Bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
}

impl CmpOp {
    pub fn as_sql(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::NotEq => "<>",
            CmpOp::Lt => "<",
            CmpOp::LtEq => "<=",
            CmpOp::Gt => ">",
            CmpOp::GtEq => ">=",
        }
    }
}

/// A typed constant, checked against the field it is compared with.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Uuid(uuid::Uuid),
    Time(Timestamp),
}

/// The kinds of value a field holds, for checking literals against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ValueKind {
    Int,
    Uuid,
    Text,
    Time,
    /// An attribute without a cast: text, or a number or boolean when compared with one.
    Json,
    Number,
    Bool,
}

impl Field {
    fn kind(&self) -> ValueKind {
        match self {
            Field::Column(column) => column.kind(),
            Field::Attribute { cast: None, .. } => ValueKind::Json,
            Field::Attribute {
                cast: Some(Cast::Number),
                ..
            } => ValueKind::Number,
            Field::Attribute {
                cast: Some(Cast::Text),
                ..
            } => ValueKind::Text,
            Field::Attribute {
                cast: Some(Cast::Bool),
                ..
            } => ValueKind::Bool,
        }
    }
}

fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Text(text) => f.write_str(&quote(text)),
            Literal::Int(n) => write!(f, "{n}"),
            Literal::Float(x) => write!(f, "{x:?}"),
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::Uuid(u) => f.write_str(&quote(&u.to_string())),
            Literal::Time(t) => f.write_str(&quote(&t.to_string())),
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Field::Column(column) => write!(f, "subscribers.{}", column.as_str()),
            Field::Attribute { path, cast } => {
                let (last, init) = path.split_last().expect("an attribute path is never empty");
                let mut text = String::from("subscribers.attribs");
                for key in init {
                    text.push_str("->");
                    text.push_str(&quote(key));
                }
                text.push_str("->>");
                text.push_str(&quote(last));
                match cast {
                    None => f.write_str(&text),
                    Some(Cast::Number) => write!(f, "({text})::numeric"),
                    Some(Cast::Text) => write!(f, "({text})::text"),
                    Some(Cast::Bool) => write!(f, "({text})::boolean"),
                }
            }
        }
    }
}

/// The canonical text of a filter, fully parenthesised; parsing it gives the same tree.
impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::And(a, b) => write!(f, "({a} AND {b})"),
            Filter::Or(a, b) => write!(f, "({a} OR {b})"),
            Filter::Not(inner) => write!(f, "NOT ({inner})"),
            Filter::Compare { field, op, value } => write!(f, "{field} {} {value}", op.as_sql()),
            Filter::Like {
                field,
                pattern,
                negated,
                case_insensitive,
            } => {
                let not = if *negated { "NOT " } else { "" };
                let like = if *case_insensitive { "ILIKE" } else { "LIKE" };
                write!(f, "{field} {not}{like} {}", quote(pattern))
            }
            Filter::In {
                field,
                values,
                negated,
            } => {
                let not = if *negated { "NOT " } else { "" };
                let values: Vec<String> = values.iter().map(Literal::to_string).collect();
                write!(f, "{field} {not}IN ({})", values.join(", "))
            }
            Filter::IsNull { field, negated } => {
                write!(f, "{field} IS {}NULL", if *negated { "NOT " } else { "" })
            }
        }
    }
}
