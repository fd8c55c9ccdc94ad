//! From text to [`Filter`]: the tokens and grammar come from `sqlparser` (PostgreSQL dialect),
//! and this module accepts only the subset the language documents.

use sqlparser::ast::{BinaryOperator, CastKind, DataType, Expr, InTarget, UnaryOperator, Value};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::Token;

use super::{Cast, CmpOp, Column, Field, Filter, Literal, ValueKind};
use crate::domain::Timestamp;

/// Longer filters are refused before parsing; real segments are a few hundred characters.
const MAX_FILTER_LEN: usize = 8 * 1024;
/// Bounds nesting so hostile input cannot exhaust the stack.
const MAX_DEPTH: usize = 64;
/// Keys in one attribute path; real attributes nest a few levels.
const MAX_PATH: usize = 16;

/// Why a filter was refused; the message names the offending part.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid query: {0}")]
pub(crate) struct FilterError(String);

fn refuse<T>(message: impl Into<String>) -> Result<T, FilterError> {
    Err(FilterError(message.into()))
}

/// Parses a filter expression.
///
/// # Errors
/// A [`FilterError`] for syntax errors and for anything outside the language: other columns,
/// functions, subqueries, arithmetic, literals of the wrong type.
pub(crate) fn parse(text: &str) -> Result<Filter, FilterError> {
    if text.len() > MAX_FILTER_LEN {
        return refuse(format!(
            "the expression is longer than {MAX_FILTER_LEN} bytes"
        ));
    }
    if text.trim().is_empty() {
        return refuse("the expression is empty");
    }
    if text.contains('\0') {
        return refuse("the expression contains a NUL character");
    }
    let dialect = PostgreSqlDialect {};
    let mut parser = Parser::new(&dialect)
        .with_recursion_limit(MAX_DEPTH)
        .try_with_sql(text)
        .map_err(|e| FilterError(e.to_string()))?;
    let expr = parser
        .parse_expr()
        .map_err(|e| FilterError(e.to_string()))?;
    let rest = parser.next_token();
    if rest.token != Token::EOF {
        return refuse(format!("unexpected '{}' after the expression", rest.token));
    }
    filter(&expr)
}

fn filter(expr: &Expr) -> Result<Filter, FilterError> {
    match expr {
        Expr::Nested(inner) => filter(inner),
        Expr::BinaryOp {
            left,
            op: BinaryOperator::And,
            right,
        } => Ok(Filter::And(
            Box::new(filter(left)?),
            Box::new(filter(right)?),
        )),
        Expr::BinaryOp {
            left,
            op: BinaryOperator::Or,
            right,
        } => Ok(Filter::Or(
            Box::new(filter(left)?),
            Box::new(filter(right)?),
        )),
        Expr::UnaryOp {
            op: UnaryOperator::Not,
            expr,
        } => Ok(Filter::Not(Box::new(filter(expr)?))),
        Expr::BinaryOp { left, op, right } => comparison(left, op, right),
        Expr::Like {
            negated,
            any: false,
            expr,
            pattern,
            escape_char: None,
        } => like(expr, pattern, *negated, false),
        Expr::ILike {
            negated,
            any: false,
            expr,
            pattern,
            escape_char: None,
        } => like(expr, pattern, *negated, true),
        Expr::In {
            expr,
            target: InTarget::List(items),
            negated,
            global: false,
        } => {
            let field = field(expr)?;
            let values = items
                .iter()
                .map(|item| literal_for(&field, item))
                .collect::<Result<Vec<_>, _>>()?;
            if values.is_empty() {
                return refuse("IN needs at least one value");
            }
            Ok(Filter::In {
                field,
                values,
                negated: *negated,
            })
        }
        Expr::IsNull(expr) => Ok(Filter::IsNull {
            field: field(expr)?,
            negated: false,
        }),
        Expr::IsNotNull(expr) => Ok(Filter::IsNull {
            field: field(expr)?,
            negated: true,
        }),
        other => refuse(format!(
            "'{other}' is not a condition the filter language supports"
        )),
    }
}

fn comparison(left: &Expr, op: &BinaryOperator, right: &Expr) -> Result<Filter, FilterError> {
    let op = match op {
        BinaryOperator::Eq => CmpOp::Eq,
        BinaryOperator::NotEq => CmpOp::NotEq,
        BinaryOperator::Lt => CmpOp::Lt,
        BinaryOperator::LtEq => CmpOp::LtEq,
        BinaryOperator::Gt => CmpOp::Gt,
        BinaryOperator::GtEq => CmpOp::GtEq,
        other => return refuse(format!("the operator '{other}' is not supported")),
    };
    // `'x' = subscribers.email` reads the same as the usual order.
    let (field_expr, value_expr, op) = if is_literal(left) && !is_literal(right) {
        (right, left, mirror(op))
    } else {
        (left, right, op)
    };
    let field = field(field_expr)?;
    if is_null(value_expr) {
        return refuse(format!(
            "compare with NULL using '{field} IS NULL', not '{}'",
            op.as_sql()
        ));
    }
    let value = literal_for(&field, value_expr)?;
    Ok(Filter::Compare { field, op, value })
}

fn mirror(op: CmpOp) -> CmpOp {
    match op {
        CmpOp::Lt => CmpOp::Gt,
        CmpOp::LtEq => CmpOp::GtEq,
        CmpOp::Gt => CmpOp::Lt,
        CmpOp::GtEq => CmpOp::LtEq,
        same => same,
    }
}

fn like(expr: &Expr, pattern: &Expr, negated: bool, ci: bool) -> Result<Filter, FilterError> {
    let field = field(expr)?;
    if matches!(
        field.kind(),
        ValueKind::Int | ValueKind::Uuid | ValueKind::Time
    ) || matches!(
        field,
        Field::Attribute {
            cast: Some(Cast::Number | Cast::Bool),
            ..
        }
    ) {
        return refuse(format!("LIKE needs a text field, and '{field}' is not one"));
    }
    match unquoted(pattern) {
        // `\` escapes the next character (`\%`, `\_`), as in PostgreSQL; one with nothing
        // after it is a mistake both databases would read differently.
        Some(Value::SingleQuotedString(p))
            if p.chars().rev().take_while(|c| *c == '\\').count() % 2 == 1 =>
        {
            refuse(format!(
                "the LIKE pattern '{p}' ends with a lone \\ (write \\\\ for a backslash)"
            ))
        }
        Some(Value::SingleQuotedString(p)) => Ok(Filter::Like {
            field,
            pattern: p.clone(),
            negated,
            case_insensitive: ci,
        }),
        _ => refuse(format!(
            "the LIKE pattern '{pattern}' must be a quoted string"
        )),
    }
}

fn field(expr: &Expr) -> Result<Field, FilterError> {
    match expr {
        Expr::Nested(inner) => field(inner),
        Expr::Identifier(ident) => column(None, &ident.value),
        Expr::CompoundIdentifier(parts) => match parts.as_slice() {
            [table, name] => column(Some(&table.value), &name.value),
            _ => refuse(format!("unknown field '{expr}'")),
        },
        Expr::BinaryOp {
            left,
            op: BinaryOperator::LongArrow,
            right,
        } => {
            let mut path = json_path(left)?;
            path.push(key(right)?);
            if path.len() > MAX_PATH {
                return refuse(format!("the attribute path has more than {MAX_PATH} keys"));
            }
            Ok(Field::Attribute { path, cast: None })
        }
        Expr::BinaryOp {
            op: BinaryOperator::Arrow,
            ..
        } => refuse(format!(
            "'{expr}' is a JSON value; end the path with ->> to compare its text"
        )),
        Expr::Cast {
            kind: CastKind::Cast | CastKind::DoubleColon,
            expr,
            data_type,
            format: None,
        } => match field(expr)? {
            Field::Attribute { path, cast: None } => Ok(Field::Attribute {
                path,
                cast: Some(cast(data_type)?),
            }),
            other => refuse(format!("only attributes can be cast, not '{other}'")),
        },
        other => refuse(format!(
            "'{other}' is not a field the filter language knows"
        )),
    }
}

fn column(table: Option<&str>, name: &str) -> Result<Field, FilterError> {
    if table.is_some_and(|t| !t.eq_ignore_ascii_case("subscribers")) {
        return refuse(format!(
            "only subscriber fields can be filtered, not '{}'",
            table.unwrap_or("")
        ));
    }
    Column::ALL
        .into_iter()
        .find(|c| c.as_str().eq_ignore_ascii_case(name))
        .map(Field::Column)
        .ok_or_else(|| {
            let known: Vec<&str> = Column::ALL.iter().map(|c| c.as_str()).collect();
            FilterError(format!(
                "unknown field '{name}' (known: {}, attribs->>'key')",
                known.join(", ")
            ))
        })
}

/// The keys of `subscribers.attribs->'a'->'b'`, or an empty path for the bare column.
fn json_path(expr: &Expr) -> Result<Vec<String>, FilterError> {
    match expr {
        Expr::Nested(inner) => json_path(inner),
        Expr::Identifier(ident) if ident.value.eq_ignore_ascii_case("attribs") => Ok(Vec::new()),
        Expr::CompoundIdentifier(parts)
            if parts.len() == 2
                && parts[0].value.eq_ignore_ascii_case("subscribers")
                && parts[1].value.eq_ignore_ascii_case("attribs") =>
        {
            Ok(Vec::new())
        }
        Expr::BinaryOp {
            left,
            op: BinaryOperator::Arrow,
            right,
        } => {
            let mut path = json_path(left)?;
            path.push(key(right)?);
            Ok(path)
        }
        other => refuse(format!("'{other}' is not a path into subscribers.attribs")),
    }
}

fn key(expr: &Expr) -> Result<String, FilterError> {
    match unquoted(expr) {
        // A key is a name, never a path: the compiler quotes it whole, and a double quote
        // would end that quoting.
        Some(Value::SingleQuotedString(k)) if k.contains('"') => refuse(format!(
            "the attribute key '{k}' contains a double quote, which keys may not"
        )),
        Some(Value::SingleQuotedString(k)) if !k.is_empty() => Ok(k.clone()),
        _ => refuse(format!(
            "the attribute key '{expr}' must be a non-empty quoted string"
        )),
    }
}

fn cast(data_type: &DataType) -> Result<Cast, FilterError> {
    match data_type {
        DataType::Int(_)
        | DataType::Integer(_)
        | DataType::BigInt(_)
        | DataType::Int4(_)
        | DataType::Int8(_)
        | DataType::Numeric(_)
        | DataType::Decimal(_)
        | DataType::Float(_)
        | DataType::Real
        | DataType::Float8
        | DataType::Double(_)
        | DataType::DoublePrecision => Ok(Cast::Number),
        DataType::Text | DataType::Varchar(_) => Ok(Cast::Text),
        DataType::Bool | DataType::Boolean => Ok(Cast::Bool),
        other => refuse(format!("casting to '{other}' is not supported")),
    }
}

fn unquoted(expr: &Expr) -> Option<&Value> {
    match expr {
        Expr::Value(v) => Some(&v.value),
        Expr::Nested(inner) => unquoted(inner),
        _ => None,
    }
}

fn is_literal(expr: &Expr) -> bool {
    match expr {
        Expr::Value(_) => true,
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => is_literal(expr),
        Expr::Nested(inner) => is_literal(inner),
        _ => false,
    }
}

fn is_null(expr: &Expr) -> bool {
    matches!(unquoted(expr), Some(Value::Null))
}

/// Reads `expr` as a constant of the kind `field` holds.
fn literal_for(field: &Field, expr: &Expr) -> Result<Literal, FilterError> {
    let raw = raw_literal(expr)?;
    let wrong = || FilterError(format!("'{expr}' cannot be compared with '{field}'"));
    match (field.kind(), raw) {
        (ValueKind::Int, Raw::Int(n)) => Ok(Literal::Int(n)),
        (ValueKind::Uuid, Raw::Text(text)) => uuid::Uuid::parse_str(&text)
            .map(Literal::Uuid)
            .map_err(|_| FilterError(format!("'{text}' is not a UUID"))),
        (ValueKind::Text, Raw::Text(text)) => Ok(Literal::Text(text)),
        (ValueKind::Time, Raw::Text(text)) => Timestamp::parse(&text)
            .map(Literal::Time)
            .map_err(|e| FilterError(e.0)),
        (ValueKind::Json, Raw::Text(text)) => Ok(Literal::Text(text)),
        (ValueKind::Json | ValueKind::Number, Raw::Int(n)) => Ok(Literal::Int(n)),
        (ValueKind::Json | ValueKind::Number, Raw::Float(x)) => Ok(Literal::Float(x)),
        (ValueKind::Json | ValueKind::Bool, Raw::Bool(b)) => Ok(Literal::Bool(b)),
        _ => Err(wrong()),
    }
}

enum Raw {
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

fn raw_literal(expr: &Expr) -> Result<Raw, FilterError> {
    match expr {
        Expr::Nested(inner) => raw_literal(inner),
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => match raw_literal(expr)? {
            Raw::Int(n) => Ok(Raw::Int(-n)),
            Raw::Float(x) => Ok(Raw::Float(-x)),
            _ => refuse(format!("'-{expr}' is not a number")),
        },
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(text) => Ok(Raw::Text(text.clone())),
            Value::Number(digits, _) => number(digits),
            Value::Boolean(b) => Ok(Raw::Bool(*b)),
            other => refuse(format!(
                "the literal {other} is not supported; use 'text' or a number"
            )),
        },
        other => refuse(format!("'{other}' is not a constant")),
    }
}

fn number(digits: &str) -> Result<Raw, FilterError> {
    if let Ok(n) = digits.parse::<i64>() {
        return Ok(Raw::Int(n));
    }
    match digits.parse::<f64>() {
        Ok(x) if x.is_finite() => Ok(Raw::Float(x)),
        _ => refuse(format!("'{digits}' is not a number bulten can compare")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn attr(path: &[&str]) -> Field {
        Field::Attribute {
            path: path.iter().map(|s| s.to_string()).collect(),
            cast: None,
        }
    }

    #[test]
    fn listmonk_client_forms_are_understood() {
        assert_eq!(
            parse("subscribers.email = 'a@b.c'").unwrap(),
            Filter::Compare {
                field: Field::Column(Column::Email),
                op: CmpOp::Eq,
                value: Literal::Text("a@b.c".into())
            }
        );
        assert_eq!(
            parse("subscribers.id=42").unwrap(),
            Filter::Compare {
                field: Field::Column(Column::Id),
                op: CmpOp::Eq,
                value: Literal::Int(42)
            }
        );
        assert_eq!(
            parse("subscribers.attribs->>'city' = 'İzmir'").unwrap(),
            Filter::Compare {
                field: attr(&["city"]),
                op: CmpOp::Eq,
                value: Literal::Text("İzmir".into())
            }
        );
        assert!(parse("subscribers.uuid='0b9f1d3e-7e0c-4c5e-9d8e-1b2c3d4e5f60'").is_ok());
    }

    #[test]
    fn nested_paths_casts_and_combinations_parse() {
        let parsed = parse(
            "(subscribers.attribs->'address'->>'city' ILIKE 'iz%' OR NOT name LIKE 'A%') \
             AND (attribs->>'age')::int >= 18 AND status IN ('enabled', 'disabled') \
             AND attribs->>'phone' IS NOT NULL AND created_at > '2026-01-01'",
        );
        assert!(parsed.is_ok(), "{parsed:?}");
    }

    #[test]
    fn doubled_quotes_escape_a_quote() {
        assert_eq!(
            parse("name = 'O''Brien'").unwrap(),
            Filter::Compare {
                field: Field::Column(Column::Name),
                op: CmpOp::Eq,
                value: Literal::Text("O'Brien".into())
            }
        );
    }

    #[test]
    fn everything_outside_the_language_is_refused_by_name() {
        let cases = [
            (
                "subscribers.email = 'a' ; DROP TABLE subscribers",
                "unexpected",
            ),
            ("password = 'x'", "unknown field 'password'"),
            ("lists.name = 'x'", "only subscriber fields"),
            ("email = lower('X')", "not a constant"),
            ("id IN (SELECT id FROM users)", "not a condition"),
            ("id + 1 = 2", "'id + 1' is not a field"),
            ("id = 'abc'", "cannot be compared"),
            ("uuid = 'not-a-uuid'", "not a UUID"),
            ("created_at > 'yesterday'", "not a date"),
            ("email = NULL", "IS NULL"),
            ("attribs->'city' = 'x'", "end the path with ->>"),
            ("email", "not a condition"),
            ("", "empty"),
            ("id LIKE '1%'", "LIKE needs a text field"),
            ("name = 'a\0b'", "NUL"),
            ("name LIKE 'a\\'", "lone"),
            ("attribs->>'say \"hi\"' = 'x'", "double quote"),
        ];
        for (input, expected) in cases {
            let err = parse(input).expect_err(input).to_string();
            assert!(
                err.contains(expected),
                "{input:?} gave {err:?}, expected it to mention {expected:?}"
            );
        }
    }

    #[test]
    fn long_attribute_paths_are_refused() {
        let path = |n: usize| format!("attribs{}->>'k' = 'x'", "->'k'".repeat(n - 1));
        assert!(parse(&path(16)).is_ok());
        let err = parse(&path(17)).unwrap_err().to_string();
        assert!(err.contains("more than 16 keys"), "{err}");
    }

    #[test]
    fn deep_nesting_is_refused_not_a_stack_overflow() {
        let deep = format!("{}id = 1{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(parse(&deep).is_err());
    }

    fn arb_text() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9 '%_çğıİöşü@.-]{0,12}"
    }

    fn arb_field() -> impl Strategy<Value = Field> {
        prop_oneof![
            prop::sample::select(Column::ALL.to_vec()).prop_map(Field::Column),
            (
                prop::collection::vec("[a-z_]{1,8}", 1..4),
                prop::option::of(prop::sample::select(vec![
                    Cast::Number,
                    Cast::Text,
                    Cast::Bool
                ]))
            )
                .prop_map(|(path, cast)| Field::Attribute { path, cast }),
        ]
    }

    fn arb_literal(field: &Field) -> BoxedStrategy<Literal> {
        match field.kind() {
            ValueKind::Int => any::<i64>().prop_map(Literal::Int).boxed(),
            ValueKind::Uuid => any::<u128>()
                .prop_map(|n| Literal::Uuid(uuid::Uuid::from_u128(n)))
                .boxed(),
            ValueKind::Text => arb_text().prop_map(Literal::Text).boxed(),
            ValueKind::Time => (0i64..4_000_000_000)
                .prop_map(|s| {
                    Literal::Time(Timestamp::from_datetime(
                        time::OffsetDateTime::from_unix_timestamp(s).unwrap(),
                    ))
                })
                .boxed(),
            ValueKind::Number => prop_oneof![
                any::<i64>().prop_map(Literal::Int),
                (-1_000_000i64..1_000_000).prop_map(|n| Literal::Float(n as f64 / 8.0 + 0.125)),
            ]
            .boxed(),
            ValueKind::Bool => any::<bool>().prop_map(Literal::Bool).boxed(),
            ValueKind::Json => prop_oneof![
                arb_text().prop_map(Literal::Text),
                any::<i64>().prop_map(Literal::Int),
                any::<bool>().prop_map(Literal::Bool),
            ]
            .boxed(),
        }
    }

    fn arb_predicate() -> impl Strategy<Value = Filter> {
        arb_field().prop_flat_map(|field| {
            let textual = matches!(field.kind(), ValueKind::Text | ValueKind::Json);
            let f1 = field.clone();
            let f2 = field.clone();
            let f3 = field.clone();
            let compare = (
                prop::sample::select(vec![
                    CmpOp::Eq,
                    CmpOp::NotEq,
                    CmpOp::Lt,
                    CmpOp::LtEq,
                    CmpOp::Gt,
                    CmpOp::GtEq,
                ]),
                arb_literal(&field),
            )
                .prop_map(move |(op, value)| Filter::Compare {
                    field: f1.clone(),
                    op,
                    value,
                });
            let within = (
                prop::collection::vec(arb_literal(&field), 1..4),
                any::<bool>(),
            )
                .prop_map(move |(values, negated)| Filter::In {
                    field: f2.clone(),
                    values,
                    negated,
                });
            let null = any::<bool>().prop_map(move |negated| Filter::IsNull {
                field: f3.clone(),
                negated,
            });
            if textual {
                let f4 = field.clone();
                let like = (arb_text(), any::<bool>(), any::<bool>()).prop_map(
                    move |(pattern, negated, case_insensitive)| Filter::Like {
                        field: f4.clone(),
                        pattern,
                        negated,
                        case_insensitive,
                    },
                );
                prop_oneof![compare, within, null, like].boxed()
            } else {
                prop_oneof![compare, within, null].boxed()
            }
        })
    }

    fn arb_filter() -> impl Strategy<Value = Filter> {
        arb_predicate().prop_recursive(4, 16, 2, |inner| {
            prop_oneof![
                (inner.clone(), inner.clone())
                    .prop_map(|(a, b)| Filter::And(Box::new(a), Box::new(b))),
                (inner.clone(), inner.clone())
                    .prop_map(|(a, b)| Filter::Or(Box::new(a), Box::new(b))),
                inner.prop_map(|a| Filter::Not(Box::new(a))),
            ]
        })
    }

    proptest! {
        #[test]
        fn printing_then_parsing_gives_the_same_filter(filter in arb_filter()) {
            let text = filter.to_string();
            let parsed = parse(&text);
            prop_assert_eq!(parsed.as_ref(), Ok(&filter), "text: {}", text);
        }

        #[test]
        fn arbitrary_input_never_panics(text in "\\PC{0,120}") {
            let _ = parse(&text);
        }

        #[test]
        fn sql_like_noise_never_panics(text in "[a-z_.'()<>=!:0-9 -]{0,80}") {
            let _ = parse(&text);
        }
    }
}
