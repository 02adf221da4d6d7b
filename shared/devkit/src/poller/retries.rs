//! Retries as a pure function: sequence-number order, the retry in progress on a shard,
//! and [`decide_batch`], the event source mapping's rules for one invocation.

use std::cmp::Ordering;

use aws_lambda_events::event::streams::DynamoDbEventResponse;

/// Orders stream sequence numbers, which are decimal integers of varying length: the shorter
/// one (ignoring leading zeros) is smaller, equal lengths compare lexicographically.
pub fn cmp_sequence_numbers(a: &str, b: &str) -> Ordering {
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// A failure that is being retried: the sequence number delivery restarts at (the lowest
/// failed record, or the first record of a batch that failed as a whole) and how many
/// consecutive deliveries have failed there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryState {
    pub sequence_number: String,
    pub failures: u32,
}

/// What to do after one invocation; see [`decide_batch`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BatchDecision {
    /// How many leading records of the batch are done (processed by the handler).
    pub succeeded: usize,
    /// The new checkpoint (last sequence number that is done); `None` leaves it unchanged.
    pub checkpoint: Option<String>,
    /// Indices (into the batch) of the records to write to the dead-letter file.
    pub dead_letter: Vec<usize>,
    /// Why they are dead-lettered.
    pub dead_letter_reason: Option<String>,
    /// `Some`: deliver again starting at `retry.sequence_number` (this is a retry).
    /// `None`: continue after the checkpoint.
    pub retry: Option<RetryState>,
    /// The invocation failed as a whole.
    pub function_error: bool,
}

/// The event source mapping's rules for one invocation, as a pure function.
///
/// `sequence_numbers` are the batch's records in delivery order, `response` is what the
/// handler returned, `pending` is the retry in progress on this shard (if any) and
/// `max_retry_attempts` the configured limit.
///
/// * `Ok` without failures: everything is done, checkpoint = last record.
/// * `Ok` with failures: the lowest failed sequence number (by [`cmp_sequence_numbers`]) is
///   the failure point; records before it are done. An identifier that is absent, empty or not
///   one of the batch's sequence numbers makes it a function error.
/// * `Err`: a function error; the failure point is the first record.
///
/// A failure at the same point as `pending` counts as one more failed delivery there. While at
/// most `max_retry_attempts` retries have been used, the decision is to retry from the failure
/// point. Once they are exhausted: a function error dead-letters the whole batch and checkpoints
/// its last record; a partial failure dead-letters the lowest failed record, checkpoints it and
/// continues with the records after it (which are delivered again).
pub fn decide_batch(
    sequence_numbers: &[String],
    response: &Result<DynamoDbEventResponse, String>,
    pending: Option<&RetryState>,
    max_retry_attempts: u32,
) -> BatchDecision {
    let Some(last) = sequence_numbers.last() else {
        return BatchDecision::default();
    };
    // (index of the failure point, function error message if the whole batch failed)
    let failure: Option<(usize, Option<String>)> = match response {
        Err(err) => Some((0, Some(err.clone()))),
        Ok(response) => {
            let mut lowest: Option<usize> = None;
            let mut invalid: Option<String> = None;
            for failure in &response.batch_item_failures {
                let position = failure
                    .item_identifier
                    .as_deref()
                    .filter(|id| !id.is_empty())
                    .and_then(|id| sequence_numbers.iter().position(|s| s == id));
                match position {
                    Some(i) => {
                        let lower = lowest.is_none_or(|l| {
                            cmp_sequence_numbers(&sequence_numbers[i], &sequence_numbers[l])
                                == Ordering::Less
                        });
                        if lower {
                            lowest = Some(i);
                        }
                    }
                    None => {
                        invalid = Some(format!(
                            "invalid batchItemFailures itemIdentifier {:?} (not a sequence number of the batch)",
                            failure.item_identifier
                        ));
                        break;
                    }
                }
            }
            match invalid {
                Some(message) => Some((0, Some(message))),
                None => lowest.map(|i| (i, None)),
            }
        }
    };
    let Some((index, function_error)) = failure else {
        return BatchDecision {
            succeeded: sequence_numbers.len(),
            checkpoint: Some(last.clone()),
            ..BatchDecision::default()
        };
    };
    let point = &sequence_numbers[index];
    let failures = match pending {
        Some(p) if p.sequence_number == *point => p.failures.saturating_add(1),
        _ => 1,
    };
    let retries_used = failures - 1;
    if retries_used < max_retry_attempts {
        return BatchDecision {
            succeeded: index,
            checkpoint: index
                .checked_sub(1)
                .map(|before| sequence_numbers[before].clone()),
            retry: Some(RetryState {
                sequence_number: point.clone(),
                failures,
            }),
            function_error: function_error.is_some(),
            ..BatchDecision::default()
        };
    }
    match function_error {
        Some(message) => BatchDecision {
            succeeded: 0,
            checkpoint: Some(last.clone()),
            dead_letter: (0..sequence_numbers.len()).collect(),
            dead_letter_reason: Some(format!(
                "function error after {retries_used} retries: {message}"
            )),
            retry: None,
            function_error: true,
        },
        None => BatchDecision {
            succeeded: index,
            checkpoint: Some(point.clone()),
            dead_letter: vec![index],
            dead_letter_reason: Some(format!(
                "reported in batchItemFailures after {retries_used} retries"
            )),
            retry: None,
            function_error: false,
        },
    }
}
