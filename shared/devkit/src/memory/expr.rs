//! Expressions: `#name` and `:value` placeholders, and the conditions of writes.

use super::{fail, invalid, Fail, Item};
use serde_json::Value;

/// Resolves `#name` and `:value` placeholders.
pub(super) struct Expr<'a> {
    pub(super) names: Option<&'a Value>,
    pub(super) values: Option<&'a Value>,
}

impl Expr<'_> {
    pub(super) fn name(&self, token: &str) -> String {
        match token.strip_prefix('#') {
            Some(_) => self
                .names
                .and_then(|n| n.get(token))
                .and_then(Value::as_str)
                .unwrap_or(token)
                .to_string(),
            None => token.to_string(),
        }
    }
    pub(super) fn value(&self, token: &str) -> Result<Value, Fail> {
        self.values
            .and_then(|v| v.get(token))
            .cloned()
            .ok_or_else(|| invalid(format!("no value for {token}")))
    }

    /// An attribute name token: a plain name, or a `#name` that must resolve (DynamoDB refuses
    /// an undefined one).
    fn attr(&self, token: &str) -> Result<String, Fail> {
        let t = token.trim();
        let plain =
            |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        match t.strip_prefix('#') {
            Some(rest) if plain(rest) => self
                .names
                .and_then(|n| n.get(t))
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| invalid(format!("undefined attribute name {t}"))),
            None if plain(t) => Ok(t.to_string()),
            _ => Err(unsupported(t)),
        }
    }

    /// `attribute_not_exists(a)`, `attribute_exists(a)`, `begins_with(a, :v)` (`:v` a string),
    /// `a = :v` or `a < :v` (`:v` a number), or several of them joined by `OR` (any case, any
    /// spacing). Anything else (`AND`, `NOT`, parentheses, other comparators or functions) is
    /// refused, never evaluated as something else.
    pub(super) fn holds(&self, condition: &str, item: Option<&Item>) -> Result<bool, Fail> {
        let words: Vec<&str> = condition.split_whitespace().collect();
        if words
            .iter()
            .any(|w| w.eq_ignore_ascii_case("and") || w.eq_ignore_ascii_case("not"))
        {
            return Err(unsupported(condition));
        }
        let parts: Vec<String> = words
            .split(|w| w.eq_ignore_ascii_case("or"))
            .map(|p| p.join(" "))
            .collect();
        if parts.iter().any(String::is_empty) {
            return Err(unsupported(condition));
        }
        for part in &parts {
            if self.term(part, item)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// One term of [`Expr::holds`].
    fn term(&self, c: &str, item: Option<&Item>) -> Result<bool, Fail> {
        let get = |a: &str| item.and_then(|i| i.get(a));
        if let Some((f, args)) = c.split_once('(') {
            let args = args
                .strip_suffix(')')
                .filter(|a| !a.contains('(') && !a.contains(')'))
                .ok_or_else(|| unsupported(c))?;
            return match (f.trim(), args.split_once(',')) {
                ("attribute_not_exists", None) => Ok(get(&self.attr(args)?).is_none()),
                ("attribute_exists", None) => Ok(get(&self.attr(args)?).is_some()),
                ("begins_with", Some((a, v))) => {
                    let prefix = self.value(v.trim())?;
                    let prefix = prefix
                        .get("S")
                        .and_then(Value::as_str)
                        .ok_or_else(|| invalid(format!("begins_with needs a string: {c}")))?
                        .to_string();
                    Ok(get(&self.attr(a)?)
                        .and_then(|v| v.get("S"))
                        .and_then(Value::as_str)
                        .is_some_and(|v| v.starts_with(&prefix)))
                }
                _ => Err(unsupported(c)),
            };
        }
        let words: Vec<&str> = c.split_whitespace().collect();
        let [a, op, v] = words[..] else {
            return Err(unsupported(c));
        };
        if !v.starts_with(':') {
            return Err(unsupported(c));
        }
        let a = self.attr(a)?;
        let v = self.value(v)?;
        match op {
            "=" => Ok(get(&a) == Some(&v)),
            "<" => {
                let number = |x: &Value| x.get("N").and_then(Value::as_str)?.parse::<f64>().ok();
                let bound =
                    number(&v).ok_or_else(|| invalid(format!("`<` needs a number: {c}")))?;
                Ok(get(&a).and_then(number).is_some_and(|x| x < bound))
            }
            _ => Err(unsupported(c)),
        }
    }
}

fn unsupported(what: &str) -> Fail {
    invalid(format!(
        "the in-memory DynamoDB does not support the expression `{what}`"
    ))
}

pub(super) fn check(request: &Value, current: Option<&Item>) -> Result<(), Fail> {
    let Some(condition) = request.get("ConditionExpression").and_then(Value::as_str) else {
        return Ok(());
    };
    let expr = Expr {
        names: request.get("ExpressionAttributeNames"),
        values: request.get("ExpressionAttributeValues"),
    };
    if expr.holds(condition, current)? {
        Ok(())
    } else {
        Err(fail(
            "ConditionalCheckFailedException",
            "The conditional request failed",
        ))
    }
}
