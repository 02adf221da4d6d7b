//! The segment filter language: which customers of a scope belong to a segment (this file,
//! the filter tree and its evaluation, is over 400 lines: every operator's meaning for every
//! kind of figure, which reads best in one place).
//!
//! A [`Filter`] is a tree of comparisons over one customer's figures in one scope
//! ([`SegmentFigures`]), combined with `and`, `or` and `not`. It comes in two spellings:
//!
//! - JSON, in a request body ([`Filter::from_json`], or `serde` through [`Filter`]'s
//!   `Deserialize`):
//!   `{"and":[{"field":"rfm_score","op":"gte","value":70},{"field":"tags","op":"contains_all","value":["活跃用户"]}]}`.
//!   A node is one of `{"and":[node, ...]}`, `{"or":[node, ...]}`, `{"not":node}` or a
//!   comparison `{"field":F,"op":OP,"value":V}` (`value` absent for `exists` and
//!   `missing`). An empty `and` matches everyone, an empty `or` no one. At most
//!   [`MAX_DEPTH`] levels (a lone comparison is depth 1), [`MAX_NODES`] nodes (comparisons
//!   and combinators alike) and [`MAX_VALUES`] values in one list.
//! - Query parameters for the common case ([`Filter::from_query`]), all ANDed:
//!   `rfm_score_gte=70&tag=活跃用户&tag_any=a,b&tag_none=x&customer_tier=VIP&store_id=s1`.
//!   See [`Filter::from_query`] for the names.
//!
//! # Fields, their values and units
//! | field | value | operators |
//! |---|---|---|
//! | `rfm_score` | number, 0 to 100 | `eq ne gt gte lt lte in` |
//! | `customer_tier` | `VIP`, `高价值`, `中价值`, `低价值`, `流失风险` | `eq ne in` |
//! | `tags` | list of tags (exact text) | `contains_all contains_any contains_none` |
//! | `total_spent` | yuan, at most 2 decimals (number or decimal string) | ordered |
//! | `total_orders` | whole number (counted orders) | ordered |
//! | `avg_order_value` | yuan, as `total_spent` | ordered |
//! | `days_since_last_order` | whole days (since the last counted order) | ordered |
//! | `days_since_last_activity` | whole days (since the last record of any kind) | ordered |
//! | `member_level` | text (exact, e.g. `金卡`) | `eq ne in` |
//! | `churn_probability` | number, 0 to 1 | ordered |
//! | `predicted_clv_12m` | yuan, as `total_spent` | ordered |
//! | `expected_orders_90d` | number | ordered |
//! | `days_until_birthday` | whole days, 0 = today (see [`days_until_birthday`]) | ordered |
//! | `store_id` | a store id: the scope the figures are in | `eq ne in` |
//!
//! "Ordered" is `eq ne gt gte lt lte in`. Every field but `tags` also takes `exists` and
//! `missing`. Money is compared exactly, in integer fen: `280.5` is 28050 fen, and a value
//! with digits below the fen (`1.001`) is refused rather than rounded.
//!
//! # Missing figures
//! A customer may lack a figure: no counted order (`days_since_last_order`,
//! `avg_order_value`), no prediction (`churn_probability`, `expected_orders_90d`,
//! `predicted_clv_12m`; the CLV also without a spend model), no birthday
//! (`days_until_birthday`), no member level, no activity, or no store (the all-stores scope
//! has no `store_id`). **A missing figure satisfies no comparison on it, `ne` included**:
//! without a prediction, both `churn_probability gte 0.5` and `churn_probability ne 0.5`
//! are false. `not` is plain boolean negation, so `not(churn_probability gte 0.5)` is *true*
//! for a customer without a prediction. To say "has a prediction and it is below 0.5", write
//! `churn_probability lt 0.5`; to select on the absence itself, use `exists` / `missing`
//! (`{"field":"days_until_birthday","op":"missing"}`). `tags` is never missing (a customer
//! without tags has an empty list: `contains_none` is true, the others false).
//!
//! # Errors
//! Everything refused is a [`FilterError`] whose message names the offender (field,
//! operator, parameter or value) and what is allowed: meant for a 400 `INVALID_PARAMETER`.
//!
//! Files: `fields.rs` (fields, operators, errors), `parse.rs` (the two spellings),
//! `figures.rs` (a customer's figures, birthdays), this file the tree and its evaluation.

use crate::money::Fen;
use crate::value::Tier;
use crate::StoreId;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;

mod fields;
mod figures;
mod membership;
mod parse;
#[cfg(test)]
mod tests;

pub use fields::*;
pub use figures::*;
pub use membership::*;
pub use parse::*;

/// A value compared against, already of its field's type.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Number(f64),
    Integer(i64),
    Money(Fen),
    Text(String),
    Tier(Tier),
    Store(StoreId),
}

/// What a comparison tests.
#[derive(Debug, Clone, PartialEq)]
pub enum Test {
    /// `eq ne gt gte lt lte` against one value.
    Compare(Op, Operand),
    /// Equal to one of the values (at least one).
    In(Vec<Operand>),
    /// `contains_all`, `contains_any` or `contains_none` of the tags (at least one).
    Tags(Op, Vec<String>),
    Exists,
    Missing,
}

/// One comparison of one field, checked: its test fits the field.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    field: Field,
    test: Test,
}

impl Comparison {
    /// Checks that `test` fits `field` (operator, value types, ranges, list sizes).
    ///
    /// # Errors
    /// [`FilterError::NotApplicable`], [`FilterError::InvalidValue`],
    /// [`FilterError::MissingValue`] (an empty list), [`FilterError::TooManyValues`].
    pub fn new(field: Field, test: Test) -> Result<Comparison, FilterError> {
        let op = test.op();
        if !field.operators().contains(&op) {
            return Err(FilterError::NotApplicable { field, op });
        }
        let check = |v: &Operand| -> Result<(), FilterError> {
            let fits = match (field.kind(), v) {
                (Kind::Number { min, max }, Operand::Number(n)) => {
                    n.is_finite() && (min..=max).contains(n)
                }
                (Kind::Integer, Operand::Integer(_))
                | (Kind::Money, Operand::Money(_))
                | (Kind::Text, Operand::Text(_))
                | (Kind::Tier, Operand::Tier(_))
                | (Kind::Store, Operand::Store(_)) => true,
                _ => false,
            };
            if fits {
                Ok(())
            } else {
                Err(invalid(field, op, shown(&operand_text(v))))
            }
        };
        match &test {
            Test::Compare(_, v) => check(v)?,
            Test::In(vs) => {
                check_list_len(field, op, vs.len())?;
                vs.iter().try_for_each(check)?;
            }
            Test::Tags(_, tags) => check_list_len(field, op, tags.len())?,
            Test::Exists | Test::Missing => {}
        }
        Ok(Comparison { field, test })
    }

    pub fn field(&self) -> Field {
        self.field
    }

    pub fn test(&self) -> &Test {
        &self.test
    }

    fn matches(&self, figures: &SegmentFigures) -> bool {
        if let Test::Tags(op, wanted) = &self.test {
            let has = |t: &String| figures.tags.contains(t);
            return match op {
                Op::ContainsAll => wanted.iter().all(has),
                Op::ContainsAny => wanted.iter().any(has),
                _ => !wanted.iter().any(has),
            };
        }
        let figure = figures.figure(self.field);
        match (&self.test, figure) {
            (Test::Exists, f) => f.is_some(),
            (Test::Missing, f) => f.is_none(),
            (_, None) => false,
            (Test::Compare(op, v), Some(f)) => compare(&f, *op, v),
            (Test::In(vs), Some(f)) => vs.iter().any(|v| compare(&f, Op::Eq, v)),
            (Test::Tags(..), Some(_)) => false,
        }
    }
}

impl Test {
    /// The operator of this test.
    pub fn op(&self) -> Op {
        match self {
            Test::Compare(op, _) | Test::Tags(op, _) => *op,
            Test::In(_) => Op::In,
            Test::Exists => Op::Exists,
            Test::Missing => Op::Missing,
        }
    }
}

pub(super) fn check_list_len(field: Field, op: Op, len: usize) -> Result<(), FilterError> {
    if len == 0 {
        Err(FilterError::MissingValue { field, op })
    } else if len > MAX_VALUES {
        Err(FilterError::TooManyValues { field, op })
    } else {
        Ok(())
    }
}

/// `got` is the value as shown ([`shown`], [`shown_json`]).
pub(super) fn invalid(field: Field, op: Op, got: String) -> FilterError {
    FilterError::InvalidValue {
        field,
        op,
        got,
        expected: field.expected(),
    }
}

pub(super) fn operand_text(v: &Operand) -> String {
    match v {
        Operand::Number(n) => n.to_string(),
        Operand::Integer(n) => n.to_string(),
        Operand::Money(f) => f.display_yuan(),
        Operand::Text(t) => t.clone(),
        Operand::Tier(t) => t.label().to_string(),
        Operand::Store(s) => s.as_str().to_string(),
    }
}

/// A customer's figure, borrowed for a comparison.
pub(super) enum Figure<'a> {
    Number(f64),
    Integer(i64),
    Money(Fen),
    Text(&'a str),
    Tier(Tier),
}

pub(super) fn compare(figure: &Figure<'_>, op: Op, v: &Operand) -> bool {
    let order = match (figure, v) {
        (Figure::Number(a), Operand::Number(b)) => a.partial_cmp(b),
        (Figure::Integer(a), Operand::Integer(b)) => Some(a.cmp(b)),
        (Figure::Money(a), Operand::Money(b)) => Some(a.cmp(b)),
        // Texts, tiers and stores have no order: they take eq, ne and in only.
        (Figure::Text(a), Operand::Text(b)) => return equality(op, *a == b),
        (Figure::Text(a), Operand::Store(b)) => return equality(op, *a == b.as_str()),
        (Figure::Tier(a), Operand::Tier(b)) => return equality(op, a == b),
        _ => None,
    };
    match (op, order) {
        (Op::Eq, Some(o)) => o.is_eq(),
        (Op::Ne, Some(o)) => o.is_ne(),
        (Op::Gt, Some(o)) => o.is_gt(),
        (Op::Gte, Some(o)) => o.is_ge(),
        (Op::Lt, Some(o)) => o.is_lt(),
        (Op::Lte, Some(o)) => o.is_le(),
        _ => false,
    }
}

pub(super) fn equality(op: Op, equal: bool) -> bool {
    match op {
        Op::Eq => equal,
        Op::Ne => !equal,
        _ => false,
    }
}

/// A segment filter: a checked tree of comparisons. Build it with [`Filter::from_json`],
/// [`Filter::parse_json`], [`Filter::from_query`] or serde (`Deserialize` reads the JSON
/// form and refuses with the [`FilterError`] message; `Serialize` writes it back).
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// Every one (empty: matches everyone).
    And(Vec<Filter>),
    /// At least one (empty: matches no one).
    Or(Vec<Filter>),
    Not(Box<Filter>),
    Compare(Comparison),
}

impl Filter {
    /// The filter that matches every customer (no query parameter).
    pub fn all() -> Filter {
        Filter::And(Vec::new())
    }

    /// Parses a request body's JSON text.
    ///
    /// # Errors
    /// [`FilterError::Json`] when the text is not JSON; otherwise as [`Filter::from_json`].
    pub fn parse_json(text: &str) -> Result<Filter, FilterError> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| FilterError::Json(e.to_string()))?;
        Filter::from_json(&value)
    }

    /// Reads the JSON form (see the module's documentation).
    ///
    /// # Errors
    /// [`FilterError::UnknownField`], [`FilterError::UnknownOperator`],
    /// [`FilterError::NotApplicable`], [`FilterError::InvalidValue`],
    /// [`FilterError::MissingValue`], [`FilterError::UnexpectedValue`],
    /// [`FilterError::TooManyValues`], [`FilterError::Malformed`] (not one of the four node
    /// shapes, or an unknown key), [`FilterError::TooDeep`], [`FilterError::TooLarge`].
    pub fn from_json(value: &Value) -> Result<Filter, FilterError> {
        let mut nodes = 0;
        node_from_json(value, 1, &mut nodes)
    }

    /// Reads query parameters, already split and decoded into `(name, value)` pairs; all
    /// of them are ANDed. No pair gives [`Filter::all`].
    ///
    /// - `{field}_gte`, `_gt`, `_lte`, `_lt`, `_eq`, `_ne`: that comparison
    ///   (`rfm_score_gte=70`, `total_spent_lt=100.5`, `days_until_birthday_lte=7`);
    /// - `{field}` alone: `eq` (`customer_tier=VIP`, `store_id=s1`, `member_level=金卡`);
    /// - `{field}_in`: `in`, values separated by commas (`customer_tier_in=VIP,高价值`);
    /// - `tag`: contains all (a repeated `tag` adds to the list; commas also separate);
    ///   `tag_any`: contains any; `tag_none`: contains none (comma-separated);
    /// - `exists`, `missing`: field names, comma-separated (`missing=days_until_birthday`).
    ///
    /// The caller takes out the parameters that are not filters (`limit`, `cursor`, ...)
    /// first, with [`is_query_parameter`].
    ///
    /// # Errors
    /// [`FilterError::UnknownParameter`] for any other name, [`FilterError::UnknownField`]
    /// for an unknown name in `exists`/`missing`, [`FilterError::NotApplicable`] (`tags_gte`
    /// is unknown, but `customer_tier_gte` does not apply), the value errors of
    /// [`Comparison::new`], and [`FilterError::TooLarge`] past [`MAX_NODES`] nodes (the comparisons and
    /// their `and`).
    pub fn from_query<N, V>(pairs: &[(N, V)]) -> Result<Filter, FilterError>
    where
        N: AsRef<str>,
        V: AsRef<str>,
    {
        let mut all_tags: Vec<String> = Vec::new();
        let mut out = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for (name, value) in pairs {
            let (name, value) = (name.as_ref(), value.as_ref());
            if name != "tag" && !seen.insert(name) {
                return Err(FilterError::RepeatedParameter(name.to_string()));
            }
            match name {
                "tag" => all_tags.extend(split_list(value)),
                "tag_any" | "tag_none" => {
                    let op = if name == "tag_any" {
                        Op::ContainsAny
                    } else {
                        Op::ContainsNone
                    };
                    let test = Test::Tags(op, split_list(value));
                    out.push(Filter::Compare(Comparison::new(Field::Tags, test)?));
                }
                "exists" | "missing" => {
                    for field in split_list(value) {
                        let field = Field::parse(&field).ok_or(FilterError::UnknownField(field))?;
                        let test = if name == "exists" {
                            Test::Exists
                        } else {
                            Test::Missing
                        };
                        out.push(Filter::Compare(Comparison::new(field, test)?));
                    }
                }
                _ => {
                    let (field, op) = query_name(name)
                        .ok_or_else(|| FilterError::UnknownParameter(name.to_string()))?;
                    let test = if op == Op::In {
                        let values = split_list(value)
                            .iter()
                            .map(|v| operand_from_text(field, op, v))
                            .collect::<Result<Vec<_>, _>>()?;
                        Test::In(values)
                    } else {
                        Test::Compare(op, operand_from_text(field, op, value)?)
                    };
                    out.push(Filter::Compare(Comparison::new(field, test)?));
                }
            }
            if out.len() >= MAX_NODES {
                return Err(FilterError::TooLarge);
            }
        }
        if pairs.iter().any(|(n, _)| n.as_ref() == "tag") {
            let test = Test::Tags(Op::ContainsAll, all_tags);
            out.insert(0, Filter::Compare(Comparison::new(Field::Tags, test)?));
        }
        if out.len() >= MAX_NODES {
            return Err(FilterError::TooLarge);
        }
        Ok(Filter::And(out))
    }

    /// Whether this customer's figures satisfy the filter (see the module's documentation
    /// for missing figures).
    pub fn matches(&self, figures: &SegmentFigures) -> bool {
        match self {
            Filter::And(fs) => fs.iter().all(|f| f.matches(figures)),
            Filter::Or(fs) => fs.iter().any(|f| f.matches(figures)),
            Filter::Not(f) => !f.matches(figures),
            Filter::Compare(c) => c.matches(figures),
        }
    }

    /// The fields the filter reads, so that a caller computes only what is needed
    /// (predictions, the birthday).
    pub fn fields(&self) -> BTreeSet<Field> {
        let mut out = BTreeSet::new();
        self.collect_fields(&mut out);
        out
    }

    fn collect_fields(&self, out: &mut BTreeSet<Field>) {
        match self {
            Filter::And(fs) | Filter::Or(fs) => fs.iter().for_each(|f| f.collect_fields(out)),
            Filter::Not(f) => f.collect_fields(out),
            Filter::Compare(c) => {
                out.insert(c.field);
            }
        }
    }

    /// Whether the filter reads a figure that moves with time alone
    /// ([`Field::time_dependent`]): its members can change with no record arriving, so a
    /// stored membership needs rescoring as days pass.
    pub fn time_dependent(&self) -> bool {
        self.fields().into_iter().any(Field::time_dependent)
    }

    /// Whether the filter reads a prediction ([`Field::is_prediction`]).
    pub fn needs_predictions(&self) -> bool {
        self.fields().into_iter().any(Field::is_prediction)
    }

    /// The JSON form, which [`Filter::from_json`] reads back to an equal filter.
    pub fn to_json(&self) -> Value {
        match self {
            Filter::And(fs) => json!({ "and": fs.iter().map(Filter::to_json).collect::<Vec<_>>() }),
            Filter::Or(fs) => json!({ "or": fs.iter().map(Filter::to_json).collect::<Vec<_>>() }),
            Filter::Not(f) => json!({ "not": f.to_json() }),
            Filter::Compare(c) => {
                let mut m = Map::new();
                m.insert("field".into(), c.field.name().into());
                m.insert("op".into(), c.test.op().name().into());
                match &c.test {
                    Test::Compare(_, v) => {
                        m.insert("value".into(), operand_json(v));
                    }
                    Test::In(vs) => {
                        m.insert("value".into(), vs.iter().map(operand_json).collect());
                    }
                    Test::Tags(_, tags) => {
                        m.insert("value".into(), tags.clone().into());
                    }
                    Test::Exists | Test::Missing => {}
                }
                Value::Object(m)
            }
        }
    }
}

impl Serialize for Filter {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Filter {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Filter, D::Error> {
        let value = Value::deserialize(d)?;
        Filter::from_json(&value).map_err(serde::de::Error::custom)
    }
}
