//! `c360-fit`: fit BG/NBD + Gamma-Gamma to a transaction log or a customer
//! summary file and print the parameters as JSON.
//!
//! Exit codes: 0 success; 2 bad input (unreadable file, parse or
//! validation error with its line number, too little data, command-line
//! usage error); 1 a fit that did not converge.

use std::io::Read;
use std::process::ExitCode;

use c360_predict::input::{parse_cdnow, parse_summary_csv, parse_transactions_csv, InputError};
use c360_predict::{
    date::parse_date, fit_bg_nbd, fit_gamma_gamma, summarize, CustomerSummary, FitError, TimeUnit,
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
    let bg = fit_bg_nbd(&customers).map_err(with_id)?;
    let gg = fit_gamma_gamma(&customers).map_err(with_id)?;
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
        "repeat_customers": gg.customers,
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
