//! The `bream-load` binary: parse, run, print the report. Exit 0 when the run went through
//! without errors, 1 when it ended with errors counted, 2 on bad usage or setup failure.

use std::process::ExitCode;

use bream_load::args::{Cli, Command};
use bream_load::register::{self, RegisterCommand};
use bream_load::run::{self, Shared};
use bream_load::{bench, report};
use clap::Parser;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("bream_load=info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!(%error, "cannot start the async runtime");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(main_async(cli)) {
        Ok(code) => code,
        Err(error) => {
            tracing::error!("{error:#}");
            ExitCode::from(2)
        }
    }
}

async fn main_async(cli: Cli) -> anyhow::Result<ExitCode> {
    if let Some(Command::BenchBream(args)) = &cli.command {
        let reports = bench::bench_bream(args).await?;
        if args.json {
            println!("{}", serde_json::to_string(&reports)?);
        } else {
            print!("{}", bench::summary_table(&reports));
        }
        return Ok(exit_code(
            reports.iter().map(report::Report::error_total).sum(),
        ));
    }
    let args = cli.run;
    let scenario = args.scenario("run").map_err(anyhow::Error::msg)?;
    let register_command = match (&args.register_with_ctl, &args.register_cmd) {
        (Some(binary), _) => Some(RegisterCommand::bream_ctl(binary, args.config.as_deref())),
        (None, Some(template)) => {
            Some(RegisterCommand::template(template).map_err(anyhow::Error::msg)?)
        }
        (None, None) => None,
    };
    if let Some(command) = register_command {
        let outcome = register::register(
            &command,
            &scenario.user_prefix,
            1..=scenario.users,
            &scenario.password,
            &scenario.domain,
            args.register_concurrency,
        )
        .await;
        tracing::info!(?outcome, "accounts registered");
        if outcome.failed > 0 {
            anyhow::bail!("{} registrations failed", outcome.failed);
        }
    }
    let shared = Shared::new()?;
    if args.register_ibr {
        // Accounts are the cluster's: registering on the first server is enough.
        let server = scenario
            .servers
            .first()
            .copied()
            .ok_or_else(|| anyhow::anyhow!("no server to register with"))?;
        let settings = std::sync::Arc::new(bream_load::client::LoginSettings {
            server,
            domain: scenario.domain.clone(),
            starttls: false,
            mechanism: scenario.mechanism,
            connector: None,
            scram_cache: shared.scram_cache.clone(),
            stream_management: false,
            carbons: false,
        });
        let outcome = register::register_in_band(
            settings,
            &scenario.user_prefix,
            1..=scenario.users,
            &scenario.password,
            args.register_concurrency.max(16),
        )
        .await;
        tracing::info!(?outcome, "accounts registered in-band");
        if outcome.failed > 0 {
            anyhow::bail!("{} in-band registrations failed", outcome.failed);
        }
    }
    if args.register_only {
        return Ok(ExitCode::SUCCESS);
    }
    let report = run::run(&scenario, &shared).await;
    if args.json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.to_table());
    }
    Ok(exit_code(report.error_total()))
}

fn exit_code(errors: u64) -> ExitCode {
    if errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
