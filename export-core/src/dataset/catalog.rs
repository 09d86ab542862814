//! The catalogue seed's sample data: products, suppliers and categories from a deterministic
//! generator (row `i` is always the same for a seed), so a server on the embedded defaults has
//! something real-shaped to export and tests can predict every value.

use std::sync::Arc;

use arrow_array::builder::{
    Decimal128Builder, Int32Builder, Int64Builder, StringBuilder, TimestampMillisecondBuilder,
};
use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray, StructArray};
use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};

use super::{Dataset, DatasetSource};
use crate::error::Result;
use crate::request::ExportRequest;
use crate::schema::{Column, ExportSchema, Sheet};
use crate::source::Source;

/// The sample categories, in id order (category `k` is `CATALOG_CATEGORIES[k - 1]`).
pub const CATALOG_CATEGORIES: &[&str] = &[
    "books", "garden", "kitchen", "music", "office", "sports", "tools", "toys",
];

/// Rows per generated batch (the seed loads "batches of 500"; larger batches are faster and
/// still small).
const BATCH: u64 = 4_096;
/// 2024-01-01T00:00:00Z in milliseconds: products are created a minute apart from there.
const EPOCH_MS: i64 = 1_704_067_200_000;

/// A deterministic catalogue: `products` products, one supplier per 20 products (at least
/// one), and the [`CATALOG_CATEGORIES`].
///
/// # Examples
///
/// ```
/// use export_core::dataset::SampleCatalog;
/// let catalog = SampleCatalog::new(100, 1);
/// assert_eq!(catalog.suppliers(), 5);
/// assert_eq!(catalog.product_sku(42), "SKU-00000042");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SampleCatalog {
    products: u64,
    seed: u64,
}

impl SampleCatalog {
    /// A catalogue of `products` products whose prices and stocks follow `seed`.
    pub fn new(products: u64, seed: u64) -> SampleCatalog {
        SampleCatalog { products, seed }
    }

    /// How many products.
    pub fn products(&self) -> u64 {
        self.products
    }

    /// How many suppliers: one per 20 products, at least one.
    pub fn suppliers(&self) -> u64 {
        (self.products / 20).max(1)
    }

    /// The SKU of product `id` (1-based).
    pub fn product_sku(&self, id: u64) -> String {
        format!("SKU-{id:08}")
    }

    fn mix(&self, id: u64) -> u64 {
        // splitmix64: cheap, and every id gets unrelated digits.
        let mut z = id
            .wrapping_add(self.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn supplier_of(&self, product: u64) -> u64 {
        product % self.suppliers() + 1
    }

    /// The four datasets: `products`, `suppliers`, `categories` and `catalogue`.
    pub fn datasets(self) -> Vec<Dataset> {
        let source = Arc::new(self);
        let sheets = [products_sheet(), suppliers_sheet(), categories_sheet()];
        let mut out: Vec<Dataset> = sheets
            .iter()
            .map(|sheet| {
                let schema = ExportSchema::new(sheet.name.clone(), sheet.columns.clone());
                Dataset::new(schema, source.clone())
            })
            .collect();
        out[0] = out[0]
            .clone()
            .description("catalogue products, with their supplier nested");
        out[1] = out[1].clone().description("catalogue suppliers");
        out[2] = out[2].clone().description("catalogue categories");
        let catalogue = ExportSchema::with_sheets("catalogue", sheets.to_vec())
            .expect("three sheets of distinct names");
        out.push(
            Dataset::new(catalogue, source)
                .description("products, suppliers and categories as the sheets of one workbook"),
        );
        out
    }

    fn source(&self, sheet: &str) -> Box<dyn Source> {
        let (schema, rows) = match sheet {
            "products" => (products_sheet(), self.products),
            "suppliers" => (suppliers_sheet(), self.suppliers()),
            _ => (categories_sheet(), CATALOG_CATEGORIES.len() as u64),
        };
        let fields: Vec<Field> = schema
            .columns
            .iter()
            .map(|c| Field::new(&c.name, c.data_type.clone(), c.nullable))
            .collect();
        Box::new(CatalogSource {
            catalog: *self,
            sheet: schema.name,
            schema: Arc::new(Schema::new(fields)),
            next: 1,
            rows,
        })
    }
}

impl DatasetSource for SampleCatalog {
    fn open(&self, request: &ExportRequest) -> Result<Vec<Box<dyn Source>>> {
        Ok(match request.schema.as_str() {
            "catalogue" => vec![
                self.source("products"),
                self.source("suppliers"),
                self.source("categories"),
            ],
            name => vec![self.source(name)],
        })
    }
}

fn supplier_fields() -> Fields {
    Fields::from(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, false),
    ])
}

fn created_at() -> Column {
    Column::new(
        "created_at",
        DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
    )
    .required()
    .width(20.0)
}

fn products_sheet() -> Sheet {
    Sheet::new(
        "products",
        vec![
            Column::new("id", DataType::Int64).required(),
            Column::new("sku", DataType::Utf8).required().width(14.0),
            Column::new("name", DataType::Utf8).required().width(28.0),
            Column::new("price", DataType::Decimal128(12, 2))
                .required()
                .unit("EUR")
                .num_format("#,##0.00"),
            Column::new("stock", DataType::Int32).required(),
            Column::new("category", DataType::Utf8).required(),
            created_at(),
            Column::new("supplier", DataType::Struct(supplier_fields()))
                .description("the product's supplier (id, name)"),
        ],
    )
}

fn suppliers_sheet() -> Sheet {
    Sheet::new(
        "suppliers",
        vec![
            Column::new("id", DataType::Int64).required(),
            Column::new("name", DataType::Utf8).required().width(16.0),
            Column::new("country", DataType::Utf8).required(),
            Column::new("email", DataType::Utf8).width(28.0),
            created_at(),
        ],
    )
}

fn categories_sheet() -> Sheet {
    Sheet::new(
        "categories",
        vec![
            Column::new("id", DataType::Int64).required(),
            Column::new("name", DataType::Utf8).required(),
            Column::new("products", DataType::Int64)
                .required()
                .description("products in the category"),
        ],
    )
}

const COUNTRIES: &[&str] = &["FR", "DE", "ES", "IT", "BE", "NL", "PT", "PL"];

struct CatalogSource {
    catalog: SampleCatalog,
    sheet: String,
    schema: SchemaRef,
    next: u64,
    rows: u64,
}

impl CatalogSource {
    fn products(&self, ids: std::ops::Range<u64>) -> Result<Vec<ArrayRef>> {
        let c = &self.catalog;
        let n = (ids.end - ids.start) as usize;
        let mut id = Int64Builder::with_capacity(n);
        let mut sku = StringBuilder::with_capacity(n, n * 12);
        let mut name = StringBuilder::with_capacity(n, n * 16);
        let mut price = Decimal128Builder::with_capacity(n);
        let mut stock = Int32Builder::with_capacity(n);
        let mut category = StringBuilder::with_capacity(n, n * 6);
        let mut created = TimestampMillisecondBuilder::with_capacity(n);
        let mut supplier_id = Vec::with_capacity(n);
        let mut supplier_name = StringBuilder::with_capacity(n, n * 12);
        for i in ids {
            let mix = c.mix(i);
            id.append_value(i as i64);
            sku.append_value(c.product_sku(i));
            // Every 10th name has a comma and quotes: CSV quoting is exercised.
            if i % 10 == 0 {
                name.append_value(format!("Product {i}, \"deluxe\""));
            } else {
                name.append_value(format!("Product {i}"));
            }
            price.append_value((mix % 100_000 + 99) as i128);
            stock.append_value(((mix >> 20) % 1_000) as i32);
            category.append_value(CATALOG_CATEGORIES[(i as usize) % CATALOG_CATEGORIES.len()]);
            created.append_value(EPOCH_MS + 60_000 * i as i64);
            let s = c.supplier_of(i);
            supplier_id.push(s as i64);
            supplier_name.append_value(format!("Supplier {s:04}"));
        }
        let supplier = StructArray::try_new(
            supplier_fields(),
            vec![
                Arc::new(Int64Array::from(supplier_id)) as ArrayRef,
                Arc::new(supplier_name.finish()),
            ],
            None,
        )?;
        Ok(vec![
            Arc::new(id.finish()),
            Arc::new(sku.finish()),
            Arc::new(name.finish()),
            Arc::new(price.finish().with_precision_and_scale(12, 2)?),
            Arc::new(stock.finish()),
            Arc::new(category.finish()),
            Arc::new(created.finish().with_timezone("UTC")),
            Arc::new(supplier),
        ])
    }

    fn suppliers(&self, ids: std::ops::Range<u64>) -> Vec<ArrayRef> {
        let c = &self.catalog;
        let mut created = TimestampMillisecondBuilder::new();
        let mut email = StringBuilder::new();
        let (mut id, mut name, mut country) = (Vec::new(), Vec::new(), Vec::new());
        for i in ids {
            id.push(i as i64);
            name.push(format!("Supplier {i:04}"));
            country.push(COUNTRIES[(c.mix(i) % COUNTRIES.len() as u64) as usize]);
            // Every 7th supplier has no address on file.
            if i % 7 == 0 {
                email.append_null();
            } else {
                email.append_value(format!("sales{i}@supplier.example"));
            }
            created.append_value(EPOCH_MS - 86_400_000 * i as i64);
        }
        vec![
            Arc::new(Int64Array::from(id)),
            Arc::new(StringArray::from(name)),
            Arc::new(StringArray::from(country)),
            Arc::new(email.finish()),
            Arc::new(created.finish().with_timezone("UTC")),
        ]
    }

    fn categories(&self, ids: std::ops::Range<u64>) -> Vec<ArrayRef> {
        let k = CATALOG_CATEGORIES.len() as u64;
        let products = self.catalog.products;
        let (mut id, mut name, mut count) = (Vec::new(), Vec::new(), Vec::new());
        for i in ids {
            id.push(i as i64);
            name.push(CATALOG_CATEGORIES[(i - 1) as usize]);
            // Product p is in category p % k (0-based): count the p in 1..=products.
            let r = (i - 1) % k;
            let full = products / k;
            let extra = u64::from(r != 0 && r <= products % k);
            count.push((full + extra) as i64);
        }
        vec![
            Arc::new(Int64Array::from(id)),
            Arc::new(StringArray::from(name)),
            Arc::new(Int64Array::from(count)),
        ]
    }
}

impl Source for CatalogSource {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        if self.next > self.rows {
            return Ok(None);
        }
        let end = (self.next + BATCH).min(self.rows + 1);
        let ids = self.next..end;
        self.next = end;
        let columns = match self.sheet.as_str() {
            "products" => self.products(ids)?,
            "suppliers" => self.suppliers(ids),
            _ => self.categories(ids),
        };
        Ok(Some(RecordBatch::try_new(self.schema.clone(), columns)?))
    }

    fn rows_hint(&self) -> Option<u64> {
        Some(self.rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Format;
    use arrow_array::cast::AsArray;
    use arrow_array::types::Int64Type;

    fn read_all(catalog: SampleCatalog, name: &str) -> Vec<RecordBatch> {
        let mut sources = catalog
            .open(&ExportRequest::new(name, Format::Csv))
            .unwrap();
        let mut out = Vec::new();
        while let Some(b) = sources[0].next_batch().unwrap() {
            out.push(b);
        }
        out
    }

    #[test]
    fn products_are_numbered_and_deterministic() {
        let a = read_all(SampleCatalog::new(10_000, 3), "products");
        let b = read_all(SampleCatalog::new(10_000, 3), "products");
        assert_eq!(a, b);
        let rows: usize = a.iter().map(RecordBatch::num_rows).sum();
        assert_eq!(rows, 10_000);
        let last = a.last().unwrap();
        let ids = last.column(0).as_primitive::<Int64Type>();
        assert_eq!(ids.value(ids.len() - 1), 10_000);
        let other = read_all(SampleCatalog::new(10_000, 4), "products");
        assert_ne!(a[0].column(3), other[0].column(3), "the seed moves prices");
    }

    #[test]
    fn category_counts_add_up_to_the_products() {
        for products in [0, 1, 7, 8, 9, 1_001] {
            let batches = read_all(SampleCatalog::new(products, 1), "categories");
            let total: i64 = batches
                .iter()
                .flat_map(|b| b.column(2).as_primitive::<Int64Type>().values().to_vec())
                .sum();
            assert_eq!(total as u64, products, "{products} products");
        }
    }

    #[test]
    fn the_catalogue_opens_three_sheets() {
        let sources = SampleCatalog::new(5, 1)
            .open(&ExportRequest::new("catalogue", Format::Xlsx))
            .unwrap();
        let names: Vec<String> = sources
            .iter()
            .map(|s| s.schema().field(1).name().clone())
            .collect();
        assert_eq!(names, ["sku", "name", "name"]);
    }
}
