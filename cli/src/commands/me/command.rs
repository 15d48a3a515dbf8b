//! `onboard me --email E [--rename NAME] [--export FILE] [--delete [--yes]]`:
//! signs the user in (as `onboard token` does), then shows their account as
//! `GET /hello` and `GET /me/data` see it, after doing what was asked.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use aws_sdk_cognitoidentityprovider as cognito;
use clap::Args;
use serde_json::Value;

use crate::commands::CommandError;
use crate::commands::me::{Answer, MeApi};
use crate::commands::token::{self, command::SignInArgs};
use crate::outln;
use crate::stack::{StackArgs, find_user_pool};

#[derive(Debug, Args)]
pub struct MeArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    #[command(flatten)]
    pub user: SignInArgs,
    /// The API to call (a deployed stage's URL, or `onboard serve`'s);
    /// else the API is served in-process over the stack's resources.
    #[arg(long)]
    pub api: Option<String>,
    /// Change the display name.
    #[arg(long, value_name = "NAME")]
    pub rename: Option<String>,
    /// Write everything onboard holds about the user to FILE (JSON).
    #[arg(long, value_name = "FILE")]
    pub export: Option<PathBuf>,
    /// Erase the account everywhere; asks to confirm.
    #[arg(long)]
    pub delete: bool,
    /// Do not ask before `--delete` (for scripts).
    #[arg(long, requires = "delete")]
    pub yes: bool,
}

pub async fn run(args: MeArgs) -> Result<(), CommandError> {
    if args.delete && (args.rename.is_some() || args.export.is_some()) {
        return Err(CommandError::Refused(
            "--delete goes alone: export first, then delete".to_owned(),
        ));
    }
    let (sdk, names) = args.stack.resolve().await?;
    let client = cognito::Client::new(&sdk);
    let pool = find_user_pool(&client, &names).await?;
    let password = args.user.password()?;
    let token = token::id_token(&client, &pool, &args.user.email, &password, || None).await?;
    let api = match &args.api {
        Some(url) => MeApi::at(url, token),
        None => MeApi::in_process(&sdk, &names, &pool, token).await?,
    };
    if args.delete {
        if !args.yes && !confirmed(&args.user.email)? {
            return Err(CommandError::Refused(
                "not deleted: not confirmed".to_owned(),
            ));
        }
        let answer = api.delete().await?;
        refuse_unless_ok("delete", &answer)?;
        outln!(
            "deleted: the account is erased everywhere (version {}); signing in no longer works",
            answer.body["version"]
        );
        return Ok(());
    }
    let mut seen = None;
    if let Some(name) = &args.rename {
        let answer = api.rename(name).await?;
        refuse_unless_ok("rename", &answer)?;
        seen = answer.body["version"].as_u64();
        if answer.body["changed"] == false {
            outln!(
                "renamed: the name was already this one (version {})",
                answer.body["version"]
            );
        } else {
            outln!("renamed (version {})", answer.body["version"]);
        }
    }
    let data = api.data().await?;
    refuse_unless_ok("read the account", &data)?;
    if let Some(path) = &args.export {
        let mut text = serde_json::to_string_pretty(&data.body).unwrap_or_default();
        text.push('\n');
        std::fs::write(path, text)?;
        outln!("exported to {}", path.display());
    }
    let hello = api.hello(seen).await?;
    refuse_unless_ok("greet", &hello)?;
    show(&hello.body, &data.body);
    Ok(())
}

/// The account, as the greeting and the export see it.
fn show(hello: &Value, data: &Value) {
    let text = |value: &Value| value.as_str().unwrap_or("-").to_owned();
    outln!("user:      {}", text(&data["user_id"]));
    outln!(
        "greeting:  {} (version {})",
        text(&hello["message"]),
        hello["version"]
    );
    let row = &data["table"]["row"];
    outln!(
        "table:     {} (version {}, written {})",
        text(&row["name"]),
        row["version"],
        text(&data["table"]["written_at"])
    );
    let archived = &data["archive"]["object"];
    outln!(
        "archive:   {} (version {}, written {})",
        text(&archived["user"]["name"]),
        archived["version"],
        text(&data["archive"]["written_at"])
    );
    let published = &data["published"];
    outln!(
        "published: {} (version {}, written {})",
        text(&published["name"]),
        published["version"],
        text(&published["written_at"])
    );
}

fn refuse_unless_ok(what: &str, answer: &Answer) -> Result<(), CommandError> {
    if answer.ok() {
        Ok(())
    } else {
        Err(CommandError::Refused(format!(
            "could not {what}: {} (HTTP {})",
            answer.message(),
            answer.status
        )))
    }
}

/// Asks to type the email again; reads standard input when it is not a
/// terminal.
fn confirmed(email: &str) -> Result<bool, CommandError> {
    let mut out = std::io::stderr();
    write!(
        out,
        "This erases the account everywhere and cannot be undone. Type the email to confirm: "
    )?;
    out.flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    if !std::io::stdin().is_terminal() {
        writeln!(out)?;
    }
    Ok(line.trim() == email)
}
