//! Rule filters: segment JSON whose comparisons may take a store median, bound per scope.

use super::*;

/// A rule's filter: segment JSON in which comparisons may take a store median as their value
/// (see [`Median`]). Checked when read ([`RuleFilter::from_json`]); made a [`Filter`] for a
/// scope by [`RuleFilter::bind`].
#[derive(Debug, Clone, PartialEq)]
pub struct RuleFilter {
    json: Value,
    medians: BTreeSet<Median>,
    /// The filter, when it refers to no median (bound once, when read).
    fixed: Option<Filter>,
    fields: BTreeSet<Field>,
}

impl RuleFilter {
    /// Reads and checks a rule's filter: the store-median references (a known median, with
    /// `eq ne gt gte lt lte`, on a field it compares with), then the whole filter, bound
    /// against a baseline where every median is known, as a segment filter.
    ///
    /// # Errors
    /// [`CouponError::StoreMedian`] for a bad reference, [`CouponError::Filter`] for what
    /// [`Filter::from_json`] refuses.
    pub fn from_json(json: Value) -> Result<RuleFilter, CouponError> {
        let mut medians = BTreeSet::new();
        let mut probe = json.clone();
        let all_known = Baseline::probe();
        for_each_comparison(&mut probe, 1, &mut |m| {
            if let Some(median) = reference(m)? {
                medians.insert(median);
                substitute(m, median, &all_known)?;
            }
            Ok(())
        })?;
        let filter = Filter::from_json(&probe).map_err(CouponError::Filter)?;
        let fields = filter.fields();
        Ok(RuleFilter {
            json,
            fixed: medians.is_empty().then_some(filter),
            medians,
            fields,
        })
    }

    /// The filter as configured (with its `{"store_median": ...}` references).
    pub fn json(&self) -> &Value {
        &self.json
    }

    /// The medians the filter refers to.
    pub fn medians(&self) -> &BTreeSet<Median> {
        &self.medians
    }

    /// The fields the filter reads ([`Filter::fields`]).
    pub fn fields(&self) -> &BTreeSet<Field> {
        &self.fields
    }

    /// Whether the filter reads a prediction ([`Filter::needs_predictions`]).
    pub fn needs_predictions(&self) -> bool {
        self.fields.iter().any(|f| f.is_prediction())
    }

    /// The filter for the scope of `baseline`, each store median replaced by its value
    /// (money as the exact yuan). `Ok(None)` when a median it refers to is unknown: the rule
    /// does not apply (a fresh deployment has no baseline until the first weekly calibration).
    ///
    /// # Errors
    /// [`CouponError::UnusableMedian`] for a negative money median, which the segment
    /// language cannot compare against; [`CouponError::Filter`] cannot happen for a filter
    /// that [`RuleFilter::from_json`] accepted.
    pub fn bind(&self, baseline: &Baseline) -> Result<Option<Filter>, CouponError> {
        if let Some(f) = &self.fixed {
            return Ok(Some(f.clone()));
        }
        if self.medians.iter().any(|m| baseline.get(*m).is_none()) {
            return Ok(None);
        }
        let mut bound = self.json.clone();
        for_each_comparison(&mut bound, 1, &mut |m| match reference(m)? {
            Some(median) => substitute(m, median, baseline),
            None => Ok(()),
        })?;
        Filter::from_json(&bound)
            .map(Some)
            .map_err(CouponError::Filter)
    }

    /// What a match reports as its reason (after the rule's id): the part of `bound` (this
    /// filter bound for the scope) that `figures` satisfy, as JSON, then
    /// `; store median of avg_order_value: 85.50 yuan` for each median that part compares
    /// with. Only the satisfied part, because staff act on why this customer qualified: the
    /// whole `or` of `win_back` would not say whether it was the tag or the prediction.
    pub(super) fn matched_text(
        &self,
        bound: &Filter,
        figures: &SegmentFigures,
        baseline: &Baseline,
    ) -> String {
        let (part, mut configured) = satisfied(bound, &self.json, figures);
        let mut medians = BTreeSet::new();
        // The configured JSON was checked when read: `reference` cannot fail on it.
        let _ = for_each_comparison(&mut configured, 1, &mut |m| {
            if let Ok(Some(median)) = reference(m) {
                medians.insert(median);
            }
            Ok(())
        });
        let medians: String = medians
            .iter()
            .filter_map(|m| {
                Some(format!(
                    "; store median of {m}: {}",
                    baseline.get(*m)?.text()
                ))
            })
            .collect();
        format!("{}{medians}", part.to_json())
    }
}

/// The part of `filter` that `figures` satisfy, with the same part of `configured` (the
/// rule's JSON, which `filter` was bound from node for node, so that the medians of that part
/// can be named): every part of an `and`, the first satisfied branch of an `or`, each looked
/// into in turn; a `not` or a comparison whole (a `not` holds because its inner filter does
/// not: there is no branch to single out). On a filter `figures` do not satisfy, an `or`
/// without a satisfied branch stays whole.
fn satisfied(filter: &Filter, configured: &Value, figures: &SegmentFigures) -> (Filter, Value) {
    let child = |key: &str, i: usize| {
        configured
            .get(key)
            .and_then(|items| items.get(i))
            .unwrap_or(&Value::Null)
    };
    match filter {
        Filter::And(parts) => {
            let (parts, configured): (Vec<Filter>, Vec<Value>) = parts
                .iter()
                .enumerate()
                .map(|(i, p)| satisfied(p, child("and", i), figures))
                .unzip();
            (Filter::And(parts), json!({ "and": configured }))
        }
        Filter::Or(branches) => match branches.iter().position(|b| b.matches(figures)) {
            Some(i) => satisfied(&branches[i], child("or", i), figures),
            None => (filter.clone(), configured.clone()),
        },
        Filter::Not(_) | Filter::Compare(_) => (filter.clone(), configured.clone()),
    }
}

/// Calls `f` on every comparison node (an object that is not `and`, `or` or `not`), down to
/// one level past [`MAX_DEPTH`] ([`Filter::from_json`] refuses anything deeper).
fn for_each_comparison<F>(node: &mut Value, depth: usize, f: &mut F) -> Result<(), CouponError>
where
    F: FnMut(&mut Map<String, Value>) -> Result<(), CouponError>,
{
    if depth > MAX_DEPTH + 1 {
        return Ok(());
    }
    let Value::Object(m) = node else {
        return Ok(());
    };
    if !["and", "or", "not"].iter().any(|k| m.contains_key(*k)) {
        return f(m);
    }
    for (key, inner) in m.iter_mut() {
        match (key.as_str(), inner) {
            ("and" | "or", Value::Array(items)) => {
                for item in items {
                    for_each_comparison(item, depth + 1, f)?;
                }
            }
            ("not", inner) => for_each_comparison(inner, depth + 1, f)?,
            _ => {}
        }
    }
    Ok(())
}

/// The median a comparison's `value` refers to, checked; `None` when its value is not a
/// `{"store_median": ...}` object, or its field is not a known field (which
/// [`Filter::from_json`] then refuses).
fn reference(m: &Map<String, Value>) -> Result<Option<Median>, CouponError> {
    let Some(Value::Object(r)) = m.get("value") else {
        return Ok(None);
    };
    let Some(name) = r.get("store_median") else {
        return Ok(None);
    };
    let bad = |s: String| Err(CouponError::StoreMedian(s));
    let names = Median::ALL.map(Median::name).join(", ");
    if let Some(other) = r.keys().find(|k| *k != "store_median") {
        return bad(format!(
            "{{\"store_median\": ...}} has no other key, got {other:?}"
        ));
    }
    let Some(median) = name.as_str().and_then(Median::parse) else {
        return bad(format!(
            "unknown store median {name} (store medians: {names})"
        ));
    };
    let Some(field) = m
        .get("field")
        .and_then(Value::as_str)
        .and_then(Field::parse)
    else {
        return Ok(None);
    };
    let op = m.get("op").and_then(Value::as_str).and_then(Op::parse);
    if !matches!(
        op,
        Some(Op::Eq | Op::Ne | Op::Gt | Op::Gte | Op::Lt | Op::Lte)
    ) {
        return bad(format!(
            "a store median is compared with eq, ne, gt, gte, lt or lte, got {} on {field}",
            m.get("op").map_or("no op".to_string(), Value::to_string)
        ));
    }
    if !median.compares_with(field) {
        let what = match median {
            Median::TotalOrders => "a number of orders: it compares with total_orders only",
            _ => "yuan: it compares with total_spent, avg_order_value and predicted_clv_12m only",
        };
        return bad(format!(
            "the store median of {median} is {what}, not with {field}"
        ));
    }
    Ok(Some(median))
}

/// Replaces a comparison's `{"store_median": ...}` value with the median of `baseline`,
/// which the caller has checked is known.
fn substitute(
    m: &mut Map<String, Value>,
    median: Median,
    baseline: &Baseline,
) -> Result<(), CouponError> {
    let value = match baseline.get(median) {
        Some(v) => v.json(median)?,
        // Checked by the callers; an unknown median leaves the reference, which
        // Filter::from_json refuses rather than guess.
        None => return Ok(()),
    };
    m.insert("value".to_string(), value);
    Ok(())
}
