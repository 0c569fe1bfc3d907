//! A tour of `flow!`: sequences, bound arguments, swarms (strict and tolerant), groups, flows in braces and in
//! variables, names and callbacks, the three delimiters, and the same flow described in JSON at run time. Runs with
//! no services; set `REDIS_URL` to keep the state in Redis instead.
//!
//! ```text
//! cargo run --example dsl_tour
//! ```

use std::time::Duration;

use mageflow::{Failure, Flow, InputFields, Mageflow, Outcome, TaskError, TaskInput, flow, task};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// A file someone uploaded.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, InputFields)]
struct Upload {
    name: String,
    bytes: u64,
}

/// A decoded image.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
struct Image {
    name: String,
    width: u32,
    height: u32,
}

/// `resize` takes the previous step's image in `image`; `width` must be bound, `sharpen` may be.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, TaskInput)]
struct Resize {
    #[mageflow(return_value)]
    image: Image,
    width: u32,
    #[serde(default)]
    sharpen: bool,
}

/// What the gallery flow produces.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
struct Report {
    name: String,
    large: String,
    thumbnail: String,
    labels: Vec<String>,
}

/// The error callback's input: the failure report, and the channel to page.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, TaskInput)]
struct Page {
    #[mageflow(return_value)]
    failure: Failure,
    channel: String,
}

fn size(image: &Image) -> String {
    format!("{}x{}", image.width, image.height)
}

/// Decodes an upload; an empty file fails for good.
#[task]
async fn decode(upload: Upload) -> Result<Image, TaskError> {
    println!("    decode {} ({} bytes)", upload.name, upload.bytes);
    if upload.bytes == 0 {
        return Err(TaskError::non_retryable(format!("{} is empty", upload.name)));
    }
    Ok(Image { name: upload.name, width: 4000, height: 3000 })
}

/// Resizes to a width, keeping the aspect ratio.
#[task]
async fn resize(input: Resize) -> Result<Image, TaskError> {
    let Resize { image, width, sharpen } = input;
    println!("    resize {} to width {width}{}", image.name, if sharpen { ", sharpened" } else { "" });
    Ok(Image { height: image.height * width / image.width, width, ..image })
}

/// A 64x64 thumbnail.
#[task]
async fn thumbnail(image: Image) -> Result<Image, TaskError> {
    println!("    thumbnail {}", image.name);
    Ok(Image { width: 64, height: 64, ..image })
}

/// Labels what the image shows.
#[task]
async fn label(image: Image) -> Result<Vec<String>, TaskError> {
    println!("    label {}", image.name);
    Ok(vec!["cat".to_owned(), format!("{}px wide", image.width)])
}

/// Stamps a watermark; images named `secret...` may not be published.
#[task]
async fn watermark(image: Image) -> Result<Image, TaskError> {
    println!("    watermark {}", image.name);
    if image.name.starts_with("secret") {
        return Err(TaskError::non_retryable(format!("{} may not be published", image.name)));
    }
    Ok(image)
}

/// Puts a swarm's outputs together: the large image, and the thumbnail with its labels.
#[task]
async fn report(parts: (Image, (Image, Vec<String>))) -> Result<Report, TaskError> {
    let (large, (small, labels)) = parts;
    Ok(Report { name: large.name.clone(), large: size(&large), thumbnail: size(&small), labels })
}

/// Counts what a tolerant swarm managed.
#[task]
async fn tally(parts: (Outcome<Image>, Outcome<Image>)) -> Result<String, TaskError> {
    let describe = |outcome: &Outcome<Image>| match outcome {
        Outcome::Ok(image) => format!("ok ({})", size(image)),
        Outcome::Failed(failure) => format!("failed ({})", failure.error.message),
    };
    Ok(format!("watermark {}, thumbnail {}", describe(&parts.0), describe(&parts.1)))
}

/// Success callback of the gallery: gets its report.
#[task]
async fn announce(summary: Report) -> Result<(), TaskError> {
    println!("    announce: {} is in the gallery", summary.name);
    Ok(())
}

/// Error callback of the gallery: gets the failure report, with the channel bound.
#[task]
async fn page_oncall(page: Page) -> Result<(), TaskError> {
    println!("    page {}: `{}` failed: {}", page.channel, page.failure.task, page.failure.error.message);
    Ok(())
}

/// The gallery flow: decode, then in parallel a large version and (a thumbnail and its labels), then a report.
fn gallery() -> Flow<Upload, Report> {
    flow!(
        decode >> [resize.bind(width = 1200, sharpen = true), [thumbnail, label]; max_concurrency = 2] >> report,
        name = "gallery",
        on_success = announce,
        on_error = page_oncall.bind(channel = "#images"),
    )
}

fn upload(name: &str, bytes: u64) -> Upload {
    Upload { name: name.to_owned(), bytes }
}

/// Runs a flow, then waits for its callbacks, so that their lines print in order.
async fn run_with_callbacks<O: serde::de::DeserializeOwned>(
    client: &Mageflow,
    flow: Flow<Upload, O>,
    input: Upload,
) -> mageflow::Result<O> {
    let handle = client.run_no_wait(flow, input).await?;
    let result = handle.result().await;
    let state = handle.status().await?;
    for callback in state.success_callbacks.iter().chain(&state.error_callbacks) {
        client.wait(callback, Some(Duration::from_secs(10))).await?;
    }
    result
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let client = Mageflow::builder()
        .task(decode)
        .task(resize)
        .task(thumbnail)
        .task(label)
        .task(watermark)
        .task(report)
        .task(tally)
        .task(announce)
        .task(page_oncall)
        .build()
        .await?;

    println!("1. a sequence; `resize` takes the image in its return-value field, `width` bound");
    let large: Image = client.run(flow!(decode >> resize.bind(width = 800)), upload("cat.jpg", 52_000)).await?;
    println!("   -> {}", size(&large));

    println!("2. a swarm inside a sequence, a swarm inside the swarm, a name and both callbacks");
    let summary = run_with_callbacks(&client, gallery(), upload("cat.jpg", 52_000)).await?;
    println!("   -> {summary:?}");

    println!("3. the same flow failing: the error callback gets the failure report");
    let error = run_with_callbacks(&client, gallery(), upload("empty.jpg", 0)).await.unwrap_err();
    println!("   -> {error}");

    println!("4. a swarm that tolerates failures: its members' outcomes");
    let counted = client
        .run(flow!(decode >> [watermark, thumbnail; stop_after_failures = 2] >> tally), upload("secret.jpg", 9_000))
        .await?;
    println!("   -> {counted}");

    println!("5. groups, a flow in a variable, a flow in braces");
    let finishing: Flow<Image, Image> = flow!(watermark >> thumbnail);
    let finished =
        client.run(flow!((decode >> resize.bind(width = 400)) >> { finishing }), upload("dog.jpg", 30_000)).await?;
    println!("   -> {}", size(&finished));

    println!("6. a swarm that starts a flow: every member takes the flow's input");
    let image = Image { name: "bird.jpg".to_owned(), width: 640, height: 480 };
    let (small, labels) = client.run(flow!([thumbnail, label]), image).await?;
    println!("   -> {} and {labels:?}", size(&small));

    println!("7. every delimiter");
    for flow in [flow!(decode >> thumbnail), flow![decode >> thumbnail], flow! { decode >> thumbnail }] {
        println!("   -> {}", size(&client.run(flow, upload("fox.jpg", 1_000)).await?));
    }

    println!("8. the gallery, described in JSON and built at run time: the same flow");
    let description = gallery().to_json();
    println!("   {description}");
    let from_json = client.flow_from_json(&description).await?;
    let same: Report = run_with_callbacks(&client, from_json.assume_types(), upload("cat.jpg", 52_000)).await?;
    assert_eq!(same, summary);
    println!("   -> the same report");

    let refused = client.flow_from_json(&json!({"chain": ["decode", {"task": "resize", "bind": {"widht": 5}}]})).await;
    println!("   a mistake is refused before anything is stored: {}", refused.unwrap_err());
    Ok(())
}
