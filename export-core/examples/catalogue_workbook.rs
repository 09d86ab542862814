//! The catalogue seed's workbook: products, suppliers and categories on three styled sheets.
//!
//! Run: `cargo run -p export-core --example catalogue_workbook -- catalogue.xlsx`

use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::DataType;
use export_core::export::Exporter;
use export_core::request::{ExportRequest, Format};
use export_core::schema::{Column, ExportSchema, Sheet};
use export_core::source::IterSource;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "catalogue.xlsx".into());
    let schema = ExportSchema::with_sheets(
        "catalogue",
        vec![
            Sheet::new(
                "products",
                vec![
                    Column::new("sku", DataType::Utf8).header("SKU").width(12.0),
                    Column::new("name", DataType::Utf8)
                        .header("Product")
                        .width(30.0),
                    Column::new("price", DataType::Float64)
                        .header("Price")
                        .num_format("#,##0.00 \"€\""),
                    Column::new("margin", DataType::Float64)
                        .header("Margin")
                        .num_format("0.0%"),
                    Column::new("stock", DataType::Int64).header("Stock"),
                ],
            ),
            Sheet::new(
                "suppliers",
                vec![
                    Column::new("supplier", DataType::Utf8)
                        .header("Supplier")
                        .width(24.0),
                ],
            ),
            Sheet::new(
                "categories",
                vec![
                    Column::new("category", DataType::Utf8)
                        .header("Category")
                        .width(20.0),
                ],
            ),
        ],
    )?;
    let products = RecordBatch::try_from_iter([
        (
            "sku",
            Arc::new(StringArray::from(vec!["GAR-001", "GAR-002", "KIT-010"])) as ArrayRef,
        ),
        (
            "name",
            Arc::new(StringArray::from(vec!["Spade", "Rake", "=Whisk"])) as ArrayRef,
        ),
        (
            "price",
            Arc::new(Float64Array::from(vec![19.9, 12.5, 4.99])) as ArrayRef,
        ),
        (
            "margin",
            Arc::new(Float64Array::from(vec![0.32, 0.28, 0.41])) as ArrayRef,
        ),
        (
            "stock",
            Arc::new(Int64Array::from(vec![120, 0, 45])) as ArrayRef,
        ),
    ])?;
    let suppliers = RecordBatch::try_from_iter([(
        "supplier",
        Arc::new(StringArray::from(vec!["ACME", "Globex"])) as ArrayRef,
    )])?;
    let categories = RecordBatch::try_from_iter([(
        "category",
        Arc::new(StringArray::from(vec!["Garden", "Kitchen"])) as ArrayRef,
    )])?;

    let exporter = Exporter::builder(ExportRequest::new("catalogue", Format::Xlsx))
        .schema(schema)
        .build()?;
    let mut sources = [
        IterSource::from_batches(vec![products])?,
        IterSource::from_batches(vec![suppliers])?,
        IterSource::from_batches(vec![categories])?,
    ];
    let [p, s, c] = &mut sources;
    let file = export_core::output::AtomicFile::create(&out)?;
    let (report, file) = exporter.run_sheets(vec![p, s, c], file)?;
    file.commit()?;
    println!(
        "{out}: sheets {:?}, {} rows",
        report.sheets, report.rows_written
    );
    Ok(())
}
