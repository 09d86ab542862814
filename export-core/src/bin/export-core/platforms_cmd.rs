//! `export-core platforms ...`: export platforms (named presets), validated against their
//! schema when saved and audited.

use clap::{Args, Subcommand};
use export_core::Result;
use export_core::platform::Platform;
use export_core::schedule::{ScheduleManager, ScheduleQuery};
use export_core::service::Principal;

use crate::jobs_cmd::{print_json, read_request};
use crate::request_args::RequestArgs;
use crate::schedules_cmd::AdminArgs;

#[derive(Args)]
pub struct PlatformsArgs {
    #[command(flatten)]
    admin: AdminArgs,
    #[command(subcommand)]
    command: PlatformsCommand,
}

#[derive(Subcommand)]
enum PlatformsCommand {
    /// Create a platform from the request flags or --request-json (replace one with --replace).
    Create(Box<CreateArgs>),
    /// List platforms.
    List,
    /// Print a platform and the ids of the schedules linked to it, as JSON.
    Show(NameArg),
    /// Delete a platform (refused while schedules use it).
    Delete(NameArg),
}

#[derive(Args)]
struct CreateArgs {
    /// The platform name (a-z, 0-9, `-`, `_`, `.`).
    name: String,
    /// What it is for.
    #[arg(long, default_value = "")]
    description: String,
    /// The request as JSON (inline, from a file or `-`) (instead of the request flags).
    #[arg(long, value_name = "JSON|FILE|-")]
    request_json: Option<String>,
    /// Replace the platform of that name (its linked schedules are checked again).
    #[arg(long)]
    replace: bool,
    #[command(flatten)]
    request: RequestArgs,
}

#[derive(Args)]
struct NameArg {
    /// The platform name.
    name: String,
}

pub fn run(mut args: PlatformsArgs) -> Result<()> {
    // Only a creation may start a new database.
    args.admin.backend.must_exist = !matches!(args.command, PlatformsCommand::Create(_));
    let manager = args.admin.manager()?;
    let actor = args.admin.principal()?;
    match args.command {
        PlatformsCommand::Create(create) => {
            let request = match &create.request_json {
                Some(source) => read_request(source)?,
                // A preset keeps no period unless given one: runs choose theirs.
                None => create.request.to_request(None)?,
            };
            let platform = Platform::new(create.name.clone(), request, chrono::Utc::now())
                .description(create.description.clone());
            let saved = if create.replace {
                manager.update_platform(&actor, platform)?
            } else {
                manager.create_platform(&actor, platform)?
            };
            println!("{} saved", saved.name);
        }
        PlatformsCommand::List => {
            println!(
                "{:<28}  {:<8}  {:<4}  {:<9}  {:<6}  {:>9}  DESCRIPTION",
                "NAME", "SCHEMA", "VER", "AUDIENCE", "FORMAT", "SCHEDULES"
            );
            for p in manager.list_platforms(&actor)? {
                let r = &p.request;
                println!(
                    "{:<28}  {:<8}  {:<4}  {:<9}  {:<6}  {:>9}  {}",
                    p.name,
                    r.schema,
                    r.version.map_or("-".into(), |v| v.to_string()),
                    r.audience.map_or("-".into(), |a| a.to_string()),
                    r.format.to_string(),
                    linked_schedules(&manager, &actor, &p.name)?.len(),
                    p.description
                );
            }
        }
        PlatformsCommand::Show(name) => {
            let platform = manager.get_platform(&actor, &name.name)?;
            let schedules = linked_schedules(&manager, &actor, &platform.name)?;
            print_json(&serde_json::json!({ "platform": platform, "schedules": schedules }))?;
        }
        PlatformsCommand::Delete(name) => {
            manager.delete_platform(&actor, &name.name)?;
            println!("{} deleted", name.name);
        }
    }
    Ok(())
}

/// The ids of the schedules `actor` may see that export platform `name`.
fn linked_schedules(
    manager: &ScheduleManager,
    actor: &Principal,
    name: &str,
) -> Result<Vec<String>> {
    let query = ScheduleQuery::default().platform(name);
    Ok(manager
        .list_schedules(actor, &query)?
        .into_iter()
        .map(|s| s.id)
        .collect())
}
