//! The two spellings of a filter: JSON nodes and query parameters, read and written.

use super::*;
use crate::money::{parse_scaled, Fen};
use crate::StoreId;
use serde_json::{json, Value};

pub(super) fn operand_json(v: &Operand) -> Value {
    match v {
        Operand::Number(n) => json!(n),
        Operand::Integer(n) => json!(n),
        Operand::Money(f) => json!(f.yuan()),
        Operand::Text(t) => json!(t),
        Operand::Tier(t) => json!(t.label()),
        Operand::Store(s) => json!(s.as_str()),
    }
}

/// Comma-separated values, trimmed, empty ones dropped.
pub(super) fn split_list(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// `rfm_score_gte` → (rfm_score, gte); `customer_tier` → (customer_tier, eq). Tags are
/// filtered through `tag*` only.
pub(super) fn query_name(name: &str) -> Option<(Field, Op)> {
    const SUFFIXES: [(&str, Op); 7] = [
        ("_gte", Op::Gte),
        ("_gt", Op::Gt),
        ("_lte", Op::Lte),
        ("_lt", Op::Lt),
        ("_eq", Op::Eq),
        ("_ne", Op::Ne),
        ("_in", Op::In),
    ];
    let (field, op) = SUFFIXES
        .iter()
        .find_map(|(suffix, op)| Some((Field::parse(name.strip_suffix(suffix)?)?, *op)))
        .or_else(|| Some((Field::parse(name)?, Op::Eq)))?;
    (field != Field::Tags).then_some((field, op))
}

/// A value sent as text (a query parameter, or a JSON string), read as `field`'s type.
pub(super) fn operand_from_text(field: Field, op: Op, raw: &str) -> Result<Operand, FilterError> {
    let bad = || invalid(field, op, shown(raw));
    let s = raw.trim();
    let v = match field.kind() {
        Kind::Number { .. } => {
            let n: f64 = s.parse().map_err(|_| bad())?;
            Operand::Number(n)
        }
        Kind::Integer => Operand::Integer(parse_scaled(s, 0).map_err(|_| bad())?),
        Kind::Money => Operand::Money(Fen::parse_yuan(s).map_err(|_| bad())?),
        Kind::Text if !s.is_empty() => Operand::Text(s.to_string()),
        Kind::Tier => Operand::Tier(tier_of_label(s).ok_or_else(bad)?),
        Kind::Store => Operand::Store(StoreId::parse(s).map_err(|_| bad())?),
        Kind::Text | Kind::Tags => return Err(bad()),
    };
    // Ranges are checked once, by Comparison::new; check here too so the message shows the
    // text as sent.
    if let (Kind::Number { min, max }, Operand::Number(n)) = (field.kind(), &v) {
        if !n.is_finite() || !(min..=max).contains(n) {
            return Err(bad());
        }
    }
    Ok(v)
}

/// A JSON value read as `field`'s type: numbers as numbers (money also as a decimal
/// string, for exactness), texts as strings.
pub(super) fn operand_from_json(field: Field, op: Op, v: &Value) -> Result<Operand, FilterError> {
    let bad = || invalid(field, op, shown_json(v));
    match (field.kind(), v) {
        (Kind::Number { .. }, Value::Number(n)) => {
            operand_from_text(field, op, &n.to_string()).map_err(|_| bad())
        }
        (Kind::Integer, Value::Number(n)) => n.as_i64().map(Operand::Integer).ok_or_else(bad),
        // serde_json prints a float in its shortest exact form (280.5, 0.1), which is read
        // as a decimal: 0.1 yuan is exactly 10 fen.
        (Kind::Money, Value::Number(n)) => {
            operand_from_text(field, op, &n.to_string()).map_err(|_| bad())
        }
        (Kind::Money | Kind::Text | Kind::Tier | Kind::Store, Value::String(s)) => {
            operand_from_text(field, op, s)
        }
        _ => Err(bad()),
    }
}

pub(super) fn node_from_json(
    value: &Value,
    depth: usize,
    nodes: &mut usize,
) -> Result<Filter, FilterError> {
    if depth > MAX_DEPTH {
        return Err(FilterError::TooDeep);
    }
    *nodes += 1;
    if *nodes > MAX_NODES {
        return Err(FilterError::TooLarge);
    }
    let Value::Object(m) = value else {
        return Err(FilterError::Malformed(format!(
            "a filter must be an object with \"and\", \"or\", \"not\" or \"field\", got {}",
            shown_json(value)
        )));
    };
    for combinator in ["and", "or", "not"] {
        let Some(inner) = m.get(combinator) else {
            continue;
        };
        if let Some(other) = m.keys().find(|k| *k != combinator) {
            return Err(FilterError::Malformed(format!(
                "a filter with \"{combinator}\" has no other key, got {other:?}"
            )));
        }
        if combinator == "not" {
            return Ok(Filter::Not(Box::new(node_from_json(
                inner,
                depth + 1,
                nodes,
            )?)));
        }
        let Value::Array(items) = inner else {
            return Err(FilterError::Malformed(format!(
                "\"{combinator}\" takes a list of filters, got {}",
                shown_json(inner)
            )));
        };
        let children = items
            .iter()
            .map(|item| node_from_json(item, depth + 1, nodes))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(if combinator == "and" {
            Filter::And(children)
        } else {
            Filter::Or(children)
        });
    }
    if let Some(other) = m
        .keys()
        .find(|k| !["field", "op", "value"].contains(&k.as_str()))
    {
        return Err(FilterError::Malformed(format!(
            "unknown key {other:?} in a filter (keys: and, or, not; or field, op, value)"
        )));
    }
    let field = match m.get("field") {
        Some(Value::String(name)) => {
            Field::parse(name).ok_or_else(|| FilterError::UnknownField(name.clone()))?
        }
        Some(other) => {
            return Err(FilterError::UnknownField(other.to_string()));
        }
        None => {
            return Err(FilterError::Malformed(
                "a comparison needs \"field\" (and \"op\", \"value\")".to_string(),
            ))
        }
    };
    let op = match m.get("op") {
        Some(Value::String(name)) => {
            Op::parse(name).ok_or_else(|| FilterError::UnknownOperator(name.clone()))?
        }
        Some(other) => return Err(FilterError::UnknownOperator(other.to_string())),
        None => {
            return Err(FilterError::Malformed(format!(
                "the comparison on {field} needs \"op\""
            )))
        }
    };
    if !field.operators().contains(&op) {
        return Err(FilterError::NotApplicable { field, op });
    }
    let value = m.get("value");
    let test = match (op, value) {
        (Op::Exists | Op::Missing, Some(_)) => {
            return Err(FilterError::UnexpectedValue { field, op })
        }
        (Op::Exists, None) => Test::Exists,
        (Op::Missing, None) => Test::Missing,
        (_, None) => return Err(FilterError::MissingValue { field, op }),
        (Op::ContainsAll | Op::ContainsAny | Op::ContainsNone, Some(v)) => {
            let tags = list(field, op, v)?
                .iter()
                .map(|t| match t {
                    Value::String(s) => Ok(s.clone()),
                    other => Err(invalid(field, op, shown_json(other))),
                })
                .collect::<Result<Vec<_>, _>>()?;
            Test::Tags(op, tags)
        }
        (Op::In, Some(v)) => Test::In(
            list(field, op, v)?
                .iter()
                .map(|v| operand_from_json(field, op, v))
                .collect::<Result<Vec<_>, _>>()?,
        ),
        (_, Some(v)) => Test::Compare(op, operand_from_json(field, op, v)?),
    };
    Ok(Filter::Compare(Comparison::new(field, test)?))
}

pub(super) fn list(field: Field, op: Op, v: &Value) -> Result<&Vec<Value>, FilterError> {
    match v {
        Value::Array(items) => Ok(items),
        other => Err(FilterError::InvalidValue {
            field,
            op,
            got: shown_json(other),
            expected: format!("a list of {}", field.expected()),
        }),
    }
}

/// Whether a query parameter's name is one [`Filter::from_query`] reads, so that a caller
/// can set aside the others (`limit`, `cursor`).
pub fn is_query_parameter(name: &str) -> bool {
    matches!(name, "tag" | "tag_any" | "tag_none" | "exists" | "missing")
        || query_name(name).is_some()
}
