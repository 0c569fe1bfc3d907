//! Helpers for the run metadata mageflow carries through Hatchet.
//!
//! A run's `additional_metadata` is a JSON object set at trigger time and handed back to the
//! worker with every attempt. mageflow stores there the signature id and the dispatch token of the run, so that
//! the worker can rebuild the run the engine dispatched. Both are written as strings (Hatchet's dashboard and
//! other SDKs treat metadata as string pairs); numbers are accepted when read.

use serde_json::{Map, Value};

/// The metadata key holding the mageflow signature id.
pub const SIGNATURE_ID_KEY: &str = "mageflow_signature_id";

/// The metadata key holding the dispatch token of the run (see `mageflow_runtime::backend::Run::token`).
pub const DISPATCH_TOKEN_KEY: &str = "mageflow_dispatch_token";

/// Stores `id` as the signature id in `metadata`.
pub fn set_signature_id(metadata: &mut Map<String, Value>, id: impl Into<String>) {
    metadata.insert(SIGNATURE_ID_KEY.to_string(), Value::String(id.into()));
}

/// Reads the signature id from `metadata`, if present and a string.
pub fn signature_id(metadata: &Map<String, Value>) -> Option<&str> {
    metadata.get(SIGNATURE_ID_KEY).and_then(Value::as_str)
}

/// Stores the dispatch token in `metadata`.
pub fn set_dispatch_token(metadata: &mut Map<String, Value>, token: u64) {
    metadata.insert(DISPATCH_TOKEN_KEY.to_string(), Value::String(token.to_string()));
}

/// Reads the dispatch token from `metadata`: a decimal string or a non-negative integer.
pub fn dispatch_token(metadata: &Map<String, Value>) -> Option<u64> {
    match metadata.get(DISPATCH_TOKEN_KEY)? {
        Value::String(text) => text.trim().parse().ok(),
        Value::Number(number) => number.as_u64(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_id_round_trips() {
        let mut m = Map::new();
        assert_eq!(signature_id(&m), None);
        set_signature_id(&mut m, "sig-1");
        assert_eq!(signature_id(&m), Some("sig-1"));
        m.insert(SIGNATURE_ID_KEY.into(), Value::from(3));
        assert_eq!(signature_id(&m), None);
    }

    #[test]
    fn dispatch_token_round_trips_and_accepts_numbers() {
        let mut m = Map::new();
        assert_eq!(dispatch_token(&m), None);
        set_dispatch_token(&mut m, 42);
        assert_eq!(m[DISPATCH_TOKEN_KEY], Value::String("42".into()));
        assert_eq!(dispatch_token(&m), Some(42));
        m.insert(DISPATCH_TOKEN_KEY.into(), Value::from(7));
        assert_eq!(dispatch_token(&m), Some(7));
        for bad in [Value::from(-1), Value::from("x"), Value::Null, Value::from(1.5)] {
            m.insert(DISPATCH_TOKEN_KEY.into(), bad.clone());
            assert_eq!(dispatch_token(&m), None, "{bad}");
        }
    }
}
