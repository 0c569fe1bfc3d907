//! Helpers for the run metadata mageflow carries through Hatchet.
//!
//! A run's `additional_metadata` is a JSON object set at trigger time and handed back to the
//! worker with every attempt. mageflow stores its signature id there.

use serde_json::{Map, Value};

/// The metadata key holding the mageflow signature id.
pub const SIGNATURE_ID_KEY: &str = "mageflow_signature_id";

/// Stores `id` as the signature id in `metadata`.
pub fn set_signature_id(metadata: &mut Map<String, Value>, id: impl Into<String>) {
    metadata.insert(SIGNATURE_ID_KEY.to_string(), Value::String(id.into()));
}

/// Reads the signature id from `metadata`, if present and a string.
pub fn signature_id(metadata: &Map<String, Value>) -> Option<&str> {
    metadata.get(SIGNATURE_ID_KEY).and_then(Value::as_str)
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
}
