//! How a task's input is built from the message it is started with and the bound arguments of the task and its
//! containers: the message goes to the task's return field (when it is a predecessor's result and the task has
//! one) or is the whole input; bound arguments are deep-merged over it, the outermost container winning.

use serde_json::{Map, Value};

/// Merges `overlay` into `base`: objects merge key by key, recursively; any other overlay value replaces.
pub(crate) fn deep_merge(base: &mut Map<String, Value>, overlay: &Map<String, Value>) {
    for (key, value) in overlay {
        match (base.get_mut(key), value) {
            (Some(Value::Object(inner)), Value::Object(overlay_inner)) => deep_merge(inner, overlay_inner),
            _ => {
                base.insert(key.clone(), value.clone());
            }
        }
    }
}

/// Merges the stored layers of bound arguments of one signature (compact JSON objects, one per line, later ones
/// winning) into one object.
pub(crate) fn merged_layers(stored: &str) -> Result<Map<String, Value>, String> {
    let mut merged = Map::new();
    for layer in stored.lines() {
        match serde_json::from_str::<Value>(layer) {
            Ok(Value::Object(map)) => deep_merge(&mut merged, &map),
            _ => return Err(format!("the stored bound arguments `{layer}` are not a JSON object")),
        }
    }
    Ok(merged)
}

/// Builds an input. `args` are the bound arguments, nearest first (the task's own, then each container's).
pub(crate) fn build(
    message: Value,
    route: bool,
    return_field: Option<&str>,
    args: &[Map<String, Value>],
) -> Result<Value, String> {
    let base = match (route, return_field) {
        (true, Some(field)) => {
            let mut object = Map::new();
            object.insert(field.to_owned(), message);
            Value::Object(object)
        }
        _ => message,
    };
    if args.iter().all(Map::is_empty) {
        return Ok(base);
    }
    let mut object = match base {
        Value::Object(object) => object,
        Value::Null => Map::new(),
        other => {
            return Err(format!(
                "the message {other} is not a JSON object, so the bound arguments {} cannot be added to it",
                Value::Object(args.iter().flat_map(|a| a.clone()).collect())
            ));
        }
    };
    for layer in args {
        deep_merge(&mut object, layer);
    }
    Ok(Value::Object(object))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => panic!("not an object"),
        }
    }

    #[test]
    fn deep_merges_with_arguments_winning() {
        let input = build(json!({"a": {"b": 1}, "keep": true}), false, None, &[object(json!({"a": {"c": 2}}))]);
        assert_eq!(input.unwrap(), json!({"a": {"b": 1, "c": 2}, "keep": true}));
    }

    #[test]
    fn routes_results_to_the_return_field() {
        let input = build(json!(7), true, Some("previous"), &[object(json!({"template": "receipt"}))]);
        assert_eq!(input.unwrap(), json!({"previous": 7, "template": "receipt"}));
        assert_eq!(build(json!(7), true, None, &[]).unwrap(), json!(7));
        assert_eq!(build(json!(7), false, Some("previous"), &[]).unwrap(), json!(7));
    }

    #[test]
    fn outer_containers_win_over_inner_ones() {
        let layers = [object(json!({"who": "task", "own": 1})), object(json!({"who": "chain"}))];
        assert_eq!(build(json!({}), false, None, &layers).unwrap(), json!({"who": "chain", "own": 1}));
    }

    #[test]
    fn arguments_cannot_be_added_to_a_scalar() {
        let error = build(json!(3), false, None, &[object(json!({"x": 1}))]).unwrap_err();
        assert!(error.contains("not a JSON object"), "{error}");
        assert_eq!(build(Value::Null, false, None, &[object(json!({"x": 1}))]).unwrap(), json!({"x": 1}));
    }
}
