//! A plain blocking SQL client for the PostgreSQL tests' own set-up and checks (dropping a
//! test schema, reading a table behind a store's back): tokio-postgres waited on through the
//! shared I/O runtime, without TLS.

#![allow(dead_code)]

use export_core::runtime::IoRuntime;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Error, NoTls, Row};

/// One connection, closed when dropped.
pub struct Client {
    client: tokio_postgres::Client,
    io: IoRuntime,
}

impl Client {
    /// Connects to `url`.
    pub fn connect(url: &str) -> Result<Client, Error> {
        let io = IoRuntime::shared();
        let url = url.to_owned();
        let client = io.block_on(async move {
            let (client, connection) = tokio_postgres::connect(&url, NoTls).await?;
            tokio::spawn(connection);
            Ok::<_, Error>(client)
        })?;
        Ok(Client { client, io })
    }

    /// Runs statements without parameters.
    pub fn batch_execute(&mut self, sql: &str) -> Result<(), Error> {
        self.io.block_on(self.client.batch_execute(sql))
    }

    /// Runs a statement.
    pub fn execute(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, Error> {
        self.io.block_on(self.client.execute(sql, params))
    }

    /// Runs a query.
    pub fn query(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, Error> {
        self.io.block_on(self.client.query(sql, params))
    }

    /// Runs a query of one row.
    pub fn query_one(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Row, Error> {
        self.io.block_on(self.client.query_one(sql, params))
    }
}
