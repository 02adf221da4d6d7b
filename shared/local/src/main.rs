//! `c360-dev`: the local environment. `scripts/dev` runs `c360-dev up`.
//!
//! About 500 lines because it is the whole command line: the `clap` definitions and one short
//! function per command (`setup`, `seed`, `calibrate`, `rescore`, `demo-segments`, `rebuild`,
//! `replay-dead-letters`, `serve`, `up`, `tokens`, `schema`, `compare-tables`), each wiring library code (`lib.rs`, `server.rs`, the wings, the devkit)
//! and read top to bottom next to its flags.

mod compare;

use anyhow::Context;
use c360_api::http::App;
use c360_api::reads::Reads;
use c360_devkit::demo::{self, DemoConfig};
use c360_devkit::poller::{replay_dead_letters, Poller, PollerConfig};
use c360_domain::SourceKind;
use c360_dynamodb::schema;
use c360_ingest::calibrate::ScopeFit;
use c360_local::{
    audit_table, dev_tokens, local_access, router, sdk_config, source_table, store, stream_sources,
};
use c360_runtime::cache::Cache;
use c360_runtime::config::Config;
use clap::{Parser, Subcommand};
use std::collections::HashMap;
use std::future::IntoFuture;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "c360-dev",
    about = "Customer360 local environment (DynamoDB emulator at AWS_ENDPOINT_URL)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the service table and the five source tables (with streams) if missing.
    Setup,
    /// Write the demo dataset into the source tables (it reaches the projection through the streams).
    Seed {
        #[arg(long, default_value_t = 500)]
        customers: usize,
        #[arg(long, default_value_t = demo::DEFAULT_SEED)]
        seed: u64,
    },
    /// Fit the churn and lifetime-value models per store and compute the recommendations'
    /// inputs, from the projection (weekly in AWS).
    ///
    /// One scan of the projection gives, per store and for all stores: the BG/NBD and
    /// Gamma-Gamma models (the predictions of `value` and `profile`), the dish statistics that
    /// `recommendations?kind=dishes` ranks with (popularity by daypart, reorder priors,
    /// dishes ordered together), and the store medians that coupon rules compare with
    /// (`{"store_median": ...}`, as the built-in basket_builder does). Until it has run, a
    /// guest is recommended their own dishes only and a rule on a median does not apply.
    Calibrate,
    /// Re-evaluate every customer's saved-segment memberships (daily in AWS): resumable by
    /// `--run`; `--at` moves the clock (RFC 3339) to see what time alone changes.
    Rescore {
        /// The run id (default: today in the deployment's zone); a finished run does nothing.
        #[arg(long)]
        run: Option<String>,
        #[arg(long, default_value_t = 4)]
        segments: i32,
        /// Evaluate at this time instead of now, e.g. 2027-02-22T09:00:00+08:00.
        #[arg(long)]
        at: Option<String>,
    },
    /// Save the seed's two example segments (高价值活跃: rfm_score >= 70 and 活跃用户;
    /// 流失风险: tag 流失风险) under their fixed ids, each unless already saved.
    DemoSegments,
    /// Print bearer tokens for the three roles, signed with the local secret (C360_JWT_SECRET).
    Tokens {
        /// The store of the store_admin and staff tokens.
        #[arg(long, default_value = demo::SEED_STORE)]
        store: String,
    },
    /// Serve the API and run the stream poller until Ctrl-C.
    Serve(ServeArgs),
    /// Rebuild the projection from the source tables (resumable; safe while streams flow).
    Rebuild {
        /// Parallel scan segments per source table.
        #[arg(long, default_value_t = 4)]
        segments: i32,
    },
    /// Feed the dead-lettered records through the ingest again: those that now apply (or
    /// were applied already) leave the dead-letter file, those still failing stay.
    ReplayDeadLetters {
        /// Only this source table's dead letters.
        #[arg(long)]
        table: Option<String>,
        #[arg(
            long,
            env = "C360_DEAD_LETTER_DIR",
            default_value = ".local/dead-letters"
        )]
        dead_letter_dir: PathBuf,
    },
    /// Print every table's keys and indexes as CloudFormation properties (JSON, by the suffix
    /// of the table's name): what `scripts/check-infra` compares with infra/template.yaml.
    Schema,
    /// Compare two customer360 tables item for item, leaving out what a rebuild does not
    /// reproduce (write versions, checkpoints, models, tombstones); exit status 1 if they differ.
    CompareTables { a: String, b: String },
    /// Setup, then serve, then seed once the poller runs: everything `scripts/dev` needs.
    Up {
        #[command(flatten)]
        serve: ServeArgs,
        /// Skip the demo data.
        #[arg(long)]
        no_seed: bool,
        #[arg(long, default_value_t = 500)]
        customers: usize,
    },
}

#[derive(clap::Args, Clone)]
struct ServeArgs {
    #[arg(long, env = "C360_DEV_ADDR", default_value = "127.0.0.1:8000")]
    addr: String,
    /// Where records that failed past their retries are written, one JSONL file per source table.
    #[arg(
        long,
        env = "C360_DEAD_LETTER_DIR",
        default_value = ".local/dead-letters"
    )]
    dead_letter_dir: PathBuf,
    /// Serve the API and the console only, without polling the streams: a second server on
    /// tables another one already projects (the console's sign-in test runs one with OIDC).
    #[arg(long)]
    no_streams: bool,
}

async fn setup(sdk: &aws_config::SdkConfig, config: &Config) -> anyhow::Result<()> {
    let client = aws_sdk_dynamodb::Client::new(sdk);
    let created = schema::create_service_table(&client, &config.table)
        .await
        .map_err(anyhow::Error::msg)?;
    println!(
        "  table {:<18} {}",
        config.table,
        if created { "created" } else { "exists" }
    );
    let audit = audit_table();
    let created = schema::create_audit_table(&client, &audit)
        .await
        .map_err(anyhow::Error::msg)?;
    println!(
        "  table {:<18} {} (TTL expires_at)",
        audit,
        if created { "created" } else { "exists" }
    );
    for kind in SourceKind::ALL {
        let name = source_table(kind);
        let created = schema::create_source_table(&client, kind, &name)
            .await
            .map_err(anyhow::Error::msg)?;
        println!(
            "  table {:<18} {} (stream NEW_AND_OLD_IMAGES)",
            name,
            if created { "created" } else { "exists" }
        );
    }
    Ok(())
}

/// Is this source item the seed customer's (张三, 13800138000 / M123456)? Their records are
/// loaded first so the README's first curl answers while the rest is still flowing in.
fn is_seed_customer(item: &demo::Item) -> bool {
    let digits = |attr: &str| {
        item.get(attr)
            .and_then(|v| v.as_s().ok())
            .map(|s| s.chars().filter(char::is_ascii_digit).collect::<String>())
            .unwrap_or_default()
    };
    digits("customer_phone").ends_with(demo::SEED_PHONE)
        || digits("phone").ends_with(demo::SEED_PHONE)
        || item
            .get("member_id")
            .and_then(|v| v.as_s().ok())
            .is_some_and(|m| m == demo::SEED_MEMBER_ID)
}

async fn seed(sdk: &aws_config::SdkConfig, customers: usize, seed: u64) -> anyhow::Result<usize> {
    let client = aws_sdk_dynamodb::Client::new(sdk);
    let now = chrono::Utc::now()
        .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).context("offset")?);
    let mut cfg = DemoConfig::new(seed, now);
    cfg.customers = customers;
    let data = demo::generate(&cfg);
    let names: HashMap<&str, String> = SourceKind::ALL
        .iter()
        .map(|k| (k.table(), source_table(*k)))
        .collect();
    let split = |items: &[demo::Item], first: bool| {
        items
            .iter()
            .filter(|i| is_seed_customer(i) == first)
            .cloned()
            .collect::<Vec<_>>()
    };
    let part = |first: bool| demo::DemoData {
        orders: split(&data.orders, first),
        reservations: split(&data.reservations, first),
        pos_transactions: split(&data.pos_transactions, first),
        members: split(&data.members, first),
        activities: split(&data.activities, first),
    };
    let mut written = demo::load(&client, &names, &part(true)).await?;
    written += demo::load(&client, &names, &part(false)).await?;
    Ok(written)
}

async fn rescore(
    sdk: &aws_config::SdkConfig,
    config: &Config,
    run: Option<String>,
    segments: i32,
    now: c360_domain::Millis,
    settle: Option<std::time::Duration>,
) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let mut engine = c360_local::segments(store(sdk, config), config);
    if let Some(s) = settle {
        engine = engine.with_defs_ttl(s);
    }
    let run = run.unwrap_or_else(|| c360_ingest::rescore::run_of_day(now, &config.zone));
    let report = engine.rescore(&run, segments, now).await?;
    println!(
        "Rescoring {}: {} customers evaluated, {} rows written, {} entered, {} left, {} segments materialized, in {:.1}s",
        report.run,
        report.changed.evaluated,
        report.changed.rows_written,
        report.changed.entered,
        report.changed.left,
        report.materialized.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn demo_segments(sdk: &aws_config::SdkConfig, config: &Config) -> anyhow::Result<()> {
    let now = c360_domain::Millis(chrono::Utc::now().timestamp_millis());
    for (def, outcome) in c360_local::save_demo_segments(&store(sdk, config), now).await? {
        let what = match outcome {
            c360_local::DemoSegment::Saved => "saved",
            c360_local::DemoSegment::AlreadySaved => "already saved, left as it is",
            c360_local::DemoSegment::Full => "not saved: the saved segments are full",
        };
        println!("  segment {} {}: {what}", def.id, def.name);
    }
    Ok(())
}

async fn calibrate(sdk: &aws_config::SdkConfig, config: &Config) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let now = c360_domain::Millis(chrono::Utc::now().timestamp_millis());
    let cache = Cache::from_env().map_err(anyhow::Error::msg)?;
    let outcomes =
        c360_ingest::calibrate::recalibrate(&store(sdk, config), &cache, now, &config.zone).await?;
    for (scope, outcome) in &outcomes {
        let name = match scope {
            c360_domain::Scope::AllStores => "all stores".to_string(),
            c360_domain::Scope::Store(s) => s.to_string(),
        };
        match outcome {
            ScopeFit::Fitted(m) => println!(
                "  model {name:<14} fitted on {} customers ({} repeat)",
                m.customers, m.repeat_customers
            ),
            ScopeFit::Skipped { customers, reason } => {
                println!("  model {name:<14} not fitted ({customers} customers): {reason}")
            }
        }
    }
    println!("Calibration took {:.1}s", started.elapsed().as_secs_f64());
    Ok(())
}

async fn rebuild(
    sdk: &aws_config::SdkConfig,
    config: &Config,
    segments: i32,
) -> anyhow::Result<()> {
    use c360_ingest::rebuild::{rebuild, RebuildOptions};
    let started = std::time::Instant::now();
    let projector = c360_ingest::projector::Projector::new(store(sdk, config), config.zone)
        .with_cache(Cache::from_env().map_err(anyhow::Error::msg)?)
        .with_segments(c360_local::segments(store(sdk, config), config));
    let sources: Vec<_> = SourceKind::ALL
        .into_iter()
        .map(|k| (k, source_table(k)))
        .collect();
    let options = RebuildOptions {
        segments,
        parallelism: segments.max(1) as usize,
        ..RebuildOptions::default()
    };
    let report = rebuild(&projector, &sources, &config.zone, &options).await?;
    println!(
        "Rebuild: {} source items read, {} applied, {} already projected, {} without customer, {} of erased customers, {} undecodable, {} implausible identifiers ignored, {} failed, in {:.1}s",
        report.scanned,
        report.applied,
        report.unchanged,
        report.without_customer,
        report.erased,
        report.undecodable,
        report.dropped_identifiers,
        report.failed,
        started.elapsed().as_secs_f64()
    );
    anyhow::ensure!(
        report.complete,
        "the rebuild stopped before the end; run it again to continue"
    );
    Ok(())
}

async fn replay(
    sdk: &aws_config::SdkConfig,
    config: &Config,
    table: Option<&str>,
    dir: &std::path::Path,
) -> anyhow::Result<()> {
    let cache = Cache::from_env().map_err(anyhow::Error::msg)?;
    let segments = c360_local::segments(store(sdk, config), config);
    let sources = stream_sources(
        &store(sdk, config),
        config,
        &cache,
        &segments,
        Arc::default(),
    );
    if let Some(t) = table {
        anyhow::ensure!(
            sources.iter().any(|s| s.table_name == t),
            "`{t}` is not a source table ({})",
            sources
                .iter()
                .map(|s| s.table_name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let mut still_failing = 0;
    for source in sources {
        if table.is_some_and(|t| t != source.table_name) {
            continue;
        }
        let path = dir.join(format!("{}.jsonl", source.table_name));
        let stats = replay_dead_letters(&path, &source.handler).await?;
        println!(
            "  {:<18} {} replayed, {} applied or already applied, {} still failing",
            source.table_name, stats.replayed, stats.succeeded, stats.still_failing
        );
        still_failing += stats.still_failing;
    }
    if still_failing > 0 {
        println!(
            "{still_failing} records still fail; they stay in {}",
            dir.display()
        );
    }
    Ok(())
}

/// Plays one event source mapping: polls one source table's stream until told to stop.
async fn run_poller(mut poller: Poller, mut stop: tokio::sync::watch::Receiver<bool>) {
    let idle = poller.config().poll_interval;
    while !*stop.borrow() {
        let pause = match poller.poll_once().await {
            Ok(pass) => {
                if pass.dead_lettered > 0 {
                    c360_runtime::telemetry::emit_metrics(
                        "Customer360/Local",
                        &[],
                        &[("RecordsDeadLettered", pass.dead_lettered)],
                    );
                }
                (pass.invocations == 0).then_some(idle)
            }
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "stream poll failed; retrying");
                Some(std::time::Duration::from_secs(1))
            }
        };
        if let Some(pause) = pause {
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = stop.wait_for(|s| *s) => {}
            }
        }
    }
}

async fn serve(
    sdk: &aws_config::SdkConfig,
    config: &Config,
    args: &ServeArgs,
    after_start: Option<(usize, u64)>,
) -> anyhow::Result<()> {
    let store = store(sdk, config);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let delivered = Arc::new(AtomicU64::new(0));
    let mut pollers = Vec::new();
    let cache = Cache::from_env().map_err(anyhow::Error::msg)?;
    let segments = c360_local::segments(store.clone(), config);
    // The demo load is followed by a rescoring of everyone: reconciling after each of its
    // 14,500 records as well would triple the load's time through the emulator.
    if after_start.is_some() {
        segments.pause(true);
    }
    let sources = if args.no_streams {
        Vec::new()
    } else {
        stream_sources(&store, config, &cache, &segments, delivered.clone())
    };
    for source in sources {
        let poller_config = PollerConfig {
            dead_letter_dir: args.dead_letter_dir.clone(),
            ..PollerConfig::default()
        };
        let poller = Poller::new(
            aws_sdk_dynamodb::Client::new(sdk),
            aws_sdk_dynamodbstreams::Client::new(sdk),
            vec![source],
            poller_config,
        );
        pollers.push(tokio::spawn(run_poller(poller, stop_rx.clone())));
    }

    let app = App::new(Reads::new(store, config.clone()), local_access(sdk)?).with_cache(cache);
    let listener = tokio::net::TcpListener::bind(&args.addr)
        .await
        .with_context(|| format!("cannot listen on {}", args.addr))?;
    println!(
        "API:       http://{}/api/v1/customer360/{{profile,timeline,value,search,audit,segments,recommendations}}, DELETE .../customer",
        args.addr
    );
    println!("Dead letters: {}", args.dead_letter_dir.display());
    // The console's files are read from the checkout at run time (edit and reload), with
    // the libraries from console/vendor (c360_ensure_console in scripts/lib.sh).
    let console_dir = std::env::var_os("C360_CONSOLE_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../console"));
    let identities = c360_local::console_identities(demo::SEED_STORE, "store_bj_001")?;
    let local_tokens = identities.is_some();
    let app_router = c360_local::with_console(router(app), &console_dir, identities);
    println!("Console:   http://{}/console/", args.addr);
    let mut server_stop = stop_rx.clone();
    let server = tokio::spawn(
        axum::serve(listener, app_router)
            .with_graceful_shutdown(async move {
                let _ = server_stop.wait_for(|s| *s).await;
            })
            .into_future(),
    );
    // Tokens signed with the local secret are worth printing only where they are verified.
    if local_tokens {
        let tokens = dev_tokens(demo::SEED_STORE)?;
        println!("Tokens (HS256, local secret, valid 30 days):");
        for (who, token) in &tokens {
            println!("  {who:<28} {token}");
        }
        if let Some((_, token)) = tokens.first() {
            println!(
                "Try:       curl -H \"Authorization: Bearer {token}\" 'http://{}/api/v1/customer360/profile?customer_identifier=13800138000'",
                args.addr
            );
        }
    }

    if let Some((customers, seed_value)) = after_start {
        let sdk = sdk.clone();
        let config = config.clone();
        let delivered = delivered.clone();
        let segments = segments.clone();
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            let total = match seed(&sdk, customers, seed_value).await {
                Ok(n) => n as u64,
                Err(e) => {
                    segments.pause(false);
                    return eprintln!("Demo data failed: {e:#}");
                }
            };
            println!(
                "Demo data: {total} source items written; projecting them through the streams..."
            );
            // The seed customer, whose records go first, is searchable during the load: its
            // rows are reconciled on each progress tick (one customer, a few requests).
            let seed_customer = c360_domain::Identifier::parse(
                c360_domain::IdentifierType::Phone,
                demo::SEED_PHONE,
            )
            .ok();
            loop {
                tokio::time::sleep(std::time::Duration::from_secs(10)).await;
                if let Some(id) = &seed_customer {
                    let now = c360_domain::Millis(chrono::Utc::now().timestamp_millis());
                    if let Err(e) = segments
                        .reconcile_even_paused(std::slice::from_ref(id), now)
                        .await
                    {
                        eprintln!("Demo data: the seed customer's rows not written yet: {e}");
                    }
                }
                let done = delivered.load(Ordering::Relaxed);
                if done >= total {
                    println!(
                        "Demo data: all {total} records projected in {:.0}s. Fitting the prediction models:",
                        started.elapsed().as_secs_f64()
                    );
                    if let Err(e) = calibrate(&sdk, &config).await {
                        eprintln!("Calibration failed: {e:#}");
                    }
                    println!("Saving the seed's two segments and rescoring everyone:");
                    if let Err(e) = demo_segments(&sdk, &config).await {
                        eprintln!("Demo segments failed: {e:#}");
                    }
                    // From here on every change reconciles itself; the rescoring covers the
                    // demo records. The segments were saved while the reconcile was paused,
                    // so no ingest here holds older definitions: the rescoring may
                    // materialize them at once (no settling time).
                    segments.pause(false);
                    let now = c360_domain::Millis(chrono::Utc::now().timestamp_millis());
                    // Its own run id: the day's run is for the clock's rescoring.
                    let run = format!("demo-{}", now.0);
                    let settle = Some(std::time::Duration::ZERO);
                    if let Err(e) = rescore(&sdk, &config, Some(run), 4, now, settle).await {
                        eprintln!("Rescoring failed: {e:#}");
                    }
                    println!("Ready for the demo.");
                    break;
                }
                println!(
                    "Demo data: {done} of {total} records projected (answers are partial; segments count no one and search finds only the seed customer until the demo is ready)"
                );
            }
        });
    }
    if after_start.is_some() {
        // Someone trying the API at once should know why a customer is missing or a segment
        // is empty: the segments' per-change reconcile is paused until the demo's rescoring.
        println!("Serving while the demo data loads: answers are partial, segments count no one and search finds only the seed customer, until the line saying the demo is ready. Ctrl-C stops everything.");
    } else {
        println!("Serving. Ctrl-C stops everything.");
    }
    tokio::signal::ctrl_c().await.ok();
    println!("Stopping...");
    let _ = stop_tx.send(true);
    let _ = server.await;
    // A poller mid-batch finishes it if it can; one stuck retrying (the emulator stops with
    // us) is abandoned: its records were not checkpointed and are redelivered next time.
    let aborts: Vec<_> = pollers.iter().map(|p| p.abort_handle()).collect();
    if tokio::time::timeout(
        std::time::Duration::from_secs(2),
        futures::future::join_all(pollers),
    )
    .await
    .is_err()
    {
        aborts.iter().for_each(|a| a.abort());
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    std::env::set_var(
        "C360_LOG_FORMAT",
        std::env::var("C360_LOG_FORMAT").unwrap_or_else(|_| "text".into()),
    );
    c360_runtime::telemetry::init();
    let cli = Cli::parse();

    let config = Config::from_env()?;
    let sdk = sdk_config().await;
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_else(|_| "(AWS default)".into());
    match cli.command {
        Command::Setup => {
            println!("DynamoDB:  {endpoint}");
            setup(&sdk, &config).await
        }
        Command::Seed { customers, seed: s } => {
            let n = seed(&sdk, customers, s).await?;
            println!("{n} source items written");
            Ok(())
        }
        Command::Serve(args) => serve(&sdk, &config, &args, None).await,
        Command::Calibrate => calibrate(&sdk, &config).await,
        Command::Rescore { run, segments, at } => {
            let now = match at {
                None => c360_domain::Millis(chrono::Utc::now().timestamp_millis()),
                Some(t) => c360_domain::Millis(
                    chrono::DateTime::parse_from_rfc3339(&t)
                        .with_context(|| format!("--at `{t}` is not an RFC 3339 time"))?
                        .timestamp_millis(),
                ),
            };
            rescore(&sdk, &config, run, segments, now, None).await
        }
        Command::DemoSegments => demo_segments(&sdk, &config).await,
        Command::Tokens { store } => {
            // A token for a store id the API refuses would only ever answer 401.
            c360_domain::StoreId::parse(&store)
                .map_err(|e| anyhow::anyhow!("--store: {e}; e.g. store_sh_001"))?;
            for (who, token) in dev_tokens(&store)? {
                println!("{who:<28} {token}");
            }
            Ok(())
        }
        Command::Rebuild { segments } => rebuild(&sdk, &config, segments).await,
        Command::ReplayDeadLetters {
            table,
            dead_letter_dir,
        } => replay(&sdk, &config, table.as_deref(), &dead_letter_dir).await,
        Command::CompareTables { a, b } => {
            let client = aws_sdk_dynamodb::Client::new(&sdk);
            if !compare::compare(&client, &a, &b).await? {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Schema => {
            let tables: serde_json::Map<String, serde_json::Value> = schema::all_tables()
                .into_iter()
                .map(|(name, spec)| (name.to_string(), spec.cloudformation()))
                .collect();
            println!("{}", serde_json::to_string_pretty(&tables)?);
            Ok(())
        }
        Command::Up {
            serve: args,
            no_seed,
            customers,
        } => {
            println!("DynamoDB:  {endpoint}");
            setup(&sdk, &config).await?;
            serve(
                &sdk,
                &config,
                &args,
                (!no_seed).then_some((customers, demo::DEFAULT_SEED)),
            )
            .await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn calibrate_help_says_it_also_computes_the_recommendation_inputs() {
        let mut cli = Cli::command();
        let listing = cli.render_help().to_string();
        let line = listing
            .lines()
            .find(|l| l.trim_start().starts_with("calibrate"))
            .unwrap_or_else(|| panic!("no calibrate in\n{listing}"));
        assert!(line.contains("recommendations' inputs"), "{line}");
        let calibrate = cli
            .find_subcommand_mut("calibrate")
            .expect("the calibrate command");
        let help = calibrate.render_long_help().to_string();
        for what in ["models", "dish statistics", "store medians", "coupon rules"] {
            assert!(help.contains(what), "{what} in\n{help}");
        }
    }
}
