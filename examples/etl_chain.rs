//! An ETL chain: extract rows, clean them, load them, then report. Each step gets the previous step's result;
//! chain-level arguments reach every step; the chain's success callback gets the last result.
//!
//! ```text
//! cargo run --example etl_chain
//! ```

use std::time::Duration;

use mageflow::{Failure, Mageflow, TaskError, TaskInput, task};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct Source {
    dataset: String,
    rows: u32,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct Row {
    city: String,
    celsius: Option<f64>,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct Table {
    dataset: String,
    rows: Vec<Row>,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
struct Loaded {
    dataset: String,
    rows: usize,
    mean_celsius: f64,
}

/// The clean step takes the extracted table in its return-value field, and a bound threshold.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, TaskInput)]
struct CleanInput {
    #[mageflow(return_value)]
    table: Table,
    /// Readings above this are sensor errors.
    max_celsius: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, TaskInput)]
struct ReportInput {
    #[mageflow(return_value)]
    loaded: Loaded,
    channel: String,
}

#[task]
async fn extract(source: Source) -> Result<Table, TaskError> {
    let cities = ["Lisbon", "Oslo", "Cairo", "Lima"];
    let rows = (0..source.rows)
        .map(|i| Row {
            city: cities[i as usize % cities.len()].to_owned(),
            celsius: if i % 7 == 3 { None } else { Some(10.0 + f64::from(i % 5) * 4.5 + f64::from(i % 3) * 31.0) },
        })
        .collect::<Vec<_>>();
    println!("extract: {} rows from `{}`", rows.len(), source.dataset);
    Ok(Table { dataset: source.dataset, rows })
}

#[task]
async fn clean(input: CleanInput) -> Result<Table, TaskError> {
    let before = input.table.rows.len();
    let rows: Vec<Row> =
        input.table.rows.into_iter().filter(|r| r.celsius.is_some_and(|c| c <= input.max_celsius)).collect();
    println!("clean: kept {} of {before} rows (missing or above {} °C dropped)", rows.len(), input.max_celsius);
    Ok(Table { dataset: input.table.dataset, rows })
}

#[task(retries = 2)]
async fn load(table: Table) -> Result<Loaded, TaskError> {
    if table.rows.is_empty() {
        return Err(TaskError::non_retryable(format!("nothing to load into `{}`", table.dataset)));
    }
    let sum: f64 = table.rows.iter().filter_map(|r| r.celsius).sum();
    let loaded = Loaded { dataset: table.dataset, rows: table.rows.len(), mean_celsius: sum / table.rows.len() as f64 };
    println!("load: {} rows into the warehouse", loaded.rows);
    Ok(loaded)
}

#[task]
async fn report(input: ReportInput) -> Result<(), TaskError> {
    println!(
        "report to {}: `{}` has {} rows, mean {:.1} °C",
        input.channel, input.loaded.dataset, input.loaded.rows, input.loaded.mean_celsius
    );
    Ok(())
}

#[task]
async fn page_on_call(failure: Failure) -> Result<(), TaskError> {
    println!("page: step `{}` failed: {}", failure.task, failure.error.message);
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), mageflow::Error> {
    let client =
        Mageflow::builder().task(extract).task(clean).task(load).task(report).task(page_on_call).build().await?;

    let report_step = client.sign(report).arg("channel", "#weather");
    let report_id = report_step.id().clone();
    let etl = client
        .chain([
            client.sign_name("extract"),
            client.sign_name("clean").arg("max_celsius", 45.0),
            client.sign_name("load"),
        ])
        .name("daily-weather-etl")
        .on_success(report_step)
        .on_error(client.sign(page_on_call));
    let handle = client.run_no_wait(etl, serde_json::json!({"dataset": "weather-2026-11-26", "rows": 40})).await?;
    let loaded: Loaded = serde_json::from_value(handle.result().await?)
        .map_err(|source| mageflow::Error::Deserialize { id: handle.id().clone(), source })?;
    client.wait(&report_id, Some(Duration::from_secs(10))).await?;
    println!("=> loaded {} rows; the flow:", loaded.rows);
    print!("{}", handle.tree().await?.render());
    client.shutdown(Duration::from_secs(5)).await
}
