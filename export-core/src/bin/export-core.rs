//! The export-core admin command line.

fn main() {
    println!("export-core {}", env!("CARGO_PKG_VERSION"));
}
