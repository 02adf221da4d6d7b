//! Parsers for the text inputs of the `c360-fit` tool. Pure: they take the
//! file contents as `&str`; reading the file is the caller's business.
//!
//! Line numbers in errors are 1-based physical lines. Blank lines are
//! skipped, `\r\n` line ends and a leading UTF-8 BOM are accepted. CSV
//! fields are comma-separated and may be wrapped in double quotes (`""`
//! inside quotes is a literal quote); records cannot span lines.

use thiserror::Error;

use crate::date::parse_date;
use crate::summary::CustomerSummary;

/// A parse or validation error at a given input line.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("line {line}: {message}")]
pub struct InputError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// `(customer_id, day number since 1970-01-01, amount)`.
pub type Transaction = (String, i64, f64);

fn err(line: usize, message: impl Into<String>) -> InputError {
    InputError {
        line,
        message: message.into(),
    }
}

/// Non-blank lines with their 1-based numbers, without BOM and `\r`.
fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
        .filter(|(_, l)| !l.trim().is_empty())
}

/// Splits one CSV record.
fn split_csv(line: &str, lineno: usize) -> Result<Vec<String>, InputError> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let mut in_quotes = false;
    let mut was_quoted = false;
    while let Some(c) = chars.next() {
        match (in_quotes, c) {
            (true, '"') => {
                if chars.peek() == Some(&'"') {
                    cur.push('"');
                    chars.next();
                } else {
                    in_quotes = false;
                }
            }
            (true, c) => cur.push(c),
            (false, '"') if cur.trim().is_empty() && !was_quoted => {
                cur.clear();
                in_quotes = true;
                was_quoted = true;
            }
            (false, ',') => {
                fields.push(if was_quoted {
                    std::mem::take(&mut cur)
                } else {
                    std::mem::take(&mut cur).trim().to_string()
                });
                was_quoted = false;
            }
            (false, c) => {
                if was_quoted && !c.is_whitespace() {
                    return Err(err(lineno, "unexpected character after a closing quote"));
                }
                if !was_quoted {
                    cur.push(c);
                }
            }
        }
    }
    if in_quotes {
        return Err(err(lineno, "unterminated quoted field"));
    }
    fields.push(if was_quoted {
        cur
    } else {
        cur.trim().to_string()
    });
    Ok(fields)
}

fn number(field: &str, name: &str, line: usize) -> Result<f64, InputError> {
    match field.trim().parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(err(
            line,
            format!("{name} is not a finite number: {field:?}"),
        )),
    }
}

/// Parses a transaction log CSV with records `customer_id,date,amount`
/// (date `YYYY-MM-DD` or `YYYYMMDD`). The first line is taken as a header,
/// and skipped, when neither its date nor its amount parse.
pub fn parse_transactions_csv(text: &str) -> Result<Vec<Transaction>, InputError> {
    let mut out = Vec::new();
    let mut first = true;
    for (line, raw) in lines(text) {
        let f = split_csv(raw, line)?;
        if first {
            first = false;
            let looks_like_header =
                f.len() == 3 && parse_date(&f[1]).is_none() && f[2].trim().parse::<f64>().is_err();
            if looks_like_header {
                continue;
            }
        }
        if f.len() != 3 {
            return Err(err(
                line,
                format!(
                    "expected 3 fields (customer_id,date,amount), found {}",
                    f.len()
                ),
            ));
        }
        if f[0].is_empty() {
            return Err(err(line, "empty customer_id"));
        }
        let day = parse_date(&f[1]).ok_or_else(|| {
            err(
                line,
                format!("invalid date {:?} (expected YYYY-MM-DD or YYYYMMDD)", f[1]),
            )
        })?;
        let amount = number(&f[2], "amount", line)?;
        out.push((f[0].clone(), day, amount));
    }
    Ok(out)
}

/// Parses the raw CDNOW sample (`CDNOW_sample.txt`): whitespace-separated
/// `master_id sample_id YYYYMMDD cds dollars`. The customer id is the sample
/// id (second column, leading zeros kept): it is the `ID` of the published
/// CDNOW summaries (`0001` is customer 1), whereas master ids are not in the
/// same order.
pub fn parse_cdnow(text: &str) -> Result<Vec<Transaction>, InputError> {
    let mut out = Vec::new();
    for (line, raw) in lines(text) {
        let f: Vec<&str> = raw.split_whitespace().collect();
        if f.len() != 5 {
            return Err(err(
                line,
                format!(
                    "expected 5 whitespace-separated fields (master_id sample_id YYYYMMDD cds dollars), found {}",
                    f.len()
                ),
            ));
        }
        let day = parse_date(f[2])
            .ok_or_else(|| err(line, format!("invalid date {:?} (expected YYYYMMDD)", f[2])))?;
        let cds = number(f[3], "number of CDs", line)?;
        if cds < 0.0 || cds.fract() != 0.0 {
            return Err(err(
                line,
                format!("number of CDs must be a non-negative integer: {:?}", f[3]),
            ));
        }
        let amount = number(f[4], "dollar value", line)?;
        out.push((f[1].to_string(), day, amount));
    }
    Ok(out)
}

/// Parses a summary CSV: a header line (any names, five columns, e.g.
/// `customer_id,frequency,recency,T,monetary_value`), then one customer per
/// line. Each row is checked with [`CustomerSummary::validate`] and
/// `monetary_value >= 0`, and a repeat customer (frequency > 0) must have
/// `monetary_value > 0`, so errors point at the offending line.
pub fn parse_summary_csv(text: &str) -> Result<Vec<(String, CustomerSummary)>, InputError> {
    let mut out = Vec::new();
    let mut header_seen = false;
    for (line, raw) in lines(text) {
        let f = split_csv(raw, line)?;
        if f.len() != 5 {
            return Err(err(
                line,
                format!(
                    "expected 5 fields (customer_id,frequency,recency,T,monetary_value), found {}",
                    f.len()
                ),
            ));
        }
        if !header_seen {
            header_seen = true;
            if f[1..].iter().all(|v| v.trim().parse::<f64>().is_ok()) {
                return Err(err(
                    line,
                    "expected a header line (customer_id,frequency,recency,T,monetary_value), found data",
                ));
            }
            continue;
        }
        if f[0].is_empty() {
            return Err(err(line, "empty customer_id"));
        }
        let s = CustomerSummary {
            frequency: number(&f[1], "frequency", line)?,
            recency: number(&f[2], "recency", line)?,
            t: number(&f[3], "T", line)?,
            monetary_value: number(&f[4], "monetary_value", line)?,
        };
        s.validate().map_err(|m| err(line, m))?;
        if s.monetary_value < 0.0 || (s.frequency > 0.0 && s.monetary_value == 0.0) {
            return Err(err(
                line,
                format!(
                    "monetary_value must be > 0 for a repeat customer and >= 0 otherwise, got {}",
                    s.monetary_value
                ),
            ));
        }
        out.push((f[0].clone(), s));
    }
    if !header_seen {
        return Err(err(
            1,
            "empty input: expected a header line and customer rows",
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::date::days_from_civil;

    #[test]
    fn transactions_with_and_without_header() {
        let t = "customer_id,date,amount\r\nc1,1997-01-01,29.33\n\n\"c,2\",19970118,1e1\n";
        let v = parse_transactions_csv(t).unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0], ("c1".into(), days_from_civil(1997, 1, 1), 29.33));
        assert_eq!(v[1], ("c,2".into(), days_from_civil(1997, 1, 18), 10.0));
        let v = parse_transactions_csv("\u{feff}c1,1997-01-01,1\n").unwrap();
        assert_eq!(v.len(), 1);
    }

    #[test]
    fn transaction_errors_carry_line_numbers() {
        let e = parse_transactions_csv("id,date,amount\nc1,1997-01-01,1\n\nc2,1997-02-30,1\n")
            .unwrap_err();
        assert_eq!(e.line, 4);
        assert!(e.message.contains("invalid date"), "{e}");
        let e = parse_transactions_csv("c1,1997-01-01,1\nc2,1997-01-02\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("expected 3 fields"));
        let e = parse_transactions_csv("c1,1997-01-01,abc\n").unwrap_err();
        assert_eq!((e.line, e.message.contains("amount")), (1, true));
        let e = parse_transactions_csv("c1,1997-01-01,NaN\n").unwrap_err();
        assert_eq!(e.line, 1);
        let e = parse_transactions_csv("\"c1,1997-01-01,1\n").unwrap_err();
        assert!(e.message.contains("unterminated"));
        assert_eq!(e.to_string(), "line 1: unterminated quoted field");
    }

    #[test]
    fn cdnow_lines() {
        let t = " 00004 0001 19970101  2   29.33\r\n 00004 0001 19970118  2   29.73\r\n";
        let v = parse_cdnow(t).unwrap();
        assert_eq!(v[1], ("0001".into(), days_from_civil(1997, 1, 18), 29.73));
        let e = parse_cdnow(" 00004 0001 19970101  2\n").unwrap_err();
        assert_eq!(e.line, 1);
        let e = parse_cdnow(" 00004 0001 19970101 2 1\n 1 2 19971301 1 1\n").unwrap_err();
        assert_eq!(e.line, 2);
    }

    #[test]
    fn summary_csv() {
        let t = "ID,x,t_x,T,zbar\n1,2,30.43,38.86,22.35\n2,0,0,38.86,0\n";
        let v = parse_summary_csv(t).unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].1.frequency, 2.0);
        assert_eq!(v[1].1.t, 38.86);
        let e = parse_summary_csv("1,2,30.43,38.86,22.35\n").unwrap_err();
        assert!(e.message.contains("header"));
        let e = parse_summary_csv("id,f,r,T,m\n1,2,40,38.86,22.35\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("larger than T"));
        let e = parse_summary_csv("id,f,r,T,m\n1,2,4,38.86,0\n").unwrap_err();
        assert!(e.message.contains("monetary_value"));
        let e = parse_summary_csv("id,f,r,T,m\n1,2.5,4,38.86,1\n").unwrap_err();
        assert!(e.message.contains("integer"));
        assert!(parse_summary_csv("").is_err());
    }
}
