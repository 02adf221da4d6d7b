//! Times: when things happen (days ago, meal times, cadences) and how each source
//! system spells them.

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, SecondsFormat, TimeZone, Utc};
use rand::Rng;

use super::gen::{pick, Gen};

#[derive(Clone, Copy)]
pub(super) enum TimeStyle {
    Offset,
    Naive,
    Utc,
    UtcMillis,
}

impl Gen<'_> {
    /// The local time `days_ago` days before today at `minute_of_day`, never after now.
    pub(super) fn at(&mut self, days_ago: f64, minute_of_day: u32) -> DateTime<FixedOffset> {
        let date: NaiveDate = self.now.date_naive() - Duration::days(days_ago.floor() as i64);
        let second = self.rng.gen_range(0..60);
        let naive = date
            .and_hms_opt(minute_of_day / 60, minute_of_day % 60, second)
            .expect("valid time of day");
        let mut t = self
            .tz
            .from_local_datetime(&naive)
            .single()
            .expect("fixed offsets are unambiguous");
        while t > self.now {
            t -= Duration::days(1);
        }
        t
    }

    /// A minute of the day when this kind of order is placed.
    pub(super) fn meal_minute(&mut self, order_type: &str) -> u32 {
        let (from, to) = match order_type {
            "delivery" => pick(
                &mut self.rng,
                &[
                    ((11 * 60, 13 * 60), 45),
                    ((17 * 60 + 30, 20 * 60 + 30), 40),
                    ((21 * 60, 23 * 60 + 30), 15),
                ],
            ),
            "pickup" => pick(
                &mut self.rng,
                &[
                    ((7 * 60 + 30, 9 * 60 + 30), 20),
                    ((11 * 60, 13 * 60), 50),
                    ((17 * 60, 19 * 60 + 30), 30),
                ],
            ),
            _ => pick(
                &mut self.rng,
                &[((11 * 60, 13 * 60 + 30), 40), ((17 * 60, 20 * 60 + 30), 60)],
            ),
        };
        self.rng.gen_range(from..to)
    }

    /// Days-ago values from `from` (oldest) down to `to`, about `every` days apart.
    pub(super) fn cadence(&mut self, from: f64, to: f64, every: f64) -> Vec<f64> {
        let max = self.hist - 1.0;
        let from = from.clamp(0.0, max);
        let to = to.clamp(0.0, from);
        let mut out = Vec::new();
        let mut t = from;
        while t >= to {
            out.push(t);
            t -= every * self.uniform(0.6, 1.4);
        }
        out
    }

    pub(super) fn time_style(&mut self, weights: [u32; 4]) -> TimeStyle {
        pick(
            &mut self.rng,
            &[
                (TimeStyle::Offset, weights[0]),
                (TimeStyle::Naive, weights[1]),
                (TimeStyle::Utc, weights[2]),
                (TimeStyle::UtcMillis, weights[3]),
            ],
        )
    }

    pub(super) fn fmt_time(t: DateTime<FixedOffset>, style: TimeStyle) -> String {
        match style {
            TimeStyle::Offset => t.to_rfc3339_opts(SecondsFormat::Secs, true),
            TimeStyle::Naive => t.naive_local().format("%Y-%m-%dT%H:%M:%S").to_string(),
            TimeStyle::Utc => t
                .with_timezone(&Utc)
                .to_rfc3339_opts(SecondsFormat::Secs, true),
            TimeStyle::UtcMillis => t
                .with_timezone(&Utc)
                .to_rfc3339_opts(SecondsFormat::Millis, true),
        }
    }

    /// The same local day as `t`, at `minute_of_day`.
    pub(super) fn at_local(
        &mut self,
        t: DateTime<FixedOffset>,
        minute_of_day: u32,
    ) -> DateTime<FixedOffset> {
        let second = self.rng.gen_range(0..60);
        let naive = t
            .date_naive()
            .and_hms_opt(minute_of_day / 60, minute_of_day % 60, second)
            .expect("valid time of day");
        self.tz
            .from_local_datetime(&naive)
            .single()
            .expect("fixed offset")
    }
}

pub(super) fn round_to_half_hour(t: DateTime<FixedOffset>) -> DateTime<FixedOffset> {
    use chrono::Timelike;
    let minute = if t.minute() < 30 { 0 } else { 30 };
    t.with_minute(minute)
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_nanosecond(0))
        .expect("valid time")
}
