//! `c360-recommend`: the top N dishes of every customer's next order, from order lines.
//!
//! Reads CSV `customer_id,order_id,ordered_at,dish_id` (a file or `-` for standard input),
//! builds the store-wide statistics from every customer's baskets, ranks each customer with
//! [`c360_recommend::rank`] and writes CSV `customer_id,rank,dish_id` (rank from 1), customers
//! in id order.
//!
//! Exit codes: 0 success; 2 bad input (unreadable file, a CSV error with its line and
//! column, command-line usage); 1 the output could not be written.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::process::ExitCode;

use c360_recommend::orders::read_baskets;
use c360_recommend::{rank, Params, StoreStats};
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
        ..Params::default()
    };
    if !(params.half_life_orders > 0.0
        && params.half_life_days > 0.0
        && params.day_weight >= 0.0
        && params.basket_size_exponent >= 0.0
        && params.long_term_weight >= 0.0
        && params.prior_exponent >= 0.0
        && params.prior_strength > 0.0)
    {
        eprintln!("c360-recommend: --half-life, --half-life-days and --prior-strength must be > 0, --day-weight, --basket-size-exponent, --long-term-weight and --prior-exponent >= 0");
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
    let mut stats = StoreStats::new();
    for baskets in customers.values() {
        stats.add_customer(baskets);
    }
    let mut out = csv::Writer::from_writer(BufWriter::new(io::stdout().lock()));
    let written = (|| -> Result<(), Box<dyn std::error::Error>> {
        out.write_record(["customer_id", "rank", "dish_id"])?;
        for (customer, baskets) in &customers {
            for (i, rec) in rank(baskets, Some(&stats), args.k, &params)
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
