//! `c360-fit`: fit BG/NBD + Gamma-Gamma to a transaction log or a customer
//! summary file and print the parameters as JSON.
//!
//! A transaction log is summarized by [`c360_predict::summarize`]: purchase
//! occasions are days (same-day rows are one occasion, amounts summed), spend
//! is averaged over the repeat occasions. Customer360's calibration feeds the
//! models through the same function, so a store's counted orders exported as
//! `customer_id,date,amount` (local dates) and fitted here with
//! `--penalizer 0.0001` give the parameters the service stored.
//! Repeat customers whose repeat spend is 0 are left out of the spend fit and
//! counted in `excluded_zero_spend`.
//!
//! Exit codes: 0 success; 2 bad input (unreadable file, parse or
//! validation error with its line number, too little data, command-line
//! usage error); 1 a fit that did not converge.

use std::io::Read;
use std::process::ExitCode;

use c360_predict::input::{parse_cdnow, parse_summary_csv, parse_transactions_csv, InputError};
use c360_predict::{
    date::parse_date, fit_bg_nbd_with, fit_gamma_gamma_with, summarize, CustomerSummary, FitError,
    FitOptions, TimeUnit,
};
use clap::{Parser, ValueEnum};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// `customer_id,date,amount` (date YYYY-MM-DD or YYYYMMDD; optional header line).
    Csv,
    /// Raw CDNOW sample: `master_id sample_id YYYYMMDD cds dollars`, whitespace-separated.
    Cdnow,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Unit {
    Weeks,
    Days,
}

/// Fit the BG/NBD (purchase/dropout) and Gamma-Gamma (spend) models and
/// print their parameters as JSON.
#[derive(Debug, Parser)]
#[command(name = "c360-fit", version)]
struct Args {
    /// Input file (`-` for standard input): a transaction log, or with
    /// `--summary` a summary CSV.
    input: String,

    /// The input is a summary CSV with a header line:
    /// `customer_id,frequency,recency,T,monetary_value`.
    #[arg(long, conflicts_with_all = ["format", "calibration_end", "time_unit"])]
    summary: bool,

    /// Transaction log format.
    #[arg(long, value_enum, default_value_t = Format::Csv)]
    format: Format,

    /// Last day of the calibration period (inclusive), YYYY-MM-DD or
    /// YYYYMMDD. Required for transaction logs.
    #[arg(long)]
    calibration_end: Option<String>,

    /// Time unit of recency, T and alpha.
    #[arg(long, value_enum, default_value_t = Unit::Weeks)]
    time_unit: Unit,

    /// L2 penalty on the parameters (`lifetimes`' `penalizer_coef`). 0 is
    /// plain maximum likelihood, as in the papers; Customer360's calibration
    /// uses 0.0001.
    #[arg(long, default_value_t = 0.0, value_parser = non_negative)]
    penalizer: f64,
}

fn non_negative(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!("expected a finite number >= 0, got {s:?}")),
    }
}

enum Failure {
    Input(String),
    NotConverged(String),
}

impl From<InputError> for Failure {
    fn from(e: InputError) -> Self {
        Failure::Input(e.to_string())
    }
}

impl From<FitError> for Failure {
    fn from(e: FitError) -> Self {
        match e {
            FitError::NotConverged { .. } => Failure::NotConverged(e.to_string()),
            other => Failure::Input(other.to_string()),
        }
    }
}

fn read_input(path: &str) -> Result<String, Failure> {
    let mut text = String::new();
    let res = if path == "-" {
        std::io::stdin().read_to_string(&mut text).map(|_| ())
    } else {
        std::fs::read_to_string(path).map(|t| text = t)
    };
    res.map_err(|e| Failure::Input(format!("cannot read {path}: {e}")))?;
    Ok(text)
}

fn run(args: &Args) -> Result<serde_json::Value, Failure> {
    let text = read_input(&args.input)?;
    let (ids, customers): (Vec<String>, Vec<CustomerSummary>) = if args.summary {
        parse_summary_csv(&text)?.into_iter().unzip()
    } else {
        let end_text = args.calibration_end.as_deref().ok_or_else(|| {
            Failure::Input("--calibration-end YYYY-MM-DD is required for a transaction log".into())
        })?;
        let end = parse_date(end_text).ok_or_else(|| {
            Failure::Input(format!(
                "invalid --calibration-end {end_text:?} (expected YYYY-MM-DD or YYYYMMDD)"
            ))
        })?;
        let transactions = match args.format {
            Format::Csv => parse_transactions_csv(&text)?,
            Format::Cdnow => parse_cdnow(&text)?,
        };
        let unit = match args.time_unit {
            Unit::Weeks => TimeUnit::Weeks,
            Unit::Days => TimeUnit::Days,
        };
        summarize(&transactions, end, unit)
            .map_err(|e| Failure::Input(e.to_string()))?
            .into_iter()
            .unzip()
    };
    let with_id = |e: FitError| -> Failure {
        match e {
            FitError::InvalidData { index, reason } => {
                Failure::Input(format!("customer {:?}: {reason}", ids[index]))
            }
            other => other.into(),
        }
    };
    let options = FitOptions {
        penalizer: args.penalizer,
        ..FitOptions::default()
    };
    let bg = fit_bg_nbd_with(&customers, &options).map_err(with_id)?;
    let gg = fit_gamma_gamma_with(&customers, &options).map_err(with_id)?;
    Ok(serde_json::json!({
        "bg_nbd": {
            "r": bg.params.r,
            "alpha": bg.params.alpha,
            "a": bg.params.a,
            "b": bg.params.b,
            "log_likelihood": bg.log_likelihood,
        },
        "gamma_gamma": {
            "p": gg.params.p,
            "q": gg.params.q,
            "v": gg.params.v,
        },
        "customers": customers.len(),
        "repeat_customers": customers.iter().filter(|c| c.frequency > 0.0).count(),
        "excluded_zero_spend": gg.excluded_zero_spend,
    }))
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(v) => {
            println!("{v}");
            ExitCode::SUCCESS
        }
        Err(Failure::Input(m)) => {
            eprintln!("c360-fit: error: {m}");
            ExitCode::from(2)
        }
        Err(Failure::NotConverged(m)) => {
            eprintln!("c360-fit: error: {m}");
            ExitCode::from(1)
        }
    }
}
