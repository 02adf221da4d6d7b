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

    /// `attribute_not_exists(a)`, `attribute_exists(a)`, `begins_with(a, :v)` or `a = :v`, or
    /// several of them joined by `OR` (no parentheses, no `AND`: what the service sends).
    pub(super) fn holds(&self, condition: &str, item: Option<&Item>) -> Result<bool, Fail> {
        if condition.contains(" OR ") {
            for part in condition.split(" OR ") {
                if self.holds(part, item)? {
                    return Ok(true);
                }
            }
            return Ok(false);
        }
        let c = condition.trim();
        if let Some((a, v)) = c
            .strip_prefix("begins_with(")
            .and_then(|r| r.strip_suffix(')'))
            .and_then(|r| r.split_once(','))
        {
            let a = self.name(a.trim());
            let prefix = self.value(v.trim())?;
            let prefix = prefix.get("S").and_then(Value::as_str).unwrap_or_default();
            let value = item.and_then(|i| i.get(&a)).and_then(|v| v.get("S"));
            return Ok(value
                .and_then(Value::as_str)
                .is_some_and(|v| v.starts_with(prefix)));
        }
        if let Some(inner) = c
            .strip_prefix("attribute_not_exists(")
            .and_then(|r| r.strip_suffix(')'))
        {
            let a = self.name(inner.trim());
            return Ok(item.is_none_or(|i| !i.contains_key(&a)));
        }
        if let Some(inner) = c
            .strip_prefix("attribute_exists(")
            .and_then(|r| r.strip_suffix(')'))
        {
            let a = self.name(inner.trim());
            return Ok(item.is_some_and(|i| i.contains_key(&a)));
        }
        if let Some((a, v)) = c.split_once(" = ") {
            let a = self.name(a.trim());
            let v = self.value(v.trim())?;
            return Ok(item.and_then(|i| i.get(&a)) == Some(&v));
        }
        Err(invalid(format!(
            "the in-memory DynamoDB does not support the condition `{c}`"
        )))
    }
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
