//! Order lines as CSV, `customer_id,order_id,ordered_at,dish_id`, grouped into baskets.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;

use chrono::{DateTime, FixedOffset};
use thiserror::Error;

use crate::Basket;

/// The header the CSV must start with, in this order.
pub const HEADER: [&str; 4] = ["customer_id", "order_id", "ordered_at", "dish_id"];

/// A problem in the input, with the 1-based line and, where known, the 1-based column.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum InputError {
    /// The first line is not [`HEADER`].
    #[error(
        "line 1: the header must be `customer_id,order_id,ordered_at,dish_id`, found `{found}`"
    )]
    Header {
        /// The header as read.
        found: String,
    },
    /// A line does not have four fields.
    #[error("line {line}: expected 4 columns, found {found}")]
    Columns {
        /// Line number.
        line: u64,
        /// Fields found.
        found: usize,
    },
    /// A required field is empty (or only spaces).
    #[error("line {line}, column {column} ({name}): empty")]
    Empty {
        /// Line number.
        line: u64,
        /// Column number.
        column: usize,
        /// Column name.
        name: &'static str,
    },
    /// One order id with two customers or two times.
    #[error("line {line}, column {column} ({name}): order {order_id} has `{first}` on line {first_line}, `{found}` here")]
    Inconsistent {
        /// Line number.
        line: u64,
        /// Column number.
        column: usize,
        /// Column name.
        name: &'static str,
        /// The order.
        order_id: String,
        /// The value first seen.
        first: String,
        /// Where it was first seen.
        first_line: u64,
        /// The value on this line.
        found: String,
    },
    /// The first line of a request-time file is not [`AS_OF_HEADER`].
    #[error("line 1: the header must be `customer_id,as_of`, found `{found}`")]
    AsOfHeader {
        /// The header as read.
        found: String,
    },
    /// A time that is not RFC 3339.
    #[error("line {line}, column {column} ({name}): `{found}` is not an RFC 3339 time")]
    Time {
        /// Line number.
        line: u64,
        /// Column number.
        column: usize,
        /// Column name.
        name: &'static str,
        /// The value.
        found: String,
    },
    /// A customer listed twice in a request-time file.
    #[error("line {line}: customer {customer_id} already has a time on line {first_line}")]
    Duplicate {
        /// Line number.
        line: u64,
        /// The customer.
        customer_id: String,
        /// Where it was first seen.
        first_line: u64,
    },
    /// The CSV reader's own error (bad UTF-8, unreadable input), with what it knows of the
    /// position.
    #[error("{0}")]
    Csv(String),
}

/// A CSV reader over `input` (fields trimmed) whose header is exactly `expected`; another
/// header is `wrong(the header found, comma-joined)`.
fn open_csv<R: Read>(
    input: R,
    expected: &[&str],
    wrong: impl FnOnce(String) -> InputError,
) -> Result<csv::Reader<R>, InputError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(input);
    let header = reader.headers().map_err(csv_error)?;
    if header.iter().ne(expected.iter().copied()) {
        return Err(wrong(header.iter().collect::<Vec<_>>().join(",")));
    }
    Ok(reader)
}

/// Every customer's baskets, customers in id order, baskets in order of first appearance.
pub type Baskets = BTreeMap<String, Vec<Basket>>;

/// Reads order lines and groups them into baskets per customer. Fields are trimmed; an order
/// id must keep one customer and one `ordered_at`.
pub fn read_baskets<R: Read>(input: R) -> Result<Baskets, InputError> {
    let mut reader = open_csv(input, &HEADER, |found| InputError::Header { found })?;
    let mut out = Baskets::new();
    // order id -> (customer, index in the customer's baskets, line first seen)
    let mut orders: HashMap<String, (String, usize, u64)> = HashMap::new();
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(csv_error(e)),
        }
        let line = record.position().map_or(0, |p| p.line());
        if record.len() != HEADER.len() {
            return Err(InputError::Columns {
                line,
                found: record.len(),
            });
        }
        for (column, (value, name)) in record.iter().zip(HEADER).enumerate() {
            if value.is_empty() {
                return Err(InputError::Empty {
                    line,
                    column: column + 1,
                    name,
                });
            }
        }
        let (customer, order_id, ordered_at, dish) =
            (&record[0], &record[1], &record[2], &record[3]);
        match orders.get(order_id) {
            Some((first_customer, index, first_line)) => {
                if first_customer != customer {
                    return Err(InputError::Inconsistent {
                        line,
                        column: 1,
                        name: HEADER[0],
                        order_id: order_id.to_owned(),
                        first: first_customer.clone(),
                        first_line: *first_line,
                        found: customer.to_owned(),
                    });
                }
                let basket = out
                    .get_mut(customer)
                    .and_then(|b| b.get_mut(*index))
                    .ok_or_else(|| {
                        InputError::Csv(format!("line {line}: lost order {order_id}"))
                    })?;
                if basket.ordered_at != ordered_at {
                    return Err(InputError::Inconsistent {
                        line,
                        column: 3,
                        name: HEADER[2],
                        order_id: order_id.to_owned(),
                        first: basket.ordered_at.clone(),
                        first_line: *first_line,
                        found: ordered_at.to_owned(),
                    });
                }
                basket.dishes.push(dish.to_owned());
            }
            None => {
                let baskets = out.entry(customer.to_owned()).or_default();
                orders.insert(
                    order_id.to_owned(),
                    (customer.to_owned(), baskets.len(), line),
                );
                baskets.push(Basket {
                    order_id: order_id.to_owned(),
                    ordered_at: ordered_at.to_owned(),
                    dishes: vec![dish.to_owned()],
                });
            }
        }
    }
    Ok(out)
}

/// The header of a request-time file, in this order.
pub const AS_OF_HEADER: [&str; 2] = ["customer_id", "as_of"];

/// Each customer's request time: when the order being ranked is placed.
pub type AsOf = BTreeMap<String, DateTime<FixedOffset>>;

/// Reads request times, CSV `customer_id,as_of` with `as_of` in RFC 3339, one line per
/// customer. Fields are trimmed.
pub fn read_as_of<R: Read>(input: R) -> Result<AsOf, InputError> {
    let mut reader = open_csv(input, &AS_OF_HEADER, |found| InputError::AsOfHeader {
        found,
    })?;
    let mut out = AsOf::new();
    let mut lines: HashMap<String, u64> = HashMap::new();
    let mut record = csv::StringRecord::new();
    while reader.read_record(&mut record).map_err(csv_error)? {
        let line = record.position().map_or(0, |p| p.line());
        if record.len() != AS_OF_HEADER.len() {
            return Err(InputError::Columns {
                line,
                found: record.len(),
            });
        }
        for (column, (value, name)) in record.iter().zip(AS_OF_HEADER).enumerate() {
            if value.is_empty() {
                return Err(InputError::Empty {
                    line,
                    column: column + 1,
                    name,
                });
            }
        }
        let at = parse_time(&record[1]).ok_or_else(|| InputError::Time {
            line,
            column: 2,
            name: AS_OF_HEADER[1],
            found: record[1].to_owned(),
        })?;
        if let Some(&first_line) = lines.get(&record[0]) {
            return Err(InputError::Duplicate {
                line,
                customer_id: record[0].to_owned(),
                first_line,
            });
        }
        lines.insert(record[0].to_owned(), line);
        out.insert(record[0].to_owned(), at);
    }
    Ok(out)
}

/// An RFC 3339 time, e.g. `2024-03-15T12:00:00+08:00`.
pub fn parse_time(s: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(s.trim()).ok()
}

fn csv_error(e: csv::Error) -> InputError {
    let column = match e.kind() {
        csv::ErrorKind::Utf8 { err, .. } => Some(err.field() + 1),
        _ => None,
    };
    let message = match (e.position(), column) {
        (Some(p), Some(c)) => format!("line {}, column {c}: {e}", p.line()),
        (Some(p), None) => format!("line {}: {e}", p.line()),
        _ => e.to_string(),
    };
    InputError::Csv(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_lines_into_baskets_per_customer() {
        let csv = "customer_id,order_id,ordered_at,dish_id\n\
                   c2,o9,2024-01-02T12:00:00+08:00,tea\n\
                   c1,o1,2024-01-01T12:00:00+08:00,noodles\n\
                   c1,o1,2024-01-01T12:00:00+08:00, tea \n\
                   c1,o2,2024-01-03T12:00:00+08:00,noodles\n";
        let baskets = read_baskets(csv.as_bytes()).unwrap_or_default();
        assert_eq!(baskets.keys().collect::<Vec<_>>(), ["c1", "c2"]);
        assert_eq!(baskets["c1"].len(), 2);
        assert_eq!(baskets["c1"][0].dishes, ["noodles", "tea"]);
        assert_eq!(baskets["c2"][0].order_id, "o9");
    }

    #[test]
    fn a_wrong_header_is_named() {
        let err = read_baskets("user,order,at,dish\n".as_bytes());
        assert!(matches!(err, Err(InputError::Header { found }) if found == "user,order,at,dish"));
        assert!(matches!(
            read_baskets("".as_bytes()),
            Err(InputError::Header { .. })
        ));
    }

    #[test]
    fn errors_name_the_line_and_column() {
        let csv = "customer_id,order_id,ordered_at,dish_id\nc1,o1,1,tea\nc1,,1,tea\n";
        assert_eq!(
            read_baskets(csv.as_bytes()),
            Err(InputError::Empty {
                line: 3,
                column: 2,
                name: "order_id"
            })
        );
        let csv = "customer_id,order_id,ordered_at,dish_id\nc1,o1,1\n";
        assert_eq!(
            read_baskets(csv.as_bytes()),
            Err(InputError::Columns { line: 2, found: 3 })
        );
        let csv = "customer_id,order_id,ordered_at,dish_id\nc1,o1,1,tea\nc1,o1,2,rice\n";
        let err = read_baskets(csv.as_bytes()).err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("line 3, column 3 (ordered_at): order o1 has `1` on line 2, `2` here")
        );
        let csv = "customer_id,order_id,ordered_at,dish_id\nc1,o1,1,tea\nc2,o1,1,rice\n";
        assert!(matches!(
            read_baskets(csv.as_bytes()),
            Err(InputError::Inconsistent {
                line: 3,
                column: 1,
                ..
            })
        ));
    }

    #[test]
    fn reads_request_times_per_customer() {
        let csv = "customer_id,as_of\nc1, 2024-03-15T12:00:00+08:00 \nc2,2024-03-16T00:00:00Z\n";
        let as_of = read_as_of(csv.as_bytes()).unwrap_or_default();
        assert_eq!(as_of.len(), 2);
        assert_eq!(
            Some(&as_of["c1"]),
            parse_time("2024-03-15T04:00:00Z").as_ref()
        );
        let err = |csv: &str| read_as_of(csv.as_bytes()).err().map(|e| e.to_string());
        assert_eq!(
            err("customer,time\n").as_deref(),
            Some("line 1: the header must be `customer_id,as_of`, found `customer,time`")
        );
        assert_eq!(
            err("customer_id,as_of\nc1,2024-03-15\n").as_deref(),
            Some("line 2, column 2 (as_of): `2024-03-15` is not an RFC 3339 time")
        );
        assert_eq!(
            err("customer_id,as_of\nc1,2024-03-15T12:00:00Z\nc1,2024-03-16T12:00:00Z\n").as_deref(),
            Some("line 3: customer c1 already has a time on line 2")
        );
        assert_eq!(
            read_as_of("customer_id,as_of\n,2024-03-15T12:00:00Z\n".as_bytes()),
            Err(InputError::Empty {
                line: 2,
                column: 1,
                name: "customer_id"
            })
        );
    }

    #[test]
    fn invalid_utf8_names_its_line_and_column() {
        let mut csv = b"customer_id,order_id,ordered_at,dish_id\nc1,o1,1,t".to_vec();
        csv.extend_from_slice(&[0xff, b'\n']);
        let err = read_baskets(csv.as_slice()).err().map(|e| e.to_string());
        assert!(
            err.as_deref()
                .is_some_and(|e| e.starts_with("line 2, column 4:")),
            "{err:?}"
        );
    }
}
