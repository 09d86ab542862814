//! `export-core schema`: the columns of a trip schema, as text or Markdown.

use clap::Args;
use export_core::Result;
use export_core::request::{Audience, SchemaVersion};
use export_core::schema::trip;

#[derive(Args)]
pub struct SchemaArgs {
    /// Schema version: v2 (CSV) or v3 (XLSX).
    #[arg(long, default_value = "v3")]
    version: String,
    /// Audience: opendata, operator or territory.
    #[arg(long)]
    audience: String,
    /// Print a Markdown table (name, type, format, unit, description) for the docs.
    #[arg(long)]
    markdown: bool,
}

pub fn run(args: SchemaArgs) -> Result<()> {
    let version: SchemaVersion = args.version.parse()?;
    let audience: Audience = args.audience.parse()?;
    let schema = trip::schema(version, audience);
    if args.markdown {
        println!("| # | column | type | Excel format | unit | description |");
        println!("|---|---|---|---|---|---|");
        for (i, c) in schema.columns().iter().enumerate() {
            println!(
                "| {} | `{}` | {} | {} | {} | {} |",
                i + 1,
                c.name,
                c.data_type,
                c.num_format
                    .as_deref()
                    .map(|f| format!("`{f}`"))
                    .unwrap_or_default(),
                c.unit.as_deref().unwrap_or(""),
                c.description.replace('|', "\\|")
            );
        }
    } else {
        for c in schema.columns() {
            println!("{}", c.name);
        }
    }
    Ok(())
}
