//! `export-core datasets`: the datasets an engine configuration exports (`list`), and the
//! columns of one (`show`).

use clap::{Args, Subcommand};
use export_core::dataset::Dataset;
use export_core::{ExportError, Result};

use crate::backend::BackendArgs;

#[derive(Args)]
pub struct DatasetsArgs {
    #[command(flatten)]
    backend: BackendArgs,
    #[command(subcommand)]
    command: DatasetsCommand,
}

#[derive(Subcommand)]
enum DatasetsCommand {
    /// One line per dataset: name, sheets, columns, description.
    List {
        /// One JSON object per line instead.
        #[arg(long)]
        json: bool,
    },
    /// The columns of one dataset, per sheet: name, Arrow type, header, nullability.
    Show {
        /// The dataset's name.
        name: String,
        /// A JSON object instead.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(args: DatasetsArgs) -> Result<()> {
    let engine = args.backend.open()?;
    let datasets = engine.datasets();
    match args.command {
        DatasetsCommand::List { json } => {
            for dataset in datasets.iter() {
                if json {
                    println!("{}", summary(dataset));
                } else {
                    let columns: usize = dataset
                        .schema()
                        .sheets()
                        .iter()
                        .map(|s| s.columns.len())
                        .sum();
                    println!(
                        "{}\t{} sheet(s)\t{columns} columns\t{}",
                        dataset.name(),
                        dataset.schema().sheets().len(),
                        dataset.about()
                    );
                }
            }
        }
        DatasetsCommand::Show { name, json } => {
            let dataset = datasets.get(&name).ok_or_else(|| {
                ExportError::request(
                    "dataset",
                    format!(
                        "no dataset `{name}`; the configuration has {}",
                        datasets.names().join(", ")
                    ),
                )
            })?;
            if json {
                println!("{}", details(dataset));
            } else {
                if !dataset.about().is_empty() {
                    println!("{}", dataset.about());
                }
                for sheet in dataset.schema().sheets() {
                    println!("sheet {}", sheet.name);
                    for c in &sheet.columns {
                        println!(
                            "  {}\t{}\t{}\t{}",
                            c.name,
                            c.data_type,
                            c.header,
                            if c.nullable { "nullable" } else { "required" }
                        );
                    }
                }
            }
        }
    }
    Ok(())
}

fn summary(dataset: &Dataset) -> serde_json::Value {
    serde_json::json!({
        "name": dataset.name(),
        "description": dataset.about(),
        "sheets": dataset.schema().sheets().iter().map(|s| s.name.clone()).collect::<Vec<_>>(),
    })
}

fn details(dataset: &Dataset) -> serde_json::Value {
    let sheets: Vec<serde_json::Value> = dataset
        .schema()
        .sheets()
        .iter()
        .map(|sheet| {
            serde_json::json!({
                "name": sheet.name,
                "columns": sheet.columns.iter().map(|c| serde_json::json!({
                    "name": c.name,
                    "type": c.data_type.to_string(),
                    "header": c.header,
                    "nullable": c.nullable,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    serde_json::json!({
        "name": dataset.name(),
        "description": dataset.about(),
        "sheets": sheets,
    })
}
