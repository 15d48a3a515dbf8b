//! `onboard reconcile`: the user pool against the users table and the log
//! of erasures, and with `--fix` the missing users recorded, erasures
//! finished and pool names set.

use crate::commands::reconcile::{self, Finding, Pace, Report};
use crate::outln;
use crate::output::Fit;
use crate::plural;
use crate::stack::{self, StackArgs, find_user_pool};
use aws_sdk_cognitoidentityprovider as cognito;
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::commands::CommandError;

#[derive(Debug, Args)]
pub struct ReconcileArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    /// Record each user missing from the table through the trigger's own
    /// code path; finish each erasure (a row whose user was deleted from
    /// the pool, a pool user whose row is a tombstone, a row a restore
    /// brought back); set each pool name behind the table's. Every fix is
    /// conditional or idempotent: safe to run again.
    #[arg(long)]
    pub fix: bool,
    /// Calls a second, at most: each ListUsers page and each recorded user
    /// (Cognito's ListUsers quota is shared with the other user reads).
    #[arg(long, default_value_t = 10.0, value_parser = positive_rate)]
    pub rate: f64,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Keep every line whole instead of fitting the terminal's width.
    #[arg(long)]
    pub wide: bool,
}

/// A rate that is no number of calls a second above 0.
#[derive(Debug, thiserror::Error)]
#[error("a number of calls a second above 0, such as 10 or 0.5")]
struct NotARate;

fn positive_rate(raw: &str) -> Result<f64, NotARate> {
    match raw.parse::<f64>() {
        Ok(rate) if rate > 0.0 && rate.is_finite() => Ok(rate),
        _ => Err(NotARate),
    }
}

/// Reconciles; true when the table matches the pool (after any fix).
pub async fn run(args: ReconcileArgs) -> Result<bool, CommandError> {
    // The pool and the table are all it needs: no queue is looked up.
    let (sdk, names) = args.stack.resolve().await?;
    let client = cognito::Client::new(&sdk);
    let pool = find_user_pool(&client, &names).await?;
    let bar = progress(args.json);
    let mut pace = Pace::new(args.rate);

    bar.set_message("reading the user pool");
    let pool_users = reconcile::pool_users(&client, &pool, &mut pace, |read| {
        bar.set_message(format!("reading the user pool: {read} users"));
    })
    .await?;
    bar.set_message("reading the users table");
    let dynamodb = onboard_shared::aws::dynamodb::Client::new(&sdk);
    let rows = reconcile::table_rows(&dynamodb, &names.table).await?;
    bar.set_message("reading the log of erasures");
    let s3 = onboard_shared::aws::s3_client(&sdk, stack::path_style(&sdk));
    let erased = reconcile::erasure_log(&s3, &names.bucket).await?;
    let mut report = reconcile::compare(&pool_users, &rows, &erased);

    let to_fix = report.count(|f| {
        !matches!(
            f,
            Finding::OutOfDate { .. }
                | Finding::UnreadableRow { .. }
                | Finding::Unrecordable { .. }
        )
    });
    if args.fix && to_fix > 0 {
        bar.set_length(to_fix as u64);
        bar.set_position(0);
        bar.set_style(
            ProgressStyle::with_template("{msg} {bar:30} {pos}/{len} ({eta} left)")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_message("fixing");
        let region = pool.region().to_owned();
        let users = stack::users(&sdk, &names);
        let directory = onboard_shared::aws::CognitoDirectory::new(
            onboard_shared::aws::cognito_client(&sdk),
            &pool.pool_id,
        );
        let fixers = reconcile::Fixers {
            users: &users,
            accounts: &users,
            directory: &directory,
        };
        reconcile::fix(
            &mut report,
            &pool_users,
            &fixers,
            &pool,
            &region,
            &mut pace,
            || bar.inc(1),
        )
        .await;
    }
    bar.finish_and_clear();

    if args.json {
        outln!("{:#}", serde_json::to_value(&report).unwrap_or_default());
    } else {
        print(&report, args.fix, Fit::stdout(args.wide));
    }
    Ok(report.remaining() == 0)
}

fn progress(hidden: bool) -> ProgressBar {
    let target = if hidden {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    };
    let bar = ProgressBar::with_draw_target(None, target);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar
}

fn print(report: &Report, fixed: bool, fit: Fit) {
    outln!(
        "The pool has {} and the table {}; {} match.",
        plural(report.pool_users, "user"),
        plural(report.rows, "row"),
        report.in_step
    );
    if !report.entries.is_empty() {
        let mut table = fit.table();
        table.set_header(["USER ID", "POOL STATUS", "FINDING", "FIX"]);
        for entry in &report.entries {
            let finding = match &entry.finding {
                Finding::Missing { why } => format!("not in the table: {}", why.describe()),
                Finding::Gone => {
                    "not in the pool any more: deleted through Cognito, an erasure".to_owned()
                }
                Finding::ErasureUnfinished => {
                    "erased, but still in the pool: an erasure that stopped".to_owned()
                }
                Finding::ErasedBroughtBack => {
                    "in the log of erasures, yet a live row: a restore brought it back".to_owned()
                }
                Finding::PoolNameBehind => "the pool's name is not the table's".to_owned(),
                Finding::OutOfDate { fields } => {
                    format!("row differs from the pool: {}", fields.join(", "))
                }
                Finding::UnreadableRow { reason } => format!("row does not decode: {reason}"),
                Finding::Unrecordable { reason } => {
                    format!("the trigger would refuse the user: {reason}")
                }
            };
            table.add_row([
                fit.id(&entry.user_id),
                entry.status.clone().unwrap_or_else(|| "-".to_owned()),
                finding,
                entry.fixed.clone().unwrap_or_else(|| "-".to_owned()),
            ]);
        }
        outln!("{table}");
    }
    let missing = report.count(|f| matches!(f, Finding::Missing { .. }));
    let erasures = report.count(|f| {
        matches!(
            f,
            Finding::Gone | Finding::ErasureUnfinished | Finding::ErasedBroughtBack
        )
    });
    let names_behind = report.count(|f| matches!(f, Finding::PoolNameBehind));
    let out_of_date = report.count(|f| matches!(f, Finding::OutOfDate { .. }));
    let other = report.entries.len() - missing - erasures - names_behind - out_of_date;
    let mut summary = format!(
        "Missing from the table: {missing}; erasures to finish: {erasures}; pool names behind: {names_behind}; out of date: {out_of_date}"
    );
    if other > 0 {
        summary.push_str(&format!("; unreadable or unrecordable: {other}"));
    }
    outln!("{summary}.");
    if fixed {
        outln!(
            "Recorded {} through the trigger's code path{}.",
            report.recorded,
            if report.fix_failed > 0 {
                format!("; {} could not be (see FIX)", report.fix_failed)
            } else {
                String::new()
            }
        );
    } else if missing + erasures + names_behind > 0 {
        outln!(
            "`onboard reconcile --fix` records the missing users, finishes the erasures and sets the pool names."
        );
    }
}
