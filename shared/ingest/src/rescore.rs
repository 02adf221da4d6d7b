//! The segment rescoring job: every customer's saved-segment memberships re-evaluated at the
//! current time ([`Segments::rescore`]), for what moves with time alone (days since the last
//! order, the activity tags 活跃/沉睡/流失, the tier's recency part, days until a birthday,
//! predictions after a recalibration) and for segments created or changed since the last run.
//!
//! One run per day in the deployment's zone: the run id is that day (`2027-02-22`), so the
//! hourly schedule's first invocation of a day does the work and the others find it done; an
//! invocation that timed out is resumed by the next from its checkpoints.

use c360_domain::{Millis, Zone};
use c360_runtime::segments::{Budget, RescoreReport, Segments};

/// Parallel scan segments of a run.
pub const SCAN_SEGMENTS: i32 = 4;

/// The run id of the day `now` falls on in `zone`: `YYYY-MM-DD`.
pub fn run_of_day(now: Millis, zone: &Zone) -> String {
    c360_domain::segment::local_date(now, zone)
        .format("%Y-%m-%d")
        .to_string()
}

/// Runs (or resumes, or finds done) the day's rescoring, stopping at `budget` (checkpointed).
pub async fn rescore_today(
    segments: &Segments,
    now: Millis,
    budget: Budget,
) -> Result<RescoreReport, c360_dynamodb::store::StoreError> {
    let run = run_of_day(now, &segments.config().zone);
    segments
        .rescore_within(&run, SCAN_SEGMENTS, now, budget)
        .await
}

/// The Lambda entry point of the rescoring function (EventBridge schedule).
pub async fn run() -> Result<(), lambda_runtime::Error> {
    c360_runtime::telemetry::init();
    let config = c360_runtime::config::Config::from_env()?;
    let clients = c360_runtime::config::Clients::from_env(&config, None).await;
    let segments = Segments::new(clients.store.clone(), config)
        .with_customer_refs(c360_runtime::seal::customer_refs_from_env().map(std::sync::Arc::new));
    let segments = &segments;
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<serde_json::Value>| async move {
            let now = Millis(chrono::Utc::now().timestamp_millis());
            // Stop a minute before the function's time limit (a quarter of what is left when
            // that is under four minutes); the next invocation goes on. Each call does at
            // least one page, so a run always moves forward.
            let left = event
                .context
                .deadline()
                .duration_since(std::time::SystemTime::now())
                .unwrap_or_default();
            let margin = std::time::Duration::from_secs(60).min(left / 4);
            let budget = Budget {
                pages: None,
                until: Some(std::time::Instant::now() + left.saturating_sub(margin)),
            };
            let report = Box::pin(rescore_today(segments, now, budget)).await?;
            tracing::info!(
                run = %report.run,
                complete = report.complete,
                evaluated = report.changed.evaluated,
                rows_written = report.changed.rows_written,
                entered = report.changed.entered,
                left = report.changed.left,
                materialized = report.materialized.len(),
                "rescoring done"
            );
            Ok::<_, lambda_runtime::Error>(serde_json::json!({
                "run": report.run,
                "complete": report.complete,
                "evaluated": report.changed.evaluated,
                "rows_written": report.changed.rows_written,
                "entered": report.changed.entered,
                "left": report.changed.left,
                "materialized": report.materialized,
            }))
        },
    ))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_is_the_day_in_the_deployment_zone() {
        // 2027-02-21T16:30Z is 00:30 on the 22nd in +08:00.
        let now = Millis(1_803_227_400_000);
        assert_eq!(run_of_day(now, &Zone::default()), "2027-02-22");
    }
}
