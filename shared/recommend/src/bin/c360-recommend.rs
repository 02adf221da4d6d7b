//! `c360-recommend`: the top N dishes of every customer's next order, from order lines.
//!
//! Reads CSV `customer_id,order_id,ordered_at,dish_id` (a file or `-` for standard input),
//! builds the store-wide statistics from every customer's baskets, ranks each customer with
//! [`c360_recommend::rank`] and writes CSV `customer_id,rank,dish_id` (rank from 1), customers
//! in id order.
//!
//! The time of the order being ranked, when known (at serving time, the time of the request),
//! comes from `--as-of <RFC 3339>` for every customer and/or `--as-of-file` (CSV
//! `customer_id,as_of`), the file winning for the customers it lists; customers without one
//! are ranked as before ([`c360_recommend::rank_at`] with no time).
//!
//! Exit codes: 0 success; 2 bad input (unreadable file, a CSV error with its line and
//! column, command-line usage); 1 the output could not be written.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::process::ExitCode;

use c360_recommend::orders::{parse_time, read_as_of, read_baskets, AsOf};
use c360_recommend::{rank_at, Params, StoreStats};
use clap::Parser;

/// The top N dishes of every customer's next order, as CSV `customer_id,rank,dish_id`.
#[derive(Debug, Parser)]
#[command(name = "c360-recommend", version)]
struct Args {
    /// Order lines, CSV with the header `customer_id,order_id,ordered_at,dish_id`
    /// (`ordered_at` RFC 3339 or any string that sorts in time order); `-` for standard input.
    #[arg(default_value = "-")]
    input: String,

    /// Dishes per customer.
    #[arg(long, default_value_t = 10)]
    k: usize,

    /// Half-life of a basket's weight, in orders.
    #[arg(long, default_value_t = Params::default().half_life_orders)]
    half_life: f64,

    /// Weight of the day decay (used when every `ordered_at` is RFC 3339; 0: orders only).
    #[arg(long, default_value_t = Params::default().day_weight)]
    day_weight: f64,

    /// Half-life of the day decay, in days.
    #[arg(long, default_value_t = Params::default().half_life_days)]
    half_life_days: f64,

    /// Exponent of the basket-size discount |basket|^(-a) (0: none).
    #[arg(long, default_value_t = Params::default().basket_size_exponent)]
    basket_size_exponent: f64,

    /// Weight every basket keeps whatever its age.
    #[arg(long, default_value_t = Params::default().long_term_weight)]
    long_term_weight: f64,

    /// Exponent of the store's reorder prior (0: none).
    #[arg(long, default_value_t = Params::default().prior_exponent)]
    prior_exponent: f64,

    /// Pseudo-customers of the reorder prior's shrinkage.
    #[arg(long, default_value_t = Params::default().prior_strength)]
    prior_strength: f64,

    /// The time of the order being ranked, RFC 3339, for every customer (e.g. the request
    /// time); enables the due-again boost and measures the day decay to it.
    #[arg(long, value_parser = parse_as_of)]
    as_of: Option<chrono::DateTime<chrono::FixedOffset>>,

    /// Per-customer times of the order being ranked, CSV with the header `customer_id,as_of`
    /// (RFC 3339); overrides `--as-of` for the customers it lists.
    #[arg(long)]
    as_of_file: Option<String>,

    /// Weight of the due-again boost (used with a request time; 0: none).
    #[arg(long, default_value_t = Params::default().due_weight)]
    due_weight: f64,

    /// Width of the due-again boost, in doublings of (days since + 1)/(interval + 1).
    #[arg(long, default_value_t = Params::default().due_width)]
    due_width: f64,
}

fn parse_as_of(s: &str) -> Result<chrono::DateTime<chrono::FixedOffset>, String> {
    parse_time(s).ok_or_else(|| format!("`{s}` is not an RFC 3339 time"))
}

fn main() -> ExitCode {
    let args = Args::parse();
    let params = Params {
        half_life_orders: args.half_life,
        day_weight: args.day_weight,
        half_life_days: args.half_life_days,
        basket_size_exponent: args.basket_size_exponent,
        long_term_weight: args.long_term_weight,
        prior_exponent: args.prior_exponent,
        prior_strength: args.prior_strength,
        due_weight: args.due_weight,
        due_width: args.due_width,
        ..Params::default()
    };
    if !(params.half_life_orders > 0.0
        && params.half_life_days > 0.0
        && params.day_weight >= 0.0
        && params.basket_size_exponent >= 0.0
        && params.long_term_weight >= 0.0
        && params.prior_exponent >= 0.0
        && params.prior_strength > 0.0
        && params.due_weight >= 0.0
        && params.due_width > 0.0)
    {
        eprintln!("c360-recommend: --half-life, --half-life-days, --prior-strength and --due-width must be > 0, --day-weight, --basket-size-exponent, --long-term-weight, --prior-exponent and --due-weight >= 0");
        return ExitCode::from(2);
    }
    let input: Box<dyn Read> = if args.input == "-" {
        Box::new(io::stdin().lock())
    } else {
        match File::open(&args.input) {
            Ok(f) => Box::new(BufReader::new(f)),
            Err(e) => {
                eprintln!("c360-recommend: {}: {e}", args.input);
                return ExitCode::from(2);
            }
        }
    };
    let customers = match read_baskets(input) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("c360-recommend: {}: {e}", args.input);
            return ExitCode::from(2);
        }
    };
    let as_of_file = match &args.as_of_file {
        None => AsOf::new(),
        Some(path) => match File::open(path)
            .map_err(|e| e.to_string())
            .and_then(|f| read_as_of(BufReader::new(f)).map_err(|e| e.to_string()))
        {
            Ok(a) => a,
            Err(e) => {
                eprintln!("c360-recommend: {path}: {e}");
                return ExitCode::from(2);
            }
        },
    };
    let mut stats = StoreStats::new();
    for baskets in customers.values() {
        stats.add_customer(baskets);
    }
    let mut out = csv::Writer::from_writer(BufWriter::new(io::stdout().lock()));
    let written = (|| -> Result<(), Box<dyn std::error::Error>> {
        out.write_record(["customer_id", "rank", "dish_id"])?;
        for (customer, baskets) in &customers {
            let as_of = as_of_file.get(customer).copied().or(args.as_of);
            for (i, rec) in rank_at(baskets, Some(&stats), args.k, &params, as_of)
                .iter()
                .enumerate()
            {
                out.write_record([customer.as_str(), &(i + 1).to_string(), &rec.dish_id])?;
            }
        }
        out.flush()?;
        Ok(())
    })();
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // A closed pipe (`| head`) is the reader's choice, not a failure worth a message.
            let _ = writeln!(io::stderr(), "c360-recommend: writing the output: {e}");
            ExitCode::from(1)
        }
    }
}
