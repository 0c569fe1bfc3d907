//! The tasks of the Hatchet examples, shared by the worker (which runs them) and the trigger (which signs them).

use mageflow::{MageflowBuilder, Outcome, TaskContext, TaskError, TaskInput, task};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A document to count words in.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct Doc {
    pub id: u32,
    pub text: String,
}

/// How many words a document has.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct Count {
    pub id: u32,
    pub words: u64,
}

/// The outcomes of a swarm of counts, in item order.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema, TaskInput)]
pub struct Counts {
    #[mageflow(return_value)]
    pub outcomes: Vec<Outcome<Count>>,
}

/// Lower-cases a document and drops its punctuation. Empty documents are refused (no retry helps).
#[task(retries = 2, timeout = "30s")]
pub async fn normalize(doc: Doc, ctx: TaskContext) -> Result<Doc, TaskError> {
    println!("normalize: document {} (attempt {})", doc.id, ctx.attempt);
    if doc.text.trim().is_empty() {
        return Err(TaskError::non_retryable(format!("document {} is empty", doc.id)));
    }
    let text = doc.text.chars().filter(|c| c.is_alphanumeric() || c.is_whitespace()).collect::<String>();
    Ok(Doc { id: doc.id, text: text.to_lowercase() })
}

/// Counts the words of a document.
#[task(retries = 2, timeout = "30s")]
pub async fn count_words(doc: Doc) -> Result<Count, TaskError> {
    println!("count-words: document {}", doc.id);
    Ok(Count { id: doc.id, words: doc.text.split_whitespace().count() as u64 })
}

/// Adds up the counts of a swarm; failed documents are reported, not dropped.
#[task]
pub async fn total_words(counts: Counts) -> Result<u64, TaskError> {
    let mut total = 0;
    for outcome in counts.outcomes {
        match outcome {
            Outcome::Ok(count) => total += count.words,
            Outcome::Failed(failure) => println!("total-words: skipping a failed document: {}", failure.error.message),
        }
    }
    println!("total-words: {total}");
    Ok(total)
}

/// Registers every task above.
pub fn register(builder: MageflowBuilder) -> MageflowBuilder {
    builder.task(normalize).task(count_words).task(total_words)
}

/// `REDIS_URL`, which the worker and the trigger must share.
pub fn redis_url() -> Result<String, String> {
    match std::env::var("REDIS_URL") {
        Ok(url) if !url.trim().is_empty() => Ok(url),
        _ => {
            Err("set REDIS_URL (e.g. redis://127.0.0.1:6379): the worker and the trigger share their state there"
                .into())
        }
    }
}
